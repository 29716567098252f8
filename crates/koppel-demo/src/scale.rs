//! `demo --scale N`: N work orders with proportional relations, objects, lines, invoices and payments in
//! one administration, for benchmarks.
//!
//! Rows are built positionally, in the field order of the resource specs (checked once at the start),
//! and written with the store's bulk path. A generator thread builds batch k+1 while the writer stores
//! batch k; children refer to their parents by position in the batch until the writer has reserved the
//! parents' ids and fills them in. Amounts use the domain's invoice arithmetic, so a generated invoice's
//! totals are exactly the sum of its lines, as if the store had made it.

use crate::catalogue::{Catalogue, HourTypeInfo};
use crate::vocabulary::{self, City, INSTALLATIONS, MATERIALS, MaterialItem};
use crate::{BENCHMARK_ENVIRONMENT, DemoError, DemoLogin, DemoOptions, DemoSummary, Progress, create, ensure_absent};
use chrono::{Datelike, Duration as Days, NaiveDate, NaiveTime, TimeZone, Utc};
use koppel_domain::invoice::{self, BillableLine, LineKind, PaymentStatus};
use koppel_domain::licence::{LicenceState, PowerUp};
use koppel_domain::record::{ResourceSpec, Value};
use koppel_domain::resources::{
    ADDRESSES, CONTACT_PERSONS, EMPLOYEES, INVOICE_LINES, INVOICES, MATERIALS as MATERIAL_SPEC, OBJECTS, PAYMENTS,
    PROJECTS, QUOTES, RELATIONS, WORK_ORDER_HOURS, WORK_ORDER_MATERIALS, WORK_ORDERS,
};
use koppel_domain::rights::Rights;
use koppel_domain::work_order::WorkOrderStatus;
use koppel_domain::{AdministrationId, Money, Quantity, RecordId, VatRate};
use koppel_store::platform::{Actor, NewAdministration, NewUser};
use koppel_store::{Store, WriteTx};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// Login for the benchmark environment, so REST and feed benchmarks have someone to be.
const BENCHMARK_EMAIL: &str = "benchmark@koppel.example";
const BENCHMARK_PASSWORD: &str = "Benchmark-Koppel-2026";

/// Rows of master data per transaction: large enough to amortise a commit, small enough to keep memory flat.
const MASTER_BATCH: usize = 50_000;

/// The fields each generator writes, in spec order. A spec change fails loudly here instead of
/// silently shifting values into the wrong columns.
const LAYOUTS: &[(&ResourceSpec, &[&str])] = &[
    (
        &RELATIONS,
        &[
            "code",
            "name",
            "kind",
            "email",
            "phone",
            "vat_number",
            "coc_number",
            "blocked",
            "notes",
        ],
    ),
    (
        &ADDRESSES,
        &[
            "relation_id",
            "kind",
            "street",
            "house_number",
            "postal_code",
            "city",
            "country",
        ],
    ),
    (&CONTACT_PERSONS, &["relation_id", "name", "email", "phone", "role"]),
    (
        &OBJECTS,
        &[
            "code",
            "relation_id",
            "name",
            "brand",
            "model",
            "serial_number",
            "installed_on",
            "address_id",
        ],
    ),
    (
        &PROJECTS,
        &["code", "relation_id", "name", "status", "start_date", "end_date"],
    ),
    (&EMPLOYEES, &["code", "name", "email", "phone", "active"]),
    (
        &MATERIAL_SPEC,
        &[
            "code",
            "description",
            "unit",
            "price",
            "cost_price",
            "vat_rate",
            "article_group",
            "blocked",
        ],
    ),
    (
        &WORK_ORDERS,
        &[
            "number",
            "relation_id",
            "object_id",
            "project_id",
            "employee_id",
            "work_type_code",
            "description",
            "status",
            "planned_date",
            "completed_at",
            "export_error",
        ],
    ),
    (
        &WORK_ORDER_HOURS,
        &[
            "work_order_id",
            "employee_id",
            "hour_type_code",
            "work_date",
            "hours",
            "rate",
            "vat_rate",
            "description",
        ],
    ),
    (
        &WORK_ORDER_MATERIALS,
        &[
            "work_order_id",
            "material_id",
            "quantity",
            "price",
            "vat_rate",
            "description",
        ],
    ),
    (
        &INVOICES,
        &[
            "number",
            "relation_id",
            "work_order_id",
            "invoice_date",
            "due_date",
            "description",
            "total_excl_vat",
            "total_vat",
            "total_incl_vat",
            "paid_amount",
            "payment_status",
        ],
    ),
    (
        &INVOICE_LINES,
        &[
            "invoice_id",
            "line_no",
            "kind",
            "description",
            "quantity",
            "unit_price",
            "vat_rate",
            "amount_excl_vat",
            "vat_amount",
        ],
    ),
    (&PAYMENTS, &["invoice_id", "amount", "paid_on", "method", "reference"]),
    (
        &QUOTES,
        &[
            "number",
            "relation_id",
            "project_id",
            "description",
            "quote_date",
            "valid_until",
            "status",
            "total_excl_vat",
            "vat_rate",
        ],
    ),
];

