//! Settings sync at group scale: a main with 300 forms, 100 workflows, 100 templates and 500 other
//! settings items (100 each of work types, work statuses, hour types, free-field definitions and app
//! policies), synced to 100 subs.
//!
//! Phases, each timed: the first sync to empty subs (everything created); the figure that matters,
//! a sync after every sub has drifted (10 forms renamed, 5 templates deleted, 3 forms of its own, per
//! sub) — preview, then apply through the job; and the same sync again, which changes nothing.
//! SQLite always; PostgreSQL when `KOPPEL_BENCH_DATABASE_URL` or `KOPPEL_TEST_DATABASE_URL` is set.
//! `KOPPEL_BENCH_SUBS` changes the number of subs (default 100).
//!
//! Run in release: `cargo bench -p koppel-settingsync --bench settings_sync` (or
//! `cargo xtask bench settings-sync`). The figures are printed, never asserted.

#![allow(clippy::unwrap_used, unsafe_code)] // a benchmark stops at the first thing it cannot set up; it sets its
// database URL in the environment before any thread starts

use anyhow::Context;
use koppel_domain::licence::{LicenceState, PowerUp};
use koppel_domain::record::{Value, parse_create};
use koppel_domain::{AdministrationId, resources};
use koppel_jobs::{Queue, Registry};
use koppel_settingsync::job::{Confirmation, SettingsSyncJob, confirm};
use koppel_settingsync::{Plan, Selection, SettingsCategory, SettingsSyncRequest, preview};
use koppel_store::Store;
use koppel_store::platform::{Actor, NewAdministration};
use koppel_test_support::{DATABASE_URL_VARIABLE, Fixture, TestDatabase};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn main() -> anyhow::Result<()> {
    let subs: usize = std::env::var("KOPPEL_BENCH_SUBS")
        .ok()
        .map(|v| v.parse())
        .transpose()
        .context("KOPPEL_BENCH_SUBS must be a whole number")?
        .unwrap_or(100);
    if let Ok(url) = std::env::var("KOPPEL_BENCH_DATABASE_URL") {
        // SAFETY: set before the runtime and any other thread start.
        unsafe { std::env::set_var(DATABASE_URL_VARIABLE, url) };
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        println!("settings sync benchmark: 300 forms, 100 workflows, 100 templates, 500 other items → {subs} subs");
        measure(TestDatabase::sqlite().await, subs).await?;
        match TestDatabase::postgres().await {
            Some(database) => measure(database, subs).await?,
            None => println!("PostgreSQL: skipped (set KOPPEL_BENCH_DATABASE_URL or {DATABASE_URL_VARIABLE})"),
        }
        Ok(())
    })
}

async fn create(
    store: &Store,
    administration: AdministrationId,
    slug: &str,
    body: serde_json::Value,
) -> anyhow::Result<()> {
    let spec = resources::by_slug(slug).context("slug")?;
    let values = parse_create(spec, &body).map_err(|e| anyhow::anyhow!("{slug}: {e:?}"))?;
    store.create_record(administration, spec, values).await?;
    Ok(())
}

async fn seed_main(store: &Store, main: AdministrationId) -> anyhow::Result<()> {
    for n in 0..300 {
        let fields = json!([{"key": "opmerking", "label": "Opmerking", "type": "text"},
                            {"key": "akkoord", "label": "Akkoord klant", "type": "checkbox", "required": true}]);
        create(
            store,
            main,
            "forms",
            json!({"code": format!("F-{n:03}"), "name": format!("Formulier {n}"), "fields": fields}),
        )
        .await?;
    }
    for n in 0..100 {
        create(
            store,
            main,
            "work-types",
            json!({"code": format!("WT-{n:03}"), "name": format!("Werksoort {n}")}),
        )
        .await?;
        create(
            store,
            main,
            "work-statuses",
            json!({"code": format!("WS-{n:03}"), "name": format!("Status {n}"), "is_final": n % 10 == 0}),
        )
        .await?;
        create(store, main, "hour-types", json!({"code": format!("HT-{n:03}"), "description": format!("Uursoort {n}"), "rate": "62.50", "vat_rate": "21", "billable": true})).await?;
        create(store, main, "free-field-definitions", json!({"code": format!("FF-{n:03}"), "label": format!("Vrij veld {n}"), "entity": "work_order", "field_type": "text"})).await?;
        create(
            store,
            main,
            "app-policies",
            json!({"code": format!("AP-{n:03}"), "name": format!("Beleid {n}"), "enabled": true}),
        )
        .await?;
        create(store, main, "templates", json!({"code": format!("T-{n:03}"), "name": format!("Sjabloon {n}"), "kind": "work_order", "body": "Beste {{klant}},\n\nHierbij de werkbon.", "options": {"logo": true}})).await?;
        create(
            store,
            main,
            "workflows",
            json!({"code": format!("WF-{n:03}"), "name": format!("Workflow {n}"),
            "steps": [{"name": "Aankomst"}, {"name": "Inspectie", "form_code": format!("F-{:03}", n * 3)}],
            "work_type_codes": [format!("WT-{n:03}")]}),
        )
        .await?;
    }
    Ok(())
}

