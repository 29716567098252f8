//! Many records written by their unique code at once: the set form of [`WriteTx::record_by_code`]
//! followed by [`WriteTx::insert`] or [`WriteTx::update`], for callers that bring in a whole list of
//! records from elsewhere and would otherwise pay a round trip or two per row.
//!
//! [`WriteTx::records_by_codes`] reads the stored records of a set of codes in a few statements;
//! [`WriteTx::upsert_by_code`] then decides per row, in memory and exactly as `insert` and `update`
//! would, whether it is new, changed or unchanged (with the same checks: required fields, rules,
//! references, derived values), and writes the new and changed ones with multi-row
//! `INSERT … ON CONFLICT (administration_id, code) DO UPDATE` statements. Unchanged rows are not
//! written, so their `change_seq` and `modified_at` stay; written rows are stamped with the
//! transaction's change position and time, like every other write, so change tracking and Data Sync
//! see them. Everything happens inside the caller's [`WriteTx`]: nothing is half-written.
//!
//! Statements stay under both backends' bind-parameter limits (SQLite's is the smaller), and are
//! kept to a few hundred rows, where the per-statement work is already small. On SQLite the write
//! uses plain `?` placeholders, every row binding the shared values again: sqlx looks up the name of
//! every numbered (`$n`) parameter of a statement when it binds, and SQLite finds a name by walking
//! the statement's list of them, so numbered parameters cost time quadratic in their count.

use crate::records::{StoredRecord, check_required, decode_record, sql, unique_message};
use crate::sql::{TxInner, bind_value, on_tx};
use crate::{Result, StoreError, WriteTx, map_unique};
use koppel_domain::record::{ResourceSpec, Value};
use koppel_domain::rules;
use sqlx::AssertSqlSafe;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt::Write;

/// Bind parameters one statement may carry on both backends: SQLite's `SQLITE_MAX_VARIABLE_NUMBER`
/// (PostgreSQL allows 65,535).
pub const MAX_PARAMETERS: usize = 32_766;
/// Rows per statement at most, below the parameter limit.
const MAX_ROWS_PER_STATEMENT: usize = 500;

/// What [`WriteTx::upsert_by_code`] did with one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    /// No record had the code: one was created.
    Created,
    /// The record with the code had other values: it was updated.
    Updated,
    /// The record with the code already had these values: nothing was written.
    Unchanged,
}

/// Rows of `fields` parameters each (after `shared` ones) that fit in one statement.
pub(crate) fn rows_per_statement(shared: usize, fields: usize) -> usize {
    MAX_ROWS_PER_STATEMENT
        .min((MAX_PARAMETERS - shared) / fields.max(1))
        .max(1)
}

fn unique_field(spec: &ResourceSpec) -> Result<&'static str> {
    spec.unique
        .ok_or_else(|| StoreError::Internal(format!("{} has no unique code to write records by", spec.slug)))
}

impl WriteTx {
    /// The stored records of `spec` whose unique code (or number) is one of `codes`, by code. Codes
    /// without a record are absent; a code may be given more than once.
    pub async fn records_by_codes(
        &mut self,
        spec: &ResourceSpec,
        codes: &[String],
    ) -> Result<HashMap<String, StoredRecord>> {
        let field = unique_field(spec)?;
        let unique_index = spec.field_index(field);
        let mut distinct: Vec<&str> = codes.iter().map(String::as_str).collect();
        distinct.sort_unstable();
        distinct.dedup();
        let mut found = HashMap::with_capacity(distinct.len());
        let placeholders = Placeholders::of(self);
        for chunk in distinct.chunks(rows_per_statement(1, 1)) {
            let statement = select_statement(spec, field, placeholders, chunk.len());
            let administration = self.administration;
            let records = on_tx!(self.tx, conn => {
                let mut query = sqlx::query(AssertSqlSafe(statement)).bind(administration.0);
                for code in chunk {
                    query = query.bind(*code);
                }
                let rows = query.fetch_all(conn).await?;
                rows.iter().map(|row| decode_record(row, spec)).collect::<Result<Vec<_>, _>>()?
            });
            for record in records {
                if let Some(code) = record.values[unique_index].as_str() {
                    found.insert(code.to_string(), record);
                }
            }
        }
        Ok(found)
    }

