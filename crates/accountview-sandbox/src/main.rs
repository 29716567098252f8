//! `accountview-sandbox`: starts the AccountView stand-in on a loopback port. Wiring only; the sandbox itself
//! lives in the library.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use accountview_sandbox::{ClientConfig, Sandbox, SandboxConfig};
use anyhow::Context;
use clap::Parser;
use tracing_subscriber::EnvFilter;

/// A loopback stand-in for AccountView.Net's OAuth sign-in and Web API v3.
#[derive(Debug, Parser)]
#[command(name = "accountview-sandbox", version)]
struct Arguments {
    /// Port on 127.0.0.1 (the sandbox never listens beyond loopback); 0 picks a free one.
    #[arg(long, env = "AV_SANDBOX_PORT", default_value_t = 9400)]
    port: u16,
    /// Number of debtors in the main company's administrations (e.g. 100000 for benchmarks).
    #[arg(long)]
    scale: Option<usize>,
    /// Keep state in this JSON file: loaded at start, written on change and at shutdown.
    #[arg(long, env = "AV_SANDBOX_STATE_FILE")]
    state_file: Option<PathBuf>,
    /// TOML file with registered clients, token settings, rate limit and scale.
    #[arg(long, env = "AV_SANDBOX_CONFIG")]
    config: Option<PathBuf>,
    /// Register (instead of the configured ones) a client with this id; needs --client-secret and --redirect-uri.
    #[arg(long, requires_all = ["client_secret", "redirect_uri"])]
    client_id: Option<String>,
    /// Secret of the client given with --client-id.
    #[arg(long, requires = "client_id")]
    client_secret: Option<String>,
    /// Redirect URI of the client given with --client-id; repeat for several.
    #[arg(long, requires = "client_id")]
    redirect_uri: Vec<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("accountview_sandbox=info")),
        )
        .init();
    let arguments = Arguments::parse();

    let mut config = match &arguments.config {
        Some(path) => SandboxConfig::from_file(path)?,
        None => SandboxConfig::default(),
    };
    if let Some(debtors) = arguments.scale {
        config.debtors = debtors;
    }
    if let Some(path) = arguments.state_file {
        config.state_file = Some(path);
    }
    if let (Some(client_id), Some(client_secret)) = (arguments.client_id, arguments.client_secret) {
        config.clients = vec![ClientConfig {
            client_id,
            client_secret,
            name: "Koppel".to_owned(),
            redirect_uris: arguments.redirect_uri,
        }];
    }

    let started = std::time::Instant::now();
    let sandbox = Sandbox::new(config.clone()).context("starting the sandbox")?;
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, arguments.port));
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("binding {address}"))?;
    let bound = listener.local_addr()?;

    println!(
        "AccountView sandbox listening on http://{bound} (ready in {} ms)",
        started.elapsed().as_millis()
    );
    println!("  debtors in the main administrations: {}", sandbox.debtors());
    for (login, password, name) in sandbox.logins() {
        println!("  login {login} / {password}  ({name})");
    }
    for client in &config.clients {
        println!("  client {} → {}", client.client_id, client.redirect_uris.join(", "));
    }
    println!("  control surface: http://{bound}/_sandbox");

    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
    };
    sandbox
        .serve_with_shutdown(listener, shutdown)
        .await
        .context("serving")?;
    Ok(())
}
