//! Choosing the administration: `Companies`, the `x-company` header, business-object rights and scopes.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

#[tokio::test]
async fn companies_lists_the_administrations_a_user_may_reach() {
    let sandbox = TestSandbox::start().await;
    let demo = sandbox.connect().await;
    let companies: Value = sandbox
        .get_api("/api/v3/Companies", &demo.access, None)
        .await
        .json()
        .await
        .expect("json");
    let companies = companies.as_array().expect("an array");
    assert_eq!(companies.len(), 3);
    let ids: Vec<&str> = companies
        .iter()
        .map(|company| company["Id"].as_str().expect("Id"))
        .collect();
    assert_eq!(ids, [VDB_2025_ID, VDB_2026_ID, KSO_2026_ID]);
    for company in companies {
        let keys: Vec<&String> = company.as_object().expect("object").keys().collect();
        assert_eq!(keys.len(), 3, "exactly Id, Code, Description: {company}");
        assert!(company["Code"].is_string() && company["Description"].is_string());
    }
    assert!(companies[0]["Description"].as_str().expect("text").contains("2025"));
    assert!(
        companies[2]["Description"]
            .as_str()
            .expect("text")
            .contains("Klimaatservice Oost")
    );

    let reader = sandbox.connect_as(READER_USER, "readaccountviewdata").await;
    let companies: Value = sandbox
        .get_api("/api/v3/Companies", &reader.access, None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        companies,
        json!([{"Id": VDB_2026_ID, "Code": "VDB26", "Description": "Installatiebedrijf Van den Berg B.V. 2026"}])
    );
}

#[tokio::test]
async fn a_missing_or_foreign_company_is_403() {
    let sandbox = TestSandbox::start().await;
    let reader = sandbox.connect_as(READER_USER, "readaccountviewdata").await;
    let parameters = [("BusinessObject", "AR1")];

    let missing = sandbox
        .http
        .get(sandbox.url("/api/v3/AccountViewData"))
        .bearer_auth(&reader.access)
        .query(&parameters)
        .send()
        .await
        .expect("request");
    let (status, body) = error_of(missing).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(assert_av_error(&body), vec![1101]);

    for company in [KSO_2026_ID, VDB_2025_ID, "00000000-0000-0000-0000-000000000000"] {
        let (status, body) = error_of(sandbox.read(&reader.access, company, &parameters).await).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{company}");
        assert_eq!(assert_av_error(&body), vec![1102]);
    }
    // The id is matched without regard to case.
    let upper = sandbox
        .read(&reader.access, &VDB_2026_ID.to_uppercase(), &parameters)
        .await;
    assert_eq!(upper.status(), StatusCode::OK);
}

fn right<'a>(objects: &'a Value, code: &str) -> Option<&'a Value> {
    objects
        .as_array()
        .expect("array")
        .iter()
        .find(|object| object["Code"] == code)
}

