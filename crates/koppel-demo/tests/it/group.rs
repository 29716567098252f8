//! The realistic demo group: what `koppel demo` promises its user.

use crate::all_records;
use crate::database::{on_postgres, on_sqlite};
use chrono::{Datelike, Duration, NaiveDate};
use koppel_demo::{DemoError, DemoOptions, DemoSummary, GROUP_ENVIRONMENT};
use koppel_domain::licence::{LicenceState, PowerUp};
use koppel_domain::record::{Area, Value};
use koppel_domain::resources::{self, INVOICE_LINES, INVOICES, PAYMENTS, WORK_ORDERS};
use koppel_domain::rights::{Right, Rights};
use koppel_domain::work_order::WorkOrderStatus;
use koppel_domain::{AdministrationId, Money};
use koppel_store::Store;
use koppel_store::platform::Administration;
use std::collections::{BTreeMap, BTreeSet};

#[tokio::test]
async fn the_group_demo_seeds_a_realistic_environment_on_sqlite() {
    on_sqlite(check_group).await;
}

#[tokio::test]
async fn the_group_demo_seeds_a_realistic_environment_on_postgres() {
    on_postgres("the_group_demo_seeds_a_realistic_environment", check_group).await;
}

async fn check_group(store: Store) {
    let summary = koppel_demo::seed(&store, &DemoOptions::default())
        .await
        .expect("the demo seeds a fresh database");
    let today = store.now().date_naive();

    check_platform(&store, &summary, today).await;
    check_logins(&store, &summary).await;
    for administration in &summary.administrations {
        check_daily_data(&store, administration, today).await;
        check_invoices(&store, administration.id).await;
    }
    check_drift(&store, &summary.administrations).await;

    let again = koppel_demo::seed(&store, &DemoOptions::default()).await;
    match again {
        Err(DemoError::AlreadySeeded { name, id }) => {
            assert_eq!(name, GROUP_ENVIRONMENT);
            assert_eq!(id, summary.environment);
        }
        other => panic!("a second run must be refused, got {other:?}"),
    }
    assert_eq!(
        store.administrations(summary.environment).await.unwrap().len(),
        4,
        "the refused run created nothing"
    );
    let message = DemoError::AlreadySeeded {
        name: GROUP_ENVIRONMENT,
        id: summary.environment,
    }
    .to_string();
    assert!(message.contains("fresh database"), "{message}");
}

async fn check_platform(store: &Store, summary: &DemoSummary, today: NaiveDate) {
    assert_eq!(summary.environment_name, GROUP_ENVIRONMENT);
    let names: Vec<&str> = summary.administrations.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Van Dijk Installatiegroep",
            "Van Dijk Amersfoort",
            "Van Dijk Utrecht",
            "Van Dijk Zwolle"
        ]
    );
    assert!(summary.administrations[0].is_main);
    assert!(summary.administrations[1..].iter().all(|a| !a.is_main));

    let licences = store.licences(summary.environment).await.unwrap();
    let state = |power_up: PowerUp| licences.iter().find(|l| l.power_up == power_up).unwrap();
    assert_eq!(state(PowerUp::PowerBi).state, LicenceState::Active);
    assert_eq!(state(PowerUp::SubAdministrations).state, LicenceState::Active);
    assert_eq!(state(PowerUp::SubAdministrations).capacity, 5);
    assert_eq!(
        state(PowerUp::Accountview).state,
        LicenceState::Trial {
            until: today + Duration::days(30)
        }
    );

    for spec in resources::ALL {
        assert!(
            summary.counts.get(spec.slug).copied().unwrap_or_default() > 0,
            "the summary counts no {}",
            spec.slug
        );
    }
    assert_eq!(summary.work_orders, summary.counts[WORK_ORDERS.slug]);
    assert!(
        summary.work_orders >= 1_000,
        "two years of work: {}",
        summary.work_orders
    );
}

