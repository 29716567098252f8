//! The authorisation matrix: every endpoint of the document, for every resource, refuses callers
//! without a token, users of another administration, ids from another administration, and writes
//! by a read-only user, and still serves the caller who may.

use crate::samples;
use koppel_domain::rights::{Right, Rights};
use koppel_store::platform::{Actor, NewUser};
use koppel_test_support::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::json;

/// Every (method, path template) in the OpenAPI document.
fn operations() -> Vec<(Method, String)> {
    let document = koppel_web::api::openapi();
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            operations.push((method.to_uppercase().parse().expect("method"), path.clone()));
        }
    }
    operations
}

fn fill(path: &str, administration: i64, id: i64) -> String {
    path.replace("{administration}", &administration.to_string())
        .replace("{id}", &id.to_string())
        .replace("{user}", "1")
        .replace("{token}", "1")
        .replace("{power_up}", "power_bi")
}

#[tokio::test]
async fn every_endpoint_requires_authentication() {
    TestApp::on_every_backend(|app| async move {
        for (method, path) in operations() {
            let public = path == "/api/v1/session";
            let answer = app
                .request(method.clone(), &fill(&path, 1, 1), None, Some(&json!({})))
                .await;
            if public {
                assert_ne!(
                    answer.status,
                    StatusCode::NOT_FOUND,
                    "{method} {path} is documented but not routed"
                );
                continue;
            }
            assert_eq!(
                answer.status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} without a token"
            );
            assert_eq!(answer.code(), "unauthenticated", "{method} {path}");
        }
        let answer = app
            .request(Method::GET, "/api/v1/me", Some("kpl_not-a-real-token"), None)
            .await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert_eq!(answer.code(), "invalid_token");
        app
    })
    .await;
}

/// The right a feature's endpoints need beyond reading and writing daily data.
fn feature_right(path: &str) -> Option<&'static str> {
    if path.contains("/settings-sync") {
        Some("sync_settings")
    } else if path.contains("/datasync") {
        Some("manage_datasync")
    } else if path.contains("/accountview") {
        Some("manage_integrations")
    } else {
        None
    }
}

#[tokio::test]
async fn users_only_reach_their_own_administrations() {
    TestApp::on_every_backend(|app| async move {
        let store = app.database.store().clone();
        let fixture = app.fixture.clone();
        let theirs = samples::create_all(&store, fixture.sub2, "other").await;
        let admin = app.token(&fixture.admin).await;
        let user = app.token(&fixture.user).await;
        let mut checked = 0;
        for (method, path) in operations() {
            if !path.starts_with("/api/v1/administrations/{administration}/") {
                continue;
            }
            let resource = path.split('/').nth(5).expect("resource segment");
            let id = theirs.ids.get(resource).copied().unwrap_or(1);
            let body = json!({});
            let body = (method == Method::POST || method == Method::PATCH).then_some(&body);

            // A user of sub 1 asking for sub 2: as if it did not exist.
            let answer = app
                .request(method.clone(), &fill(&path, fixture.sub2.0, id), Some(&user), body)
                .await;
            assert_eq!(
                answer.status,
                StatusCode::NOT_FOUND,
                "{method} {path} on another administration"
            );
            assert_eq!(answer.code(), "not_found", "{method} {path}");

            // Sub 2's record through sub 1's path: not found either.
            if path.contains("{id}") && method != Method::POST {
                let answer = app
                    .request(method.clone(), &fill(&path, fixture.sub1.0, id), Some(&user), body)
                    .await;
                assert_eq!(
                    answer.status,
                    StatusCode::NOT_FOUND,
                    "{method} {path} with another administration's id"
                );
            }

            // The admin may read sub 2's record: the ids used above are real. (Settings sync is read
            // from the main only; AccountView's companies and settings need a live connection and
            // are covered in accountview.rs.)
            let needs_connection = path.ends_with("/accountview/companies") || path.ends_with("/accountview/settings");
            if method == Method::GET && !path.contains("/settings-sync") && !needs_connection {
                let answer = app.get(&admin, &fill(&path, fixture.sub2.0, id)).await;
                assert_eq!(answer.status, StatusCode::OK, "admin GET {path}: {}", answer.body);
                if path.ends_with("{id}") {
                    assert_eq!(answer.body["id"], json!(id));
                }
            }
            checked += 1;
        }
        assert!(checked >= 22 * 3, "the matrix covered only {checked} operations");
        app
    })
    .await;
}

#[tokio::test]
async fn read_only_users_cannot_write() {
    TestApp::on_every_backend(|app| async move {
        let store = app.database.store().clone();
        let fixture = app.fixture.clone();
        let reader = store
            .create_user(NewUser {
                environment: fixture.environment,
                email: "lezer@example.nl",
                name: "Lezer",
                password: "lezen-is-leuk-2026",
                language: "nl",
            })
            .await
            .expect("user");
        store
            .set_rights(
                reader.id,
                fixture.sub1,
                [Right::ReadData].into_iter().collect::<Rights>(),
                Actor::SYSTEM,
            )
            .await
            .expect("rights");
        let (_, token) = store.create_api_token(reader.id, "lezer").await.expect("token");
        let ours = samples::create_all(&store, fixture.sub1, "ours").await;
        for (method, path) in operations() {
            if !path.starts_with("/api/v1/administrations/{administration}/") {
                continue;
            }
            let resource = path.split('/').nth(5).expect("resource segment");
            let id = ours.ids.get(resource).copied().unwrap_or(1);
            let body = json!({});
            let body = (method == Method::POST || method == Method::PATCH).then_some(&body);
            let answer = app
                .request(method.clone(), &fill(&path, fixture.sub1.0, id), Some(&token), body)
                .await;
            if let Some(right) = feature_right(&path) {
                // Feature endpoints need their own right, for reading too.
                assert_eq!(answer.status, StatusCode::FORBIDDEN, "{method} {path} as reader");
                let message = answer.body["error"]["message"].as_str().unwrap_or("");
                assert!(message.contains(right), "{method} {path}: {message}");
            } else if method == Method::GET {
                assert_eq!(answer.status, StatusCode::OK, "GET {path} as reader");
            } else {
                assert_eq!(answer.status, StatusCode::FORBIDDEN, "{method} {path} as reader");
                assert!(
                    answer.body["error"]["message"]
                        .as_str()
                        .unwrap_or("")
                        .contains("write_data")
                );
            }
        }
        // Environment management needs manage_administrations on the main.
        for (method, path) in [(Method::GET, "/api/v1/users"), (Method::GET, "/api/v1/audit-log")] {
            let answer = app.request(method, path, Some(&token), None).await;
            assert!(
                matches!(answer.status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
                "{path}: {}",
                answer.status
            );
        }
        let answer = app
            .post(&token, "/api/v1/administrations", &json!({"name": "Stiekem"}))
            .await;
        assert!(matches!(answer.status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND));
        app
    })
    .await;
}
