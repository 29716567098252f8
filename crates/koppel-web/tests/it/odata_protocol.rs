//! The feed's HTTP protocol details: the answer before the first sync, content negotiation
//! (`$format`, `Accept`, `IEEE754Compatible`), ETags with `Vary` and 304s, 405s, key and property
//! paths, compression, and database errors that never become a valid short page.

use crate::odata::{POWER_QUERY_ACCEPT, feed, feed_url, power_query, relation};
use koppel_datasync::engine::DataSyncRequest;
use koppel_domain::record::parse_create;
use koppel_domain::resources::MATERIALS;
use koppel_test_support::TestApp;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value as Json, json};
use std::io::Read;

/// Three materials (one without a cost price) and a sync; the ids of M1, M2, M3.
async fn materials(app: &TestApp) -> Vec<i64> {
    let store = app.database.store();
    let mut ids = Vec::new();
    for (code, price) in [("M1", "12.50"), ("M2", "99.99"), ("M3", "0.05")] {
        let mut fields = json!({"code": code, "description": format!("Materiaal {code}"), "unit": "stuk", "price": price, "vat_rate": "21"});
        if code != "M3" {
            fields["cost_price"] = json!("1.25");
        }
        let values = parse_create(&MATERIALS, &fields).unwrap();
        ids.push(
            store
                .create_record(app.fixture.sub1, &MATERIALS, values)
                .await
                .unwrap()
                .id
                .0,
        );
    }
    koppel_datasync::engine::run(store, app.fixture.sub1, &DataSyncRequest::default())
        .await
        .unwrap();
    ids
}

