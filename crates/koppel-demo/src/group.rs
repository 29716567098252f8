//! The demo group "Installatiegroep Van Dijk": a main administration in Nieuwegein and branches in
//! Utrecht, Amersfoort and Zwolle as subs, with licences, users, two years of daily data and settings.
//!
//! Everything goes through the store's ordinary checked paths: records are created from wire JSON with
//! the API's parsing, rules and reference checks; work orders move through their real status
//! transitions; invoices are made by the store's own invoicing and payments update them as they would
//! in production. Only what the store keeps as "now" (a work order's completion time, an invoice's
//! date and number) is set back afterwards to when the work was actually done, so reports over the two
//! years look like two years.

use crate::catalogue::{Catalogue, Drift, HourTypeInfo};
use crate::scale::work_type_of;
use crate::vocabulary::{self, City, INSTALLATIONS, MATERIALS, pick};
use crate::{DemoError, DemoLogin, DemoOptions, DemoSummary, GROUP_ENVIRONMENT, create, ensure_absent};
use chrono::{Datelike, Duration as Days, NaiveDate, NaiveTime, TimeZone, Utc};
use koppel_domain::licence::{LicenceState, PowerUp};
use koppel_domain::record::{ResourceSpec, Value};
use koppel_domain::resources::{
    ADDRESSES, CONTACT_PERSONS, EMPLOYEES, INVOICES, MATERIALS as MATERIAL_SPEC, OBJECTS, PAYMENTS, PROJECTS, QUOTES,
    RELATIONS, WORK_ORDER_HOURS, WORK_ORDER_MATERIALS, WORK_ORDERS,
};
use koppel_domain::rights::{Right, Rights};
use koppel_domain::work_order::WorkOrderStatus;
use koppel_domain::{AdministrationId, Money, Quantity, RecordId};
use koppel_store::platform::{Actor, Administration, NewAdministration, NewUser};
use koppel_store::{Store, WriteTx};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Instant;

/// Work orders per transaction: small enough that a failure shows where, large enough to be quick.
const WORK_ORDERS_PER_TRANSACTION: usize = 50;

/// One administration of the group and how much happens there.
pub(crate) struct Branch {
    pub(crate) name: &'static str,
    is_main: bool,
    pub(crate) drift: Drift,
    cities: &'static [City],
    pub(crate) relations: usize,
    work_orders: usize,
    employees: usize,
    projects: usize,
    quotes: usize,
}

pub(crate) const BRANCHES: [Branch; 4] = [
    Branch {
        name: "Van Dijk Installatiegroep",
        is_main: true,
        drift: Drift::None,
        cities: vocabulary::CITIES_NIEUWEGEIN,
        relations: 80,
        work_orders: 800,
        employees: 10,
        projects: 6,
        quotes: 40,
    },
    Branch {
        name: "Van Dijk Utrecht",
        is_main: false,
        drift: Drift::Missing,
        cities: vocabulary::CITIES_UTRECHT,
        relations: 35,
        work_orders: 250,
        employees: 5,
        projects: 2,
        quotes: 12,
    },
    Branch {
        name: "Van Dijk Amersfoort",
        is_main: false,
        drift: Drift::Changed,
        cities: vocabulary::CITIES_AMERSFOORT,
        relations: 35,
        work_orders: 250,
        employees: 5,
        projects: 2,
        quotes: 12,
    },
    Branch {
        name: "Van Dijk Zwolle",
        is_main: false,
        drift: Drift::Extra,
        cities: vocabulary::CITIES_ZWOLLE,
        relations: 35,
        work_orders: 250,
        employees: 5,
        projects: 2,
        quotes: 12,
    },
];

/// The demo users. Their passwords are printed by `koppel demo`; they only ever guard demo data.
struct DemoUser {
    name: &'static str,
    email: &'static str,
    password: &'static str,
    access: &'static str,
}

