//! The one integration-test binary of `koppel-odata`: every test drives the crate's public surface.
//!
//! - `abnf`: the OASIS OData TC's ABNF test cases for `$filter`, literals and query options.
//! - `filter` and `query`: feature tests of precedence, escaping, offsets, Power Query URLs and errors.
//! - `check`: type and property checks against an entity type.
//! - `csdl`: `$metadata` output, validated against the CSDL XML schema with `xmllint`.
//! - `properties`: seeded random tests that nothing panics and that printing round-trips.

#![allow(clippy::unwrap_used)] // a test that cannot read what it set up should stop there

mod abnf;
mod check;
mod csdl;
mod filter;
mod properties;
mod query;
mod support;
