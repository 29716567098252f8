//! The store conformance suite: one body of tests that every backend must pass.
//!
//! Each test runs on SQLite always and on PostgreSQL whenever `KOPPEL_TEST_DATABASE_URL` is set
//! (each test creates and drops its own databases; see `koppel-test-support`). Tests go through the
//! store's public API only, so the store's internals can be rewritten without touching them.

#![allow(clippy::unwrap_used)] // a test that cannot read what it set up should stop there

mod administrations;
mod changes;
mod concurrency;
mod invoicing;
mod licences;
mod records;
mod references;
mod schema;
mod seed;
mod settings;
mod users;
mod work_orders;

use chrono::{DateTime, TimeZone, Utc};
use koppel_store::StoreError;

/// The moment fixed-clock tests start at: a Sunday morning in November 2026.
pub fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap()
}

/// Asserts that a store call failed with a conflict carrying this code.
#[track_caller]
pub fn assert_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>, code: &str) {
    match result {
        Err(StoreError::Conflict { code: actual, .. }) if actual == code => {}
        other => panic!("expected a conflict {code}, got {other:?}"),
    }
}

/// Asserts that a store call failed validation on this field with this code.
#[track_caller]
pub fn assert_invalid<T: std::fmt::Debug>(result: Result<T, StoreError>, field: &str, code: &str) {
    match result {
        Err(StoreError::Invalid(errors)) if errors.iter().any(|e| e.field == field && e.code == code) => {}
        other => panic!("expected {field} to be invalid ({code}), got {other:?}"),
    }
}

/// Asserts that a store call answered "not found".
#[track_caller]
pub fn assert_not_found<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    match result {
        Err(StoreError::NotFound) => {}
        other => panic!("expected not found, got {other:?}"),
    }
}
