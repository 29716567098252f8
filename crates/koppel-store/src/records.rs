//! Daily-data and settings records: create, read, update, delete and list, for every resource spec.
//!
//! One body of code serves all resources. SQL is derived from the spec once and cached; only
//! identifiers from the spec are ever put into SQL text, values always travel as bind parameters.

use crate::sql::{bind_value, decode_value, on_pool, on_tx};
use crate::{Result, Store, StoreError, Tx, WriteTx, map_unique};
use chrono::{DateTime, Utc};
use koppel_domain::record::{Access, Area, FieldError, FieldKind, ResourceSpec, Value};
use koppel_domain::settings::code_references;
use koppel_domain::work_order::WorkOrderStatus;
use koppel_domain::{AdministrationId, RecordId, resources, rules};
use sqlx::{AssertSqlSafe, ColumnIndex, Decode, Row, Type};
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::OnceLock;

/// A record as stored: its system columns and one value per spec field, in spec order.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRecord {
    pub id: RecordId,
    pub administration: AdministrationId,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
    pub change_seq: i64,
    pub values: Vec<Value>,
}

impl StoredRecord {
    pub fn get(&self, spec: &ResourceSpec, field: &str) -> &Value {
        &self.values[spec.field_index(field)]
    }
}

/// What a list request asks for.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Keyset cursor: only records with a larger id.
    pub after: Option<i64>,
    pub limit: u32,
    pub modified_since: Option<DateTime<Utc>>,
    pub modified_before: Option<DateTime<Utc>>,
    /// Equality filters: field index in the spec and the value it must have.
    pub filters: Vec<(usize, Value)>,
}

/// One page of a list.
#[derive(Debug, Clone)]
pub struct Page {
    pub records: Vec<StoredRecord>,
    /// The cursor for the next page, when there is one.
    pub next_after: Option<i64>,
}

/// The SQL derived from one spec.
pub(crate) struct SpecSql {
    /// System columns then fields; decode with [`decode_record`].
    pub columns: String,
    pub select_one: String,
    pub insert: String,
    pub update: String,
    pub delete: String,
}

pub(crate) fn sql(spec: &ResourceSpec) -> &'static SpecSql {
    static CACHE: OnceLock<HashMap<&'static str, SpecSql>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| resources::ALL.iter().map(|spec| (spec.slug, build_sql(spec))).collect());
    &cache[spec.slug]
}

fn build_sql(spec: &ResourceSpec) -> SpecSql {
    let table = spec.table;
    let field_names: Vec<&str> = spec.fields.iter().map(|f| f.name).collect();
    let columns = format!(
        "id, administration_id, created_at, modified_at, change_seq, {}",
        field_names.join(", ")
    );
    let placeholders: Vec<String> = (0..field_names.len()).map(|i| format!("${}", i + 5)).collect();
    let assignments: Vec<String> = field_names
        .iter()
        .enumerate()
        .map(|(i, name)| format!("{name} = ${}", i + 5))
        .collect();
    SpecSql {
        select_one: format!("SELECT {columns} FROM {table} WHERE administration_id = $1 AND id = $2"),
        insert: format!(
            "INSERT INTO {table} (administration_id, created_at, modified_at, change_seq, {}) \
             VALUES ($1, $2, $3, $4, {}) RETURNING {columns}",
            field_names.join(", "),
            placeholders.join(", ")
        ),
        update: format!(
            "UPDATE {table} SET modified_at = $3, change_seq = $4, {} \
             WHERE administration_id = $1 AND id = $2 RETURNING {columns}",
            assignments.join(", ")
        ),
        delete: format!("DELETE FROM {table} WHERE administration_id = $1 AND id = $2"),
        columns,
    }
}

const SYSTEM_COLUMN_COUNT: usize = 5;

