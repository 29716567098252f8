//! Koppel's side of the AccountView sandbox in tests and benchmarks: the connector pointed at a
//! sandbox with short waits, signing in (the browser's walk through the sandbox's pages is the
//! sandbox's own, `accountview_sandbox::loopback`, handed in as `consent`), the settings that export
//! to the sandbox's seeded books, and completed work orders to export.
//!
//! Every suite that talks to the sandbox (the connector's, the web's, the binary's and the
//! benchmark) sets up through here, so a change of the sign-in or of the seeded codes is made once.
//! With the `sandbox` feature, [`TestSandbox`] starts the sandbox itself (what
//! `TestApp::builder(…).with_sandbox()` uses).

use koppel_accountview::oauth::CallbackParameters;
use koppel_accountview::{AccountView, AccountViewConfig, Secret, Settings};
use koppel_domain::record::parse_create;
use koppel_domain::resources;
use koppel_domain::{AdministrationId, RecordId, UserId};
use koppel_store::Store;
use serde_json::{Value as Json, json};
use std::future::Future;
use std::time::Duration;

/// The OAuth client the suites register with the sandbox.
pub const CLIENT_ID: &str = "koppel-test";
pub const CLIENT_SECRET: &str = "koppel-test-secret";
/// The callback when no Koppel server listens (the connector talks to the sandbox directly).
pub const REDIRECT_URI: &str = "http://127.0.0.1:9/accountview/callback";
/// The sandbox's seeded AccountView user with every right, and one who may only read.
pub const DEMO_USER: &str = "demo@vandenberg-installatie.nl";
pub const READER_USER: &str = "lezer@vandenberg-installatie.nl";
/// The key that encrypts stored tokens in tests (64 hex digits).
pub const ENCRYPTION_KEY: &str = "abababababababababababababababababababababababababababababababab";

/// The connector's configuration for a sandbox at `base_url`: retries after 5 ms (doubling, at most
/// 12 per call), pages of 50 rows, and 10 s before a call counts as unanswered.
pub fn test_config(base_url: &str, redirect_uri: &str) -> AccountViewConfig {
    let mut config = AccountViewConfig::new(
        base_url,
        CLIENT_ID,
        Secret::new(CLIENT_SECRET),
        redirect_uri,
        Secret::new(ENCRYPTION_KEY),
    );
    config.retry_base = Duration::from_millis(5);
    config.max_retries = 12;
    config.page_size = 50;
    config.request_timeout = Duration::from_secs(10);
    config
}

/// The connector with [`test_config`] and the real HTTP client.
pub fn connector(base_url: &str, redirect_uri: &str, store: &Store) -> AccountView {
    AccountView::new(test_config(base_url, redirect_uri), store.clone()).expect("connector")
}

/// The parameters of the callback address the sandbox sent the browser to.
pub fn callback_parameters(location: &str) -> CallbackParameters {
    CallbackParameters::from_callback_url(location).unwrap_or_else(|e| panic!("{location}: {e}"))
}

/// Signs `user` in for `administration`: `consent` walks the authorize URL in a browser's stead and
/// returns where the sandbox sent the browser back to.
pub async fn connect<F, Fut>(accountview: &AccountView, administration: AdministrationId, user: UserId, consent: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = String>,
{
    let url = accountview.begin_sign_in(administration, user).await.expect("begin");
    let location = consent(url).await;
    let callback = callback_parameters(&location);
    let connected = accountview.complete_sign_in(&callback, user).await.expect("complete");
    assert_eq!(connected, administration);
}

/// Settings that import everything and export to the sandbox's sales journal VRK with its revenue
/// accounts 8000 (hours) and 8100 (materials) and its VAT codes.
pub fn export_settings(cut_off: chrono::DateTime<chrono::Utc>) -> Settings {
    let mut settings = Settings::defaults(cut_off);
    settings.export.enabled = true;
    settings.export.sales_journal = Some("VRK".into());
    settings.export.hours_account = Some("8000".into());
    settings.export.materials_account = Some("8100".into());
    settings.export.vat_codes = [("21", "2"), ("9", "1"), ("0", "0"), ("verlegd", "3")]
        .into_iter()
        .map(|(rate, code)| (rate.to_string(), code.to_string()))
        .collect();
    settings
}

/// Creates a record from its JSON body, as a client would.
pub async fn create(store: &Store, administration: AdministrationId, slug: &str, body: Json) -> RecordId {
    let spec = resources::by_slug(slug).expect("known resource");
    let values = parse_create(spec, &body).unwrap_or_else(|e| panic!("{slug}: {e:?}"));
    store
        .create_record(administration, spec, values)
        .await
        .unwrap_or_else(|e| panic!("{slug}: {e:?}"))
        .id
}

/// The relation with code `debtor` (imported, say), made when missing.
pub async fn relation(store: &Store, administration: AdministrationId, debtor: &str) -> RecordId {
    let existing = {
        let mut tx = store.write(administration).await.expect("tx");
        let record = tx.record_by_code(&resources::RELATIONS, debtor).await.expect("lookup");
        tx.rollback().await.expect("rollback");
        record.map(|r| r.id)
    };
    match existing {
        Some(id) => id,
        None => {
            create(
                store,
                administration,
                "relations",
                json!({"code": debtor, "name": "Familie Jansen", "kind": "person"}),
            )
            .await
        }
    }
}

/// What [`completed_work_orders`] makes.
#[derive(Debug, Clone, Copy)]
pub struct WorkOrders<'a> {
    /// The debtor's code; its relation is made when missing.
    pub debtor: &'a str,
    pub count: usize,
    /// The quantity of the material line of work order `index`.
    pub material_quantity: fn(usize) -> String,
}