const ADMIN: DemoUser = DemoUser {
    name: "Anna de Vries",
    email: "anna.devries@vandijk.example",
    password: "VanDijk-Beheer-2026",
    access: "group administrator: every right in the main administration and all three subs",
};
const OFFICE: DemoUser = DemoUser {
    name: "Mark Jansen",
    email: "mark.jansen@vandijk.example",
    password: "Utrecht-Kantoor-2026",
    access: "office Utrecht: read and write daily data and manage Data Sync in Van Dijk Utrecht only",
};
const PLANNER: DemoUser = DemoUser {
    name: "Sophie Bakker",
    email: "sophie.bakker@vandijk.example",
    password: "Planning-Inzien-2026",
    access: "planner: read-only in the main administration and all three subs",
};

impl DemoUser {
    fn login(&self) -> DemoLogin {
        DemoLogin {
            name: self.name.into(),
            email: self.email.into(),
            password: self.password.into(),
            access: self.access.into(),
        }
    }
}

/// The group's logins, administrator first, as seeded.
pub(crate) fn logins() -> Vec<DemoLogin> {
    [&ADMIN, &OFFICE, &PLANNER].into_iter().map(DemoUser::login).collect()
}

pub(crate) async fn seed(store: &Store, options: &DemoOptions) -> Result<DemoSummary, DemoError> {
    let started = Instant::now();
    ensure_absent(store, GROUP_ENVIRONMENT).await?;
    let today = store.now().date_naive();
    let actor = Actor::SYSTEM;
    let environment = store.create_environment(GROUP_ENVIRONMENT).await?;
    store
        .set_licence(environment, PowerUp::PowerBi, LicenceState::Active, 0, actor)
        .await?;
    store
        .set_licence(environment, PowerUp::SubAdministrations, LicenceState::Active, 5, actor)
        .await?;
    store
        .set_licence(
            environment,
            PowerUp::Accountview,
            LicenceState::Trial {
                until: today + Days::days(30),
            },
            0,
            actor,
        )
        .await?;

    let mut administrations: Vec<Administration> = Vec::new();
    for branch in &BRANCHES {
        administrations.push(
            store
                .create_administration(
                    NewAdministration {
                        environment,
                        name: branch.name,
                        is_main: branch.is_main,
                    },
                    actor,
                )
                .await?,
        );
    }

    let mut logins = Vec::new();
    let mut users = Vec::new();
    for user in [&ADMIN, &OFFICE, &PLANNER] {
        users.push(
            store
                .create_user(NewUser {
                    environment,
                    email: user.email,
                    name: user.name,
                    password: user.password,
                    language: "nl",
                })
                .await?,
        );
        logins.push(user.login());
    }
    let office_rights: Rights = [Right::ReadData, Right::WriteData, Right::ManageDatasync]
        .into_iter()
        .collect();
    let read_only: Rights = [Right::ReadData].into_iter().collect();
    for administration in &administrations {
        store
            .set_rights(users[0].id, administration.id, Rights::all(), actor)
            .await?;
        store
            .set_rights(users[2].id, administration.id, read_only, actor)
            .await?;
    }
    store
        .set_rights(users[1].id, administrations[1].id, office_rights, actor)
        .await?;

    let mut counts: BTreeMap<&'static str, u64> = BTreeMap::new();
    let work_orders_started = Instant::now();
    for (index, (branch, administration)) in BRANCHES.iter().zip(&administrations).enumerate() {
        let mut seeder = BranchSeeder {
            store,
            administration: administration.id,
            branch,
            catalogue: Catalogue::for_drift(branch.drift),
            rng: StdRng::seed_from_u64(options.seed.wrapping_add(index as u64 * 7_919)),
            today,
            counts: &mut counts,
            employees: Vec::new(),
            materials: Vec::new(),
            relations: Vec::new(),
            projects: Vec::new(),
        };
        seeder.seed().await?;
    }

    Ok(DemoSummary {
        environment,
        environment_name: GROUP_ENVIRONMENT.to_string(),
        administrations: store.administrations(environment).await?,
        logins,
        work_orders: counts.get(WORK_ORDERS.slug).copied().unwrap_or_default(),
        counts,
        elapsed: started.elapsed(),
        work_orders_elapsed: work_orders_started.elapsed(),
    })
}

/// A relation with what work orders need of it.
struct RelationInfo {
    id: RecordId,
    company: bool,
    /// Installations: id and index into [`INSTALLATIONS`].
    objects: Vec<(RecordId, usize)>,
}