async fn check_logins(store: &Store, summary: &DemoSummary) {
    assert_eq!(summary.logins.len(), 3);
    let by_id: BTreeMap<&str, AdministrationId> = summary
        .administrations
        .iter()
        .map(|a| (a.name.as_str(), a.id))
        .collect();
    let mut users = Vec::new();
    for login in &summary.logins {
        assert!(login.password.len() >= 10);
        let user = store
            .authenticate_password(&login.email, &login.password)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{} cannot log in with the printed password", login.email));
        assert!(
            store
                .authenticate_password(&login.email, "not-the-password")
                .await
                .unwrap()
                .is_none()
        );
        users.push(user);
    }
    let (admin, office, planner) = (&users[0], &users[1], &users[2]);
    let read_only: Rights = [Right::ReadData].into_iter().collect();
    for (name, administration) in &by_id {
        assert_eq!(
            store.rights(admin.id, *administration).await.unwrap(),
            Some(Rights::all()),
            "{name}"
        );
        assert_eq!(
            store.rights(planner.id, *administration).await.unwrap(),
            Some(read_only),
            "{name}"
        );
    }
    let memberships = store.memberships(office.id).await.unwrap();
    assert_eq!(memberships.len(), 1, "the office user sees one sub only");
    assert_eq!(memberships[0].administration.name, "Van Dijk Utrecht");
    let rights = memberships[0].rights;
    assert!(rights.has(Right::ReadData) && rights.has(Right::WriteData) && rights.has(Right::ManageDatasync));
    assert!(!rights.has(Right::ManageAdministrations) && !rights.has(Right::SyncSettings));
}

async fn check_daily_data(store: &Store, administration: &Administration, today: NaiveDate) {
    for spec in resources::ALL {
        let records = all_records(store, administration.id, spec).await;
        assert!(!records.is_empty(), "{} has no {}", administration.name, spec.slug);
    }
    let work_orders = all_records(store, administration.id, &WORK_ORDERS).await;
    let status_index = WORK_ORDERS.field_index("status");
    let statuses: BTreeSet<&str> = work_orders
        .iter()
        .filter_map(|record| record.values[status_index].as_str())
        .collect();
    for status in WorkOrderStatus::CODES {
        assert!(
            statuses.contains(status),
            "{} has no work order in {status}",
            administration.name
        );
    }
    let planned: Vec<NaiveDate> = work_orders
        .iter()
        .filter_map(|record| record.get(&WORK_ORDERS, "planned_date").as_date())
        .collect();
    let earliest = planned.iter().min().unwrap();
    let latest = planned.iter().max().unwrap();
    assert!(
        *earliest <= today - Duration::days(600),
        "{}: history starts {earliest}",
        administration.name
    );
    assert!(*latest > today, "{}: nothing planned ahead", administration.name);
    for record in &work_orders {
        let status = record.get(&WORK_ORDERS, "status").as_str().unwrap();
        let completed = record.get(&WORK_ORDERS, "completed_at");
        match status {
            "Klaargezet" | "Opgehaald" => assert!(completed.is_null()),
            _ => {
                let Value::Timestamp(at) = completed else {
                    panic!("a {status} work order has no completion time")
                };
                assert_eq!(
                    Some(at.date_naive()),
                    record.get(&WORK_ORDERS, "planned_date").as_date(),
                    "completed on the planned day, not on the day the demo ran"
                );
            }
        }
        assert_eq!(
            record.get(&WORK_ORDERS, "export_error").is_null(),
            status != "Exportfout",
            "an export error message exactly when the export failed"
        );
    }
}

