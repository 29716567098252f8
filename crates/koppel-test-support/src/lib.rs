//! Test harness shared by Koppel's test suites: throw-away databases on both backends, a seeded
//! environment to test against, Koppel's side of the AccountView sandbox ([`accountview`]) and, with
//! the `app` feature, `TestApp` (the web layer on a real socket, with a worker and the sandbox when a
//! test asks, and typed helpers per endpoint; see the `app` module).
//!
//! Every suite runs on SQLite always and on PostgreSQL whenever `KOPPEL_TEST_DATABASE_URL` points at a
//! server (`postgres://postgres@127.0.0.1:5432/postgres`); each [`TestDatabase`] is created for one
//! test and removed afterwards, also when the test fails.
//!
//! ```no_run
//! # async fn example() {
//! use koppel_test_support::{Fixture, TestDatabase};
//!
//! for db in TestDatabase::all().await {
//!     let fixture = Fixture::create(db.store()).await;
//!     // … exercise db.store() with fixture.sub1 …
//!     db.cleanup().await;
//! }
//! # }
//! ```

pub mod accountview;
#[cfg(feature = "app")]
pub mod app;
mod database;
mod fixture;

pub use database::{DATABASE_URL_VARIABLE, TestDatabase, fixed_start};
pub use fixture::{Fixture, TestUser};

#[cfg(feature = "app")]
pub use app::{Answer, TestApp};
