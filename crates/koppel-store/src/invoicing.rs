//! Invoices from completed work orders, and payment status kept in step with payments.

use crate::records::{StoredRecord, decode_record, sql};
use crate::sql::on_tx;
use crate::{Result, Store, StoreError, Tx, WriteTx};
use chrono::Datelike;
use koppel_domain::invoice::{self, BillableLine, LineKind, PaymentStatus};
use koppel_domain::record::{FieldError, ResourceSpec, Value};
use koppel_domain::resources::{
    INVOICE_LINES, INVOICES, MATERIALS, PAYMENTS, WORK_ORDER_HOURS, WORK_ORDER_MATERIALS, WORK_ORDERS,
};
use koppel_domain::work_order::WorkOrderStatus;
use koppel_domain::{AdministrationId, Money, Quantity, RecordId, VatRate};
use sqlx::AssertSqlSafe;

/// How long a customer has to pay, unless the request says otherwise.
pub const DEFAULT_PAYMENT_TERM_DAYS: i64 = 30;

impl Tx {
    /// The child records of one parent (lines of a work order or an invoice), in id order.
    pub async fn children(
        &mut self,
        administration: AdministrationId,
        spec: &ResourceSpec,
        parent: RecordId,
    ) -> Result<Vec<StoredRecord>> {
        let parent_field = spec.parent.expect("resource has a parent").field;
        let statement = format!(
            "SELECT {} FROM {} WHERE administration_id = $1 AND {parent_field} = $2 ORDER BY id",
            sql(spec).columns,
            spec.table
        );
        let records = on_tx!(self, conn => {
            let rows = sqlx::query(AssertSqlSafe(statement)).bind(administration.0).bind(parent.0).fetch_all(conn).await?;
            rows.iter().map(|row| decode_record(row, spec)).collect::<Result<Vec<_>, _>>()?
        });
        Ok(records)
    }
}

impl WriteTx {
    /// The next number of a named sequence in this administration (1, 2, 3, …).
    pub async fn next_number(&mut self, name: &str) -> Result<i64> {
        let administration = self.administration;
        let number: i64 = on_tx!(self.tx, conn => sqlx::query_scalar(
            "INSERT INTO number_sequences (administration_id, name, next_value) VALUES ($1, $2, 2) \
             ON CONFLICT (administration_id, name) DO UPDATE SET next_value = number_sequences.next_value + 1 \
             RETURNING next_value - 1",
        )
        .bind(administration.0)
        .bind(name.to_string())
        .fetch_one(conn)
        .await)?;
        Ok(number)
    }

    /// Makes the invoice of a completed work order: hours × rate, materials × price, VAT per line.
    /// A work order is invoiced at most once.
    pub async fn invoice_work_order(&mut self, work_order: RecordId, payment_term_days: i64) -> Result<StoredRecord> {
        let administration = self.administration;
        let order = self.tx.get_record(administration, &WORK_ORDERS, work_order).await?;
        let status = order
            .get(&WORK_ORDERS, "status")
            .as_str()
            .and_then(WorkOrderStatus::parse);
        if status != Some(WorkOrderStatus::Compleet) {
            return Err(StoreError::conflict(
                "not_complete",
                "only a work order with status Compleet can be invoiced",
            ));
        }
        let existing: Option<i64> = on_tx!(self.tx, conn => sqlx::query_scalar(
            "SELECT id FROM invoices WHERE administration_id = $1 AND work_order_id = $2",
        )
        .bind(administration.0)
        .bind(work_order.0)
        .fetch_optional(conn)
        .await)?;
        if let Some(existing) = existing {
            return Err(StoreError::conflict(
                "already_invoiced",
                format!("this work order was already invoiced (invoice {existing})"),
            ));
        }

        let mut lines = Vec::new();
        for hour in self.tx.children(administration, &WORK_ORDER_HOURS, work_order).await? {
            let field = |name| hour.get(&WORK_ORDER_HOURS, name);
            let description = field("description")
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| format!("Arbeid {}", field("hour_type_code").as_str().unwrap_or_default()));
            lines.push(BillableLine {
                kind: LineKind::Hours,
                description,
                quantity: quantity(field("hours")),
                unit_price: money(field("rate")),
                vat_rate: vat(field("vat_rate")),
            });
        }
        for material_line in self
            .tx
            .children(administration, &WORK_ORDER_MATERIALS, work_order)
            .await?
        {
            let field = |name| material_line.get(&WORK_ORDER_MATERIALS, name);
            let description = match field("description").as_str() {
                Some(text) => text.to_string(),
                None => {
                    let material_id = RecordId(field("material_id").as_i64().unwrap_or_default());
                    let material = self.tx.get_record(administration, &MATERIALS, material_id).await?;
                    material
                        .get(&MATERIALS, "description")
                        .as_str()
                        .unwrap_or_default()
                        .to_string()
                }
            };
            lines.push(BillableLine {
                kind: LineKind::Material,
                description,
                quantity: quantity(field("quantity")),
                unit_price: money(field("price")),
                vat_rate: vat(field("vat_rate")),
            });
        }
        // Amounts that would leave the money range refuse the invoice; nothing is written.
        let draft = invoice::draft(lines).map_err(|error| {
            StoreError::Invalid(vec![FieldError::new(error.field(), "out_of_range", error.to_string())])
        })?;

