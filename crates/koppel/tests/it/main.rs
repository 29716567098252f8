//! Tests of the `koppel` binary as an operator uses it, and of the workspace's dependency rules.

mod accountview;
mod architecture;
mod cli;
mod datasync;
mod demo;
mod demo_browser;
mod jobs;
