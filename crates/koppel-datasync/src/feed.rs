//! The reporting dataset as Power BI sees it: entity sets with PascalCase properties, derived from
//! the resource specs ([`crate::dataset::REPORTED`]), plus SyncRuns; how each value is
//! written as OData JSON; and the opaque `$skiptoken` that pins a reader to one sync.

use crate::dataset::{REPORTED, ReportedResource};
use crate::rows::ReportingSource;
use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, Timelike, Utc};
use koppel_domain::record::{FieldKind, StorageType, Value};
use koppel_odata::{EdmType, EntitySet, EntityType, Model, Property};
use std::fmt::Write;
use std::sync::OnceLock;

/// How a stored value becomes an OData value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// Stored as is (integers, text, booleans, dates, instants).
    Plain,
    /// An exact decimal stored as an integer of 10^-scale units (cents, thousandths).
    Scaled { scale: u8 },
}

/// One property of an entity set and the column it is read from.
#[derive(Debug, Clone)]
pub struct FeedColumn {
    pub property: String,
    pub column: &'static str,
    pub edm_type: EdmType,
    pub storage: StorageType,
    pub kind: ColumnKind,
    pub nullable: bool,
}

/// One entity set of the feed.
#[derive(Debug, Clone)]
pub struct FeedSet {
    pub name: &'static str,
    pub entity_type: &'static str,
    pub source: ReportingSource,
    /// Key first.
    pub columns: Vec<FeedColumn>,
}

impl FeedSet {
    pub fn column(&self, property: &str) -> Option<&FeedColumn> {
        self.columns.iter().find(|column| column.property == property)
    }
}

/// The whole feed: its sets and the OData model `$metadata` describes.
#[derive(Debug)]
pub struct Feed {
    pub sets: Vec<FeedSet>,
    pub model: Model,
}

impl Feed {
    pub fn set(&self, name: &str) -> Option<&FeedSet> {
        self.sets.iter().find(|set| set.name == name)
    }

    pub fn entity_type(&self, set: &FeedSet) -> &EntityType {
        self.model
            .entity_type(set.entity_type)
            .expect("every set has its type in the model")
    }
}

/// Money has two decimals, hours and quantities three.
pub const MONEY: EdmType = EdmType::Decimal {
    precision: 18,
    scale: 2,
};
pub const QUANTITY: EdmType = EdmType::Decimal {
    precision: 18,
    scale: 3,
};

/// `work_order_id` → `WorkOrderId`; a relation is a customer in reports.
pub fn property_name(field: &str) -> String {
    let field = match field {
        "relation_id" => "customer_id",
        other => other,
    };
    field
        .split('_')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
                None => String::new(),
            }
        })
        .collect()
}

fn plain(property: &str, column: &'static str, edm_type: EdmType, storage: StorageType, nullable: bool) -> FeedColumn {
    FeedColumn {
        property: property.to_string(),
        column,
        edm_type,
        storage,
        kind: ColumnKind::Plain,
        nullable,
    }
}

fn entity_columns(reported: &ReportedResource) -> Vec<FeedColumn> {
    let mut columns = vec![plain("Id", "id", EdmType::Int64, StorageType::Integer, false)];
    for field in reported.fields() {
        let (edm_type, kind) = match field.kind {
            FieldKind::Money => (MONEY, ColumnKind::Scaled { scale: 2 }),
            FieldKind::Quantity => (QUANTITY, ColumnKind::Scaled { scale: 3 }),
            FieldKind::Integer { .. } | FieldKind::Ref(_) => (EdmType::Int64, ColumnKind::Plain),
            FieldKind::Bool => (EdmType::Boolean, ColumnKind::Plain),
            FieldKind::Date => (EdmType::Date, ColumnKind::Plain),
            FieldKind::Timestamp => (EdmType::DateTimeOffset, ColumnKind::Plain),
            FieldKind::Text { .. }
            | FieldKind::Code
            | FieldKind::Vat
            | FieldKind::Choice(_)
            | FieldKind::CodeRef(_)
            | FieldKind::Json(_) => (EdmType::String, ColumnKind::Plain),
        };
        columns.push(FeedColumn {
            property: property_name(field.name),
            column: field.name,
            edm_type,
            storage: field.kind.storage(),
            kind,
            nullable: !field.required,
        });
    }
    columns.push(plain(
        "CreatedAt",
        "created_at",
        EdmType::DateTimeOffset,
        StorageType::Timestamp,
        false,
    ));
    columns.push(plain(
        "ModifiedAt",
        "modified_at",
        EdmType::DateTimeOffset,
        StorageType::Timestamp,
        false,
    ));
    columns
}

