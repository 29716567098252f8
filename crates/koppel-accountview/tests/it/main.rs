//! The AccountView integration against the real sandbox, started in-process on `127.0.0.1:0`, on
//! SQLite always and on PostgreSQL when `KOPPEL_TEST_DATABASE_URL` is set.

#![allow(clippy::unwrap_used)] // a test that cannot read what it set up should stop there

mod connect;
mod export;
mod import;
mod support;
mod tokens;