/// Positions of the parent columns the writer fills in.
const HOUR_WORK_ORDER: usize = 0;
const MATERIAL_WORK_ORDER: usize = 0;
const INVOICE_NUMBER: usize = 0;
const INVOICE_WORK_ORDER: usize = 2;
const LINE_INVOICE: usize = 0;
const PAYMENT_INVOICE: usize = 0;
const PAYMENT_REFERENCE: usize = 4;

fn check_layouts() -> Result<(), DemoError> {
    for (spec, names) in LAYOUTS {
        let actual: Vec<&str> = spec.fields.iter().map(|field| field.name).collect();
        if actual != *names {
            return Err(DemoError::Layout {
                resource: spec.slug,
                detail: format!("expected {names:?}, found {actual:?}"),
            });
        }
    }
    Ok(())
}

pub(crate) async fn seed(store: &Store, options: &DemoOptions, work_orders: u64) -> Result<DemoSummary, DemoError> {
    let started = Instant::now();
    check_layouts()?;
    ensure_absent(store, BENCHMARK_ENVIRONMENT).await?;
    let environment = store.create_environment(BENCHMARK_ENVIRONMENT).await?;
    store
        .set_licence(environment, PowerUp::PowerBi, LicenceState::Active, 0, Actor::SYSTEM)
        .await?;
    let administration = store
        .create_administration(
            NewAdministration {
                environment,
                name: BENCHMARK_ENVIRONMENT,
                is_main: true,
            },
            Actor::SYSTEM,
        )
        .await?;
    let user = store
        .create_user(NewUser {
            environment,
            email: BENCHMARK_EMAIL,
            name: "Benchmark",
            password: BENCHMARK_PASSWORD,
            language: "nl",
        })
        .await?;
    store
        .set_rights(user.id, administration.id, Rights::all(), Actor::SYSTEM)
        .await?;

    let mut counts: BTreeMap<&'static str, u64> = BTreeMap::new();
    let catalogue = Catalogue::main();
    let mut tx = store.write(administration.id).await?;
    for item in &catalogue.items {
        create(&mut tx, &mut counts, item.spec, item.json.clone()).await?;
    }
    tx.commit().await?;

    let today = store.now().date_naive();
    let mut rng = StdRng::seed_from_u64(options.seed);
    let master = write_master_data(store, administration.id, work_orders, today, &mut rng, &mut counts).await?;
    let master = Arc::new(MasterData {
        hour_types: catalogue.billable_hour_types(),
        ..master
    });

    let mut tx = store.write(administration.id).await?;
    let first_number = if work_orders > 0 {
        tx.reserve_numbers("work-order", work_orders as i64).await?
    } else {
        1
    };
    tx.commit().await?;

    let work_orders_started = Instant::now();
    write_work_orders(
        store,
        administration.id,
        WorkOrderPlan {
            total: work_orders,
            batch_size: options.batch_size.max(1),
            first_number,
            today,
            seed: options.seed,
            master: master.clone(),
        },
        options,
        &mut counts,
    )
    .await?;
    let work_orders_elapsed = work_orders_started.elapsed();

    write_quotes(
        store,
        administration.id,
        work_orders / 20,
        today,
        &master,
        &mut rng,
        &mut counts,
    )
    .await?;
    let loaded: Vec<&ResourceSpec> = LAYOUTS.iter().map(|(spec, _)| *spec).collect();
    store.finish_bulk_load(&loaded).await?;

    Ok(DemoSummary {
        environment,
        environment_name: BENCHMARK_ENVIRONMENT.to_string(),
        administrations: vec![administration],
        logins: vec![DemoLogin {
            name: "Benchmark".into(),
            email: BENCHMARK_EMAIL.into(),
            password: BENCHMARK_PASSWORD.into(),
            access: "all rights on the Benchmark administration".into(),
        }],
        work_orders: counts.get(WORK_ORDERS.slug).copied().unwrap_or_default(),
        counts,
        elapsed: started.elapsed(),
        work_orders_elapsed,
    })
}

