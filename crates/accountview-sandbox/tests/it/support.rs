//! The test harness: a sandbox served in-process on `127.0.0.1:0` (bound before serving, so no sleeps), a
//! plain reqwest client with redirects off, and helpers for the OAuth dance, data calls and control calls.

use accountview_sandbox::{ClientConfig, Sandbox, SandboxConfig};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const CLIENT_ID: &str = "koppel-test";
pub const CLIENT_SECRET: &str = "test-secret-1";
pub const REDIRECT_URI: &str = "http://127.0.0.1:9/koppel/callback";
pub const OTHER_CLIENT_ID: &str = "other-app";
pub const OTHER_CLIENT_SECRET: &str = "other-secret";
pub const OTHER_REDIRECT_URI: &str = "https://other.example/callback?tenant=7";

pub const DEMO_USER: &str = "demo@vandenberg-installatie.nl";
pub const READER_USER: &str = "lezer@vandenberg-installatie.nl";
pub const PASSWORD: &str = "sandbox";
pub const BOTH_SCOPES: &str = "readaccountviewdata updateaccountviewdata";

pub use accountview_sandbox::{KSO_2026_ID, VDB_2025_ID, VDB_2026_ID};

/// The configuration tests start from: two registered clients, rate limit as documented.
pub fn config() -> SandboxConfig {
    SandboxConfig {
        clients: vec![
            ClientConfig {
                client_id: CLIENT_ID.to_owned(),
                client_secret: CLIENT_SECRET.to_owned(),
                name: "Koppel (test)".to_owned(),
                redirect_uris: vec![REDIRECT_URI.to_owned()],
            },
            ClientConfig {
                client_id: OTHER_CLIENT_ID.to_owned(),
                client_secret: OTHER_CLIENT_SECRET.to_owned(),
                name: "Other <app>".to_owned(),
                redirect_uris: vec![OTHER_REDIRECT_URI.to_owned()],
            },
        ],
        ..SandboxConfig::default()
    }
}

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

/// Tokens from the token endpoint.
#[derive(Clone, Debug)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
    pub answer: Value,
}

