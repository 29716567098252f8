//! Settings sync over the REST API: targets, preview, confirm (and its refusals), the run.

use koppel_domain::AdministrationId;
use koppel_domain::record::parse_create;
use koppel_domain::resources;
use koppel_store::Store;
use koppel_test_support::TestApp;
use koppel_test_support::app::JobKind;
use reqwest::StatusCode;
use serde_json::{Value as Json, json};

pub async fn create(store: &Store, administration: AdministrationId, slug: &str, body: Json) {
    let spec = resources::by_slug(slug).unwrap();
    let values = parse_create(spec, &body).unwrap();
    store.create_record(administration, spec, values).await.unwrap();
}

/// Forms, work types and a workflow in the main, like a real installer's settings.
pub async fn seed_settings(store: &Store, main: AdministrationId) {
    for (code, name) in [("F-CV", "CV-ketel inspectie"), ("F-WP", "Warmtepomp inspectie")] {
        create(
            store,
            main,
            "forms",
            json!({"code": code, "name": name, "fields": [{"key": "opmerking", "label": "Opmerking", "type": "text"}]}),
        )
        .await;
    }
    create(
        store,
        main,
        "work-types",
        json!({"code": "ONDERHOUD", "name": "Onderhoud"}),
    )
    .await;
    create(
        store,
        main,
        "workflows",
        json!({"code": "WF-CV", "name": "CV-ketel onderhoud",
               "steps": [{"name": "Inspectie", "form_code": "F-CV"}], "work_type_codes": ["ONDERHOUD"]}),
    )
    .await;
    create(
        store,
        main,
        "hour-types",
        json!({"code": "NORMAAL", "description": "Normaal uur", "rate": "65.00", "vat_rate": "21", "billable": true}),
    )
    .await;
}

#[tokio::test]
async fn preview_confirm_and_the_run_through_the_api() {
    TestApp::on_every_backend(|app| async move {
        let fixture = app.fixture.clone();
        let store = app.database.store().clone();
        seed_settings(&store, fixture.main).await;
        let admin = app.token(&fixture.admin).await;
        let main = fixture.main;

        let targets = app.settingsync_targets(&admin, main).await;
        assert_eq!(targets.status, StatusCode::OK, "{}", targets.body);
        assert_eq!(targets.body["items"].as_array().unwrap().len(), 2);
        assert_eq!(targets.body["items"][0]["drifted"], true);
        assert_eq!(targets.body["items"][0]["last_synced_at"], Json::Null);

        let body = json!({"targets": [fixture.sub1.0], "categories": ["workflows"]});
        let preview = app.settingsync_preview(&admin, main, &body).await;
        assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
        let items = preview.body["targets"][0]["items"].as_array().unwrap();
        let pulled: Vec<&str> = items
            .iter()
            .filter(|i| !i["pulled_in_by"].is_null())
            .map(|i| i["code"].as_str().unwrap())
            .collect();
        assert_eq!(pulled, ["F-CV", "ONDERHOUD"]);
        let digest = preview.body["targets"][0]["digest"].as_str().unwrap().to_string();

        // Confirming needs the digests; a wrong one gets a fresh preview back.
        let missing = app.settingsync_confirm(&admin, main, &body).await;
        assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
        let mut stale = body.clone();
        stale["digests"] = json!({fixture.sub1.to_string(): "0000"});
        let outdated = app.settingsync_confirm(&admin, main, &stale).await;
        assert_eq!(outdated.status, StatusCode::CONFLICT);
        assert_eq!(outdated.code(), "preview_outdated");
        assert_eq!(outdated.body["preview"]["targets"][0]["digest"], digest.as_str());

        let mut confirmed = body.clone();
        confirmed["digests"] = json!({fixture.sub1.to_string(): digest});
        let started = app.settingsync_confirm(&admin, main, &confirmed).await;
        assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.body);
        let run_path = started.body["run"].as_str().unwrap().to_string();
        app.run_jobs([JobKind::SettingsSync]).await;
        let run = app.get(&admin, &run_path).await;
        assert_eq!(run.body["status"], "succeeded", "{}", run.body);
        assert_eq!(run.body["counts"]["created"], 3);
        let item_keys: Vec<&str> = run.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["key"].as_str().unwrap())
            .collect();
        assert!(
            item_keys.contains(&format!("{}/workflows/WF-CV", fixture.sub1).as_str()),
            "{item_keys:?}"
        );
        // The history lists it under its kind.
        let history = app.runs(&admin, main, &[("kind", "settings_sync")]).await;
        assert_eq!(history.body["items"].as_array().unwrap().len(), 1);
        let targets = app.settingsync_targets(&admin, main).await;
        assert!(
            targets.body["items"][0]["last_synced_at"].is_string(),
            "{}",
            targets.body
        );
        app
    })
    .await;
}

