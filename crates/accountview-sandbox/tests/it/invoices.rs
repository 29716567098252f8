//! `POST AccountViewData` for sales invoices (`DJ2`): every validation rule, positive and negative, the
//! duplicate-number 409, the error delivered with HTTP 200, and what a booked invoice looks like read back.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

const HEADER_VALUES: &str = "/TableData/Data/Rows/0/Values";
const LINE_VALUES: &str = "/TableData/DetailData/0/Rows/0/Values";
const HEADER_FIELDS: &str = "/Table/Definition/Fields";
const LINE_FIELDS: &str = "/Table/DetailDefinitions/0/Fields";

fn at<'a>(body: &'a mut Value, pointer: &str) -> &'a mut Value {
    body.pointer_mut(pointer).unwrap_or_else(|| panic!("no {pointer}"))
}

fn with(change: impl FnOnce(&mut Value)) -> Value {
    let mut body = simple_invoice("T-2026-0001", "10001");
    change(&mut body);
    body
}

/// Reads an invoice back by number: (pages, lines).
async fn read_back(
    sandbox: &TestSandbox,
    token: &str,
    company: &str,
    invoice_number: &str,
) -> (Vec<Value>, Vec<Value>) {
    let body = sandbox
        .read_ok(
            token,
            company,
            &[
                ("BusinessObject", "DJ2P"),
                ("FilterControlSource1", "INV_NR"),
                ("FilterOperator1", "Equal"),
                ("FilterValueType1", "C"),
                ("FilterValue1", invoice_number),
            ],
        )
        .await;
    (
        body["DJ_PAGE"].as_array().expect("pages").clone(),
        body["DJ_LINE"].as_array().expect("lines").clone(),
    )
}

#[tokio::test]
async fn a_valid_invoice_is_booked_and_reads_back() {
    let sandbox = TestSandbox::start().await;
    let tokens = sandbox.connect().await;
    let body = invoice(
        "KP-2026-0001",
        "10003",
        "2026-03-14",
        &[
            Line::new("8000", 1250.0, "2", 262.5),
            Line::new("8010", 480.0, "1", 43.2),
            Line::new("8060", 3400.0, "0", 0.0),
        ],
    );
    let response = sandbox.post_data(&tokens.access, VDB_2026_ID, &body).await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.expect("json");
    assert_eq!(answer["BusinessObject"], "DJ2");
    assert_eq!(answer["Results"][0]["RowId"], "1");
    assert_eq!(answer["Results"][0]["Action"], "Inserted");
    assert_eq!(answer["Results"][0]["Key"]["DJ_CODE"], "VRK");
    // 360 seeded pages in VRK; the next page number is given out as text.
    assert_eq!(answer["Results"][0]["Key"]["PAGE_NR"], "361");

    let (pages, lines) = read_back(&sandbox, &tokens.access, VDB_2026_ID, "KP-2026-0001").await;
    assert_eq!(pages.len(), 1);
    assert_eq!(pages[0]["SUB_NR"], "10003");
    assert_eq!(pages[0]["TRN_DATE"], "2026-03-14");
    assert_eq!(pages[0]["CUR_CODE"], "EUR");
    assert_eq!(pages[0]["PAGE_NR"], 361);
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[1]["VAT_AMT"], 43.2);
    assert_eq!(lines[0]["AMOUNT"], 1250);
    assert_eq!(lines[2]["COST_CODE"], "200");

    // The debtor's open item: 1250 + 262.50 + 480 + 43.20 + 3400.
    let transactions = sandbox
        .read_ok(
            &tokens.access,
            VDB_2026_ID,
            &[
                ("BusinessObject", "GJ1"),
                ("FilterControlSource1", "INV_NR"),
                ("FilterOperator1", "Equal"),
                ("FilterValue1", "KP-2026-0001"),
            ],
        )
        .await;
    assert_eq!(transactions["TRANSACT"][0]["AMOUNT"], 5435.7);
    assert_eq!(transactions["TRANSACT"][0]["SUB_NR"], "10003");

    let posted = sandbox
        .control_get("/_sandbox/posted?business_object=DJ2&committed=true")
        .await;
    assert_eq!(posted.as_array().expect("list").len(), 1);
    assert_eq!(posted[0]["request"], body);
    assert_eq!(posted[0]["user"], DEMO_USER);
    assert_eq!(posted[0]["client_id"], CLIENT_ID);
    assert_eq!(posted[0]["company_id"], VDB_2026_ID);
}

