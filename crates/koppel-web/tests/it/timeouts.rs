//! Half-sent requests cannot hold a connection: a head or a body that does not arrive within the
//! configured read timeouts gets the connection closed.

use koppel_test_support::TestApp;
use koppel_test_support::TestDatabase;
use koppel_web::WebConfig;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Far above the configured timeouts: the connection must be closed well before this.
const GENEROUS: Duration = Duration::from_secs(20);

async fn app_with_short_timeouts() -> TestApp {
    let config = WebConfig {
        header_read_timeout: Duration::from_secs(1),
        body_read_timeout: Duration::from_secs(1),
        ..WebConfig::default()
    };
    TestApp::spawn_with(TestDatabase::sqlite().await, config).await
}

/// Sends `bytes` and then nothing; returns what the server sent before it closed the connection,
/// or `None` when it was still open at the deadline.
async fn send_and_wait_for_close(app: &TestApp, bytes: &[u8]) -> Option<String> {
    let mut stream = tokio::net::TcpStream::connect(app.address).await.expect("connect");
    stream.write_all(bytes).await.expect("write");
    let mut received = Vec::new();
    match tokio::time::timeout(GENEROUS, stream.read_to_end(&mut received)).await {
        Ok(_) => Some(String::from_utf8_lossy(&received).into_owned()),
        Err(_) => None,
    }
}

#[tokio::test]
async fn a_request_head_that_never_ends_is_closed() {
    let app = app_with_short_timeouts().await;
    let closed = send_and_wait_for_close(&app, b"GET /healthz HTTP/1.1\r\nHost: koppel\r\nX-Slow: ").await;
    assert!(closed.is_some(), "the connection was still open after {GENEROUS:?}");
    app.stop().await;
}

#[tokio::test]
async fn a_request_body_that_stops_halfway_is_closed() {
    let app = app_with_short_timeouts().await;
    let head = "POST /api/v1/session HTTP/1.1\r\nHost: koppel\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n";
    let closed = send_and_wait_for_close(&app, format!("{head}{{\"email\": \"jan@").as_bytes()).await;
    let received = closed.unwrap_or_else(|| panic!("the connection was still open after {GENEROUS:?}"));
    // Whatever was answered, it was not a login.
    assert!(
        !received.contains("Set-Cookie") && !received.contains("set-cookie"),
        "{received}"
    );
    // A complete request on a fresh connection is still served.
    let answer = app.client.get(app.url("/healthz")).send().await.expect("healthz");
    assert!(answer.status().is_success());
    app.stop().await;
}
