//! `GET AccountViewData`: every business object, the seeded books, filters, fields, sorting and the errors of
//! bad parameters.

use std::collections::{BTreeMap, HashSet};

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::*;

fn rows<'a>(body: &'a Value, table: &str) -> &'a Vec<Value> {
    body[table]
        .as_array()
        .unwrap_or_else(|| panic!("no {table} array in {body}"))
}

fn is_datetime(text: &str) -> bool {
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S").is_ok() && text.len() == 19
}

#[tokio::test]
async fn every_business_object_reads_with_upper_case_fields_and_cng_date() {
    let sandbox = TestSandbox::start().await;
    let tokens = sandbox.connect().await;
    let objects = [
        ("AR1", "CONTACT"),
        ("AK1", "ARTICLE"),
        ("AG1", "ART_GRP"),
        ("VA1", "VAT"),
        ("GL1", "LEDGER"),
        ("DJ1", "DAILY"),
        ("CC1", "COST"),
        ("DJ2P", "DJ_PAGE"),
        ("GJ1", "TRANSACT"),
    ];
    for (object, table) in objects {
        let body = sandbox
            .read_ok(
                &tokens.access,
                VDB_2026_ID,
                &[("BusinessObject", object), ("PageSize", "5")],
            )
            .await;
        let page = rows(&body, table);
        assert!(!page.is_empty(), "{object} has seeded rows");
        assert!(page.len() <= 5);
        assert!(
            body.get("TotalCount").is_none() && body.get("Count").is_none(),
            "no total count"
        );
        for row in page {
            for (name, _) in row.as_object().expect("object") {
                assert!(
                    name == &name.to_uppercase() || name.ends_with("_Id"),
                    "{object}: field {name} is upper case"
                );
            }
            assert!(
                is_datetime(row["CNG_DATE"].as_str().expect("CNG_DATE")),
                "{object}: {row}"
            );
        }
    }
}

#[tokio::test]
async fn the_seeded_books_look_like_a_dutch_installer() {
    let sandbox = TestSandbox::start().await;
    let tokens = sandbox.connect().await;
    let token = tokens.access.as_str();

    let vat = sandbox.read_ok(token, VDB_2026_ID, &[("BusinessObject", "VA1")]).await;
    let vat: BTreeMap<String, (f64, bool)> = rows(&vat, "VAT")
        .iter()
        .map(|row| {
            (
                row["VAT_CODE"].as_str().expect("code").to_owned(),
                (
                    row["VAT_PCT"].as_f64().expect("pct"),
                    row["IS_REVERSE"].as_bool().expect("flag"),
                ),
            )
        })
        .collect();
    assert_eq!(vat.len(), 4);
    assert_eq!(vat["0"], (0.0, false));
    assert_eq!(vat["1"], (9.0, false));
    assert_eq!(vat["2"], (21.0, false));
    assert!(vat["3"].1, "code 3 is verlegd");

    let ledger = sandbox
        .read_ok(token, VDB_2026_ID, &[("BusinessObject", "GL1"), ("PageSize", "1000")])
        .await;
    let revenue: Vec<&Value> = rows(&ledger, "LEDGER")
        .iter()
        .filter(|row| row["STAT_SELL"] == true)
        .collect();
    assert!(revenue.len() >= 5, "several revenue accounts");
    assert!(
        rows(&ledger, "LEDGER")
            .iter()
            .any(|row| row["ACCT_NR"] == "8000" && row["REC_BLK"] == false)
    );

    let journals = sandbox.read_ok(token, VDB_2026_ID, &[("BusinessObject", "DJ1")]).await;
    let sales = rows(&journals, "DAILY")
        .iter()
        .find(|row| row["DJ_CODE"] == "VRK")
        .expect("VRK");
    assert_eq!(sales["DJ_TYPE"], "V");
    assert!(sales["DJ_NAME"].as_str().expect("name").contains("Verkoop"));

    let cost_centres = sandbox.read_ok(token, VDB_2026_ID, &[("BusinessObject", "CC1")]).await;
    assert!(rows(&cost_centres, "COST").len() >= 4);

    let articles = sandbox.read_all(token, VDB_2026_ID, "AK1", "ARTICLE", "ART_CODE").await;
    assert_eq!(articles.len(), 500);
    let groups = sandbox.read_ok(token, VDB_2026_ID, &[("BusinessObject", "AG1")]).await;
    let group_codes: HashSet<&str> = rows(&groups, "ART_GRP")
        .iter()
        .map(|row| row["AG_CODE"].as_str().expect("code"))
        .collect();
    assert!(group_codes.len() >= 5);
    for article in &articles {
        assert!(
            group_codes.contains(article["AG_CODE"].as_str().expect("group")),
            "{article}"
        );
        let price = article["SALES_PX"].as_f64().expect("price");
        assert!(
            price > 0.0 && price >= article["COST_PX"].as_f64().expect("cost"),
            "{article}"
        );
        assert!(!article["UNIT"].as_str().expect("unit").is_empty());
    }

    let debtors = sandbox.read_all(token, VDB_2026_ID, "AR1", "CONTACT", "SUB_NR").await;
    assert_eq!(debtors.len(), 200);
    assert_eq!(
        debtors.iter().filter(|row| row["REC_BLK"] == true).count(),
        1,
        "exactly one blocked debtor"
    );
    let belgian: Vec<&Value> = debtors.iter().filter(|row| row["CNT_CODE"] == "BE").collect();
    assert_eq!(belgian.len(), 1);
    assert!(belgian[0]["VAT_NR"].as_str().expect("vat number").starts_with("BE0"));
    let names: Vec<&str> = debtors
        .iter()
        .map(|row| row["ACCT_NAME"].as_str().expect("name"))
        .collect();
    assert!(
        names.iter().filter(|name| !name.is_ascii()).count() >= 5,
        "names with diacritics: {names:?}"
    );
    assert!(names.contains(&"Zoë van Dijk") && names.contains(&"Café 't Hoekje"));

    // Posted payments: some invoices paid in full (sum 0), some still open (sum > 0).
    let transactions = sandbox.read_all(token, VDB_2026_ID, "GJ1", "TRANSACT", "TRN_NR").await;
    assert!(
        transactions
            .iter()
            .any(|row| row["AMOUNT"].as_f64().expect("amount") < 0.0),
        "payments exist"
    );
    let mut open_per_invoice: BTreeMap<String, i64> = BTreeMap::new();
    for row in &transactions {
        let cents = (row["AMOUNT"].as_f64().expect("amount") * 100.0).round() as i64;
        *open_per_invoice
            .entry(row["INV_NR"].as_str().expect("invoice").to_owned())
            .or_default() += cents;
    }
    assert!(
        open_per_invoice.values().filter(|open| **open == 0).count() > 100,
        "many paid invoices"
    );
    assert!(
        open_per_invoice.values().filter(|open| **open > 0).count() > 20,
        "some open invoices"
    );

    // The same seed gives the same books.
    let again = TestSandbox::start().await;
    let again_tokens = again.connect().await;
    let again_debtors = again
        .read_all(&again_tokens.access, VDB_2026_ID, "AR1", "CONTACT", "SUB_NR")
        .await;
    assert_eq!(again_debtors, debtors);
}

