//! The AccountView integration through the REST API and the pages, against the AccountView sandbox
//! started in-process: signing in (approve, deny, forged and replayed callbacks), choosing and
//! locking the administration, the check before saving, import and export runs in the log,
//! revoked consent, the gates, and disconnecting.

use crate::pages::PageClient;
use koppel_test_support::TestApp;
use koppel_test_support::app::{JobKind, TestAppBuilder};
use koppel_web::pages::i18n::{EN, Lang, NL};
use reqwest::StatusCode;
use serde_json::{Value as Json, json};

pub use accountview_sandbox::{VDB_2025_ID, VDB_2026_ID};
pub use koppel_test_support::accountview::DEMO_USER;

fn export_settings() -> Json {
    json!({
        "import": {"categories": ["vat_codes", "ledger_accounts", "journals", "cost_centres", "article_groups", "debtors", "articles", "payments"],
                   "include_blocked_debtors": true},
        "export": {
            "enabled": true, "trigger_status": "Compleet", "done_status": "Afgehandeld",
            "sales_journal": "VRK", "hours_account": "8000", "materials_account": "8100",
            "vat_codes": {"21": "2", "9": "1", "0": "0", "verlegd": "3"},
        },
    })
}

/// A completed work order with one hour line for the relation with `debtor` as its code.
async fn completed_work_order(
    store: &koppel_store::Store,
    administration: koppel_domain::AdministrationId,
    debtor: &str,
) -> koppel_domain::RecordId {
    use koppel_domain::resources;
    let create = |slug: &'static str, body: Json| async move {
        let spec = resources::by_slug(slug).expect("known resource");
        let values = koppel_domain::record::parse_create(spec, &body).unwrap_or_else(|e| panic!("{slug}: {e:?}"));
        store
            .create_record(administration, spec, values)
            .await
            .unwrap_or_else(|e| panic!("{slug}: {e:?}"))
            .id
    };
    let relation = {
        let mut tx = store.write(administration).await.expect("tx");
        let record = tx.record_by_code(&resources::RELATIONS, debtor).await.expect("lookup");
        tx.rollback().await.expect("rollback");
        record.expect("the debtor was imported").id
    };
    create(
        "hour-types",
        json!({"code": "MONTAGE", "description": "Montage", "rate": "65.00", "vat_rate": "21", "billable": true}),
    )
    .await;
    let order = create(
        "work-orders",
        json!({"number": "WB-AV-1", "relation_id": relation, "description": "Storing cv-ketel", "status": "Compleet"}),
    )
    .await;
    create(
        "work-order-hours",
        json!({"work_order_id": order, "hour_type_code": "MONTAGE", "work_date": "2026-03-14",
               "hours": "2", "rate": "65.00", "vat_rate": "21"}),
    )
    .await;
    order
}

