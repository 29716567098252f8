//! Injected faults: rate limit (429 + Retry-After, with a burst), latency, failing the next N calls,
//! offline (503) and commit-then-timeout; the call log that records them.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

const READ_ROUTE: &str = "GET /api/v3/AccountViewData";
const POST_ROUTE: &str = "POST /api/v3/AccountViewData";

async fn read_status(sandbox: &TestSandbox, token: &str, company: &str) -> StatusCode {
    sandbox
        .read(token, company, &[("BusinessObject", "VA1")])
        .await
        .status()
}

#[tokio::test]
async fn the_rate_limit_answers_429_with_retry_after_per_client_and_company() {
    let sandbox = TestSandbox::start().await;
    assert_eq!(
        sandbox.control_get("/_sandbox/rate-limit").await["requests_per_minute"],
        600,
        "the documented default"
    );
    sandbox
        .control_put("/_sandbox/rate-limit", json!({"requests_per_minute": 3}))
        .await;
    let tokens = sandbox.connect().await;
    for _ in 0..3 {
        assert_eq!(read_status(&sandbox, &tokens.access, VDB_2026_ID).await, StatusCode::OK);
    }
    let limited = sandbox
        .read(&tokens.access, VDB_2026_ID, &[("BusinessObject", "VA1")])
        .await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!(
        (1..=20).contains(&retry_after),
        "one request comes back every 20 s at 3/min: {retry_after}"
    );
    let body: Value = limited.json().await.expect("json");
    assert_eq!(assert_av_error(&body), vec![4001]);

    // Another administration has its own bucket; so does another client.
    assert_eq!(read_status(&sandbox, &tokens.access, VDB_2025_ID).await, StatusCode::OK);

    // Time refills the bucket.
    sandbox
        .control_post("/_sandbox/clock", json!({"advance_seconds": retry_after}))
        .await;
    assert_eq!(read_status(&sandbox, &tokens.access, VDB_2026_ID).await, StatusCode::OK);
    assert_eq!(
        read_status(&sandbox, &tokens.access, VDB_2026_ID).await,
        StatusCode::TOO_MANY_REQUESTS
    );

    // 0 turns the limit off.
    sandbox
        .control_put("/_sandbox/rate-limit", json!({"requests_per_minute": 0}))
        .await;
    for _ in 0..10 {
        assert_eq!(read_status(&sandbox, &tokens.access, VDB_2026_ID).await, StatusCode::OK);
    }
}

#[tokio::test]
async fn a_small_burst_makes_the_limit_a_steady_rate_and_the_call_log_shows_every_call() {
    let sandbox = TestSandbox::start().await;
    let tokens = sandbox.connect().await;
    sandbox
        .control_put("/_sandbox/rate-limit", json!({"requests_per_minute": 600, "burst": 2}))
        .await;
    assert_eq!(
        sandbox.control_get("/_sandbox/rate-limit").await,
        json!({"requests_per_minute": 600, "burst": 2})
    );
    sandbox.control(reqwest::Method::DELETE, "/_sandbox/calls", None).await;
    // 600 a minute holding 2: two at once, the third waits for the bucket (a tenth of a second).
    assert_eq!(read_status(&sandbox, &tokens.access, VDB_2026_ID).await, StatusCode::OK);
    assert_eq!(read_status(&sandbox, &tokens.access, VDB_2026_ID).await, StatusCode::OK);
    let limited = sandbox
        .read(&tokens.access, VDB_2026_ID, &[("BusinessObject", "VA1")])
        .await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.headers()["retry-after"], "1", "whole seconds, at least one");
    sandbox
        .control_post("/_sandbox/clock", json!({"advance_seconds": 1}))
        .await;
    assert_eq!(read_status(&sandbox, &tokens.access, VDB_2026_ID).await, StatusCode::OK);

    let log = sandbox
        .control_get(&format!("/_sandbox/calls?company_id={VDB_2026_ID}"))
        .await;
    let calls = log["calls"].as_array().expect("calls");
    let statuses: Vec<&Value> = calls.iter().map(|call| &call["status"]).collect();
    assert_eq!(statuses, [200, 200, 429, 200]);
    for call in calls {
        assert_eq!(call["route"], READ_ROUTE);
        assert!(call["answered_ms"].as_i64() >= call["arrived_ms"].as_i64(), "{call}");
    }
    assert_eq!(log["forgotten"], 0);
    // The clock moved a second between the third and the fourth call.
    assert!(calls[3]["arrived_ms"].as_i64().expect("ms") - calls[2]["arrived_ms"].as_i64().expect("ms") >= 1000);

    // Left out, the burst is a minute's worth again; a burst of 0 is refused.
    sandbox
        .control_put("/_sandbox/rate-limit", json!({"requests_per_minute": 600}))
        .await;
    for _ in 0..20 {
        assert_eq!(read_status(&sandbox, &tokens.access, VDB_2026_ID).await, StatusCode::OK);
    }
    let refused = sandbox
        .http
        .put(sandbox.url("/_sandbox/rate-limit"))
        .json(&json!({"requests_per_minute": 600, "burst": 0}))
        .send()
        .await
        .expect("control call");
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    sandbox.control(reqwest::Method::DELETE, "/_sandbox/calls", None).await;
    assert_eq!(sandbox.control_get("/_sandbox/calls").await["calls"], json!([]));
}