/// A PKCE pair: the verifier and its S256 challenge.
pub fn pkce_pair(seed: &str) -> (String, String) {
    // Verifiers allow only unreserved characters, so the seed (often an e-mail address) is reduced to those.
    let seed: String = seed
        .chars()
        .map(|character| {
            if character.is_ascii_alphanumeric() {
                character
            } else {
                '-'
            }
        })
        .collect();
    let verifier = format!("verifier-{seed}-0123456789abcdefghijklmnopqrstuvwxyz");
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// Reads the value of a hidden input from a page.
pub fn hidden_field(html: &str, name: &str) -> String {
    let marker = format!(r#"name="{name}" value=""#);
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no hidden field {name} in page:\n{html}"))
        + marker.len();
    let end = html[start..].find('"').expect("attribute closes") + start;
    html[start..end].to_owned()
}

/// Query parameters of a redirect's `Location`.
pub fn location_parameters(response: &Response) -> Vec<(String, String)> {
    let location = response
        .headers()
        .get("location")
        .expect("a Location header")
        .to_str()
        .expect("ascii");
    let url = reqwest::Url::parse(location).expect("an absolute URL");
    url.query_pairs()
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect()
}

pub fn parameter<'a>(parameters: &'a [(String, String)], name: &str) -> Option<&'a str> {
    parameters
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

impl TestSandbox {
    pub async fn start() -> Self {
        Self::start_with(config()).await
    }

    pub async fn start_with(config: SandboxConfig) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let address = listener.local_addr().expect("bound address");
        let sandbox = Sandbox::new(config).expect("valid sandbox config");
        let server = tokio::spawn(async move {
            sandbox.serve(listener).await.expect("serving");
        });
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("http client");
        Self {
            base: format!("http://{address}"),
            http,
            server,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET /ams/authorize.aspx` with the given parameters.
    pub async fn authorize(&self, parameters: &[(&str, &str)]) -> Response {
        self.http
            .get(self.url("/ams/authorize.aspx"))
            .query(parameters)
            .send()
            .await
            .expect("authorize request")
    }

    /// Starts the flow for the test client with PKCE and returns the login page's request id.
    pub async fn start_flow(&self, scope: &str, challenge: &str) -> String {
        let response = self
            .authorize(&[
                ("response_type", "code"),
                ("client_id", CLIENT_ID),
                ("redirect_uri", REDIRECT_URI),
                ("scope", scope),
                ("state", "state-123"),
                ("code_challenge", challenge),
                ("code_challenge_method", "S256"),
            ])
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        hidden_field(&response.text().await.expect("page"), "request_id")
    }

    pub async fn login(&self, request_id: &str, login: &str, password: &str) -> Response {
        self.http
            .post(self.url("/ams/login.aspx"))
            .form(&[("request_id", request_id), ("username", login), ("password", password)])
            .send()
            .await
            .expect("login request")
    }

    pub async fn decide(&self, request_id: &str, decision: &str) -> Response {
        self.http
            .post(self.url("/ams/consent.aspx"))
            .form(&[("request_id", request_id), ("decision", decision)])
            .send()
            .await
            .expect("consent request")
    }

    /// Login plus approval; returns the authorization code.
    pub async fn approved_code(&self, login: &str, scope: &str, challenge: &str) -> String {
        let request_id = self.start_flow(scope, challenge).await;
        let consent_page = self.login(&request_id, login, PASSWORD).await;
        assert_eq!(consent_page.status(), StatusCode::OK);
        let redirect = self.decide(&request_id, "approve").await;
        assert_eq!(redirect.status(), StatusCode::FOUND);
        let parameters = location_parameters(&redirect);
        assert_eq!(parameter(&parameters, "state"), Some("state-123"));
        parameter(&parameters, "code").expect("a code").to_owned()
    }

    pub async fn token_request(&self, form: &[(&str, &str)]) -> Response {
        self.http
            .post(self.url("/api/v3/token"))
            .form(form)
            .send()
            .await
            .expect("token request")
    }

    pub async fn redeem(&self, code: &str, verifier: &str) -> Response {
        self.token_request(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("code_verifier", verifier),
        ])
        .await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Response {
        self.token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .await
    }

    /// The whole dance for a user and scope.
    pub async fn connect_as(&self, login: &str, scope: &str) -> Tokens {
        let (verifier, challenge) = pkce_pair(login);
        let code = self.approved_code(login, scope, &challenge).await;
        let response = self.redeem(&code, &verifier).await;
        assert_eq!(response.status(), StatusCode::OK);
        tokens(response).await
    }

    /// The demo user with both scopes.
    pub async fn connect(&self) -> Tokens {
        self.connect_as(DEMO_USER, BOTH_SCOPES).await
    }

    pub async fn get_api(&self, path: &str, token: &str, company: Option<&str>) -> Response {
        let mut request = self.http.get(self.url(path)).bearer_auth(token);
        if let Some(company) = company {
            request = request.header("x-company", company);
        }
        request.send().await.expect("api request")
    }

    pub async fn read(&self, token: &str, company: &str, parameters: &[(&str, &str)]) -> Response {
        self.http
            .get(self.url("/api/v3/AccountViewData"))
            .bearer_auth(token)
            .header("x-company", company)
            .query(parameters)
            .send()
            .await
            .expect("read request")
    }

    /// A read that must succeed; returns the body.
    pub async fn read_ok(&self, token: &str, company: &str, parameters: &[(&str, &str)]) -> Value {
        let response = self.read(token, company, parameters).await;
        let status = response.status();
        let body: Value = response.json().await.expect("json body");
        assert_eq!(status, StatusCode::OK, "read {parameters:?} failed: {body}");
        body
    }

    /// Reads every row of a business object by following `lastKey`.
    pub async fn read_all(&self, token: &str, company: &str, object: &str, table: &str, key: &str) -> Vec<Value> {
        let mut rows = Vec::new();
        let mut last_key = String::new();
        loop {
            let body = self
                .read_ok(
                    token,
                    company,
                    &[("BusinessObject", object), ("PageSize", "1000"), ("lastKey", &last_key)],
                )
                .await;
            let page = body[table].as_array().expect("rows").clone();
            let short = page.len() < 1000;
            if let Some(last) = page.last() {
                last_key = key_text(&last[key]);
            }
            rows.extend(page);
            if short {
                return rows;
            }
        }
    }

    pub async fn post_data(&self, token: &str, company: &str, body: &Value) -> Response {
        self.http
            .post(self.url("/api/v3/AccountViewData"))
            .bearer_auth(token)
            .header("x-company", company)
            .json(body)
            .send()
            .await
            .expect("post request")
    }

    /// A control call that must succeed; returns the body.
    pub async fn control(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method.clone(), self.url(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("control request");
        let status = response.status();
        let body: Value = response.json().await.expect("json control answer");
        assert!(status.is_success(), "{method} {path} failed with {status}: {body}");
        body
    }

    pub async fn control_post(&self, path: &str, body: Value) -> Value {
        self.control(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn control_put(&self, path: &str, body: Value) -> Value {
        self.control(reqwest::Method::PUT, path, Some(body)).await
    }

    pub async fn control_get(&self, path: &str) -> Value {
        self.control(reqwest::Method::GET, path, None).await
    }
}

/// Parses a successful token answer.
pub async fn tokens(response: Response) -> Tokens {
    let answer: Value = response.json().await.expect("token json");
    Tokens {
        access: answer["access_token"].as_str().expect("access_token").to_owned(),
        refresh: answer["refresh_token"].as_str().expect("refresh_token").to_owned(),
        answer,
    }
}

/// Reads an error answer: (status, body).
pub async fn error_of(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let body: Value = response.json().await.expect("json error body");
    (status, body)
}

/// Asserts AccountView's error shape and returns the numbers.
pub fn assert_av_error(body: &Value) -> Vec<u64> {
    assert_eq!(
        body["ErrorType"], "AccountViewError",
        "not an AccountView error: {body}"
    );
    assert!(
        body["ErrorMessage"].as_str().is_some_and(|message| !message.is_empty()),
        "no message: {body}"
    );
    body["ErrorNumbers"]
        .as_array()
        .expect("ErrorNumbers")
        .iter()
        .map(|number| number.as_u64().expect("number"))
        .collect()
}

/// A key value as `lastKey` text.
pub fn key_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// One invoice line for [`invoice`].
#[derive(Clone, Debug)]
pub struct Line {
    pub account: &'static str,
    pub amount: f64,
    pub vat_code: &'static str,
    pub vat_amount: f64,
    pub description: String,
}

impl Line {
    pub fn new(account: &'static str, amount: f64, vat_code: &'static str, vat_amount: f64) -> Self {
        Self {
            account,
            amount,
            vat_code,
            vat_amount,
            description: "Onderhoud cv-ketel".to_owned(),
        }
    }
}

/// A DJ2 body with one invoice in journal VRK, lines with all of ACCT_NR, AMOUNT, BASE_AMT, VAT_CODE, VAT_AMT,
/// TRN_DESC and COST_CODE.
pub fn invoice(invoice_number: &str, debtor: &str, date: &str, lines: &[Line]) -> Value {
    let line_rows: Vec<Value> = lines
        .iter()
        .enumerate()
        .map(|(position, line)| {
            json!({
                "RowId": (position + 1).to_string(),
                "HeaderId": "1",
                "Values": [line.account, line.amount, line.amount, line.vat_code, line.vat_amount, line.description, "200"]
            })
        })
        .collect();
    json!({
        "BusinessObject": "DJ2",
        "Table": {
            "Definition": {
                "Name": "DJ_PAGE",
                "Fields": [
                    {"Name": "DJ_CODE", "FieldType": "C"},
                    {"Name": "SUB_NR", "FieldType": "C"},
                    {"Name": "INV_NR", "FieldType": "C"},
                    {"Name": "TRN_DATE", "FieldType": "D"},
                    {"Name": "HDR_DESC", "FieldType": "C"},
                    {"Name": "CUR_CODE", "FieldType": "C"}
                ]
            },
            "DetailDefinitions": [{
                "Name": "DJ_LINE",
                "Fields": [
                    {"Name": "ACCT_NR", "FieldType": "C"},
                    {"Name": "AMOUNT", "FieldType": "N"},
                    {"Name": "BASE_AMT", "FieldType": "N"},
                    {"Name": "VAT_CODE", "FieldType": "C"},
                    {"Name": "VAT_AMT", "FieldType": "N"},
                    {"Name": "TRN_DESC", "FieldType": "C"},
                    {"Name": "COST_CODE", "FieldType": "C"}
                ]
            }]
        },
        "TableData": {
            "Data": {"Rows": [{"RowId": "1", "Values": ["VRK", debtor, invoice_number, date, format!("Werkbon {invoice_number}"), "EUR"]}]},
            "DetailData": [{"Rows": line_rows}]
        }
    })
}

/// A simple valid invoice: 100.00 at 21% on revenue account 8000.
pub fn simple_invoice(invoice_number: &str, debtor: &str) -> Value {
    invoice(
        invoice_number,
        debtor,
        "2026-03-14",
        &[Line::new("8000", 100.0, "2", 21.0)],
    )
}

/// An AR1 body creating one debtor.
pub fn debtor(number: &str, name: &str) -> Value {
    json!({
        "BusinessObject": "AR1",
        "Table": {"Definition": {"Name": "CONTACT", "Fields": [
            {"Name": "SUB_NR", "FieldType": "C"},
            {"Name": "ACCT_NAME", "FieldType": "C"},
            {"Name": "ADDRESS1", "FieldType": "C"},
            {"Name": "POST_CODE", "FieldType": "C"},
            {"Name": "CITY", "FieldType": "C"},
            {"Name": "CNT_CODE", "FieldType": "C"},
            {"Name": "MAIL_BUS", "FieldType": "C"},
            {"Name": "VAT_CODE", "FieldType": "C"},
            {"Name": "REC_BLK", "FieldType": "L"}
        ]}},
        "TableData": {"Data": {"Rows": [{"RowId": "1", "Values": [
            number, name, "Kanaalweg 3", "3526 KL", "Utrecht", "NL", "info@example.nl", "2", false
        ]}]}}
    })
}

/// Finds the seeded debtor numbers of special debtors: (first normal, blocked, Belgian).
pub async fn special_debtors(sandbox: &TestSandbox, token: &str) -> (String, String, String) {
    let blocked = sandbox
        .read_ok(
            token,
            VDB_2026_ID,
            &[
                ("BusinessObject", "AR1"),
                ("FilterControlSource1", "REC_BLK"),
                ("FilterOperator1", "Equal"),
                ("FilterValueType1", "L"),
                ("FilterValue1", "true"),
            ],
        )
        .await;
    let belgian = sandbox
        .read_ok(
            token,
            VDB_2026_ID,
            &[
                ("BusinessObject", "AR1"),
                ("FilterControlSource1", "CNT_CODE"),
                ("FilterOperator1", "Equal"),
                ("FilterValue1", "BE"),
            ],
        )
        .await;
    let first = sandbox
        .read_ok(token, VDB_2026_ID, &[("BusinessObject", "AR1"), ("PageSize", "1")])
        .await;
    (
        key_text(&first["CONTACT"][0]["SUB_NR"]),
        key_text(&blocked["CONTACT"][0]["SUB_NR"]),
        key_text(&belgian["CONTACT"][0]["SUB_NR"]),
    )
}