#[tokio::test]
async fn vat_amounts_that_fit_their_code_are_accepted() {
    let sandbox = TestSandbox::start().await;
    let tokens = sandbox.connect().await;
    let (first, _, _) = special_debtors(&sandbox, &tokens.access).await;
    let long_description: String = "é".repeat(40);
    let mut described = Line::new("8000", 10.0, "2", 2.1);
    described.description = long_description.clone();
    let accepted = [
        // 21% of 10.05 is 2.1105 → 2.11; a cent off is accepted as invoice-level rounding.
        ("V-1", vec![Line::new("8000", 10.05, "2", 2.10)]),
        ("V-2", vec![Line::new("8000", 10.05, "2", 2.11)]),
        // Verlegd carries no VAT.
        ("V-3", vec![Line::new("8020", 5000.0, "3", 0.0)]),
        // A credit note: negative amounts, negative VAT.
        ("V-4", vec![Line::new("8000", -200.0, "2", -42.0)]),
        (
            "V-5",
            vec![Line::new("8060", 2500.0, "0", 0.0), Line::new("8010", 0.5, "1", 0.05)],
        ),
        // Forty characters, counted as characters, not bytes.
        ("V-6", vec![described]),
    ];
    for (number, lines) in accepted {
        let response = sandbox
            .post_data(
                &tokens.access,
                VDB_2026_ID,
                &invoice(number, &first, "2026-06-30", &lines),
            )
            .await;
        let status = response.status();
        assert_eq!(
            status,
            StatusCode::OK,
            "{number}: {}",
            response.text().await.unwrap_or_default()
        );
    }
    let (_, lines) = read_back(&sandbox, &tokens.access, VDB_2026_ID, "V-6").await;
    assert_eq!(lines[0]["TRN_DESC"], long_description);
}

#[tokio::test]
async fn vat_is_calculated_when_the_client_leaves_it_out() {
    let sandbox = TestSandbox::start().await;
    let tokens = sandbox.connect().await;
    let body = json!({
        "BusinessObject": "DJ2",
        "Table": {
            "Definition": {"Name": "DJ_PAGE", "Fields": [
                {"Name": "DJ_CODE", "FieldType": "C"}, {"Name": "SUB_NR", "FieldType": "C"},
                {"Name": "INV_NR", "FieldType": "C"}, {"Name": "TRN_DATE", "FieldType": "D"}
            ]},
            "DetailDefinitions": [{"Name": "DJ_LINE", "Fields": [
                {"Name": "ACCT_NR", "FieldType": "C"}, {"Name": "AMOUNT", "FieldType": "N"}, {"Name": "VAT_CODE", "FieldType": "C"}
            ]}]
        },
        "TableData": {
            "Data": {"Rows": [{"RowId": 1, "Values": ["VRK", "10001", "CALC-1", "2026-02-02"]}]},
            "DetailData": [{"Rows": [{"RowId": 1, "HeaderId": 1, "Values": ["8000", 99.99, "2"]}]}]
        }
    });
    let response = sandbox.post_data(&tokens.access, VDB_2026_ID, &body).await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.expect("json");
    assert_eq!(
        answer["Results"][0]["RowId"], "1",
        "numeric row ids are answered as text"
    );
    let (_, lines) = read_back(&sandbox, &tokens.access, VDB_2026_ID, "CALC-1").await;
    assert_eq!(lines[0]["VAT_AMT"], 21.0, "21% of 99.99 = 20.9979 → 21.00");
    assert_eq!(lines[0]["BASE_AMT"], 99.99);
}