#[tokio::test]
async fn latency_delays_only_its_route() {
    let sandbox = TestSandbox::start().await;
    let tokens = sandbox.connect().await;
    sandbox
        .control_put(
            "/_sandbox/faults/latency",
            json!({"route": READ_ROUTE, "latency_ms": 400}),
        )
        .await;
    let started = Instant::now();
    assert_eq!(read_status(&sandbox, &tokens.access, VDB_2026_ID).await, StatusCode::OK);
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
    let faults = sandbox.control_get("/_sandbox/faults").await;
    assert_eq!(faults["routes"][READ_ROUTE]["latency_ms"], 400);

    // A client timeout shorter than the latency sees a timeout.
    let timed_out = sandbox
        .http
        .get(sandbox.url("/api/v3/AccountViewData"))
        .bearer_auth(&tokens.access)
        .header("x-company", VDB_2026_ID)
        .query(&[("BusinessObject", "VA1")])
        .timeout(Duration::from_millis(100))
        .send()
        .await;
    assert!(timed_out.expect_err("a timeout").is_timeout());

    sandbox
        .control_put(
            "/_sandbox/faults/latency",
            json!({"route": READ_ROUTE, "latency_ms": 0}),
        )
        .await;
    assert_eq!(
        sandbox.control_get("/_sandbox/faults").await["routes"][READ_ROUTE]["latency_ms"],
        0
    );
}

