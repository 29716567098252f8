//! `cargo xtask ci`: the checks CI runs, in order, stopping at the first failure.
//!
//! rustfmt first because it takes a second, clippy next because it needs no test run, then the test
//! suite: with cargo-nextest when it is installed (faster, one process per test), else `cargo test`.
//! Nextest does not run doc tests, so they follow as their own step to keep both paths equivalent.
//! The environment passes through untouched, so `KOPPEL_TEST_DATABASE_URL` reaches the tests and turns
//! the PostgreSQL half of the conformance suite on.
//!
//! Some tests drive third-party tools: Chromium for the pages, real OData clients for the feed, and
//! schemathesis for the REST API's contract (`koppel-web`'s `contract` test, which fuzzes every
//! operation of the OpenAPI document on every backend). They skip when their tool is missing, unless
//! `KOPPEL_REQUIRE_TOOLS=1` (and `KOPPEL_REQUIRE_BROWSER=1`) make that a failure, as `.ci/run` does
//! after installing them.

use crate::cargo::{cargo, display, run_timed, seconds};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One step of the pipeline.
struct Step {
    name: &'static str,
    command: Command,
}

pub fn run() -> anyhow::Result<()> {
    let started = Instant::now();
    match std::env::var_os("KOPPEL_TEST_DATABASE_URL") {
        Some(_) => eprintln!("ci: KOPPEL_TEST_DATABASE_URL is set: the tests run on SQLite and PostgreSQL"),
        None => eprintln!("ci: KOPPEL_TEST_DATABASE_URL is not set: the tests run on SQLite only"),
    }
    if std::env::var_os("KOPPEL_REQUIRE_TOOLS").is_none() {
        eprintln!(
            "ci: KOPPEL_REQUIRE_TOOLS is not set: tests whose tool is missing (xmllint, the OData clients, schemathesis) skip"
        );
    }
    let mut steps = vec![
        Step {
            name: "format",
            command: cargo(["fmt", "--all", "--check"]),
        },
        Step {
            name: "clippy",
            command: cargo(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]),
        },
    ];
    if nextest_installed() {
        steps.push(Step {
            name: "tests",
            command: cargo(["nextest", "run", "--workspace", "--no-fail-fast"]),
        });
        steps.push(Step {
            name: "doc tests",
            command: cargo(["test", "--workspace", "--doc"]),
        });
    } else {
        eprintln!("ci: cargo-nextest is not installed; using `cargo test` (`cargo install cargo-nextest` is faster)");
        steps.push(Step {
            name: "tests",
            command: cargo(["test", "--workspace"]),
        });
    }

    let mut timings: Vec<(&'static str, String, Duration)> = Vec::new();
    for mut step in steps {
        let shown = display(&step.command);
        match run_timed(&mut step.command) {
            Ok(elapsed) => timings.push((step.name, shown, elapsed)),
            Err(error) => {
                print_timings(&timings);
                anyhow::bail!(
                    "ci FAILED at step \"{}\" after {} in total: {error:#}",
                    step.name,
                    seconds(started.elapsed())
                );
            }
        }
    }
    print_timings(&timings);
    eprintln!("ci passed in {}", seconds(started.elapsed()));
    Ok(())
}

fn nextest_installed() -> bool {
    cargo(["nextest", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

fn print_timings(timings: &[(&'static str, String, Duration)]) {
    if timings.is_empty() {
        return;
    }
    eprintln!("\nci steps that passed:");
    for (name, command, elapsed) in timings {
        eprintln!("  {name:<10} {:>9}  {command}", seconds(*elapsed));
    }
}