/// What work orders refer to.
#[derive(Default)]
struct MasterData {
    /// Per relation: its id and its object's id (every relation has one installation).
    relations: Vec<(RecordId, RecordId, usize)>,
    projects: Vec<(RecordId, RecordId)>,
    employees: Vec<RecordId>,
    materials: Vec<(RecordId, MaterialItem)>,
    hour_types: Vec<HourTypeInfo>,
}

fn int(value: i64) -> Value {
    Value::Integer(value)
}

fn text(value: impl Into<String>) -> Value {
    Value::Text(value.into())
}

const ALL_CITIES: &[&[City]] = &[
    vocabulary::CITIES_NIEUWEGEIN,
    vocabulary::CITIES_UTRECHT,
    vocabulary::CITIES_AMERSFOORT,
    vocabulary::CITIES_ZWOLLE,
];

async fn write_master_data(
    store: &Store,
    administration: AdministrationId,
    work_orders: u64,
    today: NaiveDate,
    rng: &mut StdRng,
    counts: &mut BTreeMap<&'static str, u64>,
) -> Result<MasterData, DemoError> {
    let relation_count = (work_orders / 10).max(10) as usize;
    let employee_count = (work_orders / 2_000).clamp(10, 2_000) as usize;
    let material_count = (work_orders / 1_000).clamp(MATERIALS.len() as u64, 2_000) as usize;
    let project_count = (relation_count / 50).max(2);
    let mut master = MasterData::default();

    let mut tx = store.write(administration).await?;
    let rows: Vec<Vec<Value>> = (0..employee_count)
        .map(|index| {
            let first = *vocabulary::pick(rng, vocabulary::FIRST_NAMES);
            let surname = *vocabulary::pick(rng, vocabulary::SURNAMES);
            vec![
                text(format!("M{:04}", index + 1)),
                text(format!("{first} {surname}")),
                text(format!(
                    "{}.{}{}@benchmark.example",
                    vocabulary::mail_part(first),
                    vocabulary::mail_part(surname),
                    index + 1
                )),
                text(vocabulary::mobile(rng)),
                Value::Bool(rng.random_ratio(19, 20)),
            ]
        })
        .collect();
    master.employees = insert(&mut tx, counts, &EMPLOYEES, &rows).await?;
    let items: Vec<MaterialItem> = (0..material_count)
        .map(|index| MATERIALS[index % MATERIALS.len()])
        .collect();
    let rows: Vec<Vec<Value>> = items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            // Past the catalogue, variants of the same articles from other suppliers.
            let variant = index / MATERIALS.len();
            let (code, price) = if variant == 0 {
                (item.code.to_string(), item.price_cents)
            } else {
                (
                    format!("{}-{variant:03}", item.code),
                    item.price_cents + variant as i64 * 5,
                )
            };
            vec![
                text(code),
                text(item.description),
                text(item.unit),
                int(price),
                int(item.cost_cents),
                text(item.vat),
                text(item.group),
                Value::Bool(false),
            ]
        })
        .collect();
    let prices: Vec<i64> = rows.iter().map(|row| row[3].as_i64().unwrap_or_default()).collect();
    let ids = insert(&mut tx, counts, &MATERIAL_SPEC, &rows).await?;
    master.materials = ids
        .into_iter()
        .zip(items)
        .zip(prices)
        .map(|((id, item), price_cents)| (id, MaterialItem { price_cents, ..item }))
        .collect();
    tx.commit().await?;

    // Relations with their visit address, contact person and installation, in transactions of a few
    // tens of thousands so memory stays flat for any N.
    for start in (0..relation_count).step_by(MASTER_BATCH) {
        let end = (start + MASTER_BATCH).min(relation_count);
        let mut tx = store.write(administration).await?;
        let mut relation_rows = Vec::with_capacity(end - start);
        let mut cities = Vec::with_capacity(end - start);
        for index in start..end {
            let region: &[City] = ALL_CITIES[rng.random_range(0..ALL_CITIES.len())];
            let city = *vocabulary::pick(rng, region);
            let company = rng.random_ratio(2, 5);
            let surname = *vocabulary::pick(rng, vocabulary::SURNAMES);
            let first = *vocabulary::pick(rng, vocabulary::FIRST_NAMES);
            let (name, email, vat_number, coc_number) = if company {
                let kind = *vocabulary::pick(rng, vocabulary::COMPANY_KINDS);
                (
                    format!("{kind} {surname}"),
                    format!(
                        "info@{}{}.example",
                        vocabulary::mail_part(kind),
                        vocabulary::mail_part(surname)
                    ),
                    text(format!("NL{:09}B01", rng.random_range(0..1_000_000_000))),
                    text(format!("{:08}", rng.random_range(10_000_000..100_000_000))),
                )
            } else {
                (
                    format!("{first} {surname}"),
                    vocabulary::person_email(first, surname),
                    Value::Null,
                    Value::Null,
                )
            };
            relation_rows.push(vec![
                text(format!("D{:07}", index + 1)),
                text(name),
                text(if company { "company" } else { "person" }),
                text(email),
                text(vocabulary::landline(rng, &city)),
                vat_number,
                coc_number,
                Value::Bool(rng.random_ratio(1, 200)),
                Value::Null,
            ]);
            cities.push((city, company, first, surname));
        }
        let relation_ids = insert(&mut tx, counts, &RELATIONS, &relation_rows).await?;
        let address_rows: Vec<Vec<Value>> = relation_ids
            .iter()
            .zip(&cities)
            .map(|(relation, (city, _, _, _))| {
                vec![
                    int(relation.0),
                    text("visit"),
                    text(*vocabulary::pick(rng, vocabulary::STREETS)),
                    text(vocabulary::house_number(rng)),
                    text(vocabulary::postal_code(rng, city)),
                    text(city.name),
                    text("NL"),
                ]
            })
            .collect();
        let address_ids = insert(&mut tx, counts, &ADDRESSES, &address_rows).await?;
        let contact_rows: Vec<Vec<Value>> = relation_ids
            .iter()
            .zip(&cities)
            .filter(|(_, (_, company, _, _))| *company)
            .map(|(relation, (_, _, first, surname))| {
                vec![
                    int(relation.0),
                    text(format!("{first} {surname}")),
                    text(vocabulary::person_email(first, surname)),
                    text(vocabulary::mobile(rng)),
                    text(*vocabulary::pick(
                        rng,
                        &["Eigenaar", "Facilitair manager", "Bedrijfsleider"],
                    )),
                ]
            })
            .collect();
        insert(&mut tx, counts, &CONTACT_PERSONS, &contact_rows).await?;
        let mut installation_kinds = Vec::with_capacity(relation_ids.len());
        let object_rows: Vec<Vec<Value>> = relation_ids
            .iter()
            .zip(&address_ids)
            .enumerate()
            .map(|(offset, (relation, address))| {
                let kind = rng.random_range(0..INSTALLATIONS.len());
                installation_kinds.push(kind);
                let installation = &INSTALLATIONS[kind];
                let (brand, model, prefix) = *vocabulary::pick(rng, installation.models);
                let installed_on = today - Days::days(rng.random_range(60..5_000));
                vec![
                    text(format!("OBJ{:07}", start + offset + 1)),
                    int(relation.0),
                    text(format!("{} {brand} {model}", installation.kind)),
                    text(brand),
                    text(model),
                    text(vocabulary::serial_number(rng, prefix, installed_on.year())),
                    Value::Date(installed_on),
                    int(address.0),
                ]
            })
            .collect();
        let object_ids = insert(&mut tx, counts, &OBJECTS, &object_rows).await?;
        master.relations.extend(
            relation_ids
                .into_iter()
                .zip(object_ids)
                .zip(installation_kinds)
                .map(|((relation, object), kind)| (relation, object, kind)),
        );
        tx.commit().await?;
    }

    let mut tx = store.write(administration).await?;
    let project_relations: Vec<RecordId> = (0..project_count)
        .map(|_| master.relations[rng.random_range(0..master.relations.len())].0)
        .collect();
    let rows: Vec<Vec<Value>> = project_relations
        .iter()
        .enumerate()
        .map(|(index, relation)| {
            let start_date = today - Days::days(rng.random_range(30..730));
            let closed = start_date < today - Days::days(365);
            vec![
                text(format!("PR{:05}", index + 1)),
                int(relation.0),
                text(*vocabulary::pick(rng, vocabulary::PROJECT_NAMES)),
                text(if closed { "closed" } else { "open" }),
                Value::Date(start_date),
                if closed {
                    Value::Date(start_date + Days::days(rng.random_range(30..300)))
                } else {
                    Value::Null
                },
            ]
        })
        .collect();
    let project_ids = insert(&mut tx, counts, &PROJECTS, &rows).await?;
    master.projects = project_ids.into_iter().zip(project_relations).collect();
    tx.commit().await?;
    Ok(master)
}

