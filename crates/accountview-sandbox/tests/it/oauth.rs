//! The OAuth dance: login and consent pages, codes, PKCE, the token endpoint, refresh and rotation, expiry
//! and revocation.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

/// A token request's form fields.
type Form<'a> = &'a [(&'a str, &'a str)];

#[tokio::test]
async fn full_dance_with_pkce_gives_working_tokens() {
    let sandbox = TestSandbox::start().await;
    let (verifier, challenge) = pkce_pair("dance");
    let request_id = sandbox.start_flow(BOTH_SCOPES, &challenge).await;

    // A wrong password shows the login page again with a message, keeping the request alive.
    let retry = sandbox.login(&request_id, DEMO_USER, "wrong").await;
    assert_eq!(retry.status(), StatusCode::OK);
    let retry_page = retry.text().await.expect("page");
    assert!(retry_page.contains("onjuist wachtwoord"), "{retry_page}");
    assert_eq!(hidden_field(&retry_page, "request_id"), request_id);

    // Logins are case-insensitive e-mail addresses; the consent page names the user and both scopes.
    let consent = sandbox.login(&request_id, &DEMO_USER.to_uppercase(), PASSWORD).await;
    assert_eq!(consent.status(), StatusCode::OK);
    let consent_page = consent.text().await.expect("page");
    assert!(consent_page.contains("Sanne de Vries"), "{consent_page}");
    assert!(consent_page.contains("readaccountviewdata") && consent_page.contains("updateaccountviewdata"));
    assert!(consent_page.contains(r#"value="approve""#) && consent_page.contains(r#"value="deny""#));

    let redirect = sandbox.decide(&request_id, "approve").await;
    assert_eq!(redirect.status(), StatusCode::FOUND);
    let location = redirect.headers()["location"].to_str().expect("ascii").to_owned();
    assert!(location.starts_with(&format!("{REDIRECT_URI}?")), "{location}");
    let parameters = location_parameters(&redirect);
    assert_eq!(parameter(&parameters, "state"), Some("state-123"));
    let code = parameter(&parameters, "code").expect("code").to_owned();

    let response = sandbox.redeem(&code, &verifier).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let tokens = tokens(response).await;
    assert_eq!(tokens.answer["token_type"], "bearer");
    assert_eq!(tokens.answer["expires_in"], 3600);
    assert_eq!(tokens.answer["scope"], BOTH_SCOPES);
    assert_ne!(tokens.access, tokens.refresh);

    let companies = sandbox.get_api("/api/v3/Companies", &tokens.access, None).await;
    assert_eq!(companies.status(), StatusCode::OK);

    // The consent step is single-use too.
    let again = sandbox.decide(&request_id, "approve").await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert!(again.headers().get("location").is_none());
}

#[tokio::test]
async fn deny_redirects_with_access_denied_and_state() {
    let sandbox = TestSandbox::start().await;
    let (_, challenge) = pkce_pair("deny");
    let request_id = sandbox.start_flow(BOTH_SCOPES, &challenge).await;
    sandbox.login(&request_id, DEMO_USER, PASSWORD).await;
    let redirect = sandbox.decide(&request_id, "deny").await;
    assert_eq!(redirect.status(), StatusCode::FOUND);
    let parameters = location_parameters(&redirect);
    assert_eq!(parameter(&parameters, "error"), Some("access_denied"));
    assert_eq!(parameter(&parameters, "state"), Some("state-123"));
    assert_eq!(parameter(&parameters, "code"), None);
}

#[tokio::test]
async fn consent_before_login_is_refused() {
    let sandbox = TestSandbox::start().await;
    let (_, challenge) = pkce_pair("early");
    let request_id = sandbox.start_flow(BOTH_SCOPES, &challenge).await;
    let response = sandbox.decide(&request_id, "approve").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get("location").is_none());
}

#[tokio::test]
async fn unknown_client_and_redirect_mismatch_show_an_error_page_without_redirect() {
    let sandbox = TestSandbox::start().await;
    let cases: [(&str, &str); 4] = [
        ("unknown-client", REDIRECT_URI),
        (CLIENT_ID, "http://127.0.0.1:9/evil/callback"),
        // Registered URIs compare exactly: a trailing slash is a different URI.
        (CLIENT_ID, "http://127.0.0.1:9/koppel/callback/"),
        (CLIENT_ID, OTHER_REDIRECT_URI),
    ];
    for (client_id, redirect_uri) in cases {
        let response = sandbox
            .authorize(&[
                ("response_type", "code"),
                ("client_id", client_id),
                ("redirect_uri", redirect_uri),
                ("scope", "readaccountviewdata"),
                ("state", "s"),
            ])
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{client_id} {redirect_uri}");
        assert!(response.headers().get("location").is_none());
        let page = response.text().await.expect("page");
        assert!(page.contains("<html"), "an HTML error page: {page}");
    }
}

#[tokio::test]
async fn bad_authorization_requests_redirect_with_rfc6749_errors() {
    let sandbox = TestSandbox::start().await;
    let (_, challenge) = pkce_pair("bad");
    let cases: [(&[(&str, &str)], &str); 5] = [
        (
            &[("response_type", "token"), ("scope", "readaccountviewdata")],
            "unsupported_response_type",
        ),
        (
            &[("response_type", "code"), ("scope", "readaccountviewdata admin")],
            "invalid_scope",
        ),
        (&[("response_type", "code")], "invalid_scope"),
        (
            &[
                ("response_type", "code"),
                ("scope", "readaccountviewdata"),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "plain"),
            ],
            "invalid_request",
        ),
        (
            &[
                ("response_type", "code"),
                ("scope", "readaccountviewdata"),
                ("code_challenge", "short"),
                ("code_challenge_method", "S256"),
            ],
            "invalid_request",
        ),
    ];
    for (extra, expected) in cases {
        let mut parameters = vec![
            ("client_id", CLIENT_ID),
            ("redirect_uri", REDIRECT_URI),
            ("state", "abc"),
        ];
        parameters.extend_from_slice(extra);
        let response = sandbox.authorize(&parameters).await;
        assert_eq!(response.status(), StatusCode::FOUND, "{extra:?}");
        let location = location_parameters(&response);
        assert_eq!(parameter(&location, "error"), Some(expected), "{extra:?}");
        assert_eq!(parameter(&location, "state"), Some("abc"));
    }
}