    /// Creates or updates one record per row, found by its unique code: a row is the record's values in
    /// spec order, the code always given; for an existing record a `None` keeps the stored value (as
    /// in [`WriteTx::update`]), for a new one it is empty. `stored` holds the records of the rows' codes
    /// as read in this transaction with [`WriteTx::records_by_codes`]. Rows are taken in order, so a
    /// code that comes twice is created (or updated) by the first and updated by the second.
    ///
    /// Returns per row what it did. Unchanged records are not written; new and changed ones carry this
    /// transaction's change position. Any row that fails a check fails the whole call, and the caller's
    /// transaction should then be rolled back.
    pub async fn upsert_by_code(
        &mut self,
        spec: &ResourceSpec,
        stored: &HashMap<String, StoredRecord>,
        rows: Vec<Vec<Option<Value>>>,
    ) -> Result<Vec<Upserted>> {
        let field = unique_field(spec)?;
        let unique_index = spec.field_index(field);
        let mut outcomes = Vec::with_capacity(rows.len());
        // What will be written, one entry per code, in the order codes first came.
        let mut pending: Vec<Vec<Value>> = Vec::new();
        let mut position: HashMap<String, usize> = HashMap::new();
        for patch in rows {
            if patch.len() != spec.fields.len() {
                return Err(StoreError::Internal(format!(
                    "a row of {} has {} values, the resource has {} fields",
                    spec.slug,
                    patch.len(),
                    spec.fields.len()
                )));
            }
            let Some(Value::Text(code)) = &patch[unique_index] else {
                return Err(StoreError::invalid(field, "required", format!("{field} is required")));
            };
            let code = code.clone();
            let written = position.get(&code).copied();
            let old: Option<&[Value]> = match written {
                Some(index) => Some(&pending[index]),
                None => stored.get(&code).map(|record| record.values.as_slice()),
            };
            let mut values: Vec<Value> = match old {
                Some(old) => old
                    .iter()
                    .zip(patch)
                    .map(|(old, new)| new.unwrap_or_else(|| old.clone()))
                    .collect(),
                None => patch.into_iter().map(|value| value.unwrap_or(Value::Null)).collect(),
            };
            if old.is_none() {
                check_required(spec, &values)?;
            }
            let errors = rules::check(spec, old, &values);
            if !errors.is_empty() {
                return Err(StoreError::Invalid(errors));
            }
            self.check_references(spec, old, &values).await?;
            self.apply_derived(spec, &mut values);
            let outcome = match old {
                None => Upserted::Created,
                Some(old) if old == values.as_slice() => Upserted::Unchanged,
                Some(_) => Upserted::Updated,
            };
            outcomes.push(outcome);
            if outcome == Upserted::Unchanged {
                continue;
            }
            match position.entry(code) {
                Entry::Occupied(entry) => pending[*entry.get()] = values,
                Entry::Vacant(entry) => {
                    entry.insert(pending.len());
                    pending.push(values);
                }
            }
        }
        let placeholders = Placeholders::of(self);
        let per_statement = match placeholders {
            Placeholders::Numbered => rows_per_statement(3, spec.fields.len()),
            Placeholders::Plain => rows_per_statement(0, spec.fields.len() + 4),
        };
        for chunk in pending.chunks(per_statement) {
            self.write_by_code(spec, field, placeholders, chunk).await?;
        }
        for values in &pending {
            self.after_write(spec, values).await?;
        }
        Ok(outcomes)
    }