async fn insert(
    tx: &mut WriteTx,
    counts: &mut BTreeMap<&'static str, u64>,
    spec: &'static ResourceSpec,
    rows: &[Vec<Value>],
) -> Result<Vec<RecordId>, DemoError> {
    *counts.entry(spec.slug).or_default() += rows.len() as u64;
    Ok(tx.bulk_insert(spec, rows).await?)
}

struct WorkOrderPlan {
    total: u64,
    batch_size: usize,
    first_number: i64,
    today: NaiveDate,
    seed: u64,
    master: Arc<MasterData>,
}

/// One batch of work orders and everything hanging off them. Parent columns hold the parent's
/// position in the batch until the writer knows the real ids.
#[derive(Default)]
struct Batch {
    work_orders: Vec<Vec<Value>>,
    hours: Vec<Vec<Value>>,
    materials: Vec<Vec<Value>>,
    invoices: Vec<Vec<Value>>,
    invoice_years: Vec<i32>,
    invoice_lines: Vec<Vec<Value>>,
    payments: Vec<Vec<Value>>,
}

async fn write_work_orders(
    store: &Store,
    administration: AdministrationId,
    plan: WorkOrderPlan,
    options: &DemoOptions,
    counts: &mut BTreeMap<&'static str, u64>,
) -> Result<(), DemoError> {
    let total = plan.total;
    let started = Instant::now();
    // Two batches in flight: one being written, one being generated. Written batches travel back to
    // the generator thread to be freed there: memory is cheapest to free on the thread that allocated
    // it, and the writer thread is the one SQLite keeps busy.
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Batch>(1);
    let (spent_sender, spent_receiver) = std::sync::mpsc::channel::<Batch>();
    let generator = tokio::task::spawn_blocking(move || {
        let mut generator = Generator {
            rng: StdRng::seed_from_u64(plan.seed ^ 0x5EED_0FB0),
            today: plan.today,
            master: plan.master,
        };
        let mut done = 0_u64;
        while done < plan.total {
            let size = (plan.total - done).min(plan.batch_size as u64);
            let batch = generator.batch(plan.first_number + done as i64, size as usize);
            if sender.blocking_send(batch).is_err() {
                // The writer stopped (it failed); its error is what gets reported.
                return;
            }
            done += size;
            while let Ok(spent) = spent_receiver.try_recv() {
                drop(spent);
            }
        }
    });

    let mut done = 0_u64;
    while let Some(mut batch) = receiver.recv().await {
        done += batch.work_orders.len() as u64;
        let mut tx = store.write(administration).await?;
        write_batch(&mut tx, &mut batch, counts).await?;
        tx.commit().await?;
        // A send fails only when the generator has finished; then the batch is simply freed here.
        let _ = spent_sender.send(batch);
        if let Some(progress) = &options.progress {
            progress(&Progress {
                work_orders_done: done,
                work_orders_total: total,
                elapsed: started.elapsed(),
            });
        }
    }
    generator.await.expect("the work-order generator does not panic");
    Ok(())
}

