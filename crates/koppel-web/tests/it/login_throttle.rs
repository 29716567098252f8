//! The login throttle: counted per client address and per e-mail address in the database, so it
//! holds across restarts; it backs off (429 with Retry-After) instead of locking out, and failures
//! from one client address do not keep the real user out on another.

use koppel_store::{ConnectOptions, Store, SystemClock};
use koppel_test_support::TestApp;
use koppel_test_support::{TestDatabase, fixed_start};
use koppel_web::auth::LoginLimiter;
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::net::IpAddr;
use std::sync::Arc;

#[tokio::test]
async fn many_e_mail_addresses_from_one_client_address_are_throttled() {
    for database in TestDatabase::all_at(fixed_start()).await {
        let app = TestApp::spawn(database).await;
        // One password against 20 e-mail addresses: each an ordinary failure.
        for index in 0..20 {
            let body = json!({"email": format!("iemand{index}@example.com"), "password": "Zomer2026!"});
            let answer = app.request(Method::POST, "/api/v1/session", None, Some(&body)).await;
            assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "attempt {index}");
        }
        // The 21st address from the same client waits, however new the e-mail address is.
        let body = json!({"email": "nog-iemand@example.com", "password": "Zomer2026!"});
        let throttled = app.request(Method::POST, "/api/v1/session", None, Some(&body)).await;
        assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(throttled.code(), "too_many_attempts");
        assert_eq!(throttled.headers["retry-after"], "15");
        // A backoff, not a lock-out: after the wait one more try, then a longer wait.
        app.database.fixed_clock().advance(chrono::Duration::seconds(16));
        let again = app.request(Method::POST, "/api/v1/session", None, Some(&body)).await;
        assert_eq!(again.status, StatusCode::UNAUTHORIZED);
        let longer = app.request(Method::POST, "/api/v1/session", None, Some(&body)).await;
        assert_eq!(longer.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(longer.headers["retry-after"], "30");
        app.stop().await;
    }
}

#[tokio::test]
async fn a_correct_password_from_another_client_address_is_not_locked_out() {
    for database in TestDatabase::all_at(fixed_start()).await {
        let app = TestApp::spawn(database).await;
        let user = app.fixture.user.clone();
        let wrong = json!({"email": user.email, "password": "niet-het-wachtwoord"});
        for attempt in 0..5 {
            let answer = app.request(Method::POST, "/api/v1/session", None, Some(&wrong)).await;
            assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
        }
        let right = json!({"email": user.email, "password": user.password});
        let here = app.request(Method::POST, "/api/v1/session", None, Some(&right)).await;
        assert_eq!(here.status, StatusCode::TOO_MANY_REQUESTS, "the guessing client waits");
        // The real user, on another client address (127.0.0.2 reaches 127.0.0.1 on loopback).
        let elsewhere = reqwest::Client::builder()
            .local_address("127.0.0.2".parse::<IpAddr>().unwrap())
            .build()
            .unwrap();
        let answer = elsewhere
            .post(app.url("/api/v1/session"))
            .json(&right)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
        app.stop().await;
    }
}

#[tokio::test]
async fn failure_counts_survive_a_restart_and_are_shared_between_nodes() {
    for database in TestDatabase::all().await {
        let store = database.store();
        let limiter = LoginLimiter;
        let address: IpAddr = "192.0.2.7".parse().unwrap();
        for _ in 0..5 {
            limiter.failed(store, "Jan@Example.com", Some(address)).await.unwrap();
        }
        // Another process (a restarted one, or another node) on the same database.
        let other = Store::connect(
            &ConnectOptions {
                url: database.url().to_string(),
                max_connections: 2,
            },
            Arc::new(SystemClock),
        )
        .await
        .unwrap();
        let wait = LoginLimiter
            .check(&other, " jan@example.com", Some(address))
            .await
            .unwrap()
            .expect_err("still backing off");
        assert!((1..=15).contains(&wait), "{wait}");
        // Another client address is not held up by this one's failures.
        let elsewhere: IpAddr = "198.51.100.9".parse().unwrap();
        assert_eq!(
            LoginLimiter
                .check(&other, "jan@example.com", Some(elsewhere))
                .await
                .unwrap(),
            Ok(())
        );
        other.close().await;
        database.cleanup().await;
    }
}
