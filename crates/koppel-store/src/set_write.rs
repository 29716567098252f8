//! Writing many settings records of one resource at once: the same checks and change tracking as
//! [`WriteTx::insert`], [`WriteTx::update`] and [`WriteTx::delete`], in a few statements per call
//! instead of several round trips per record.
//!
//! What the one-record path asks the database row by row is asked here for the whole set: the old
//! values of the rows to update in one `SELECT … WHERE id IN (…)`, whether the codes the rows refer to
//! exist in one query per referenced table, whether anything still uses the rows to delete in one
//! query per referring column. The rows are then written with multi-row `INSERT`, `UPDATE … FROM
//! (VALUES …)` and `DELETE … WHERE id IN (…)` statements, chunked under the bind-parameter limits of
//! both backends, every row stamped with the transaction's change position and time and every deleted
//! row leaving a tombstone, exactly as the one-record path does.
//!
//! Only settings resources are taken: they have no values Koppel derives on write, no writes that
//! follow one (a payment's invoice status), and no child records, so the set forms need none of that.

use crate::bulk::SQLITE_MAX_PARAMETERS;
use crate::records::{collect_missing_required, decode_record, sql};
use crate::sql::{TxInner, bind_value, on_tx};
use crate::{Result, StoreError, WriteTx, map_unique};
use koppel_domain::record::{Area, FieldError, FieldKind, ResourceSpec, Value};
use koppel_domain::settings::code_references;
use koppel_domain::{RecordId, resources, rules};
use sqlx::AssertSqlSafe;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// PostgreSQL's limit on the number of bind parameters of one statement (a 16-bit count).
pub const POSTGRES_MAX_PARAMETERS: usize = 65_535;
/// Rows per statement at most: enough that a thousand settings take a handful of statements, few
/// enough that no statement text grows large.
pub const SET_WRITE_MAX_ROWS: usize = 200;
/// Values in one `IN (…)` list at most (ids to delete, codes to look up).
const MAX_LIST: usize = SET_WRITE_MAX_ROWS;

/// Rows of `parameters_per_row` bind parameters (plus `shared` once) that fit in one statement.
pub fn rows_per_statement(max_parameters: usize, shared: usize, parameters_per_row: usize) -> usize {
    (max_parameters.saturating_sub(shared) / parameters_per_row.max(1)).clamp(1, SET_WRITE_MAX_ROWS)
}

impl WriteTx {
    /// Creates records of one settings resource (one value per spec field, in spec order), after the
    /// checks [`WriteTx::insert`] makes: required values, rules, and that every code a row refers to
    /// exists in this administration (rows of earlier calls in this transaction count).
    pub async fn insert_set(&mut self, spec: &ResourceSpec, rows: &[Vec<Value>]) -> Result<()> {
        set_writable(spec)?;
        if rows.is_empty() {
            return Ok(());
        }
        let mut errors = Vec::new();
        for values in rows {
            check_shape(spec, values)?;
            collect_missing_required(spec, values, &mut errors)?;
            errors.extend(rules::check(spec, None, values));
        }
        if !errors.is_empty() {
            return Err(StoreError::Invalid(dedup(errors)));
        }
        let references: Vec<&[Value]> = rows.iter().map(Vec::as_slice).collect();
        self.check_references_of_set(spec, &references).await?;
        let per_statement = rows_per_statement(self.max_parameters(), 3, spec.fields.len());
        for chunk in rows.chunks(per_statement) {
            self.insert_chunk(spec, chunk).await?;
        }
        Ok(())
    }

