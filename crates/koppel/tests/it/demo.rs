//! `koppel serve --demo` as a new user meets it: a fresh directory, no configuration file, the real
//! binary, and only HTTP. The demo brings its own AccountView (the sandbox, in the same process):
//! signing in at its login and consent pages connects a branch, an import runs, and after a restart
//! the connection is still readable (the stored tokens decrypt with the kept key, and the sandbox
//! still knows them, also when the access token has expired and the refresh token is needed). The
//! demo's story is there on the first start: Autosync and a readable feed on the main, and Zwolle's
//! log panel with an invoice AccountView refused in its own words. Should the sandbox lose its state,
//! the connection reports expired authentication instead of failing obscurely.

use crate::cli::{free_port, koppel};
use koppel_accountview::ImportCategory;
use reqwest::StatusCode;
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ANNA: (&str, &str) = ("anna.devries@vandijk.example", "VanDijk-Beheer-2026");
const SANDBOX_LOGIN: (&str, &str) = ("demo@vandenberg-installatie.nl", "sandbox");
const VDB_2026_ID: &str = accountview_sandbox::VDB_2026_ID;
const PAGE: &str = "settings/integrations/accountview";

/// A running `koppel serve --demo`, its standard output and its logs.
pub struct DemoServer {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    pub url: String,
}

fn collect(stream: impl std::io::Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = text.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            let mut text = sink.lock().expect("output");
            text.push_str(&line);
            text.push('\n');
        }
    });
    text
}

impl DemoServer {
    /// Starts the demo in `directory` (its `./data`, or `database_url`) and waits until it is ready.
    pub async fn start(directory: &Path, port: u16, database_url: Option<&str>) -> DemoServer {
        let mut command = koppel();
        command
            .args(["serve", "--demo", "--port", &port.to_string()])
            .current_dir(directory)
            .env("KOPPEL_JOBS_POLL_INTERVAL_MS", "100")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(url) = database_url {
            command.env("KOPPEL_DATABASE_URL", url);
        }
        let mut child = command.spawn().expect("spawn koppel serve --demo");
        let stdout = collect(child.stdout.take().expect("stdout"));
        let stderr = collect(child.stderr.take().expect("stderr"));
        let mut server = DemoServer {
            child,
            stdout,
            stderr,
            url: format!("http://127.0.0.1:{port}"),
        };
        server.wait_ready().await;
        server
    }