impl WorkOrders<'_> {
    /// Three of the material on every work order.
    pub fn three_each(debtor: &str, count: usize) -> WorkOrders<'_> {
        WorkOrders {
            debtor,
            count,
            material_quantity: |_| "3".to_string(),
        }
    }
}

/// Completed work orders `WB-00000`, `WB-00001`, … for one debtor, each with an hour line at 21%
/// (`1.<index % 10>` hours of MONTAGE at 65.00) and a material line at 9% (KP-CV-KRAAN at 12.35).
pub async fn completed_work_orders(
    store: &Store,
    administration: AdministrationId,
    orders: WorkOrders<'_>,
) -> Vec<(String, RecordId)> {
    let relation = relation(store, administration, orders.debtor).await;
    create(
        store,
        administration,
        "hour-types",
        json!({"code": "MONTAGE", "description": "Montage", "rate": "65.00", "vat_rate": "21", "billable": true}),
    )
    .await;
    let material = create(
        store,
        administration,
        "materials",
        json!({"code": "KP-CV-KRAAN", "description": "Vulkraan cv", "unit": "stuk", "price": "12.35", "vat_rate": "9"}),
    )
    .await;
    let mut made = Vec::new();
    for index in 0..orders.count {
        let number = format!("WB-{index:05}");
        let order = create(
            store,
            administration,
            "work-orders",
            json!({"number": number, "relation_id": relation, "description": "Onderhoud cv-ketel",
                   "status": "Compleet"}),
        )
        .await;
        create(
            store,
            administration,
            "work-order-hours",
            json!({"work_order_id": order, "hour_type_code": "MONTAGE", "work_date": "2026-03-14",
                   "hours": format!("1.{}", index % 10), "rate": "65.00", "vat_rate": "21"}),
        )
        .await;
        create(
            store,
            administration,
            "work-order-materials",
            json!({"work_order_id": order, "material_id": material, "quantity": (orders.material_quantity)(index),
                   "price": "12.35", "vat_rate": "9"}),
        )
        .await;
        made.push((number, order));
    }
    made
}

/// The sandbox in this process on a free loopback port (`accountview_sandbox::loopback`), knowing
/// Koppel's test client; stopped when dropped.
#[cfg(feature = "sandbox")]
pub struct TestSandbox {
    sandbox: accountview_sandbox::loopback::LoopbackSandbox,
    /// Where the sandbox answers, `http://127.0.0.1:<port>`.
    pub base: String,
}

#[cfg(feature = "sandbox")]
impl TestSandbox {
    /// A sandbox that knows Koppel's client with `redirect_uri` as its callback.
    pub async fn start(redirect_uri: &str) -> TestSandbox {
        use accountview_sandbox::loopback::{self, LoopbackSandbox};
        let config = loopback::config_for_client(CLIENT_ID, CLIENT_SECRET, redirect_uri);
        let sandbox = LoopbackSandbox::start(config).await.expect("the sandbox starts");
        TestSandbox {
            base: sandbox.base().to_string(),
            sandbox,
        }
    }

    /// The connector with the shared test configuration ([`test_config`]), reading pages of 100 rows
    /// and retrying a call at most 6 times (the production default).
    pub fn connector(&self, store: &Store, redirect_uri: &str) -> AccountView {
        let mut config = test_config(&self.base, redirect_uri);
        config.page_size = 100;
        config.max_retries = 6;
        AccountView::new(config, store.clone()).expect("connector")
    }

    /// Posts to one of the sandbox's control endpoints (`/_sandbox/…`: faults, revoked grants).
    pub async fn control(&self, path: &str, body: Json) {
        self.sandbox.post(path, body).await.expect("control call");
    }

    /// Goes through AccountView's login and consent pages as a browser would; returns where
    /// AccountView sends the browser back to (Koppel's callback with code or error, and state).
    pub async fn consent(&self, authorize_url: &str, login: &str, decision: &str) -> String {
        self.sandbox
            .consent(authorize_url, login, decision)
            .await
            .expect("consent")
    }

    /// The sandbox itself, for what the calls above do not cover.
    pub fn loopback(&self) -> &accountview_sandbox::loopback::LoopbackSandbox {
        &self.sandbox
    }
}
