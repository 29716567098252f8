//! Tests of the `koppel` binary as an operator uses it, and of the workspace's dependency rules.

#![allow(clippy::unwrap_used)] // a test that cannot read what it set up should stop there

mod accountview;
mod architecture;
mod cli;
mod datasync;
mod demo;
mod demo_browser;
mod jobs;