async fn write_batch(
    tx: &mut WriteTx,
    batch: &mut Batch,
    counts: &mut BTreeMap<&'static str, u64>,
) -> Result<(), DemoError> {
    let work_order_ids = insert(tx, counts, &WORK_ORDERS, &batch.work_orders).await?;
    set_parents(&mut batch.hours, HOUR_WORK_ORDER, &work_order_ids);
    insert(tx, counts, &WORK_ORDER_HOURS, &batch.hours).await?;
    set_parents(&mut batch.materials, MATERIAL_WORK_ORDER, &work_order_ids);
    insert(tx, counts, &WORK_ORDER_MATERIALS, &batch.materials).await?;

    // Invoice numbers run per year, like the store's own invoicing ("2026-00042"), from the same
    // sequences, so invoices made later one at a time continue after these.
    let mut per_year: BTreeMap<i32, usize> = BTreeMap::new();
    for year in &batch.invoice_years {
        *per_year.entry(*year).or_default() += 1;
    }
    let mut next_number: BTreeMap<i32, i64> = BTreeMap::new();
    for (year, count) in per_year {
        let first = tx.reserve_numbers(&format!("invoice-{year}"), count as i64).await?;
        next_number.insert(year, first);
    }
    let mut numbers = Vec::with_capacity(batch.invoices.len());
    for (row, year) in batch.invoices.iter_mut().zip(&batch.invoice_years) {
        let next = next_number.get_mut(year).expect("a number was reserved for every year");
        let number = format!("{year}-{next:05}");
        *next += 1;
        row[INVOICE_NUMBER] = text(number.clone());
        numbers.push(number);
    }
    set_parents(&mut batch.invoices, INVOICE_WORK_ORDER, &work_order_ids);
    let invoice_ids = insert(tx, counts, &INVOICES, &batch.invoices).await?;
    set_parents(&mut batch.invoice_lines, LINE_INVOICE, &invoice_ids);
    insert(tx, counts, &INVOICE_LINES, &batch.invoice_lines).await?;
    for row in &mut batch.payments {
        if let Some(position) = row[PAYMENT_INVOICE].as_i64() {
            row[PAYMENT_REFERENCE] = text(format!("Factuur {}", numbers[position as usize]));
        }
    }
    set_parents(&mut batch.payments, PAYMENT_INVOICE, &invoice_ids);
    insert(tx, counts, &PAYMENTS, &batch.payments).await?;
    Ok(())
}