#[tokio::test]
async fn accountview_connect_configure_import_export_and_disconnect_over_rest() {
    let setup = |app: TestAppBuilder| app.with_sandbox().with_worker([JobKind::AccountView]);
    TestApp::on_every_backend_with(setup, |app| async move {
        let fixture = app.fixture.clone();
        let main = fixture.main;
        let token = app.token(&fixture.admin).await;

        let status = app.accountview_status(&token, main).await;
        assert_eq!(status.status, StatusCode::OK);
        assert_eq!(status.body["status"], "not_connected", "{}", status.body);
        assert_eq!(app.accountview_companies(&token, main).await.code(), "not_connected");
        let import = app.accountview_import(&token, main, &json!({})).await;
        assert_eq!(import.status, StatusCode::CONFLICT);

        // Sign in: the API gives AccountView's address; the callback completes in the same user's session.
        let started = app.accountview_sign_in(&token, main).await;
        assert_eq!(started.status, StatusCode::CREATED, "{}", started.body);
        let url = started.body["authorize_url"].as_str().expect("url").to_string();
        assert!(
            url.contains("code_challenge_method=S256") && url.contains("state="),
            "{url}"
        );
        let location = app.sandbox().consent(&url, DEMO_USER, "approve").await;
        let mut browser = PageClient::new(&app);
        browser.log_in(&fixture.admin).await;
        let back = browser.get(&app.local(&location)).await;
        assert_eq!(back.status, StatusCode::SEE_OTHER);
        let page_path = format!("/a/{main}/settings/integrations/accountview");
        assert_eq!(back.location.as_deref(), Some(page_path.as_str()));
        // The same callback again is a replay: refused, nothing changes.
        let replay = browser.get(&app.local(&location)).await;
        assert_eq!(replay.status, StatusCode::SEE_OTHER);
        let shown = browser.get(&page_path).await;
        assert!(shown.body.contains(NL.av_sign_in_invalid), "{}", shown.body);

        let status = app.accountview_status(&token, main).await;
        assert_eq!(status.body["status"], "unsaved", "{}", status.body);
        let companies = app.accountview_companies(&token, main).await;
        let codes: Vec<&str> = companies.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|c| c["code"].as_str().unwrap())
            .collect();
        assert_eq!(codes, ["VDB25", "VDB26", "KSO26"]);

        // The check names what is missing before anything was imported; saving with export on is refused.
        let check = app
            .accountview_check_settings(
                &token,
                main,
                &json!({"company_id": VDB_2026_ID, "settings": export_settings()}),
            )
            .await;
        assert_eq!(check.status, StatusCode::OK, "{}", check.body);
        assert_eq!(check.body["ok"], false);
        let refused = app
            .accountview_save_settings(
                &token,
                main,
                &json!({"company_id": VDB_2026_ID, "settings": export_settings()}),
            )
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
        assert_eq!(refused.code(), "check_failed");
        assert!(
            refused.body["check"]["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["key"] == "code:sales_journal" && i["ok"] == false)
        );

        // Save without export, import everything, then save the export mapping.
        let mut first = export_settings();
        first["export"]["enabled"] = json!(false);
        let saved = app
            .accountview_save_settings(&token, main, &json!({"company_id": VDB_2026_ID, "settings": first}))
            .await;
        assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
        assert_eq!(saved.body["saved"], true);
        let import = app.accountview_import(&token, main, &json!({})).await;
        assert_eq!(import.status, StatusCode::ACCEPTED, "{}", import.body);
        let run = app
            .finished_run(&token, main, import.body["run_id"].as_i64().unwrap())
            .await;
        assert_eq!(run["status"], "succeeded", "{run}");
        let settings = app.accountview_settings(&token, main).await;
        assert_eq!(settings.body["company_locked"], true);
        assert!(
            settings.body["codes"]["journals"]
                .as_array()
                .unwrap()
                .iter()
                .any(|j| j["code"] == "VRK")
        );
        let saved = app
            .accountview_save_settings(
                &token,
                main,
                &json!({"company_id": VDB_2026_ID, "settings": export_settings()}),
            )
            .await;
        assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
        assert_eq!(saved.body["check"]["ok"], true);
        // Locked: another AccountView administration needs a disconnect first.
        let locked = app
            .accountview_save_settings(&token, main, &json!({"company_id": VDB_2025_ID}))
            .await;
        assert_eq!(locked.status, StatusCode::CONFLICT);
        assert_eq!(locked.code(), "company_locked");
        // Unknown categories are told, one category can be imported alone.
        let unknown = app
            .accountview_import(&token, main, &json!({"categories": ["klanten"]}))
            .await;
        assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
        let one = app
            .accountview_import(&token, main, &json!({"categories": ["debtors"]}))
            .await;
        assert_eq!(one.status, StatusCode::ACCEPTED, "{}", one.body);
        app.finished_run(&token, main, one.body["run_id"].as_i64().unwrap())
            .await;
        let export = app.accountview_export(&token, main).await;
        assert_eq!(export.status, StatusCode::ACCEPTED, "{}", export.body);
        let run = app
            .finished_run(&token, main, export.body["run_id"].as_i64().unwrap())
            .await;
        assert_eq!(run["status"], "succeeded", "{run}");

        let errors = app.accountview_log(&token, main, &[("errors", "true")]).await;
        assert_eq!(errors.body["items"], json!([]));

        // Debtor 10005 is blocked in AccountView: its invoice is refused, with AccountView's own words.
        let store = app.database.store();
        let refused = completed_work_order(store, fixture.main, "10005").await;
        let export = app.accountview_export(&token, main).await;
        let run = app
            .finished_run(&token, main, export.body["run_id"].as_i64().unwrap())
            .await;
        // 0 of 1 work orders exported: the run failed (issue 18), it did not partially succeed.
        assert_eq!(run["status"], "failed", "{run}");

        // The log: both kinds, newest first; the failed item with its reason and AccountView's message.
        let log = app.accountview_log(&token, main, &[]).await;
        let kinds: Vec<&str> = log.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["kind"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "accountview_export",
                "accountview_export",
                "accountview_import",
                "accountview_import"
            ]
        );
        let errors = app.accountview_log(&token, main, &[("errors", "true")]).await;
        let items = errors.body["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{}", errors.body);
        let failed = &items[0]["failed_items"][0];
        assert_eq!(failed["key"], format!("work-orders/{}", refused.0));
        assert!(
            failed["message"]["nl"].as_str().unwrap().contains("AccountView"),
            "{failed}"
        );
        let verbatim = failed["accountview_message"].as_str().unwrap().to_string();
        assert!(!verbatim.is_empty(), "{failed}");
        let page = browser.get(&format!("{page_path}?errors=1")).await;
        assert!(
            page.body.contains(&format!("data-item=\"work-orders/{}\"", refused.0)),
            "{}",
            page.body
        );
        assert!(page.body.contains("<q lang=\"nl\">"), "AccountView's words are shown");

        // Revoked consent: the next import fails once with the exact message and the page says so.
        app.sandbox()
            .control("/_sandbox/grants/revoke", json!({"user": DEMO_USER}))
            .await;
        let import = app.accountview_import(&token, main, &json!({})).await;
        let run = app
            .finished_run(&token, main, import.body["run_id"].as_i64().unwrap())
            .await;
        assert_eq!(run["status"], "failed", "{run}");
        assert_eq!(
            run["message"]["nl"],
            "Authenticatie verlopen. Verbind de integratie opnieuw om gegevens te synchroniseren."
        );
        assert_eq!(run["attempts"], 1, "no retry loop: {run}");
        let status = app.accountview_status(&token, main).await;
        assert_eq!(status.body["status"], "authentication_expired");
        assert_eq!(
            status.body["message"]["en"],
            "Authentication expired. Reconnect the integration to sync data."
        );
        let page = browser.get(&page_path).await;
        assert!(page.body.contains(NL.av_expired), "{}", page.body);
        let again = app.accountview_import(&token, main, &json!({})).await;
        assert_eq!(again.code(), "authentication_expired");
        let errors = app.accountview_log(&token, main, &[("errors", "true")]).await;
        assert_eq!(errors.body["items"].as_array().unwrap().len(), 2);

        // Signing in again resumes the saved connection: same AccountView administration, syncing again.
        let started = app.accountview_sign_in(&token, main).await;
        let location = app
            .sandbox()
            .consent(started.body["authorize_url"].as_str().unwrap(), DEMO_USER, "approve")
            .await;
        browser.get(&app.local(&location)).await;
        let status = app.accountview_status(&token, main).await;
        assert_eq!(status.body["status"], "connected", "{}", status.body);
        assert_eq!(status.body["company"]["code"], "VDB26");
        let import = app.accountview_import(&token, main, &json!({})).await;
        let run = app
            .finished_run(&token, main, import.body["run_id"].as_i64().unwrap())
            .await;
        assert_eq!(run["status"], "succeeded", "{run}");

        // Disconnect: not connected any more; imported relations stay.
        let gone = app.accountview_disconnect(&token, main).await;
        assert_eq!(gone.status, StatusCode::OK);
        assert_eq!(gone.body["disconnected"], true);
        assert_eq!(
            app.accountview_status(&token, main).await.body["status"],
            "not_connected"
        );
        let relations = app.records(&token, main, "relations", &[("limit", "5")]).await;
        assert_eq!(
            relations.body["items"].as_array().map(Vec::len),
            Some(5),
            "{}",
            relations.body
        );
        drop(browser);
        app
    })
    .await;
}

