//! Issue 18, the API edge: money that cannot overflow, no control characters in text, an
//! environment that keeps a manager, and the pages' security headers, 403 titles and cookies.

use crate::pages::PageClient;
use koppel_test_support::TestApp;
use koppel_web::WebConfig;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, SET_COOKIE};
use serde_json::{Value as Json, json};

async fn create(app: &TestApp, token: &str, administration: i64, resource: &str, body: Json) -> Json {
    let path = format!("/api/v1/administrations/{administration}/{resource}");
    let answer = app.post(token, &path, &body).await;
    assert_eq!(answer.status, StatusCode::CREATED, "create {resource}: {}", answer.body);
    answer.body
}

/// A completed work order of one material line with this quantity and price; its path.
async fn completed_order(app: &TestApp, token: &str, number: &str, lines: &[(&str, &str)]) -> String {
    let a = app.fixture.sub1.0;
    let relation = create(
        app,
        token,
        a,
        "relations",
        json!({"code": format!("R{number}"), "name": "Groothandel", "kind": "company"}),
    )
    .await;
    let material = create(
        app,
        token,
        a,
        "materials",
        json!({"code": format!("M{number}"), "description": "Pomp", "unit": "stuk", "price": "1.00", "vat_rate": "21"}),
    )
    .await;
    let order = create(
        app,
        token,
        a,
        "work-orders",
        json!({"number": number, "relation_id": relation["id"], "description": "Groot werk", "status": "Klaargezet"}),
    )
    .await;
    for (quantity, price) in lines {
        create(app, token, a, "work-order-materials", json!({"work_order_id": order["id"], "material_id": material["id"], "quantity": quantity, "price": price, "vat_rate": "21"})).await;
    }
    let path = format!("/api/v1/administrations/{a}/work-orders/{}", order["id"]);
    for status in ["Opgehaald", "Compleet"] {
        let moved = app.patch(token, &path, &json!({"status": status})).await;
        assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    }
    path
}

fn first_field(answer: &koppel_test_support::Answer) -> (String, String) {
    let field = &answer.body["error"]["fields"][0];
    (
        field["field"].as_str().unwrap_or_default().to_string(),
        field["code"].as_str().unwrap_or_default().to_string(),
    )
}

