//! What writing a target's plan in sets could get wrong: a first sync that creates something other
//! than the main's items, a repeated sync that writes, a drifted sub that does not end equal, a
//! changed target that is applied anyway, and plans larger than one statement.

use koppel_domain::record::{Value, parse_create};
use koppel_domain::resources;
use koppel_domain::{AdministrationId, RecordId};
use koppel_settingsync::{
    Action, ApplyError, Plan, Selection, SettingsCategory, SettingsSyncRequest, TargetOutcome, apply_target, preview,
};
use koppel_store::set_write::SET_WRITE_MAX_ROWS;
use koppel_store::{Store, StoreError};
use koppel_test_support::{Fixture, TestDatabase};
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;

async fn create(store: &Store, administration: AdministrationId, slug: &str, body: Json) -> RecordId {
    let spec = resources::by_slug(slug).unwrap();
    let values = parse_create(spec, &body).unwrap_or_else(|e| panic!("{slug}: {e:?}"));
    store
        .create_record(administration, spec, values)
        .await
        .unwrap_or_else(|e| panic!("{slug}: {e:?}"))
        .id
}

fn form(code: &str, name: &str) -> Json {
    json!({"code": code, "name": name, "fields": [{"key": "opmerking", "label": "Opmerking", "type": "text"}]})
}

/// A main with every category filled, workflows referring to forms and work types by code.
async fn seed_main(store: &Store, main: AdministrationId) {
    for n in 0..4 {
        create(store, main, "forms", form(&format!("F-{n}"), &format!("Formulier {n}"))).await;
        create(
            store,
            main,
            "work-types",
            json!({"code": format!("WT-{n}"), "name": format!("Werksoort {n}")}),
        )
        .await;
        create(
            store,
            main,
            "work-statuses",
            json!({"code": format!("WS-{n}"), "name": format!("Status {n}"), "is_final": n == 3}),
        )
        .await;
        create(store, main, "hour-types", json!({"code": format!("HT-{n}"), "description": format!("Uursoort {n}"), "rate": "62.50", "vat_rate": "21", "billable": n % 2 == 0})).await;
        create(store, main, "free-field-definitions", json!({"code": format!("FF-{n}"), "label": format!("Vrij veld {n}"), "entity": "work_order", "field_type": "text"})).await;
        create(
            store,
            main,
            "app-policies",
            json!({"code": format!("AP-{n}"), "name": format!("Beleid {n}"), "enabled": n != 1}),
        )
        .await;
        create(store, main, "templates", json!({"code": format!("T-{n}"), "name": format!("Sjabloon {n}"), "kind": "work_order", "body": "Beste {{klant}},\n\tHierbij de werkbon.", "options": {"logo": true}})).await;
        create(
            store,
            main,
            "workflows",
            json!({"code": format!("WF-{n}"), "name": format!("Workflow {n}"),
                   "steps": [{"name": "Aankomst"}, {"name": "Inspectie", "form_code": format!("F-{n}")}],
                   "work_type_codes": [format!("WT-{n}"), "WT-0"]}),
        )
        .await;
    }
}

