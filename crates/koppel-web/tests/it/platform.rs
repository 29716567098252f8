//! Logging in, tokens, administrations, licences, users and rights, and the audit log, over HTTP.

use koppel_test_support::TestApp;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, SET_COOKIE};
use serde_json::json;

#[tokio::test]
async fn log_in_use_the_session_and_log_out() {
    TestApp::on_every_backend(|app| async move {
        let admin = app.fixture.admin.clone();
        let wrong = app
            .request(
                reqwest::Method::POST,
                "/api/v1/session",
                None,
                Some(&json!({"email": admin.email, "password": "wrong-password"})),
            )
            .await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert_eq!(wrong.code(), "invalid_credentials");

        let login = app
            .request(
                reqwest::Method::POST,
                "/api/v1/session",
                None,
                Some(&json!({"email": admin.email.to_uppercase(), "password": admin.password})),
            )
            .await;
        assert_eq!(login.status, StatusCode::OK, "{}", login.body);
        let cookie = login.headers.get(SET_COOKIE).unwrap().to_str().unwrap().to_string();
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
            "{cookie}"
        );
        assert!(!cookie.contains("Secure"), "plain http in tests");
        let pair = cookie.split(';').next().unwrap().to_string();

        let me = TestApp::answer(
            app.client
                .get(app.url("/api/v1/me"))
                .header(COOKIE, &pair)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(me.status, StatusCode::OK);
        assert_eq!(me.body["email"], admin.email);
        assert_eq!(me.body["administrations"].as_array().unwrap().len(), 3);
        assert_eq!(me.body["administrations"][0]["is_main"], true, "main first");

        // A cookie-authenticated change from another site is refused.
        let cross = app
            .client
            .put(app.url("/api/v1/me/language"))
            .header(COOKIE, &pair)
            .header("Origin", "https://evil.example")
            .json(&json!({"language": "en"}))
            .send()
            .await
            .unwrap();
        assert_eq!(cross.status(), StatusCode::FORBIDDEN);
        let same = app
            .client
            .put(app.url("/api/v1/me/language"))
            .header(COOKIE, &pair)
            .json(&json!({"language": "en"}))
            .send()
            .await
            .unwrap();
        assert_eq!(same.status(), StatusCode::NO_CONTENT);

        let logout = app
            .client
            .delete(app.url("/api/v1/session"))
            .header(COOKIE, &pair)
            .send()
            .await
            .unwrap();
        assert_eq!(logout.status(), StatusCode::NO_CONTENT);
        let after = TestApp::answer(
            app.client
                .get(app.url("/api/v1/me"))
                .header(COOKIE, &pair)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(after.status, StatusCode::UNAUTHORIZED);
        assert_eq!(after.code(), "session_expired");
        app
    })
    .await;
}

#[tokio::test]
async fn repeated_wrong_passwords_are_slowed_down() {
    TestApp::on_every_backend(|app| async move {
        let email = app.fixture.user.email.clone();
        for _ in 0..5 {
            let answer = app
                .request(
                    reqwest::Method::POST,
                    "/api/v1/session",
                    None,
                    Some(&json!({"email": email, "password": "nope-nope-nope"})),
                )
                .await;
            assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        }
        let answer = app
            .request(
                reqwest::Method::POST,
                "/api/v1/session",
                None,
                Some(&json!({"email": email, "password": app.fixture.user.password})),
            )
            .await;
        assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(answer.headers.contains_key("retry-after"));
        app
    })
    .await;
}

#[tokio::test]
async fn api_tokens_are_shown_once_and_can_be_revoked() {
    TestApp::on_every_backend(|app| async move {
        let token = app.token(&app.fixture.user).await;
        let created = app
            .post(&token, "/api/v1/me/tokens", &json!({"name": "Power Automate"}))
            .await;
        assert_eq!(created.status, StatusCode::CREATED);
        let secret = created.body["token"].as_str().unwrap().to_string();
        let id = created.body["id"].as_i64().unwrap();
        assert_eq!(app.get(&secret, "/api/v1/me").await.status, StatusCode::OK);
        let listed = app.get(&token, "/api/v1/me/tokens").await;
        let entry = listed.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == id)
            .unwrap()
            .clone();
        assert!(entry.get("token").is_none(), "the secret is never listed");
        assert!(entry["last_used_at"].is_string(), "last use is recorded");
        assert_eq!(
            app.delete(&token, &format!("/api/v1/me/tokens/{id}")).await.status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(app.get(&secret, "/api/v1/me").await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            app.delete(&token, &format!("/api/v1/me/tokens/{id}")).await.status,
            StatusCode::NOT_FOUND
        );
        app
    })
    .await;
}

#[tokio::test]
async fn subs_are_created_up_to_capacity_and_deleted_with_confirmation() {
    TestApp::on_every_backend(|app| async move {
        let token = app.token(&app.fixture.admin).await;
        // The fixture has two subs and capacity 5.
        for name in ["Filiaal Deventer", "Filiaal Arnhem", "Filiaal Breda"] {
            let created = app
                .post(&token, "/api/v1/administrations", &json!({"name": name}))
                .await;
            assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
            assert_eq!(created.body["is_main"], false);
        }
        let full = app
            .post(&token, "/api/v1/administrations", &json!({"name": "Filiaal Gouda"}))
            .await;
        assert_eq!(full.status, StatusCode::FORBIDDEN);
        assert_eq!(full.code(), "capacity_reached");
        let duplicate_name = app.post(&token, "/api/v1/administrations", &json!({"name": ""})).await;
        assert_eq!(duplicate_name.status, StatusCode::UNPROCESSABLE_ENTITY);

        let main = app.fixture.main;
        let refused = app
            .delete(&token, &format!("/api/v1/administrations/{main}?confirm=x"))
            .await;
        assert_eq!(refused.status, StatusCode::CONFLICT);
        assert_eq!(refused.code(), "main_cannot_be_deleted");

        let sub = app.fixture.sub2;
        let name = app.get(&token, &format!("/api/v1/administrations/{sub}")).await.body["name"]
            .as_str()
            .unwrap()
            .to_string();
        let unconfirmed = app.delete(&token, &format!("/api/v1/administrations/{sub}")).await;
        assert_eq!(unconfirmed.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(unconfirmed.body["error"]["fields"][0]["code"], "confirmation_required");
        let relation = app
            .post(
                &token,
                &format!("/api/v1/administrations/{sub}/relations"),
                &json!({"code": "D1", "name": "De Vries", "kind": "person"}),
            )
            .await;
        assert_eq!(relation.status, StatusCode::CREATED);
        let deleted = app
            .client
            .delete(app.url(&format!("/api/v1/administrations/{sub}")))
            .query(&[("confirm", &name)])
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
        assert_eq!(
            app.get(&token, &format!("/api/v1/administrations/{sub}/relations"))
                .await
                .status,
            StatusCode::NOT_FOUND
        );

        // Capacity is free again, and the audit log tells who did what.
        assert_eq!(
            app.post(&token, "/api/v1/administrations", &json!({"name": "Filiaal Gouda"}))
                .await
                .status,
            StatusCode::CREATED
        );
        let audit = app.get(&token, "/api/v1/audit-log?limit=100").await;
        let actions: Vec<&str> = audit.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert!(actions.contains(&"administration.delete_sub"), "{actions:?}");
        assert!(actions.contains(&"administration.create_sub"), "{actions:?}");
        app
    })
    .await;
}

#[tokio::test]
async fn licences_users_and_rights_are_managed_from_the_main() {
    TestApp::on_every_backend(|app| async move {
        let admin = app.token(&app.fixture.admin).await;
        let licences = app.get(&admin, "/api/v1/licences").await;
        let states: Vec<(String, String)> = licences.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["power_up"].as_str().unwrap().to_string(),
                    l["state"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert!(states.contains(&("accountview".into(), "trial".into())), "{states:?}");

        let changed = app
            .request(
                reqwest::Method::PUT,
                "/api/v1/licences/power_bi",
                Some(&admin),
                Some(&json!({"state": "inactive"})),
            )
            .await;
        assert_eq!(changed.status, StatusCode::OK);
        assert_eq!(changed.body["usable"], false);
        let bad = app
            .request(
                reqwest::Method::PUT,
                "/api/v1/licences/power_bi",
                Some(&admin),
                Some(&json!({"state": "trial"})),
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        let unknown = app
            .request(
                reqwest::Method::PUT,
                "/api/v1/licences/teleporter",
                Some(&admin),
                Some(&json!({"state": "active"})),
            )
            .await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);

        let created = app
            .post(
                &admin,
                "/api/v1/users",
                &json!({"email": "planner@vandijk.nl", "name": "Planner", "password": "plannen-2026!"}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let user_id = created.body["id"].as_i64().unwrap();
        let short = app
            .post(
                &admin,
                "/api/v1/users",
                &json!({"email": "kort@vandijk.nl", "name": "Kort", "password": "kort"}),
            )
            .await;
        assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(short.body["error"]["fields"][0]["field"], "password");
        let duplicate = app
            .post(
                &admin,
                "/api/v1/users",
                &json!({"email": "PLANNER@vandijk.nl", "name": "Dubbel", "password": "plannen-2026!"}),
            )
            .await;
        assert_eq!(duplicate.status, StatusCode::CONFLICT);

        let path = format!("/api/v1/users/{user_id}/administrations/{}/rights", app.fixture.sub1);
        let granted = app
            .request(
                reqwest::Method::PUT,
                &path,
                Some(&admin),
                Some(&json!({"rights": ["read_data"]})),
            )
            .await;
        assert_eq!(granted.status, StatusCode::OK, "{}", granted.body);
        let bad_right = app
            .request(
                reqwest::Method::PUT,
                &path,
                Some(&admin),
                Some(&json!({"rights": ["fly"]})),
            )
            .await;
        assert_eq!(bad_right.status, StatusCode::UNPROCESSABLE_ENTITY);

        let users = app.get(&admin, "/api/v1/users").await;
        let planner = users.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["id"] == user_id)
            .unwrap()
            .clone();
        assert_eq!(planner["administrations"][0]["rights"], json!(["read_data"]));

        // The plain user of sub 1 has no management rights on the main.
        let user = app.token(&app.fixture.user).await;
        assert!(matches!(
            app.get(&user, "/api/v1/users").await.status,
            StatusCode::FORBIDDEN | StatusCode::NOT_FOUND
        ));
        app
    })
    .await;
}