    async fn wait_ready(&mut self) {
        let client = reqwest::Client::new();
        // Seeding the demo in a debug build on a busy machine takes a while; bounded, not timed.
        let deadline = Instant::now() + Duration::from_secs(240);
        loop {
            if let Ok(response) = client.get(format!("{}/readyz", self.url)).send().await
                && response.status().is_success()
            {
                return;
            }
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                panic!("koppel serve --demo exited ({status}):\n{}", self.logs());
            }
            assert!(Instant::now() < deadline, "not ready:\n{}", self.logs());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn stdout(&self) -> String {
        self.stdout.lock().expect("stdout").clone()
    }

    pub fn logs(&self) -> String {
        format!(
            "--- stdout\n{}--- stderr\n{}",
            self.stdout(),
            self.stderr.lock().expect("stderr")
        )
    }

    /// The line of standard output that starts with `prefix` (after spaces), without it.
    pub fn printed(&self, prefix: &str) -> String {
        let stdout = self.stdout();
        stdout
            .lines()
            .map(str::trim_start)
            .find_map(|line| line.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no line starting with {prefix:?} in:\n{stdout}"))
            .to_string()
    }

    /// An administration's id as the first start printed it.
    pub fn administration(&self, name: &str) -> i64 {
        let rest = self.printed(&format!("administration {name} ("));
        rest.split("id ")
            .nth(1)
            .and_then(|id| id.trim_end_matches(')').parse().ok())
            .unwrap_or_else(|| panic!("no id in {rest}"))
    }

    /// The embedded sandbox's address, as printed.
    pub fn sandbox(&self) -> String {
        let rest = self.printed("AccountView: the demo's own sandbox at ");
        rest.split_whitespace().next().expect("an address").to_string()
    }

    /// The feed's user name, token and URL from the printed `curl` line.
    pub fn feed(&self) -> (String, String, String) {
        let rest = self.printed("curl -u '");
        let (credentials, url) = rest.split_once("' '").expect("curl -u 'user:token' 'url'");
        let (user, token) = credentials.split_once(':').expect("user:token");
        (user.into(), token.into(), url.trim_end_matches('\'').into())
    }

    /// SIGTERM, and a clean exit.
    pub async fn stop(mut self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(60);
        let exit = loop {
            if let Some(exit) = self.child.try_wait().expect("try_wait") {
                break exit;
            }
            assert!(Instant::now() < deadline, "no exit after SIGTERM:\n{}", self.logs());
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert!(exit.success(), "exit {exit:?}:\n{}", self.logs());
    }
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A browser stand-in for Koppel: keeps its cookies, never follows redirects.
struct Visitor {
    http: reqwest::Client,
    base: String,
    cookies: BTreeMap<String, String>,
}

struct Page {
    status: StatusCode,
    location: Option<String>,
    body: String,
}

impl Page {
    fn hidden(&self, name: &str) -> String {
        hidden_field(&self.body, name)
    }
}

fn hidden_field(html: &str, name: &str) -> String {
    let marker = format!(r#"name="{name}" value=""#);
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no hidden {name} in:\n{html}"))
        + marker.len();
    let end = html[start..].find('"').expect("closing quote") + start;
    html[start..end].replace("&amp;", "&")
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

impl Visitor {
    fn new(base: &str) -> Visitor {
        Visitor {
            http: client(),
            base: base.to_string(),
            cookies: BTreeMap::new(),
        }
    }

    fn url(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with("http") {
            path_or_url.to_string()
        } else {
            format!("{}{path_or_url}", self.base)
        }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let cookies = self
            .cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ");
        let response = request
            .header(reqwest::header::COOKIE, cookies)
            .send()
            .await
            .expect("request");
        for value in response.headers().get_all(reqwest::header::SET_COOKIE) {
            let text = value.to_str().expect("ascii cookie");
            let (name, value) = text.split(';').next().unwrap().split_once('=').unwrap();
            if text.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_string(), value.to_string());
            }
        }
        Page {
            status: response.status(),
            location: response
                .headers()
                .get(reqwest::header::LOCATION)
                .map(|value| value.to_str().unwrap().to_string()),
            body: response.text().await.expect("body"),
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        let request = self.http.get(self.url(path));
        self.send(request).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let request = self.http.post(self.url(path)).form(form);
        self.send(request).await
    }

    async fn json(&mut self, path: &str) -> Json {
        let page = self.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
        serde_json::from_str(&page.body).expect("json")
    }

    async fn log_in(&mut self, (email, password): (&str, &str)) {
        let form = self.get("/login").await;
        let csrf = form.hidden("csrf");
        let page = self
            .post(
                "/login",
                &[("csrf", &csrf), ("email", email), ("password", password), ("next", "/")],
            )
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    }

    /// Waits until the administration has `count` runs of `kind` that finished as `status`.
    async fn wait_for_runs(&mut self, administration: i64, kind: &str, status: &str, count: usize) -> Json {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let runs = self
                .json(&format!("/api/v1/administrations/{administration}/runs?kind={kind}"))
                .await;
            let matching: Vec<&Json> = runs["items"]
                .as_array()
                .expect("items")
                .iter()
                .filter(|run| run["status"] == status)
                .collect();
            if matching.len() >= count {
                return matching[0].clone();
            }
            assert!(
                Instant::now() < deadline,
                "no {count} {status} {kind} runs in administration {administration}: {runs}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// The sandbox's pages, as a browser on them: login, then consent. Returns Koppel's callback URL.
async fn sign_in_at_sandbox(authorize: &str, sandbox: &str) -> String {
    let http = client();
    let login = http.get(authorize).send().await.expect("authorize");
    assert_eq!(login.status(), StatusCode::OK);
    let login = login.text().await.unwrap();
    assert!(login.contains("Inloggen bij AccountView"), "{login}");
    let consent = http
        .post(format!("{sandbox}/ams/login.aspx"))
        .form(&[
            ("request_id", hidden_field(&login, "request_id").as_str()),
            ("username", SANDBOX_LOGIN.0),
            ("password", SANDBOX_LOGIN.1),
        ])
        .send()
        .await
        .expect("login");
    assert_eq!(consent.status(), StatusCode::OK);
    let consent = consent.text().await.unwrap();
    assert!(consent.contains("Toegang verlenen"), "{consent}");
    let back = http
        .post(format!("{sandbox}/ams/consent.aspx"))
        .form(&[
            ("request_id", hidden_field(&consent, "request_id").as_str()),
            ("decision", "approve"),
        ])
        .send()
        .await
        .expect("consent");
    assert_eq!(back.status(), StatusCode::FOUND);
    back.headers()["location"].to_str().unwrap().to_string()
}

async fn http_scenario(database_url: Option<&str>) {
    let directory = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = DemoServer::start(directory.path(), port, database_url).await;
    let printed = server.stdout();
    for text in [ANNA.0, ANNA.1, SANDBOX_LOGIN.0, "mark.jansen@vandijk.example"] {
        assert!(printed.contains(text), "{text} is not printed:\n{printed}");
    }
    let utrecht = server.administration("Van Dijk Utrecht");
    let zwolle = server.administration("Van Dijk Zwolle");
    let main = server.administration("Van Dijk Installatiegroep");
    let sandbox = server.sandbox();
    let (feed_user, feed_token, feed_url) = server.feed();
    assert_eq!(feed_user, format!("koppel-{main}"));
    assert!(feed_url.starts_with(&server.url), "{feed_url}");
    let key = std::fs::read_to_string(directory.path().join("data/accountview-demo.key")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(directory.path().join("data/accountview-demo.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the key is readable by its owner only");
    }

    let mut visitor = Visitor::new(&server.url);
    visitor.log_in(ANNA).await;

    // The main's story: Autosync on, its first sync done, so the printed curl line reads the feed.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let response = client()
            .get(&feed_url)
            .basic_auth(&feed_user, Some(&feed_token))
            .send()
            .await
            .unwrap();
        // Before the first sync has committed, the feed says so (409 `not_synced_yet`); the token
        // itself is accepted either way (never 401 or 403).
        let status = response.status();
        let body: Json = response.json().await.unwrap();
        match status {
            StatusCode::OK if body["value"].as_array().map(Vec::len) == Some(3) => break,
            StatusCode::OK => {}
            StatusCode::CONFLICT => {
                assert_eq!(body["error"]["code"], "not_synced_yet", "{body}");
            }
            other => panic!("the printed feed token should open the feed, got {other}: {body}"),
        }
        assert!(
            Instant::now() < deadline,
            "the first sync did not show up in the feed: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let datasync = visitor.json(&format!("/api/v1/administrations/{main}/datasync")).await;
    assert_eq!(datasync["autosync"], true, "{datasync}");

    // Zwolle's story: connected, imported, exported, one invoice refused by AccountView.
    visitor
        .wait_for_runs(zwolle, "accountview_import", "succeeded", 1)
        .await;
    visitor
        .wait_for_runs(zwolle, "accountview_export", "partially_succeeded", 1)
        .await;
    let zwolle_page = visitor.get(&format!("/a/{zwolle}/{PAGE}")).await;
    assert_eq!(zwolle_page.status, StatusCode::OK);
    assert!(
        zwolle_page.body.contains("debiteur D10001 bestaat niet"),
        "AccountView's own message in Zwolle's log panel:\n{}",
        zwolle_page.body
    );

    // Help page 002 on Utrecht, which the story left unconnected.
    let page_path = format!("/a/{utrecht}/{PAGE}");
    let page = visitor.get(&page_path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains(r#"id="av-sandbox""#),
        "the sandbox is named:\n{}",
        page.body
    );
    assert!(page.body.contains(SANDBOX_LOGIN.0), "{}", page.body);
    assert!(page.body.contains(r#"id="av-sign-in""#), "{}", page.body);
    let status = visitor
        .json(&format!("/api/v1/administrations/{utrecht}/accountview"))
        .await;
    assert_eq!(status["status"], "not_connected", "{status}");
    let started = visitor
        .post(&format!("{page_path}/sign-in"), &[("csrf", &page.hidden("csrf"))])
        .await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
    let authorize = started.location.expect("to AccountView's login page");
    assert!(
        authorize.starts_with(&format!("{sandbox}/ams/authorize.aspx")),
        "{authorize}"
    );
    let callback = sign_in_at_sandbox(&authorize, &sandbox).await;
    assert!(
        callback.starts_with(&format!("{}/accountview/callback?", server.url)),
        "back to Koppel's callback on the port it listens on: {callback}"
    );
    let back = visitor.get(&callback).await;
    assert_eq!(back.status, StatusCode::SEE_OTHER, "{}", back.body);
    assert_eq!(back.location.as_deref(), Some(page_path.as_str()));
    let page = visitor.get(&page_path).await;
    assert!(page.body.contains("Verbonden met AccountView"), "{}", page.body);
    assert!(
        page.body.contains(VDB_2026_ID),
        "the administrations to choose from:\n{}",
        page.body
    );

    // Choose the administration and save, with every import category on (as the form shows them).
    let csrf = page.hidden("csrf");
    let mut form = vec![("csrf", csrf.as_str()), ("company", VDB_2026_ID), ("action", "save")];
    form.extend(
        ImportCategory::ALL
            .iter()
            .map(|category| ("import_category", category.slug())),
    );
    let saved = visitor.post(&format!("{page_path}/settings"), &form).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let status = visitor
        .json(&format!("/api/v1/administrations/{utrecht}/accountview"))
        .await;
    assert_eq!(status["status"], "connected", "{status}");
    assert_eq!(status["company"]["code"], "VDB26", "{status}");

    // Import now, and see it finish.
    let page = visitor.get(&page_path).await;
    let import = visitor
        .post(&format!("{page_path}/import"), &[("csrf", &page.hidden("csrf"))])
        .await;
    assert_eq!(import.status, StatusCode::SEE_OTHER, "{}", import.body);
    visitor
        .wait_for_runs(utrecht, "accountview_import", "succeeded", 1)
        .await;
    server.stop().await;

    // A restart: the same key, the sandbox's kept state, the same logins and feed token printed.
    let server = DemoServer::start(directory.path(), port, database_url).await;
    let again = server.stdout();
    assert!(again.contains(ANNA.1) && again.contains(SANDBOX_LOGIN.0), "{again}");
    assert!(!again.contains("seeded"), "seeded only once:\n{again}");
    assert_eq!(server.feed().1, feed_token, "the same feed token");
    assert_eq!(
        std::fs::read_to_string(directory.path().join("data/accountview-demo.key")).unwrap(),
        key
    );
    let sandbox = server.sandbox();
    let status = visitor
        .json(&format!("/api/v1/administrations/{utrecht}/accountview"))
        .await;
    assert_eq!(status["status"], "connected", "{status}");
    // Let the sandbox expire the access token, so the next import has to use the refresh token.
    let expired = client()
        .post(format!("{sandbox}/_sandbox/tokens/expire"))
        .json(&serde_json::json!({"access": true}))
        .send()
        .await
        .unwrap();
    assert!(expired.status().is_success());
    let page = visitor.get(&page_path).await;
    assert!(page.body.contains(r#"id="av-connected""#), "{}", page.body);
    let import = visitor
        .post(&format!("{page_path}/import"), &[("csrf", &page.hidden("csrf"))])
        .await;
    assert_eq!(import.status, StatusCode::SEE_OTHER, "{}", import.body);
    visitor
        .wait_for_runs(utrecht, "accountview_import", "succeeded", 2)
        .await;
    let status = visitor
        .json(&format!("/api/v1/administrations/{utrecht}/accountview"))
        .await;
    assert_eq!(status["status"], "connected", "{status}");
    server.stop().await;

    // Should the sandbox forget everything (its state file deleted), the stored tokens still
    // decrypt, AccountView refuses them, and the connection says so instead of failing obscurely.
    std::fs::remove_file(directory.path().join("data/accountview-sandbox.json")).unwrap();
    let server = DemoServer::start(directory.path(), port, database_url).await;
    // Opening the page asks AccountView for the administrations: the refused token and refresh
    // token mark the connection expired, and the page offers to log in again.
    let page = visitor.get(&page_path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains(r#"id="av-expired""#) && page.body.contains("Authenticatie verlopen"),
        "{}",
        page.body
    );
    let status = visitor
        .json(&format!("/api/v1/administrations/{utrecht}/accountview"))
        .await;
    assert_eq!(status["status"], "authentication_expired", "{status}");
    // An import is not even queued; the user is told to connect again.
    let import = visitor
        .post(&format!("{page_path}/import"), &[("csrf", &page.hidden("csrf"))])
        .await;
    assert_eq!(import.status, StatusCode::SEE_OTHER, "{}", import.body);
    let page = visitor.get(&page_path).await;
    assert!(page.body.contains(r#"id="av-sign-in""#), "{}", page.body);
    let runs = visitor
        .json(&format!(
            "/api/v1/administrations/{utrecht}/runs?kind=accountview_import"
        ))
        .await;
    assert_eq!(runs["items"].as_array().map(Vec::len), Some(2), "{runs}");
    server.stop().await;
}

#[tokio::test]
async fn serve_demo_connects_to_its_own_accountview_and_stays_connected_after_a_restart() {
    // The default: SQLite in the fresh directory's ./data, no configuration at all.
    http_scenario(None).await;
    match koppel_test_support::TestDatabase::postgres().await {
        Some(database) => {
            http_scenario(Some(database.url())).await;
            database.cleanup().await;
        }
        None => eprintln!("PostgreSQL part skipped: KOPPEL_TEST_DATABASE_URL is not set"),
    }
}
