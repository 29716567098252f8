//! `koppel serve` (or `koppel worker`) as a child process for a benchmark: started on a free loopback
//! port with its log in a file, awaited on `/readyz` (a worker: `/healthz` on its metrics port), and
//! stopped with SIGTERM (then killed after a grace period) — also when the benchmark fails or is
//! interrupted, because dropping the guard stops it.

use super::load;
use anyhow::{Context, bail};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// How long the server may take to shut down after SIGTERM before it is killed.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// How long the server may take to answer `/readyz` (migrations run on start).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `koppel serve` or `koppel worker`.
pub struct Server {
    child: tokio::process::Child,
    /// Where it answers: the web server's address, or a worker's metrics and health address.
    pub address: SocketAddr,
    log_path: PathBuf,
    /// `koppel serve`, `koppel worker`: for messages.
    name: String,
    ready_path: &'static str,
}

/// How to start a process: the arguments after `--data-dir … --database-url …`, extra environment
/// variables, the file its log goes to (in the scratch directory), and the port and path that answer
/// 200 once it is up.
pub struct Launch {
    pub name: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub log_file: String,
    pub port: u16,
    pub ready_path: &'static str,
}

/// How the server ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// It exited by itself on SIGTERM within the grace period.
    Gracefully,
    /// It had to be killed.
    Killed,
    /// It was not running any more.
    AlreadyExited,
}

/// A free TCP port on 127.0.0.1 (free when asked; the server binds it a moment later).
pub fn free_loopback_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("no free port on 127.0.0.1")?;
    Ok(listener.local_addr()?.port())
}

impl Server {
    /// Starts `koppel serve` on 127.0.0.1 and waits until `/readyz` answers 200.
    pub async fn start(koppel: &Path, database_url: &str, directory: &Path) -> anyhow::Result<Server> {
        let port = free_loopback_port()?;
        let args = ["serve", "--bind", "127.0.0.1", "--port", &port.to_string()].map(String::from);
        let launch = Launch {
            name: "koppel serve".to_string(),
            args: args.to_vec(),
            env: Vec::new(),
            log_file: "serve.log".to_string(),
            port,
            ready_path: "/readyz",
        };
        Server::launch(koppel, database_url, directory, launch).await
    }

    /// Starts any `koppel` command and waits until `launch.ready_path` on `launch.port` answers 200.
    pub async fn launch(koppel: &Path, database_url: &str, directory: &Path, launch: Launch) -> anyhow::Result<Server> {
        let log_path = directory.join(&launch.log_file);
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("could not create the log {}", log_path.display()))?;
        let child = tokio::process::Command::new(koppel)
            .arg("--data-dir")
            .arg(directory)
            .args(["--database-url", database_url])
            .args(&launch.args)
            .envs(launch.env.iter().map(|(name, value)| (name, value)))
            .current_dir(directory)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            // A backstop only: `Drop` below stops it politely first.
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("could not start {}", koppel.display()))?;
        let mut server = Server {
            child,
            address: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, launch.port)),
            log_path,
            name: launch.name,
            ready_path: launch.ready_path,
        };
        server.wait_ready().await?;
        Ok(server)
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("{} exited before it was ready ({status}){}", self.name, self.log_tail());
            }
            if let Ok(response) = load::get(self.address, self.ready_path, None).await
                && response.status == 200
            {
                return Ok(());
            }
            if started.elapsed() > START_TIMEOUT {
                bail!(
                    "{} did not answer {} on {} within {} s{}",
                    self.name,
                    self.ready_path,
                    self.address,
                    START_TIMEOUT.as_secs(),
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// CPU time the server has used so far (Linux only).
    pub fn cpu_time(&self) -> Option<Duration> {
        super::cpu::cpu_time(&self.child.id()?.to_string())
    }

    /// The server's peak resident memory so far (VmHWM; Linux only).
    pub fn peak_memory_bytes(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()?)).ok()?;
        let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
        let kilobytes: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kilobytes * 1024)
    }

    /// The last lines of the server's log, to attach to an error.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = &lines[lines.len().saturating_sub(20)..];
        if tail.is_empty() {
            return String::new();
        }
        format!("\nlast lines of {}:\n  {}", self.log_path.display(), tail.join("\n  "))
    }

    /// Sends SIGTERM and waits for the server to finish; kills it after the grace period.
    pub fn stop(&mut self) -> anyhow::Result<Stopped> {
        if self.child.try_wait()?.is_some() {
            return Ok(Stopped::AlreadyExited);
        }
        terminate(&self.child);
        let asked = Instant::now();
        while asked.elapsed() < SHUTDOWN_GRACE {
            if self.child.try_wait()?.is_some() {
                return Ok(Stopped::Gracefully);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child.start_kill()?;
        for _ in 0..100 {
            if self.child.try_wait()?.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Stopped::Killed)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        match self.stop() {
            Ok(Stopped::Killed) => eprintln!("warning: {} ignored SIGTERM and was killed", self.name),
            Ok(_) => {}
            Err(error) => eprintln!("warning: could not stop {}: {error}", self.name),
        }
    }
}

#[cfg(unix)]
#[allow(unsafe_code)] // one libc call, see SAFETY below
fn terminate(child: &tokio::process::Child) {
    if let Some(pid) = child.id().and_then(|pid| libc::pid_t::try_from(pid).ok()) {
        // SAFETY: kill(2) has no memory-safety preconditions; the pid is our own child, not yet reaped.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
}

#[cfg(not(unix))]
fn terminate(_child: &tokio::process::Child) {
    // No SIGTERM here: the caller kills the child once the grace period is over.
}
