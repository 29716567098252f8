//! Daily data and settings over HTTP: create, read, update, delete, list with cursors and filters,
//! work-order transitions, and invoicing.

use koppel_test_support::TestApp;
use reqwest::StatusCode;
use serde_json::{Value as Json, json};

async fn create(app: &TestApp, token: &str, administration: i64, resource: &str, body: Json) -> Json {
    let answer = app
        .post(
            token,
            &format!("/api/v1/administrations/{administration}/{resource}"),
            &body,
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "create {resource}: {}", answer.body);
    answer.body
}

#[tokio::test]
async fn crud_and_cursor_pagination() {
    TestApp::on_every_backend(|app| async move {
        let token = app.token(&app.fixture.admin).await;
        let main = app.fixture.main.0;
        let base = format!("/api/v1/administrations/{main}/relations");
        for number in 0..7 {
            create(&app, &token, main, "relations", json!({"code": format!("D{number:03}"), "name": format!("Klant {number}"), "kind": if number % 2 == 0 { "company" } else { "person" }})).await;
        }
        let mut seen = Vec::new();
        let mut url = format!("{base}?limit=3");
        loop {
            let page = app.get(&token, &url).await;
            assert_eq!(page.status, StatusCode::OK);
            seen.extend(page.body["items"].as_array().unwrap().iter().map(|r| r["code"].as_str().unwrap().to_string()));
            match page.body["next_cursor"].as_str() {
                Some(cursor) => url = format!("{base}?limit=3&cursor={cursor}"),
                None => break,
            }
        }
        assert_eq!(seen, (0..7).map(|n| format!("D{n:03}")).collect::<Vec<_>>());

        let persons = app.get(&token, &format!("{base}?kind=person")).await;
        assert_eq!(persons.body["items"].as_array().unwrap().len(), 3);

        let first = app.get(&token, &format!("{base}?limit=1")).await.body["items"][0].clone();
        let id = first["id"].as_i64().unwrap();
        let later = first["modified_at"].as_str().unwrap().to_string();
        let changed = app.patch(&token, &format!("{base}/{id}"), &json!({"name": "Klant Nul B.V.", "email": "info@klantnul.nl"})).await;
        assert_eq!(changed.status, StatusCode::OK);
        assert_eq!(changed.body["name"], "Klant Nul B.V.");
        assert_eq!(changed.body["code"], "D000", "untouched fields stay");
        assert!(changed.body["modified_at"].as_str().unwrap() >= later.as_str());
        let since = app.client.get(app.url(&base)).query(&[("modified_since", changed.body["modified_at"].as_str().unwrap())]).bearer_auth(&token).send().await.unwrap();
        let since: Json = since.json().await.unwrap();
        assert!(since["items"].as_array().unwrap().iter().any(|r| r["id"] == id));

        let duplicate = app.post(&token, &base, &json!({"code": "D001", "name": "Dubbel", "kind": "company"})).await;
        assert_eq!(duplicate.status, StatusCode::CONFLICT);
        assert_eq!(duplicate.code(), "already_exists");

        assert_eq!(app.delete(&token, &format!("{base}/{id}")).await.status, StatusCode::NO_CONTENT);
        assert_eq!(app.get(&token, &format!("{base}/{id}")).await.status, StatusCode::NOT_FOUND);
        app
    })
    .await;
}