fn sync_runs_columns() -> Vec<FeedColumn> {
    use StorageType::{Bool, Integer, Timestamp};
    vec![
        plain("Id", "sync_no", EdmType::Int64, Integer, false),
        plain("RunId", "run_id", EdmType::Int64, Integer, true),
        plain("FullSync", "full_sync", EdmType::Boolean, Bool, false),
        plain("ChangePosition", "change_position", EdmType::Int64, Integer, false),
        plain("StartedAt", "started_at", EdmType::DateTimeOffset, Timestamp, false),
        plain("FinishedAt", "committed_at", EdmType::DateTimeOffset, Timestamp, false),
        plain("RowsInserted", "rows_inserted", EdmType::Int64, Integer, false),
        plain("RowsUpdated", "rows_updated", EdmType::Int64, Integer, false),
        plain("RowsDeleted", "rows_deleted", EdmType::Int64, Integer, false),
        plain("ModifiedAt", "committed_at", EdmType::DateTimeOffset, Timestamp, false),
    ]
}

/// The feed, built once from the specs.
pub fn feed() -> &'static Feed {
    static FEED: OnceLock<Feed> = OnceLock::new();
    FEED.get_or_init(|| {
        let mut sets: Vec<FeedSet> = REPORTED
            .iter()
            .map(|reported| FeedSet {
                name: reported.entity_set,
                entity_type: reported.entity_type,
                source: ReportingSource::Entity(reported),
                columns: entity_columns(reported),
            })
            .collect();
        sets.push(FeedSet {
            name: "SyncRuns",
            entity_type: "SyncRun",
            source: ReportingSource::Syncs,
            columns: sync_runs_columns(),
        });
        let model = Model {
            namespace: "Koppel.Reporting".to_string(),
            container: "Reporting".to_string(),
            entity_types: sets
                .iter()
                .map(|set| EntityType {
                    name: set.entity_type.to_string(),
                    key: vec!["Id".to_string()],
                    properties: set
                        .columns
                        .iter()
                        .map(|column| Property {
                            name: column.property.clone(),
                            edm_type: column.edm_type,
                            nullable: column.nullable,
                        })
                        .collect(),
                })
                .collect(),
            entity_sets: sets
                .iter()
                .map(|set| EntitySet {
                    name: set.name.to_string(),
                    entity_type: set.entity_type.to_string(),
                })
                .collect(),
        };
        Feed { sets, model }
    })
}

/// Writes `units × 10^-scale` as an exact decimal with all `scale` digits (`72.50`).
pub fn write_scaled(out: &mut String, units: i64, scale: u8) {
    let divisor = 10_u64.pow(u32::from(scale));
    if units < 0 {
        out.push('-');
    }
    let magnitude = units.unsigned_abs();
    out.push_str(itoa::Buffer::new().format(magnitude / divisor));
    if scale > 0 {
        out.push('.');
        push_padded(out, magnitude % divisor, usize::from(scale));
    }
}

/// Writes `value` with at least `width` digits, zeros in front.
fn push_padded(out: &mut String, value: u64, width: usize) {
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(value);
    for _ in digits.len()..width {
        out.push('0');
    }
    out.push_str(digits);
}

/// Writes a date as `YYYY-MM-DD` (without quotes). Years beyond four digits take chrono's form.
fn push_date(out: &mut String, date: NaiveDate) {
    match u64::try_from(date.year()) {
        Ok(year) if year <= 9999 => {
            push_padded(out, year, 4);
            out.push('-');
            push_padded(out, u64::from(date.month()), 2);
            out.push('-');
            push_padded(out, u64::from(date.day()), 2);
        }
        _ => {
            let _ = write!(out, "{}", date.format("%Y-%m-%d"));
        }
    }
}

/// Writes a UTC time as RFC 3339 with microseconds and `Z` (without quotes), as
/// `to_rfc3339_opts(SecondsFormat::Micros, true)` does: this runs for every timestamp of every row.
fn push_timestamp(out: &mut String, time: DateTime<Utc>) {
    let (year, nanos) = (time.year(), time.nanosecond());
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
        // Far years and leap seconds: chrono's own formatting.
        out.push_str(&time.to_rfc3339_opts(SecondsFormat::Micros, true));
        return;
    }
    push_date(out, time.date_naive());
    out.push('T');
    push_padded(out, u64::from(time.hour()), 2);
    out.push(':');
    push_padded(out, u64::from(time.minute()), 2);
    out.push(':');
    push_padded(out, u64::from(time.second()), 2);
    out.push('.');
    push_padded(out, u64::from(nanos / 1_000), 6);
    out.push('Z');
}

/// Writes one value as OData JSON (a number, string, boolean or null).
pub fn write_value(out: &mut String, column: &FeedColumn, value: &Value) {
    match (value, column.kind) {
        (Value::Null, _) => out.push_str("null"),
        (Value::Integer(units), ColumnKind::Scaled { scale }) => write_scaled(out, *units, scale),
        (Value::Integer(v), ColumnKind::Plain) => out.push_str(itoa::Buffer::new().format(*v)),
        (Value::Bool(v), _) => out.push_str(if *v { "true" } else { "false" }),
        (Value::Text(v), _) => write_json_string(out, v),
        (Value::Date(v), _) => {
            out.push('"');
            push_date(out, *v);
            out.push('"');
        }
        (Value::Timestamp(v), _) => {
            out.push('"');
            push_timestamp(out, *v);
            out.push('"');
        }
    }
}

