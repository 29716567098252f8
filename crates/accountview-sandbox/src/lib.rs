//! AccountView sandbox: a loopback stand-in for AccountView.Net's OAuth sign-in and Web API v3, implementing
//! the contract in `shared/docs/accountview.md` with seeded Dutch books, so Koppel's connector can be built,
//! tested, benchmarked and demonstrated without Visma.
//!
//! It is the other side of the wire and deliberately shares no types with Koppel: a contract mistake on either
//! side shows up as a failing test instead of being hidden by a shared struct.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let sandbox = accountview_sandbox::Sandbox::new(accountview_sandbox::SandboxConfig::default())?;
//! println!("listening on {}", listener.local_addr()?);
//! sandbox.serve(listener).await?;
//! # Ok(()) }
//! ```

mod api;
mod auth;
mod books;
mod catalog;
mod clock;
pub mod config;
mod control;
mod errors;
mod faults;
#[cfg(feature = "loopback")]
pub mod loopback;
mod oauth;
mod pages;
mod posting;
mod query;
mod seed;
mod server;
mod state;
mod value;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use tokio::net::TcpListener;

pub use config::{ClientConfig, ConfigError, SandboxConfig, TokenSettings};
pub use seed::{KSO_2026_ID, VDB_2025_ID, VDB_2026_ID};
pub use state::StateFileError;

use crate::state::{Shared, State as SandboxState, load_state_file};

/// How often changed state is written to the state file.
const SAVE_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    StateFile(#[from] StateFileError),
    #[error("serving failed: {0}")]
    Io(#[from] std::io::Error),
}

/// A ready-to-serve sandbox: configuration checked, state seeded or loaded.
#[derive(Clone, Debug)]
pub struct Sandbox {
    shared: Arc<Shared>,
}

impl Sandbox {
    /// Validates the configuration and loads the state file if there is one, otherwise seeds.
    pub fn new(config: SandboxConfig) -> Result<Self, SandboxError> {
        config.validate()?;
        let loaded = match &config.state_file {
            Some(path) => load_state_file(path)?,
            None => None,
        };
        let state = match loaded {
            Some(state) => {
                tracing::info!(state.file = ?config.state_file, "state loaded");
                state
            }
            None => SandboxState::seeded(config.debtors, config.tokens.clone(), config.rate_limit_per_minute),
        };
        Ok(Self {
            shared: Arc::new(Shared::new(config, state)),
        })
    }

    /// The HTTP routes: the authorize pages, the Web API and the control surface. Private on purpose: only
    /// [`Sandbox::serve`]'s accept loop gives requests the connection handle that keeps the control surface
    /// loopback-only and lets commit-then-timeout drop a connection.
    fn router(&self) -> Router {
        let api = Router::new()
            .route("/api/v3/token", post(oauth::token))
            .route("/api/v3/Companies", get(api::companies))
            .route("/api/v3/AccountViewSystemBusinessObjects", get(api::business_objects))
            .route("/api/v3/AccountViewData", get(api::read_data).post(api::write_data))
            .route_layer(axum::middleware::from_fn_with_state(
                Arc::clone(&self.shared),
                faults::inject,
            ));
        let pages = Router::new()
            .route("/", get(index))
            .route("/ams/authorize.aspx", get(oauth::authorize))
            .route("/ams/login.aspx", post(oauth::login))
            .route("/ams/consent.aspx", post(oauth::consent));
        let control = control::router().route_layer(axum::middleware::from_fn(control::loopback_only));
        Router::new()
            .merge(api)
            .merge(pages)
            .merge(control)
            .fallback(api::not_found)
            .method_not_allowed_fallback(api::method_not_allowed)
            .with_state(Arc::clone(&self.shared))
    }

    /// Serves on an already bound listener until the process ends.
    pub async fn serve(self, listener: TcpListener) -> Result<(), SandboxError> {
        self.serve_with_shutdown(listener, std::future::pending()).await
    }

    /// Serves until `shutdown` completes, then writes the state file (if configured) one last time.
    pub async fn serve_with_shutdown(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), SandboxError> {
        // The writer stops with this future, also when it is dropped rather than shut down.
        let saver = self
            .shared
            .state_file()
            .map(|_| AbortOnDrop(tokio::spawn(save_periodically(Arc::clone(&self.shared)))));
        server::run(listener, self.router(), shutdown).await;
        if saver.is_some() {
            drop(saver);
            self.save_now()?;
        }
        Ok(())
    }

    /// Writes the state file now, if one is configured.
    pub fn save_now(&self) -> Result<(), SandboxError> {
        self.shared.save_state_file(false)?;
        Ok(())
    }

    /// Debtors in the main administrations, as seeded or loaded.
    pub fn debtors(&self) -> usize {
        self.shared.read().debtors
    }

    /// Seeded logins with their passwords and names, for the start banner.
    pub fn logins(&self) -> Vec<(String, String, String)> {
        self.shared
            .read()
            .users
            .iter()
            .map(|user| (user.login.clone(), user.password.clone(), user.display_name.clone()))
            .collect()
    }
}

/// Binds nothing itself: serves a sandbox for `config` on a listener the caller bound (so tests can bind
/// `127.0.0.1:0` first and know the port before serving).
pub async fn serve(listener: TcpListener, config: SandboxConfig) -> Result<(), SandboxError> {
    Sandbox::new(config)?.serve(listener).await
}

/// Aborts a background task when dropped, tying its life to its owner's.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Writes the state file whenever something changed, at most once per interval, off the async workers.
async fn save_periodically(shared: Arc<Shared>) {
    let mut interval = tokio::time::interval(SAVE_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let worker = Arc::clone(&shared);
        let outcome = tokio::task::spawn_blocking(move || worker.save_state_file(true).map(drop)).await;
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::error!(error = %error, "writing the state file failed"),
            Err(error) => tracing::error!(error = %error, "the state-file writer panicked"),
        }
    }
}

async fn index(State(shared): State<Arc<Shared>>) -> Response {
    let logins: Vec<(String, String)> = shared
        .read()
        .users
        .iter()
        .map(|user| {
            (
                user.login.clone(),
                format!("{} (wachtwoord/password: {})", user.display_name, user.password),
            )
        })
        .collect();
    let client_ids: Vec<String> = shared
        .config
        .clients
        .iter()
        .map(|client| client.client_id.clone())
        .collect();
    pages::index(&logins, &client_ids)
}
