//! Developer automation for the Koppel workspace: `cargo xtask ci` and `cargo xtask bench …`.
//!
//! Everything a developer or CI runs besides plain cargo lives here, in Rust, instead of in shell
//! scripts: it runs the same on every machine and is checked by clippy like the rest of the code.
//! The `xtask` alias is defined in `.cargo/config.toml`.

mod bench;
mod cargo;
mod ci;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Koppel's dev automation",
    disable_version_flag = true
)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand, Debug)]
enum Task {
    /// What CI runs, in order, stopping at the first failure: rustfmt, clippy, the test suite.
    Ci,
    /// Benchmarks that print figures (never asserted).
    Bench {
        #[command(subcommand)]
        bench: bench::Bench,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.task {
        Task::Ci => ci::run(),
        Task::Bench { bench } => bench::run(bench),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // The whole chain on one line; a backtrace (RUST_BACKTRACE) would only point into xtask.
            eprintln!("\nerror: {error:#}");
            ExitCode::FAILURE
        }
    }
}