/// Replaces a batch position in a parent column with the parent's id.
fn set_parents(rows: &mut [Vec<Value>], column: usize, parent_ids: &[RecordId]) {
    for row in rows {
        if let Value::Integer(position) = row[column] {
            row[column] = int(parent_ids[position as usize].0);
        }
    }
}

struct Generator {
    rng: StdRng,
    today: NaiveDate,
    master: Arc<MasterData>,
}

const PAYMENT_METHODS: &[(&str, u32)] = &[("bank", 75), ("ideal", 15), ("pin", 7), ("cash", 3)];

impl Generator {
    fn batch(&mut self, first_number: i64, size: usize) -> Batch {
        let mut batch = Batch {
            work_orders: Vec::with_capacity(size),
            hours: Vec::with_capacity(size * 2),
            materials: Vec::with_capacity(size * 2),
            invoices: Vec::with_capacity(size * 2 / 3),
            invoice_years: Vec::with_capacity(size * 2 / 3),
            invoice_lines: Vec::with_capacity(size * 3),
            payments: Vec::with_capacity(size / 2),
        };
        for position in 0..size {
            self.work_order(&mut batch, position, first_number + position as i64);
        }
        batch
    }

    fn work_order(&mut self, batch: &mut Batch, position: usize, number: i64) {
        let master = Arc::clone(&self.master);
        let rng = &mut self.rng;
        let today = self.today;
        let (relation, object, kind) = master.relations[rng.random_range(0..master.relations.len())];
        let installation = &INSTALLATIONS[kind];
        let description = *vocabulary::pick(rng, installation.work);
        let project = if rng.random_ratio(1, 20) {
            let (project, project_relation) = master.projects[rng.random_range(0..master.projects.len())];
            Some((project, project_relation))
        } else {
            None
        };
        let employee = master.employees[rng.random_range(0..master.employees.len())];
        // 60% handled (invoiced), 20% complete, 5% export error, the rest planned or in progress.
        let status = match rng.random_range(0..100) {
            0..60 => WorkOrderStatus::Afgehandeld,
            60..80 => WorkOrderStatus::Compleet,
            80..85 => WorkOrderStatus::Exportfout,
            85..93 => WorkOrderStatus::Klaargezet,
            _ => WorkOrderStatus::Opgehaald,
        };
        let planned = match status {
            WorkOrderStatus::Klaargezet => today + Days::days(rng.random_range(-2..28)),
            WorkOrderStatus::Opgehaald => today - Days::days(rng.random_range(0..3)),
            WorkOrderStatus::Compleet => today - Days::days(rng.random_range(1..60)),
            _ => today - Days::days(rng.random_range(3..730)),
        };
        let finished = matches!(
            status,
            WorkOrderStatus::Compleet | WorkOrderStatus::Afgehandeld | WorkOrderStatus::Exportfout
        );
        let completed_at = if finished {
            let time =
                NaiveTime::from_hms_opt(7, 30, 0).expect("a valid time") + Days::minutes(rng.random_range(0..600));
            Value::Timestamp(Utc.from_utc_datetime(&planned.and_time(time)))
        } else {
            Value::Null
        };
        let work_type = work_type_of(description);
        let relation_id = project.map_or(relation, |(_, project_relation)| project_relation);
        batch.work_orders.push(vec![
            text(format!("WB{number:07}")),
            int(relation_id.0),
            if project.is_some() { Value::Null } else { int(object.0) },
            project.map_or(Value::Null, |(project, _)| int(project.0)),
            int(employee.0),
            text(work_type),
            text(description),
            text(status.as_str()),
            Value::Date(planned),
            completed_at,
            if status == WorkOrderStatus::Exportfout {
                text(*vocabulary::pick(rng, vocabulary::EXPORT_ERRORS))
            } else {
                Value::Null
            },
        ]);

        let mut billable = Vec::with_capacity(6);
        let hour_lines = rng.random_range(1..=3);
        for line in 0..hour_lines {
            // The first line is the job itself, further lines travel time or overtime.
            let hour_type = if line == 0 {
                &master.hour_types[0]
            } else {
                &master.hour_types[rng.random_range(0..master.hour_types.len())]
            };
            let hours = Quantity::from_thousandths(rng.random_range(2..=24) * 250);
            let described = rng.random_ratio(1, 2);
            batch.hours.push(vec![
                int(position as i64),
                int(employee.0),
                text(hour_type.code.as_str()),
                Value::Date(planned),
                int(hours.thousandths()),
                int(hour_type.rate_cents),
                text(hour_type.vat.as_str()),
                if described {
                    text(hour_type.description.as_str())
                } else {
                    Value::Null
                },
            ]);
            billable.push(BillableLine {
                kind: LineKind::Hours,
                description: if described {
                    hour_type.description.clone()
                } else {
                    format!("Arbeid {}", hour_type.code)
                },
                quantity: hours,
                unit_price: Money::from_cents(hour_type.rate_cents),
                vat_rate: VatRate::parse(&hour_type.vat).unwrap_or(VatRate::High),
            });
        }
        let material_lines = rng.random_range(0..=4);
        for _ in 0..material_lines {
            let (material, item) = master.materials[rng.random_range(0..master.materials.len())];
            let quantity = match item.unit {
                "m" | "kg" => Quantity::from_thousandths(rng.random_range(1..=24) * 500),
                _ => Quantity::from_thousandths(rng.random_range(1..=4) * 1000),
            };
            batch.materials.push(vec![
                int(position as i64),
                int(material.0),
                int(quantity.thousandths()),
                int(item.price_cents),
                text(item.vat),
                Value::Null,
            ]);
            billable.push(BillableLine {
                kind: LineKind::Material,
                description: item.description.to_string(),
                quantity,
                unit_price: Money::from_cents(item.price_cents),
                vat_rate: VatRate::parse(item.vat).unwrap_or(VatRate::High),
            });
        }

        if status == WorkOrderStatus::Afgehandeld {
            self.invoice(batch, position, relation_id, planned, description, billable);
        }
    }

