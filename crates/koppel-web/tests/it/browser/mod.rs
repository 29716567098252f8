//! The back office in a real browser: headless Chromium driven through chromedriver (WebDriver).
//!
//! Needs Debian's `chromium` and `chromium-driver`. Without them the tests say loudly that they were
//! skipped, unless `KOPPEL_REQUIRE_BROWSER=1` (CI sets it), where a missing browser is a failure.
//! A failing scenario leaves a screenshot and the page source in `test-artifacts/` at the workspace root.

use fantoccini::{Client, ClientBuilder, Locator};
use koppel_test_support::app::{JobKind, TestAppBuilder};
use koppel_test_support::{TestApp, TestUser};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub(crate) type Outcome = Result<(), Box<dyn std::error::Error + Send + Sync>>;

macro_rules! check {
    ($condition:expr, $($message:tt)+) => {
        if !$condition {
            return Err(format!($($message)+).into());
        }
    };
}

/// A chromedriver process and one browser session on it.
pub(crate) struct Browser {
    driver: Child,
    pub(crate) client: Client,
    _profile: TempDir,
}

/// A fresh Chromium profile directory, removed afterwards.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

impl Browser {
    /// Starts chromedriver and a headless Chromium; `None` (after saying so) when they are missing.
    pub(crate) async fn start() -> Option<Browser> {
        let driver_path = std::env::var_os("KOPPEL_CHROMEDRIVER")
            .map(PathBuf::from)
            .or_else(|| find_program(&["chromedriver"]));
        let chromium = std::env::var_os("KOPPEL_CHROMIUM")
            .map(PathBuf::from)
            .or_else(|| find_program(&["chromium", "chromium-browser", "google-chrome"]));
        let (Some(driver_path), Some(chromium)) = (driver_path, chromium) else {
            let message = "chromium and chromedriver were not found: install Debian's `chromium` and \
                           `chromium-driver` (apt-get install -y chromium chromium-driver)";
            if std::env::var("KOPPEL_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
                panic!("{message}");
            }
            eprintln!("\n*** BROWSER TEST SKIPPED: {message} ***\n");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile = TempDir(std::env::temp_dir().join(format!("koppel-chromium-{}-{port}", std::process::id())));
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".to_string(),
            serde_json::json!({
                "binary": chromium,
                // A Dutch office: the login page follows the browser's language until a choice is made.
                "prefs": {"intl.accept_languages": "nl-NL,nl"},
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--no-first-run", "--disable-quic", "--window-size=1280,900", "--lang=nl-NL",
                    format!("--user-data-dir={}", profile.0.display()),
                ],
            }),
        );
        // chromedriver needs a moment to listen; its readiness is polled, not slept on.
        let url = format!("http://127.0.0.1:{port}");
        let mut last_error = None;
        for _ in 0..100 {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    return Some(Browser {
                        driver,
                        client,
                        _profile: profile,
                    });
                }
                Err(error) => {
                    last_error = Some(error.to_string());
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        panic!("chromedriver did not start a session: {last_error:?}");
    }

    pub(crate) async fn text(&self, css: &str) -> Result<String, fantoccini::error::CmdError> {
        self.client
            .wait()
            .at_most(Duration::from_secs(5))
            .for_element(Locator::Css(css))
            .await?
            .text()
            .await
    }

    /// Clicks something that loads a new page and waits until that page has loaded: the old
    /// document is marked first, so a check cannot run against the page being left.
    pub(crate) async fn click_and_load(&self, css: &str) -> Outcome {
        self.client
            .execute("document.documentElement.dataset.leaving = 'yes';", Vec::new())
            .await?;
        self.click(css).await?;
        for _ in 0..200 {
            let loaded = self
                .client
                .execute(
                    "return document.readyState === 'complete' && !document.documentElement.dataset.leaving;",
                    Vec::new(),
                )
                .await;
            if loaded.is_ok_and(|value| value == serde_json::Value::Bool(true)) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Err(format!("clicking {css} did not load a new page within 5 s").into())
    }

    pub(crate) async fn fill(&self, css: &str, value: &str) -> Result<(), fantoccini::error::CmdError> {
        let field = self.client.find(Locator::Css(css)).await?;
        field.clear().await?;
        field.send_keys(value).await
    }

    pub(crate) async fn click(&self, css: &str) -> Result<(), fantoccini::error::CmdError> {
        self.client.find(Locator::Css(css)).await?.click().await
    }

    pub(crate) async fn path(&self) -> Result<String, fantoccini::error::CmdError> {
        Ok(self.client.current_url().await?.path().to_string())
    }

    pub(crate) async fn log_in(&self, app: &TestApp, user: &TestUser, password: &str) -> Outcome {
        self.client.goto(&app.url("/login")).await?;
        self.fill("#email", &user.email).await?;
        self.fill("#password", password).await?;
        self.click_and_load("#login-submit").await?;
        Ok(())
    }

    /// Saves a screenshot and the page source for a failed scenario.
    pub(crate) async fn save_artifacts(&self, name: &str) {
        let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../test-artifacts");
        let _ = std::fs::create_dir_all(&folder);
        if let Ok(png) = self.client.screenshot().await {
            let _ = std::fs::write(folder.join(format!("{name}.png")), png);
        }
        if let Ok(source) = self.client.source().await {
            let _ = std::fs::write(folder.join(format!("{name}.html")), source);
        }
        eprintln!("browser artifacts of {name} are in {}", folder.display());
    }
}

/// Runs a scenario on every backend in a fresh browser; a failure keeps its screenshot and source.
pub(crate) async fn scenario<F, Fut>(name: &'static str, steps: F)
where
    F: Fn(TestApp, Browser) -> Fut,
    Fut: std::future::Future<Output = (TestApp, Browser, Outcome)>,
{
    scenario_with(name, |app| app, steps).await;
}

/// [`scenario`] with an app `setup` makes (with a worker, with the AccountView sandbox).
pub(crate) async fn scenario_with<S, F, Fut>(name: &'static str, setup: S, steps: F)
where
    S: Fn(TestAppBuilder) -> TestAppBuilder,
    F: Fn(TestApp, Browser) -> Fut,
    Fut: std::future::Future<Output = (TestApp, Browser, Outcome)>,
{
    TestApp::on_every_backend_with(setup, |app| {
        let steps = &steps;
        async move {
            let Some(browser) = Browser::start().await else {
                return app;
            };
            let backend = format!("{name}-{:?}", app.database.store().backend()).to_lowercase();
            let (app, browser, outcome) = steps(app, browser).await;
            if let Err(error) = outcome {
                browser.save_artifacts(&backend).await;
                let _ = browser.client.clone().close().await;
                panic!("{backend}: {error}");
            }
            let _ = browser.client.clone().close().await;
            drop(browser);
            app
        }
    })
    .await;
}


// The scenarios, one file per part of the back office; each help page has its own walk.
mod help_000_autosync;
mod help_001_settings_sync;
mod help_002_accountview;
mod scenarios;
mod ui_audit;