#[tokio::test]
async fn accountview_pages_sign_in_deny_forged_save_and_disconnect() {
    TestApp::on_every_backend_with(TestAppBuilder::with_sandbox, |app| async move {
        let fixture = app.fixture.clone();
        let main = fixture.main;
        let page_path = format!("/a/{main}/settings/integrations/accountview");
        let mut browser = PageClient::new(&app);
        browser.log_in(&fixture.admin).await;

        // Not connected: an explanation and Log in, which leads to AccountView's login page.
        let page = browser.get(&page_path).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("id=\"av-sign-in\""), "{}", page.body);
        let csrf = page.csrf();
        let missing_csrf = browser.post(&format!("{page_path}/sign-in"), &[]).await;
        assert_eq!(missing_csrf.status, StatusCode::FORBIDDEN);
        let sign_in = browser.post(&format!("{page_path}/sign-in"), &[("csrf", &csrf)]).await;
        assert_eq!(sign_in.status, StatusCode::SEE_OTHER);
        let url = sign_in.location.expect("to AccountView");
        assert!(url.starts_with(&app.sandbox().base), "{url}");

        // Deny: back on the page with a clear message, nothing connected.
        let denied = app.sandbox().consent(&url, DEMO_USER, "deny").await;
        let back = browser.get(&app.local(&denied)).await;
        assert_eq!(back.location.as_deref(), Some(page_path.as_str()));
        let page = browser.get(&page_path).await;
        assert!(page.body.contains(NL.av_sign_in_denied), "{}", page.body);
        assert!(page.body.contains("id=\"av-sign-in\""));
        assert!(app.accountview().connection(fixture.main).await.unwrap().is_none());

        // A forged state: refused, nothing connected.
        let forged = browser.get("/accountview/callback?code=abc&state=made-up").await;
        assert_eq!(forged.status, StatusCode::SEE_OTHER);
        let page = browser.get(forged.location.as_deref().unwrap_or("/")).await;
        let page = if page.status == StatusCode::SEE_OTHER {
            browser.get(page.location.as_deref().unwrap()).await
        } else {
            page
        };
        assert!(page.body.contains(NL.av_sign_in_invalid), "{}", page.body);
        assert!(app.accountview().connection(fixture.main).await.unwrap().is_none());

        // Approve: connected; choose the administration and save (export off needs no codes yet).
        let page = browser.get(&page_path).await;
        let sign_in = browser
            .post(&format!("{page_path}/sign-in"), &[("csrf", &page.csrf())])
            .await;
        let approved = app
            .sandbox()
            .consent(sign_in.location.as_deref().unwrap(), DEMO_USER, "approve")
            .await;
        browser.get(&app.local(&approved)).await;
        let page = browser.get(&page_path).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains(NL.av_connected), "{}", page.body);
        assert!(page.body.contains("VDB26 – Installatiebedrijf Van den Berg B.V. 2026"));
        assert!(page.body.contains(NL.av_codes_missing));
        let csrf = page.csrf();
        let check = browser
            .post(
                &format!("{page_path}/settings"),
                &[
                    ("csrf", &csrf),
                    ("company", VDB_2026_ID),
                    ("import_category", "debtors"),
                    ("import_category", "vat_codes"),
                    ("action", "check"),
                ],
            )
            .await;
        assert_eq!(check.status, StatusCode::OK);
        assert!(check.body.contains("data-key=\"licence\""), "{}", check.body);
        assert!(check.body.contains("data-key=\"rights:import\""));
        let saved = browser
            .post(
                &format!("{page_path}/settings"),
                &[
                    ("csrf", &csrf),
                    ("company", VDB_2026_ID),
                    ("import_category", "debtors"),
                    ("import_category", "vat_codes"),
                    ("action", "save"),
                ],
            )
            .await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
        let page = browser.get(&page_path).await;
        assert!(page.body.contains(NL.av_saved_importing), "{}", page.body);
        assert!(page.body.contains(NL.av_company_locked));
        assert!(
            page.body
                .contains("id=\"import-debtors\" name=\"import_category\" value=\"debtors\" checked")
        );
        assert!(
            !page
                .body
                .contains("id=\"import-articles\" name=\"import_category\" value=\"articles\" checked")
        );
        // Export on with nothing mapped: not saved, the check says why.
        let refused = browser
            .post(
                &format!("{page_path}/settings"),
                &[
                    ("csrf", &csrf),
                    ("company", VDB_2026_ID),
                    ("export_enabled", "on"),
                    ("action", "save"),
                ],
            )
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(refused.body.contains(NL.av_check_failed), "{}", refused.body);
        assert!(
            refused.body.contains("Verkoopdagboek: niet gekozen."),
            "{}",
            refused.body
        );

        // Both languages render every state's page.
        for lang in Lang::ALL {
            let start = browser.get(&page_path).await;
            browser
                .post(
                    "/language",
                    &[("csrf", &start.csrf()), ("lang", lang.code()), ("back", "/")],
                )
                .await;
            let m = lang.messages();
            for (path, text) in [
                (page_path.clone(), m.av_log_title),
                (format!("{page_path}/disconnect"), m.av_disconnect_confirm),
            ] {
                let page = browser.get(&path).await;
                assert_eq!(page.status, StatusCode::OK, "{path}");
                assert!(page.body.contains(text), "{path} in {}", lang.code());
                assert!(!page.body.contains("{}"), "{path} has an unfilled placeholder");
            }
        }
        let english = browser.get(&page_path).await;
        assert!(english.body.contains(EN.av_general_title));

        // Disconnect after the confirmation step.
        let confirm = browser.get(&format!("{page_path}/disconnect")).await;
        let gone = browser
            .post(&format!("{page_path}/disconnect"), &[("csrf", &confirm.csrf())])
            .await;
        assert_eq!(gone.status, StatusCode::SEE_OTHER);
        let page = browser.get(&page_path).await;
        assert!(page.body.contains(EN.av_disconnected), "{}", page.body);
        assert!(page.body.contains("id=\"av-sign-in\""));
        assert!(app.accountview().connection(fixture.main).await.unwrap().is_none());
        drop(browser);
        app
    })
    .await;
}

