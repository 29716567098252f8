//! The demo's AccountView story: work orders completed "just now" in a branch that was connected to
//! AccountView and imported its debtors, ready for the first export. Most are for customers that
//! came from AccountView; one is for a customer that only exists in Koppel, so AccountView refuses
//! that invoice with its own message and the branch shows an export error next to the exports that
//! went through.
//!
//! Everything is written through the same checked paths as the rest of the demo data; nothing here
//! knows AccountView (the binary connects the branch and runs the import and the export).

use crate::catalogue::Catalogue;
use crate::group::{BRANCHES, relation_code};
use crate::vocabulary::INSTALLATIONS;
use crate::{DemoError, create};
use koppel_domain::RecordId;
use koppel_domain::record::Value;
use koppel_domain::resources::{EMPLOYEES, RELATIONS, WORK_ORDER_HOURS, WORK_ORDERS};
use koppel_domain::work_order::WorkOrderStatus;
use koppel_store::Store;
use koppel_store::platform::Administration;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

/// Work orders for customers that came from AccountView.
const FROM_ACCOUNTVIEW: usize = 3;

/// What [`completed_work_orders`] made.
#[derive(Debug, Clone)]
pub struct StoryOrders {
    /// For customers AccountView knows: their invoices go through.
    pub known_customers: Vec<RecordId>,
    /// For a customer only Koppel knows: AccountView refuses its invoice.
    pub unknown_customer: RecordId,
    /// That customer's code (AccountView's debtor number it would need).
    pub unknown_customer_code: String,
}

/// Creates the story's completed work orders in `administration`, one of the demo's branches, after
/// its AccountView import brought AccountView's debtors in as relations.
pub async fn completed_work_orders(store: &Store, administration: &Administration) -> Result<StoryOrders, DemoError> {
    let branch = BRANCHES
        .iter()
        .find(|branch| branch.name == administration.name)
        .ok_or_else(|| DemoError::Story(format!("{} is not one of the demo's branches", administration.name)))?;
    let own_codes: BTreeSet<String> = (0..branch.relations).map(relation_code).collect();
    let mut tx = store.write(administration.id).await?;
    let relations = tx.tx().all_records(administration.id, &RELATIONS).await?;
    let employees = tx.tx().all_records(administration.id, &EMPLOYEES).await?;
    let orders = tx.tx().all_records(administration.id, &WORK_ORDERS).await?;
    let code_of = |record: &koppel_store::records::StoredRecord| {
        record.get(&RELATIONS, "code").as_str().unwrap_or_default().to_string()
    };
    let usable =
        |record: &&koppel_store::records::StoredRecord| record.get(&RELATIONS, "blocked") != &Value::Bool(true);
    let imported: Vec<RecordId> = relations
        .iter()
        .filter(usable)
        .filter(|record| !own_codes.contains(&code_of(record)))
        .take(FROM_ACCOUNTVIEW)
        .map(|record| record.id)
        .collect();
    if imported.is_empty() {
        return Err(DemoError::Story(
            "the AccountView import brought no debtors into the branch".into(),
        ));
    }
    let own = relations
        .iter()
        .filter(usable)
        .find(|record| own_codes.contains(&code_of(record)))
        .ok_or_else(|| DemoError::Story("the branch has none of the demo's own relations".into()))?;
    let employee = employees
        .iter()
        .find(|record| record.get(&EMPLOYEES, "active") == &Value::Bool(true))
        .map(|record| record.id)
        .ok_or_else(|| DemoError::Story("the branch has no active employee".into()))?;
    let hour_type = Catalogue::for_drift(branch.drift)
        .billable_hour_types()
        .into_iter()
        .next()
        .ok_or_else(|| DemoError::Story("the branch has no billable hour type".into()))?;
    // Numbers go on after the branch's highest `WB-nnnnnn`.
    let mut number = orders
        .iter()
        .filter_map(|record| {
            record
                .get(&WORK_ORDERS, "number")
                .as_str()
                .and_then(|text| text.strip_prefix("WB-"))
                .and_then(|digits| digits.parse::<u64>().ok())
        })
        .max()
        .unwrap_or(0);
    let today = tx.now().date_naive().format("%Y-%m-%d").to_string();
    let mut counts = BTreeMap::new();
    let mut made = Vec::new();
    for (index, relation) in imported.iter().chain(std::iter::once(&own.id)).enumerate() {
        number += 1;
        let installation = &INSTALLATIONS[index % INSTALLATIONS.len()];
        let order = create(
            &mut tx,
            &mut counts,
            &WORK_ORDERS,
            json!({
                "number": format!("WB-{number:06}"),
                "relation_id": relation.0,
                "employee_id": employee.0,
                "description": installation.work[0],
                "status": WorkOrderStatus::Compleet.as_str(),
                "planned_date": today,
            }),
        )
        .await?;
        create(
            &mut tx,
            &mut counts,
            &WORK_ORDER_HOURS,
            json!({
                "work_order_id": order.id.0,
                "employee_id": employee.0,
                "hour_type_code": hour_type.code,
                "work_date": today,
                "hours": format!("{}.5", 1 + index),
                "rate": koppel_domain::Money::from_cents(hour_type.rate_cents).to_string(),
                "vat_rate": hour_type.vat,
            }),
        )
        .await?;
        made.push(order.id);
    }
    tx.commit().await?;
    let unknown_customer = made.pop().expect("the story made the own customer's work order last");
    Ok(StoryOrders {
        known_customers: made,
        unknown_customer,
        unknown_customer_code: code_of(own),
    })
}