fn everything(mirror: bool) -> Selection {
    Selection {
        categories: SettingsCategory::ALL.into_iter().collect(),
        mirror,
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

/// Every settings item of an administration by category and code: its values (what a sync copies).
type Items = BTreeMap<(SettingsCategory, String), Vec<Value>>;

/// Every settings row of an administration by category and code, with its id, change position and
/// times: what a sync that should write nothing must leave alone.
type Rows = BTreeMap<(SettingsCategory, String), (RecordId, i64, String, Vec<Value>)>;

async fn rows(store: &Store, administration: AdministrationId) -> Rows {
    let mut tx = store.snapshot().await.unwrap();
    let mut rows = Rows::new();
    for category in SettingsCategory::ALL {
        let spec = category.spec();
        for record in tx.all_records(administration, spec).await.unwrap() {
            let code = record.get(spec, "code").as_str().unwrap().to_string();
            let times = format!("{}/{}", record.created_at, record.modified_at);
            rows.insert((category, code), (record.id, record.change_seq, times, record.values));
        }
    }
    tx.rollback().await.unwrap();
    rows
}

async fn items(store: &Store, administration: AdministrationId) -> Items {
    rows(store, administration)
        .await
        .into_iter()
        .map(|(key, (_, _, _, values))| (key, values))
        .collect()
}

async fn position(store: &Store, administration: AdministrationId) -> i64 {
    let mut tx = store.snapshot().await.unwrap();
    let position = tx.change_position(administration).await.unwrap();
    tx.rollback().await.unwrap();
    position
}

async fn apply_all(store: &Store, plan: &Plan, run: i64) -> Vec<Result<TargetOutcome, ApplyError>> {
    let mut outcomes = Vec::new();
    for target in &plan.targets {
        outcomes.push(apply_target(store, plan.source, target.target, &plan.selection, &target.digest, run).await);
    }
    outcomes
}

async fn sync(store: &Store, request: &SettingsSyncRequest, run: i64) -> Plan {
    let plan = preview(store, request).await.unwrap();
    for outcome in apply_all(store, &plan, run).await {
        assert!(matches!(outcome, Ok(TargetOutcome::Applied(_))), "{outcome:?}");
    }
    plan
}

#[tokio::test]
async fn a_first_sync_creates_exactly_the_mains_items_in_one_change() {
    for database in TestDatabase::all().await {
        let store = database.store();
        let fixture = Fixture::create(store).await;
        seed_main(store, fixture.main).await;
        let before = position(store, fixture.sub1).await;
        let plan = sync(store, &request(&fixture, &[fixture.sub1], everything(false)), 1).await;
        assert_eq!(plan.targets[0].count(Action::Create), 32);

        // The same items with the same values, workflows included: their form and work-type codes
        // now name the sub's own copies, which exist.
        let main = items(store, fixture.main).await;
        let sub = items(store, fixture.sub1).await;
        assert_eq!(sub, main);
        let copies = rows(store, fixture.sub1).await;
        let workflow = &copies[&(SettingsCategory::Workflows, "WF-2".to_string())].3;
        let steps = &workflow[resources::WORKFLOWS.field_index("steps")];
        assert!(steps.as_str().unwrap().contains("F-2"), "{steps:?}");
        assert!(copies.contains_key(&(SettingsCategory::Forms, "F-2".to_string())));
        for code in ["WT-2", "WT-0"] {
            assert!(copies.contains_key(&(SettingsCategory::WorkTypes, code.to_string())));
        }
        // One write transaction: one change position, one time, for every row.
        assert_eq!(position(store, fixture.sub1).await, before + 1);
        for (key, (_, change_seq, times, _)) in &copies {
            assert_eq!(*change_seq, before + 1, "{key:?}");
            let (created, modified) = times.split_once('/').unwrap();
            assert_eq!(created, modified, "{key:?}");
        }
        // Change tracking sees every copy.
        let mut tx = store.snapshot().await.unwrap();
        let changed = tx
            .changed_records(fixture.sub1, &resources::FORMS, before, 0, 100)
            .await
            .unwrap();
        tx.rollback().await.unwrap();
        assert_eq!(changed.len(), 4);
        database.cleanup().await;
    }
}

#[tokio::test]
async fn a_repeated_sync_writes_nothing() {
    for database in TestDatabase::all().await {
        let store = database.store();
        let fixture = Fixture::create(store).await;
        seed_main(store, fixture.main).await;
        let request = request(&fixture, &[fixture.sub1, fixture.sub2], everything(true));
        sync(store, &request, 1).await;
        let before = [rows(store, fixture.sub1).await, rows(store, fixture.sub2).await];
        let positions = [position(store, fixture.sub1).await, position(store, fixture.sub2).await];

        let again = sync(store, &request, 2).await;
        assert!(again.targets.iter().all(|t| !t.has_changes()), "{again:?}");
        assert_eq!(rows(store, fixture.sub1).await, before[0]);
        assert_eq!(rows(store, fixture.sub2).await, before[1]);
        // Not even a change position was used up.
        assert_eq!(position(store, fixture.sub1).await, positions[0]);
        assert_eq!(position(store, fixture.sub2).await, positions[1]);
        database.cleanup().await;
    }
}

#[tokio::test]
async fn a_drifted_sub_ends_equal_to_the_main() {
    for database in TestDatabase::all().await {
        let store = database.store();
        let fixture = Fixture::create(store).await;
        seed_main(store, fixture.main).await;
        let request = request(&fixture, &[fixture.sub1], everything(true));
        sync(store, &request, 1).await;

        // The sub drifts: a form and a workflow renamed, a template and a work type gone, items of
        // its own (one workflow of its own uses a form of its own).
        let copies = rows(store, fixture.sub1).await;
        let id = |category: SettingsCategory, code: &str| copies[&(category, code.to_string())].0;
        let rename = |spec: &'static koppel_domain::record::ResourceSpec, name: &str| {
            let mut patch: Vec<Option<Value>> = vec![None; spec.fields.len()];
            patch[spec.field_index("name")] = Some(Value::Text(name.to_string()));
            patch
        };
        store
            .update_record(
                fixture.sub1,
                &resources::FORMS,
                id(SettingsCategory::Forms, "F-1"),
                rename(&resources::FORMS, "Eigen naam"),
            )
            .await
            .unwrap();
        store
            .update_record(
                fixture.sub1,
                &resources::WORKFLOWS,
                id(SettingsCategory::Workflows, "WF-3"),
                rename(&resources::WORKFLOWS, "Eigen workflow-naam"),
            )
            .await
            .unwrap();
        store
            .delete_record(
                fixture.sub1,
                &resources::TEMPLATES,
                id(SettingsCategory::Templates, "T-0"),
            )
            .await
            .unwrap();
        store
            .delete_record(
                fixture.sub1,
                &resources::WORK_STATUSES,
                id(SettingsCategory::WorkStatuses, "WS-3"),
            )
            .await
            .unwrap();
        create(store, fixture.sub1, "forms", form("F-EIGEN", "Eigen formulier")).await;
        create(
            store,
            fixture.sub1,
            "work-types",
            json!({"code": "WT-EIGEN", "name": "Eigen"}),
        )
        .await;
        create(
            store,
            fixture.sub1,
            "workflows",
            json!({"code": "WF-EIGEN", "name": "Eigen workflow",
                   "steps": [{"name": "Stap", "form_code": "F-EIGEN"}], "work_type_codes": ["WT-EIGEN"]}),
        )
        .await;
        let before = position(store, fixture.sub1).await;

        let plan = sync(store, &request, 2).await;
        let target = &plan.targets[0];
        assert_eq!(
            (
                target.count(Action::Create),
                target.count(Action::Update),
                target.count(Action::Remove)
            ),
            (2, 2, 3),
            "{target:?}"
        );
        assert_eq!(items(store, fixture.sub1).await, items(store, fixture.main).await);
        // What was kept kept its id; the rows written carry the sync's one change position; the
        // removals left tombstones at it.
        let after = rows(store, fixture.sub1).await;
        for (key, (id, change_seq, _, _)) in &after {
            // T-0 and WS-3 were deleted in the sub and are created again, under new ids.
            let recreated = key.1 == "T-0" || key.1 == "WS-3";
            if let Some((old_id, old_seq, _, _)) = copies.get(key).filter(|_| !recreated) {
                assert_eq!(id, old_id, "{key:?}");
                let rewritten = key.1 == "F-1" || key.1 == "WF-3";
                if !rewritten {
                    assert_eq!(change_seq, old_seq, "{key:?} was written without a change");
                }
            }
        }
        assert_eq!(after[&(SettingsCategory::Forms, "F-1".to_string())].1, before + 1);
        let mut tx = store.snapshot().await.unwrap();
        for spec in [&resources::FORMS, &resources::WORK_TYPES, &resources::WORKFLOWS] {
            let deleted = tx.deleted_records(fixture.sub1, spec, before).await.unwrap();
            assert_eq!(deleted.len(), 1, "{}", spec.slug);
            assert_eq!(deleted[0].change_seq, before + 1);
        }
        tx.rollback().await.unwrap();
        database.cleanup().await;
    }
}

#[tokio::test]
async fn a_target_changed_after_the_preview_is_left_alone() {
    for database in TestDatabase::all().await {
        let store = database.store();
        let fixture = Fixture::create(store).await;
        seed_main(store, fixture.main).await;
        let request = request(&fixture, &[fixture.sub1, fixture.sub2], everything(true));
        sync(store, &request, 1).await;
        // Both subs drift; the preview sees it.
        for sub in [fixture.sub1, fixture.sub2] {
            create(store, sub, "forms", form("F-EIGEN", "Eigen formulier")).await;
        }
        let plan = preview(store, &request).await.unwrap();
        assert!(plan.targets.iter().all(|t| t.count(Action::Remove) == 1));
        // After the preview, sub 1 changes once more.
        create(store, fixture.sub1, "forms", form("F-LATER", "Later toegevoegd")).await;
        let before = (rows(store, fixture.sub1).await, position(store, fixture.sub1).await);
        let outcomes = apply_all(store, &plan, 2).await;
        assert!(matches!(outcomes[0], Err(ApplyError::Stale)), "{:?}", outcomes[0]);
        assert!(
            matches!(outcomes[1], Ok(TargetOutcome::Applied(_))),
            "{:?}",
            outcomes[1]
        );
        assert_eq!(
            (rows(store, fixture.sub1).await, position(store, fixture.sub1).await),
            before
        );
        assert_eq!(items(store, fixture.sub2).await, items(store, fixture.main).await);
        database.cleanup().await;
    }
}

#[tokio::test]
async fn plans_larger_than_one_statement_are_written_whole() {
    for database in TestDatabase::all().await {
        let store = database.store();
        let fixture = Fixture::create(store).await;
        let many = SET_WRITE_MAX_ROWS + 7;
        let mut write = store.write(fixture.main).await.unwrap();
        let forms: Vec<Vec<Value>> = (0..many)
            .map(|n| {
                parse_create(
                    &resources::FORMS,
                    &form(&format!("F-{n:04}"), &format!("Formulier {n}")),
                )
                .unwrap()
            })
            .collect();
        write.insert_set(&resources::FORMS, &forms).await.unwrap();
        write.commit().await.unwrap();
        // The sub has as many forms of its own, which mirror mode removes.
        let mut write = store.write(fixture.sub1).await.unwrap();
        let own: Vec<Vec<Value>> = (0..many)
            .map(|n| parse_create(&resources::FORMS, &form(&format!("EIGEN-{n:04}"), "Eigen")).unwrap())
            .collect();
        write.insert_set(&resources::FORMS, &own).await.unwrap();
        write.commit().await.unwrap();
        let forms_only = Selection {
            categories: [SettingsCategory::Forms].into_iter().collect(),
            mirror: true,
            ..Selection::default()
        };
        let request = request(&fixture, &[fixture.sub1], forms_only);
        let before = position(store, fixture.sub1).await;
        let plan = sync(store, &request, 1).await;
        assert_eq!(
            (
                plan.targets[0].count(Action::Create),
                plan.targets[0].count(Action::Remove)
            ),
            (many, many)
        );
        assert_eq!(items(store, fixture.sub1).await, items(store, fixture.main).await);
        let mut tx = store.snapshot().await.unwrap();
        assert_eq!(
            tx.deleted_records(fixture.sub1, &resources::FORMS, before)
                .await
                .unwrap()
                .len(),
            many
        );
        tx.rollback().await.unwrap();

        // Every form renamed in the main: as many updates, in more than one statement.
        let copies = rows(store, fixture.main).await;
        let mut write = store.write(fixture.main).await.unwrap();
        let renamed: Vec<(RecordId, Vec<Value>)> = copies
            .values()
            .map(|(id, _, _, values)| {
                let mut values = values.clone();
                values[resources::FORMS.field_index("name")] = Value::Text("Nieuwe naam".into());
                (*id, values)
            })
            .collect();
        write.update_set(&resources::FORMS, &renamed).await.unwrap();
        write.commit().await.unwrap();
        let plan = sync(store, &request, 2).await;
        assert_eq!(plan.targets[0].count(Action::Update), many);
        assert_eq!(items(store, fixture.sub1).await, items(store, fixture.main).await);
        database.cleanup().await;
    }
}

#[tokio::test]
async fn set_writes_check_what_single_writes_check() {
    for database in TestDatabase::all().await {
        let store = database.store();
        let fixture = Fixture::create(store).await;
        seed_main(store, fixture.main).await;
        let sub = fixture.sub1;
        let before = rows(store, sub).await;
        // A workflow whose form does not exist in the sub.
        let workflow = parse_create(
            &resources::WORKFLOWS,
            &json!({"code": "WF-X", "name": "X", "steps": [{"name": "S", "form_code": "F-GEEN"}], "work_type_codes": []}),
        )
        .unwrap();
        let mut write = store.write(sub).await.unwrap();
        let refused = write.insert_set(&resources::WORKFLOWS, &[workflow]).await;
        assert!(
            matches!(&refused, Err(StoreError::Invalid(errors)) if errors[0].code == "not_found"),
            "{refused:?}"
        );
        write.rollback().await.unwrap();
        // The same code twice.
        let twice = vec![
            parse_create(&resources::FORMS, &form("F-DUBBEL", "Een")).unwrap(),
            parse_create(&resources::FORMS, &form("F-DUBBEL", "Twee")).unwrap(),
        ];
        let mut write = store.write(sub).await.unwrap();
        let refused = write.insert_set(&resources::FORMS, &twice).await;
        assert!(
            matches!(
                &refused,
                Err(StoreError::Conflict {
                    code: "already_exists",
                    ..
                })
            ),
            "{refused:?}"
        );
        write.rollback().await.unwrap();
        // A form a workflow still uses cannot be deleted; nor can a daily-data resource be written.
        let main = rows(store, fixture.main).await;
        let used = main[&(SettingsCategory::Forms, "F-1".to_string())].0;
        let mut write = store.write(fixture.main).await.unwrap();
        let refused = write.delete_set(&resources::FORMS, &[used]).await;
        assert!(
            matches!(
                &refused,
                Err(StoreError::Conflict {
                    code: "still_referenced",
                    ..
                })
            ),
            "{refused:?}"
        );
        write.rollback().await.unwrap();
        let mut write = store.write(sub).await.unwrap();
        assert!(write.delete_set(&resources::RELATIONS, &[RecordId(1)]).await.is_err());
        assert!(matches!(
            write.delete_set(&resources::FORMS, &[RecordId(i64::MAX)]).await,
            Err(StoreError::NotFound)
        ));
        write.rollback().await.unwrap();
        assert_eq!(rows(store, sub).await, before);
        database.cleanup().await;
    }
}