#[tokio::test]
async fn accountview_needs_the_right_the_licence_and_a_configuration() {
    // Without `[accountview]` the page says the operator has not configured it, and the API 503s.
    TestApp::on_every_backend(|app| async move {
        let fixture = app.fixture.clone();
        let main = fixture.main.0;
        let mut browser = PageClient::new(&app);
        browser.log_in(&fixture.admin).await;
        let page = browser
            .get(&format!("/a/{main}/settings/integrations/accountview"))
            .await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains(NL.av_not_configured), "{}", page.body);
        let token = app.token(&fixture.admin).await;
        let status = app.accountview_status(&token, fixture.main).await;
        assert_eq!(status.body["status"], "not_configured");
        let sign_in = app.accountview_sign_in(&token, fixture.main).await;
        assert_eq!(sign_in.status, StatusCode::SERVICE_UNAVAILABLE);

        // A user without manage_integrations sees the gate, and the API refuses before reading the body.
        let mut user = PageClient::new(&app);
        user.log_in(&fixture.user).await;
        let sub = fixture.sub1.0;
        let gate = user.get(&format!("/a/{sub}/settings/integrations/accountview")).await;
        assert_eq!(gate.status, StatusCode::FORBIDDEN);
        assert!(gate.body.contains(NL.right_manage_integrations), "{}", gate.body);
        let user_token = app.token(&fixture.user).await;
        let answer = app
            .client
            .put(app.url(&format!("/api/v1/administrations/{sub}/accountview/settings")))
            .bearer_auth(&user_token)
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::FORBIDDEN);

        // The log pages newest first, 20 runs a page, over both kinds.
        for index in 0..25 {
            let kind = if index % 2 == 0 {
                koppel_accountview::import::KIND
            } else {
                koppel_accountview::export::KIND
            };
            let job = koppel_jobs::storage::jobs::NewJob::new(kind, json!({})).administration(fixture.main);
            koppel_jobs::enqueue_committed(app.database.store(), &job)
                .await
                .expect("enqueue");
        }
        let first = app.accountview_log(&token, fixture.main, &[]).await;
        let runs = first.body["items"].as_array().expect("items").clone();
        assert_eq!(runs.len(), 20);
        assert!(
            runs.windows(2).all(|w| w[0]["id"].as_i64() > w[1]["id"].as_i64()),
            "newest first"
        );
        let next = first.body["next_before"].as_i64().expect("a next page").to_string();
        let second = app
            .accountview_log(&token, fixture.main, &[("before", next.as_str())])
            .await;
        assert_eq!(second.body["items"].as_array().map(Vec::len), Some(5));
        assert_eq!(second.body["next_before"], Json::Null);
        let errors = app.accountview_log(&token, fixture.main, &[("errors", "true")]).await;
        assert_eq!(errors.body["items"], json!([]));

        // Without the licence: the gate names it.
        app.database
            .store()
            .set_licence(
                fixture.environment,
                koppel_domain::licence::PowerUp::Accountview,
                koppel_domain::licence::LicenceState::Inactive,
                0,
                koppel_store::platform::Actor::SYSTEM,
            )
            .await
            .expect("licence off");
        let gate = browser
            .get(&format!("/a/{main}/settings/integrations/accountview"))
            .await;
        assert_eq!(gate.status, StatusCode::FORBIDDEN);
        let expected = koppel_web::pages::i18n::fill(NL.gate_licence, &["AccountView"]);
        assert!(gate.body.contains(&expected), "{}", gate.body);
        let status = app.accountview_status(&token, fixture.main).await;
        assert_eq!(status.status, StatusCode::FORBIDDEN);
        drop(browser);
        drop(user);
        app
    })
    .await;
}

