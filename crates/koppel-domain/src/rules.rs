//! Rules that span fields of one record, checked on every create and update.

use crate::record::{FieldError, ResourceSpec, Value};
use crate::work_order::WorkOrderStatus;

/// Checks a record as it would be stored. `old` is the stored version on update.
pub fn check(spec: &ResourceSpec, old: Option<&[Value]>, new: &[Value]) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let get = |values: &[Value], name: &str| values[spec.field_index(name)].clone();
    match spec.slug {
        "work-orders" => {
            let next = get(new, "status").as_str().and_then(WorkOrderStatus::parse);
            let previous = old.and_then(|old| get(old, "status").as_str().and_then(WorkOrderStatus::parse));
            match (previous, next) {
                (Some(previous), Some(next)) if !previous.can_become(next) => errors.push(FieldError::new(
                    "status",
                    "invalid_transition",
                    format!("a work order cannot go from {} to {}", previous.as_str(), next.as_str()),
                )),
                (None, Some(next)) if !next.can_start_in() => errors.push(FieldError::new(
                    "status",
                    "invalid_transition",
                    format!("a new work order cannot start as {}", next.as_str()),
                )),
                _ => {}
            }
        }
        "projects" => date_order(&mut errors, get(new, "start_date"), get(new, "end_date"), "end_date"),
        "quotes" => date_order(
            &mut errors,
            get(new, "quote_date"),
            get(new, "valid_until"),
            "valid_until",
        ),
        _ => {}
    }
    errors
}

fn date_order(errors: &mut Vec<FieldError>, first: Value, last: Value, field: &str) {
    if let (Some(first), Some(last)) = (first.as_date(), last.as_date())
        && last < first
    {
        errors.push(FieldError::new(
            field,
            "invalid",
            format!("{field} may not be before the start"),
        ));
    }
}
