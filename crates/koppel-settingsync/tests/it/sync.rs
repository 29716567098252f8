//! Preview, apply, pull-in, mirror, staleness, failure of one target and daily-data isolation.

use koppel_domain::record::{Area, parse_create};
use koppel_domain::resources;
use koppel_domain::{AdministrationId, RecordId};
use koppel_jobs::runs::RunStatus;
use koppel_jobs::{Queue, Registry};
use koppel_settingsync::job::SettingsSyncJob;
use koppel_settingsync::{
    Action, ApplyError, BlockReason, Plan, Selection, SettingsCategory, SettingsSyncError, SettingsSyncRequest,
};
use koppel_settingsync::{TargetOutcome, apply_target, preview};
use koppel_store::Store;
use koppel_test_support::{Fixture, TestDatabase};
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

async fn create(store: &Store, administration: AdministrationId, slug: &str, body: Json) -> RecordId {
    let spec = resources::by_slug(slug).unwrap();
    let values = parse_create(spec, &body).unwrap_or_else(|e| panic!("{slug}: {e:?}"));
    store
        .create_record(administration, spec, values)
        .await
        .unwrap_or_else(|e| panic!("{slug}: {e:?}"))
        .id
}

/// An item of a plan in short: category, code, action and what pulled it in.
type PlannedItem<'a> = (SettingsCategory, &'a str, Action, Option<(SettingsCategory, String)>);

fn form(code: &str, name: &str) -> Json {
    json!({"code": code, "name": name, "fields": [{"key": "opmerking", "label": "Opmerking", "type": "text"}]})
}

/// A main with two forms, two work types and a workflow that uses one of each.
async fn seed_main(store: &Store, main: AdministrationId) {
    create(store, main, "forms", form("F-CV", "CV-ketel inspectie")).await;
    create(store, main, "forms", form("F-WP", "Warmtepomp inspectie")).await;
    create(
        store,
        main,
        "work-types",
        json!({"code": "ONDERHOUD", "name": "Onderhoud"}),
    )
    .await;
    create(store, main, "work-types", json!({"code": "STORING", "name": "Storing"})).await;
    create(
        store,
        main,
        "workflows",
        json!({"code": "WF-CV", "name": "CV-ketel onderhoud",
               "steps": [{"name": "Aankomst"}, {"name": "Inspectie", "form_code": "F-CV"}],
               "work_type_codes": ["ONDERHOUD"]}),
    )
    .await;
}

fn selection(categories: &[SettingsCategory]) -> Selection {
    Selection {
        categories: categories.iter().copied().collect(),
        ..Selection::default()
    }
}

fn request(fixture: &Fixture, targets: &[AdministrationId], selection: Selection) -> SettingsSyncRequest {
    SettingsSyncRequest {
        source: fixture.main,
        targets: targets.to_vec(),
        selection,
    }
}

/// A digest of every daily-data row of an administration.
async fn daily_checksum(store: &Store, administration: AdministrationId) -> String {
    let mut tx = store.snapshot().await.unwrap();
    let mut hasher = Sha256::new();
    for spec in resources::ALL.iter().filter(|s| s.area == Area::Daily) {
        for record in tx.all_records(administration, spec).await.unwrap() {
            hasher.update(format!(
                "{}:{:?}:{}:{:?}\n",
                spec.slug, record.id, record.change_seq, record.values
            ));
        }
    }
    tx.rollback().await.unwrap();
    hex::encode(hasher.finalize())
}

/// A digest of every settings row of an administration, ids included.
async fn settings_checksum(store: &Store, administration: AdministrationId) -> String {
    let mut tx = store.snapshot().await.unwrap();
    let mut hasher = Sha256::new();
    for category in SettingsCategory::ALL {
        for record in tx.all_records(administration, category.spec()).await.unwrap() {
            hasher.update(format!(
                "{category}:{:?}:{:?}:{}\n",
                record.id, record.values, record.change_seq
            ));
        }
    }
    tx.rollback().await.unwrap();
    hex::encode(hasher.finalize())
}

async fn codes(store: &Store, administration: AdministrationId, category: SettingsCategory) -> BTreeSet<String> {
    let mut tx = store.snapshot().await.unwrap();
    let spec = category.spec();
    let records = tx.all_records(administration, spec).await.unwrap();
    tx.rollback().await.unwrap();
    records
        .iter()
        .map(|r| r.get(spec, "code").as_str().unwrap().to_string())
        .collect()
}

/// Applies every target of a plan as the job would, with a made-up run id.
async fn apply_all(store: &Store, plan: &Plan, run: i64) -> Vec<Result<TargetOutcome, ApplyError>> {
    let mut outcomes = Vec::new();
    for target in &plan.targets {
        outcomes.push(apply_target(store, plan.source, target.target, &plan.selection, &target.digest, run).await);
    }
    outcomes
}