#[tokio::test]
async fn property_names_are_case_insensitive_and_several_invoices_go_in_one_request() {
    let sandbox = TestSandbox::start().await;
    let tokens = sandbox.connect().await;
    let mut body = invoice("MULTI-1", "10001", "2026-05-05", &[Line::new("8000", 50.0, "2", 10.5)]);
    at(&mut body, "/TableData/Data/Rows")
        .as_array_mut()
        .expect("rows")
        .push(json!({
            "RowId": "2", "Values": ["VRK", "10002", "MULTI-2", "2026-05-06", "Tweede", "EUR"]
        }));
    at(&mut body, "/TableData/DetailData/0/Rows")
        .as_array_mut()
        .expect("rows")
        .push(json!({
            "RowId": "2", "HeaderId": "2", "Values": ["8030", 120.0, 120.0, "2", 25.2, "Onderhoudscontract", "200"]
        }));
    let text = serde_json::to_string(&body)
        .expect("json")
        .replace("\"BusinessObject\"", "\"businessObject\"")
        .replace("\"Values\"", "\"VALUES\"");
    let response = sandbox
        .http
        .post(sandbox.url("/api/v3/AccountViewData"))
        .bearer_auth(&tokens.access)
        .header("x-company", VDB_2026_ID)
        .header("content-type", "application/json")
        .body(text)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.expect("json");
    let results = answer["Results"].as_array().expect("results");
    assert_eq!(results.len(), 2);
    assert_ne!(results[0]["Key"]["PAGE_NR"], results[1]["Key"]["PAGE_NR"]);
    assert_eq!(
        read_back(&sandbox, &tokens.access, VDB_2026_ID, "MULTI-2")
            .await
            .1
            .len(),
        1
    );
}

