//! HTTP-level tests of the REST API, on SQLite always and on PostgreSQL when
//! `KOPPEL_TEST_DATABASE_URL` is set.

mod app;
mod authorization;
mod errors;
mod openapi;
mod platform;
mod records;
mod runs;
mod samples;
