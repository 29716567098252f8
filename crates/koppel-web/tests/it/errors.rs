//! Bad input gets a clear 4xx in the one error envelope; nothing answers with a bare 500.

use koppel_test_support::TestApp;
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::json;

#[tokio::test]
async fn malformed_unknown_oversized_and_wrongly_typed_bodies_are_refused_clearly() {
    TestApp::on_every_backend(|app| async move {
        let token = app.token(&app.fixture.admin).await;
        let relations = format!("/api/v1/administrations/{}/relations", app.fixture.main);

        let send = |body: &'static str, content_type: &'static str| {
            app.client
                .post(app.url(&relations))
                .bearer_auth(&token)
                .header(CONTENT_TYPE, content_type)
                .body(body)
                .send()
        };
        let answer = TestApp::answer(send("{\"code\": ", "application/json").await.unwrap()).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        assert_eq!(answer.code(), "malformed_json");

        let answer = TestApp::answer(send("code=1", "application/x-www-form-urlencoded").await.unwrap()).await;
        assert_eq!(answer.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(answer.code(), "unsupported_media_type");

        let big = json!({"code": "R1", "name": "x".repeat(2 * 1024 * 1024), "kind": "company"});
        let answer = app.post(&token, &relations, &big).await;
        assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(answer.code(), "body_too_large");

        let answer = app
            .post(
                &token,
                &relations,
                &json!({"code": "R1", "name": "Jansen", "kind": "company", "colour": "red"}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(answer.code(), "validation_failed");
        assert_eq!(answer.body["error"]["fields"][0]["field"], "colour");
        assert_eq!(answer.body["error"]["fields"][0]["code"], "unknown_field");

        let answer = app
            .post(&token, &relations, &json!({"code": "R 1", "name": "", "kind": "alien"}))
            .await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
        let mut fields: Vec<&str> = answer.body["error"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["field"].as_str().unwrap())
            .collect();
        fields.sort();
        assert_eq!(
            fields,
            ["code", "kind", "name"],
            "every field at fault is named: {}",
            answer.body
        );

        let materials = format!("/api/v1/administrations/{}/materials", app.fixture.main);
        let answer = app
            .post(
                &token,
                &materials,
                &json!({"code": "M1", "description": "Koperbuis", "unit": "m", "price": 12.5, "vat_rate": "21"}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            answer.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("decimal string"),
            "{}",
            answer.body
        );

        let answer = app.get(&token, &format!("{relations}?limit=100000")).await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
        let answer = app.get(&token, &format!("{relations}?colour=red")).await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(answer.body["error"]["fields"][0]["code"], "unknown_parameter");
        let answer = app.get(&token, &format!("{relations}?cursor=nonsense")).await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
        let answer = app.get(&token, &format!("{relations}/abc")).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        assert_eq!(answer.code(), "invalid_id");
        let answer = app.get(&token, &format!("{relations}/999999")).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND);
        assert_eq!(answer.code(), "not_found");
        app
    })
    .await;
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_envelope() {
    TestApp::on_every_backend(|app| async move {
        let token = app.token(&app.fixture.admin).await;
        let answer = app.get(&token, "/api/v1/nothing-here").await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND);
        assert_eq!(answer.code(), "not_found");
        let answer = app
            .request(reqwest::Method::PUT, "/api/v1/me", Some(&token), None)
            .await;
        assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(answer.code(), "method_not_allowed");
        let invoice_lines = format!("/api/v1/administrations/{}/invoice-lines", app.fixture.main);
        let answer = app.post(&token, &invoice_lines, &json!({})).await;
        assert_eq!(
            answer.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "invoice lines are made by invoicing, not posted"
        );
        app
    })
    .await;
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    TestApp::on_every_backend(|app| async move {
        let health = app.client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(health.status(), StatusCode::OK);
        let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), StatusCode::OK);
        let metrics = app
            .client
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(metrics.contains("http_requests_total"), "{metrics}");
        assert!(metrics.contains("route=\"/readyz\""), "{metrics}");
        app
    })
    .await;
}

#[tokio::test]
async fn path_ids_that_are_not_positive_whole_numbers_are_refused_naming_the_segment() {
    TestApp::on_every_backend(|app| async move {
        let token = app.token(&app.fixture.admin).await;
        let main = app.fixture.main;
        let cases = [
            (
                reqwest::Method::GET,
                "/api/v1/administrations/0".to_string(),
                "administration",
            ),
            (
                reqwest::Method::GET,
                "/api/v1/administrations/abc".to_string(),
                "administration",
            ),
            (
                reqwest::Method::GET,
                "/api/v1/administrations/9223372036854775808/relations".to_string(),
                "administration",
            ),
            (
                reqwest::Method::GET,
                format!("/api/v1/administrations/{main}/relations/-3"),
                "id",
            ),
            (
                reqwest::Method::GET,
                format!("/api/v1/administrations/{main}/relations/1.5"),
                "id",
            ),
            (
                reqwest::Method::GET,
                format!("/api/v1/administrations/{main}/runs/x"),
                "id",
            ),
            (
                reqwest::Method::GET,
                "/api/v1/administrations/x/runs/1".to_string(),
                "administration",
            ),
            (reqwest::Method::DELETE, "/api/v1/me/tokens/0".to_string(), "token"),
            (
                reqwest::Method::PUT,
                "/api/v1/users/me/administrations/1/rights".to_string(),
                "user",
            ),
            (
                reqwest::Method::PUT,
                "/api/v1/users/1/administrations/-1/rights".to_string(),
                "administration",
            ),
        ];
        for (method, path, segment) in cases {
            let body = (method == reqwest::Method::PUT).then(|| json!({"rights": []}));
            let answer = app.request(method.clone(), &path, Some(&token), body.as_ref()).await;
            assert_eq!(
                answer.status,
                StatusCode::BAD_REQUEST,
                "{method} {path}: {}",
                answer.body
            );
            assert_eq!(answer.code(), "invalid_id", "{method} {path}");
            assert_eq!(
                answer.body["error"]["message"],
                format!("{segment} must be a positive whole number"),
                "{method} {path}"
            );
        }
        app
    })
    .await;
}

/// What Chromium sends when it opens an address.
const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";

/// A browser's GET (or another method) with cookies; redirects are not followed.
async fn browser(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    cookies: &str,
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let response = app
        .client
        .request(method, app.url(path))
        .header(reqwest::header::ACCEPT, BROWSER_ACCEPT)
        .header(reqwest::header::COOKIE, cookies)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

fn is_html(headers: &reqwest::header::HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.to_str().unwrap().starts_with("text/html"))
}

#[tokio::test]
async fn browsers_get_error_pages_in_their_language_and_the_api_and_feed_keep_json() {
    use koppel_web::pages::i18n::{EN, NL};
    TestApp::on_every_backend(|app| async move {
        let fixture = app.fixture.clone();
        // Anonymous, no language chosen: Dutch, with a way back.
        let (status, headers, body) = browser(&app, reqwest::Method::GET, "/nergens", "").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(is_html(&headers), "{headers:?}");
        assert!(body.contains(r#"<html lang="nl">"#), "{body}");
        assert!(body.contains(&format!("<h1>{}</h1>", NL.not_found_title)));
        assert!(body.contains(NL.error_page_not_found_text));
        assert!(body.contains(&format!(
            r#"<a class="button" id="message-link" href="/">{}</a>"#,
            NL.error_back_home
        )));
        // The language chosen on the login page (its cookie).
        let (status, _, body) = browser(&app, reqwest::Method::GET, "/nowhere", "koppel_lang=en").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(
            body.contains(r#"<html lang="en">"#) && body.contains(EN.error_page_not_found_text),
            "{body}"
        );

        // A logged-in visitor gets their own language, also for a page that fails on the store.
        let mut client = crate::pages::PageClient::new(&app);
        client.log_in(&fixture.admin).await;
        app.database
            .store()
            .set_user_language(fixture.admin.id, "en")
            .await
            .unwrap();
        let session = client.cookie_header();
        let (status, _, body) = browser(
            &app,
            reqwest::Method::GET,
            &format!("/a/{}/settings/nothing", fixture.main),
            &session,
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(
            body.contains(r#"<html lang="en">"#) && body.contains(EN.error_page_not_found_text),
            "{body}"
        );
        let (status, _, body) = browser(
            &app,
            reqwest::Method::GET,
            &format!("/a/{}/runs/999999", fixture.main),
            &session,
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(
            body.contains(r#"<html lang="en">"#) && body.contains(EN.not_found_title),
            "{body}"
        );

        // A method a page does not take (other than GET) is a page too.
        let (status, headers, body) = browser(
            &app,
            reqwest::Method::PUT,
            &format!("/a/{}/settings/datasync", fixture.main),
            &session,
        )
        .await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert!(is_html(&headers));
        assert!(
            body.contains(EN.method_not_allowed_title) && body.contains(EN.error_back_home),
            "{body}"
        );
        let (status, _, body) = browser(&app, reqwest::Method::DELETE, "/logout", "").await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert!(body.contains(NL.method_not_allowed_title), "{body}");

        // The API and the feed answer in JSON exactly as before, whatever the browser accepts.
        for path in ["/api/v1/nothing-here", "/api", "/odata/nothing", "/odata"] {
            let (status, headers, body) = browser(&app, reqwest::Method::GET, path, &session).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
            assert!(
                headers[CONTENT_TYPE].to_str().unwrap().starts_with("application/json"),
                "{path}"
            );
            assert_eq!(
                serde_json::from_str::<serde_json::Value>(&body).unwrap(),
                json!({"error": {"code": "not_found", "message": "no such endpoint; see /api/v1/openapi.json"}}),
                "{path}"
            );
        }
        let (status, _, body) = browser(&app, reqwest::Method::PUT, "/api/v1/me", &session).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&body).unwrap()["error"]["code"],
            "method_not_allowed"
        );
        let (status, headers, body) = browser(
            &app,
            reqwest::Method::POST,
            &format!("/odata/v4/koppel-{}/", fixture.main),
            "",
        )
        .await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert!(headers.contains_key("odata-version"), "{headers:?}");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&body).unwrap()["error"]["code"],
            "method_not_allowed"
        );
        // A script asking for JSON outside /api still gets the envelope.
        let answer = app
            .client
            .get(app.url("/nergens"))
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            answer.json::<serde_json::Value>().await.unwrap()["error"]["code"],
            "not_found"
        );
        drop(client);
        app
    })
    .await;
}

/// A GET of an address that only takes a form (a bookmark, a reload after sending it) leads to the
/// page the form is on, for every such address.
#[tokio::test]
async fn a_get_of_a_form_address_leads_to_its_page() {
    TestApp::on_every_backend(|app| async move {
        let fixture = app.fixture.clone();
        let mut client = crate::pages::PageClient::new(&app);
        client.log_in(&fixture.admin).await;
        let session = client.cookie_header();
        let main = fixture.main;
        let sub1 = fixture.sub1;
        let datasync = format!("/a/{sub1}/settings/datasync");
        let accountview = format!("/a/{main}/settings/integrations/accountview");
        let cases = [
            (format!("{datasync}/tokens"), datasync.clone()),
            (format!("{datasync}/sync"), datasync.clone()),
            (format!("{datasync}/autosync"), datasync.clone()),
            (
                format!("/a/{main}/settings/licences/power_bi"),
                format!("/a/{main}/settings/licences"),
            ),
            (format!("{accountview}/import"), accountview.clone()),
            (format!("{accountview}/export"), accountview.clone()),
            (format!("{accountview}/settings"), accountview.clone()),
            (format!("{accountview}/sign-in"), accountview.clone()),
            ("/logout".to_string(), "/".to_string()),
            ("/language".to_string(), "/".to_string()),
        ];
        for (form_address, page) in cases {
            for method in [reqwest::Method::GET, reqwest::Method::HEAD] {
                let (status, headers, _) = browser(&app, method.clone(), &form_address, &session).await;
                assert_eq!(status, StatusCode::SEE_OTHER, "{method} {form_address}");
                assert_eq!(
                    headers[reqwest::header::LOCATION],
                    page.as_str(),
                    "{method} {form_address}"
                );
            }
            let (status, _, _) = browser(&app, reqwest::Method::GET, &page, &session).await;
            assert!(
                matches!(status, StatusCode::OK | StatusCode::SEE_OTHER),
                "{page} (from {form_address}) answers {status}"
            );
        }
        drop(client);
        app
    })
    .await;
}

#[tokio::test]
async fn the_favicon_is_served_as_an_icon_and_as_svg() {
    TestApp::on_every_backend(|app| async move {
        let ico = app.client.get(app.url("/favicon.ico")).send().await.unwrap();
        assert_eq!(ico.status(), StatusCode::OK);
        assert_eq!(ico.headers()[CONTENT_TYPE], "image/x-icon");
        let bytes = ico.bytes().await.unwrap();
        assert_eq!(&bytes[..4], &[0, 0, 1, 0], "an ICO header");
        assert_eq!(&bytes[22..26], b"\x89PNG", "holding a PNG");
        let svg = app.client.get(app.url("/assets/favicon.svg")).send().await.unwrap();
        assert_eq!(svg.status(), StatusCode::OK);
        assert_eq!(svg.headers()[CONTENT_TYPE], "image/svg+xml");
        assert!(svg.text().await.unwrap().starts_with("<svg"));
        app
    })
    .await;
}

/// A failure on our side is a page in the visitor's language too (here the database is gone, so the
/// language is the one chosen on the login page), with nothing of the cause in it.
#[tokio::test]
async fn a_failure_on_our_side_is_a_page_in_the_chosen_language() {
    use koppel_web::pages::i18n::{EN, NL};
    TestApp::on_every_backend(|app| async move {
        let fixture = app.fixture.clone();
        let mut client = crate::pages::PageClient::new(&app);
        client.log_in(&fixture.admin).await;
        let session = client.cookie_header();
        app.database.store().close().await;
        let path = format!("/a/{}/settings/datasync", fixture.main);
        let (status, headers, body) =
            browser(&app, reqwest::Method::GET, &path, &format!("{session}; koppel_lang=en")).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(is_html(&headers));
        assert!(body.contains(r#"<html lang="en">"#), "{body}");
        assert!(
            body.contains(EN.server_error_title) && body.contains(EN.server_error_text),
            "{body}"
        );
        assert!(body.contains(EN.error_back_home));
        assert!(!body.contains(NL.server_error_text), "only the visitor's language");
        let (status, _, body) = browser(&app, reqwest::Method::GET, &path, &session).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            body.contains(r#"<html lang="nl">"#) && body.contains(NL.server_error_text),
            "{body}"
        );
        drop(client);
        app
    })
    .await;
}
