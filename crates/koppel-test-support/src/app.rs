//! `TestApp`: Koppel's web layer on a real socket (bound before serving, no sleeps) over a fresh
//! database with a seeded [`Fixture`], with typed helpers per endpoint, and on request a job worker
//! beside it (as `koppel serve` runs one) and the AccountView sandbox behind it. Only with the `app`
//! feature; koppel-web's tests turn it on.
//!
//! ```no_run
//! # async fn example() {
//! use koppel_test_support::accountview::DEMO_USER;
//! use koppel_test_support::app::JobKind;
//! use koppel_test_support::{TestApp, TestDatabase};
//!
//! // The plain app, once per configured backend.
//! TestApp::on_every_backend(|app| async move {
//!     let token = app.token(&app.fixture.admin).await;
//!     let status = app.datasync_status(&token, app.fixture.sub1).await;
//!     assert_eq!(status.status, 200);
//!     app
//! })
//! .await;
//!
//! // With the AccountView sandbox and a worker that runs its imports and exports.
//! let app = TestApp::builder(TestDatabase::sqlite().await)
//!     .with_sandbox()
//!     .with_worker([JobKind::AccountView])
//!     .spawn()
//!     .await;
//! let token = app.token(&app.fixture.admin).await;
//! let started = app.accountview_sign_in(&token, app.fixture.main).await;
//! let url = started.body["authorize_url"].as_str().expect("AccountView's address");
//! let back = app.sandbox().consent(url, DEMO_USER, "approve").await;
//! assert!(back.starts_with(&app.url("/accountview/callback")));
//! app.stop().await;
//! # }
//! ```

use crate::accountview::TestSandbox;
use crate::{Fixture, TestDatabase, TestUser};
use koppel_accountview::AccountView;
use koppel_domain::AdministrationId;
use koppel_jobs::testing::BackgroundWorker;
use koppel_jobs::{Queue, Registry};
use koppel_store::Store;
use koppel_web::{AppState, WebConfig};
use reqwest::{Method, StatusCode};
use serde_json::{Value as Json, json};
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

/// How often a job is attempted in tests before it fails for good (as the tests' queues always had).
const MAX_ATTEMPTS: i64 = 3;

/// Query parameters of a request, as name and value; `&[]` for none.
pub type Query<'a> = &'a [(&'a str, &'a str)];

/// An answer: status, headers and the body parsed as JSON (null when empty or not JSON).
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Json,
}

impl Answer {
    /// The stable error code of an error envelope.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

/// The job kinds a test's worker runs, registered as `koppel serve`'s worker registers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// `data_sync`, keeping 6 hours of superseded snapshots.
    DataSync,
    /// `settings_sync`.
    SettingsSync,
    /// `accountview_import` and `accountview_export` with the app's connector; needs
    /// [`TestAppBuilder::with_sandbox`].
    AccountView,
}

/// What a [`TestApp`] starts with; made by [`TestApp::builder`], started by [`TestAppBuilder::spawn`].
pub struct TestAppBuilder {
    database: TestDatabase,
    config: WebConfig,
    worker: Option<Vec<JobKind>>,
    sandbox: bool,
}

impl TestAppBuilder {
    /// The web layer's configuration (default: [`WebConfig::default`]).
    pub fn config(mut self, config: WebConfig) -> TestAppBuilder {
        self.config = config;
        self
    }

    /// A job worker beside the web server running `kinds`, made by `koppel_jobs::testing::worker`
    /// (it polls every 50 ms) and stopped by [`TestApp::stop`]. Calling this again adds kinds.
    pub fn with_worker(mut self, kinds: impl IntoIterator<Item = JobKind>) -> TestAppBuilder {
        self.worker.get_or_insert_with(Vec::new).extend(kinds);
        self
    }

    /// The AccountView integration, pointed at a sandbox of the app's own ([`TestApp::sandbox`])
    /// that knows the app's callback address; the connector is [`TestApp::accountview`].
    pub fn with_sandbox(mut self) -> TestAppBuilder {
        self.sandbox = true;
        self
    }