/// Reads a row selected with [`SpecSql::columns`].
pub(crate) fn decode_record<'r, R>(row: &'r R, spec: &ResourceSpec) -> Result<StoredRecord, sqlx::Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    DateTime<Utc>: Decode<'r, R::Database> + Type<R::Database>,
    Option<i64>: Decode<'r, R::Database> + Type<R::Database>,
    Option<String>: Decode<'r, R::Database> + Type<R::Database>,
    Option<bool>: Decode<'r, R::Database> + Type<R::Database>,
    Option<chrono::NaiveDate>: Decode<'r, R::Database> + Type<R::Database>,
    Option<DateTime<Utc>>: Decode<'r, R::Database> + Type<R::Database>,
{
    let mut values = Vec::with_capacity(spec.fields.len());
    for (index, field) in spec.fields.iter().enumerate() {
        values.push(decode_value(row, SYSTEM_COLUMN_COUNT + index, field.kind.storage())?);
    }
    Ok(StoredRecord {
        id: RecordId(row.try_get(0)?),
        administration: AdministrationId(row.try_get(1)?),
        created_at: row.try_get(2)?,
        modified_at: row.try_get(3)?,
        change_seq: row.try_get(4)?,
        values,
    })
}

fn static_sql(text: &str) -> AssertSqlSafe<String> {
    AssertSqlSafe(text.to_string())
}

impl Tx {
    /// Reads one record of an administration.
    pub async fn get_record(
        &mut self,
        administration: AdministrationId,
        spec: &ResourceSpec,
        id: RecordId,
    ) -> Result<StoredRecord> {
        let statement = &sql(spec).select_one;
        let row = on_tx!(self, conn => {
            let row = sqlx::query(static_sql(statement))
                .bind(administration.0)
                .bind(id.0)
                .fetch_optional(conn)
                .await?;
            row.map(|row| decode_record(&row, spec)).transpose()?
        });
        row.ok_or(StoreError::NotFound)
    }

    /// Whether a record with this id exists in the administration.
    pub(crate) async fn exists(&mut self, administration: AdministrationId, table: &str, id: i64) -> Result<bool> {
        let statement = format!("SELECT 1 FROM {table} WHERE administration_id = $1 AND id = $2");
        let found: Option<i32> = on_tx!(self, conn => sqlx::query_scalar(AssertSqlSafe(statement))
            .bind(administration.0)
            .bind(id)
            .fetch_optional(conn)
            .await)?;
        Ok(found.is_some())
    }

    /// Whether a record with this code exists in the administration.
    pub(crate) async fn code_exists(
        &mut self,
        administration: AdministrationId,
        table: &str,
        code: &str,
    ) -> Result<bool> {
        let statement = format!("SELECT 1 FROM {table} WHERE administration_id = $1 AND code = $2");
        let found: Option<i32> = on_tx!(self, conn => sqlx::query_scalar(AssertSqlSafe(statement))
            .bind(administration.0)
            .bind(code.to_string())
            .fetch_optional(conn)
            .await)?;
        Ok(found.is_some())
    }

    /// Every record of a resource in an administration (small settings tables only).
    pub async fn all_records(
        &mut self,
        administration: AdministrationId,
        spec: &ResourceSpec,
    ) -> Result<Vec<StoredRecord>> {
        let statement = format!(
            "SELECT {} FROM {} WHERE administration_id = $1 ORDER BY id",
            sql(spec).columns,
            spec.table
        );
        let records = on_tx!(self, conn => {
            let rows = sqlx::query(AssertSqlSafe(statement)).bind(administration.0).fetch_all(conn).await?;
            rows.iter().map(|row| decode_record(row, spec)).collect::<Result<Vec<_>, _>>()?
        });
        Ok(records)
    }
}

impl WriteTx {
    /// The record of `spec` with this code (or number), if any.
    pub async fn record_by_code(&mut self, spec: &ResourceSpec, code: &str) -> Result<Option<StoredRecord>> {
        let field = spec.unique.expect("resource has a unique code");
        let statement = format!(
            "SELECT {} FROM {} WHERE administration_id = $1 AND {field} = $2",
            sql(spec).columns,
            spec.table
        );
        let administration = self.administration;
        let record = on_tx!(self.tx, conn => {
            let row = sqlx::query(AssertSqlSafe(statement))
                .bind(administration.0)
                .bind(code)
                .fetch_optional(conn)
                .await?;
            row.map(|row| decode_record(&row, spec)).transpose()?
        });
        Ok(record)
    }

