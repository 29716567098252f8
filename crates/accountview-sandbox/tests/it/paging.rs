//! Keyset paging through 10,000 debtors with `lastKey`, and `CNG_DATE` as an incremental cursor.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

/// Pages through AR1 with the given page size and extra filters; returns the rows and the page sizes seen.
async fn page_through(
    sandbox: &TestSandbox,
    token: &str,
    page_size: usize,
    filters: &[(&str, &str)],
) -> (Vec<Value>, Vec<usize>) {
    let mut rows = Vec::new();
    let mut page_sizes = Vec::new();
    let mut last_key: Option<String> = None;
    let size_text = page_size.to_string();
    loop {
        let mut parameters: Vec<(&str, &str)> = vec![("BusinessObject", "AR1"), ("PageSize", &size_text)];
        parameters.extend_from_slice(filters);
        if let Some(key) = &last_key {
            parameters.push(("lastKey", key));
        }
        let body = sandbox.read_ok(token, VDB_2026_ID, &parameters).await;
        let page = body["CONTACT"].as_array().expect("rows").clone();
        page_sizes.push(page.len());
        assert!(page.len() <= page_size);
        if let Some(last) = page.last() {
            last_key = Some(key_text(&last["SUB_NR"]));
        }
        let short = page.len() < page_size;
        rows.extend(page);
        // A short page is the last; there is no total count to go by.
        if short {
            return (rows, page_sizes);
        }
        assert!(page_sizes.len() < 1000, "paging does not end");
    }
}

#[tokio::test]
async fn paging_through_ten_thousand_debtors_with_last_key_and_a_cng_date_cursor() {
    let sandbox = TestSandbox::start().await;
    let reset = sandbox
        .control_post("/_sandbox/reset", json!({"debtors": 10_000}))
        .await;
    assert_eq!(reset["debtors"], 10_000);
    let tokens = sandbox.connect().await;
    let token = tokens.access.as_str();

    let (rows, page_sizes) = page_through(&sandbox, token, 700, &[]).await;
    assert_eq!(rows.len(), 10_000);
    assert_eq!(page_sizes.len(), 15, "14 full pages of 700 and a short one of 200");
    assert_eq!(*page_sizes.last().expect("pages"), 200);
    let keys: Vec<String> = rows.iter().map(|row| key_text(&row["SUB_NR"])).collect();
    assert!(
        keys.windows(2).all(|pair| pair[0] < pair[1]),
        "keys strictly ascending, so no row twice"
    );
    assert_eq!(keys.iter().collect::<HashSet<_>>().len(), 10_000);

    // With pages dividing the total evenly, the last page is empty.
    let (even_rows, even_sizes) = page_through(&sandbox, token, 1000, &[]).await;
    assert_eq!(even_rows.len(), 10_000);
    assert_eq!(even_sizes.last(), Some(&0));

    // CNG_DATE as a cursor: the filtered pages are exactly the rows changed since the cut-off.
    let mut change_dates: Vec<&str> = rows
        .iter()
        .map(|row| row["CNG_DATE"].as_str().expect("CNG_DATE"))
        .collect();
    change_dates.sort_unstable();
    let cutoff = change_dates[change_dates.len() * 3 / 4].to_owned();
    let expected: Vec<String> = rows
        .iter()
        .filter(|row| row["CNG_DATE"].as_str().expect("CNG_DATE") >= cutoff.as_str())
        .map(|row| key_text(&row["SUB_NR"]))
        .collect();
    let filter = [
        ("FilterControlSource1", "CNG_DATE"),
        ("FilterOperator1", "GreaterThanOrEqual"),
        ("FilterValueType1", "T"),
        ("FilterValue1", cutoff.as_str()),
    ];
    let (changed, changed_sizes) = page_through(&sandbox, token, 400, &filter).await;
    let changed_keys: Vec<String> = changed.iter().map(|row| key_text(&row["SUB_NR"])).collect();
    assert_eq!(changed_keys, expected);
    assert!(changed_sizes.len() > 3, "the filtered set spans several pages");

    // A date filter on the datetime field means midnight of that day.
    let day = &cutoff[..10];
    let by_day = [
        ("FilterControlSource1", "CNG_DATE"),
        ("FilterOperator1", "GreaterThanOrEqual"),
        ("FilterValueType1", "D"),
        ("FilterValue1", day),
    ];
    let (since_day, _) = page_through(&sandbox, token, 1000, &by_day).await;
    let expected_since_day = rows
        .iter()
        .filter(|row| &row["CNG_DATE"].as_str().expect("CNG_DATE")[..10] >= day)
        .count();
    assert_eq!(since_day.len(), expected_since_day);

    // After a change, the cursor from the newest CNG_DATE seen picks up exactly the new row.
    let newest = change_dates.last().expect("dates").to_string();
    let created = sandbox
        .post_data(token, VDB_2026_ID, &debtor("D-NEW-1", "Familie Öztürk"))
        .await;
    assert_eq!(created.status(), StatusCode::OK);
    let incremental = [
        ("FilterControlSource1", "CNG_DATE"),
        ("FilterOperator1", "GreaterThan"),
        ("FilterValueType1", "T"),
        ("FilterValue1", newest.as_str()),
    ];
    let (new_rows, _) = page_through(&sandbox, token, 100, &incremental).await;
    assert_eq!(new_rows.len(), 1);
    assert_eq!(new_rows[0]["SUB_NR"], "D-NEW-1");
    assert_eq!(new_rows[0]["ACCT_NAME"], "Familie Öztürk");
}

#[tokio::test]
async fn the_scale_option_seeds_that_many_debtors() {
    let mut config = config();
    config.debtors = 20_000;
    let sandbox = TestSandbox::start_with(config).await;
    let tokens = sandbox.connect().await;
    let overview = sandbox.control_get("/_sandbox").await;
    assert_eq!(overview["administrations"][1]["debtors"], 20_000);
    let last = sandbox
        .read_ok(
            &tokens.access,
            VDB_2026_ID,
            &[("BusinessObject", "AR1"), ("SortOrder", "DESC"), ("PageSize", "1")],
        )
        .await;
    assert_eq!(last["CONTACT"][0]["SUB_NR"], "120000");
}
