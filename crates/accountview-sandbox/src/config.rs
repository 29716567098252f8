//! The sandbox's configuration: registered OAuth clients, token lifetimes, the rate limit and the data volume.
//!
//! Loaded from an optional TOML file (unknown keys are an error, so a typo does not silently fall back to a
//! default) and then overridden by command-line flags in `main.rs`.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The default registered client, so `cargo run -p accountview-sandbox` works with Koppel's dev settings.
pub const DEFAULT_CLIENT_ID: &str = "koppel-dev";
pub const DEFAULT_CLIENT_SECRET: &str = "koppel-dev-secret";
/// Koppel's callback route on its default port (`[accountview] redirect_url` in its default configuration).
pub const DEFAULT_REDIRECT_URIS: [&str; 2] = [
    "http://127.0.0.1:8080/accountview/callback",
    "http://localhost:8080/accountview/callback",
];
/// Debtors seeded in the main administration when no scale is given.
pub const DEFAULT_DEBTORS: usize = 200;
/// An upper bound that keeps a mistyped `--scale` from eating the machine's memory.
pub const MAX_DEBTORS: usize = 2_000_000;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxConfig {
    /// OAuth clients allowed to use the authorize and token endpoints.
    #[serde(default = "default_clients")]
    pub clients: Vec<ClientConfig>,
    /// Number of debtors seeded in the main company's administrations.
    #[serde(default = "default_debtors")]
    pub debtors: usize,
    #[serde(default)]
    pub tokens: TokenSettings,
    /// Requests per minute per client and company; 0 turns rate limiting off.
    #[serde(default = "default_rate_limit")]
    pub rate_limit_per_minute: u32,
    /// How many requests may come at once after a quiet spell (the token bucket's size); `None`: a whole
    /// minute's worth (`rate_limit_per_minute`). A small burst makes the limit a steady rate, as a benchmark of
    /// sustained throughput needs.
    #[serde(default)]
    pub rate_limit_burst: Option<u32>,
    /// Where state is kept across restarts; `None` keeps everything in memory only.
    #[serde(default)]
    pub state_file: Option<PathBuf>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            clients: default_clients(),
            debtors: DEFAULT_DEBTORS,
            tokens: TokenSettings::default(),
            rate_limit_per_minute: default_rate_limit(),
            rate_limit_burst: None,
            state_file: None,
        }
    }
}

/// A registered OAuth client. The secret is redacted in `Debug` so it never lands in a log.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    pub client_id: String,
    pub client_secret: String,
    /// Shown on the consent page.
    #[serde(default = "default_client_name")]
    pub name: String,
    /// Exact redirect URIs; the authorize endpoint compares them character for character (RFC 6749 §3.1.2).
    pub redirect_uris: Vec<String>,
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ClientConfig")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("name", &self.name)
            .field("redirect_uris", &self.redirect_uris)
            .finish()
    }
}

/// Token lifetimes and refresh-token rotation; also changeable at run time through `/_sandbox/tokens/settings`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSettings {
    #[serde(default = "default_access_token_seconds")]
    pub access_token_seconds: i64,
    #[serde(default = "default_refresh_token_seconds")]
    pub refresh_token_seconds: i64,
    /// When on, a refresh token dies when it is used and the answer carries a new one.
    #[serde(default = "default_rotate")]
    pub rotate_refresh_tokens: bool,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            access_token_seconds: default_access_token_seconds(),
            refresh_token_seconds: default_refresh_token_seconds(),
            rotate_refresh_tokens: default_rotate(),
        }
    }
}

fn default_clients() -> Vec<ClientConfig> {
    vec![ClientConfig {
        client_id: DEFAULT_CLIENT_ID.to_owned(),
        client_secret: DEFAULT_CLIENT_SECRET.to_owned(),
        name: default_client_name(),
        redirect_uris: DEFAULT_REDIRECT_URIS.iter().map(|uri| (*uri).to_owned()).collect(),
    }]
}

fn default_client_name() -> String {
    "Koppel".to_owned()
}

fn default_debtors() -> usize {
    DEFAULT_DEBTORS
}

fn default_rate_limit() -> u32 {
    600
}

fn default_access_token_seconds() -> i64 {
    3600
}

fn default_refresh_token_seconds() -> i64 {
    30 * 24 * 3600
}

fn default_rotate() -> bool {
    true
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {path} is not valid: {source}")]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl SandboxConfig {
    /// Reads a TOML config file; missing sections take their defaults.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source: Box::new(source),
        })
    }

    /// Checks what serde cannot: unique client ids, usable redirect URIs, positive lifetimes, a sane scale.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.clients.is_empty() {
            return Err(ConfigError::Invalid(
                "at least one OAuth client must be registered".into(),
            ));
        }
        for (position, client) in self.clients.iter().enumerate() {
            if client.client_id.trim().is_empty() || client.client_secret.is_empty() {
                return Err(ConfigError::Invalid(format!(
                    "client #{} needs a client_id and client_secret",
                    position + 1
                )));
            }
            if self.clients[..position]
                .iter()
                .any(|other| other.client_id == client.client_id)
            {
                return Err(ConfigError::Invalid(format!(
                    "client_id {} is registered twice",
                    client.client_id
                )));
            }
            if client.redirect_uris.is_empty() {
                return Err(ConfigError::Invalid(format!(
                    "client {} has no redirect_uris",
                    client.client_id
                )));
            }
            for uri in &client.redirect_uris {
                validate_redirect_uri(uri)
                    .map_err(|reason| ConfigError::Invalid(format!("client {}: {uri}: {reason}", client.client_id)))?;
            }
        }
        validate_token_settings(&self.tokens).map_err(ConfigError::Invalid)?;
        if self.rate_limit_burst == Some(0) {
            return Err(ConfigError::Invalid("rate_limit_burst must be at least 1".into()));
        }
        if self.debtors == 0 || self.debtors > MAX_DEBTORS {
            return Err(ConfigError::Invalid(format!(
                "debtors must be between 1 and {MAX_DEBTORS}"
            )));
        }
        Ok(())
    }

    pub fn client(&self, client_id: &str) -> Option<&ClientConfig> {
        self.clients.iter().find(|client| client.client_id == client_id)
    }
}

/// RFC 6749 §3.1.2: redirect URIs are absolute and carry no fragment.
fn validate_redirect_uri(uri: &str) -> Result<(), &'static str> {
    if !(uri.starts_with("http://") || uri.starts_with("https://")) {
        return Err("a redirect URI must be an absolute http(s) URI");
    }
    if uri.contains('#') {
        return Err("a redirect URI must not contain a fragment");
    }
    if uri.chars().any(|character| character.is_whitespace()) {
        return Err("a redirect URI must not contain whitespace");
    }
    Ok(())
}

pub fn validate_token_settings(settings: &TokenSettings) -> Result<(), String> {
    if settings.access_token_seconds < 1 || settings.refresh_token_seconds < 1 {
        return Err("token lifetimes must be at least one second".into());
    }
    // Ten years: beyond that chrono arithmetic is still fine, but it is certainly a typo.
    let ten_years = 10 * 366 * 24 * 3600;
    if settings.access_token_seconds > ten_years || settings.refresh_token_seconds > ten_years {
        return Err("token lifetimes must be at most ten years".into());
    }
    Ok(())
}