/// Some daily data in a sub that uses settings by code.
async fn seed_daily(store: &Store, sub: AdministrationId) {
    create(
        store,
        sub,
        "work-types",
        json!({"code": "ONDERHOUD", "name": "Onderhoud (eigen)"}),
    )
    .await;
    let relation = create(
        store,
        sub,
        "relations",
        json!({"code": "D1001", "name": "Bakkerij Smit", "kind": "company"}),
    )
    .await;
    create(
        store,
        sub,
        "work-orders",
        json!({"number": "WB-1", "relation_id": relation.0, "work_type_code": "ONDERHOUD", "description": "Jaarlijks onderhoud", "status": "Klaargezet"}),
    )
    .await;
}

#[tokio::test]
async fn a_preview_shows_creates_updates_and_what_is_pulled_in() {
    for database in TestDatabase::all().await {
        let store = database.store();
        let fixture = Fixture::create(store).await;
        seed_main(store, fixture.main).await;
        create(store, fixture.sub1, "forms", form("F-CV", "Oude inspectie")).await;
        let plan = preview(
            store,
            &request(&fixture, &[fixture.sub1], selection(&[SettingsCategory::Workflows])),
        )
        .await
        .unwrap();
        let target = &plan.targets[0];
        let summary: Vec<PlannedItem> = target
            .items
            .iter()
            .map(|i| (i.category, i.code.as_str(), i.action, i.pulled_in_by.clone()))
            .collect();
        let by_workflow = Some((SettingsCategory::Workflows, "WF-CV".to_string()));
        assert_eq!(
            summary,
            vec![
                (SettingsCategory::Forms, "F-CV", Action::Update, by_workflow.clone()),
                (SettingsCategory::WorkTypes, "ONDERHOUD", Action::Create, by_workflow),
                (SettingsCategory::Workflows, "WF-CV", Action::Create, None),
            ]
        );
        let update = &target.items[0];
        assert_eq!(update.changes.len(), 1);
        assert_eq!(update.changes[0].field, "name");
        assert_eq!(update.changes[0].before, "Oude inspectie");
        assert_eq!(update.changes[0].after, "CV-ketel inspectie");
        assert!(target.blockers.is_empty());
        database.cleanup().await;
    }
}

#[tokio::test]
async fn applying_changes_settings_only_and_a_second_run_changes_nothing() {
    for database in TestDatabase::all().await {
        let store = database.store();
        let fixture = Fixture::create(store).await;
        seed_main(store, fixture.main).await;
        seed_daily(store, fixture.sub1).await;
        seed_daily(store, fixture.sub2).await;
        let daily_before = [
            daily_checksum(store, fixture.sub1).await,
            daily_checksum(store, fixture.sub2).await,
        ];
        let targets = [fixture.sub1, fixture.sub2];
        let everything = selection(&SettingsCategory::ALL);
        let plan = preview(store, &request(&fixture, &targets, everything.clone()))
            .await
            .unwrap();
        for outcome in apply_all(store, &plan, 1).await {
            assert!(matches!(outcome, Ok(TargetOutcome::Applied(_))), "{outcome:?}");
        }
        for sub in targets {
            assert_eq!(
                codes(store, sub, SettingsCategory::Forms).await,
                BTreeSet::from(["F-CV".into(), "F-WP".into()])
            );
            assert_eq!(
                codes(store, sub, SettingsCategory::Workflows).await,
                BTreeSet::from(["WF-CV".into()])
            );
        }
        // The subs' daily data is exactly as it was.
        assert_eq!(daily_checksum(store, fixture.sub1).await, daily_before[0]);
        assert_eq!(daily_checksum(store, fixture.sub2).await, daily_before[1]);
        // The main's ids never reach a sub: the copies have ids of their own.
        let mut tx = store.snapshot().await.unwrap();
        let main_ids: BTreeSet<RecordId> = tx
            .all_records(fixture.main, SettingsCategory::Forms.spec())
            .await
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        let sub_ids: BTreeSet<RecordId> = tx
            .all_records(fixture.sub1, SettingsCategory::Forms.spec())
            .await
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        tx.rollback().await.unwrap();
        assert!(main_ids.is_disjoint(&sub_ids));

        // Again: nothing to do, and nothing is written.
        let settings_before = settings_checksum(store, fixture.sub1).await;
        let again = preview(store, &request(&fixture, &targets, everything)).await.unwrap();
        assert!(again.targets.iter().all(|t| !t.has_changes()), "{again:?}");
        for outcome in apply_all(store, &again, 2).await {
            assert!(matches!(outcome, Ok(TargetOutcome::Applied(ref plan)) if !plan.has_changes()));
        }
        assert_eq!(settings_checksum(store, fixture.sub1).await, settings_before);
        database.cleanup().await;
    }
}