#[tokio::test]
async fn the_second_company_and_the_2025_administration_have_their_own_books() {
    let sandbox = TestSandbox::start().await;
    let tokens = sandbox.connect().await;
    let second = sandbox
        .read_all(&tokens.access, KSO_2026_ID, "AR1", "CONTACT", "SUB_NR")
        .await;
    assert_eq!(second.len(), 40);
    let pages_2025 = sandbox
        .read_ok(
            &tokens.access,
            VDB_2025_ID,
            &[("BusinessObject", "DJ2P"), ("PageSize", "3")],
        )
        .await;
    for page in rows(&pages_2025, "DJ_PAGE") {
        assert!(page["TRN_DATE"].as_str().expect("date").starts_with("2025-"), "{page}");
    }
}

#[tokio::test]
async fn filters_compare_by_type() {
    let sandbox = TestSandbox::start().await;
    let tokens = sandbox.connect().await;
    let token = tokens.access.as_str();

    // Contains is case-insensitive, also beyond ASCII.
    let cafes = sandbox
        .read_ok(
            token,
            VDB_2026_ID,
            &[
                ("BusinessObject", "AR1"),
                ("PageSize", "1000"),
                ("FilterControlSource1", "ACCT_NAME"),
                ("FilterOperator1", "Contains"),
                ("FilterValueType1", "C"),
                ("FilterValue1", "CAFÉ"),
            ],
        )
        .await;
    assert!(!rows(&cafes, "CONTACT").is_empty());
    for row in rows(&cafes, "CONTACT") {
        assert!(row["ACCT_NAME"].as_str().expect("name").to_lowercase().contains("café"));
    }

    // Numeric and combined filters (AND).
    let expensive = sandbox
        .read_ok(
            token,
            VDB_2026_ID,
            &[
                ("BusinessObject", "AK1"),
                ("PageSize", "1000"),
                ("FilterControlSource1", "SALES_PX"),
                ("FilterOperator1", "GreaterThan"),
                ("FilterValueType1", "N"),
                ("FilterValue1", "1000"),
                ("FilterControlSource2", "AG_CODE"),
                ("FilterOperator2", "NotEqual"),
                ("FilterValueType2", "C"),
                ("FilterValue2", "WP"),
            ],
        )
        .await;
    assert!(!rows(&expensive, "ARTICLE").is_empty());
    for row in rows(&expensive, "ARTICLE") {
        assert!(row["SALES_PX"].as_f64().expect("price") > 1000.0);
        assert_ne!(row["AG_CODE"], "WP");
    }

    // Dates, and parameter names in any case.
    let march = sandbox
        .read_ok(
            token,
            VDB_2026_ID,
            &[
                ("businessobject", "dj2p"),
                ("PAGESIZE", "1000"),
                ("filtercontrolsource1", "TRN_DATE"),
                ("filteroperator1", "greaterthanorequal"),
                ("filtervaluetype1", "D"),
                ("filtervalue1", "2026-03-01"),
                ("FilterControlSource2", "TRN_DATE"),
                ("FilterOperator2", "LessThan"),
                ("FilterValueType2", "D"),
                ("FilterValue2", "2026-04-01"),
            ],
        )
        .await;
    assert!(!rows(&march, "DJ_PAGE").is_empty());
    for row in rows(&march, "DJ_PAGE") {
        assert!(row["TRN_DATE"].as_str().expect("date").starts_with("2026-03"), "{row}");
    }

    // Logical.
    let unblocked = sandbox
        .read_ok(
            token,
            VDB_2026_ID,
            &[
                ("BusinessObject", "AR1"),
                ("PageSize", "1000"),
                ("FilterControlSource1", "REC_BLK"),
                ("FilterOperator1", "NotEqual"),
                ("FilterValueType1", "L"),
                ("FilterValue1", "true"),
            ],
        )
        .await;
    assert_eq!(rows(&unblocked, "CONTACT").len(), 199);

    // Equal on text ignores case, as AccountView does.
    let exact = sandbox
        .read_ok(
            token,
            VDB_2026_ID,
            &[
                ("BusinessObject", "AR1"),
                ("FilterControlSource1", "ACCT_NAME"),
                ("FilterOperator1", "Equal"),
                ("FilterValue1", "zoë VAN dijk"),
            ],
        )
        .await;
    assert_eq!(rows(&exact, "CONTACT").len(), 1);
}