/// Writes a JSON string literal; runs that need no escape are copied whole.
pub fn write_json_string(out: &mut String, text: &str) {
    out.push('"');
    let mut plain_from = 0;
    for (at, byte) in text.bytes().enumerate() {
        let escaped = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            byte if byte < 0x20 => "",
            _ => continue,
        };
        // Escaped bytes are ASCII, so `at` is on a character boundary.
        out.push_str(&text[plain_from..at]);
        if escaped.is_empty() {
            let _ = write!(out, "\\u{byte:04x}");
        } else {
            out.push_str(escaped);
        }
        plain_from = at + 1;
    }
    out.push_str(&text[plain_from..]);
    out.push('"');
}

/// Where a paging reader is: the sync it is pinned to, how many rows it was served, and the last
/// key (for key order). Opaque to clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SkipToken {
    pub sync: i64,
    pub served: u64,
    pub last_key: i64,
}

impl SkipToken {
    pub fn encode(&self) -> String {
        format!("s{}-{}-{}", self.sync, self.served, self.last_key)
    }

    pub fn decode(text: &str) -> Option<SkipToken> {
        let mut parts = text.strip_prefix('s')?.split('-');
        let token = SkipToken {
            sync: parts.next()?.parse().ok()?,
            served: parts.next()?.parse().ok()?,
            last_key: parts.next()?.parse().ok()?,
        };
        parts.next().is_none().then_some(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_is_valid_and_shaped_for_bi() {
        let feed = feed();
        feed.model.validate().expect("valid model");
        assert_eq!(feed.sets.len(), 16);
        let work_orders = feed.set("WorkOrders").unwrap();
        assert_eq!(work_orders.column("CustomerId").unwrap().column, "relation_id");
        assert!(!work_orders.column("ModifiedAt").unwrap().nullable);
        assert_eq!(feed.set("Materials").unwrap().column("Price").unwrap().edm_type, MONEY);
        assert_eq!(
            feed.set("WorkOrderHours").unwrap().column("Hours").unwrap().edm_type,
            QUANTITY
        );
    }

    #[test]
    fn decimals_keep_every_digit() {
        let mut out = String::new();
        write_scaled(&mut out, 7250, 2);
        out.push(' ');
        write_scaled(&mut out, -5, 2);
        out.push(' ');
        write_scaled(&mut out, 1500, 3);
        assert_eq!(out, "72.50 -0.05 1.500");
    }

    #[test]
    fn dates_and_times_are_written_as_chrono_writes_them() {
        let times = [
            "2026-11-29T20:14:42.123456Z",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999999Z",
            "2024-02-29T07:05:09.000001Z",
            "1970-01-01T00:00:00.5Z",
        ];
        for text in times {
            let time = DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc);
            let mut out = String::new();
            push_timestamp(&mut out, time);
            assert_eq!(out, time.to_rfc3339_opts(SecondsFormat::Micros, true), "{text}");
            let mut out = String::new();
            push_date(&mut out, time.date_naive());
            assert_eq!(out, time.date_naive().format("%Y-%m-%d").to_string(), "{text}");
        }
        let far = NaiveDate::from_ymd_opt(12_345, 6, 7).unwrap();
        let mut out = String::new();
        push_date(&mut out, far);
        assert_eq!(out, far.format("%Y-%m-%d").to_string());
    }

    #[test]
    fn strings_escape_exactly_what_json_requires() {
        let mut out = String::new();
        write_json_string(&mut out, "Fa\u{e7}ade \"A\"\\B\n\r\t\u{1}\u{1f}\u{7f} \u{20ac}");
        assert_eq!(
            out,
            "\"Fa\u{e7}ade \\\"A\\\"\\\\B\\n\\r\\t\\u0001\\u001f\u{7f} \u{20ac}\""
        );
        let parsed: String = serde_json::from_str(&out).unwrap();
        assert_eq!(parsed, "Fa\u{e7}ade \"A\"\\B\n\r\t\u{1}\u{1f}\u{7f} \u{20ac}");
    }

    #[test]
    fn skip_tokens_round_trip_and_reject_garbage() {
        let token = SkipToken {
            sync: 3,
            served: 1000,
            last_key: 4567,
        };
        assert_eq!(SkipToken::decode(&token.encode()), Some(token));
        assert_eq!(SkipToken::decode("s1-2"), None);
        assert_eq!(SkipToken::decode("x1-2-3"), None);
    }
}