#[tokio::test]
async fn a_change_after_the_preview_is_not_applied() {
    for database in TestDatabase::all().await {
        let store = database.store();
        let fixture = Fixture::create(store).await;
        seed_main(store, fixture.main).await;
        let plan = preview(
            store,
            &request(&fixture, &[fixture.sub1], selection(&[SettingsCategory::Forms])),
        )
        .await
        .unwrap();
        // Someone changes a form in the main before the user confirms.
        create(store, fixture.main, "forms", form("F-NIEUW", "Nieuw formulier")).await;
        let before = settings_checksum(store, fixture.sub1).await;
        let outcome = apply_all(store, &plan, 1).await.remove(0);
        assert!(matches!(outcome, Err(ApplyError::Stale)), "{outcome:?}");
        assert_eq!(settings_checksum(store, fixture.sub1).await, before);
        // A fresh preview shows the new form, and applies.
        let fresh = preview(
            store,
            &request(&fixture, &[fixture.sub1], selection(&[SettingsCategory::Forms])),
        )
        .await
        .unwrap();
        assert_eq!(fresh.targets[0].count(Action::Create), 3);
        assert!(matches!(
            apply_all(store, &fresh, 2).await.remove(0),
            Ok(TargetOutcome::Applied(_))
        ));
        database.cleanup().await;
    }
}

#[tokio::test]
async fn mirror_removes_what_the_main_lacks_unless_it_is_still_used() {
    for database in TestDatabase::all().await {
        let store = database.store();
        let fixture = Fixture::create(store).await;
        seed_main(store, fixture.main).await;
        // Sub 1 has a form of its own, unused: mirror removes it.
        create(store, fixture.sub1, "forms", form("F-EIGEN", "Eigen formulier")).await;
        // Sub 2 has a work type of its own that its work orders use: mirror cannot remove it.
        create(
            store,
            fixture.sub2,
            "work-types",
            json!({"code": "LOKAAL", "name": "Lokaal"}),
        )
        .await;
        let relation = create(
            store,
            fixture.sub2,
            "relations",
            json!({"code": "D1", "name": "Klant", "kind": "person"}),
        )
        .await;
        create(
            store,
            fixture.sub2,
            "work-orders",
            json!({"number": "WB-9", "relation_id": relation.0, "work_type_code": "LOKAAL", "description": "Reparatie", "status": "Klaargezet"}),
        )
        .await;
        let mut mirrored = selection(&[SettingsCategory::Forms, SettingsCategory::WorkTypes]);
        mirrored.mirror = true;
        let plan = preview(
            store,
            &request(&fixture, &[fixture.sub1, fixture.sub2], mirrored.clone()),
        )
        .await
        .unwrap();
        let removal = plan.targets[0]
            .items
            .iter()
            .find(|i| i.action == Action::Remove)
            .unwrap();
        assert_eq!(
            (removal.category, removal.code.as_str()),
            (SettingsCategory::Forms, "F-EIGEN")
        );
        assert!(plan.targets[0].blockers.is_empty());
        let blocker = &plan.targets[1].blockers[0];
        assert_eq!(
            (blocker.category, blocker.code.as_str()),
            (SettingsCategory::WorkTypes, "LOKAAL")
        );
        assert_eq!(
            blocker.reason,
            BlockReason::UsedByDailyData {
                resource: "work-orders"
            }
        );

        let sub2_before = settings_checksum(store, fixture.sub2).await;
        let outcomes = apply_all(store, &plan, 1).await;
        assert!(matches!(outcomes[0], Ok(TargetOutcome::Applied(_))));
        assert!(matches!(outcomes[1], Err(ApplyError::Blocked(_))));
        assert!(
            !codes(store, fixture.sub1, SettingsCategory::Forms)
                .await
                .contains("F-EIGEN")
        );
        assert_eq!(settings_checksum(store, fixture.sub2).await, sub2_before);

        // Without mirror nothing is removed.
        let plain = preview(
            store,
            &request(&fixture, &[fixture.sub2], selection(&[SettingsCategory::WorkTypes])),
        )
        .await
        .unwrap();
        assert!(plain.targets[0].items.iter().all(|i| i.action != Action::Remove));
        database.cleanup().await;
    }
}

