//! The harness: a sandbox per test on loopback (`accountview_sandbox::loopback`), the connector and
//! the sign-in from `koppel_test_support::accountview`, and this suite's short names for them.

use accountview_sandbox::SandboxConfig;
use accountview_sandbox::loopback::{self, LoopbackSandbox};
use koppel_accountview::AccountView;
use koppel_accountview::oauth::CallbackParameters;
use koppel_domain::{AdministrationId, RecordId, UserId};
use koppel_store::Store;
use koppel_test_support::accountview::{self as av, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, WorkOrders};
use serde_json::Value as Json;
use std::collections::BTreeMap;

pub use accountview_sandbox::VDB_2026_ID;
pub use koppel_test_support::accountview::{DEMO_USER, READER_USER, create, export_settings};

/// The sandbox with `debtors` debtors, knowing the test client with [`REDIRECT_URI`].
pub struct TestSandbox {
    pub sandbox: LoopbackSandbox,
    pub base: String,
    pub http: reqwest::Client,
}

impl TestSandbox {
    pub async fn start(debtors: usize) -> TestSandbox {
        let config = SandboxConfig {
            debtors,
            ..loopback::config_for_client(CLIENT_ID, CLIENT_SECRET, REDIRECT_URI)
        };
        let sandbox = LoopbackSandbox::start(config).await.expect("sandbox");
        TestSandbox {
            base: sandbox.base().to_string(),
            http: sandbox.http().clone(),
            sandbox,
        }
    }

    pub fn connector(&self, store: &Store) -> AccountView {
        av::connector(&self.base, REDIRECT_URI, store)
    }

    pub async fn control(&self, method: reqwest::Method, path: &str, body: Option<Json>) -> Json {
        self.sandbox.control(method, path, body).await.expect("control call")
    }

    pub async fn post(&self, path: &str, body: Json) -> Json {
        self.sandbox.post(path, body).await.expect("control call")
    }

    pub async fn get(&self, path: &str) -> Json {
        self.sandbox.get(path).await.expect("control call")
    }

    /// Follows an authorize URL through login and consent; returns the callback's parameters.
    pub async fn sign_in(&self, authorize_url: &str, login: &str, decision: &str) -> CallbackParameters {
        let location = self
            .sandbox
            .consent(authorize_url, login, decision)
            .await
            .expect("consent");
        assert!(location.starts_with(REDIRECT_URI), "{location}");
        av::callback_parameters(&location)
    }

    /// Committed DJ2 posts per invoice number.
    pub async fn posted_invoices(&self) -> BTreeMap<String, Vec<Json>> {
        let mut by_number: BTreeMap<String, Vec<Json>> = BTreeMap::new();
        for request in self.sandbox.committed_invoices().await.expect("posted") {
            let number = loopback::invoice_number(&request).expect("INV_NR").to_string();
            by_number.entry(number).or_default().push(request);
        }
        by_number
    }
}

/// Signs in as `login` for `administration`.
pub async fn connect(
    sandbox: &TestSandbox,
    accountview: &AccountView,
    administration: AdministrationId,
    user: UserId,
    login: &str,
) {
    av::connect(accountview, administration, user, |url| async move {
        sandbox.sandbox.consent(&url, login, "approve").await.expect("consent")
    })
    .await;
}

/// `count` completed work orders for debtor `debtor` (a relation with that code is made when missing),
/// each with an hour line at 21% and a material line at 9%.
pub async fn completed_work_orders(
    store: &Store,
    administration: AdministrationId,
    debtor: &str,
    count: usize,
) -> Vec<RecordId> {
    av::completed_work_orders(store, administration, WorkOrders::three_each(debtor, count))
        .await
        .into_iter()
        .map(|(_, order)| order)
        .collect()
}