/// Signs in on the page as `browser`'s user and approves at the sandbox; returns the page's path.
async fn sign_in_on_the_page(app: &TestApp, browser: &mut PageClient<'_>) -> String {
    let main = app.fixture.main;
    let page_path = format!("/a/{main}/settings/integrations/accountview");
    let page = browser.get(&page_path).await;
    let sign_in = browser
        .post(&format!("{page_path}/sign-in"), &[("csrf", &page.csrf())])
        .await;
    let approved = app
        .sandbox()
        .consent(
            sign_in.location.as_deref().expect("to AccountView"),
            DEMO_USER,
            "approve",
        )
        .await;
    browser.get(&app.local(&approved)).await;
    page_path
}

#[tokio::test]
async fn accountview_first_save_starts_an_import_and_the_page_follows_it_until_the_mapping_fills() {
    // No worker: the test decides when the import runs, so the page is seen while it waits.
    TestApp::on_every_backend_with(TestAppBuilder::with_sandbox, |app| async move {
        let fixture = app.fixture.clone();
        let main = fixture.main;
        let token = app.token(&fixture.admin).await;
        let mut browser = PageClient::new(&app);
        browser.log_in(&fixture.admin).await;
        let page_path = sign_in_on_the_page(&app, &mut browser).await;

        // Before saving: the choice of administration warns that it will be locked; nothing runs yet.
        let page = browser.get(&page_path).await;
        assert!(page.body.contains("id=\"av-company-warning\""), "{}", page.body);
        assert!(page.body.contains(NL.av_company_warning));
        assert!(page.body.contains(NL.av_check_title) && page.body.contains(NL.av_check_point_licence));
        assert!(!page.body.contains("id=\"av-progress\""));
        assert!(page.body.contains(NL.av_codes_missing));
        let runs = app.runs(&token, main, &[("kind", "accountview_import")]).await;
        assert_eq!(runs.body["items"], json!([]), "{}", runs.body);

        // The first Opslaan (with every category on, as the form offers) saves and starts the
        // import at once, as "Import now" would.
        let csrf = page.csrf();
        let mut form: Vec<(&str, &str)> = vec![("csrf", &csrf), ("company", VDB_2026_ID), ("action", "save")];
        for category in koppel_accountview::ImportCategory::ALL {
            form.push(("import_category", category.slug()));
        }
        let saved = browser.post(&format!("{page_path}/settings"), &form).await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
        assert_eq!(saved.location.as_deref(), Some(page_path.as_str()));
        let runs = app.runs(&token, main, &[("kind", "accountview_import")]).await;
        let items = runs.body["items"].as_array().expect("items").clone();
        assert_eq!(items.len(), 1, "one import: {}", runs.body);
        assert_eq!(items[0]["trigger"], "manual");
        assert_eq!(items[0]["started_by"], json!(fixture.admin.id));
        let run_id = items[0]["id"].as_i64().unwrap();

        // The page shows it with its progress, the way to follow it, and no lock warning any more.
        let page = browser.get(&page_path).await;
        assert!(page.body.contains(NL.av_saved_importing), "{}", page.body);
        assert!(page.body.contains("id=\"av-progress\""), "{}", page.body);
        assert!(
            page.body
                .contains(&format!("data-json=\"/api/v1/administrations/{main}/runs/{run_id}\""))
        );
        assert!(page.body.contains("src=\"/assets/accountview-progress.js\""));
        assert!(page.body.contains(NL.av_progress_refresh));
        assert!(page.body.contains(NL.av_codes_importing), "{}", page.body);
        assert!(page.body.contains(NL.av_company_locked));
        assert!(!page.body.contains("id=\"av-company-warning\""));
        // Saving again does not start a second import.
        let again = browser.post(&format!("{page_path}/settings"), &form).await;
        assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.body);
        let runs = app.runs(&token, main, &[("kind", "accountview_import")]).await;
        assert_eq!(runs.body["items"].as_array().map(Vec::len), Some(1), "{}", runs.body);

        // The script is served, and the run it polls is readable with the page's session.
        let script = browser.get("/assets/accountview-progress.js").await;
        assert_eq!(script.status, StatusCode::OK);
        assert!(script.body.contains("dataset.json"));
        let polled = browser
            .get(&format!("/api/v1/administrations/{main}/runs/{run_id}"))
            .await;
        assert_eq!(polled.status, StatusCode::OK, "{}", polled.body);

        // Once it has run: no progress any more, the export's code lists are filled.
        assert!(app.run_jobs([JobKind::AccountView]).await > 0);
        let run = app.run(&token, main, run_id).await;
        assert_eq!(run.body["status"], "succeeded", "{}", run.body);
        let page = browser.get(&page_path).await;
        assert!(!page.body.contains("id=\"av-progress\""), "{}", page.body);
        assert!(!page.body.contains("id=\"av-codes-missing\""), "{}", page.body);
        assert!(page.body.contains("<option value=\"VRK\">VRK – "), "{}", page.body);
        assert!(page.body.contains("<option value=\"8000\">8000 – "));
        drop(browser);
        app
    })
    .await;
}

