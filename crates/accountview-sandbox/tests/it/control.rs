//! The control surface itself: reset and seed, the posted read-out, the clock, the overview, bad control
//! calls, and keeping state in a file across restarts.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

#[tokio::test]
async fn reset_throws_away_changes_and_tokens_unless_asked_to_keep_them() {
    let sandbox = TestSandbox::start().await;
    let tokens = sandbox.connect().await;
    assert_eq!(
        sandbox
            .post_data(&tokens.access, VDB_2026_ID, &debtor("30001", "Weg na reset"))
            .await
            .status(),
        StatusCode::OK
    );
    sandbox
        .control_post("/_sandbox/clock", json!({"advance_seconds": 100}))
        .await;
    sandbox
        .control_put("/_sandbox/faults/offline", json!({"offline": true}))
        .await;

    let answer = sandbox
        .control_post("/_sandbox/reset", json!({"keep_grants": true}))
        .await;
    assert_eq!(answer["debtors"], 200);
    // Still connected, the debtor is gone, the faults and the clock are back to normal.
    let read = sandbox
        .read_ok(
            &tokens.access,
            VDB_2026_ID,
            &[
                ("BusinessObject", "AR1"),
                ("FilterControlSource1", "SUB_NR"),
                ("FilterOperator1", "Equal"),
                ("FilterValue1", "30001"),
            ],
        )
        .await;
    assert_eq!(read["CONTACT"], json!([]));
    assert_eq!(sandbox.control_get("/_sandbox/clock").await["offset_seconds"], 0);
    assert!(
        sandbox
            .control_get("/_sandbox/posted")
            .await
            .as_array()
            .expect("list")
            .is_empty()
    );

    // An empty body resets everything, grants included.
    let plain = sandbox
        .http
        .post(sandbox.url("/_sandbox/reset"))
        .send()
        .await
        .expect("request");
    assert_eq!(plain.status(), StatusCode::OK);
    assert_eq!(
        sandbox
            .get_api("/api/v3/Companies", &tokens.access, None)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );

    let too_many = sandbox
        .http
        .post(sandbox.url("/_sandbox/reset"))
        .json(&json!({"debtors": 0}))
        .send()
        .await
        .expect("request");
    assert_eq!(too_many.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_posted_read_out_filters_and_can_be_cleared() {
    let sandbox = TestSandbox::start().await;
    let tokens = sandbox.connect().await;
    sandbox
        .post_data(&tokens.access, VDB_2026_ID, &simple_invoice("P-1", "10001"))
        .await;
    sandbox
        .post_data(&tokens.access, VDB_2026_ID, &simple_invoice("P-1", "10001"))
        .await;
    sandbox
        .post_data(&tokens.access, KSO_2026_ID, &debtor("40001", "Twentse Klant"))
        .await;

    let all = sandbox.control_get("/_sandbox/posted").await;
    let all = all.as_array().expect("list");
    assert_eq!(all.len(), 3);
    let sequences: Vec<u64> = all
        .iter()
        .map(|document| document["sequence"].as_u64().expect("sequence"))
        .collect();
    assert_eq!(sequences, [1, 2, 3]);
    assert_eq!(all[1]["status"], 409);
    assert_eq!(all[1]["committed"], false);
    assert_eq!(all[1]["answer"]["ErrorNumbers"], json!([2201]));
    assert_eq!(all[0]["answer"]["Results"][0]["Key"]["DJ_CODE"], "VRK");

    let debtors = sandbox.control_get("/_sandbox/posted?business_object=AR1").await;
    assert_eq!(debtors.as_array().expect("list").len(), 1);
    assert_eq!(debtors[0]["company_id"], KSO_2026_ID);
    let second_company = sandbox
        .control_get(&format!("/_sandbox/posted?company_id={KSO_2026_ID}"))
        .await;
    assert_eq!(second_company.as_array().expect("list").len(), 1);
    let committed = sandbox.control_get("/_sandbox/posted?committed=true").await;
    assert_eq!(committed.as_array().expect("list").len(), 2);

    let cleared = sandbox.control(reqwest::Method::DELETE, "/_sandbox/posted", None).await;
    assert_eq!(cleared["cleared"], 3);
    assert!(
        sandbox
            .control_get("/_sandbox/posted")
            .await
            .as_array()
            .expect("list")
            .is_empty()
    );
}

#[tokio::test]
async fn the_overview_users_and_clock_describe_the_sandbox() {
    let sandbox = TestSandbox::start().await;
    let overview = sandbox.control_get("/_sandbox").await;
    let administrations = overview["administrations"].as_array().expect("administrations");
    assert_eq!(administrations.len(), 3);
    assert_eq!(administrations[1]["debtors"], 200);
    assert_eq!(administrations[1]["articles"], 500);
    assert_eq!(overview["tokens"]["access_token_seconds"], 3600);
    assert_eq!(overview["clients"], json!([CLIENT_ID, OTHER_CLIENT_ID]));

    let users = sandbox.control_get("/_sandbox/users").await;
    let demo = users
        .as_array()
        .expect("users")
        .iter()
        .find(|user| user["login"] == DEMO_USER)
        .expect("demo user");
    assert_eq!(demo["password"], PASSWORD);
    assert_eq!(demo["rights"]["DJ2"]["insert"], true);

    let before: Value = sandbox.control_get("/_sandbox/clock").await;
    let after = sandbox
        .control_post("/_sandbox/clock", json!({"advance_seconds": 86_400}))
        .await;
    assert_eq!(after["offset_seconds"], 86_400);
    assert_ne!(
        before["local"].as_str().expect("local")[..10],
        after["local"].as_str().expect("local")[..10]
    );
}

#[tokio::test]
async fn bad_control_calls_are_400_with_a_message() {
    let sandbox = TestSandbox::start().await;
    let cases = [
        (reqwest::Method::POST, "/_sandbox/clock", json!({"advance": 5})),
        (
            reqwest::Method::PUT,
            "/_sandbox/rate-limit",
            json!({"requests_per_minute": -1}),
        ),
        (reqwest::Method::PUT, "/_sandbox/faults/latency", json!({"route": "*"})),
        (reqwest::Method::PUT, "/_sandbox/faults/offline", json!({})),
        (
            reqwest::Method::POST,
            "/_sandbox/tokens/expire",
            json!({"everything": true}),
        ),
        (
            reqwest::Method::PUT,
            &format!("/_sandbox/users/{DEMO_USER}/rights") as &str,
            json!({"business_object": "XX1", "read": true}),
        ),
        (reqwest::Method::POST, "/_sandbox/save", json!({})),
    ];
    for (method, path, body) in cases {
        let response = sandbox
            .http
            .request(method.clone(), sandbox.url(path))
            .json(&body)
            .send()
            .await
            .expect("request");
        let (status, answer) = error_of(response).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {path} {body}: {answer}");
        assert!(answer["error"].as_str().is_some_and(|message| !message.is_empty()));
    }
}

#[tokio::test]
async fn state_survives_a_restart_through_the_state_file() {
    let path = std::env::temp_dir().join(format!(
        "accountview-sandbox-it-{}-{}.json",
        std::process::id(),
        line!()
    ));
    let _ = std::fs::remove_file(&path);
    let mut config = config();
    config.state_file = Some(path.clone());

    let first = TestSandbox::start_with(config.clone()).await;
    let tokens = first.connect().await;
    assert_eq!(
        first
            .post_data(&tokens.access, VDB_2026_ID, &simple_invoice("KEEP-1", "10001"))
            .await
            .status(),
        StatusCode::OK
    );
    first
        .control_put("/_sandbox/rate-limit", json!({"requests_per_minute": 42}))
        .await;
    let saved = first.control_post("/_sandbox/save", json!({})).await;
    assert!(saved["size_bytes"].as_u64().expect("size") > 10_000);
    drop(first);

    let text = std::fs::read_to_string(&path).expect("state file written");
    assert!(
        !text.contains(&tokens.access) && !text.contains(&tokens.refresh),
        "tokens are stored hashed only"
    );

    let second = TestSandbox::start_with(config).await;
    let read = second
        .read_ok(
            &tokens.access,
            VDB_2026_ID,
            &[
                ("BusinessObject", "DJ2P"),
                ("FilterControlSource1", "INV_NR"),
                ("FilterOperator1", "Equal"),
                ("FilterValue1", "KEEP-1"),
            ],
        )
        .await;
    assert_eq!(
        read["DJ_PAGE"].as_array().expect("pages").len(),
        1,
        "the invoice and the token survived"
    );
    assert_eq!(
        second.control_get("/_sandbox/rate-limit").await["requests_per_minute"],
        42
    );
    assert_eq!(second.refresh(&tokens.refresh).await.status(), StatusCode::OK);
    drop(second);

    let _ = std::fs::remove_file(&path);

    // A file that is not a sandbox state is refused rather than overwritten. (Another path: the stopped
    // sandboxes' writers may still be finishing a write to the first one.)
    let foreign = path.with_extension("foreign.json");
    std::fs::write(&foreign, "{\"not\": \"a state\"}").expect("write");
    let mut broken = crate::support::config();
    broken.state_file = Some(foreign.clone());
    assert!(accountview_sandbox::Sandbox::new(broken).is_err());
    assert_eq!(
        std::fs::read_to_string(&foreign).expect("still there"),
        "{\"not\": \"a state\"}"
    );
    let _ = std::fs::remove_file(&foreign);
}
