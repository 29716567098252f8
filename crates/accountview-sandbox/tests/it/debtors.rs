//! `POST AccountViewData` for debtors (`AR1`): creating one, the rules a new debtor must follow, and invoicing
//! it right away.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

#[tokio::test]
async fn a_new_debtor_is_created_and_can_be_invoiced() {
    let sandbox = TestSandbox::start().await;
    let tokens = sandbox.connect().await;
    let response = sandbox
        .post_data(&tokens.access, VDB_2026_ID, &debtor("20001", "Brasserie Één & Zo"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.expect("json");
    assert_eq!(
        answer,
        json!({"BusinessObject": "AR1", "Results": [{"RowId": "1", "Action": "Inserted", "Key": {"SUB_NR": "20001"}}]})
    );

    let read = sandbox
        .read_ok(
            &tokens.access,
            VDB_2026_ID,
            &[
                ("BusinessObject", "AR1"),
                ("FilterControlSource1", "SUB_NR"),
                ("FilterOperator1", "Equal"),
                ("FilterValue1", "20001"),
            ],
        )
        .await;
    let row = &read["CONTACT"][0];
    assert_eq!(row["ACCT_NAME"], "Brasserie Één & Zo");
    assert_eq!(row["CITY"], "Utrecht");
    assert_eq!(row["REC_BLK"], false);
    assert_eq!(row["VAT_NR"], "", "fields left out are empty");
    let clock = sandbox.control_get("/_sandbox/clock").await;
    assert_eq!(
        row["CNG_DATE"].as_str().expect("date")[..10],
        clock["local"].as_str().expect("local")[..10]
    );

    let invoiced = sandbox
        .post_data(&tokens.access, VDB_2026_ID, &simple_invoice("NEW-DEBTOR-1", "20001"))
        .await;
    assert_eq!(invoiced.status(), StatusCode::OK);

    // Each administration has its own debtors.
    let other_year = sandbox
        .read_ok(
            &tokens.access,
            VDB_2025_ID,
            &[
                ("BusinessObject", "AR1"),
                ("FilterControlSource1", "SUB_NR"),
                ("FilterOperator1", "Equal"),
                ("FilterValue1", "20001"),
            ],
        )
        .await;
    assert_eq!(other_year["CONTACT"], json!([]));
}

#[tokio::test]
async fn debtor_rules_reject_with_their_numbers() {
    let sandbox = TestSandbox::start().await;
    let tokens = sandbox.connect().await;
    let with = |change: &dyn Fn(&mut Value)| {
        let mut body = debtor("20002", "Nieuwe Klant B.V.");
        change(&mut body);
        body
    };
    let set_value = |index: usize, value: Value| {
        move |body: &mut Value| {
            *body
                .pointer_mut(&format!("/TableData/Data/Rows/0/Values/{index}"))
                .expect("value") = value.clone();
        }
    };
    let cases: Vec<(&str, Value, StatusCode, u64)> = vec![
        (
            "existing number",
            with(&set_value(0, json!("10001"))),
            StatusCode::CONFLICT,
            2202,
        ),
        (
            "empty name",
            with(&set_value(1, json!(""))),
            StatusCode::BAD_REQUEST,
            2106,
        ),
        (
            "name 51 long",
            with(&set_value(1, json!("n".repeat(51)))),
            StatusCode::BAD_REQUEST,
            2105,
        ),
        (
            "number 11 long",
            with(&set_value(0, json!("20000000001"))),
            StatusCode::BAD_REQUEST,
            2105,
        ),
        (
            "number with spaces",
            with(&set_value(0, json!(" 20002"))),
            StatusCode::BAD_REQUEST,
            2110,
        ),
        (
            "unknown VAT code",
            with(&set_value(7, json!("7"))),
            StatusCode::BAD_REQUEST,
            2107,
        ),
        (
            "country not ISO",
            with(&set_value(5, json!("nl"))),
            StatusCode::BAD_REQUEST,
            2110,
        ),
        (
            "not a mail address",
            with(&set_value(6, json!("info at example"))),
            StatusCode::BAD_REQUEST,
            2110,
        ),
        (
            "blocked flag as text",
            with(&set_value(8, json!("false"))),
            StatusCode::BAD_REQUEST,
            2104,
        ),
        (
            "name missing from definition",
            with(&|body: &mut Value| {
                body.pointer_mut("/Table/Definition/Fields")
                    .expect("fields")
                    .as_array_mut()
                    .expect("array")
                    .remove(1);
                body.pointer_mut("/TableData/Data/Rows/0/Values")
                    .expect("values")
                    .as_array_mut()
                    .expect("array")
                    .remove(1);
            }),
            StatusCode::BAD_REQUEST,
            2106,
        ),
        (
            "detail definitions on a debtor",
            with(&|body: &mut Value| body["Table"]["DetailDefinitions"] = json!([{"Name": "DJ_LINE", "Fields": []}])),
            StatusCode::BAD_REQUEST,
            2102,
        ),
    ];
    for (name, body, expected_status, expected_number) in cases {
        let (status, answer) = error_of(sandbox.post_data(&tokens.access, VDB_2026_ID, &body).await).await;
        assert_eq!(status, expected_status, "{name}: {answer}");
        assert!(assert_av_error(&answer).contains(&expected_number), "{name}: {answer}");
    }

    // Two new debtors with one number in one request: a conflict, and neither is stored.
    let mut twice = debtor("20003", "Eerste");
    let mut second = twice.pointer("/TableData/Data/Rows/0").expect("row").clone();
    second["RowId"] = json!("2");
    twice
        .pointer_mut("/TableData/Data/Rows")
        .expect("rows")
        .as_array_mut()
        .expect("array")
        .push(second);
    let (status, _) = error_of(sandbox.post_data(&tokens.access, VDB_2026_ID, &twice).await).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let read = sandbox
        .read_ok(
            &tokens.access,
            VDB_2026_ID,
            &[
                ("BusinessObject", "AR1"),
                ("FilterControlSource1", "SUB_NR"),
                ("FilterOperator1", "Equal"),
                ("FilterValue1", "20003"),
            ],
        )
        .await;
    assert_eq!(read["CONTACT"], json!([]));
}
