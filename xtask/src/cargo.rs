//! Running cargo (and other programs) from xtask: the workspace root, the cargo binary, and a timed
//! step that fails with a message saying exactly which command failed.

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The workspace root: xtask lives one level below it.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits inside the workspace")
        .to_path_buf()
}

/// A `cargo` command in the workspace root, using the same cargo that runs xtask.
pub fn cargo<I, S>(arguments: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    // `cargo run` sets CARGO to its own binary, so nested calls use the same toolchain.
    let program = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(program);
    command.args(arguments).current_dir(workspace_root());
    command
}

/// A command as a user would type it, for messages.
pub fn display(command: &Command) -> String {
    let program = Path::new(command.get_program()).file_name().map_or_else(
        || command.get_program().to_string_lossy(),
        |name| name.to_string_lossy(),
    );
    let mut text = program.into_owned();
    for argument in command.get_args() {
        text.push(' ');
        text.push_str(&argument.to_string_lossy());
    }
    text
}

/// Runs a command with inherited standard streams and environment; fails when it does not succeed.
/// Returns how long it took.
pub fn run_timed(command: &mut Command) -> anyhow::Result<Duration> {
    let shown = display(command);
    eprintln!("\n==> {shown}");
    let started = Instant::now();
    let status = command
        .status()
        .with_context(|| format!("could not start `{shown}`; is it installed?"))?;
    let elapsed = started.elapsed();
    if !status.success() {
        bail!("`{shown}` failed ({status}) after {}", seconds(elapsed));
    }
    eprintln!("<== `{shown}` passed in {}", seconds(elapsed));
    Ok(elapsed)
}

/// A duration as seconds with one decimal, e.g. "12.3 s".
pub fn seconds(duration: Duration) -> String {
    format!("{:.1} s", duration.as_secs_f64())
}