#[tokio::test]
async fn business_objects_show_rights_per_user() {
    let sandbox = TestSandbox::start().await;
    let demo = sandbox.connect().await;
    let objects: Value = sandbox
        .get_api(
            "/api/v3/AccountViewSystemBusinessObjects",
            &demo.access,
            Some(VDB_2026_ID),
        )
        .await
        .json()
        .await
        .expect("json");
    for code in ["AR1", "AK1", "AG1", "VA1", "GL1", "DJ1", "CC1", "DJ2", "DJ2P", "GJ1"] {
        let entry = right(&objects, code).unwrap_or_else(|| panic!("{code} listed in {objects}"));
        let keys: Vec<&String> = entry.as_object().expect("object").keys().collect();
        assert_eq!(keys.len(), 5, "Code, Description and three flags: {entry}");
    }
    assert_eq!(right(&objects, "DJ2").expect("DJ2")["InsertAllowed"], true);
    assert_eq!(right(&objects, "AR1").expect("AR1")["InsertAllowed"], true);
    assert_eq!(right(&objects, "AK1").expect("AK1")["InsertAllowed"], false);

    let reader = sandbox.connect_as(READER_USER, "readaccountviewdata").await;
    let objects: Value = sandbox
        .get_api(
            "/api/v3/AccountViewSystemBusinessObjects",
            &reader.access,
            Some(VDB_2026_ID),
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(right(&objects, "DJ2").expect("DJ2")["InsertAllowed"], false);
    assert_eq!(right(&objects, "AR1").expect("AR1")["InsertAllowed"], false);

    let without_company = sandbox
        .get_api("/api/v3/AccountViewSystemBusinessObjects", &reader.access, None)
        .await;
    assert_eq!(without_company.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn rights_set_through_the_control_surface_take_effect() {
    let sandbox = TestSandbox::start().await;
    let demo = sandbox.connect().await;
    let changed = sandbox
        .control_put(
            &format!("/_sandbox/users/{DEMO_USER}/rights"),
            json!([
                {"business_object": "DJ2", "insert": false},
                {"business_object": "AR1", "read": false, "insert": false, "update": false}
            ]),
        )
        .await;
    assert_eq!(changed["rights"]["DJ2"]["insert"], false);

    let objects: Value = sandbox
        .get_api(
            "/api/v3/AccountViewSystemBusinessObjects",
            &demo.access,
            Some(VDB_2026_ID),
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        right(&objects, "DJ2").expect("DJ2 is still visible")["InsertAllowed"],
        false
    );
    assert!(right(&objects, "AR1").is_none(), "no right at all hides AR1: {objects}");

    let (status, body) = error_of(
        sandbox
            .post_data(&demo.access, VDB_2026_ID, &simple_invoice("R-1", "10001"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(assert_av_error(&body), vec![1201]);
    let (status, body) = error_of(
        sandbox
            .read(&demo.access, VDB_2026_ID, &[("BusinessObject", "AR1")])
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(assert_av_error(&body), vec![1201]);
    assert_eq!(
        sandbox
            .read(&demo.access, VDB_2026_ID, &[("BusinessObject", "AK1")])
            .await
            .status(),
        StatusCode::OK
    );

    sandbox
        .control_put(
            &format!("/_sandbox/users/{DEMO_USER}/rights"),
            json!({"business_object": "DJ2", "insert": true}),
        )
        .await;
    let posted = sandbox
        .post_data(&demo.access, VDB_2026_ID, &simple_invoice("R-2", "10001"))
        .await;
    assert_eq!(posted.status(), StatusCode::OK);

    let unknown_user = sandbox
        .http
        .put(sandbox.url("/_sandbox/users/nobody@example.nl/rights"))
        .json(&json!({"business_object": "DJ2", "insert": true}))
        .send()
        .await
        .expect("request");
    assert_eq!(unknown_user.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn scopes_limit_reading_and_writing() {
    let sandbox = TestSandbox::start().await;
    let read_only = sandbox.connect_as(DEMO_USER, "readaccountviewdata").await;
    let response = sandbox
        .post_data(&read_only.access, VDB_2026_ID, &simple_invoice("S-1", "10001"))
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .expect("ascii")
            .contains("insufficient_scope")
    );
    let body: Value = response.json().await.expect("json");
    assert_eq!(assert_av_error(&body), vec![1202]);

    let write_only = sandbox.connect_as(DEMO_USER, "updateaccountviewdata").await;
    let (status, body) = error_of(
        sandbox
            .read(&write_only.access, VDB_2026_ID, &[("BusinessObject", "AR1")])
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(assert_av_error(&body), vec![1202]);
    assert_eq!(
        sandbox
            .post_data(&write_only.access, VDB_2026_ID, &simple_invoice("S-2", "10001"))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_read_only_user_cannot_post() {
    let sandbox = TestSandbox::start().await;
    let reader = sandbox.connect_as(READER_USER, BOTH_SCOPES).await;
    let (status, body) = error_of(
        sandbox
            .post_data(&reader.access, VDB_2026_ID, &debtor("99001", "Nieuwe klant"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(assert_av_error(&body), vec![1201]);
}

#[tokio::test]
async fn unknown_api_routes_and_methods_answer_in_accountview_shape() {
    let sandbox = TestSandbox::start().await;
    let (status, body) = error_of(
        sandbox
            .http
            .get(sandbox.url("/api/v3/Nonsense"))
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_av_error(&body);
    let (status, body) = error_of(
        sandbox
            .http
            .delete(sandbox.url("/api/v3/AccountViewData"))
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_av_error(&body);
    let start_page = sandbox.http.get(sandbox.url("/")).send().await.expect("request");
    assert_eq!(start_page.status(), StatusCode::OK);
    assert!(start_page.text().await.expect("page").contains(DEMO_USER));
}