    /// One multi-row `INSERT … ON CONFLICT (administration_id, code) DO UPDATE` of whole rows.
    async fn write_by_code(
        &mut self,
        spec: &ResourceSpec,
        field: &str,
        placeholders: Placeholders,
        rows: &[Vec<Value>],
    ) -> Result<()> {
        let statement = upsert_statement(spec, field, placeholders, rows.len());
        let (administration, now, change_seq) = (self.administration, self.tx.now, self.change_seq);
        let written = on_tx!(self.tx, conn => {
            let mut query = sqlx::query(AssertSqlSafe(statement));
            if placeholders == Placeholders::Numbered {
                query = query.bind(administration.0).bind(now).bind(change_seq);
            }
            for row in rows {
                if placeholders == Placeholders::Plain {
                    query = query.bind(administration.0).bind(now).bind(now).bind(change_seq);
                }
                for (field, value) in spec.fields.iter().zip(row) {
                    query = bind_value!(query, value, field.kind.storage());
                }
            }
            query
                .execute(conn)
                .await
                .map(|result| result.rows_affected())
                .map_err(|error| map_unique(error, || unique_message(spec)))
        })?;
        // SQLite and PostgreSQL count an upserted row once, inserted or updated.
        if written != rows.len() as u64 {
            return Err(StoreError::Internal(format!(
                "writing {} records of {} by {field} touched {written} rows",
                rows.len(),
                spec.slug
            )));
        }
        Ok(())
    }
}

/// How a statement's parameters are written: per backend, see the module's introduction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placeholders {
    /// `$1, $2, …`: the shared values once.
    Numbered,
    /// `?, ?, …` in binding order: the shared values in every row.
    Plain,
}

impl Placeholders {
    fn of(tx: &WriteTx) -> Placeholders {
        match tx.tx.inner {
            TxInner::Sqlite(_) => Placeholders::Plain,
            TxInner::Postgres(_) => Placeholders::Numbered,
        }
    }
}

/// The stored records of `codes` codes, the administration bound first, then the codes.
///
/// On PostgreSQL every code is looked up on its own in the unique index, through a lateral join over
/// the list: a plain `code IN (…)` of hundreds of codes is estimated (without statistics, or with
/// statistics from before an import filled the table) to match most of the administration's rows,
/// and the planner then scans all of them through another index for every page, which makes a large
/// first import quadratic. A lookup with equality on every column of a unique index is estimated at
/// one row whatever the statistics say; `LIMIT 1` (exact: the code is unique) keeps the planner from
/// flattening the lateral lookup into a join that hashes the whole table. SQLite's planner takes the
/// unique index for the list itself.
fn select_statement(spec: &ResourceSpec, field: &str, placeholders: Placeholders, codes: usize) -> String {
    let columns = &sql(spec).columns;
    let table = spec.table;
    let mut statement = String::new();
    match placeholders {
        Placeholders::Numbered => {
            statement.push_str("SELECT found.* FROM (VALUES ");
            for index in 0..codes {
                let separator = if index == 0 { "" } else { ", " };
                let _ = write!(statement, "{separator}(${})", index + 2);
            }
            let _ = write!(
                statement,
                ") AS wanted (code) CROSS JOIN LATERAL (SELECT {columns} FROM {table} \
                 WHERE administration_id = $1 AND {field} = wanted.code LIMIT 1) AS found"
            );
        }
        Placeholders::Plain => {
            let _ = write!(
                statement,
                "SELECT {columns} FROM {table} WHERE administration_id = ? AND {field} IN ("
            );
            for index in 0..codes {
                statement.push_str(if index == 0 { "?" } else { ", ?" });
            }
            statement.push(')');
        }
    }
    statement
}