#[tokio::test]
async fn fields_select_columns_and_keep_the_key() {
    let sandbox = TestSandbox::start().await;
    let tokens = sandbox.connect().await;
    let body = sandbox
        .read_ok(
            &tokens.access,
            VDB_2026_ID,
            &[
                ("BusinessObject", "AR1"),
                ("Fields", "acct_name, CITY"),
                ("PageSize", "3"),
            ],
        )
        .await;
    for row in rows(&body, "CONTACT") {
        let mut names: Vec<&String> = row.as_object().expect("object").keys().collect();
        names.sort();
        assert_eq!(names, ["ACCT_NAME", "CITY", "SUB_NR"]);
    }
    let star = sandbox
        .read_ok(
            &tokens.access,
            VDB_2026_ID,
            &[("BusinessObject", "AR1"), ("Fields", "*"), ("PageSize", "1")],
        )
        .await;
    let first = &rows(&star, "CONTACT")[0];
    for field in [
        "SUB_NR",
        "ACCT_NAME",
        "ADDRESS1",
        "POST_CODE",
        "CITY",
        "CNT_CODE",
        "MAIL_BUS",
        "TEL_BUS",
        "VAT_NR",
        "COC_CODE",
        "VAT_CODE",
        "DISC_CODE",
        "REC_BLK",
        "CNG_DATE",
    ] {
        assert!(first.get(field).is_some(), "{field} in {first}");
    }
    let articles = sandbox
        .read_ok(
            &tokens.access,
            VDB_2026_ID,
            &[("BusinessObject", "AK1"), ("PageSize", "1")],
        )
        .await;
    for field in [
        "ART_CODE",
        "ART_DESC1",
        "AG_CODE",
        "SALES_PX",
        "COST_PX",
        "UNIT",
        "VAT_CODE",
        "CNG_DATE",
    ] {
        assert!(rows(&articles, "ARTICLE")[0].get(field).is_some(), "{field}");
    }
}

