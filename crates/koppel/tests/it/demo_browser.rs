//! Help page 002 ("AccountView instellen") followed in a real browser on a fresh `koppel serve --demo`,
//! without any configuration file: Software-integraties → AccountView → Inloggen → the demo's own
//! AccountView (the sandbox) login and consent pages → back → choose the administration → Opslaan →
//! the log panel shows the import.
//!
//! The back office's own browser suite (`crates/koppel-web/tests/it/browser.rs`) cannot start the
//! binary (a library's tests cannot build the crate that depends on it), so this scenario lives with
//! the binary's tests, with a small copy of that suite's harness: headless Chromium through
//! chromedriver, skipped loudly when they are missing unless `KOPPEL_REQUIRE_BROWSER=1`.

use crate::cli::free_port;
use crate::demo::DemoServer;
use fantoccini::{Client, ClientBuilder, Locator};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

type Outcome = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// How long a page may take to load. Generous: CI runs this beside the whole suite on two cores, where
/// the demo's own start-up story and other tests' browsers compete for the same CPU.
const PAGE_LOAD_LIMIT: Duration = Duration::from_secs(30);

macro_rules! check {
    ($condition:expr, $($message:tt)+) => {
        if !$condition {
            return Err(format!($($message)+).into());
        }
    };
}

/// chromedriver and one headless Chromium session on it, with a throw-away profile.
struct Browser {
    driver: Child,
    client: Client,
    profile: PathBuf,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
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
    async fn start() -> Option<Browser> {
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
        let port = free_port();
        let driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile = std::env::temp_dir().join(format!("koppel-demo-chromium-{}-{port}", std::process::id()));
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".to_string(),
            serde_json::json!({
                "binary": chromium,
                "prefs": {"intl.accept_languages": "nl-NL,nl"},
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--no-first-run", "--disable-quic", "--window-size=1280,900", "--lang=nl-NL",
                    format!("--user-data-dir={}", profile.display()),
                ],
            }),
        );
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
                        profile,
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

    async fn text(&self, css: &str) -> Result<String, fantoccini::error::CmdError> {
        self.client
            .wait()
            .at_most(PAGE_LOAD_LIMIT)
            .for_element(Locator::Css(css))
            .await?
            .text()
            .await
    }

    async fn fill(&self, css: &str, value: &str) -> Result<(), fantoccini::error::CmdError> {
        let field = self.client.find(Locator::Css(css)).await?;
        field.clear().await?;
        field.send_keys(value).await
    }

    async fn path(&self) -> Result<String, fantoccini::error::CmdError> {
        Ok(self.client.current_url().await?.path().to_string())
    }

    /// Clicks something that loads a new page and waits until that page has loaded (the old document
    /// is marked first, so a check cannot run against the page being left).
    async fn click_and_load(&self, css: &str) -> Outcome {
        self.client
            .execute("document.documentElement.dataset.leaving = 'yes';", Vec::new())
            .await?;
        self.client.find(Locator::Css(css)).await?.click().await?;
        self.wait_for_load(css).await
    }

    async fn wait_for_load(&self, css: &str) -> Outcome {
        let deadline = std::time::Instant::now() + PAGE_LOAD_LIMIT;
        while std::time::Instant::now() < deadline {
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
        Err(format!("{css} did not load a new page within {PAGE_LOAD_LIMIT:?}").into())
    }

    async fn select(&self, css: &str, value: &str) -> Outcome {
        self.client
            .find(Locator::Css(css))
            .await?
            .select_by_value(value)
            .await?;
        Ok(())
    }

    async fn save_artifacts(&self, name: &str) {
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

/// Help page 002 step by step, on Van Dijk Utrecht (which the demo's story leaves unconnected).
async fn follow_help_page_002(browser: &Browser, server: &DemoServer) -> Outcome {
    let main = server.administration("Van Dijk Installatiegroep");
    let utrecht = server.administration("Van Dijk Utrecht");
    browser.client.goto(&format!("{}/login", server.url)).await?;
    browser.fill("#email", "anna.devries@vandijk.example").await?;
    browser.fill("#password", "VanDijk-Beheer-2026").await?;
    browser.click_and_load("#login-submit").await?;
    check!(
        browser.path().await? == format!("/a/{main}/settings"),
        "landed on {}",
        browser.path().await?
    );
    browser
        .client
        .find(Locator::Css("#admin-menu-button"))
        .await?
        .click()
        .await?;
    browser.click_and_load(&format!("#switch-to-{utrecht}")).await?;

    // "Ga naar Instellingen → Algemeen → Software-integraties. Open AccountView."
    browser.click_and_load("#nav-integrations").await?;
    browser
        .click_and_load("a[href$='/settings/integrations/accountview']")
        .await?;
    let page_path = format!("/a/{utrecht}/settings/integrations/accountview");
    check!(browser.path().await? == page_path, "on {}", browser.path().await?);
    let notice = browser.text("#av-sandbox").await?;
    check!(
        notice.contains("sandbox") && notice.contains("demo@vandenberg-installatie.nl"),
        "the page says it is the demo's sandbox, with its login: {notice}"
    );

    // "Als de integratie nog niet verbonden is, verschijnt het inlogscherm. Klik Inloggen."
    browser.click_and_load("#av-sign-in").await?;
    check!(
        browser.text("h1").await? == "Inloggen bij AccountView",
        "AccountView's login page"
    );
    // "Meld u aan met uw AccountView inloggegevens. Geef vervolgens OutSmart toestemming."
    browser.fill("#username", "demo@vandenberg-installatie.nl").await?;
    browser.fill("#password", "sandbox").await?;
    browser.click_and_load("button.primary").await?;
    check!(browser.text("h1").await? == "Toegang verlenen", "the consent page");
    browser.click_and_load("button[value='approve']").await?;

    // "Na een geslaagde aanmelding opent OutSmart opnieuw de AccountView-instellingenpagina."
    check!(browser.path().await? == page_path, "back on {}", browser.path().await?);
    let flash = browser.text("#flash").await?;
    check!(flash.contains("Verbonden met AccountView"), "connect message: {flash}");

    // "In Algemene instellingen, selecteer de administratie." Imports stay as offered (all on).
    browser.select("#av-company", accountview_sandbox::VDB_2026_ID).await?;
    // "Klik Opslaan."
    browser.click_and_load("#av-save").await?;
    let flash = browser.text("#flash").await?;
    check!(flash.contains("opgeslagen"), "save message: {flash}");

    // "Het logpaneel aan de rechterkant toont recente synchronisatie-activiteit."
    browser.click_and_load("#import-now-all").await?;
    let mut log = String::new();
    for _ in 0..300 {
        browser.client.goto(&format!("{}{page_path}", server.url)).await?;
        log = browser.text("#av-log").await?;
        if log.contains("Geslaagd") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    check!(
        log.contains("AccountView-import") && log.contains("Geslaagd"),
        "log panel: {log}"
    );
    Ok(())
}

#[tokio::test]
async fn help_page_002_on_a_fresh_demo_in_a_browser() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let directory = tempfile::tempdir().unwrap();
    let server = DemoServer::start(directory.path(), free_port(), None).await;
    let outcome = follow_help_page_002(&browser, &server).await;
    if let Err(error) = outcome {
        browser.save_artifacts("demo-help-page-002").await;
        let _ = browser.client.clone().close().await;
        panic!("{error}\n{}", server.logs());
    }
    let _ = browser.client.clone().close().await;
    server.stop().await;
}