/// `INSERT INTO table (…) VALUES (…), … ON CONFLICT (administration_id, code) DO UPDATE SET …` for
/// `rows` rows. Numbered: `$1` the administration, `$2` the time (created and modified), `$3` the
/// change position, then each row's fields; plain: per row the administration, the time twice, the
/// position and the fields. An update keeps `created_at` and sets everything else.
fn upsert_statement(spec: &ResourceSpec, field: &str, placeholders: Placeholders, rows: usize) -> String {
    let names: Vec<&str> = spec.fields.iter().map(|field| field.name).collect();
    let mut statement = format!(
        "INSERT INTO {} (administration_id, created_at, modified_at, change_seq, {}) VALUES ",
        spec.table,
        names.join(", ")
    );
    let mut parameter = 4;
    for row in 0..rows {
        if row > 0 {
            statement.push_str(", ");
        }
        match placeholders {
            Placeholders::Numbered => {
                statement.push_str("($1, $2, $2, $3");
                for _ in &names {
                    let _ = write!(statement, ", ${parameter}");
                    parameter += 1;
                }
            }
            Placeholders::Plain => {
                statement.push_str("(?, ?, ?, ?");
                for _ in &names {
                    statement.push_str(", ?");
                }
            }
        }
        statement.push(')');
    }
    let _ = write!(
        statement,
        " ON CONFLICT (administration_id, {field}) DO UPDATE SET modified_at = excluded.modified_at, \
         change_seq = excluded.change_seq"
    );
    for name in names.iter().filter(|name| **name != field) {
        let _ = write!(statement, ", {name} = excluded.{name}");
    }
    statement
}

#[cfg(test)]
mod tests {
    use super::*;
    use koppel_domain::resources::{RELATIONS, WORK_ORDERS};

    #[test]
    fn statements_stay_under_the_parameter_limit() {
        for spec in [&RELATIONS, &WORK_ORDERS] {
            let rows = rows_per_statement(3, spec.fields.len());
            assert!(3 + rows * spec.fields.len() <= MAX_PARAMETERS);
            let statement = upsert_statement(spec, spec.unique.unwrap(), Placeholders::Numbered, rows);
            let last = 3 + rows * spec.fields.len();
            assert!(statement.contains(&format!("${last})")), "{statement}");
            assert!(!statement.contains(&format!("${}", last + 1)));
            let rows = rows_per_statement(0, spec.fields.len() + 4);
            let statement = upsert_statement(spec, spec.unique.unwrap(), Placeholders::Plain, rows);
            let parameters = statement.matches('?').count();
            assert_eq!(parameters, rows * (spec.fields.len() + 4));
            assert!(parameters <= MAX_PARAMETERS);
        }
    }

    #[test]
    fn lookups_by_code_bind_the_administration_then_the_codes() {
        let statement = select_statement(&RELATIONS, "code", Placeholders::Numbered, 3);
        assert!(
            statement.contains("(VALUES ($2), ($3), ($4)) AS wanted (code) CROSS JOIN LATERAL"),
            "{statement}"
        );
        assert!(statement.ends_with("WHERE administration_id = $1 AND code = wanted.code LIMIT 1) AS found"));
        let statement = select_statement(&RELATIONS, "code", Placeholders::Plain, 3);
        assert!(
            statement.ends_with("WHERE administration_id = ? AND code IN (?, ?, ?)"),
            "{statement}"
        );
    }

    #[test]
    fn plain_placeholders_repeat_the_shared_values_per_row() {
        let statement = upsert_statement(&RELATIONS, "code", Placeholders::Plain, 2);
        let row = format!("(?, ?, ?, ?{})", ", ?".repeat(RELATIONS.fields.len()));
        assert!(
            statement.contains(&format!("VALUES {row}, {row} ON CONFLICT")),
            "{statement}"
        );
        assert!(!statement.contains('$'));
    }

    #[test]
    fn an_update_keeps_the_creation_time_and_the_code() {
        let statement = upsert_statement(&RELATIONS, "code", Placeholders::Numbered, 2);
        assert!(
            statement.starts_with(
                "INSERT INTO relations (administration_id, created_at, modified_at, change_seq, code, name,"
            )
        );
        assert!(statement.contains("VALUES ($1, $2, $2, $3, $4, $5,"));
        assert!(statement.contains("), ($1, $2, $2, $3, $13,"), "{statement}");
        let updates = statement.split(" DO UPDATE SET ").nth(1).unwrap();
        assert!(!updates.contains("created_at"));
        assert!(!updates.contains("code ="));
        assert!(updates.contains("notes = excluded.notes"));
    }
}
