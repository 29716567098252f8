//! `TestApp`: Koppel's web layer on a real socket (bound before serving, no sleeps) over a fresh
//! database with a seeded fixture, plus typed helpers per endpoint.

use koppel_test_support::{Fixture, TestDatabase, TestUser};
use koppel_web::{AppState, WebConfig};
use reqwest::{Method, StatusCode};
use serde_json::Value as Json;
use std::net::SocketAddr;

pub struct TestApp {
    pub address: SocketAddr,
    pub client: reqwest::Client,
    pub database: TestDatabase,
    pub fixture: Fixture,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

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

impl TestApp {
    pub async fn spawn(database: TestDatabase) -> TestApp {
        Self::spawn_with(database, WebConfig::default()).await
    }

    pub async fn spawn_with(database: TestDatabase, config: WebConfig) -> TestApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        Self::spawn_on(database, listener, config, |_| None).await
    }

    /// An app on an already bound listener (so its address, and with it the AccountView callback,
    /// is known before it serves), with the AccountView integration `accountview` makes from the
    /// app's store, or none.
    pub async fn spawn_on(
        database: TestDatabase,
        listener: tokio::net::TcpListener,
        config: WebConfig,
        accountview: impl FnOnce(&koppel_store::Store) -> Option<koppel_accountview::AccountView>,
    ) -> TestApp {
        let fixture = Fixture::create(database.store()).await;
        let address = listener.local_addr().expect("address");
        let mut state = AppState::new(database.store().clone(), config);
        if let Some(accountview) = accountview(database.store()) {
            state = state.with_accountview(accountview);
        }
        let (shutdown, signal) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            koppel_web::serve(listener, state, async move {
                let _ = signal.await;
            })
            .await
            .expect("server");
        });
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        TestApp {
            address,
            client,
            database,
            fixture,
            shutdown: Some(shutdown),
            server: Some(server),
        }
    }

    /// Runs `test` against an app on every configured backend.
    pub async fn on_every_backend<F, Fut>(test: F)
    where
        F: Fn(TestApp) -> Fut,
        Fut: std::future::Future<Output = TestApp>,
    {
        for database in TestDatabase::all().await {
            let app = test(TestApp::spawn(database).await).await;
            app.stop().await;
        }
    }

    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        self.database.cleanup().await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    /// An API token for a fixture user.
    pub async fn token(&self, user: &TestUser) -> String {
        let (_, secret) = self
            .database
            .store()
            .create_api_token(user.id, "tests")
            .await
            .expect("token");
        secret
    }

    pub async fn request(&self, method: Method, path: &str, token: Option<&str>, body: Option<&Json>) -> Answer {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        Self::answer(request.send().await.expect("request")).await
    }

    pub async fn answer(response: reqwest::Response) -> Answer {
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Json::Null);
        Answer { status, headers, body }
    }

    pub async fn get(&self, token: &str, path: &str) -> Answer {
        self.request(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, token: &str, path: &str, body: &Json) -> Answer {
        self.request(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, token: &str, path: &str, body: &Json) -> Answer {
        self.request(Method::PATCH, path, Some(token), Some(body)).await
    }

    pub async fn delete(&self, token: &str, path: &str) -> Answer {
        self.request(Method::DELETE, path, Some(token), None).await
    }
}