/// A material as the work orders use it.
struct MaterialInfo {
    id: RecordId,
    price_cents: i64,
    vat: &'static str,
    unit: &'static str,
    group: &'static str,
}

/// A work order to create, before it has an id.
struct PlannedOrder {
    date: NaiveDate,
    status: WorkOrderStatus,
}

/// A handled work order waiting for its invoice.
struct ToInvoice {
    work_order: RecordId,
    completed_on: NaiveDate,
}

struct BranchSeeder<'a> {
    store: &'a Store,
    administration: AdministrationId,
    branch: &'a Branch,
    catalogue: Catalogue,
    rng: StdRng,
    today: NaiveDate,
    counts: &'a mut BTreeMap<&'static str, u64>,
    employees: Vec<RecordId>,
    materials: Vec<MaterialInfo>,
    relations: Vec<RelationInfo>,
    projects: Vec<(RecordId, RecordId)>,
}

/// The code of a branch's `index`-th relation (the same numbers in every branch).
pub(crate) fn relation_code(index: usize) -> String {
    format!("D{}", 10_001 + index)
}

fn date_text(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

fn money_text(cents: i64) -> String {
    Money::from_cents(cents).to_string()
}

fn quantity_text(thousandths: i64) -> String {
    Quantity::from_thousandths(thousandths).to_string()
}

/// A partial update setting the named fields.
fn patch(spec: &ResourceSpec, changes: &[(&str, Value)]) -> Vec<Option<Value>> {
    let mut values = vec![None; spec.fields.len()];
    for (name, value) in changes {
        values[spec.field_index(name)] = Some(value.clone());
    }
    values
}

impl BranchSeeder<'_> {
    async fn seed(&mut self) -> Result<(), DemoError> {
        let mut tx = self.store.write(self.administration).await?;
        for item in &self.catalogue.items {
            create(&mut tx, self.counts, item.spec, item.json.clone()).await?;
        }
        self.employees(&mut tx).await?;
        self.materials(&mut tx).await?;
        self.relations(&mut tx).await?;
        self.projects(&mut tx).await?;
        tx.commit().await?;
        let to_invoice = self.work_orders().await?;
        self.invoices(to_invoice).await?;
        self.quotes().await?;
        Ok(())
    }

    async fn employees(&mut self, tx: &mut WriteTx) -> Result<(), DemoError> {
        for index in 0..self.branch.employees {
            let first = *pick(&mut self.rng, vocabulary::FIRST_NAMES);
            let surname = *pick(&mut self.rng, vocabulary::SURNAMES);
            let record = create(
                tx,
                self.counts,
                &EMPLOYEES,
                json!({
                    "code": format!("MW{:02}", index + 1),
                    "name": format!("{first} {surname}"),
                    "email": format!("{}.{}@vandijk.example", vocabulary::mail_part(first),
                                     vocabulary::mail_part(surname)),
                    "phone": vocabulary::mobile(&mut self.rng),
                    // One technician left last year; old work orders still name them.
                    "active": index + 1 != self.branch.employees,
                }),
            )
            .await?;
            self.employees.push(record.id);
        }
        Ok(())
    }

    async fn materials(&mut self, tx: &mut WriteTx) -> Result<(), DemoError> {
        for item in MATERIALS {
            let record = create(
                tx,
                self.counts,
                &MATERIAL_SPEC,
                json!({
                    "code": item.code,
                    "description": item.description,
                    "unit": item.unit,
                    "price": money_text(item.price_cents),
                    "cost_price": money_text(item.cost_cents),
                    "vat_rate": item.vat,
                    "article_group": item.group,
                    "blocked": false,
                }),
            )
            .await?;
            self.materials.push(MaterialInfo {
                id: record.id,
                price_cents: item.price_cents,
                vat: item.vat,
                unit: item.unit,
                group: item.group,
            });
        }
        Ok(())
    }

    async fn relations(&mut self, tx: &mut WriteTx) -> Result<(), DemoError> {
        const NOTES: &[&str] = &[
            "Sleutel ligt bij de buren op nummer 12",
            "Graag vooraf bellen, klant werkt in ploegendienst",
            "Hond aanwezig",
            "Parkeren op eigen terrein achter het pand",
            "Meterkast in de kelder",
        ];
        const ROLES: &[&str] = &[
            "Eigenaar",
            "Facilitair manager",
            "Bedrijfsleider",
            "Beheerder",
            "Administratie",
        ];
        for index in 0..self.branch.relations {
            let rng = &mut self.rng;
            let city = *pick(rng, self.branch.cities);
            let company = rng.random_ratio(2, 5);
            let surname = *pick(rng, vocabulary::SURNAMES);
            let first = *pick(rng, vocabulary::FIRST_NAMES);
            let (name, email) = if company {
                let kind = *pick(rng, vocabulary::COMPANY_KINDS);
                (
                    format!("{kind} {surname}"),
                    format!(
                        "info@{}{}.example",
                        vocabulary::mail_part(kind),
                        vocabulary::mail_part(surname)
                    ),
                )
            } else if rng.random_ratio(1, 10) {
                let institution = *pick(rng, vocabulary::INSTITUTIONS);
                let street = *pick(rng, vocabulary::STREETS);
                let name = if institution == "VvE" {
                    format!("VvE {street} {}-{}", rng.random_range(1..40), rng.random_range(41..90))
                } else {
                    format!("{institution} {}", city.name)
                };
                let email = format!("beheer@{}.example", vocabulary::mail_part(&name).replace('.', ""));
                (name, email)
            } else {
                (format!("{first} {surname}"), vocabulary::person_email(first, surname))
            };
            let relation = create(
                tx,
                self.counts,
                &RELATIONS,
                json!({
                    "code": relation_code(index),
                    "name": name,
                    "kind": if company { "company" } else { "person" },
                    "email": email,
                    "phone": if company || rng.random_ratio(1, 2) {
                        vocabulary::landline(rng, &city)
                    } else {
                        vocabulary::mobile(rng)
                    },
                    "vat_number": company.then(|| format!("NL{:09}B01", rng.random_range(0..1_000_000_000))),
                    "coc_number": company.then(|| format!("{:08}", rng.random_range(10_000_000..100_000_000))),
                    "blocked": false,
                    "notes": rng.random_ratio(1, 5).then(|| *pick(rng, NOTES)),
                }),
            )
            .await?;
            let street = *pick(&mut self.rng, vocabulary::STREETS);
            let visit = create(
                tx,
                self.counts,
                &ADDRESSES,
                json!({
                    "relation_id": relation.id.0,
                    "kind": "visit",
                    "street": street,
                    "house_number": vocabulary::house_number(&mut self.rng),
                    "postal_code": vocabulary::postal_code(&mut self.rng, &city),
                    "city": city.name,
                    "country": "NL",
                }),
            )
            .await?;
            if company && self.rng.random_ratio(1, 3) {
                let street = *pick(&mut self.rng, vocabulary::STREETS);
                create(
                    tx,
                    self.counts,
                    &ADDRESSES,
                    json!({
                        "relation_id": relation.id.0,
                        "kind": "invoice",
                        "street": street,
                        "house_number": vocabulary::house_number(&mut self.rng),
                        "postal_code": vocabulary::postal_code(&mut self.rng, &city),
                        "city": city.name,
                        "country": "NL",
                    }),
                )
                .await?;
            }
            if company {
                for _ in 0..self.rng.random_range(1..=2) {
                    let first = *pick(&mut self.rng, vocabulary::FIRST_NAMES);
                    let surname = *pick(&mut self.rng, vocabulary::SURNAMES);
                    create(
                        tx,
                        self.counts,
                        &CONTACT_PERSONS,
                        json!({
                            "relation_id": relation.id.0,
                            "name": format!("{first} {surname}"),
                            "email": vocabulary::person_email(first, surname),
                            "phone": vocabulary::mobile(&mut self.rng),
                            "role": *pick(&mut self.rng, ROLES),
                        }),
                    )
                    .await?;
                }
            }
            let mut objects = Vec::new();
            let object_count = if self.rng.random_ratio(3, 10) { 2 } else { 1 };
            for _ in 0..object_count {
                // Mostly central heating, as in any Dutch installer's customer base.
                let kind = match self.rng.random_range(0..100) {
                    0..50 => 0,
                    50..65 => 1,
                    65..78 => 2,
                    78..88 => 3,
                    88..94 if company => 4,
                    _ => 5,
                };
                let installation = &INSTALLATIONS[kind];
                let (brand, model, prefix) = *pick(&mut self.rng, installation.models);
                let installed_on = self.today - Days::days(self.rng.random_range(200..5_500));
                let serial = vocabulary::serial_number(&mut self.rng, prefix, installed_on.year());
                let sequence = self.counts.get(OBJECTS.slug).copied().unwrap_or_default() + 1;
                let object = create(
                    tx,
                    self.counts,
                    &OBJECTS,
                    json!({
                        "code": format!("OBJ-{}-{sequence:05}", self.administration.0),
                        "relation_id": relation.id.0,
                        "name": format!("{} {brand} {model}", installation.kind),
                        "brand": brand,
                        "model": model,
                        "serial_number": serial,
                        "installed_on": date_text(installed_on),
                        "address_id": visit.id.0,
                    }),
                )
                .await?;
                objects.push((object.id, kind));
            }
            self.relations.push(RelationInfo {
                id: relation.id,
                company,
                objects,
            });
        }
        Ok(())
    }

    async fn projects(&mut self, tx: &mut WriteTx) -> Result<(), DemoError> {
        let companies: Vec<RecordId> = self
            .relations
            .iter()
            .filter(|relation| relation.company)
            .map(|relation| relation.id)
            .collect();
        for index in 0..self.branch.projects {
            let relation = companies
                .get(index % companies.len().max(1))
                .copied()
                .unwrap_or(self.relations[0].id);
            let start = self.today - Days::days(self.rng.random_range(30..700));
            let closed = start < self.today - Days::days(240);
            let name = *pick(&mut self.rng, vocabulary::PROJECT_NAMES);
            let record = create(
                tx,
                self.counts,
                &PROJECTS,
                json!({
                    "code": format!("P{}-{:03}", start.year(), index + 1),
                    "relation_id": relation.0,
                    "name": format!("{name} {}", self.branch.cities[0].name),
                    "status": if closed { "closed" } else { "open" },
                    "start_date": date_text(start),
                    "end_date": closed.then(|| date_text(start + Days::days(180))),
                }),
            )
            .await?;
            self.projects.push((record.id, relation));
        }
        Ok(())
    }

    /// Dates and statuses of every work order, oldest first: mostly handled history, some work still
    /// to invoice or in the field, and a few weeks of planning ahead. Every status occurs.
    fn plan(&mut self) -> Vec<PlannedOrder> {
        let total = self.branch.work_orders;
        let ahead = (total / 25).max(5);
        let in_field = (total / 60).max(3);
        let recent = (total / 12).max(6);
        let history = total.saturating_sub(ahead + in_field + recent);
        let mut plan = Vec::with_capacity(total);
        for _ in 0..history {
            let date = self.today - Days::days(self.rng.random_range(15..=730));
            let status = match self.rng.random_range(0..100) {
                0..94 => WorkOrderStatus::Afgehandeld,
                94..97 => WorkOrderStatus::Exportfout,
                _ => WorkOrderStatus::Compleet,
            };
            plan.push(PlannedOrder { date, status });
        }
        for index in 0..recent {
            let date = self.today - Days::days(self.rng.random_range(2..15));
            let status = match (index, self.rng.random_range(0..10)) {
                (0, _) | (_, 0..5) => WorkOrderStatus::Compleet,
                (1, _) | (_, 5) => WorkOrderStatus::Exportfout,
                _ => WorkOrderStatus::Afgehandeld,
            };
            plan.push(PlannedOrder { date, status });
        }
        for _ in 0..in_field {
            let date = self.today - Days::days(self.rng.random_range(0..2));
            plan.push(PlannedOrder {
                date,
                status: WorkOrderStatus::Opgehaald,
            });
        }
        for _ in 0..ahead {
            let date = self.today + Days::days(self.rng.random_range(1..=21));
            plan.push(PlannedOrder {
                date,
                status: WorkOrderStatus::Klaargezet,
            });
        }
        plan.sort_by_key(|order| order.date);
        plan
    }

    async fn work_orders(&mut self) -> Result<Vec<ToInvoice>, DemoError> {
        let plan = self.plan();
        let hour_types = self.catalogue.billable_hour_types();
        let mut to_invoice = Vec::new();
        for (chunk_index, chunk) in plan.chunks(WORK_ORDERS_PER_TRANSACTION).enumerate() {
            let mut tx = self.store.write(self.administration).await?;
            for (offset, order) in chunk.iter().enumerate() {
                let number = chunk_index * WORK_ORDERS_PER_TRANSACTION + offset + 1;
                let id = self.work_order(&mut tx, number, order, &hour_types).await?;
                if order.status == WorkOrderStatus::Afgehandeld {
                    to_invoice.push(ToInvoice {
                        work_order: id,
                        completed_on: order.date,
                    });
                }
            }
            tx.commit().await?;
        }
        Ok(to_invoice)
    }

    async fn work_order(
        &mut self,
        tx: &mut WriteTx,
        number: usize,
        order: &PlannedOrder,
        hour_types: &[HourTypeInfo],
    ) -> Result<RecordId, DemoError> {
        let relation_index = self.rng.random_range(0..self.relations.len());
        let (object, kind) = *pick(&mut self.rng, &self.relations[relation_index].objects);
        let relation = self.relations[relation_index].id;
        let installation = &INSTALLATIONS[kind];
        let description = *pick(&mut self.rng, installation.work);
        let project = self
            .projects
            .iter()
            .find(|(_, project_relation)| *project_relation == relation)
            .filter(|_| self.rng.random_ratio(1, 2))
            .map(|(project, _)| project.0);
        // Inactive technicians (the last one) only appear in history.
        let active = if order.date < self.today - Days::days(365) {
            self.employees.len()
        } else {
            self.employees.len() - 1
        };
        let employee = self.employees[self.rng.random_range(0..active.max(1))];
        let finished = matches!(
            order.status,
            WorkOrderStatus::Compleet | WorkOrderStatus::Afgehandeld | WorkOrderStatus::Exportfout
        );
        // New work orders start as planned, fetched or complete; later states are transitions.
        let initial = if finished {
            WorkOrderStatus::Compleet
        } else {
            order.status
        };
        let record = create(
            tx,
            self.counts,
            &WORK_ORDERS,
            json!({
                "number": format!("WB-{number:06}"),
                "relation_id": relation.0,
                "object_id": object.0,
                "project_id": project,
                "employee_id": employee.0,
                "work_type_code": work_type_of(description),
                "description": description,
                "status": initial.as_str(),
                "planned_date": date_text(order.date),
            }),
        )
        .await?;
        if order.status == WorkOrderStatus::Klaargezet {
            return Ok(record.id);
        }

        // Hours: the job itself, often travel time, now and then overtime.
        let normal = &hour_types[0];
        let mut hour_lines = vec![(normal, self.rng.random_range(2..=16) * 250)];
        if self.rng.random_ratio(1, 2)
            && let Some(travel) = hour_types.iter().find(|h| h.code == "REIS")
        {
            hour_lines.push((travel, 500));
        }
        if self.rng.random_ratio(1, 10)
            && let Some(overtime) = hour_types.iter().find(|h| h.code == "OVERWERK")
        {
            hour_lines.push((overtime, self.rng.random_range(2..=8) * 250));
        }
        for (hour_type, thousandths) in hour_lines {
            create(
                tx,
                self.counts,
                &WORK_ORDER_HOURS,
                json!({
                    "work_order_id": record.id.0,
                    "employee_id": employee.0,
                    "hour_type_code": hour_type.code,
                    "work_date": date_text(order.date),
                    "hours": quantity_text(thousandths),
                    "rate": money_text(hour_type.rate_cents),
                    "vat_rate": hour_type.vat,
                    "description": self.rng.random_ratio(1, 3).then(|| hour_type.description.clone()),
                }),
            )
            .await?;
        }

        let groups = material_groups(installation.kind);
        let candidates: Vec<&MaterialInfo> = self
            .materials
            .iter()
            .filter(|material| groups.contains(&material.group))
            .collect();
        for _ in 0..self.rng.random_range(0..=3) {
            let material = *pick(&mut self.rng, &candidates);
            let thousandths = match material.unit {
                "m" => self.rng.random_range(1..=12) * 500,
                "kg" => self.rng.random_range(1..=5) * 250,
                _ => self.rng.random_range(1..=3) * 1000,
            };
            create(
                tx,
                self.counts,
                &WORK_ORDER_MATERIALS,
                json!({
                    "work_order_id": record.id.0,
                    "material_id": material.id.0,
                    "quantity": quantity_text(thousandths),
                    "price": money_text(material.price_cents),
                    "vat_rate": material.vat,
                }),
            )
            .await?;
        }

        if finished {
            // The store stamps completion with its own "now"; the work was done on the planned day.
            let time =
                NaiveTime::from_hms_opt(8, 0, 0).expect("a valid time") + Days::minutes(self.rng.random_range(0..540));
            let completed_at = Value::Timestamp(Utc.from_utc_datetime(&order.date.and_time(time)));
            let changes = if order.status == WorkOrderStatus::Exportfout {
                patch(
                    &WORK_ORDERS,
                    &[
                        ("completed_at", completed_at),
                        ("status", Value::Text(order.status.as_str().into())),
                        (
                            "export_error",
                            Value::Text((*pick(&mut self.rng, vocabulary::EXPORT_ERRORS)).into()),
                        ),
                    ],
                )
            } else {
                patch(&WORK_ORDERS, &[("completed_at", completed_at)])
            };
            tx.update(&WORK_ORDERS, record.id, changes).await?;
        }
        Ok(record.id)
    }

    /// Invoices every handled work order with the store's invoicing, then dates it when the work was
    /// done. The store numbers invoices in the current year; invoices of earlier years get a number
    /// from that year's sequence instead. This year's invoices go first, so their numbers run without
    /// gaps; the numbers earlier years' invoices took from this year's sequence on the way are skipped.
    async fn invoices(&mut self, mut to_invoice: Vec<ToInvoice>) -> Result<(), DemoError> {
        let this_year = self.today.year();
        to_invoice.sort_by_key(|order| (order.completed_on.year() != this_year, order.completed_on));
        for chunk in to_invoice.chunks(WORK_ORDERS_PER_TRANSACTION) {
            let mut tx = self.store.write(self.administration).await?;
            for order in chunk {
                let invoice = tx
                    .invoice_work_order(order.work_order, koppel_store::invoicing::DEFAULT_PAYMENT_TERM_DAYS)
                    .await?;
                *self.counts.entry(INVOICES.slug).or_default() += 1;
                let lines = tx
                    .tx()
                    .children(
                        self.administration,
                        &koppel_domain::resources::INVOICE_LINES,
                        invoice.id,
                    )
                    .await?;
                *self
                    .counts
                    .entry(koppel_domain::resources::INVOICE_LINES.slug)
                    .or_default() += lines.len() as u64;

                let invoice_date = (order.completed_on + Days::days(self.rng.random_range(0..4))).min(self.today);
                let due_date = invoice_date + Days::days(koppel_store::invoicing::DEFAULT_PAYMENT_TERM_DAYS);
                let mut changes = vec![
                    ("invoice_date", Value::Date(invoice_date)),
                    ("due_date", Value::Date(due_date)),
                ];
                if invoice_date.year() != this_year {
                    let year = invoice_date.year();
                    let sequence = tx.next_number(&format!("invoice-{year}")).await?;
                    changes.push(("number", Value::Text(format!("{year}-{sequence:05}"))));
                }
                let invoice = tx.update(&INVOICES, invoice.id, patch(&INVOICES, &changes)).await?;
                tx.update(
                    &WORK_ORDERS,
                    order.work_order,
                    patch(
                        &WORK_ORDERS,
                        &[("status", Value::Text(WorkOrderStatus::Afgehandeld.as_str().into()))],
                    ),
                )
                .await?;

                let total = invoice.get(&INVOICES, "total_incl_vat").as_i64().unwrap_or_default();
                let number = invoice
                    .get(&INVOICES, "number")
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                self.payments(&mut tx, invoice.id, &number, total, invoice_date, due_date)
                    .await?;
            }
            tx.commit().await?;
        }
        Ok(())
    }

    /// Old invoices are mostly paid, some in two parts; recent ones mostly still open.
    async fn payments(
        &mut self,
        tx: &mut WriteTx,
        invoice: RecordId,
        number: &str,
        total_cents: i64,
        invoice_date: NaiveDate,
        due_date: NaiveDate,
    ) -> Result<(), DemoError> {
        let roll = self.rng.random_range(0..100);
        let amounts: Vec<i64> = if due_date < self.today {
            match roll {
                0..80 => vec![total_cents],
                80..88 => {
                    let first = total_cents / 200 * 100;
                    vec![first, total_cents - first]
                }
                88..95 => vec![total_cents / 200 * 100],
                _ => vec![],
            }
        } else {
            match roll {
                0..35 => vec![total_cents],
                35..45 => vec![total_cents / 200 * 100],
                _ => vec![],
            }
        };
        let mut paid_on = invoice_date;
        for amount in amounts.into_iter().filter(|amount| *amount > 0) {
            paid_on = (paid_on + Days::days(self.rng.random_range(3..35))).min(self.today);
            let method = match self.rng.random_range(0..20) {
                0..15 => "bank",
                15..18 => "ideal",
                18 => "pin",
                _ => "cash",
            };
            create(
                tx,
                self.counts,
                &PAYMENTS,
                json!({
                    "invoice_id": invoice.0,
                    "amount": money_text(amount),
                    "paid_on": date_text(paid_on),
                    "method": method,
                    "reference": format!("Factuur {number}"),
                }),
            )
            .await?;
        }
        Ok(())
    }

    async fn quotes(&mut self) -> Result<(), DemoError> {
        const QUOTE_TEXTS: &[(&str, i64, i64, &str)] = &[
            (
                "Vervangen CV-ketel door HR-combiketel inclusief montage",
                2_950,
                4_200,
                "21",
            ),
            ("Hybride warmtepomp naast bestaande CV-ketel", 5_400, 8_900, "21"),
            ("Levering en montage split-unit airco woonkamer", 1_900, 3_400, "21"),
            ("Vervangen mechanische ventilatie door WTW-unit", 3_100, 5_600, "21"),
            ("Zonnepanelen 10 stuks inclusief omvormer", 4_800, 7_900, "0"),
            ("Onderhoudscontract CV en ventilatie, drie jaar", 450, 1_200, "21"),
        ];
        let mut tx = self.store.write(self.administration).await?;
        for index in 0..self.branch.quotes {
            let relation = self.relations[self.rng.random_range(0..self.relations.len())].id;
            let (text, low, high, vat) = *pick(&mut self.rng, QUOTE_TEXTS);
            let quote_date = self.today - Days::days(self.rng.random_range(0..730));
            let status = if quote_date > self.today - Days::days(21) {
                if self.rng.random_ratio(1, 3) { "draft" } else { "sent" }
            } else {
                match self.rng.random_range(0..10) {
                    0..5 => "accepted",
                    5..8 => "rejected",
                    _ => "sent",
                }
            };
            create(
                &mut tx,
                self.counts,
                &QUOTES,
                json!({
                    "number": format!("OF-{}-{:04}", quote_date.year(), index + 1),
                    "relation_id": relation.0,
                    "description": text,
                    "quote_date": date_text(quote_date),
                    "valid_until": date_text(quote_date + Days::days(30)),
                    "status": status,
                    "total_excl_vat": money_text(self.rng.random_range(low..=high) * 100),
                    "vat_rate": vat,
                }),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// The article groups a technician uses on an installation of this kind.
fn material_groups(kind: &str) -> &'static [&'static str] {
    match kind {
        "CV-ketel" => &[
            "Leidingwerk",
            "Fittingen",
            "CV-onderdelen",
            "Regeltechniek",
            "Afvoer",
            "Diversen",
        ],
        "Warmtepomp" => &["Leidingwerk", "Fittingen", "Regeltechniek", "Diversen"],
        "Airco" => &["Koeltechniek", "Diversen"],
        "Mechanische ventilatie" => &["Ventilatie", "Diversen"],
        "Brandblusmiddelen" => &["Brandveiligheid"],
        _ => &["Zonne-energie", "Diversen"],
    }
}