async fn check_invoices(store: &Store, administration: AdministrationId) {
    let invoices = all_records(store, administration, &INVOICES).await;
    let lines = all_records(store, administration, &INVOICE_LINES).await;
    let payments = all_records(store, administration, &PAYMENTS).await;
    let mut line_totals: BTreeMap<i64, (i64, i64, usize)> = BTreeMap::new();
    for line in &lines {
        let invoice = line.get(&INVOICE_LINES, "invoice_id").as_i64().unwrap();
        let entry = line_totals.entry(invoice).or_default();
        entry.0 += line.get(&INVOICE_LINES, "amount_excl_vat").as_i64().unwrap();
        entry.1 += line.get(&INVOICE_LINES, "vat_amount").as_i64().unwrap();
        entry.2 += 1;
    }
    let mut paid: BTreeMap<i64, i64> = BTreeMap::new();
    for payment in &payments {
        *paid
            .entry(payment.get(&PAYMENTS, "invoice_id").as_i64().unwrap())
            .or_default() += payment.get(&PAYMENTS, "amount").as_i64().unwrap();
    }
    let mut payment_statuses = BTreeSet::new();
    let mut years = BTreeSet::new();
    for invoice in &invoices {
        let cents = |field: &str| invoice.get(&INVOICES, field).as_i64().unwrap();
        let (excl, vat, count) = line_totals.get(&invoice.id.0).copied().unwrap_or_default();
        assert!(count > 0, "invoice {} has lines", invoice.id);
        assert_eq!(cents("total_excl_vat"), excl, "invoice {} excl. VAT", invoice.id);
        assert_eq!(cents("total_vat"), vat, "invoice {} VAT", invoice.id);
        assert_eq!(cents("total_incl_vat"), excl + vat, "invoice {} incl. VAT", invoice.id);
        let paid_cents = paid.get(&invoice.id.0).copied().unwrap_or_default();
        assert_eq!(cents("paid_amount"), paid_cents, "invoice {} paid", invoice.id);
        let status = invoice.get(&INVOICES, "payment_status").as_str().unwrap().to_string();
        assert_eq!(
            status,
            koppel_domain::invoice::PaymentStatus::of(Money::from_cents(excl + vat), Money::from_cents(paid_cents))
                .as_str()
        );
        payment_statuses.insert(status);
        let date = invoice.get(&INVOICES, "invoice_date").as_date().unwrap();
        let number = invoice.get(&INVOICES, "number").as_str().unwrap();
        assert!(
            number.starts_with(&format!("{}-", date.year())),
            "invoice {number} of {date} is numbered in its own year"
        );
        years.insert(date.year());
    }
    assert_eq!(
        payment_statuses,
        ["open", "paid", "partly_paid"].into_iter().map(String::from).collect(),
        "a mix of payment states"
    );
    assert!(years.len() >= 2, "invoices over more than one year: {years:?}");
}

/// Settings drift: the subs are not copies of the main, each in its own way.
async fn check_drift(store: &Store, administrations: &[Administration]) {
    let mut settings: BTreeMap<&str, BTreeMap<(String, String), Vec<Value>>> = BTreeMap::new();
    for administration in administrations {
        let mut items = BTreeMap::new();
        let mut tx = store.snapshot().await.unwrap();
        for spec in resources::ALL.iter().filter(|spec| spec.area == Area::Settings) {
            for record in tx.all_records(administration.id, spec).await.unwrap() {
                let code = record.get(spec, "code").as_str().unwrap().to_string();
                items.insert((spec.slug.to_string(), code), record.values);
            }
        }
        tx.rollback().await.unwrap();
        settings.insert(administration.name.as_str(), items);
    }
    let main = &settings["Van Dijk Installatiegroep"];
    let compare = |sub: &str| {
        let items = &settings[sub];
        let missing = main.keys().filter(|key| !items.contains_key(*key)).count();
        let extra = items.keys().filter(|key| !main.contains_key(*key)).count();
        let changed = main
            .iter()
            .filter(|(key, values)| items.get(*key).is_some_and(|other| other != *values))
            .count();
        let same = main
            .iter()
            .filter(|(key, values)| items.get(*key) == Some(*values))
            .count();
        (missing, changed, extra, same)
    };
    let (missing, _, _, same) = compare("Van Dijk Utrecht");
    assert!(missing > 0 && same > 0, "Utrecht misses some of the main's settings");
    let (_, changed, _, same) = compare("Van Dijk Amersfoort");
    assert!(
        changed > 0 && same > 0,
        "Amersfoort changed some of the main's settings"
    );
    let (_, _, extra, same) = compare("Van Dijk Zwolle");
    assert!(extra > 0 && same > 0, "Zwolle has settings of its own");
    assert!(main.len() >= 40, "a full catalogue in the main: {} items", main.len());
}