fn assert_odata_error(status: StatusCode, headers: &HeaderMap, body: &str, expected: StatusCode, code: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(headers["odata-version"], "4.0", "{body}");
    let error: Json = serde_json::from_str(body).unwrap_or_else(|_| panic!("an OData error body: {body}"));
    assert_eq!(error["error"]["code"], json!(code), "{body}");
    assert!(
        error["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

#[tokio::test]
async fn before_the_first_sync_data_reads_answer_409_saying_what_to_do_while_the_service_connects() {
    TestApp::on_every_backend(|app| async move {
        relation(app.database.store(), app.fixture.sub1, "R1").await;
        let feed = feed(&app).await;
        let (status, _, body) = power_query(&app, &feed, &feed_url(&app, &feed, ""), &[]).await;
        assert_eq!(status, StatusCode::OK, "the service document lists the sets: {body}");
        let (status, _, _) = power_query(&app, &feed, &feed_url(&app, &feed, "$metadata"), &[]).await;
        assert_eq!(status, StatusCode::OK, "$metadata answers so clients can connect");
        for path in [
            "Customers",
            "Customers/$count",
            "Customers(1)",
            "Customers(1)/Code",
            "SyncRuns",
        ] {
            let (status, headers, body) = power_query(&app, &feed, &feed_url(&app, &feed, path), &[]).await;
            assert_odata_error(status, &headers, &body, StatusCode::CONFLICT, "not_synced_yet");
            assert!(
                body.contains("Nu synchroniseren") && body.contains("Sync now"),
                "{path}: {body}"
            );
            assert!(body.contains("Autosync"), "{body}");
        }
        koppel_datasync::engine::run(app.database.store(), app.fixture.sub1, &DataSyncRequest::default())
            .await
            .unwrap();
        let (status, _, body) = power_query(&app, &feed, &feed_url(&app, &feed, "Customers"), &[]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        app
    })
    .await;
}

#[tokio::test]
async fn etags_follow_everything_that_shapes_the_body_and_vary_names_the_headers() {
    TestApp::on_every_backend(|app| async move {
        for n in 0..5 {
            relation(app.database.store(), app.fixture.sub1, &format!("R{n}")).await;
        }
        koppel_datasync::engine::run(app.database.store(), app.fixture.sub1, &DataSyncRequest::default())
            .await
            .unwrap();
        let feed = feed(&app).await;
        let url = feed_url(&app, &feed, "Customers?$select=Id,Code");
        let (status, two, body) = power_query(&app, &feed, &url, &[("Prefer", "odata.maxpagesize=2")]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let vary = two["vary"].to_str().unwrap().to_ascii_lowercase();
        for name in ["accept", "accept-encoding", "prefer", "authorization"] {
            assert!(vary.contains(name), "Vary: {vary}");
        }
        let tag_two = two["etag"].to_str().unwrap().to_string();
        let (_, three, _) = power_query(&app, &feed, &url, &[("Prefer", "odata.maxpagesize=3")]).await;
        assert_ne!(three["etag"], two["etag"], "another page size is another body");
        let (status, _, body) = power_query(
            &app,
            &feed,
            &url,
            &[("Prefer", "odata.maxpagesize=3"), ("If-None-Match", &tag_two)],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "no 304 for a different page size");
        assert_eq!(
            serde_json::from_str::<Json>(&body).unwrap()["value"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
        let (_, ieee, _) = power_query(
            &app,
            &feed,
            &url,
            &[
                ("Prefer", "odata.maxpagesize=2"),
                ("Accept", "application/json;IEEE754Compatible=true"),
            ],
        )
        .await;
        assert_ne!(ieee["etag"], two["etag"], "IEEE754Compatible changes the body");
        let (status, headers, body) = power_query(
            &app,
            &feed,
            &url,
            &[("Prefer", "odata.maxpagesize=2"), ("If-None-Match", &tag_two)],
        )
        .await;
        assert_eq!(status, StatusCode::NOT_MODIFIED, "{body}");
        assert_eq!(headers["etag"].to_str().unwrap(), tag_two);
        assert!(headers.contains_key("vary"), "a 304 repeats Vary");

        for path in ["$metadata", "Customers/$count"] {
            let (status, headers, _) = power_query(&app, &feed, &feed_url(&app, &feed, path), &[]).await;
            assert_eq!(status, StatusCode::OK);
            let tag = headers["etag"].to_str().unwrap().to_string();
            let (status, again, body) =
                power_query(&app, &feed, &feed_url(&app, &feed, path), &[("If-None-Match", &tag)]).await;
            assert_eq!(status, StatusCode::NOT_MODIFIED, "{path}: {body}");
            assert_eq!(again["etag"].to_str().unwrap(), tag);
        }
        // A new sync changes the count's tag.
        let (_, before, _) = power_query(&app, &feed, &feed_url(&app, &feed, "Customers/$count"), &[]).await;
        relation(app.database.store(), app.fixture.sub1, "R-NEW").await;
        koppel_datasync::engine::run(app.database.store(), app.fixture.sub1, &DataSyncRequest::default())
            .await
            .unwrap();
        let (status, after, body) = power_query(
            &app,
            &feed,
            &feed_url(&app, &feed, "Customers/$count"),
            &[("If-None-Match", before["etag"].to_str().unwrap())],
        )
        .await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "6"));
        assert_ne!(after["etag"], before["etag"]);
        app
    })
    .await;
}

#[tokio::test]
async fn writes_answer_405_with_an_odata_error_and_allow() {
    TestApp::on_every_backend(|app| async move {
        let feed = feed(&app).await;
        for (method, path) in [
            (reqwest::Method::POST, "Customers"),
            (reqwest::Method::DELETE, "Customers(1)"),
            (reqwest::Method::PATCH, ""),
            (reqwest::Method::PUT, "$metadata"),
        ] {
            let response = app
                .client
                .request(method.clone(), feed_url(&app, &feed, path))
                .basic_auth(&feed.name, Some(&feed.secret))
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.text().await.unwrap();
            assert_odata_error(
                status,
                &headers,
                &body,
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
            );
            assert!(headers["allow"].to_str().unwrap().contains("GET"), "{method} {path}");
        }
        app
    })
    .await;
}

#[tokio::test]
async fn the_basic_scheme_is_case_insensitive() {
    TestApp::on_every_backend(|app| async move {
        let feed = feed(&app).await;
        use base64::Engine;
        let credentials = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", feed.name, feed.secret));
        for scheme in ["BASIC", "basic", "bAsIc", "Basic"] {
            let response = app
                .client
                .get(feed_url(&app, &feed, ""))
                .header("Authorization", format!("{scheme} {credentials}"))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{scheme}");
        }
        let response = app
            .client
            .get(feed_url(&app, &feed, ""))
            .header("Authorization", format!("Bearer {credentials}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        app
    })
    .await;
}

#[tokio::test]
async fn keys_by_name_property_paths_raw_values_and_trailing_slashes() {
    TestApp::on_every_backend(|app| async move {
        let ids = materials(&app).await;
        let feed = feed(&app).await;
        let (m1, m3) = (ids[0], ids[2]);
        let get = |path: String| {
            let url = feed_url(&app, &feed, &path);
            let feed = &feed;
            let app = &app;
            async move { power_query(app, feed, &url, &[]).await }
        };
        let (status, _, by_number) = get(format!("Materials({m1})")).await;
        assert_eq!(status, StatusCode::OK, "{by_number}");
        let (status, _, by_name) = get(format!("Materials(Id={m1})")).await;
        assert_eq!(
            (status, &by_name),
            (StatusCode::OK, &by_number),
            "Materials(Id=…) is Materials(…)"
        );

        let (status, headers, body) = get(format!("Materials({m1})/Code")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
        let value: Json = serde_json::from_str(&body).unwrap();
        assert_eq!(value["value"], json!("M1"));
        assert_eq!(
            value["@odata.context"],
            json!(feed_url(&app, &feed, &format!("$metadata#Materials({m1})/Code")))
        );
        let (_, _, body) = get(format!("Materials({m1})/Price")).await;
        assert_eq!(serde_json::from_str::<Json>(&body).unwrap()["value"], json!(12.5));

        let (status, headers, body) = get(format!("Materials({m1})/Description/$value")).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "Materiaal M1"));
        assert!(headers["content-type"].to_str().unwrap().starts_with("text/plain"));
        let (_, _, body) = get(format!("Materials({m1})/Price/$value")).await;
        assert_eq!(body, "12.50");
        for path in [
            format!("Materials({m3})/CostPrice"),
            format!("Materials({m3})/CostPrice/$value"),
        ] {
            let (status, headers, body) = get(path.clone()).await;
            assert_eq!(
                (status, body.as_str()),
                (StatusCode::NO_CONTENT, ""),
                "{path}: null has no representation"
            );
            assert_eq!(headers["odata-version"], "4.0");
        }

        let (status, _, body) = get("Materials/".to_string()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            serde_json::from_str::<Json>(&body).unwrap()["value"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
        let (status, _, body) = get("Materials/$count/".to_string()).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "3"));

        for (path, expected, code) in [
            (format!("Materials({m1})/Colour"), StatusCode::NOT_FOUND, "not_found"),
            (
                format!("Materials(Code={m1})"),
                StatusCode::BAD_REQUEST,
                "malformed_key",
            ),
            ("Materials(abc)".to_string(), StatusCode::BAD_REQUEST, "malformed_key"),
            ("Materials/Code".to_string(), StatusCode::BAD_REQUEST, "malformed_path"),
            ("Materials/x/y".to_string(), StatusCode::NOT_FOUND, "not_found"),
            ("Materials(999999)/Code".to_string(), StatusCode::NOT_FOUND, "not_found"),
            ("$metadata/x".to_string(), StatusCode::NOT_FOUND, "not_found"),
        ] {
            let (status, headers, body) = get(path.clone()).await;
            assert_odata_error(status, &headers, &body, expected, code);
        }
        app
    })
    .await;
}

#[tokio::test]
async fn format_and_accept_choose_json_or_answer_406_while_metadata_stays_xml() {
    TestApp::on_every_backend(|app| async move {
        materials(&app).await;
        let feed = feed(&app).await;
        for query in [
            "Materials?$format=json",
            "Materials?format=JSON",
            "Materials?$format=application/json;odata.metadata=minimal",
            "Materials?%24format=application%2Fjson%3Bodata.metadata%3Dminimal",
        ] {
            let (status, _, body) = power_query(
                &app,
                &feed,
                &feed_url(&app, &feed, query),
                &[("Accept", "application/xml")],
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{query}: $format wins over Accept: {body}");
            assert_eq!(
                serde_json::from_str::<Json>(&body).unwrap()["value"]
                    .as_array()
                    .unwrap()
                    .len(),
                3
            );
        }
        for (query, accept) in [
            ("Materials?$format=xml", POWER_QUERY_ACCEPT),
            ("Materials?$format=atom", POWER_QUERY_ACCEPT),
            ("Materials", "application/xml"),
            ("Materials", "application/atom+xml;q=1.0, text/html"),
            ("Materials", "application/json;odata.metadata=full"),
            ("", "application/xml"),
        ] {
            let (status, headers, body) =
                power_query(&app, &feed, &feed_url(&app, &feed, query), &[("Accept", accept)]).await;
            assert_odata_error(status, &headers, &body, StatusCode::NOT_ACCEPTABLE, "not_acceptable");
        }
        for accept in ["application/xml", "application/json", POWER_QUERY_ACCEPT] {
            let (status, headers, body) =
                power_query(&app, &feed, &feed_url(&app, &feed, "$metadata"), &[("Accept", accept)]).await;
            assert_eq!(status, StatusCode::OK);
            assert!(headers["content-type"].to_str().unwrap().starts_with("application/xml"));
            assert!(body.starts_with("<?xml"), "{accept}");
        }
        // odata.metadata=none: no context URL, the rows all the same.
        let (status, headers, body) = power_query(
            &app,
            &feed,
            &feed_url(&app, &feed, "Materials"),
            &[("Accept", "application/json;odata.metadata=none")],
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .contains("odata.metadata=none")
        );
        let page: Json = serde_json::from_str(&body).unwrap();
        assert!(page.get("@odata.context").is_none() && page["value"].as_array().unwrap().len() == 3);
        app
    })
    .await;
}

#[tokio::test]
async fn ieee754_compatible_writes_decimals_and_int64_as_strings_and_says_so() {
    TestApp::on_every_backend(|app| async move {
        let ids = materials(&app).await;
        let feed = feed(&app).await;
        for (query, accept) in [
            (
                "Materials?$count=true&$orderby=Code",
                "application/json;odata.metadata=minimal;IEEE754Compatible=true",
            ),
            (
                "Materials?$count=true&$orderby=Code&$format=application/json;IEEE754Compatible=true",
                POWER_QUERY_ACCEPT,
            ),
        ] {
            let (status, headers, body) =
                power_query(&app, &feed, &feed_url(&app, &feed, query), &[("Accept", accept)]).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            assert!(
                headers["content-type"]
                    .to_str()
                    .unwrap()
                    .contains("IEEE754Compatible=true"),
                "{:?}",
                headers["content-type"]
            );
            let page: Json = serde_json::from_str(&body).unwrap();
            assert_eq!(page["@odata.count"], json!("3"));
            let first = &page["value"][0];
            assert_eq!(first["Price"], json!("12.50"), "{body}");
            assert_eq!(first["Id"], json!(ids[0].to_string()), "Edm.Int64 as a string");
            assert_eq!(first["Code"], json!("M1"), "strings stay strings");
            assert_eq!(page["value"][2]["CostPrice"], json!(null), "null stays null");
        }
        let (_, headers, body) = power_query(&app, &feed, &feed_url(&app, &feed, "Materials?$orderby=Code"), &[]).await;
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .contains("IEEE754Compatible=false")
        );
        assert_eq!(
            serde_json::from_str::<Json>(&body).unwrap()["value"][0]["Price"],
            json!(12.5)
        );
        let (_, _, body) = power_query(
            &app,
            &feed,
            &feed_url(&app, &feed, &format!("Materials({})/Price", ids[1])),
            &[("Accept", "application/json;IEEE754Compatible=true")],
        )
        .await;
        assert_eq!(serde_json::from_str::<Json>(&body).unwrap()["value"], json!("99.99"));
        app
    })
    .await;
}

fn decompress(encoding: &str, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match encoding {
        "gzip" => flate2::read::GzDecoder::new(bytes).read_to_end(&mut out).unwrap(),
        "deflate" => flate2::read::ZlibDecoder::new(bytes).read_to_end(&mut out).unwrap(),
        other => panic!("unexpected encoding {other}"),
    };
    out
}

/// A GET with `Accept-Encoding`, the body as sent (reqwest here does not decompress).
async fn get_encoded(app: &TestApp, url: &str, encoding: &str, auth: Option<(&str, &str)>) -> (HeaderMap, Vec<u8>) {
    let mut request = app.client.get(url).header("Accept-Encoding", encoding);
    if let Some((user, password)) = auth {
        request = request.basic_auth(user, Some(password));
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{url}");
    let headers = response.headers().clone();
    (headers, response.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn feed_and_api_answers_are_compressed_when_asked_and_event_streams_are_not() {
    TestApp::on_every_backend(|app| async move {
        for n in 0..300 {
            relation(app.database.store(), app.fixture.sub1, &format!("R{n:03}")).await;
        }
        koppel_datasync::engine::run(app.database.store(), app.fixture.sub1, &DataSyncRequest::default())
            .await
            .unwrap();
        let feed = feed(&app).await;
        let url = feed_url(&app, &feed, "Customers?$orderby=Code&$count=true");
        let auth = Some((feed.name.as_str(), feed.secret.as_str()));
        let (plain_headers, plain) = get_encoded(&app, &url, "identity", auth).await;
        assert!(!plain_headers.contains_key("content-encoding"));
        for (asked, expected) in [
            ("gzip, deflate", "gzip"),
            ("deflate", "deflate"),
            ("br;q=1, gzip;q=0.5", "gzip"),
        ] {
            let (headers, body) = get_encoded(&app, &url, asked, auth).await;
            assert_eq!(headers["content-encoding"], expected, "{asked}");
            assert!(
                headers["vary"]
                    .to_str()
                    .unwrap()
                    .to_ascii_lowercase()
                    .contains("accept-encoding")
            );
            assert!(
                body.len() * 4 < plain.len(),
                "{asked}: {} of {} bytes",
                body.len(),
                plain.len()
            );
            assert_eq!(decompress(expected, &body), plain, "{asked}: the same page");
        }

        let token = app.token(&app.fixture.admin).await;
        let api = app.url(&format!(
            "/api/v1/administrations/{}/relations?limit=200",
            app.fixture.sub1
        ));
        let response = app
            .client
            .get(&api)
            .bearer_auth(&token)
            .header("Accept-Encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-encoding"], "gzip");
        let listed: Json = serde_json::from_slice(&decompress("gzip", &response.bytes().await.unwrap())).unwrap();
        assert_eq!(listed["items"].as_array().unwrap().len(), 200);

        let metrics = app
            .client
            .get(app.url("/metrics"))
            .header("Accept-Encoding", "gzip")
            .send()
            .await
            .unwrap();
        let encoding = metrics.headers().get("content-encoding").cloned();
        let bytes = metrics.bytes().await.unwrap();
        let text = match encoding {
            Some(_) => decompress("gzip", &bytes),
            None => bytes.to_vec(),
        };
        assert!(String::from_utf8(text).unwrap().contains("http_requests_total"));

        // A run's event stream: never compressed, and its first event arrives while it stays open.
        let started = app
            .post(
                &token,
                &format!("/api/v1/administrations/{}/datasync/sync", app.fixture.sub1),
                &json!({}),
            )
            .await;
        let run = started.body["id"].as_i64().unwrap();
        let mut events = app
            .client
            .get(app.url(&format!(
                "/api/v1/administrations/{}/runs/{run}/events",
                app.fixture.sub1
            )))
            .bearer_auth(&token)
            .header("Accept-Encoding", "gzip, deflate")
            .send()
            .await
            .unwrap();
        assert!(
            events.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        assert!(!events.headers().contains_key("content-encoding"));
        // A guard against hanging, not a speed check: an event held in a compressor would never come.
        let first = tokio::time::timeout(std::time::Duration::from_secs(60), events.chunk())
            .await
            .expect("the first event arrives")
            .unwrap()
            .unwrap();
        assert!(String::from_utf8_lossy(&first).contains("data:"), "{first:?}");
        drop(events);
        app
    })
    .await;
}

/// A `$filter` or `$orderby` too big for the database is the request's fault: an OData 4xx, on the
/// listing (never 200 with an empty page) and on `/$count` (never 500).
#[tokio::test]
async fn queries_too_big_for_the_database_are_refused_and_never_an_empty_page() {
    TestApp::on_every_backend(|app| async move {
        for n in 0..3 {
            relation(app.database.store(), app.fixture.sub1, &format!("R{n}")).await;
        }
        koppel_datasync::engine::run(app.database.store(), app.fixture.sub1, &DataSyncRequest::default())
            .await
            .unwrap();
        let feed = feed(&app).await;
        let filter: Vec<String> = (0..1_000).map(|n| format!("Code%20eq%20'R{n}'")).collect();
        let filter = filter.join("%20or%20");
        let orderby = vec!["Code"; 2_000].join(",");
        for path in [
            format!("Customers?$filter={filter}"),
            format!("Customers/$count?$filter={filter}"),
            format!("Customers?$orderby={orderby}"),
            format!("Customers?$orderby={orderby}&$count=true"),
        ] {
            let (status, headers, body) = power_query(&app, &feed, &feed_url(&app, &feed, &path), &[]).await;
            if status == StatusCode::OK {
                // The database managed: then the answer is complete and right.
                let expected = if path.contains("$count?") { "3" } else { "" };
                if expected.is_empty() {
                    let page: Json = serde_json::from_str(&body).unwrap();
                    assert_eq!(page["value"].as_array().unwrap().len(), 3, "{}", &path[..40]);
                } else {
                    assert_eq!(body, expected);
                }
                continue;
            }
            assert!(status.is_client_error(), "{}: {status} {body}", &path[..40]);
            assert_eq!(headers["odata-version"], "4.0");
            let error: Json = serde_json::from_str(&body).unwrap();
            assert!(error["error"]["code"].is_string(), "{body}");
        }
        app
    })
    .await;
}
