//! Records described by specs: the shape of every daily-data and settings resource, in one place.
//!
//! A [`ResourceSpec`] lists a resource's fields with their kinds and access; the store derives its
//! SQL from it, the web layer its routes, validation and OpenAPI schema, the demo its generator
//! input. Wire JSON is parsed into [`Value`]s here, so a stored value has always been checked.

use crate::money::{DecimalError, Money, Quantity, VatRate};
use crate::{Code, settings};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value as Json;

/// How a value is stored. Both backends use the same logical types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageType {
    Integer,
    Text,
    Bool,
    Date,
    Timestamp,
}

/// Structured JSON a field may hold; each has a typed parser in [`crate::settings`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonShape {
    /// The fields of a form.
    FormFields,
    /// The ordered steps of a workflow, each optionally referring to a form by code.
    WorkflowSteps,
    /// A list of codes of another settings resource.
    CodeList(&'static str),
    /// Named options of a template (text, number or switch values).
    Options,
    /// A list of choices for a free field.
    Choices,
}

/// What a field holds and how it is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Free text. Control characters are refused, except tab, line feed and carriage return in
    /// `multiline` fields (notes, long descriptions, template bodies).
    Text {
        max_len: usize,
        multiline: bool,
    },
    Code,
    Integer {
        min: i64,
        max: i64,
    },
    Bool,
    Date,
    Timestamp,
    Money,
    Quantity,
    Vat,
    Choice(&'static [&'static str]),
    /// The id of a record of another resource (given by its slug) in the same administration.
    Ref(&'static str),
    /// The code of a settings item (resource slug) in the same administration.
    CodeRef(&'static str),
    Json(JsonShape),
}

impl FieldKind {
    pub fn storage(self) -> StorageType {
        match self {
            FieldKind::Integer { .. } | FieldKind::Money | FieldKind::Quantity | FieldKind::Ref(_) => {
                StorageType::Integer
            }
            FieldKind::Bool => StorageType::Bool,
            FieldKind::Date => StorageType::Date,
            FieldKind::Timestamp => StorageType::Timestamp,
            FieldKind::Text { .. }
            | FieldKind::Code
            | FieldKind::Vat
            | FieldKind::Choice(_)
            | FieldKind::CodeRef(_)
            | FieldKind::Json(_) => StorageType::Text,
        }
    }
}

/// Who may set a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Set on create and changeable later.
    Write,
    /// Set on create only (a number, a parent).
    CreateOnly,
    /// Maintained by Koppel (totals, derived states); never accepted from a client.
    System,
}

/// One field of a resource. The field name is also the column name and the JSON property name.
#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    pub name: &'static str,
    pub kind: FieldKind,
    pub required: bool,
    pub access: Access,
    pub description: &'static str,
}

/// Daily data or settings: the two areas that never mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    Daily,
    Settings,
}

/// A resource that belongs to a parent record (lines of a work order, addresses of a relation).
#[derive(Debug, Clone, Copy)]
pub struct Parent {
    pub field: &'static str,
    pub resource: &'static str,
}

/// The full description of one resource.
#[derive(Debug)]
pub struct ResourceSpec {
    /// URL segment and stable name (`work-orders`).
    pub slug: &'static str,
    /// Table name (`work_orders`).
    pub table: &'static str,
    /// Singular English name for documentation (`Work order`).
    pub title: &'static str,
    pub area: Area,
    pub fields: &'static [FieldSpec],
    /// The field that is unique within an administration (a code or a number), if any.
    pub unique: Option<&'static str>,
    /// Deleting the parent deletes these records too.
    pub parent: Option<Parent>,
    /// Whether clients may create, change and delete records directly (invoice lines may not).
    pub client_writable: bool,
}

impl ResourceSpec {
    pub fn field(&self, name: &str) -> Option<(usize, &FieldSpec)> {
        self.fields.iter().enumerate().find(|(_, f)| f.name == name)
    }

    pub fn field_index(&self, name: &str) -> usize {
        self.field(name)
            .map(|(index, _)| index)
            .unwrap_or_else(|| panic!("resource {} has no field {name}", self.slug))
    }