#[tokio::test]
async fn failing_the_next_calls_of_a_route() {
    let sandbox = TestSandbox::start().await;
    let tokens = sandbox.connect().await;
    sandbox
        .control_post(
            "/_sandbox/faults/fail-next",
            json!({"route": READ_ROUTE, "count": 2, "status": 500}),
        )
        .await;
    for _ in 0..2 {
        let (status, body) = error_of(
            sandbox
                .read(&tokens.access, VDB_2026_ID, &[("BusinessObject", "VA1")])
                .await,
        )
        .await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(assert_av_error(&body), vec![9001]);
    }
    assert_eq!(read_status(&sandbox, &tokens.access, VDB_2026_ID).await, StatusCode::OK);
    // Other routes were never affected.
    assert_eq!(
        sandbox
            .get_api("/api/v3/Companies", &tokens.access, None)
            .await
            .status(),
        StatusCode::OK
    );

    // Status 200: an AccountView error body with HTTP 200, the case clients must check the body for.
    sandbox
        .control_post(
            "/_sandbox/faults/fail-next",
            json!({"route": POST_ROUTE, "status": 200, "error_number": 3100, "message": "Record is vergrendeld door een andere gebruiker"}),
        )
        .await;
    let response = sandbox
        .post_data(&tokens.access, VDB_2026_ID, &simple_invoice("F-1", "10001"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body,
        json!({"ErrorType": "AccountViewError", "ErrorNumbers": [3100], "ErrorMessage": "Record is vergrendeld door een andere gebruiker"})
    );
    assert_eq!(
        sandbox
            .post_data(&tokens.access, VDB_2026_ID, &simple_invoice("F-1", "10001"))
            .await
            .status(),
        StatusCode::OK
    );

    // Injected 429 and 503 carry Retry-After.
    sandbox
        .control_post(
            "/_sandbox/faults/fail-next",
            json!({"route": "*", "status": 429, "retry_after_seconds": 7}),
        )
        .await;
    let limited = sandbox.get_api("/api/v3/Companies", &tokens.access, None).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.headers()["retry-after"], "7");
    sandbox
        .control_post(
            "/_sandbox/faults/fail-next",
            json!({"route": READ_ROUTE, "status": 503}),
        )
        .await;
    let unavailable = sandbox
        .read(&tokens.access, VDB_2026_ID, &[("BusinessObject", "VA1")])
        .await;
    assert_eq!(unavailable.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(unavailable.headers().get("retry-after").is_some());

    // The token route fails in RFC 6749's shape.
    sandbox
        .control_post(
            "/_sandbox/faults/fail-next",
            json!({"route": "POST /api/v3/token", "status": 503}),
        )
        .await;
    let (status, body) = error_of(sandbox.refresh(&tokens.refresh).await).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"], "temporarily_unavailable");
    // The refresh token survived the failed attempt.
    assert_eq!(sandbox.refresh(&tokens.refresh).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn offline_administrations_answer_503() {
    let sandbox = TestSandbox::start().await;
    let tokens = sandbox.connect().await;
    sandbox
        .control_put("/_sandbox/faults/offline", json!({"offline": true}))
        .await;
    let (status, body) = error_of(
        sandbox
            .read(&tokens.access, VDB_2026_ID, &[("BusinessObject", "VA1")])
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(assert_av_error(&body), vec![5001]);
    assert_eq!(body["ErrorMessage"], "AccountView-server niet bereikbaar");
    assert_eq!(
        sandbox
            .post_data(&tokens.access, VDB_2026_ID, &simple_invoice("OFF-1", "10001"))
            .await
            .status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    // The gateway itself still answers: the administrations list and the token endpoint work.
    assert_eq!(
        sandbox
            .get_api("/api/v3/Companies", &tokens.access, None)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(sandbox.refresh(&tokens.refresh).await.status(), StatusCode::OK);

    sandbox
        .control_put("/_sandbox/faults/offline", json!({"offline": false}))
        .await;
    sandbox
        .control_put(
            "/_sandbox/faults/offline",
            json!({"offline": true, "company_id": KSO_2026_ID}),
        )
        .await;
    assert_eq!(read_status(&sandbox, &tokens.access, VDB_2026_ID).await, StatusCode::OK);
    assert_eq!(
        read_status(&sandbox, &tokens.access, KSO_2026_ID).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    sandbox
        .control_put(
            "/_sandbox/faults/offline",
            json!({"offline": false, "company_id": KSO_2026_ID}),
        )
        .await;
    assert_eq!(read_status(&sandbox, &tokens.access, KSO_2026_ID).await, StatusCode::OK);
    assert!(
        sandbox
            .control_get("/_sandbox/posted")
            .await
            .as_array()
            .expect("list")
            .is_empty(),
        "nothing reached the books"
    );
}

#[tokio::test]
async fn commit_then_timeout_stores_the_invoice_and_drops_the_connection() {
    let sandbox = TestSandbox::start().await;
    let tokens = sandbox.connect().await;
    sandbox
        .control_post("/_sandbox/faults/commit-then-timeout", json!({}))
        .await;

    // A failed validation is not "committed": the fault waits for a successful call.
    let invalid = sandbox
        .post_data(&tokens.access, VDB_2026_ID, &simple_invoice("CTT-1", "99999"))
        .await;
    assert_eq!(invalid.status(), StatusCode::BAD_REQUEST);

    let lost = sandbox
        .http
        .post(sandbox.url("/api/v3/AccountViewData"))
        .bearer_auth(&tokens.access)
        .header("x-company", VDB_2026_ID)
        .json(&simple_invoice("CTT-1", "10001"))
        .send()
        .await;
    assert!(lost.is_err(), "the answer never arrives: {lost:?}");

    // Reading back by invoice number shows it was booked, once.
    let read = sandbox
        .read_ok(
            &tokens.access,
            VDB_2026_ID,
            &[
                ("BusinessObject", "DJ2P"),
                ("FilterControlSource1", "INV_NR"),
                ("FilterOperator1", "Equal"),
                ("FilterValue1", "CTT-1"),
            ],
        )
        .await;
    assert_eq!(read["DJ_PAGE"].as_array().expect("pages").len(), 1);
    let posted = sandbox.control_get("/_sandbox/posted?committed=true").await;
    assert_eq!(posted.as_array().expect("list").len(), 1);
    assert_eq!(
        posted[0]["request"]["TableData"]["Data"]["Rows"][0]["Values"][2],
        "CTT-1"
    );

    // The naive retry is refused as a duplicate; the fault fired only once.
    let retry = sandbox
        .post_data(&tokens.access, VDB_2026_ID, &simple_invoice("CTT-1", "10001"))
        .await;
    assert_eq!(retry.status(), StatusCode::CONFLICT);
    assert!(sandbox.control_get("/_sandbox/faults").await["routes"][POST_ROUTE]["commit_then_timeout"].is_null());
}

#[tokio::test]
async fn commit_then_timeout_with_a_delay_looks_like_a_client_timeout() {
    let sandbox = TestSandbox::start().await;
    let tokens = sandbox.connect().await;
    sandbox
        .control_post(
            "/_sandbox/faults/commit-then-timeout",
            json!({"route": POST_ROUTE, "delay_ms": 2000}),
        )
        .await;
    let lost = sandbox
        .http
        .post(sandbox.url("/api/v3/AccountViewData"))
        .bearer_auth(&tokens.access)
        .header("x-company", VDB_2026_ID)
        .json(&simple_invoice("CTT-2", "10001"))
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(lost.expect_err("no answer in time").is_timeout());
    let posted = sandbox.control_get("/_sandbox/posted?committed=true").await;
    assert_eq!(
        posted.as_array().expect("list").len(),
        1,
        "stored although the client gave up"
    );
}

#[tokio::test]
async fn commit_then_timeout_on_the_token_route_loses_a_rotated_refresh_token() {
    let sandbox = TestSandbox::start().await;
    let tokens = sandbox.connect().await;
    sandbox
        .control_post(
            "/_sandbox/faults/commit-then-timeout",
            json!({"route": "POST /api/v3/token"}),
        )
        .await;
    let lost = sandbox
        .http
        .post(sandbox.url("/api/v3/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens.refresh.as_str()),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .send()
        .await;
    assert!(lost.is_err());
    // The refresh happened and rotated the token, so the old one is dead: the connection needs a new consent.
    let (status, body) = error_of(sandbox.refresh(&tokens.refresh).await).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn faults_are_validated_and_cleared() {
    let sandbox = TestSandbox::start().await;
    let bad_requests = [
        (
            "/_sandbox/faults/fail-next",
            json!({"route": "GET /api/v3/Nope", "status": 500}),
        ),
        (
            "/_sandbox/faults/fail-next",
            json!({"route": READ_ROUTE, "status": 302}),
        ),
        (
            "/_sandbox/faults/fail-next",
            json!({"route": READ_ROUTE, "status": 500, "count": 0}),
        ),
        ("/_sandbox/faults/fail-next", json!({"route": READ_ROUTE})),
        ("/_sandbox/faults/commit-then-timeout", json!({"route": "nope"})),
        ("/_sandbox/faults/commit-then-timeout", json!({"delay": 5})),
    ];
    for (path, body) in bad_requests {
        let response = sandbox
            .http
            .post(sandbox.url(path))
            .json(&body)
            .send()
            .await
            .expect("request");
        let (status, answer) = error_of(response).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {body}: {answer}");
        assert!(answer["error"].is_string());
    }
    sandbox
        .control_put("/_sandbox/faults/latency", json!({"route": "*", "latency_ms": 5}))
        .await;
    sandbox
        .control_post(
            "/_sandbox/faults/fail-next",
            json!({"route": READ_ROUTE, "status": 500}),
        )
        .await;
    sandbox
        .control_put("/_sandbox/faults/offline", json!({"offline": true}))
        .await;
    sandbox.control(reqwest::Method::DELETE, "/_sandbox/faults", None).await;
    let faults = sandbox.control_get("/_sandbox/faults").await;
    assert_eq!(faults, json!({"routes": {}, "offline": false, "offline_companies": []}));
    let tokens = sandbox.connect().await;
    assert_eq!(read_status(&sandbox, &tokens.access, VDB_2026_ID).await, StatusCode::OK);
}
