//! Settings sync through the crate's public surface, on SQLite always and on PostgreSQL when
//! `KOPPEL_TEST_DATABASE_URL` is set.

#![allow(clippy::unwrap_used)] // a test that cannot read what it set up should stop there

mod sets;
mod sync;