    /// Fields a list request may filter on with `?field=value`.
    pub fn filterable(&self) -> impl Iterator<Item = &FieldSpec> {
        self.fields.iter().filter(|f| {
            matches!(
                f.kind,
                FieldKind::Ref(_) | FieldKind::Choice(_) | FieldKind::CodeRef(_) | FieldKind::Code | FieldKind::Bool
            )
        })
    }
}

/// A stored value. Nulls carry no type: the field spec says how to store them.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Integer(i64),
    Text(String),
    Bool(bool),
    Date(NaiveDate),
    Timestamp(DateTime<Utc>),
}

impl Value {
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Integer(v) => Some(*v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_date(&self) -> Option<NaiveDate> {
        match self {
            Value::Date(v) => Some(*v),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

/// A problem with one field of a request, reported back to the client all at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub code: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            code,
            message: message.into(),
        }
    }
}

/// Reads one JSON value for a field into a stored value.
pub fn parse_field(field: &FieldSpec, json: &Json) -> Result<Value, FieldError> {
    let invalid = |message: String| FieldError::new(field.name, "invalid", message);
    if json.is_null() {
        return if field.required {
            Err(FieldError::new(
                field.name,
                "required",
                format!("{} is required", field.name),
            ))
        } else {
            Ok(Value::Null)
        };
    }
    let text = || {
        json.as_str()
            .ok_or_else(|| invalid(format!("{} must be a string", field.name)))
    };
    match field.kind {
        FieldKind::Text { max_len, multiline } => {
            let value = text()?;
            check_characters(field.name, value, multiline)?;
            if value.chars().count() > max_len {
                return Err(FieldError::new(
                    field.name,
                    "too_long",
                    format!("{} may be at most {max_len} characters long", field.name),
                ));
            }
            if field.required && value.trim().is_empty() {
                return Err(FieldError::new(
                    field.name,
                    "required",
                    format!("{} may not be empty", field.name),
                ));
            }
            Ok(Value::Text(value.to_string()))
        }
        FieldKind::Code | FieldKind::CodeRef(_) => {
            let code = Code::parse(text()?).map_err(|e| invalid(e.to_string()))?;
            Ok(Value::Text(code.as_str().to_string()))
        }
        FieldKind::Integer { min, max } => {
            let value = json
                .as_i64()
                .ok_or_else(|| invalid(format!("{} must be a whole number", field.name)))?;
            if value < min || value > max {
                return Err(invalid(format!("{} must be between {min} and {max}", field.name)));
            }
            Ok(Value::Integer(value))
        }
        FieldKind::Ref(_) => {
            let value = json
                .as_i64()
                .filter(|v| *v > 0)
                .ok_or_else(|| invalid(format!("{} must be the id of an existing record", field.name)))?;
            Ok(Value::Integer(value))
        }
        FieldKind::Bool => json
            .as_bool()
            .map(Value::Bool)
            .ok_or_else(|| invalid(format!("{} must be true or false", field.name))),
        FieldKind::Date => {
            let value = text()?;
            NaiveDate::parse_from_str(value, "%Y-%m-%d")
                .map(Value::Date)
                .map_err(|_| invalid(format!("{} must be a date like 2026-11-22", field.name)))
        }
        FieldKind::Timestamp => {
            let value = text()?;
            DateTime::parse_from_rfc3339(value)
                .map(|t| Value::Timestamp(t.with_timezone(&Utc)))
                .map_err(|_| invalid(format!("{} must be a time like 2026-11-22T09:30:00Z", field.name)))
        }
        FieldKind::Money => {
            let value =
                text().map_err(|_| invalid(format!("{} must be a decimal string like \"12.50\"", field.name)))?;
            Money::parse(value)
                .map(|m| Value::Integer(m.cents()))
                .map_err(|e| decimal_error(field, &e))
        }
        FieldKind::Quantity => {
            let value = text().map_err(|_| invalid(format!("{} must be a decimal string like \"1.5\"", field.name)))?;
            Quantity::parse(value)
                .map(|q| Value::Integer(q.thousandths()))
                .map_err(|e| decimal_error(field, &e))
        }
        FieldKind::Vat => {
            let value = text()?;
            VatRate::parse(value)
                .map(|r| Value::Text(r.as_str().to_string()))
                .ok_or_else(|| {
                    invalid(format!(
                        "{} must be one of \"21\", \"9\", \"0\", \"verlegd\"",
                        field.name
                    ))
                })
        }
        FieldKind::Choice(choices) => {
            let value = text()?;
            if choices.contains(&value) {
                Ok(Value::Text(value.to_string()))
            } else {
                Err(invalid(format!(
                    "{} must be one of: {}",
                    field.name,
                    choices.join(", ")
                )))
            }
        }
        FieldKind::Json(shape) => settings::parse_json(shape, json)
            .map(|normalised| Value::Text(normalised.to_string()))
            .map_err(|message| invalid(format!("{}: {message}", field.name))),
    }
}

fn decimal_error(field: &FieldSpec, error: &DecimalError) -> FieldError {
    let code = match error {
        DecimalError::OutOfRange { .. } => "out_of_range",
        DecimalError::NotANumber | DecimalError::TooManyDecimals { .. } => "invalid",
    };
    FieldError::new(field.name, code, format!("{}: {error}", field.name))
}

/// Whether a character may appear in free text: no control characters (NUL, escape, bell, …),
/// except tab, line feed and carriage return where the text may span lines.
pub fn allowed_in_text(character: char, multiline: bool) -> bool {
    !character.is_control() || (multiline && matches!(character, '\t' | '\n' | '\r'))
}

/// Refuses text holding a character [`allowed_in_text`] does not allow, naming the field. NUL in
/// particular: PostgreSQL cannot store it and SQLite would, so both backends refuse it here alike.
pub fn check_characters(field: &str, text: &str, multiline: bool) -> Result<(), FieldError> {
    match text.char_indices().find(|(_, c)| !allowed_in_text(*c, multiline)) {
        None => Ok(()),
        Some((at, character)) => {
            let allowed = if multiline {
                " (tabs and line breaks are allowed)"
            } else {
                ""
            };
            Err(FieldError::new(
                field,
                "invalid_character",
                format!(
                    "{field} may not contain control characters such as U+{:04X} (at byte {at}){allowed}",
                    u32::from(character)
                ),
            ))
        }
    }
}

/// Writes a stored value as wire JSON.
pub fn render_field(field: &FieldSpec, value: &Value) -> Json {
    match (field.kind, value) {
        (_, Value::Null) => Json::Null,
        (FieldKind::Money, Value::Integer(cents)) => Json::String(Money::from_cents(*cents).to_string()),
        (FieldKind::Quantity, Value::Integer(v)) => Json::String(Quantity::from_thousandths(*v).to_string()),
        (FieldKind::Json(_), Value::Text(text)) => serde_json::from_str(text).unwrap_or(Json::Null),
        (_, Value::Integer(v)) => Json::from(*v),
        (_, Value::Text(v)) => Json::String(v.clone()),
        (_, Value::Bool(v)) => Json::Bool(*v),
        (_, Value::Date(v)) => Json::String(v.format("%Y-%m-%d").to_string()),
        (_, Value::Timestamp(v)) => Json::String(v.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
    }
}

/// A create request: every field with its value (absent optional fields are null).
pub fn parse_create(spec: &ResourceSpec, body: &Json) -> Result<Vec<Value>, Vec<FieldError>> {
    let object = as_object(body)?;
    let mut errors = unknown_fields(spec, object);
    let mut values = Vec::with_capacity(spec.fields.len());
    for field in spec.fields {
        let given = object.get(field.name);
        let value = match (field.access, given) {
            (Access::System, Some(_)) => {
                errors.push(read_only(field));
                Value::Null
            }
            (Access::System, None) => Value::Null,
            (_, None) if field.required => {
                errors.push(FieldError::new(
                    field.name,
                    "required",
                    format!("{} is required", field.name),
                ));
                Value::Null
            }
            (_, None) => Value::Null,
            (_, Some(json)) => parse_field(field, json).unwrap_or_else(|error| {
                errors.push(error);
                Value::Null
            }),
        };
        values.push(value);
    }
    if errors.is_empty() { Ok(values) } else { Err(errors) }
}

/// A partial update: `Some` for each field the request sets.
pub fn parse_patch(spec: &ResourceSpec, body: &Json) -> Result<Vec<Option<Value>>, Vec<FieldError>> {
    let object = as_object(body)?;
    let mut errors = unknown_fields(spec, object);
    let mut values = Vec::with_capacity(spec.fields.len());
    for field in spec.fields {
        let value = match (field.access, object.get(field.name)) {
            (_, None) => None,
            (Access::System, Some(_)) => {
                errors.push(read_only(field));
                None
            }
            (Access::CreateOnly, Some(_)) => {
                errors.push(FieldError::new(
                    field.name,
                    "immutable",
                    format!("{} can only be set when the record is created", field.name),
                ));
                None
            }
            (Access::Write, Some(json)) => match parse_field(field, json) {
                Ok(value) => Some(value),
                Err(error) => {
                    errors.push(error);
                    None
                }
            },
        };
        values.push(value);
    }
    if errors.is_empty() { Ok(values) } else { Err(errors) }
}

fn as_object(body: &Json) -> Result<&serde_json::Map<String, Json>, Vec<FieldError>> {
    body.as_object()
        .ok_or_else(|| vec![FieldError::new("", "invalid", "the request body must be a JSON object")])
}

fn unknown_fields(spec: &ResourceSpec, object: &serde_json::Map<String, Json>) -> Vec<FieldError> {
    object
        .keys()
        .filter(|key| spec.field(key).is_none())
        .map(|key| {
            FieldError::new(
                key.clone(),
                "unknown_field",
                format!("{} has no field {key}", spec.title),
            )
        })
        .collect()
}

fn read_only(field: &FieldSpec) -> FieldError {
    FieldError::new(
        field.name,
        "read_only",
        format!("{} is maintained by Koppel and cannot be set", field.name),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources;
    use serde_json::json;

    #[test]
    fn create_reports_every_problem_at_once() {
        let spec = resources::by_slug("materials").unwrap();
        let errors = parse_create(spec, &json!({"price": 12.5, "colour": "red"})).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"colour"));
        assert!(fields.contains(&"price"));
        assert!(fields.contains(&"code"));
    }

    #[test]
    fn control_characters_are_refused_per_field_kind() {
        let spec = resources::by_slug("materials").unwrap();
        let (_, description) = spec.field("description").unwrap();
        let error = parse_field(description, &json!("a\u{0}b")).unwrap_err();
        assert_eq!((error.field.as_str(), error.code), ("description", "invalid_character"));
        assert!(error.message.contains("U+0000"));
        assert!(parse_field(description, &json!("two\nlines")).is_err());
        assert!(parse_field(description, &json!("bell\u{7}")).is_err());
        assert!(parse_field(description, &json!("Café – 10 × ½")).is_ok());

        let work_orders = resources::by_slug("work-orders").unwrap();
        let (_, long) = work_orders.field("description").unwrap();
        assert!(parse_field(long, &json!("line one\r\nline two\tand a tab")).is_ok());
        assert_eq!(
            parse_field(long, &json!("nul\u{0}")).unwrap_err().code,
            "invalid_character"
        );
        assert_eq!(
            parse_field(long, &json!("esc\u{1b}[31m")).unwrap_err().code,
            "invalid_character"
        );
    }

    #[test]
    fn amounts_out_of_range_are_refused_with_the_field() {
        let spec = resources::by_slug("work-order-materials").unwrap();
        let (_, price) = spec.field("price").unwrap();
        let error = parse_field(price, &json!("50000000000000000.00")).unwrap_err();
        assert_eq!((error.field.as_str(), error.code), ("price", "out_of_range"));
        assert!(error.message.contains("999999999999.99"), "{}", error.message);
        let (_, quantity) = spec.field("quantity").unwrap();
        assert_eq!(
            parse_field(quantity, &json!("1000000000")).unwrap_err().code,
            "out_of_range"
        );
        assert_eq!(parse_field(quantity, &json!("+1")).unwrap_err().code, "invalid");
    }

    #[test]
    fn money_round_trips_through_the_wire() {
        let spec = resources::by_slug("materials").unwrap();
        let (_, field) = spec.field("price").unwrap();
        let value = parse_field(field, &json!("1234.5")).unwrap();
        assert_eq!(value, Value::Integer(123_450));
        assert_eq!(render_field(field, &value), json!("1234.50"));
    }
}