    /// Creates a record after checking rules and references.
    pub async fn insert(&mut self, spec: &ResourceSpec, mut values: Vec<Value>) -> Result<StoredRecord> {
        check_required(spec, &values)?;
        let errors = rules::check(spec, None, &values);
        if !errors.is_empty() {
            return Err(StoreError::Invalid(errors));
        }
        self.check_references(spec, None, &values).await?;
        self.apply_derived(spec, &mut values);
        let record = self.insert_unchecked(spec, &values).await?;
        self.after_write(spec, &record.values).await?;
        Ok(record)
    }

    /// Stores a record whose values Koppel computed itself (invoice lines), without client checks.
    pub(crate) async fn insert_unchecked(&mut self, spec: &ResourceSpec, values: &[Value]) -> Result<StoredRecord> {
        let statement = &sql(spec).insert;
        let (administration, now, change_seq) = (self.administration, self.tx.now, self.change_seq);
        on_tx!(self.tx, conn => {
            let mut query = sqlx::query(static_sql(statement))
                .bind(administration.0)
                .bind(now)
                .bind(now)
                .bind(change_seq);
            for (field, value) in spec.fields.iter().zip(values) {
                query = bind_value!(query, value, field.kind.storage());
            }
            match query.fetch_one(conn).await {
                Ok(row) => decode_record(&row, spec).map_err(StoreError::from),
                Err(error) => Err(map_unique(error, || unique_message(spec))),
            }
        })
    }

    /// Applies a partial update. An update that changes nothing writes nothing.
    pub async fn update(
        &mut self,
        spec: &ResourceSpec,
        id: RecordId,
        patch: Vec<Option<Value>>,
    ) -> Result<StoredRecord> {
        let old = self.tx.get_record(self.administration, spec, id).await?;
        let mut values: Vec<Value> = old
            .values
            .iter()
            .zip(patch)
            .map(|(old, new)| new.unwrap_or_else(|| old.clone()))
            .collect();
        let errors = rules::check(spec, Some(&old.values), &values);
        if !errors.is_empty() {
            return Err(StoreError::Invalid(errors));
        }
        self.check_references(spec, Some(&old.values), &values).await?;
        self.apply_derived(spec, &mut values);
        if values == old.values {
            return Ok(old);
        }
        let record = self.update_unchecked(spec, id, &values).await?;
        self.after_write(spec, &record.values).await?;
        Ok(record)
    }

    pub(crate) async fn update_unchecked(
        &mut self,
        spec: &ResourceSpec,
        id: RecordId,
        values: &[Value],
    ) -> Result<StoredRecord> {
        let statement = &sql(spec).update;
        let (administration, now, change_seq) = (self.administration, self.tx.now, self.change_seq);
        on_tx!(self.tx, conn => {
            let mut query = sqlx::query(static_sql(statement))
                .bind(administration.0)
                .bind(id.0)
                .bind(now)
                .bind(change_seq);
            for (field, value) in spec.fields.iter().zip(values) {
                query = bind_value!(query, value, field.kind.storage());
            }
            match query.fetch_optional(conn).await {
                Ok(Some(row)) => decode_record(&row, spec).map_err(StoreError::from),
                Ok(None) => Err(StoreError::NotFound),
                Err(error) => Err(map_unique(error, || unique_message(spec))),
            }
        })
    }

    /// Deletes a record and its child records, leaving tombstones for change tracking.
    /// A record that other records still refer to is not deleted.
    pub async fn delete(&mut self, spec: &ResourceSpec, id: RecordId) -> Result<()> {
        let record = self.tx.get_record(self.administration, spec, id).await?;
        self.check_not_referenced(spec, &record).await?;
        for child in resources::children_of(spec.slug) {
            self.check_children_not_referenced(child, id).await?;
        }
        for child in resources::children_of(spec.slug) {
            let parent_field = child.parent.expect("child has a parent").field;
            let statement = format!(
                "DELETE FROM {} WHERE administration_id = $1 AND {parent_field} = $2 RETURNING id",
                child.table
            );
            let administration = self.administration;
            let child_ids: Vec<i64> = on_tx!(self.tx, conn => sqlx::query_scalar(AssertSqlSafe(statement))
                .bind(administration.0)
                .bind(id.0)
                .fetch_all(conn)
                .await)
            .map_err(|e| map_unique(e, || unique_message(child)))?;
            for child_id in child_ids {
                self.tombstone(child, RecordId(child_id)).await?;
            }
        }
        let statement = &sql(spec).delete;
        let administration = self.administration;
        on_tx!(self.tx, conn => sqlx::query(static_sql(statement))
            .bind(administration.0)
            .bind(id.0)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| map_unique(e, || unique_message(spec)))?;
        self.tombstone(spec, id).await?;
        self.after_write(spec, &record.values).await?;
        Ok(())
    }