    /// Seeds the fixture, starts the sandbox (when asked), serves, and starts the worker (when asked).
    pub async fn spawn(self) -> TestApp {
        // Bound first: its address is the AccountView callback the sandbox must know.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free loopback port");
        let address = listener.local_addr().expect("the listener's address");
        let store = self.database.store().clone();
        let fixture = Fixture::create(&store).await;
        let (sandbox, accountview) = if self.sandbox {
            let callback = format!("http://{address}/accountview/callback");
            let sandbox = TestSandbox::start(&callback).await;
            let connector = sandbox.connector(&store, &callback);
            (Some(sandbox), Some(connector))
        } else {
            (None, None)
        };
        let mut state = AppState::new(store.clone(), self.config);
        if let Some(accountview) = &accountview {
            state = state.with_accountview(accountview.clone());
        }
        let (shutdown, signal) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            koppel_web::serve(listener, state, async move {
                let _ = signal.await;
            })
            .await
            .expect("the server runs");
        });
        let worker = self.worker.map(|kinds| {
            let registry = registry(&kinds, accountview.as_ref());
            koppel_jobs::testing::worker(&Queue::new(store.clone(), MAX_ATTEMPTS), registry).spawn()
        });
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client");
        TestApp {
            address,
            client,
            database: self.database,
            fixture,
            sandbox,
            accountview,
            worker,
            shutdown: Some(shutdown),
            server: Some(server),
        }
    }
}

/// The registry of `kinds`; AccountView's kinds use `accountview`.
fn registry(kinds: &[JobKind], accountview: Option<&AccountView>) -> Registry {
    let mut registry = Registry::new();
    for kind in kinds {
        match kind {
            JobKind::DataSync => {
                registry.register(koppel_datasync::DataSync::new(chrono::Duration::hours(6)));
            }
            JobKind::SettingsSync => {
                registry.register(koppel_settingsync::job::SettingsSyncJob);
            }
            JobKind::AccountView => {
                let accountview = accountview.expect("JobKind::AccountView needs TestAppBuilder::with_sandbox");
                registry.register(koppel_accountview::import::ImportJob {
                    accountview: accountview.clone(),
                });
                registry.register(koppel_accountview::export::ExportJob {
                    accountview: accountview.clone(),
                });
            }
        }
    }
    registry
}

/// Koppel's web layer on a real socket over a fresh database with a seeded fixture. Stop it with
/// [`TestApp::stop`], which also removes the database.
pub struct TestApp {
    pub address: SocketAddr,
    /// Follows no redirects: tests assert on them.
    pub client: reqwest::Client,
    pub database: TestDatabase,
    pub fixture: Fixture,
    sandbox: Option<TestSandbox>,
    accountview: Option<AccountView>,
    worker: Option<BackgroundWorker>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

/// Starting and stopping.
impl TestApp {
    /// An app over `database` with the default configuration, no worker and no AccountView; change
    /// that with the builder's methods, then [`TestAppBuilder::spawn`] it.
    pub fn builder(database: TestDatabase) -> TestAppBuilder {
        TestAppBuilder {
            database,
            config: WebConfig::default(),
            worker: None,
            sandbox: false,
        }
    }

    pub async fn spawn(database: TestDatabase) -> TestApp {
        Self::builder(database).spawn().await
    }

    pub async fn spawn_with(database: TestDatabase, config: WebConfig) -> TestApp {
        Self::builder(database).config(config).spawn().await
    }

    /// Runs `test` against a plain app on every configured backend.
    pub async fn on_every_backend<F, Fut>(test: F)
    where
        F: Fn(TestApp) -> Fut,
        Fut: Future<Output = TestApp>,
    {
        Self::on_every_backend_with(|app| app, test).await;
    }

