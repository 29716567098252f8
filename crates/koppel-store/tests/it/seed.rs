//! Records for the suite to work with, written from JSON bodies parsed exactly as the web layer parses
//! them, so the values the store sees are the values clients can send.

use koppel_domain::record::{ResourceSpec, Value, parse_create, parse_patch};
use koppel_domain::resources::{
    ADDRESSES, APP_POLICIES, CONTACT_PERSONS, EMPLOYEES, FORMS, FREE_FIELDS, HOUR_TYPES, MATERIALS, OBJECTS, PAYMENTS,
    PROJECTS, QUOTES, RELATIONS, TEMPLATES, WORK_ORDER_HOURS, WORK_ORDER_MATERIALS, WORK_ORDERS, WORK_STATUSES,
    WORK_TYPES, WORKFLOWS,
};
use koppel_domain::{AdministrationId, RecordId};
use koppel_store::records::StoredRecord;
use koppel_store::{Result, Store};
use serde_json::{Value as Json, json};

/// A create body parsed into values; a body the domain rejects is a mistake in the test.
#[track_caller]
pub fn values(spec: &ResourceSpec, body: Json) -> Vec<Value> {
    parse_create(spec, &body).unwrap_or_else(|errors| panic!("bad {} body in test: {errors:?}", spec.slug))
}

/// A patch body parsed into a partial update.
#[track_caller]
pub fn patch(spec: &ResourceSpec, body: Json) -> Vec<Option<Value>> {
    parse_patch(spec, &body).unwrap_or_else(|errors| panic!("bad {} patch in test: {errors:?}", spec.slug))
}

pub async fn try_create(
    store: &Store,
    administration: AdministrationId,
    spec: &ResourceSpec,
    body: Json,
) -> Result<StoredRecord> {
    store.create_record(administration, spec, values(spec, body)).await
}

pub async fn create(store: &Store, administration: AdministrationId, spec: &ResourceSpec, body: Json) -> StoredRecord {
    try_create(store, administration, spec, body)
        .await
        .unwrap_or_else(|error| panic!("creating a {} failed: {error:?}", spec.slug))
}

pub async fn try_update(
    store: &Store,
    administration: AdministrationId,
    spec: &ResourceSpec,
    id: RecordId,
    body: Json,
) -> Result<StoredRecord> {
    store.update_record(administration, spec, id, patch(spec, body)).await
}

pub async fn update(
    store: &Store,
    administration: AdministrationId,
    spec: &ResourceSpec,
    id: RecordId,
    body: Json,
) -> StoredRecord {
    try_update(store, administration, spec, id, body)
        .await
        .unwrap_or_else(|error| panic!("updating a {} failed: {error:?}", spec.slug))
}

/// The text of a field, or "" for null.
pub fn text<'r>(record: &'r StoredRecord, spec: &ResourceSpec, field: &str) -> &'r str {
    record.get(spec, field).as_str().unwrap_or_default()
}

/// The integer (id, cents, thousandths) of a field.
#[track_caller]
pub fn integer(record: &StoredRecord, spec: &ResourceSpec, field: &str) -> i64 {
    record
        .get(spec, field)
        .as_i64()
        .unwrap_or_else(|| panic!("{}.{field} is not an integer", spec.slug))
}

pub async fn relation(store: &Store, administration: AdministrationId, code: &str) -> StoredRecord {
    create(
        store,
        administration,
        &RELATIONS,
        json!({"code": code, "name": format!("Klant {code}"), "kind": "company"}),
    )
    .await
}

pub async fn material(store: &Store, administration: AdministrationId, code: &str, price: &str) -> StoredRecord {
    create(
        store,
        administration,
        &MATERIALS,
        json!({"code": code, "description": format!("Artikel {code}"), "unit": "stuk", "price": price, "vat_rate": "21"}),
    )
    .await
}

pub async fn hour_type(store: &Store, administration: AdministrationId, code: &str) -> StoredRecord {
    create(
        store,
        administration,
        &HOUR_TYPES,
        json!({"code": code, "description": "Normale uren", "rate": "72.50", "vat_rate": "21", "billable": true}),
    )
    .await
}

pub async fn work_order(
    store: &Store,
    administration: AdministrationId,
    number: &str,
    relation: RecordId,
    status: &str,
) -> StoredRecord {
    create(
        store,
        administration,
        &WORK_ORDERS,
        json!({"number": number, "relation_id": relation.0, "description": "Storing verhelpen", "status": status}),
    )
    .await
}