    async fn tombstone(&mut self, spec: &ResourceSpec, id: RecordId) -> Result<()> {
        let (administration, now, change_seq) = (self.administration, self.tx.now, self.change_seq);
        on_tx!(self.tx, conn => sqlx::query(
            "INSERT INTO tombstones (administration_id, resource, record_id, change_seq, deleted_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(administration.0)
        .bind(spec.slug)
        .bind(id.0)
        .bind(change_seq)
        .bind(now)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Every id and code a record refers to must exist in the same administration.
    pub(crate) async fn check_references(
        &mut self,
        spec: &ResourceSpec,
        old: Option<&[Value]>,
        values: &[Value],
    ) -> Result<()> {
        let mut errors = Vec::new();
        for (index, field) in spec.fields.iter().enumerate() {
            let unchanged = old.is_some_and(|old| old[index] == values[index]);
            if let (FieldKind::Ref(target), Value::Integer(id), false) = (field.kind, &values[index], unchanged) {
                let target_spec = resources::by_slug(target).expect("known target");
                if !self.tx.exists(self.administration, target_spec.table, *id).await? {
                    errors.push(koppel_domain::record::FieldError::new(
                        field.name,
                        "not_found",
                        format!("{} {id} does not exist in this administration", target_spec.title),
                    ));
                }
            }
        }
        let old_references = old.map(|old| code_references(spec, old)).unwrap_or_default();
        for reference in code_references(spec, values) {
            if old_references.contains(&reference) {
                continue;
            }
            let target_spec = resources::by_slug(reference.target).expect("known target");
            if !self
                .tx
                .code_exists(self.administration, target_spec.table, &reference.code)
                .await?
            {
                errors.push(koppel_domain::record::FieldError::new(
                    reference.field,
                    "not_found",
                    format!(
                        "{} {} does not exist in this administration",
                        target_spec.title, reference.code
                    ),
                ));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(StoreError::Invalid(errors))
        }
    }

    /// Refuses to delete a parent whose children (which would be deleted with it) are referred to from
    /// elsewhere, such as an address that an object of another relation uses.
    async fn check_children_not_referenced(&mut self, child: &ResourceSpec, parent: RecordId) -> Result<()> {
        let parent_field = child.parent.expect("child has a parent").field;
        for other in resources::ALL {
            for field in other.fields {
                if field.kind != FieldKind::Ref(child.slug) {
                    continue;
                }
                let statement = format!(
                    "SELECT 1 FROM {} WHERE administration_id = $1 AND {} IN \
                     (SELECT id FROM {} WHERE administration_id = $1 AND {parent_field} = $2) LIMIT 1",
                    other.table, field.name, child.table
                );
                let administration = self.administration;
                let found: Option<i32> = on_tx!(self.tx, conn => sqlx::query_scalar(AssertSqlSafe(statement))
                    .bind(administration.0)
                    .bind(parent.0)
                    .fetch_optional(conn)
                    .await)?;
                if found.is_some() {
                    return Err(still_used(child, other));
                }
            }
        }
        Ok(())
    }

    /// Refuses to delete a record that a record other than its own children refers to.
    async fn check_not_referenced(&mut self, spec: &ResourceSpec, record: &StoredRecord) -> Result<()> {
        let code = spec
            .field("code")
            .filter(|_| spec.area == Area::Settings)
            .and_then(|(index, _)| record.values[index].as_str().map(str::to_string));
        for other in resources::ALL {
            for field in other.fields {
                let is_own_child = other
                    .parent
                    .is_some_and(|p| p.field == field.name && p.resource == spec.slug);
                let probe = match (field.kind, &code) {
                    (FieldKind::Ref(target), _) if target == spec.slug && !is_own_child => Value::Integer(record.id.0),
                    (FieldKind::CodeRef(target), Some(code)) if target == spec.slug => Value::Text(code.clone()),
                    _ => continue,
                };
                let statement = format!(
                    "SELECT 1 FROM {} WHERE administration_id = $1 AND {} = $2 LIMIT 1",
                    other.table, field.name
                );
                let administration = self.administration;
                let found: Option<i32> = on_tx!(self.tx, conn => {
                    let query = sqlx::query_scalar(AssertSqlSafe(statement)).bind(administration.0);
                    bind_value!(query, &probe, field.kind.storage()).fetch_optional(conn).await
                })?;
                if found.is_some() {
                    return Err(still_used(spec, other));
                }
            }
        }
        // Settings that list this item inside structured fields (a workflow's forms and work types).
        if let Some(code) = code {
            for other in resources::ALL.iter().filter(|s| s.area == Area::Settings) {
                if !other.fields.iter().any(|f| matches!(f.kind, FieldKind::Json(_))) {
                    continue;
                }
                for candidate in self.tx.all_records(self.administration, other).await? {
                    let refers = code_references(other, &candidate.values)
                        .iter()
                        .any(|r| r.target == spec.slug && r.code == code);
                    if refers {
                        return Err(still_used(spec, other));
                    }
                }
            }
        }
        Ok(())
    }

    /// Values Koppel keeps itself: when a work order was completed, and clearing an export error.
    ///
    /// `completed_at` is set when a work order first becomes Compleet and kept through Afgehandeld and
    /// Exportfout (leaving an export error by reopening does not make the field work newer). Handing
    /// the order back to the field (Opgehaald, Klaargezet) clears it: the order is no longer complete.
    pub(crate) fn apply_derived(&self, spec: &ResourceSpec, values: &mut [Value]) {
        if spec.slug != "work-orders" {
            return;
        }
        let status = values[spec.field_index("status")]
            .as_str()
            .and_then(WorkOrderStatus::parse);
        let completed_at = spec.field_index("completed_at");
        match status {
            Some(WorkOrderStatus::Klaargezet | WorkOrderStatus::Opgehaald) => values[completed_at] = Value::Null,
            Some(_) if values[completed_at].is_null() => values[completed_at] = Value::Timestamp(self.tx.now),
            _ => {}
        }
        if status != Some(WorkOrderStatus::Exportfout) {
            values[spec.field_index("export_error")] = Value::Null;
        }
    }

    pub(crate) async fn after_write(&mut self, spec: &ResourceSpec, values: &[Value]) -> Result<()> {
        if spec.slug == "payments"
            && let Some(invoice) = values[spec.field_index("invoice_id")].as_i64()
        {
            self.refresh_payment_status(RecordId(invoice)).await?;
        }
        Ok(())
    }
}

/// Refuses a create that lacks a required value. Required fields Koppel maintains itself (an invoice's
/// number and totals) mean the resource is made by Koppel, not created directly.
pub(crate) fn check_required(spec: &ResourceSpec, values: &[Value]) -> Result<()> {
    let mut errors = Vec::new();
    collect_missing_required(spec, values, &mut errors)?;
    if errors.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Invalid(errors))
    }
}

/// [`check_required`] for one row of many: adds a field error per missing value to `errors`, and
/// refuses at once a resource Koppel makes itself.
pub(crate) fn collect_missing_required(
    spec: &ResourceSpec,
    values: &[Value],
    errors: &mut Vec<FieldError>,
) -> Result<()> {
    let missing = spec
        .fields
        .iter()
        .zip(values)
        .filter(|(field, value)| field.required && value.is_null());
    for (field, _) in missing {
        if field.access == Access::System {
            return Err(StoreError::conflict(
                "not_creatable",
                format!(
                    "a {} is made by Koppel and cannot be created directly",
                    spec.title.to_lowercase()
                ),
            ));
        }
        errors.push(FieldError::new(
            field.name,
            "required",
            format!("{} is required", field.name),
        ));
    }
    Ok(())
}

fn still_used(spec: &ResourceSpec, by: &ResourceSpec) -> StoreError {
    StoreError::conflict(
        "still_referenced",
        format!(
            "this {} is still used by one or more records of type {}",
            spec.title.to_lowercase(),
            by.title.to_lowercase()
        ),
    )
}

pub(crate) fn unique_message(spec: &ResourceSpec) -> String {
    match spec.unique {
        Some(field) => format!("another {} with this {field} already exists", spec.title.to_lowercase()),
        None => format!("this {} already exists", spec.title.to_lowercase()),
    }
}

impl Store {
    pub async fn get_record(
        &self,
        administration: AdministrationId,
        spec: &ResourceSpec,
        id: RecordId,
    ) -> Result<StoredRecord> {
        let statement = &sql(spec).select_one;
        let row = on_pool!(self.pool(), pool => {
            let row = sqlx::query(static_sql(statement)).bind(administration.0).bind(id.0).fetch_optional(pool).await?;
            row.map(|row| decode_record(&row, spec)).transpose()?
        });
        row.ok_or(StoreError::NotFound)
    }

    pub async fn create_record(
        &self,
        administration: AdministrationId,
        spec: &ResourceSpec,
        values: Vec<Value>,
    ) -> Result<StoredRecord> {
        let mut tx = self.write(administration).await?;
        let record = tx.insert(spec, values).await?;
        tx.commit().await?;
        Ok(record)
    }

    pub async fn update_record(
        &self,
        administration: AdministrationId,
        spec: &ResourceSpec,
        id: RecordId,
        patch: Vec<Option<Value>>,
    ) -> Result<StoredRecord> {
        let mut tx = self.write(administration).await?;
        let record = tx.update(spec, id, patch).await?;
        tx.commit().await?;
        Ok(record)
    }

    pub async fn delete_record(
        &self,
        administration: AdministrationId,
        spec: &ResourceSpec,
        id: RecordId,
    ) -> Result<()> {
        let mut tx = self.write(administration).await?;
        tx.delete(spec, id).await?;
        tx.commit().await
    }

    /// One page of records in id order, with optional filters.
    pub async fn list_records(
        &self,
        administration: AdministrationId,
        spec: &ResourceSpec,
        query: &ListQuery,
    ) -> Result<Page> {
        let mut statement = format!(
            "SELECT {} FROM {} WHERE administration_id = $1 AND id > $2",
            sql(spec).columns,
            spec.table
        );
        let mut parameter = 3;
        if query.modified_since.is_some() {
            let _ = write!(statement, " AND modified_at >= ${parameter}");
            parameter += 1;
        }
        if query.modified_before.is_some() {
            let _ = write!(statement, " AND modified_at < ${parameter}");
            parameter += 1;
        }
        for (index, _) in &query.filters {
            let _ = write!(statement, " AND {} = ${parameter}", spec.fields[*index].name);
            parameter += 1;
        }
        let _ = write!(statement, " ORDER BY id LIMIT ${parameter}");
        let limit = query.limit.max(1);
        let mut records = on_pool!(self.pool(), pool => {
            let mut sql_query = sqlx::query(AssertSqlSafe(statement)).bind(administration.0).bind(query.after.unwrap_or(0));
            if let Some(since) = query.modified_since {
                sql_query = sql_query.bind(since);
            }
            if let Some(before) = query.modified_before {
                sql_query = sql_query.bind(before);
            }
            for (index, value) in &query.filters {
                sql_query = bind_value!(sql_query, value, spec.fields[*index].kind.storage());
            }
            let rows = sql_query.bind(i64::from(limit) + 1).fetch_all(pool).await?;
            rows.iter().map(|row| decode_record(row, spec)).collect::<Result<Vec<_>, _>>()?
        });
        let next_after = if records.len() > limit as usize {
            records.truncate(limit as usize);
            records.last().map(|r| r.id.0)
        } else {
            None
        };
        Ok(Page { records, next_after })
    }
}
