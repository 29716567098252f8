//! The sandbox's contract suite: drives a sandbox served in-process over HTTP with a plain reqwest client,
//! checking it against shared/docs/accountview.md. One test binary, one module per area.

#![allow(clippy::unwrap_used)] // a test that cannot read what it set up should stop there

mod companies;
mod config;
mod control;
mod debtors;
mod faults;
mod invoices;
mod oauth;
mod paging;
mod reading;
mod support;
