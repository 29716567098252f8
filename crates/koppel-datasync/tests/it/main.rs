//! Data Sync's integration tests, on SQLite and (when configured) PostgreSQL: incremental syncs with
//! deletes, snapshot pinning while a sync commits, interrupted syncs, pruning, OData filters on the
//! reporting tables, and Autosync.

#![allow(clippy::unwrap_used)] // a test that cannot read what it set up should stop there

mod support;

mod autosync;
mod filters;
mod metadata;
mod reference;
mod resync;
mod semantics;
mod sync;