#[tokio::test]
async fn requests_outside_the_rules_are_refused_clearly() {
    for database in TestDatabase::all().await {
        let store = database.store();
        let fixture = Fixture::create(store).await;
        seed_main(store, fixture.main).await;
        let forms = selection(&[SettingsCategory::Forms]);
        let from_sub = SettingsSyncRequest {
            source: fixture.sub1,
            targets: vec![fixture.sub2],
            selection: forms.clone(),
        };
        assert!(matches!(
            preview(store, &from_sub).await,
            Err(SettingsSyncError::NotMain)
        ));
        let to_main = request(&fixture, &[fixture.main], forms.clone());
        assert!(matches!(
            preview(store, &to_main).await,
            Err(SettingsSyncError::NotASub(_))
        ));
        let other = Fixture::create(store).await;
        let to_stranger = request(&fixture, &[other.sub1], forms.clone());
        assert!(matches!(
            preview(store, &to_stranger).await,
            Err(SettingsSyncError::NotASub(_))
        ));
        assert!(matches!(
            preview(store, &request(&fixture, &[], forms)).await,
            Err(SettingsSyncError::NoTargets)
        ));
        let nothing = request(&fixture, &[fixture.sub1], Selection::default());
        assert!(matches!(
            preview(store, &nothing).await,
            Err(SettingsSyncError::NoCategories)
        ));
        let mut unknown = Selection::default();
        unknown
            .items
            .insert(SettingsCategory::Forms, BTreeSet::from(["F-BESTAATNIET".to_string()]));
        let unknown = request(&fixture, &[fixture.sub1], unknown);
        assert!(matches!(
            preview(store, &unknown).await,
            Err(SettingsSyncError::UnknownItem { .. })
        ));
        database.cleanup().await;
    }
}

/// Makes inserting a workflow into `administration` fail inside the database, as a broken disk or
/// a constraint nobody expected would.
async fn break_workflow_inserts(database: &TestDatabase, administration: AdministrationId) {
    match database.backend() {
        koppel_store::Backend::Sqlite => {
            use sqlx::Connection;
            let mut connection = sqlx::SqliteConnection::connect(database.url()).await.unwrap();
            let statement = format!(
                "CREATE TRIGGER injected_failure BEFORE INSERT ON workflows WHEN NEW.administration_id = {administration} \
                 BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
            );
            sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&mut connection)
                .await
                .unwrap();
        }
        koppel_store::Backend::Postgres => {
            use sqlx::Connection;
            let mut connection = sqlx::PgConnection::connect(database.url()).await.unwrap();
            sqlx::query(
                "CREATE FUNCTION injected_failure() RETURNS trigger AS $$ \
                 BEGIN RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql",
            )
            .execute(&mut connection)
            .await
            .unwrap();
            let statement = format!(
                "CREATE TRIGGER injected_failure BEFORE INSERT ON workflows FOR EACH ROW \
                 WHEN (NEW.administration_id = {administration}) EXECUTE FUNCTION injected_failure()"
            );
            sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&mut connection)
                .await
                .unwrap();
        }
    }
}

#[tokio::test]
async fn one_target_failing_midway_is_left_as_it_was_and_the_others_go_on() {
    for database in TestDatabase::all().await {
        let store = database.store();
        let fixture = Fixture::create(store).await;
        seed_main(store, fixture.main).await;
        break_workflow_inserts(&database, fixture.sub1).await;
        let sub1_before = settings_checksum(store, fixture.sub1).await;
        let plan = preview(
            store,
            &request(
                &fixture,
                &[fixture.sub1, fixture.sub2],
                selection(&[SettingsCategory::Forms, SettingsCategory::Workflows]),
            ),
        )
        .await
        .unwrap();
        let enqueued = koppel_settingsync::job::enqueue(store, &plan, fixture.admin.id)
            .await
            .unwrap();
        let mut registry = Registry::new();
        registry.register(SettingsSyncJob);
        koppel_jobs::testing::worker(&Queue::new(store.clone(), 3), registry)
            .run_until_idle()
            .await
            .unwrap();

        let run = koppel_jobs::runs::run(store, fixture.main, enqueued.run())
            .await
            .unwrap();
        assert_eq!(run.status, RunStatus::PartiallySucceeded, "{run:?}");
        assert_eq!(run.counts["targets_failed"], 1);
        assert_eq!(run.counts["targets_succeeded"], 1);
        // Sub 1 got nothing — not even the forms that come before the failing workflow.
        assert_eq!(settings_checksum(store, fixture.sub1).await, sub1_before);
        assert_eq!(
            codes(store, fixture.sub2, SettingsCategory::Workflows).await,
            BTreeSet::from(["WF-CV".into()])
        );
        let items = koppel_jobs::runs::items(store, fixture.main, run.id, None, 100)
            .await
            .unwrap()
            .items;
        let failed = items.iter().find(|i| i.key == fixture.sub1.to_string()).unwrap();
        assert!(
            failed.message.as_ref().unwrap().nl.contains("niet bijgewerkt"),
            "{failed:?}"
        );
        assert!(
            items
                .iter()
                .any(|i| i.key == format!("{}/workflows/WF-CV", fixture.sub2))
        );
        database.cleanup().await;
    }
}