    /// Runs `test` against an app `setup` makes from the builder, on every configured backend.
    pub async fn on_every_backend_with<S, F, Fut>(setup: S, test: F)
    where
        S: Fn(TestAppBuilder) -> TestAppBuilder,
        F: Fn(TestApp) -> Fut,
        Fut: Future<Output = TestApp>,
    {
        for database in TestDatabase::all().await {
            let app = test(setup(TestApp::builder(database)).spawn().await).await;
            app.stop().await;
        }
    }

    /// Stops the worker (letting its running job end), the server and the sandbox, then removes the
    /// database.
    pub async fn stop(mut self) {
        if let Some(worker) = self.worker.take() {
            worker.stop().await;
        }
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        drop(self.sandbox.take());
        self.database.cleanup().await;
    }

    /// The AccountView sandbox behind the app. Panics unless it was built `with_sandbox()`.
    pub fn sandbox(&self) -> &TestSandbox {
        self.sandbox.as_ref().expect("the app was built with_sandbox()")
    }

    /// The AccountView connector the app (and its worker) use. Panics unless it was built
    /// `with_sandbox()`.
    pub fn accountview(&self) -> &AccountView {
        self.accountview.as_ref().expect("the app was built with_sandbox()")
    }

    /// Runs every due job of `kinds` until none is due, as a worker of `koppel serve` would, for tests
    /// that decide when jobs run; returns how many attempts ran.
    pub async fn run_jobs(&self, kinds: impl IntoIterator<Item = JobKind>) -> usize {
        let kinds: Vec<JobKind> = kinds.into_iter().collect();
        let queue = Queue::new(self.store().clone(), MAX_ATTEMPTS);
        koppel_jobs::testing::worker(&queue, registry(&kinds, self.accountview.as_ref()))
            .run_until_idle()
            .await
            .expect("the jobs run")
    }
}

/// Requests in general.
impl TestApp {
    pub fn store(&self) -> &Store {
        self.database.store()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    /// The path and query of `location`, a URL on this app (the callback AccountView sent the
    /// browser to, say).
    pub fn local(&self, location: &str) -> String {
        let prefix = self.url("");
        location
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("{location} is not on {prefix}"))
            .to_string()
    }

    /// An API token for a fixture user.
    pub async fn token(&self, user: &TestUser) -> String {
        let (_, secret) = self
            .store()
            .create_api_token(user.id, "tests")
            .await
            .expect("an API token");
        secret
    }

    pub async fn request(&self, method: Method, path: &str, token: Option<&str>, body: Option<&Json>) -> Answer {
        self.call(method, path, &[], token, body).await
    }

    /// A request with query parameters (encoded), as `token` when given, with `body` as JSON when given.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        query: Query<'_>,
        token: Option<&str>,
        body: Option<&Json>,
    ) -> Answer {
        let mut request = self.client.request(method, self.url(path));
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        Self::answer(request.send().await.expect("the request is answered")).await
    }

