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