#[tokio::test]
async fn refusals_say_what_is_wrong() {
    TestApp::on_every_backend(|app| async move {
        let fixture = app.fixture.clone();
        seed_settings(app.database.store(), fixture.main).await;
        let admin = app.token(&fixture.admin).await;
        let user = app.token(&fixture.user).await;
        let forms = json!({"targets": [fixture.sub1.0], "categories": ["forms"]});

        // The user of sub 1 has no access to the main at all, and no sync right on sub 1.
        assert_eq!(
            app.settingsync_preview(&user, fixture.main, &forms).await.status,
            StatusCode::NOT_FOUND
        );
        let from_sub = app.settingsync_preview(&user, fixture.sub1, &forms).await;
        assert_eq!(from_sub.status, StatusCode::FORBIDDEN);
        assert!(
            from_sub.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("sync_settings")
        );
        // A sub is no source, even for an administrator.
        let not_main = app
            .settingsync_preview(
                &admin,
                fixture.sub1,
                &json!({"targets": [fixture.sub2.0], "categories": ["forms"]}),
            )
            .await;
        assert_eq!(not_main.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(not_main.body["error"]["fields"][0]["code"], "not_main");
        let empty = app
            .settingsync_preview(&admin, fixture.main, &json!({"targets": [], "categories": ["forms"]}))
            .await;
        assert_eq!(empty.body["error"]["fields"][0]["code"], "no_targets");
        let nothing = app
            .settingsync_preview(&admin, fixture.main, &json!({"targets": [fixture.sub1.0]}))
            .await;
        assert_eq!(nothing.body["error"]["fields"][0]["code"], "no_categories");
        let unknown = app
            .settingsync_preview(
                &admin,
                fixture.main,
                &json!({"targets": [fixture.sub1.0], "categories": ["invoices"]}),
            )
            .await;
        assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            unknown.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("forms, workflows")
        );
        let main_as_target = app
            .settingsync_preview(
                &admin,
                fixture.main,
                &json!({"targets": [fixture.main.0], "categories": ["forms"]}),
            )
            .await;
        assert_eq!(main_as_target.body["error"]["fields"][0]["code"], "not_a_sub");

        // Without the sub-administrations licence the feature is closed, with the reason.
        let store = app.database.store();
        store
            .set_licence(
                fixture.environment,
                koppel_domain::licence::PowerUp::SubAdministrations,
                koppel_domain::licence::LicenceState::Inactive,
                5,
                koppel_store::platform::Actor::SYSTEM,
            )
            .await
            .unwrap();
        let closed = app.settingsync_preview(&admin, fixture.main, &forms).await;
        assert_eq!(closed.status, StatusCode::FORBIDDEN);
        assert_eq!(closed.code(), "licence_inactive");
        app
    })
    .await;
}

/// Syncs `categories` of the main to `target` through the API and runs the job.
async fn sync(app: &TestApp, admin: &str, main: AdministrationId, target: AdministrationId, categories: &[&str]) {
    let body = json!({"targets": [target.0], "categories": categories});
    let preview = app.settingsync_preview(admin, main, &body).await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    let mut confirmed = body.clone();
    confirmed["digests"] = json!({target.to_string(): preview.body["targets"][0]["digest"]});
    let started = app.settingsync_confirm(admin, main, &confirmed).await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.body);
    app.run_jobs([JobKind::SettingsSync]).await;
}