/// The reproduction of issue 18 item 1: quantity 2 at 50,000,000,000,000,000.00 invoiced with a
/// wrapped, negative total. Now the price is refused at the edge, and amounts that fit one by one
/// but not multiplied or added up refuse the invoice; nothing is written.
#[tokio::test]
async fn money_out_of_range_is_refused_at_the_edge_and_invoices_never_wrap() {
    TestApp::on_every_backend(|app| async move {
        let token = app.token(&app.fixture.admin).await;
        let a = app.fixture.sub1.0;
        let relation = create(&app, &token, a, "relations", json!({"code": "R1", "name": "Klant", "kind": "company"})).await;
        let material = create(&app, &token, a, "materials", json!({"code": "M1", "description": "Pomp", "unit": "stuk", "price": "1.00", "vat_rate": "21"})).await;
        let order = create(&app, &token, a, "work-orders", json!({"number": "WB-1", "relation_id": relation["id"], "description": "Werk", "status": "Klaargezet"})).await;
        let lines = format!("/api/v1/administrations/{a}/work-order-materials");
        let huge = app
            .post(&token, &lines, &json!({"work_order_id": order["id"], "material_id": material["id"], "quantity": "2", "price": "50000000000000000.00", "vat_rate": "21"}))
            .await;
        assert_eq!(huge.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", huge.body);
        assert_eq!(first_field(&huge), ("price".into(), "out_of_range".into()));
        assert!(huge.body["error"]["message"].as_str().unwrap().contains("999999999999.99"), "{}", huge.body);
        let many = app
            .post(&token, &lines, &json!({"work_order_id": order["id"], "material_id": material["id"], "quantity": "1000000000", "price": "1.00", "vat_rate": "21"}))
            .await;
        assert_eq!(first_field(&many), ("quantity".into(), "out_of_range".into()));

        // Each amount is in range; their product is not.
        let order_path = completed_order(&app, &token, "WB-2", &[("1", "10.00"), ("2", "999999999999.99")]).await;
        let refused = app.post(&token, &format!("{order_path}/invoice"), &json!({})).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
        assert_eq!(first_field(&refused), ("lines[2]".into(), "out_of_range".into()));
        // Each line is in range; with VAT the total is not.
        let order_path = completed_order(&app, &token, "WB-3", &[("1", "900000000000.00")]).await;
        let refused = app.post(&token, &format!("{order_path}/invoice"), &json!({})).await;
        assert_eq!(first_field(&refused), ("total_incl_vat".into(), "out_of_range".into()));
        let invoices = app.get(&token, &format!("/api/v1/administrations/{a}/invoices")).await;
        assert_eq!(invoices.body["items"], json!([]), "a refused invoice writes nothing");

        // The largest amount that fits is invoiced exactly.
        let order_path = completed_order(&app, &token, "WB-4", &[("1", "826446280991.73")]).await;
        let invoice = app.post(&token, &format!("{order_path}/invoice"), &json!({})).await;
        assert_eq!(invoice.status, StatusCode::CREATED, "{}", invoice.body);
        assert_eq!(invoice.body["total_excl_vat"], "826446280991.73");
        assert_eq!(invoice.body["total_vat"], "173553719008.26");
        assert_eq!(invoice.body["total_incl_vat"], "999999999999.99");

        // Payments that add up beyond the range are refused too.
        let payments = format!("/api/v1/administrations/{a}/payments");
        let pay = |amount: &'static str| json!({"invoice_id": invoice.body["id"], "amount": amount, "paid_on": "2026-11-22", "method": "bank"});
        assert_eq!(app.post(&token, &payments, &pay("999999999999.99")).await.status, StatusCode::CREATED);
        let beyond = app.post(&token, &payments, &pay("0.01")).await;
        assert_eq!(beyond.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", beyond.body);
        assert_eq!(first_field(&beyond), ("amount".into(), "out_of_range".into()));
        app
    })
    .await;
}

/// Decimals the published pattern forbids are refused, the same on both backends.
#[tokio::test]
async fn decimals_outside_the_published_pattern_are_refused() {
    TestApp::on_every_backend(|app| async move {
        let token = app.token(&app.fixture.admin).await;
        let a = app.fixture.main.0;
        let materials = format!("/api/v1/administrations/{a}/materials");
        for (index, price) in ["-0", "-0.00", " 1.00", "1.00 ", "+1.00", ".5", "01.00", "1.", "1.230", "1e2"].into_iter().enumerate() {
            let answer = app
                .post(&token, &materials, &json!({"code": format!("P{index}"), "description": "Buis", "unit": "m", "price": price, "vat_rate": "21"}))
                .await;
            assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{price:?}: {}", answer.body);
            assert_eq!(first_field(&answer).0, "price", "{price:?}");
        }
        let ok = create(&app, &token, a, "materials", json!({"code": "OK", "description": "Buis", "unit": "m", "price": "-0.05", "vat_rate": "21"})).await;
        assert_eq!(ok["price"], "-0.05");
        app
    })
    .await;
}

/// Issue 18 item 2: a NUL gave 500 on PostgreSQL and was stored on SQLite.
#[tokio::test]
async fn nul_and_control_characters_are_refused_with_the_field_on_both_backends() {
    TestApp::on_every_backend(|app| async move {
        let token = app.token(&app.fixture.admin).await;
        let a = app.fixture.main.0;
        let relations = format!("/api/v1/administrations/{a}/relations");
        for (name, code) in [
            ("a\u{0}b", "invalid_character"),
            ("bell\u{7}", "invalid_character"),
            ("two\nlines", "invalid_character"),
        ] {
            let answer = app
                .post(
                    &token,
                    &relations,
                    &json!({"code": "R1", "name": name, "kind": "company"}),
                )
                .await;
            assert_eq!(
                answer.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{name:?}: {}",
                answer.body
            );
            assert_eq!(first_field(&answer), ("name".into(), code.into()), "{name:?}");
        }
        // Multi-line text keeps its line breaks and tabs, but not other control characters.
        let relation = create(
            &app,
            &token,
            a,
            "relations",
            json!({"code": "R2", "name": "Klant", "kind": "company", "notes": "regel 1\r\nregel 2\tmet tab"}),
        )
        .await;
        assert_eq!(relation["notes"], "regel 1\r\nregel 2\tmet tab");
        let path = format!("{relations}/{}", relation["id"]);
        let answer = app.patch(&token, &path, &json!({"notes": "nul \u{0} hier"})).await;
        assert_eq!(first_field(&answer), ("notes".into(), "invalid_character".into()));
        // NUL is refused wherever it is in a body, named by its path, before any handler binds it.
        let answer = app
            .patch(&token, &path, &json!({"email": "x@y.nl", "unknown": ["ok", "n\u{0}"]}))
            .await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(first_field(&answer), ("unknown[1]".into(), "invalid_character".into()));
        let forms = format!("/api/v1/administrations/{a}/forms");
        let answer = app
            .post(
                &token,
                &forms,
                &json!({"code": "F1", "name": "Keuring", "fields": [{"key": "k", "label": "L\u{0}", "type": "text"}]}),
            )
            .await;
        assert_eq!(
            first_field(&answer),
            ("fields[0].label".into(), "invalid_character".into())
        );
        // Platform texts: users, administrations, tokens.
        let user = app
            .post(
                &token,
                "/api/v1/users",
                &json!({"email": "n@x.nl", "name": "N\u{1b}[31m", "password": "lang-genoeg-wachtwoord"}),
            )
            .await;
        assert_eq!(first_field(&user), ("name".into(), "invalid_character".into()));
        let user = app
            .post(
                &token,
                "/api/v1/users",
                &json!({"email": "n\u{0}@x.nl", "name": "N", "password": "lang-genoeg-wachtwoord"}),
            )
            .await;
        assert_eq!(first_field(&user), ("email".into(), "invalid_character".into()));
        let administration = app
            .post(&token, "/api/v1/administrations", &json!({"name": "Tab\tnaam"}))
            .await;
        assert_eq!(
            first_field(&administration),
            ("name".into(), "invalid_character".into())
        );

        // Logging in with a NUL, anonymously: a plain 4xx, never 500.
        let login = app
            .request(
                reqwest::Method::POST,
                "/api/v1/session",
                None,
                Some(&json!({"email": "a\u{0}b@x", "password": "iets"})),
            )
            .await;
        assert_eq!(login.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", login.body);
        assert_eq!(first_field(&login), ("email".into(), "invalid_character".into()));
        let login = app
            .request(
                reqwest::Method::POST,
                "/api/v1/session",
                None,
                Some(&json!({"email": "a\u{1}b@x", "password": "iets"})),
            )
            .await;
        assert_eq!(login.status, StatusCode::UNAUTHORIZED, "{}", login.body);
        assert_eq!(login.code(), "invalid_credentials");
        // The page login answers like a wrong password.
        let mut client = PageClient::new(&app);
        let form = client.get("/login").await;
        let wrong = client
            .post(
                "/login",
                &[("csrf", &form.csrf()), ("email", "a\u{0}b@x"), ("password", "iets")],
            )
            .await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{}", wrong.body);
        assert!(wrong.body.contains("Het e-mailadres of het wachtwoord is onjuist."));
        // A back-office form with a NUL gets a clear page, not a 500.
        client.log_in(&app.fixture.admin).await;
        let path = format!("/a/{a}/settings/administrations");
        let list = client.get(&path).await;
        let refused = client
            .post(&path, &[("csrf", &list.csrf()), ("name", "Vestiging\u{0}Gouda")])
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
        assert!(refused.body.contains("<title>Ongeldige invoer"), "{}", refused.body);
        drop(client);
        let names: Vec<String> = app
            .database
            .store()
            .administrations(app.fixture.environment)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.name)
            .collect();
        assert!(
            names.iter().all(|name| !name.chars().any(char::is_control)),
            "{names:?}"
        );
        app
    })
    .await;
}

/// Issue 18 item 5: the last administrator removed her own rights through the API.
#[tokio::test]
async fn the_last_manager_cannot_lose_the_right_to_manage() {
    TestApp::on_every_backend(|app| async move {
        let fixture = app.fixture.clone();
        let token = app.token(&fixture.admin).await;
        let own_rights = format!(
            "/api/v1/users/{}/administrations/{}/rights",
            fixture.admin.id, fixture.main
        );
        for rights in [json!([]), json!(["read_data", "write_data", "sync_settings"])] {
            let answer = app
                .request(
                    reqwest::Method::PUT,
                    &own_rights,
                    Some(&token),
                    Some(&json!({"rights": rights})),
                )
                .await;
            assert_eq!(answer.status, StatusCode::CONFLICT, "{}", answer.body);
            assert_eq!(answer.code(), "last_manager");
        }
        let store = app.database.store();
        let held = store.rights(fixture.admin.id, fixture.main).await.unwrap().unwrap();
        assert!(held.has(koppel_domain::rights::Right::ManageAdministrations));
        // Rights in a sub-administration are not what makes a manager.
        let sub_rights = format!(
            "/api/v1/users/{}/administrations/{}/rights",
            fixture.admin.id, fixture.sub2
        );
        let answer = app
            .request(
                reqwest::Method::PUT,
                &sub_rights,
                Some(&token),
                Some(&json!({"rights": []})),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        // Once another user manages, the first may step down.
        let other = format!(
            "/api/v1/users/{}/administrations/{}/rights",
            fixture.user.id, fixture.main
        );
        let answer = app
            .request(
                reqwest::Method::PUT,
                &other,
                Some(&token),
                Some(&json!({"rights": ["manage_administrations"]})),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let answer = app
            .request(
                reqwest::Method::PUT,
                &own_rights,
                Some(&token),
                Some(&json!({"rights": ["read_data"]})),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        // Now the other user is the last one.
        let user_token = app.token(&fixture.user).await;
        let answer = app
            .request(
                reqwest::Method::PUT,
                &other,
                Some(&user_token),
                Some(&json!({"rights": []})),
            )
            .await;
        assert_eq!(answer.code(), "last_manager", "{}", answer.body);
        app
    })
    .await;
}

fn header<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// Issue 18 item 12: pages lacked X-Content-Type-Options, Referrer-Policy and a full CSP; a 403
/// page was titled "Niet gevonden".
#[tokio::test]
async fn pages_carry_security_headers_and_403_pages_say_what_they_are() {
    TestApp::on_every_backend(|app| async move {
        let fixture = app.fixture.clone();
        for path in ["/login", "/", "/assets/koppel.css", "/assets/run-progress.js"] {
            let response = app.client.get(app.url(path)).send().await.unwrap();
            let headers = response.headers();
            assert_eq!(header(headers, "x-content-type-options"), "nosniff", "{path}");
            assert_eq!(header(headers, "referrer-policy"), "same-origin", "{path}");
        }
        let login = app.client.get(app.url("/login")).send().await.unwrap();
        let policy = header(login.headers(), "content-security-policy").to_string();
        for directive in [
            "default-src 'self'",
            "base-uri 'none'",
            "object-src 'none'",
            "frame-ancestors 'none'",
            "form-action 'self'",
        ] {
            assert!(policy.contains(directive), "{policy}");
        }

        let mut client = PageClient::new(&app);
        client.log_in(&fixture.admin).await;
        let forged = client
            .post(
                &format!("/a/{}/settings/administrations", fixture.main),
                &[("csrf", "forged"), ("name", "X")],
            )
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        assert!(forged.body.contains("<title>Formulier geweigerd"), "{}", forged.body);
        assert!(!forged.body.contains("Niet gevonden"));
        drop(client);

        // A gate (a page the visitor may not use) is titled as unavailable.
        let mut client = PageClient::new(&app);
        client.log_in(&fixture.user).await;
        let gate = client.get(&format!("/a/{}/settings/users", fixture.sub1)).await;
        assert_eq!(gate.status, StatusCode::FORBIDDEN);
        assert!(gate.body.contains("<title>Niet beschikbaar: "), "{}", gate.body);
        drop(client);
        app
    })
    .await;
}

/// Issue 18 item 12: the login form's CSRF cookie lacked `Secure` under https.
#[tokio::test]
async fn the_login_csrf_cookie_is_secure_under_https() {
    let login_cookie = |response: &reqwest::Response| {
        response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("koppel_login_csrf="))
            .map(str::to_string)
            .expect("a login CSRF cookie")
    };
    TestApp::on_every_backend(|app| async move {
        let plain = app.client.get(app.url("/login")).send().await.unwrap();
        assert!(!login_cookie(&plain).contains("Secure"), "plain http keeps working");
        let proxied = app
            .client
            .get(app.url("/login"))
            .header("x-forwarded-proto", "https")
            .send()
            .await
            .unwrap();
        assert!(
            login_cookie(&proxied).ends_with("; Secure"),
            "{}",
            login_cookie(&proxied)
        );
        let forwarded = app
            .client
            .get(app.url("/login"))
            .header("forwarded", "for=10.0.0.1;proto=https")
            .send()
            .await
            .unwrap();
        assert!(login_cookie(&forwarded).ends_with("; Secure"));
        app
    })
    .await;
    let database = koppel_test_support::TestDatabase::sqlite().await;
    let config = WebConfig {
        secure_cookies: true,
        ..WebConfig::default()
    };
    let app = TestApp::spawn_with(database, config).await;
    let response = app.client.get(app.url("/login")).send().await.unwrap();
    assert!(login_cookie(&response).ends_with("; Secure"));
    assert_eq!(
        header(response.headers(), CONTENT_TYPE.as_str()),
        "text/html; charset=utf-8"
    );
    app.stop().await;
}