#[tokio::test]
async fn work_orders_move_through_their_statuses_and_are_invoiced_once() {
    TestApp::on_every_backend(|app| async move {
        let token = app.token(&app.fixture.admin).await;
        let a = app.fixture.sub1.0;
        let relation = create(&app, &token, a, "relations", json!({"code": "D100", "name": "Bakkerij Ten Hove", "kind": "company"})).await;
        create(&app, &token, a, "hour-types", json!({"code": "NORMAAL", "description": "Normale uren", "rate": "72.50", "vat_rate": "21", "billable": true})).await;
        let material = create(&app, &token, a, "materials", json!({"code": "KB15", "description": "Koperbuis 15 mm", "unit": "m", "price": "4.99", "vat_rate": "9"})).await;
        let order = create(&app, &token, a, "work-orders", json!({"number": "WB-0001", "relation_id": relation["id"], "description": "Lekkage keuken", "status": "Klaargezet"})).await;
        let order_path = format!("/api/v1/administrations/{a}/work-orders/{}", order["id"]);
        create(&app, &token, a, "work-order-hours", json!({"work_order_id": order["id"], "hour_type_code": "NORMAAL", "work_date": "2026-11-20", "hours": "1.5", "rate": "72.50", "vat_rate": "21"})).await;
        create(&app, &token, a, "work-order-materials", json!({"work_order_id": order["id"], "material_id": material["id"], "quantity": "3", "price": "4.99", "vat_rate": "9"})).await;

        let skip = app.patch(&token, &order_path, &json!({"status": "Afgehandeld"})).await;
        assert_eq!(skip.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(skip.body["error"]["fields"][0]["code"], "invalid_transition");
        let early = app.post(&token, &format!("{order_path}/invoice"), &json!({})).await;
        assert_eq!(early.status, StatusCode::CONFLICT);
        assert_eq!(early.code(), "not_complete");

        for status in ["Opgehaald", "Compleet"] {
            let moved = app.patch(&token, &order_path, &json!({"status": status})).await;
            assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
        }
        let complete = app.get(&token, &order_path).await;
        assert!(complete.body["completed_at"].is_string());
        let readonly = app.patch(&token, &order_path, &json!({"completed_at": "2026-01-01T00:00:00Z"})).await;
        assert_eq!(readonly.status, StatusCode::UNPROCESSABLE_ENTITY);

        let invoice = app.request(reqwest::Method::POST, &format!("{order_path}/invoice"), Some(&token), None).await;
        assert_eq!(invoice.status, StatusCode::CREATED, "{}", invoice.body);
        assert_eq!(invoice.body["total_excl_vat"], "123.72");
        assert_eq!(invoice.body["total_vat"], "24.19");
        assert_eq!(invoice.body["total_incl_vat"], "147.91");
        assert_eq!(invoice.body["payment_status"], "open");
        let again = app.post(&token, &format!("{order_path}/invoice"), &json!({})).await;
        assert_eq!(again.status, StatusCode::CONFLICT);
        assert_eq!(again.code(), "already_invoiced");

        let lines = app.get(&token, &format!("/api/v1/administrations/{a}/invoice-lines?invoice_id={}", invoice.body["id"])).await;
        assert_eq!(lines.body["items"].as_array().unwrap().len(), 2);

        let payments = format!("/api/v1/administrations/{a}/payments");
        create(&app, &token, a, "payments", json!({"invoice_id": invoice.body["id"], "amount": "100.00", "paid_on": "2026-11-21", "method": "bank"})).await;
        let invoice_path = format!("/api/v1/administrations/{a}/invoices/{}", invoice.body["id"]);
        assert_eq!(app.get(&token, &invoice_path).await.body["payment_status"], "partly_paid");
        let rest = app.post(&token, &payments, &json!({"invoice_id": invoice.body["id"], "amount": "47.91", "paid_on": "2026-11-22", "method": "ideal"})).await;
        assert_eq!(rest.status, StatusCode::CREATED);
        let paid = app.get(&token, &invoice_path).await;
        assert_eq!(paid.body["payment_status"], "paid");
        assert_eq!(paid.body["paid_amount"], "147.91");
        app
    })
    .await;
}

#[tokio::test]
async fn settings_refer_to_each_other_by_code() {
    TestApp::on_every_backend(|app| async move {
        let token = app.token(&app.fixture.admin).await;
        let m = app.fixture.main.0;
        let missing = app.post(&token, &format!("/api/v1/administrations/{m}/workflows"), &json!({
            "code": "WF-CV", "name": "CV onderhoud", "steps": [{"name": "Inspectie", "form_code": "F-CV"}], "work_type_codes": ["ONDERHOUD"]})).await;
        assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
        create(&app, &token, m, "forms", json!({"code": "F-CV", "name": "Checklist CV", "fields": [{"key": "druk", "label": "Waterdruk (bar)", "type": "number", "required": true}]})).await;
        create(&app, &token, m, "work-types", json!({"code": "ONDERHOUD", "name": "Onderhoud"})).await;
        let workflow = create(&app, &token, m, "workflows", json!({
            "code": "WF-CV", "name": "CV onderhoud", "steps": [{"name": "Inspectie", "form_code": "F-CV"}], "work_type_codes": ["ONDERHOUD"]})).await;
        assert_eq!(workflow["steps"][0]["form_code"], "F-CV");
        let forms = app.get(&token, &format!("/api/v1/administrations/{m}/forms?code=F-CV")).await;
        let form_id = forms.body["items"][0]["id"].as_i64().unwrap();
        let blocked = app.delete(&token, &format!("/api/v1/administrations/{m}/forms/{form_id}")).await;
        assert_eq!(blocked.status, StatusCode::CONFLICT);
        assert_eq!(blocked.code(), "still_referenced");
        let rename = app.patch(&token, &format!("/api/v1/administrations/{m}/forms/{form_id}"), &json!({"code": "F-NEW"})).await;
        assert_eq!(rename.status, StatusCode::UNPROCESSABLE_ENTITY, "settings codes are stable");
        app
    })
    .await;
}