#[tokio::test]
async fn redirect_uri_with_a_query_keeps_it() {
    let sandbox = TestSandbox::start().await;
    let response = sandbox
        .authorize(&[
            ("response_type", "code"),
            ("client_id", OTHER_CLIENT_ID),
            ("redirect_uri", OTHER_REDIRECT_URI),
            ("scope", "nonsense"),
        ])
        .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = response.headers()["location"].to_str().expect("ascii");
    assert!(
        location.starts_with("https://other.example/callback?tenant=7&error=invalid_scope"),
        "{location}"
    );
}

#[tokio::test]
async fn pkce_failures_are_invalid_grant_and_leave_the_code_to_its_owner() {
    let sandbox = TestSandbox::start().await;
    let (verifier, challenge) = pkce_pair("pkce");
    let code = sandbox.approved_code(DEMO_USER, BOTH_SCOPES, &challenge).await;

    let (wrong_verifier, _) = pkce_pair("someone-else");
    let (status, body) = error_of(sandbox.redeem(&code, &wrong_verifier).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    assert!(
        body["error_description"]
            .as_str()
            .expect("description")
            .contains("PKCE")
    );

    let missing = sandbox
        .token_request(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .await;
    let (status, body) = error_of(missing).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    let (status, body) = error_of(sandbox.redeem(&code, "too-short").await).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    // The rightful client, holding the verifier, can still redeem it.
    assert_eq!(sandbox.redeem(&code, &verifier).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_verifier_without_a_challenge_is_refused_and_no_pkce_is_accepted() {
    let sandbox = TestSandbox::start().await;
    let response = sandbox
        .authorize(&[
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "readaccountviewdata"),
        ])
        .await;
    let request_id = hidden_field(&response.text().await.expect("page"), "request_id");
    sandbox.login(&request_id, DEMO_USER, PASSWORD).await;
    let redirect = sandbox.decide(&request_id, "approve").await;
    let parameters = location_parameters(&redirect);
    assert_eq!(
        parameter(&parameters, "state"),
        None,
        "no state was sent, none comes back"
    );
    let code = parameter(&parameters, "code").expect("code").to_owned();
    let (verifier, _) = pkce_pair("unasked");
    let (status, body) = error_of(sandbox.redeem(&code, &verifier).await).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let plain = sandbox
        .token_request(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .await;
    assert_eq!(plain.status(), StatusCode::OK);
    assert_eq!(tokens(plain).await.answer["scope"], "readaccountviewdata");
}

#[tokio::test]
async fn code_reuse_is_invalid_grant_and_revokes_what_the_code_gave() {
    let sandbox = TestSandbox::start().await;
    let (verifier, challenge) = pkce_pair("reuse");
    let code = sandbox.approved_code(DEMO_USER, BOTH_SCOPES, &challenge).await;
    let first = tokens(sandbox.redeem(&code, &verifier).await).await;
    assert_eq!(
        sandbox.get_api("/api/v3/Companies", &first.access, None).await.status(),
        StatusCode::OK
    );

    let (status, body) = error_of(sandbox.redeem(&code, &verifier).await).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    assert_eq!(
        sandbox.get_api("/api/v3/Companies", &first.access, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let (status, body) = error_of(sandbox.refresh(&first.refresh).await).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn codes_are_bound_to_client_and_redirect_uri() {
    let sandbox = TestSandbox::start().await;
    let (verifier, challenge) = pkce_pair("bound");
    let code = sandbox.approved_code(DEMO_USER, BOTH_SCOPES, &challenge).await;

    let other_redirect = sandbox
        .token_request(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/koppel/other"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("code_verifier", &verifier),
        ])
        .await;
    let (status, body) = error_of(other_redirect).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    let other_client = sandbox
        .token_request(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", OTHER_CLIENT_ID),
            ("client_secret", OTHER_CLIENT_SECRET),
            ("code_verifier", &verifier),
        ])
        .await;
    let (status, body) = error_of(other_client).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    let unknown = sandbox.redeem("not-a-code", &verifier).await;
    let (status, body) = error_of(unknown).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    assert_eq!(sandbox.redeem(&code, &verifier).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn codes_expire_after_ten_minutes() {
    let sandbox = TestSandbox::start().await;
    let (verifier, challenge) = pkce_pair("late");
    let code = sandbox.approved_code(DEMO_USER, BOTH_SCOPES, &challenge).await;
    sandbox
        .control_post("/_sandbox/clock", json!({"advance_seconds": 601}))
        .await;
    let (status, body) = error_of(sandbox.redeem(&code, &verifier).await).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert!(
        body["error_description"]
            .as_str()
            .expect("description")
            .contains("expired")
    );
}

#[tokio::test]
async fn token_endpoint_checks_client_credentials_grant_type_and_form() {
    let sandbox = TestSandbox::start().await;
    let cases: [(Form<'_>, StatusCode, &str); 5] = [
        (
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", "x"),
                ("client_id", CLIENT_ID),
            ],
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", "x"),
                ("client_id", CLIENT_ID),
                ("client_secret", "nope"),
            ],
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            &[
                ("grant_type", "refresh_token"),
                ("client_id", "stranger"),
                ("client_secret", "x"),
            ],
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            &[
                ("grant_type", "password"),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
            ],
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
        ),
        (
            &[("client_id", CLIENT_ID), ("client_secret", CLIENT_SECRET)],
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ];
    for (form, expected_status, expected_error) in cases {
        let response = sandbox.token_request(form).await;
        assert_eq!(response.headers()["cache-control"], "no-store");
        let (status, body) = error_of(response).await;
        assert_eq!(status, expected_status, "{form:?}: {body}");
        assert_eq!(body["error"], expected_error, "{form:?}");
        assert!(body["error_description"].is_string());
    }

    // Client credentials belong in a form body, not JSON.
    let json_body = sandbox
        .http
        .post(sandbox.url("/api/v3/token"))
        .json(&json!({"grant_type": "refresh_token", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}))
        .send()
        .await
        .expect("request");
    let (status, body) = error_of(json_body).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );

    // A repeated parameter is invalid (RFC 6749 §3.2).
    let repeated = sandbox
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .await;
    let (status, body) = error_of(repeated).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
}

#[tokio::test]
async fn refresh_rotates_and_the_old_refresh_token_dies() {
    let sandbox = TestSandbox::start().await;
    let first = sandbox.connect().await;
    let response = sandbox.refresh(&first.refresh).await;
    assert_eq!(response.status(), StatusCode::OK);
    let second = tokens(response).await;
    assert_ne!(second.refresh, first.refresh, "rotation is on by default");
    assert_ne!(second.access, first.access);
    assert_eq!(second.answer["scope"], BOTH_SCOPES);

    let (status, body) = error_of(sandbox.refresh(&first.refresh).await).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    assert_eq!(
        sandbox
            .get_api("/api/v3/Companies", &second.access, None)
            .await
            .status(),
        StatusCode::OK
    );
    // The earlier access token lives until it expires; refreshing does not cut it short.
    assert_eq!(
        sandbox.get_api("/api/v3/Companies", &first.access, None).await.status(),
        StatusCode::OK
    );
    let third = tokens(sandbox.refresh(&second.refresh).await).await;
    assert_ne!(third.refresh, second.refresh);
}

#[tokio::test]
async fn without_rotation_the_refresh_token_stays() {
    let sandbox = TestSandbox::start().await;
    let settings = sandbox
        .control_put("/_sandbox/tokens/settings", json!({"rotate_refresh_tokens": false}))
        .await;
    assert_eq!(settings["rotate_refresh_tokens"], false);
    let first = sandbox.connect().await;
    let second = tokens(sandbox.refresh(&first.refresh).await).await;
    let third = tokens(sandbox.refresh(&first.refresh).await).await;
    assert_eq!(second.refresh, first.refresh);
    assert_eq!(third.refresh, first.refresh);
    assert_ne!(second.access, third.access);
}

#[tokio::test]
async fn a_refresh_may_narrow_the_scope_but_not_widen_it() {
    let sandbox = TestSandbox::start().await;
    let read_only = sandbox.connect_as(DEMO_USER, "readaccountviewdata").await;
    let widen = sandbox
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &read_only.refresh),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("scope", BOTH_SCOPES),
        ])
        .await;
    let (status, body) = error_of(widen).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope"))
    );

    let full = sandbox.connect().await;
    let narrowed = sandbox
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &full.refresh),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("scope", "readaccountviewdata"),
        ])
        .await;
    let narrowed = tokens(narrowed).await;
    assert_eq!(narrowed.answer["scope"], "readaccountviewdata");
    let post = sandbox
        .post_data(&narrowed.access, VDB_2026_ID, &simple_invoice("NARROW-1", "10001"))
        .await;
    assert_eq!(post.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn refresh_tokens_belong_to_their_client() {
    let sandbox = TestSandbox::start().await;
    let tokens = sandbox.connect().await;
    let stolen = sandbox
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &tokens.refresh),
            ("client_id", OTHER_CLIENT_ID),
            ("client_secret", OTHER_CLIENT_SECRET),
        ])
        .await;
    let (status, body) = error_of(stolen).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}