    /// Replaces the values of records of one settings resource (every field, in spec order), after
    /// the checks [`WriteTx::update`] makes. Rows whose values do not change are not written, so
    /// their change position and time stay as they were. A missing id is [`StoreError::NotFound`].
    pub async fn update_set(&mut self, spec: &ResourceSpec, rows: &[(RecordId, Vec<Value>)]) -> Result<()> {
        set_writable(spec)?;
        if rows.is_empty() {
            return Ok(());
        }
        let ids: Vec<RecordId> = rows.iter().map(|(id, _)| *id).collect();
        let old = self.records_by_id(spec, &ids).await?;
        let mut errors = Vec::new();
        let mut changed: Vec<(RecordId, &[Value])> = Vec::new();
        let mut new_references: Vec<Vec<Value>> = Vec::new();
        for (id, values) in rows {
            check_shape(spec, values)?;
            let old_values = old.get(id).ok_or(StoreError::NotFound)?;
            errors.extend(rules::check(spec, Some(old_values), values));
            if values == old_values {
                continue;
            }
            // Only references the update adds are checked, as for one record: one it keeps was
            // checked when it was written.
            let kept = code_references(spec, old_values);
            if code_references(spec, values).iter().any(|r| !kept.contains(r)) {
                new_references.push(values.clone());
            }
            changed.push((*id, values));
        }
        if !errors.is_empty() {
            return Err(StoreError::Invalid(dedup(errors)));
        }
        let references: Vec<&[Value]> = new_references.iter().map(Vec::as_slice).collect();
        self.check_references_of_set(spec, &references).await?;
        let per_statement = rows_per_statement(self.max_parameters(), 3, spec.fields.len() + 1);
        for chunk in changed.chunks(per_statement) {
            self.update_chunk(spec, chunk).await?;
        }
        Ok(())
    }