/// Polls a run through the API until it has finished; returns every state seen on the way.
async fn follow_run(app: &TestApp, token: &str, run: i64) -> Vec<Json> {
    let mut seen = Vec::new();
    for _ in 0..3000 {
        let answer = app.run(token, app.fixture.main, run).await;
        let status = answer.body["status"].as_str().unwrap_or("").to_string();
        seen.push(answer.body);
        if !matches!(status.as_str(), "queued" | "running" | "") {
            return seen;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("run {run} did not finish");
}

#[tokio::test]
async fn accountview_import_and_export_runs_report_progress_while_they_run() {
    let setup = |app: TestAppBuilder| app.with_sandbox().with_worker([JobKind::AccountView]);
    TestApp::on_every_backend_with(setup, |app| async move {
        let fixture = app.fixture.clone();
        let main = fixture.main;
        let token = app.token(&fixture.admin).await;
        let mut browser = PageClient::new(&app);
        browser.log_in(&fixture.admin).await;
        sign_in_on_the_page(&app, &mut browser).await;
        let mut first = export_settings();
        first["export"]["enabled"] = json!(false);
        let saved = app
            .accountview_save_settings(&token, main, &json!({"company_id": VDB_2026_ID, "settings": first}))
            .await;
        assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
        // Every read takes a while, as over a real network, so the run is seen on its way.
        app.sandbox()
            .loopback()
            .put(
                "/_sandbox/faults/latency",
                json!({"route": "GET /api/v3/AccountViewData", "latency_ms": 60}),
            )
            .await
            .expect("latency");
        let import = app.accountview_import(&token, main, &json!({})).await;
        assert_eq!(import.status, StatusCode::ACCEPTED, "{}", import.body);
        let seen = follow_run(&app, &token, import.body["run_id"].as_i64().unwrap()).await;
        let last = seen.last().unwrap();
        assert_eq!(last["status"], "succeeded", "{last}");
        // At the end: every category done of all, and the counts per category add up.
        assert_eq!(last["progress"], json!({"done": 8, "total": 8}), "{last}");
        for (category, counts) in last["counts"].as_object().expect("counts per category") {
            if category == "payments" {
                continue;
            }
            let part = |field: &str| counts[field].as_u64().unwrap();
            assert_eq!(
                part("created") + part("updated") + part("unchanged") + part("skipped"),
                part("fetched"),
                "{category}: {counts}"
            );
        }
        assert!(last["counts"]["debtors"]["created"].as_u64().unwrap() > 0, "{last}");
        // On the way: the bar moved (some but not all categories done) and counts grew page by page.
        let running: Vec<&Json> = seen.iter().filter(|run| run["status"] == "running").collect();
        assert!(
            running
                .iter()
                .any(|run| run["progress"]["total"] == 8 && (1..8).contains(&run["progress"]["done"].as_i64().unwrap())),
            "progress seen while running: {:?}",
            running.iter().map(|run| &run["progress"]).collect::<Vec<_>>()
        );
        let debtors_read: Vec<u64> = running
            .iter()
            .filter_map(|run| run["counts"]["debtors"]["fetched"].as_u64())
            .collect();
        assert!(
            debtors_read.iter().any(|read| *read > 0 && *read < 200),
            "debtors read while running: {debtors_read:?}"
        );
        assert!(
            running
                .windows(2)
                .all(|pair| pair[0]["progress"]["done"].as_i64() <= pair[1]["progress"]["done"].as_i64()),
            "progress never goes back"
        );
        // The Dutch message adds up too: "Debiteuren: 200 gelezen (200 nieuw, 0 bijgewerkt, 0 ongewijzigd)".
        let message = last["message"]["nl"].as_str().unwrap();
        assert!(message.contains("Debiteuren: 200 gelezen (200 nieuw, 0 bijgewerkt, 0 ongewijzigd)"), "{message}");

        // An export counts its work orders first: done of total, per work order.
        let saved = app
            .accountview_save_settings(&token, main, &json!({"company_id": VDB_2026_ID, "settings": export_settings()}))
            .await;
        assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
        completed_work_order(app.database.store(), main, "10001").await;
        let export = app.accountview_export(&token, main).await;
        assert_eq!(export.status, StatusCode::ACCEPTED, "{}", export.body);
        let seen = follow_run(&app, &token, export.body["run_id"].as_i64().unwrap()).await;
        let last = seen.last().unwrap();
        assert_eq!(last["status"], "succeeded", "{last}");
        assert_eq!(last["progress"], json!({"done": 1, "total": 1}), "{last}");
        assert_eq!(last["counts"]["exported"], 1, "{last}");
        drop(browser);
        app
    })
    .await;
}