/// Each sub drifts: 10 forms renamed, 5 templates gone, 3 forms of its own.
async fn drift(store: &Store, sub: AdministrationId, seed: usize) -> anyhow::Result<()> {
    let mut write = store.write(sub).await?;
    let forms = write.tx().all_records(sub, &resources::FORMS).await?;
    let name = resources::FORMS.field_index("name");
    for (n, form) in forms.iter().enumerate().skip(seed % 50).take(10) {
        let mut patch: Vec<Option<Value>> = vec![None; resources::FORMS.fields.len()];
        patch[name] = Some(Value::Text(format!("Aangepast {n}")));
        write.update(&resources::FORMS, form.id, patch).await?;
    }
    let templates = write.tx().all_records(sub, &resources::TEMPLATES).await?;
    for template in templates.iter().skip(seed % 20).take(5) {
        write.delete(&resources::TEMPLATES, template.id).await?;
    }
    for n in 0..3 {
        let body = json!({"code": format!("EIGEN-{n}"), "name": "Eigen formulier", "fields": [{"key": "x", "label": "X", "type": "text"}]});
        let values = parse_create(&resources::FORMS, &body).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        write.insert(&resources::FORMS, values).await?;
    }
    write.commit().await?;
    Ok(())
}

/// Preview, confirm and run the job to the end; the two durations.
async fn sync(
    store: &Store,
    request: &SettingsSyncRequest,
    user: koppel_domain::UserId,
) -> anyhow::Result<(Duration, Duration, Plan)> {
    let started = Instant::now();
    let plan = preview(store, request).await?;
    let previewed = started.elapsed();
    let digests: BTreeMap<AdministrationId, String> =
        plan.targets.iter().map(|t| (t.target, t.digest.clone())).collect();
    let started = Instant::now();
    match confirm(store, request, &digests, user).await? {
        Confirmation::Enqueued { .. } => {}
        other => anyhow::bail!("the sync was not started: {other:?}"),
    }
    let mut registry = Registry::new();
    registry.register(SettingsSyncJob);
    koppel_jobs::testing::worker(&Queue::new(store.clone(), 3), registry)
        .run_until_idle()
        .await?;
    Ok((previewed, started.elapsed(), plan))
}

fn totals(plan: &Plan) -> String {
    use koppel_settingsync::Action;
    let count = |action| plan.targets.iter().map(|t| t.count(action)).sum::<usize>();
    format!(
        "{} created, {} updated, {} removed, {} unchanged",
        count(Action::Create),
        count(Action::Update),
        count(Action::Remove),
        count(Action::Unchanged)
    )
}

async fn measure(database: TestDatabase, subs: usize) -> anyhow::Result<()> {
    let backend = format!("{:?}", database.backend());
    let store = database.store().clone();
    let fixture = Fixture::create(&store).await;
    store
        .set_licence(
            fixture.environment,
            PowerUp::SubAdministrations,
            LicenceState::Active,
            subs as i64 + 10,
            Actor::SYSTEM,
        )
        .await?;
    let mut targets = vec![fixture.sub1, fixture.sub2];
    for n in targets.len()..subs {
        let new = NewAdministration {
            environment: fixture.environment,
            name: &format!("Vestiging {n:03}"),
            is_main: false,
        };
        targets.push(store.create_administration(new, Actor::SYSTEM).await?.id);
    }
    targets.truncate(subs);
    let seeding = Instant::now();
    seed_main(&store, fixture.main).await?;
    println!("{backend}: main seeded in {:.1} s", seeding.elapsed().as_secs_f64());
    let request = SettingsSyncRequest {
        source: fixture.main,
        targets: targets.clone(),
        selection: Selection {
            categories: SettingsCategory::ALL.into_iter().collect(),
            mirror: true,
            ..Selection::default()
        },
    };
    let (previewed, applied, plan) = sync(&store, &request, fixture.admin.id).await?;
    println!(
        "{backend}: first sync to {subs} empty subs: preview {:.2} s + apply {:.2} s = {:.2} s ({})",
        previewed.as_secs_f64(),
        applied.as_secs_f64(),
        (previewed + applied).as_secs_f64(),
        totals(&plan)
    );
    for (seed, sub) in targets.iter().enumerate() {
        drift(&store, *sub, seed).await?;
    }
    let (previewed, applied, plan) = sync(&store, &request, fixture.admin.id).await?;
    println!(
        "{backend}: sync to {subs} drifted subs (mirror on): preview {:.2} s + apply {:.2} s = {:.2} s ({})",
        previewed.as_secs_f64(),
        applied.as_secs_f64(),
        (previewed + applied).as_secs_f64(),
        totals(&plan)
    );
    let (previewed, applied, plan) = sync(&store, &request, fixture.admin.id).await?;
    println!(
        "{backend}: the same sync again (no changes): preview {:.2} s + apply {:.2} s = {:.2} s ({})",
        previewed.as_secs_f64(),
        applied.as_secs_f64(),
        (previewed + applied).as_secs_f64(),
        totals(&plan)
    );
    database.cleanup().await;
    Ok(())
}