#[tokio::test]
async fn every_validation_rule_rejects_with_its_number_and_books_nothing() {
    let sandbox = TestSandbox::start().await;
    let tokens = sandbox.connect().await;
    let (_, blocked, _) = special_debtors(&sandbox, &tokens.access).await;
    let blocked = blocked.as_str();
    let add_header_field = |name: &'static str, letter: &'static str, value: Value| {
        move |body: &mut Value| {
            at(body, HEADER_FIELDS)
                .as_array_mut()
                .expect("fields")
                .push(json!({"Name": name, "FieldType": letter}));
            at(body, HEADER_VALUES).as_array_mut().expect("values").push(value);
        }
    };
    let set = |pointer: &'static str, value: Value| move |body: &mut Value| *at(body, pointer) = value;

    let cases: Vec<(&str, Value, u64)> = vec![
        // Definitions: known fields, matching types, writable, no duplicates, mandatory fields present.
        ("unknown field", with(add_header_field("FOO", "C", json!("x"))), 2102),
        (
            "wrong type letter",
            with(set("/Table/Definition/Fields/2/FieldType", json!("N"))),
            2102,
        ),
        (
            "unknown type letter",
            with(set("/Table/Definition/Fields/2/FieldType", json!("X"))),
            2102,
        ),
        (
            "read-only field",
            with(add_header_field("CNG_DATE", "T", json!("2026-01-01T00:00:00"))),
            2102,
        ),
        (
            "duplicate field",
            with(add_header_field("DJ_CODE", "C", json!("VRK"))),
            2102,
        ),
        (
            "mandatory field missing",
            with(|body| {
                at(body, HEADER_FIELDS).as_array_mut().expect("fields").remove(2);
                at(body, HEADER_VALUES).as_array_mut().expect("values").remove(2);
            }),
            2106,
        ),
        (
            "mandatory line field missing",
            with(|body| {
                at(body, LINE_FIELDS).as_array_mut().expect("fields").remove(0);
                at(body, LINE_VALUES).as_array_mut().expect("values").remove(0);
            }),
            2106,
        ),
        (
            "wrong header table",
            with(set("/Table/Definition/Name", json!("CONTACT"))),
            2102,
        ),
        (
            "wrong detail table",
            with(set("/Table/DetailDefinitions/0/Name", json!("DJ_LINES"))),
            2102,
        ),
        (
            "no detail definition",
            with(|body| *at(body, "/Table/DetailDefinitions") = json!([])),
            2102,
        ),
        // Values: types, lengths, decimals, mandatory contents.
        (
            "empty debtor",
            with(set("/TableData/Data/Rows/0/Values/1", json!(""))),
            2106,
        ),
        (
            "null invoice number",
            with(set("/TableData/Data/Rows/0/Values/2", Value::Null)),
            2106,
        ),
        (
            "INV_NR 13 long",
            with(set("/TableData/Data/Rows/0/Values/2", json!("2026-00000001"))),
            2105,
        ),
        (
            "SUB_NR 11 long",
            with(set("/TableData/Data/Rows/0/Values/1", json!("10001000001"))),
            2105,
        ),
        (
            "DJ_CODE 4 long",
            with(set("/TableData/Data/Rows/0/Values/0", json!("VRKX"))),
            2105,
        ),
        (
            "HDR_DESC 41 long",
            with(set("/TableData/Data/Rows/0/Values/4", json!("x".repeat(41)))),
            2105,
        ),
        (
            "CUR_CODE 4 long",
            with(set("/TableData/Data/Rows/0/Values/5", json!("EURO"))),
            2105,
        ),
        (
            "ACCT_NR 11 long",
            with(set("/TableData/DetailData/0/Rows/0/Values/0", json!("80000000000"))),
            2105,
        ),
        (
            "VAT_CODE 3 long",
            with(set("/TableData/DetailData/0/Rows/0/Values/3", json!("210"))),
            2105,
        ),
        (
            "TRN_DESC 41 long",
            with(set("/TableData/DetailData/0/Rows/0/Values/5", json!("é".repeat(41)))),
            2105,
        ),
        (
            "COST_CODE 11 long",
            with(set("/TableData/DetailData/0/Rows/0/Values/6", json!("12345678901"))),
            2105,
        ),
        (
            "amount as text",
            with(set("/TableData/DetailData/0/Rows/0/Values/1", json!("100.00"))),
            2104,
        ),
        (
            "three decimals",
            with(set("/TableData/DetailData/0/Rows/0/Values/1", json!(100.005))),
            2105,
        ),
        (
            "amount too large",
            with(set("/TableData/DetailData/0/Rows/0/Values/1", json!(1e13))),
            2105,
        ),
        (
            "text as number",
            with(set("/TableData/Data/Rows/0/Values/1", json!(10001))),
            2104,
        ),
        (
            "Dutch date order",
            with(set("/TableData/Data/Rows/0/Values/3", json!("14-03-2026"))),
            2104,
        ),
        (
            "impossible date",
            with(set("/TableData/Data/Rows/0/Values/3", json!("2026-02-30"))),
            2104,
        ),
        (
            "date as number",
            with(set("/TableData/Data/Rows/0/Values/3", json!(20260314))),
            2104,
        ),
        // Rows: counts, ids, links.
        (
            "too few values",
            with(|body| {
                at(body, HEADER_VALUES).as_array_mut().expect("values").pop();
            }),
            2103,
        ),
        (
            "unknown header id",
            with(set("/TableData/DetailData/0/Rows/0/HeaderId", json!("9"))),
            2103,
        ),
        (
            "line without header id",
            with(|body| {
                at(body, "/TableData/DetailData/0/Rows/0")
                    .as_object_mut()
                    .expect("row")
                    .remove("HeaderId");
            }),
            2103,
        ),
        (
            "header with header id",
            with(|body| {
                at(body, "/TableData/Data/Rows/0")
                    .as_object_mut()
                    .expect("row")
                    .insert("HeaderId".to_owned(), json!("1"));
            }),
            2103,
        ),
        (
            "invoice without lines",
            with(|body| *at(body, "/TableData/DetailData/0/Rows") = json!([])),
            2103,
        ),
        (
            "no rows",
            with(|body| *at(body, "/TableData/Data/Rows") = json!([])),
            2103,
        ),
        (
            "no detail data",
            with(|body| *at(body, "/TableData/DetailData") = json!([])),
            2103,
        ),
        (
            "duplicate row id",
            with(|body| {
                let row = at(body, "/TableData/Data/Rows/0").clone();
                at(body, "/TableData/Data/Rows").as_array_mut().expect("rows").push(row);
            }),
            2103,
        ),
        // References: they exist and are not blocked; the journal is a sales journal; the currency is EUR.
        (
            "unknown debtor",
            with(set("/TableData/Data/Rows/0/Values/1", json!("99999"))),
            2107,
        ),
        (
            "blocked debtor",
            with(set("/TableData/Data/Rows/0/Values/1", json!(blocked))),
            2108,
        ),
        (
            "unknown ledger account",
            with(set("/TableData/DetailData/0/Rows/0/Values/0", json!("8888"))),
            2107,
        ),
        (
            "blocked ledger account",
            with(set("/TableData/DetailData/0/Rows/0/Values/0", json!("8990"))),
            2108,
        ),
        (
            "unknown VAT code",
            with(set("/TableData/DetailData/0/Rows/0/Values/3", json!("9"))),
            2107,
        ),
        (
            "unknown cost centre",
            with(set("/TableData/DetailData/0/Rows/0/Values/6", json!("777"))),
            2107,
        ),
        (
            "blocked cost centre",
            with(set("/TableData/DetailData/0/Rows/0/Values/6", json!("950"))),
            2108,
        ),
        (
            "unknown journal",
            with(set("/TableData/Data/Rows/0/Values/0", json!("XYZ"))),
            2107,
        ),
        (
            "blocked journal",
            with(set("/TableData/Data/Rows/0/Values/0", json!("VR2"))),
            2108,
        ),
        (
            "purchase journal",
            with(set("/TableData/Data/Rows/0/Values/0", json!("INK"))),
            2110,
        ),
        (
            "foreign currency",
            with(set("/TableData/Data/Rows/0/Values/5", json!("USD"))),
            2110,
        ),
        (
            "invoice total beyond 12 digits",
            invoice(
                "T-BIG",
                "10001",
                "2026-03-14",
                &[
                    Line::new("8060", 900_000_000_000.0, "0", 0.0),
                    Line::new("8060", 900_000_000_000.0, "0", 0.0),
                ],
            ),
            2105,
        ),
        // VAT arithmetic.
        (
            "VAT does not fit 21%",
            with(set("/TableData/DetailData/0/Rows/0/Values/4", json!(20.0))),
            2109,
        ),
        (
            "VAT does not fit 9%",
            with(set("/TableData/DetailData/0/Rows/0/Values/3", json!("1"))),
            2109,
        ),
        (
            "VAT on verlegd",
            with(set("/TableData/DetailData/0/Rows/0/Values/3", json!("3"))),
            2109,
        ),
        (
            "VAT without a code",
            with(set("/TableData/DetailData/0/Rows/0/Values/3", json!(""))),
            2109,
        ),
        (
            "VAT with the wrong sign",
            with(set("/TableData/DetailData/0/Rows/0/Values/4", json!(-21.0))),
            2109,
        ),
        // The body itself.
        (
            "unknown property",
            with(|body| body["BookDate"] = json!("2026-03-14")),
            2101,
        ),
        (
            "rows not an array",
            with(|body| *at(body, "/TableData/Data/Rows") = json!({})),
            2101,
        ),
        (
            "unknown business object",
            with(|body| body["BusinessObject"] = json!("XX1")),
            2001,
        ),
        (
            "read-only business object",
            with(|body| body["BusinessObject"] = json!("AK1")),
            2002,
        ),
    ];
    let pages_before = sandbox.control_get("/_sandbox").await["administrations"][1]["journal_pages"].clone();
    for (name, body, expected) in cases {
        let (status, answer) = error_of(sandbox.post_data(&tokens.access, VDB_2026_ID, &body).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {answer}");
        let numbers = assert_av_error(&answer);
        assert!(numbers.contains(&expected), "{name}: expected {expected} in {answer}");
    }
    let malformed = sandbox
        .http
        .post(sandbox.url("/api/v3/AccountViewData"))
        .bearer_auth(&tokens.access)
        .header("x-company", VDB_2026_ID)
        .header("content-type", "application/json")
        .body("{\"BusinessObject\": \"DJ2\", ")
        .send()
        .await
        .expect("request");
    let (status, answer) = error_of(malformed).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(assert_av_error(&answer), vec![2101]);

    let pages_after = sandbox.control_get("/_sandbox").await["administrations"][1]["journal_pages"].clone();
    assert_eq!(pages_before, pages_after, "nothing was booked");
    assert!(
        sandbox
            .control_get("/_sandbox/posted?committed=true")
            .await
            .as_array()
            .expect("list")
            .is_empty()
    );
    assert!(
        !sandbox
            .control_get("/_sandbox/posted?committed=false")
            .await
            .as_array()
            .expect("list")
            .is_empty()
    );
}

#[tokio::test]
async fn all_problems_of_a_request_come_back_in_one_answer() {
    let sandbox = TestSandbox::start().await;
    let tokens = sandbox.connect().await;
    let body = invoice("ALL-1", "99999", "2026-01-10", &[Line::new("8888", 100.0, "2", 1.0)]);
    let (status, answer) = error_of(sandbox.post_data(&tokens.access, VDB_2026_ID, &body).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let numbers = assert_av_error(&answer);
    assert!(numbers.contains(&2107) && numbers.contains(&2109), "{answer}");
    let message = answer["ErrorMessage"].as_str().expect("message");
    assert!(message.contains("99999") && message.contains("8888"), "{message}");
}

#[tokio::test]
async fn a_duplicate_invoice_number_is_409() {
    let sandbox = TestSandbox::start().await;
    let tokens = sandbox.connect().await;
    let first = sandbox
        .post_data(&tokens.access, VDB_2026_ID, &simple_invoice("DUP-1", "10001"))
        .await;
    assert_eq!(first.status(), StatusCode::OK);

    // Same number again, even with other contents and in other case.
    for body in [
        simple_invoice("DUP-1", "10002"),
        simple_invoice("dup-1", "10001"),
        simple_invoice("2026-00001", "10001"),
    ] {
        let (status, answer) = error_of(sandbox.post_data(&tokens.access, VDB_2026_ID, &body).await).await;
        assert_eq!(status, StatusCode::CONFLICT, "{answer}");
        assert_eq!(assert_av_error(&answer), vec![2201]);
        assert_eq!(answer["ErrorMessage"], "Document-/factuurnummer is al in gebruik");
    }

    // Twice in one request.
    let mut twice = simple_invoice("DUP-2", "10001");
    let row = twice.pointer("/TableData/Data/Rows/0").expect("row").clone();
    let mut second_row = row.clone();
    second_row["RowId"] = json!("2");
    at(&mut twice, "/TableData/Data/Rows")
        .as_array_mut()
        .expect("rows")
        .push(second_row);
    let line = twice.pointer("/TableData/DetailData/0/Rows/0").expect("line").clone();
    let mut second_line = line.clone();
    second_line["RowId"] = json!("2");
    second_line["HeaderId"] = json!("2");
    at(&mut twice, "/TableData/DetailData/0/Rows")
        .as_array_mut()
        .expect("rows")
        .push(second_line);
    let (status, answer) = error_of(sandbox.post_data(&tokens.access, VDB_2026_ID, &twice).await).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert!(
        read_back(&sandbox, &tokens.access, VDB_2026_ID, "DUP-2")
            .await
            .0
            .is_empty(),
        "all or nothing"
    );

    // Another fiscal year is another administration: the number is free there.
    let other_year = invoice("DUP-1", "10001", "2025-11-11", &[Line::new("8000", 100.0, "2", 21.0)]);
    assert_eq!(
        sandbox
            .post_data(&tokens.access, VDB_2025_ID, &other_year)
            .await
            .status(),
        StatusCode::OK
    );

    // A page number already in use is a conflict too.
    let mut page_taken = simple_invoice("DUP-3", "10001");
    at(&mut page_taken, HEADER_FIELDS)
        .as_array_mut()
        .expect("fields")
        .push(json!({"Name": "PAGE_NR", "FieldType": "N"}));
    at(&mut page_taken, HEADER_VALUES)
        .as_array_mut()
        .expect("values")
        .push(json!(12));
    let (status, answer) = error_of(sandbox.post_data(&tokens.access, VDB_2026_ID, &page_taken).await).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(assert_av_error(&answer), vec![2202]);
    *at(&mut page_taken, "/TableData/Data/Rows/0/Values/6") = json!(9000);
    let answer: Value = sandbox
        .post_data(&tokens.access, VDB_2026_ID, &page_taken)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(answer["Results"][0]["Key"]["PAGE_NR"], "9000");
}

#[tokio::test]
async fn a_date_outside_the_fiscal_year_is_an_error_delivered_with_http_200() {
    let sandbox = TestSandbox::start().await;
    let tokens = sandbox.connect().await;
    let body = invoice("YEAR-1", "10001", "2025-12-31", &[Line::new("8000", 100.0, "2", 21.0)]);
    let response = sandbox.post_data(&tokens.access, VDB_2026_ID, &body).await;
    assert_eq!(response.status(), StatusCode::OK, "errors can come with HTTP 200");
    let answer: Value = response.json().await.expect("json");
    assert_eq!(assert_av_error(&answer), vec![2301]);
    assert!(answer.get("Results").is_none());
    assert!(
        read_back(&sandbox, &tokens.access, VDB_2026_ID, "YEAR-1")
            .await
            .0
            .is_empty()
    );
    let posted = sandbox.control_get("/_sandbox/posted").await;
    assert_eq!(posted[0]["committed"], false);
    assert_eq!(posted[0]["status"], 200);
    assert_eq!(posted[0]["answer"]["ErrorNumbers"], json!([2301]));
}
