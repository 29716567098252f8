//! Status changes of a work order that Koppel makes itself rather than a client: after its invoice
//! was handed to an accounting system, or when that system refused it. They go through the generic
//! records update, so the work order's rules, derived values and change tracking apply as for any
//! other write.

use crate::records::StoredRecord;
use crate::{Result, WriteTx};
use koppel_domain::RecordId;
use koppel_domain::record::Value;
use koppel_domain::resources::WORK_ORDERS;
use koppel_domain::work_order::WorkOrderStatus;

/// How much of a refusal's reason a work order keeps in `export_error`.
const EXPORT_ERROR_MAX_CHARS: usize = 2000;

impl WriteTx {
    /// Moves a work order to `status`. Any status but Exportfout clears its export error.
    pub async fn set_work_order_status(
        &mut self,
        work_order: RecordId,
        status: WorkOrderStatus,
    ) -> Result<StoredRecord> {
        let mut patch = vec![None; WORK_ORDERS.fields.len()];
        patch[WORK_ORDERS.field_index("status")] = Some(Value::Text(status.as_str().into()));
        self.update(&WORK_ORDERS, work_order, patch).await
    }

    /// Moves a work order to Exportfout with the reason its export was refused, so users see why.
    pub async fn set_work_order_export_error(&mut self, work_order: RecordId, reason: &str) -> Result<StoredRecord> {
        let mut patch = vec![None; WORK_ORDERS.fields.len()];
        patch[WORK_ORDERS.field_index("status")] = Some(Value::Text(WorkOrderStatus::Exportfout.as_str().into()));
        let reason: String = reason.chars().take(EXPORT_ERROR_MAX_CHARS).collect();
        patch[WORK_ORDERS.field_index("export_error")] = Some(Value::Text(reason));
        self.update(&WORK_ORDERS, work_order, patch).await
    }
}