    pub async fn answer(response: reqwest::Response) -> Answer {
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("the body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Json::Null);
        Answer { status, headers, body }
    }

    pub async fn get(&self, token: &str, path: &str) -> Answer {
        self.request(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, token: &str, path: &str, body: &Json) -> Answer {
        self.request(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn put(&self, token: &str, path: &str, body: &Json) -> Answer {
        self.request(Method::PUT, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, token: &str, path: &str, body: &Json) -> Answer {
        self.request(Method::PATCH, path, Some(token), Some(body)).await
    }

    pub async fn delete(&self, token: &str, path: &str) -> Answer {
        self.request(Method::DELETE, path, Some(token), None).await
    }
}

fn administration_path(administration: AdministrationId, rest: &str) -> String {
    format!("/api/v1/administrations/{administration}{rest}")
}

/// Records: `/api/v1/administrations/{administration}/{resource}`.
impl TestApp {
    /// Lists a resource's records (`slug` as in the path: `relations`, `work-orders`, …).
    pub async fn records(&self, token: &str, administration: AdministrationId, slug: &str, query: Query<'_>) -> Answer {
        let path = administration_path(administration, &format!("/{slug}"));
        self.call(Method::GET, &path, query, Some(token), None).await
    }

    pub async fn create_record(
        &self,
        token: &str,
        administration: AdministrationId,
        slug: &str,
        body: &Json,
    ) -> Answer {
        self.post(token, &administration_path(administration, &format!("/{slug}")), body)
            .await
    }
}

/// Data Sync: `/api/v1/administrations/{administration}/datasync`.
impl TestApp {
    /// Autosync, data freshness, the feed's address.
    pub async fn datasync_status(&self, token: &str, administration: AdministrationId) -> Answer {
        self.get(token, &administration_path(administration, "/datasync")).await
    }

    pub async fn set_autosync(&self, token: &str, administration: AdministrationId, enabled: bool) -> Answer {
        let path = administration_path(administration, "/datasync/autosync");
        self.put(token, &path, &json!({"enabled": enabled})).await
    }

    /// Sync now (`/sync`), or a full resync (`/full-resync`) when `full`.
    pub async fn sync_now(&self, token: &str, administration: AdministrationId, full: bool) -> Answer {
        let rest = if full {
            "/datasync/full-resync"
        } else {
            "/datasync/sync"
        };
        self.post(token, &administration_path(administration, rest), &json!({}))
            .await
    }

    pub async fn feed_tokens(&self, token: &str, administration: AdministrationId) -> Answer {
        self.get(token, &administration_path(administration, "/datasync/tokens"))
            .await
    }

    pub async fn create_feed_token(&self, token: &str, administration: AdministrationId, name: &str) -> Answer {
        let path = administration_path(administration, "/datasync/tokens");
        self.post(token, &path, &json!({"name": name})).await
    }

    pub async fn revoke_feed_token(&self, token: &str, administration: AdministrationId, id: i64) -> Answer {
        self.delete(
            token,
            &administration_path(administration, &format!("/datasync/tokens/{id}")),
        )
        .await
    }
}

/// The run history: `/api/v1/administrations/{administration}/runs`.
impl TestApp {
    /// The runs, newest first, filtered and paged by `query` (`status`, `trigger`, `kind`, `limit`,
    /// `cursor`).
    pub async fn runs(&self, token: &str, administration: AdministrationId, query: Query<'_>) -> Answer {
        let path = administration_path(administration, "/runs");
        self.call(Method::GET, &path, query, Some(token), None).await
    }

    /// One run with its first page of items.
    pub async fn run(&self, token: &str, administration: AdministrationId, run: i64) -> Answer {
        self.run_items(token, administration, run, &[]).await
    }

    /// One run with the page of items `query` asks for (`items_limit`, `items_cursor`).
    pub async fn run_items(&self, token: &str, administration: AdministrationId, run: i64, query: Query<'_>) -> Answer {
        let path = administration_path(administration, &format!("/runs/{run}"));
        self.call(Method::GET, &path, query, Some(token), None).await
    }

    /// The run's live progress: the `text/event-stream` response itself, to be read event by event.
    pub async fn run_events(&self, token: &str, administration: AdministrationId, run: i64) -> reqwest::Response {
        self.client
            .get(self.url(&administration_path(administration, &format!("/runs/{run}/events"))))
            .bearer_auth(token)
            .send()
            .await
            .expect("the request is answered")
    }

    pub async fn cancel_run(&self, token: &str, administration: AdministrationId, run: i64) -> Answer {
        let path = administration_path(administration, &format!("/runs/{run}/cancel"));
        self.post(token, &path, &json!({})).await
    }

    pub async fn retry_run(&self, token: &str, administration: AdministrationId, run: i64) -> Answer {
        let path = administration_path(administration, &format!("/runs/{run}/retry"));
        self.post(token, &path, &json!({})).await
    }

    /// Polls a run (every 50 ms, at most 30 s) until it has finished; returns it.
    pub async fn finished_run(&self, token: &str, administration: AdministrationId, run: i64) -> Json {
        for _ in 0..600 {
            let answer = self.run(token, administration, run).await;
            let status = answer.body["status"].as_str().unwrap_or("");
            if !matches!(status, "queued" | "running" | "") {
                return answer.body;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("run {run} did not finish");
    }
}

/// Settings sync: `/api/v1/administrations/{main}/settings-sync`.
impl TestApp {
    /// The subs of `main` with when each last received settings.
    pub async fn settingsync_targets(&self, token: &str, main: AdministrationId) -> Answer {
        self.get(token, &administration_path(main, "/settings-sync/targets"))
            .await
    }

    /// What a sync of `body` (`targets`, `categories`) would do, per target with its digest.
    pub async fn settingsync_preview(&self, token: &str, main: AdministrationId, body: &Json) -> Answer {
        self.post(token, &administration_path(main, "/settings-sync/preview"), body)
            .await
    }

    /// Confirms a previewed sync (`body` with the preview's `digests`); starts the run.
    pub async fn settingsync_confirm(&self, token: &str, main: AdministrationId, body: &Json) -> Answer {
        self.post(token, &administration_path(main, "/settings-sync"), body)
            .await
    }
}

/// AccountView: `/api/v1/administrations/{administration}/accountview`.
impl TestApp {
    /// Where the connection stands.
    pub async fn accountview_status(&self, token: &str, administration: AdministrationId) -> Answer {
        self.get(token, &administration_path(administration, "/accountview"))
            .await
    }

    /// Starts signing in; the answer holds AccountView's `authorize_url`.
    pub async fn accountview_sign_in(&self, token: &str, administration: AdministrationId) -> Answer {
        let path = administration_path(administration, "/accountview/sign-in");
        self.post(token, &path, &json!({})).await
    }

    /// The AccountView administrations the signed-in user may choose from.
    pub async fn accountview_companies(&self, token: &str, administration: AdministrationId) -> Answer {
        self.get(token, &administration_path(administration, "/accountview/companies"))
            .await
    }

    /// The saved settings and the codes imported to choose from.
    pub async fn accountview_settings(&self, token: &str, administration: AdministrationId) -> Answer {
        self.get(token, &administration_path(administration, "/accountview/settings"))
            .await
    }

    /// Saves `body` (`company_id`, `settings`) if the check before saving passes.
    pub async fn accountview_save_settings(
        &self,
        token: &str,
        administration: AdministrationId,
        body: &Json,
    ) -> Answer {
        let path = administration_path(administration, "/accountview/settings");
        self.put(token, &path, body).await
    }

    /// The check before saving, without saving.
    pub async fn accountview_check_settings(
        &self,
        token: &str,
        administration: AdministrationId,
        body: &Json,
    ) -> Answer {
        let path = administration_path(administration, "/accountview/settings/check");
        self.post(token, &path, body).await
    }

    /// Starts an import of `body`'s `categories` (all saved ones for `{}`).
    pub async fn accountview_import(&self, token: &str, administration: AdministrationId, body: &Json) -> Answer {
        let path = administration_path(administration, "/accountview/import");
        self.post(token, &path, body).await
    }

    /// Starts an export of the completed work orders.
    pub async fn accountview_export(&self, token: &str, administration: AdministrationId) -> Answer {
        let path = administration_path(administration, "/accountview/export");
        self.post(token, &path, &json!({})).await
    }

    /// Recent imports and exports, paged and filtered by `query` (`before`, `errors`).
    pub async fn accountview_log(&self, token: &str, administration: AdministrationId, query: Query<'_>) -> Answer {
        let path = administration_path(administration, "/accountview/log");
        self.call(Method::GET, &path, query, Some(token), None).await
    }

    pub async fn accountview_disconnect(&self, token: &str, administration: AdministrationId) -> Answer {
        self.delete(token, &administration_path(administration, "/accountview"))
            .await
    }
}