async fn assert_invalid_token(sandbox: &TestSandbox, token: &str) {
    let response = sandbox.get_api("/api/v3/Companies", token, None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        challenge.starts_with("Bearer") && challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
    let body: Value = response.json().await.expect("json");
    assert_eq!(assert_av_error(&body), vec![1002]);
}

#[tokio::test]
async fn bad_missing_and_expired_access_tokens_get_401() {
    let sandbox = TestSandbox::start().await;
    assert_invalid_token(&sandbox, "not-a-token").await;

    let missing = sandbox
        .http
        .get(sandbox.url("/api/v3/Companies"))
        .send()
        .await
        .expect("request");
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    assert!(
        missing.headers()["www-authenticate"]
            .to_str()
            .expect("ascii")
            .starts_with("Bearer")
    );
    let body: Value = missing.json().await.expect("json");
    assert_eq!(assert_av_error(&body), vec![1001]);

    // Expired by the control surface...
    let tokens = sandbox.connect().await;
    let expired = sandbox
        .control_post("/_sandbox/tokens/expire", json!({"user": DEMO_USER}))
        .await;
    assert_eq!(expired["expired_access_tokens"], 1);
    assert_invalid_token(&sandbox, &tokens.access).await;
    // ...while the refresh token still gets a new one.
    let renewed = tokens_of_refresh(&sandbox, &tokens.refresh).await;
    assert_eq!(
        sandbox
            .get_api("/api/v3/Companies", &renewed.access, None)
            .await
            .status(),
        StatusCode::OK
    );

    // Expired by time passing.
    sandbox
        .control_post("/_sandbox/clock", json!({"advance_seconds": 3601}))
        .await;
    assert_invalid_token(&sandbox, &renewed.access).await;
}

async fn tokens_of_refresh(sandbox: &TestSandbox, refresh_token: &str) -> Tokens {
    let response = sandbox.refresh(refresh_token).await;
    assert_eq!(response.status(), StatusCode::OK);
    tokens(response).await
}

#[tokio::test]
async fn expired_refresh_tokens_and_configured_lifetimes() {
    let sandbox = TestSandbox::start().await;
    let settings = sandbox
        .control_put(
            "/_sandbox/tokens/settings",
            json!({"access_token_seconds": 120, "refresh_token_seconds": 600}),
        )
        .await;
    assert_eq!(settings["access_token_seconds"], 120);
    let tokens = sandbox.connect().await;
    assert_eq!(tokens.answer["expires_in"], 120);

    sandbox
        .control_post("/_sandbox/clock", json!({"advance_seconds": 121}))
        .await;
    assert_invalid_token(&sandbox, &tokens.access).await;
    let renewed = tokens_of_refresh(&sandbox, &tokens.refresh).await;

    // The rotated refresh token has its own ten minutes; past them it is gone.
    sandbox
        .control_post("/_sandbox/clock", json!({"advance_seconds": 601}))
        .await;
    let (status, body) = error_of(sandbox.refresh(&renewed.refresh).await).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    // Expiring refresh tokens through the control surface does the same at once.
    let fresh = sandbox.connect().await;
    let expired = sandbox
        .control_post("/_sandbox/tokens/expire", json!({"access": false, "refresh": true}))
        .await;
    assert_eq!(expired["expired_refresh_tokens"], 1);
    assert_eq!(expired["expired_access_tokens"], 0);
    let (status, body) = error_of(sandbox.refresh(&fresh.refresh).await).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(
        sandbox.get_api("/api/v3/Companies", &fresh.access, None).await.status(),
        StatusCode::OK
    );

    let bad = sandbox
        .http
        .put(sandbox.url("/_sandbox/tokens/settings"))
        .json(&json!({"access_token_seconds": 0}))
        .send()
        .await
        .expect("request");
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn revoking_a_grant_ends_access_and_refresh() {
    let sandbox = TestSandbox::start().await;
    let demo = sandbox.connect().await;
    let reader = sandbox.connect_as(READER_USER, "readaccountviewdata").await;
    let grants = sandbox.control_get("/_sandbox/grants").await;
    assert_eq!(grants.as_array().expect("grants").len(), 2);

    let revoked = sandbox
        .control_post(
            "/_sandbox/grants/revoke",
            json!({"user": DEMO_USER, "client_id": CLIENT_ID}),
        )
        .await;
    assert_eq!(revoked["revoked_grants"], 1);
    assert_invalid_token(&sandbox, &demo.access).await;
    let (status, body) = error_of(sandbox.refresh(&demo.refresh).await).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    // Other users' grants are untouched.
    assert_eq!(
        sandbox
            .get_api("/api/v3/Companies", &reader.access, None)
            .await
            .status(),
        StatusCode::OK
    );
}
