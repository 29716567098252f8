//! The harness: a sandbox per test, a connector pointed at it with short retry waits, the sign-in
//! dance through the sandbox's login and consent pages, and helpers to seed work orders.

use accountview_sandbox::{ClientConfig, Sandbox, SandboxConfig};
use koppel_accountview::oauth::CallbackParameters;
use koppel_accountview::{AccountView, AccountViewConfig, Secret, Settings};
use koppel_domain::record::parse_create;
use koppel_domain::resources;
use koppel_domain::{AdministrationId, RecordId, UserId};
use koppel_store::Store;
use reqwest::StatusCode;
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use std::time::Duration;

pub use accountview_sandbox::VDB_2026_ID;

pub const CLIENT_ID: &str = "koppel-test";
pub const CLIENT_SECRET: &str = "koppel-test-secret";
pub const REDIRECT_URI: &str = "http://127.0.0.1:9/accountview/callback";
pub const DEMO_USER: &str = "demo@vandenberg-installatie.nl";
pub const READER_USER: &str = "lezer@vandenberg-installatie.nl";

pub struct TestSandbox {
    pub base: String,
    pub http: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestSandbox {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl TestSandbox {
    pub async fn start(debtors: usize) -> TestSandbox {
        let config = SandboxConfig {
            clients: vec![ClientConfig {
                client_id: CLIENT_ID.into(),
                client_secret: CLIENT_SECRET.into(),
                name: "Koppel (test)".into(),
                redirect_uris: vec![REDIRECT_URI.into()],
            }],
            debtors,
            rate_limit_per_minute: 0,
            ..SandboxConfig::default()
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let sandbox = Sandbox::new(config).expect("sandbox config");
        let server = tokio::spawn(async move {
            sandbox.serve(listener).await.expect("serving");
        });
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        TestSandbox {
            base: format!("http://{address}"),
            http,
            server,
        }
    }

    pub fn connector(&self, store: &Store) -> AccountView {
        let mut config = AccountViewConfig::new(
            self.base.clone(),
            CLIENT_ID,
            Secret::new(CLIENT_SECRET),
            REDIRECT_URI,
            Secret::new("ab".repeat(32)),
        );
        config.retry_base = Duration::from_millis(5);
        config.max_retries = 12;
        config.page_size = 50;
        config.request_timeout = Duration::from_secs(10);
        AccountView::new(config, store.clone()).expect("connector")
    }

    pub async fn control(&self, method: reqwest::Method, path: &str, body: Option<Json>) -> Json {
        let mut request = self.http.request(method.clone(), format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("control call");
        let status = response.status();
        let body: Json = response.json().await.expect("json");
        assert!(status.is_success(), "{method} {path}: {status} {body}");
        body
    }

    pub async fn post(&self, path: &str, body: Json) -> Json {
        self.control(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn get(&self, path: &str) -> Json {
        self.control(reqwest::Method::GET, path, None).await
    }

    /// Follows an authorize URL through login and consent; returns the callback's parameters.
    pub async fn sign_in(&self, authorize_url: &str, login: &str, decision: &str) -> CallbackParameters {
        let page = self.http.get(authorize_url).send().await.expect("authorize");
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.expect("page");
        let request_id = hidden_field(&html, "request_id");
        let consent = self
            .http
            .post(format!("{}/ams/login.aspx", self.base))
            .form(&[
                ("request_id", request_id.as_str()),
                ("username", login),
                ("password", "sandbox"),
            ])
            .send()
            .await
            .expect("login");
        assert_eq!(consent.status(), StatusCode::OK);
        let redirect = self
            .http
            .post(format!("{}/ams/consent.aspx", self.base))
            .form(&[("request_id", request_id.as_str()), ("decision", decision)])
            .send()
            .await
            .expect("consent");
        assert_eq!(redirect.status(), StatusCode::FOUND);
        let location = redirect.headers()["location"].to_str().expect("ascii").to_string();
        assert!(location.starts_with(REDIRECT_URI), "{location}");
        let url = reqwest::Url::parse(&location).expect("url");
        let parameter = |name: &str| {
            url.query_pairs()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.into_owned())
        };
        CallbackParameters {
            state: parameter("state"),
            code: parameter("code"),
            error: parameter("error"),
            error_description: parameter("error_description"),
        }
    }

    /// Committed DJ2 posts per invoice number.
    pub async fn posted_invoices(&self) -> BTreeMap<String, Vec<Json>> {
        let posted = self.get("/_sandbox/posted?business_object=DJ2&committed=true").await;
        let mut by_number: BTreeMap<String, Vec<Json>> = BTreeMap::new();
        for post in posted.as_array().expect("list") {
            let number = post["request"]["TableData"]["Data"]["Rows"][0]["Values"][2]
                .as_str()
                .expect("INV_NR")
                .to_string();
            by_number.entry(number).or_default().push(post["request"].clone());
        }
        by_number
    }
}

pub fn hidden_field(html: &str, name: &str) -> String {
    let marker = format!(r#"name="{name}" value=""#);
    let start = html.find(&marker).unwrap_or_else(|| panic!("no {name} in {html}")) + marker.len();
    let end = html[start..].find('"').expect("closes") + start;
    html[start..end].to_owned()
}

/// Signs in as `login` and returns the administration the sign-in was for.
pub async fn connect(
    sandbox: &TestSandbox,
    accountview: &AccountView,
    administration: AdministrationId,
    user: UserId,
    login: &str,
) {
    let url = accountview.begin_sign_in(administration, user).await.expect("begin");
    let callback = sandbox.sign_in(&url, login, "approve").await;
    let connected = accountview.complete_sign_in(&callback, user).await.expect("complete");
    assert_eq!(connected, administration);
}

/// Settings that import everything and export to VRK with the seeded accounts and VAT codes.
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

pub async fn create(store: &Store, administration: AdministrationId, slug: &str, body: Json) -> RecordId {
    let spec = resources::by_slug(slug).expect("known resource");
    let values = parse_create(spec, &body).unwrap_or_else(|e| panic!("{slug}: {e:?}"));
    store
        .create_record(administration, spec, values)
        .await
        .unwrap_or_else(|e| panic!("{slug}: {e:?}"))
        .id
}

/// `count` completed work orders for debtor `debtor` (a relation with that code is made when missing),
/// each with an hour line at 21% and a material line at 9%.
pub async fn completed_work_orders(
    store: &Store,
    administration: AdministrationId,
    debtor: &str,
    count: usize,
) -> Vec<RecordId> {
    let existing = {
        let mut tx = store.write(administration).await.expect("tx");
        let record = tx.record_by_code(&resources::RELATIONS, debtor).await.expect("lookup");
        tx.rollback().await.expect("rollback");
        record.map(|r| r.id)
    };
    let relation = match existing {
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
    };
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
    let mut orders = Vec::new();
    for index in 0..count {
        let order = create(
            store,
            administration,
            "work-orders",
            json!({"number": format!("WB-{index:05}"), "relation_id": relation, "description": "Onderhoud cv-ketel",
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
            json!({"work_order_id": order, "material_id": material, "quantity": "3", "price": "12.35", "vat_rate": "9"}),
        )
        .await;
        orders.push(order);
    }
    orders
}