    fn invoice(
        &mut self,
        batch: &mut Batch,
        work_order_position: usize,
        relation: RecordId,
        completed_on: NaiveDate,
        description: &str,
        billable: Vec<BillableLine>,
    ) {
        let rng = &mut self.rng;
        let today = self.today;
        // Demo prices and quantities are small, so a draft always fits the money range; a work order
        // whose lines did not would simply stay uninvoiced, as it would in Koppel.
        let Ok(draft) = invoice::draft(billable) else {
            return;
        };
        let invoice_position = batch.invoices.len() as i64;
        let invoice_date = (completed_on + Days::days(rng.random_range(0..5))).min(today);
        let due_date = invoice_date + Days::days(30);
        let total = draft.total_incl_vat;
        // Old invoices are mostly paid; recent ones mostly still open.
        let roll = rng.random_range(0..100);
        let paid = if due_date < today {
            match roll {
                0..85 => total,
                85..90 => Money::from_cents(total.cents() / 200 * 100),
                _ => Money::ZERO,
            }
        } else {
            match roll {
                0..30 => total,
                30..40 => Money::from_cents(total.cents() / 200 * 100),
                _ => Money::ZERO,
            }
        };
        if paid > Money::ZERO {
            let method = weighted(rng, PAYMENT_METHODS);
            let paid_on = (invoice_date + Days::days(rng.random_range(1..40))).min(today);
            batch.payments.push(vec![
                int(invoice_position),
                int(paid.cents()),
                Value::Date(paid_on),
                text(method),
                Value::Null,
            ]);
        }
        for line in &draft.lines {
            batch.invoice_lines.push(vec![
                int(invoice_position),
                int(line.line_no),
                text(line.source.kind.as_str()),
                text(line.source.description.as_str()),
                int(line.source.quantity.thousandths()),
                int(line.source.unit_price.cents()),
                text(line.source.vat_rate.as_str()),
                int(line.amount_excl_vat.cents()),
                int(line.vat_amount.cents()),
            ]);
        }
        batch.invoices.push(vec![
            Value::Null,
            int(relation.0),
            int(work_order_position as i64),
            Value::Date(invoice_date),
            Value::Date(due_date),
            text(description),
            int(draft.total_excl_vat.cents()),
            int(draft.total_vat.cents()),
            int(total.cents()),
            int(paid.cents()),
            text(PaymentStatus::of(total, paid).as_str()),
        ]);
        batch.invoice_years.push(invoice_date.year());
    }
}