#[tokio::test]
async fn sorting_by_fields_and_descending_keyset_paging() {
    let sandbox = TestSandbox::start().await;
    let tokens = sandbox.connect().await;
    let token = tokens.access.as_str();
    let by_name = sandbox
        .read_ok(
            token,
            VDB_2026_ID,
            &[
                ("BusinessObject", "AR1"),
                ("SortFields", "ACCT_NAME"),
                ("SortOrder", "ASC"),
                ("PageSize", "1000"),
            ],
        )
        .await;
    let names: Vec<String> = rows(&by_name, "CONTACT")
        .iter()
        .map(|row| row["ACCT_NAME"].as_str().expect("name").to_lowercase())
        .collect();
    assert_eq!(names.len(), 200);
    assert!(
        names.windows(2).all(|pair| pair[0] <= pair[1]),
        "sorted case-insensitively"
    );

    let descending = sandbox
        .read_ok(
            token,
            VDB_2026_ID,
            &[("BusinessObject", "AR1"), ("SortOrder", "DESC"), ("PageSize", "50")],
        )
        .await;
    let first_page: Vec<String> = rows(&descending, "CONTACT")
        .iter()
        .map(|row| key_text(&row["SUB_NR"]))
        .collect();
    assert_eq!(first_page[0], "10200");
    let last = first_page.last().expect("rows").clone();
    let next = sandbox
        .read_ok(
            token,
            VDB_2026_ID,
            &[
                ("BusinessObject", "AR1"),
                ("SortOrder", "DESC"),
                ("PageSize", "50"),
                ("lastKey", &last),
            ],
        )
        .await;
    let next_page: Vec<String> = rows(&next, "CONTACT")
        .iter()
        .map(|row| key_text(&row["SUB_NR"]))
        .collect();
    assert_eq!(next_page[0], format!("{}", last.parse::<u32>().expect("number") - 1));

    let (status, body) = error_of(
        sandbox
            .read(
                token,
                VDB_2026_ID,
                &[
                    ("BusinessObject", "AR1"),
                    ("SortFields", "ACCT_NAME"),
                    ("lastKey", "10010"),
                ],
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(assert_av_error(&body), vec![2006]);
}

#[tokio::test]
async fn journal_pages_come_with_their_lines_and_transactions_give_open_amounts() {
    let sandbox = TestSandbox::start().await;
    let tokens = sandbox.connect().await;
    let body = sandbox
        .read_ok(
            &tokens.access,
            VDB_2026_ID,
            &[
                ("BusinessObject", "DJ2P"),
                ("FilterControlSource1", "INV_NR"),
                ("FilterOperator1", "Equal"),
                ("FilterValue1", "2026-00007"),
            ],
        )
        .await;
    let pages = rows(&body, "DJ_PAGE");
    assert_eq!(pages.len(), 1);
    let page = &pages[0];
    let page_id = page["DJ_PAGE_Id"].clone();
    assert_eq!(page["DJ_CODE"], "VRK");
    let lines = rows(&body, "DJ_LINE");
    assert!(!lines.is_empty());
    let mut total_cents = 0;
    for line in lines {
        assert_eq!(line["DJ_PAGE_Id"], page_id, "lines link to their header");
        total_cents += ((line["AMOUNT"].as_f64().expect("amount") + line["VAT_AMT"].as_f64().expect("vat")) * 100.0)
            .round() as i64;
    }

    let transactions = sandbox
        .read_ok(
            &tokens.access,
            VDB_2026_ID,
            &[
                ("BusinessObject", "GJ1"),
                ("FilterControlSource1", "INV_NR"),
                ("FilterOperator1", "Equal"),
                ("FilterValue1", "2026-00007"),
            ],
        )
        .await;
    let entries = rows(&transactions, "TRANSACT");
    let invoice_entry = entries
        .iter()
        .find(|row| row["DJ_CODE"] == "VRK")
        .expect("the invoice's open item");
    assert_eq!(
        (invoice_entry["AMOUNT"].as_f64().expect("amount") * 100.0).round() as i64,
        total_cents
    );
    assert_eq!(invoice_entry["SUB_NR"], page["SUB_NR"]);

    let only_lines = sandbox
        .read_ok(
            &tokens.access,
            VDB_2026_ID,
            &[
                ("BusinessObject", "DJ2P"),
                ("Fields", "INV_NR,DJ_LINE.AMOUNT"),
                ("PageSize", "2"),
            ],
        )
        .await;
    for line in rows(&only_lines, "DJ_LINE") {
        let mut names: Vec<&String> = line.as_object().expect("object").keys().collect();
        names.sort();
        assert_eq!(names, ["AMOUNT", "DJ_PAGE_Id", "LINE_NR"]);
    }
    for header in rows(&only_lines, "DJ_PAGE") {
        let mut names: Vec<&String> = header.as_object().expect("object").keys().collect();
        names.sort();
        assert_eq!(names, ["DJ_CODE", "DJ_PAGE_Id", "INV_NR", "PAGE_NR"]);
    }

    // Composite keys page with "journal,page".
    let first = sandbox
        .read_ok(
            &tokens.access,
            VDB_2026_ID,
            &[("BusinessObject", "DJ2P"), ("PageSize", "2")],
        )
        .await;
    let last = &rows(&first, "DJ_PAGE")[1];
    let last_key = format!("{},{}", key_text(&last["DJ_CODE"]), key_text(&last["PAGE_NR"]));
    let second = sandbox
        .read_ok(
            &tokens.access,
            VDB_2026_ID,
            &[("BusinessObject", "DJ2P"), ("PageSize", "2"), ("lastKey", &last_key)],
        )
        .await;
    assert_eq!(
        rows(&second, "DJ_PAGE")[0]["PAGE_NR"],
        last["PAGE_NR"].as_i64().expect("number") + 1
    );
}

#[tokio::test]
async fn bad_read_parameters_are_400_in_accountview_shape() {
    let sandbox = TestSandbox::start().await;
    let tokens = sandbox.connect().await;
    let cases: Vec<(Vec<(&str, &str)>, u64)> = vec![
        (vec![], 2001),
        (vec![("BusinessObject", "XX9")], 2001),
        (vec![("BusinessObject", "DJ2")], 2002),
        (vec![("BusinessObject", "AR1"), ("PageSze", "10")], 2003),
        (vec![("BusinessObject", "AR1"), ("BusinessObject", "AK1")], 2003),
        (vec![("BusinessObject", "AR1"), ("PageSize", "0")], 2003),
        (vec![("BusinessObject", "AR1"), ("PageSize", "ten")], 2003),
        (vec![("BusinessObject", "AR1"), ("PageSize", "5000")], 2003),
        (vec![("BusinessObject", "AR1"), ("SortOrder", "UP")], 2003),
        (vec![("BusinessObject", "AR1"), ("Fields", "SUB_NR,NOPE")], 2004),
        (vec![("BusinessObject", "AR1"), ("SortFields", "NOPE")], 2004),
        (
            vec![
                ("BusinessObject", "AR1"),
                ("FilterControlSource1", "NOPE"),
                ("FilterOperator1", "Equal"),
                ("FilterValue1", "x"),
            ],
            2004,
        ),
        (
            vec![
                ("BusinessObject", "AR1"),
                ("FilterControlSource1", "SUB_NR"),
                ("FilterOperator1", "Equal"),
            ],
            2005,
        ),
        (
            vec![
                ("BusinessObject", "AR1"),
                ("FilterControlSource1", "SUB_NR"),
                ("FilterOperator1", "Like"),
                ("FilterValue1", "1"),
            ],
            2005,
        ),
        (
            vec![
                ("BusinessObject", "AR1"),
                ("FilterControlSource1", "SUB_NR"),
                ("FilterOperator1", "Equal"),
                ("FilterValueType1", "N"),
                ("FilterValue1", "1"),
            ],
            2005,
        ),
        (
            vec![
                ("BusinessObject", "AR1"),
                ("FilterControlSource1", "CNG_DATE"),
                ("FilterOperator1", "GreaterThan"),
                ("FilterValueType1", "T"),
                ("FilterValue1", "2026-13-01T00:00:00"),
            ],
            2005,
        ),
        (
            vec![
                ("BusinessObject", "AK1"),
                ("FilterControlSource1", "SALES_PX"),
                ("FilterOperator1", "Contains"),
                ("FilterValue1", "1"),
            ],
            2005,
        ),
        (
            vec![
                ("BusinessObject", "AR1"),
                ("FilterControlSource1", "REC_BLK"),
                ("FilterOperator1", "GreaterThan"),
                ("FilterValue1", "true"),
            ],
            2005,
        ),
        (
            vec![
                ("BusinessObject", "AR1"),
                ("FilterControlSource1", "REC_BLK"),
                ("FilterOperator1", "Equal"),
                ("FilterValue1", "maybe"),
            ],
            2005,
        ),
        (vec![("BusinessObject", "DJ2P"), ("lastKey", "VRK")], 2006),
        (vec![("BusinessObject", "DJ2P"), ("lastKey", "VRK,twelve")], 2006),
    ];
    for (parameters, expected) in cases {
        let (status, body) = error_of(sandbox.read(&tokens.access, VDB_2026_ID, &parameters).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{parameters:?}: {body}");
        assert_eq!(assert_av_error(&body), vec![expected], "{parameters:?}: {body}");
    }
}