    /// Deletes records of one settings resource, leaving tombstones, unless something still uses one
    /// of them (as [`WriteTx::delete`] refuses). A missing id is [`StoreError::NotFound`].
    pub async fn delete_set(&mut self, spec: &ResourceSpec, ids: &[RecordId]) -> Result<()> {
        set_writable(spec)?;
        if ids.is_empty() {
            return Ok(());
        }
        let records = self.records_by_id(spec, ids).await?;
        if ids.iter().any(|id| !records.contains_key(id)) {
            return Err(StoreError::NotFound);
        }
        let unique: BTreeSet<RecordId> = ids.iter().copied().collect();
        let ids: Vec<RecordId> = unique.into_iter().collect();
        let codes: BTreeSet<String> = spec
            .field("code")
            .map(|(index, _)| {
                records
                    .values()
                    .filter_map(|values| values[index].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        self.check_set_not_referenced(spec, &ids, &codes).await?;
        let (administration, now, change_seq) = (self.administration, self.tx.now, self.change_seq);
        for chunk in ids.chunks(MAX_LIST) {
            let statement = format!(
                "DELETE FROM {} WHERE administration_id = $1 AND id IN ({})",
                spec.table,
                placeholders(2, chunk.len())
            );
            on_tx!(self.tx, conn => {
                let mut query = sqlx::query(AssertSqlSafe(statement)).persistent(false).bind(administration.0);
                for id in chunk {
                    query = query.bind(id.0);
                }
                query.execute(conn).await.map(|r| r.rows_affected())
            })
            .map_err(|error| map_unique(error, || unique_message(spec)))?;
            let statement = format!(
                "INSERT INTO tombstones (administration_id, resource, change_seq, deleted_at, record_id) VALUES {}",
                (0..chunk.len())
                    .map(|row| format!("($1, $2, $3, $4, ${})", row + 5))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            on_tx!(self.tx, conn => {
                let mut query = sqlx::query(AssertSqlSafe(statement))
                    .persistent(false)
                    .bind(administration.0)
                    .bind(spec.slug)
                    .bind(change_seq)
                    .bind(now);
                for id in chunk {
                    query = query.bind(id.0);
                }
                query.execute(conn).await.map(|r| r.rows_affected())
            })?;
        }
        Ok(())
    }

    fn max_parameters(&self) -> usize {
        match self.tx.inner {
            TxInner::Sqlite(_) => SQLITE_MAX_PARAMETERS,
            TxInner::Postgres(_) => POSTGRES_MAX_PARAMETERS,
        }
    }

    async fn insert_chunk(&mut self, spec: &ResourceSpec, rows: &[Vec<Value>]) -> Result<()> {
        let field_names: Vec<&str> = spec.fields.iter().map(|field| field.name).collect();
        let mut statement = format!(
            "INSERT INTO {} (administration_id, created_at, modified_at, change_seq, {}) VALUES ",
            spec.table,
            field_names.join(", ")
        );
        let mut parameter = 4;
        for row in 0..rows.len() {
            statement.push_str(if row == 0 {
                "($1, $2, $2, $3"
            } else {
                ", ($1, $2, $2, $3"
            });
            for _ in 0..field_names.len() {
                let _ = write!(statement, ", ${parameter}");
                parameter += 1;
            }
            statement.push(')');
        }
        let (administration, now, change_seq) = (self.administration, self.tx.now, self.change_seq);
        on_tx!(self.tx, conn => {
            let mut query = sqlx::query(AssertSqlSafe(statement))
                .persistent(false)
                .bind(administration.0)
                .bind(now)
                .bind(change_seq);
            for values in rows {
                for (field, value) in spec.fields.iter().zip(values) {
                    query = bind_value!(query, value, field.kind.storage());
                }
            }
            query.execute(conn).await.map(|r| r.rows_affected())
        })
        .map_err(|error| map_unique(error, || unique_message(spec)))?;
        Ok(())
    }

    /// One `UPDATE … FROM (VALUES (id, field, …), …)`. Both backends name the columns of a `VALUES`
    /// list `column1`, `column2`, …; the id is the first.
    async fn update_chunk(&mut self, spec: &ResourceSpec, rows: &[(RecordId, &[Value])]) -> Result<()> {
        let assignments: Vec<String> = spec
            .fields
            .iter()
            .enumerate()
            .map(|(index, field)| format!("{} = v.column{}", field.name, index + 2))
            .collect();
        let width = spec.fields.len() + 1;
        let tuples: Vec<String> = (0..rows.len())
            .map(|row| {
                let first = 4 + row * width;
                format!("({})", placeholders(first, width))
            })
            .collect();
        let statement = format!(
            "UPDATE {table} SET modified_at = $2, change_seq = $3, {assignments} \
             FROM (VALUES {tuples}) AS v WHERE {table}.administration_id = $1 AND {table}.id = v.column1",
            table = spec.table,
            assignments = assignments.join(", "),
            tuples = tuples.join(", ")
        );
        let (administration, now, change_seq) = (self.administration, self.tx.now, self.change_seq);
        let updated = on_tx!(self.tx, conn => {
            let mut query = sqlx::query(AssertSqlSafe(statement))
                .persistent(false)
                .bind(administration.0)
                .bind(now)
                .bind(change_seq);
            for (id, values) in rows {
                query = query.bind(id.0);
                for (field, value) in spec.fields.iter().zip(values.iter()) {
                    query = bind_value!(query, value, field.kind.storage());
                }
            }
            query.execute(conn).await.map(|r| r.rows_affected())
        })
        .map_err(|error| map_unique(error, || unique_message(spec)))?;
        if updated != rows.len() as u64 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// The current values of records of this administration by id; ids that do not exist are absent.
    async fn records_by_id(&mut self, spec: &ResourceSpec, ids: &[RecordId]) -> Result<BTreeMap<RecordId, Vec<Value>>> {
        let mut found = BTreeMap::new();
        let administration = self.administration;
        for chunk in ids.chunks(MAX_LIST) {
            let statement = format!(
                "SELECT {} FROM {} WHERE administration_id = $1 AND id IN ({})",
                sql(spec).columns,
                spec.table,
                placeholders(2, chunk.len())
            );
            let records = on_tx!(self.tx, conn => {
                let mut query = sqlx::query(AssertSqlSafe(statement)).persistent(false).bind(administration.0);
                for id in chunk {
                    query = query.bind(id.0);
                }
                let rows = query.fetch_all(conn).await?;
                rows.iter().map(|row| decode_record(row, spec)).collect::<Result<Vec<_>, _>>()?
            });
            found.extend(records.into_iter().map(|record| (record.id, record.values)));
        }
        Ok(found)
    }

    /// Every id and code the rows refer to must exist in this administration: one query per
    /// referenced table (and chunk of values) for the whole set.
    async fn check_references_of_set(&mut self, spec: &ResourceSpec, rows: &[&[Value]]) -> Result<()> {
        // Per referenced resource: the field that refers, what it refers to, by id (`true`) or code.
        let mut wanted: BTreeMap<(&'static str, bool), BTreeMap<String, &'static str>> = BTreeMap::new();
        for values in rows {
            for (field, value) in spec.fields.iter().zip(values.iter()) {
                if let (FieldKind::Ref(target), Value::Integer(id)) = (field.kind, value) {
                    wanted
                        .entry((target, true))
                        .or_default()
                        .entry(id.to_string())
                        .or_insert(field.name);
                }
            }
            for reference in code_references(spec, values) {
                wanted
                    .entry((reference.target, false))
                    .or_default()
                    .entry(reference.code)
                    .or_insert(reference.field);
            }
        }
        let mut errors = Vec::new();
        for ((target, by_id), references) in wanted {
            let target_spec = resources::by_slug(target)
                .ok_or_else(|| StoreError::Internal(format!("{} refers to an unknown resource {target}", spec.slug)))?;
            let keys: Vec<&String> = references.keys().collect();
            let mut existing: BTreeSet<String> = BTreeSet::new();
            for chunk in keys.chunks(MAX_LIST) {
                existing.extend(self.existing_keys(target_spec, by_id, chunk).await?);
            }
            for (key, field) in &references {
                if !existing.contains(key) {
                    errors.push(FieldError::new(
                        *field,
                        "not_found",
                        format!("{} {key} does not exist in this administration", target_spec.title),
                    ));
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(StoreError::Invalid(errors))
        }
    }

    /// Which of `keys` (ids when `by_id`, else codes) exist in the table, as text.
    async fn existing_keys(&mut self, spec: &ResourceSpec, by_id: bool, keys: &[&String]) -> Result<Vec<String>> {
        let column = if by_id { "id" } else { "code" };
        let statement = format!(
            "SELECT {column} FROM {} WHERE administration_id = $1 AND {column} IN ({})",
            spec.table,
            placeholders(2, keys.len())
        );
        let administration = self.administration;
        if by_id {
            let ids: Vec<i64> = keys.iter().filter_map(|key| key.parse().ok()).collect();
            let found: Vec<i64> = on_tx!(self.tx, conn => {
                let mut query = sqlx::query_scalar(AssertSqlSafe(statement)).persistent(false).bind(administration.0);
                for id in &ids {
                    query = query.bind(*id);
                }
                query.fetch_all(conn).await
            })?;
            Ok(found.into_iter().map(|id| id.to_string()).collect())
        } else {
            let found: Vec<String> = on_tx!(self.tx, conn => {
                let mut query = sqlx::query_scalar(AssertSqlSafe(statement)).persistent(false).bind(administration.0);
                for key in keys {
                    query = query.bind(key.as_str());
                }
                query.fetch_all(conn).await
            })?;
            Ok(found)
        }
    }

    /// Refuses to delete when any record refers to one of the set, by id or by code, directly or
    /// inside the structured fields of a settings item (a workflow's forms and work types).
    async fn check_set_not_referenced(
        &mut self,
        spec: &ResourceSpec,
        ids: &[RecordId],
        codes: &BTreeSet<String>,
    ) -> Result<()> {
        let codes: Vec<&String> = codes.iter().collect();
        let administration = self.administration;
        for other in resources::ALL {
            for field in other.fields {
                let by_id = match field.kind {
                    FieldKind::Ref(target) if target == spec.slug => true,
                    FieldKind::CodeRef(target) if target == spec.slug && !codes.is_empty() => false,
                    _ => continue,
                };
                let count = if by_id { ids.len() } else { codes.len() };
                for start in (0..count).step_by(MAX_LIST) {
                    let end = (start + MAX_LIST).min(count);
                    let statement = format!(
                        "SELECT 1 FROM {} WHERE administration_id = $1 AND {} IN ({}) LIMIT 1",
                        other.table,
                        field.name,
                        placeholders(2, end - start)
                    );
                    let found: Option<i32> = on_tx!(self.tx, conn => {
                        let mut query = sqlx::query_scalar(AssertSqlSafe(statement))
                            .persistent(false)
                            .bind(administration.0);
                        if by_id {
                            for id in &ids[start..end] {
                                query = query.bind(id.0);
                            }
                        } else {
                            for code in &codes[start..end] {
                                query = query.bind(code.as_str());
                            }
                        }
                        query.fetch_optional(conn).await
                    })?;
                    if found.is_some() {
                        return Err(still_used(spec, other));
                    }
                }
            }
        }
        if codes.is_empty() {
            return Ok(());
        }
        for other in resources::ALL.iter().filter(|s| s.area == Area::Settings) {
            if !other.fields.iter().any(|f| matches!(f.kind, FieldKind::Json(_))) {
                continue;
            }
            for candidate in self.tx.all_records(self.administration, other).await? {
                let refers = code_references(other, &candidate.values)
                    .iter()
                    .any(|r| r.target == spec.slug && codes.contains(&&r.code));
                if refers {
                    return Err(still_used(spec, other));
                }
            }
        }
        Ok(())
    }
}

/// The set forms take settings resources only (see the module).
fn set_writable(spec: &ResourceSpec) -> Result<()> {
    if spec.area != Area::Settings || resources::children_of(spec.slug).next().is_some() {
        return Err(StoreError::Internal(format!(
            "{} cannot be written as a set: only settings without child records can",
            spec.slug
        )));
    }
    Ok(())
}

fn check_shape(spec: &ResourceSpec, values: &[Value]) -> Result<()> {
    if values.len() == spec.fields.len() {
        Ok(())
    } else {
        Err(StoreError::Internal(format!(
            "a row of {} has {} values, the resource has {} fields",
            spec.slug,
            values.len(),
            spec.fields.len()
        )))
    }
}

/// The same error reported by several rows once.
fn dedup(errors: Vec<FieldError>) -> Vec<FieldError> {
    let mut seen = Vec::with_capacity(errors.len());
    for error in errors {
        if !seen.contains(&error) {
            seen.push(error);
        }
    }
    seen
}

/// `$first, $first+1, …` for `count` parameters.
fn placeholders(first: usize, count: usize) -> String {
    let mut text = String::with_capacity(count * 5);
    for n in 0..count {
        if n > 0 {
            text.push_str(", ");
        }
        let _ = write!(text, "${}", first + n);
    }
    text
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

fn unique_message(spec: &ResourceSpec) -> String {
    match spec.unique {
        Some(field) => format!("another {} with this {field} already exists", spec.title.to_lowercase()),
        None => format!("this {} already exists", spec.title.to_lowercase()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use koppel_domain::resources::{FORMS, WORK_ORDERS};

    #[test]
    fn statements_stay_under_both_parameter_limits() {
        for limit in [SQLITE_MAX_PARAMETERS, POSTGRES_MAX_PARAMETERS] {
            let rows = rows_per_statement(limit, 3, FORMS.fields.len() + 1);
            assert!(3 + rows * (FORMS.fields.len() + 1) <= limit);
            assert_eq!(rows, SET_WRITE_MAX_ROWS);
        }
        // A row too wide for the cap still fits: fewer rows per statement, never zero.
        assert_eq!(rows_per_statement(100, 3, 10), 9);
        assert_eq!(rows_per_statement(10, 3, 100), 1);
        assert_eq!(placeholders(4, 3), "$4, $5, $6");
    }

    #[test]
    fn only_settings_are_written_as_sets() {
        assert!(set_writable(&FORMS).is_ok());
        assert!(set_writable(&WORK_ORDERS).is_err());
    }
}