/// The work type a technician's description belongs to.
pub(crate) fn work_type_of(description: &str) -> &'static str {
    let lower = description.to_lowercase();
    if lower.contains("storing") || lower.contains("koelt niet") || lower.contains("verliest") {
        "STORING"
    } else if lower.contains("installatie ") || lower.starts_with("installatie") {
        "INSTALLATIE"
    } else if lower.contains("vervang") {
        "VERVANGING"
    } else if lower.contains("controle") || lower.contains("inspectie") || lower.contains("analyse") {
        "INSPECTIE"
    } else {
        "ONDERHOUD"
    }
}

fn weighted<'a>(rng: &mut StdRng, choices: &[(&'a str, u32)]) -> &'a str {
    let total: u32 = choices.iter().map(|(_, weight)| weight).sum();
    let mut roll = rng.random_range(0..total);
    for (choice, weight) in choices {
        if roll < *weight {
            return choice;
        }
        roll -= weight;
    }
    choices[0].0
}

async fn write_quotes(
    store: &Store,
    administration: AdministrationId,
    count: u64,
    today: NaiveDate,
    master: &MasterData,
    rng: &mut StdRng,
    counts: &mut BTreeMap<&'static str, u64>,
) -> Result<(), DemoError> {
    for start in (0..count as usize).step_by(MASTER_BATCH) {
        let end = (start + MASTER_BATCH).min(count as usize);
        let rows: Vec<Vec<Value>> = (start..end)
            .map(|index| {
                let (relation, _, kind) = master.relations[rng.random_range(0..master.relations.len())];
                let quote_date = today - Days::days(rng.random_range(0..730));
                let status = if quote_date > today - Days::days(30) {
                    *vocabulary::pick(rng, &["draft", "sent"])
                } else {
                    *vocabulary::pick(rng, &["accepted", "rejected", "sent"])
                };
                vec![
                    text(format!("OF{:07}", index + 1)),
                    int(relation.0),
                    Value::Null,
                    text(format!("Offerte {}", INSTALLATIONS[kind].kind.to_lowercase())),
                    Value::Date(quote_date),
                    Value::Date(quote_date + Days::days(30)),
                    text(status),
                    int(rng.random_range(250..25_000) * 100),
                    text("21"),
                ]
            })
            .collect();
        let mut tx = store.write(administration).await?;
        insert(&mut tx, counts, &QUOTES, &rows).await?;
        tx.commit().await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_knows_the_current_resource_layouts() {
        check_layouts().unwrap();
    }

    #[test]
    fn descriptions_map_to_work_types_every_catalogue_has() {
        let work_types = Catalogue::main().codes_of(&koppel_domain::resources::WORK_TYPES);
        for installation in INSTALLATIONS {
            for description in installation.work {
                assert!(
                    work_types.contains(&work_type_of(description).to_string()),
                    "{description}"
                );
            }
        }
    }
}