/// One record of every resource, with every field a client can set filled in, as currently stored.
pub struct EveryResource {
    pub records: Vec<(&'static ResourceSpec, StoredRecord)>,
}

impl EveryResource {
    pub fn of(&self, spec: &ResourceSpec) -> &StoredRecord {
        self.records
            .iter()
            .find(|(s, _)| s.slug == spec.slug)
            .map(|(_, record)| record)
            .unwrap_or_else(|| panic!("no {} was seeded", spec.slug))
    }
}

/// Seeds one record of every resource in an administration (invoices and their lines through invoicing).
pub async fn every_resource(store: &Store, administration: AdministrationId) -> EveryResource {
    let a = administration;
    let mut created: Vec<(&'static ResourceSpec, RecordId)> = Vec::new();
    let mut add = |spec: &'static ResourceSpec, record: &StoredRecord| {
        created.push((spec, record.id));
        record.id.0
    };

    let form = create(
        store,
        a,
        &FORMS,
        json!({"code": "F-CV", "name": "CV-ketel", "fields": [
            {"key": "druk", "label": "Druk (bar)", "type": "number", "required": true},
            {"key": "toestand", "label": "Toestand", "type": "choice", "choices": ["goed", "matig"]}]}),
    )
    .await;
    add(&FORMS, &form);
    let work_type = create(
        store,
        a,
        &WORK_TYPES,
        json!({"code": "ONDERHOUD", "name": "Onderhoud", "description": "Periodiek onderhoud"}),
    )
    .await;
    add(&WORK_TYPES, &work_type);
    let workflow = create(
        store,
        a,
        &WORKFLOWS,
        json!({"code": "WF-CV", "name": "CV onderhoud",
               "steps": [{"name": "Aankomst"}, {"name": "Inspectie", "form_code": "F-CV"}],
               "work_type_codes": ["ONDERHOUD"]}),
    )
    .await;
    add(&WORKFLOWS, &workflow);
    let template = create(
        store,
        a,
        &TEMPLATES,
        json!({"code": "T-WO", "name": "Werkbon", "kind": "work_order", "header": "Koppel Installatie",
               "body": "Werkbon {{number}}", "footer": "Bedankt voor uw opdracht",
               "options": {"logo": true, "copies": 2, "paper": "A4"}}),
    )
    .await;
    add(&TEMPLATES, &template);
    let status = create(
        store,
        a,
        &WORK_STATUSES,
        json!({"code": "GEPLAND", "name": "Gepland", "color": "#1E88E5", "is_final": false}),
    )
    .await;
    add(&WORK_STATUSES, &status);
    let hours = create(
        store,
        a,
        &HOUR_TYPES,
        json!({"code": "NORMAAL", "description": "Normale uren", "rate": "72.50", "vat_rate": "21", "billable": true}),
    )
    .await;
    add(&HOUR_TYPES, &hours);
    let free_field = create(
        store,
        a,
        &FREE_FIELDS,
        json!({"code": "KETELTYPE", "label": "Keteltype", "entity": "object", "field_type": "choice",
               "choices": ["HR", "VR"]}),
    )
    .await;
    add(&FREE_FIELDS, &free_field);
    let policy = create(
        store,
        a,
        &APP_POLICIES,
        json!({"code": "FOTO_VERPLICHT", "name": "Foto verplicht", "enabled": true,
               "description": "Een foto bij elke afgeronde werkbon"}),
    )
    .await;
    add(&APP_POLICIES, &policy);

    let relation = create(
        store,
        a,
        &RELATIONS,
        json!({"code": "D1000", "name": "Bakkerij De Vries", "kind": "company", "email": "info@devries.test",
               "phone": "030-1234567", "vat_number": "NL001234567B01", "coc_number": "12345678",
               "blocked": false, "notes": "Ingang via de achterdeur"}),
    )
    .await;
    let relation_id = add(&RELATIONS, &relation);
    let address = create(
        store,
        a,
        &ADDRESSES,
        json!({"relation_id": relation_id, "kind": "visit", "street": "Oudegracht", "house_number": "12a",
               "postal_code": "3511 AB", "city": "Utrecht", "country": "NL"}),
    )
    .await;
    let address_id = add(&ADDRESSES, &address);
    let contact = create(
        store,
        a,
        &CONTACT_PERSONS,
        json!({"relation_id": relation_id, "name": "Jan de Vries", "email": "jan@devries.test",
               "phone": "06-12345678", "role": "Eigenaar"}),
    )
    .await;
    add(&CONTACT_PERSONS, &contact);
    let object = create(
        store,
        a,
        &OBJECTS,
        json!({"code": "OBJ-1", "relation_id": relation_id, "name": "CV-ketel keuken", "brand": "Remeha",
               "model": "Avanta", "serial_number": "SN-123", "installed_on": "2019-05-01", "address_id": address_id}),
    )
    .await;
    let object_id = add(&OBJECTS, &object);
    let project = create(
        store,
        a,
        &PROJECTS,
        json!({"code": "P-1", "relation_id": relation_id, "name": "Renovatie", "status": "open",
               "start_date": "2026-01-01", "end_date": "2026-12-31"}),
    )
    .await;
    let project_id = add(&PROJECTS, &project);
    let employee = create(
        store,
        a,
        &EMPLOYEES,
        json!({"code": "E-1", "name": "Piet Monteur", "email": "piet@koppel.test", "phone": "06-11111111",
               "active": true}),
    )
    .await;
    let employee_id = add(&EMPLOYEES, &employee);
    let material = create(
        store,
        a,
        &MATERIALS,
        json!({"code": "M-1", "description": "Thermostaatkraan", "unit": "stuk", "price": "4.99",
               "cost_price": "2.50", "vat_rate": "9", "article_group": "CV", "blocked": false}),
    )
    .await;
    let material_id = add(&MATERIALS, &material);
    let order = create(
        store,
        a,
        &WORK_ORDERS,
        json!({"number": "WO-1", "relation_id": relation_id, "object_id": object_id, "project_id": project_id,
               "employee_id": employee_id, "work_type_code": "ONDERHOUD", "description": "Jaarlijks onderhoud",
               "status": "Compleet", "planned_date": "2026-11-20"}),
    )
    .await;
    let order_id = add(&WORK_ORDERS, &order);
    let hour_line = create(
        store,
        a,
        &WORK_ORDER_HOURS,
        json!({"work_order_id": order_id, "employee_id": employee_id, "hour_type_code": "NORMAAL",
               "work_date": "2026-11-20", "hours": "1.5", "rate": "72.50", "vat_rate": "21",
               "description": "Onderhoud ketel"}),
    )
    .await;
    add(&WORK_ORDER_HOURS, &hour_line);
    let material_line = create(
        store,
        a,
        &WORK_ORDER_MATERIALS,
        json!({"work_order_id": order_id, "material_id": material_id, "quantity": "3", "price": "4.99",
               "vat_rate": "9", "description": "Thermostaatkranen"}),
    )
    .await;
    add(&WORK_ORDER_MATERIALS, &material_line);
    let invoice = store
        .invoice_work_order(a, RecordId(order_id), 30)
        .await
        .expect("invoice the seeded work order");
    let invoice_id = add(&koppel_domain::resources::INVOICES, &invoice);
    let quote = create(
        store,
        a,
        &QUOTES,
        json!({"number": "Q-1", "relation_id": relation_id, "project_id": project_id, "description": "Nieuwe ketel",
               "quote_date": "2026-11-01", "valid_until": "2026-12-01", "status": "sent",
               "total_excl_vat": "2450.00", "vat_rate": "21"}),
    )
    .await;
    add(&QUOTES, &quote);
    let payment = create(
        store,
        a,
        &PAYMENTS,
        json!({"invoice_id": invoice_id, "amount": "50.00", "paid_on": "2026-11-25", "method": "bank",
               "reference": "TRX-1"}),
    )
    .await;
    add(&PAYMENTS, &payment);

    // Invoice lines are made by invoicing; read the current state of everything back.
    let mut snapshot = store.snapshot().await.expect("snapshot");
    let mut records = Vec::new();
    for (spec, id) in created {
        records.push((spec, snapshot.get_record(a, spec, id).await.expect("read back")));
    }
    for line in snapshot
        .children(a, &koppel_domain::resources::INVOICE_LINES, RecordId(invoice_id))
        .await
        .expect("invoice lines")
    {
        records.push((&koppel_domain::resources::INVOICE_LINES, line));
    }
    snapshot.rollback().await.expect("end snapshot");
    EveryResource { records }
}
