//! HTTP-level tests of the REST API and the back-office pages (and browser tests of the pages), on SQLite always and on PostgreSQL when
//! `KOPPEL_TEST_DATABASE_URL` is set.

#![allow(clippy::unwrap_used)] // a test that cannot read what it set up should stop there

mod accountview;
mod authorization;
mod browser;
mod contract;
mod datasync;
mod errors;
mod hardening;
mod login_throttle;
mod odata;
mod odata_protocol;
mod openapi;
mod pages;
mod platform;
mod proxies;
mod records;
mod runs;
mod samples;
mod settingsync;
mod timeouts;