        let today = self.tx.now.date_naive();
        let sequence = self.next_number(&format!("invoice-{}", today.year())).await?;
        let number = format!("{}-{sequence:05}", today.year());
        let mut values = vec![Value::Null; INVOICES.fields.len()];
        let mut set = |name: &str, value: Value| values[INVOICES.field_index(name)] = value;
        set("number", Value::Text(number));
        set("relation_id", order.get(&WORK_ORDERS, "relation_id").clone());
        set("work_order_id", Value::Integer(work_order.0));
        set("invoice_date", Value::Date(today));
        set(
            "due_date",
            Value::Date(today + chrono::Duration::days(payment_term_days)),
        );
        set("description", order.get(&WORK_ORDERS, "description").clone());
        set("total_excl_vat", Value::Integer(draft.total_excl_vat.cents()));
        set("total_vat", Value::Integer(draft.total_vat.cents()));
        set("total_incl_vat", Value::Integer(draft.total_incl_vat.cents()));
        set("paid_amount", Value::Integer(0));
        set(
            "payment_status",
            Value::Text(PaymentStatus::of(draft.total_incl_vat, Money::ZERO).as_str().into()),
        );
        let invoice = self.insert_unchecked(&INVOICES, &values).await?;

        for line in draft.lines {
            let mut values = vec![Value::Null; INVOICE_LINES.fields.len()];
            let mut set = |name: &str, value: Value| values[INVOICE_LINES.field_index(name)] = value;
            set("invoice_id", Value::Integer(invoice.id.0));
            set("line_no", Value::Integer(line.line_no));
            set("kind", Value::Text(line.source.kind.as_str().into()));
            set("description", Value::Text(line.source.description));
            set("quantity", Value::Integer(line.source.quantity.thousandths()));
            set("unit_price", Value::Integer(line.source.unit_price.cents()));
            set("vat_rate", Value::Text(line.source.vat_rate.as_str().into()));
            set("amount_excl_vat", Value::Integer(line.amount_excl_vat.cents()));
            set("vat_amount", Value::Integer(line.vat_amount.cents()));
            self.insert_unchecked(&INVOICE_LINES, &values).await?;
        }
        Ok(invoice)
    }

    /// Recomputes an invoice's paid amount and payment status from its payments.
    pub(crate) async fn refresh_payment_status(&mut self, invoice_id: RecordId) -> Result<()> {
        let administration = self.administration;
        let invoice = self.tx.get_record(administration, &INVOICES, invoice_id).await?;
        let payments = self.tx.children(administration, &PAYMENTS, invoice_id).await?;
        let paid = Money::checked_sum(payments.iter().map(|payment| money(payment.get(&PAYMENTS, "amount")))).map_err(
            |error| {
                StoreError::invalid(
                    "amount",
                    "out_of_range",
                    format!("the payments of this invoice: {error}"),
                )
            },
        )?;
        let total = money(invoice.get(&INVOICES, "total_incl_vat"));
        let mut values = invoice.values.clone();
        values[INVOICES.field_index("paid_amount")] = Value::Integer(paid.cents());
        values[INVOICES.field_index("payment_status")] = Value::Text(PaymentStatus::of(total, paid).as_str().into());
        if values != invoice.values {
            self.update_unchecked(&INVOICES, invoice_id, &values).await?;
        }
        Ok(())
    }
}

impl Store {
    /// Invoices a completed work order in its own transaction.
    pub async fn invoice_work_order(
        &self,
        administration: AdministrationId,
        work_order: RecordId,
        payment_term_days: i64,
    ) -> Result<StoredRecord> {
        let mut tx = self.write(administration).await?;
        let invoice = tx.invoice_work_order(work_order, payment_term_days).await?;
        tx.commit().await?;
        Ok(invoice)
    }
}

fn money(value: &Value) -> Money {
    Money::from_cents(value.as_i64().unwrap_or_default())
}

fn quantity(value: &Value) -> Quantity {
    Quantity::from_thousandths(value.as_i64().unwrap_or_default())
}

fn vat(value: &Value) -> VatRate {
    value.as_str().and_then(VatRate::parse).unwrap_or(VatRate::High)
}
