//! The sandbox as Koppel's tests, benchmarks and demo use it: started on a free loopback port in this
//! process and stopped when dropped ([`LoopbackSandbox`]), its control surface, and a browser's walk
//! through its login and consent pages ([`walk_consent`]). Only with the `loopback` feature, so the
//! sandbox's own binary carries no HTTP client.
//!
//! It knows nothing of Koppel: a caller names the OAuth client it registers and reads the callback
//! address the walk ends on.

use crate::config::ClientConfig;
use crate::{Sandbox, SandboxConfig, SandboxError};
use serde_json::Value as Json;

/// The password of every seeded sandbox login.
pub const PASSWORD: &str = "sandbox";

/// Why a loopback sandbox call did not go as a browser or a test expects.
#[derive(Debug, thiserror::Error)]
pub enum LoopbackError {
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    #[error("binding a loopback port failed: {0}")]
    Bind(#[from] std::io::Error),
    #[error("HTTP: {0}")]
    Http(#[from] reqwest::Error),
    #[error("{0}")]
    Unexpected(String),
}

/// The sandbox serving on `127.0.0.1:<free port>` until dropped.
pub struct LoopbackSandbox {
    base: String,
    http: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for LoopbackSandbox {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A configuration that knows one OAuth client with one callback, without a rate limit (tests and
/// benchmarks call faster than a real AccountView allows). Change `debtors` and the rest with struct
/// update syntax.
pub fn config_for_client(client_id: &str, client_secret: &str, redirect_uri: &str) -> SandboxConfig {
    SandboxConfig {
        clients: vec![ClientConfig {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            name: "Koppel (test)".into(),
            redirect_uris: vec![redirect_uri.into()],
        }],
        rate_limit_per_minute: 0,
        ..SandboxConfig::default()
    }
}

impl LoopbackSandbox {
    /// Binds a free loopback port first (so the address is known before serving), then serves there.
    pub async fn start(config: SandboxConfig) -> Result<LoopbackSandbox, LoopbackError> {
        let sandbox = Sandbox::new(config)?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let server = tokio::spawn(async move {
            if let Err(error) = sandbox.serve(listener).await {
                tracing::error!(error = %error, "the loopback sandbox stopped serving");
            }
        });
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(LoopbackSandbox {
            base: format!("http://{address}"),
            http,
            server,
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// A client with redirects off, as a browser's address bar sees each step.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Walks an authorize URL through login (as `login`, with the seeded password) and consent
    /// (`approve` or `deny`); returns where the sandbox sends the browser back to.
    pub async fn consent(&self, authorize_url: &str, login: &str, decision: &str) -> Result<String, LoopbackError> {
        walk_consent(&self.http, &self.base, authorize_url, (login, PASSWORD), decision).await
    }

    /// One call of the control surface (`/_sandbox/…`); an answer other than 2xx is an error.
    pub async fn control(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Json>,
    ) -> Result<Json, LoopbackError> {
        let mut request = self.http.request(method.clone(), format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status();
        let body: Json = response.json().await?;
        if !status.is_success() {
            return Err(LoopbackError::Unexpected(format!("{method} {path}: {status} {body}")));
        }
        Ok(body)
    }

    pub async fn post(&self, path: &str, body: Json) -> Result<Json, LoopbackError> {
        self.control(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Json) -> Result<Json, LoopbackError> {
        self.control(reqwest::Method::PUT, path, Some(body)).await
    }

    pub async fn get(&self, path: &str) -> Result<Json, LoopbackError> {
        self.control(reqwest::Method::GET, path, None).await
    }

    /// The request bodies of every committed sales invoice (`DJ2`), oldest first.
    pub async fn committed_invoices(&self) -> Result<Vec<Json>, LoopbackError> {
        let posted = self.get("/_sandbox/posted?business_object=DJ2&committed=true").await?;
        Ok(posted
            .as_array()
            .map(|posts| posts.iter().map(|post| post["request"].clone()).collect())
            .unwrap_or_default())
    }
}

/// The invoice number (`INV_NR`) of a committed sales invoice's request body.
pub fn invoice_number(request: &Json) -> Option<&str> {
    request["TableData"]["Data"]["Rows"][0]["Values"][2].as_str()
}

/// What a browser does on the sandbox's pages: opens the authorize URL (the login page), logs in
/// with `credentials` (login, password), then answers the consent page with `decision`
/// (`approve` or `deny`). Returns the address the sandbox redirects the browser to: the client's
/// callback with `code` or `error`, and `state`.
pub async fn walk_consent(
    http: &reqwest::Client,
    base: &str,
    authorize_url: &str,
    credentials: (&str, &str),
    decision: &str,
) -> Result<String, LoopbackError> {
    let (login, password) = credentials;
    let login_page = http.get(authorize_url).send().await?;
    if login_page.status() != reqwest::StatusCode::OK {
        return Err(LoopbackError::Unexpected(format!(
            "the login page answered {}",
            login_page.status()
        )));
    }
    let request_id = hidden_field(&login_page.text().await?, "request_id")?;
    let consent_page = http
        .post(format!("{base}/ams/login.aspx"))
        .form(&[
            ("request_id", request_id.as_str()),
            ("username", login),
            ("password", password),
        ])
        .send()
        .await?;
    if consent_page.status() != reqwest::StatusCode::OK {
        return Err(LoopbackError::Unexpected(format!(
            "logging in answered {}",
            consent_page.status()
        )));
    }
    let request_id = hidden_field(&consent_page.text().await?, "request_id")?;
    let answer = http
        .post(format!("{base}/ams/consent.aspx"))
        .form(&[("request_id", request_id.as_str()), ("decision", decision)])
        .send()
        .await?;
    if answer.status() != reqwest::StatusCode::FOUND {
        return Err(LoopbackError::Unexpected(format!(
            "the consent page answered {}",
            answer.status()
        )));
    }
    answer
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string)
        .ok_or_else(|| LoopbackError::Unexpected("the consent page sent the browser nowhere".into()))
}

/// The value of a hidden form field of one of the sandbox's pages.
fn hidden_field(html: &str, name: &str) -> Result<String, LoopbackError> {
    let marker = format!(r#"name="{name}" value=""#);
    let start = html
        .find(&marker)
        .ok_or_else(|| LoopbackError::Unexpected(format!("no {name} on the page: {html}")))?
        + marker.len();
    let end = html[start..]
        .find('"')
        .ok_or_else(|| LoopbackError::Unexpected(format!("{name} does not end")))?;
    Ok(html[start..start + end].to_owned())
}