#[tokio::test]
async fn a_synced_sub_is_no_longer_shown_as_differing() {
    TestApp::on_every_backend(|app| async move {
        let fixture = app.fixture.clone();
        seed_settings(app.database.store(), fixture.main).await;
        let admin = app.token(&fixture.admin).await;
        let everything: Vec<&str> = koppel_settingsync::SettingsCategory::ALL
            .iter()
            .map(|c| c.slug())
            .collect();
        let drifted = |targets: &Json, id: AdministrationId| {
            targets["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["target"] == json!(id.0))
                .map(|i| i["drifted"].clone())
        };
        let before = app.settingsync_targets(&admin, fixture.main).await;
        assert_eq!(
            drifted(&before.body, fixture.sub1),
            Some(json!(true)),
            "{}",
            before.body
        );
        assert_eq!(
            drifted(&before.body, fixture.sub2),
            Some(json!(true)),
            "{}",
            before.body
        );
        // Sub 1 receives everything, sub 2 only the forms (the main also has workflows, work
        // types and hour types that sub 2 does not get).
        sync(&app, &admin, fixture.main, fixture.sub1, &everything).await;
        sync(&app, &admin, fixture.main, fixture.sub2, &["forms"]).await;
        let after = app.settingsync_targets(&admin, fixture.main).await;
        assert_eq!(drifted(&after.body, fixture.sub1), Some(json!(false)), "{}", after.body);
        assert_eq!(drifted(&after.body, fixture.sub2), Some(json!(false)), "{}", after.body);
        // A new form in the main: both differ again.
        create(
            app.database.store(),
            fixture.main,
            "forms",
            json!({"code": "F-ZP", "name": "Zonnepanelen", "fields": []}),
        )
        .await;
        let changed = app.settingsync_targets(&admin, fixture.main).await;
        assert_eq!(
            drifted(&changed.body, fixture.sub1),
            Some(json!(true)),
            "{}",
            changed.body
        );
        assert_eq!(
            drifted(&changed.body, fixture.sub2),
            Some(json!(true)),
            "{}",
            changed.body
        );
        app
    })
    .await;
}

#[tokio::test]
async fn the_preview_page_names_categories_items_and_fields_by_their_labels() {
    TestApp::on_every_backend(|app| async move {
        let fixture = app.fixture.clone();
        let store = app.database.store().clone();
        seed_settings(&store, fixture.main).await;
        create(
            &store,
            fixture.sub1,
            "templates",
            json!({"code": "T-FACTUUR", "name": "Factuur oud", "kind": "invoice", "body": "Beste klant,",
                   "footer": "Oude voet", "options": {}}),
        )
        .await;
        create(
            &store,
            fixture.main,
            "templates",
            json!({"code": "T-FACTUUR", "name": "Factuur", "kind": "invoice", "body": "Beste klant,",
                   "footer": "Betaal binnen 14 dagen", "options": {"logo": true}}),
        )
        .await;
        let mut client = crate::pages::PageClient::new(&app);
        client.log_in(&fixture.admin).await;
        let path = format!(
            "/a/{}/settings/administrations/sync/preview?target={}&category=templates",
            fixture.main, fixture.sub1
        );
        let page = client.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let body = &page.body;
        assert!(body.contains("Sjablonen</span> · <strong>Factuur</strong>"), "{body}");
        assert!(
            body.contains("Naam</span>: <del>Factuur oud</del> → <ins>Factuur</ins>"),
            "{body}"
        );
        assert!(
            body.contains("Voettekst</span>: <del>Oude voet</del> → <ins>Betaal binnen 14 dagen</ins>"),
            "{body}"
        );
        assert!(
            body.contains("Opties</span> gewijzigd"),
            "structured values only say they change: {body}"
        );
        for raw in ["templates/T-FACTUUR", "name:", "footer:", "<code>", "T-FACTUUR"] {
            assert!(!body.contains(raw), "raw {raw} in the preview");
        }
        app
    })
    .await;
}
