//! JSON Schemas of the API, derived from the resource specs (records) or written once (platform).

use koppel_domain::money::{MONEY_MAX_TEXT, MONEY_PATTERN, QUANTITY_MAX_TEXT, QUANTITY_PATTERN};
use koppel_domain::record::{Access, FieldKind, FieldSpec, JsonShape, ResourceSpec};
use koppel_domain::resources;
use koppel_domain::rights::Right;
use serde_json::{Value as Json, json};

/// The schema name of a resource (`WorkOrder`).
pub fn name(spec: &ResourceSpec) -> String {
    spec.slug
        .split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect::<String>()
        .trim_end_matches('s')
        .replace("Statuse", "Status")
        .replace("Addresse", "Address")
}

/// Single-line text: no control characters (U+0000–U+001F, U+007F–U+009F).
pub const TEXT_PATTERN: &str = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$";
/// Multi-line text: tab, line feed and carriage return are allowed, other control characters not.
pub const MULTILINE_TEXT_PATTERN: &str = "^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F]*$";

pub fn reference(name: &str) -> Json {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn field_schema(field: &FieldSpec) -> Json {
    let mut schema = match field.kind {
        FieldKind::Text { max_len, multiline } => {
            let pattern = if multiline {
                MULTILINE_TEXT_PATTERN
            } else {
                TEXT_PATTERN
            };
            json!({"type": "string", "maxLength": max_len, "pattern": pattern})
        }
        FieldKind::Code | FieldKind::CodeRef(_) => {
            json!({"type": "string", "maxLength": koppel_domain::Code::MAX_LEN, "pattern": "^[A-Za-z0-9._-]+$"})
        }
        FieldKind::Integer { min, max } => json!({"type": "integer", "minimum": min, "maximum": max}),
        FieldKind::Bool => json!({"type": "boolean"}),
        FieldKind::Date => json!({"type": "string", "format": "date"}),
        FieldKind::Timestamp => json!({"type": "string", "format": "date-time"}),
        FieldKind::Money => json!({"type": "string", "pattern": MONEY_PATTERN, "examples": ["72.50"],
            "description": format!("{} Euro, at most two decimals, from -{MONEY_MAX_TEXT} to {MONEY_MAX_TEXT}.", field.description).trim().to_string()}),
        FieldKind::Quantity => json!({"type": "string", "pattern": QUANTITY_PATTERN, "examples": ["1.5"],
            "description": format!("{} At most three decimals, from -{QUANTITY_MAX_TEXT} to {QUANTITY_MAX_TEXT}.", field.description).trim().to_string()}),
        FieldKind::Vat => json!({"type": "string", "enum": ["21", "9", "0", "verlegd"]}),
        FieldKind::Choice(choices) => json!({"type": "string", "enum": choices}),
        FieldKind::Ref(target) => {
            json!({"type": "integer", "minimum": 1, "description": format!("id of a {}", resources::by_slug(target).map_or(target, |s| s.title))})
        }
        FieldKind::Json(shape) => json_shape(shape),
    };
    let mut description = field.description.to_string();
    if let FieldKind::CodeRef(target) = field.kind {
        description = format!(
            "code of a {} {description}",
            resources::by_slug(target).map_or(target, |s| s.title)
        )
        .trim()
        .to_string();
    }
    if !description.is_empty() && schema.get("description").is_none() {
        schema["description"] = Json::String(description);
    }
    schema
}

fn json_shape(shape: JsonShape) -> Json {
    let code = json!({"type": "string", "pattern": "^[A-Za-z0-9._-]+$"});
    match shape {
        JsonShape::FormFields => json!({"type": "array", "items": {
        "type": "object", "additionalProperties": false, "required": ["key", "label", "type"],
        "properties": {
            "key": code, "label": {"type": "string"},
            "type": {"type": "string", "enum": ["text", "number", "checkbox", "date", "choice", "signature", "photo"]},
            "required": {"type": "boolean"}, "choices": {"type": "array", "items": {"type": "string"}}
        }}}),
        JsonShape::WorkflowSteps => json!({"type": "array", "minItems": 1, "items": {
            "type": "object", "additionalProperties": false, "required": ["name"],
            "properties": {"name": {"type": "string"}, "form_code": code}}}),
        JsonShape::CodeList(_) => json!({"type": "array", "items": code}),
        JsonShape::Options => {
            json!({"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}})
        }
        JsonShape::Choices => json!({"type": "array", "items": {"type": "string"}}),
    }
}

/// The schema of a record as returned, as created, and as patched.
fn record_schemas(spec: &ResourceSpec) -> [(String, Json); 3] {
    let mut read = serde_json::Map::new();
    read.insert("id".into(), json!({"type": "integer"}));
    read.insert("created_at".into(), json!({"type": "string", "format": "date-time"}));
    read.insert("modified_at".into(), json!({"type": "string", "format": "date-time"}));
    let mut create = serde_json::Map::new();
    let mut patch = serde_json::Map::new();
    let mut create_required = Vec::new();
    for field in spec.fields {
        let schema = field_schema(field);
        let nullable = if field.required {
            schema.clone()
        } else {
            json!({"anyOf": [schema.clone(), {"type": "null"}]})
        };
        read.insert(field.name.into(), nullable.clone());
        if field.access != Access::System {
            create.insert(field.name.into(), nullable.clone());
            if field.required {
                create_required.push(field.name);
            }
        }
        if field.access == Access::Write {
            patch.insert(field.name.into(), nullable);
        }
    }
    let mut read_required: Vec<&str> = vec!["id", "created_at", "modified_at"];
    read_required.extend(spec.fields.iter().map(|f| f.name));
    let name = name(spec);
    [
        (
            name.clone(),
            json!({"type": "object", "title": spec.title, "required": read_required, "properties": read}),
        ),
        (
            format!("{name}Create"),
            json!({"type": "object", "additionalProperties": false, "required": create_required, "properties": create}),
        ),
        (
            format!("{name}Patch"),
            json!({"type": "object", "additionalProperties": false, "properties": patch}),
        ),
    ]
}

/// `components.schemas` of the document.
pub fn components() -> Json {
    let mut schemas = serde_json::Map::new();
    for spec in resources::ALL {
        for (name, schema) in record_schemas(spec) {
            schemas.insert(name, schema);
        }
        schemas.insert(
            format!("{}Page", name(spec)),
            json!({"type": "object", "required": ["items", "next_cursor"], "properties": {
                "items": {"type": "array", "items": reference(&name(spec))},
                "next_cursor": {"type": ["string", "null"], "description": "Pass as cursor to get the next page; null on the last page"}
            }}),
        );
    }
    let rights: Vec<&str> = Right::ALL.iter().map(|r| r.as_str()).collect();
    let platform = json!({
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {
            "type": "object", "required": ["code", "message"], "properties": {
                "code": {"type": "string", "description": "Stable machine-readable code"},
                "message": {"type": "string", "description": "Human-readable explanation"},
                "fields": {"type": "array", "items": {"type": "object", "properties": {
                    "field": {"type": "string"}, "code": {"type": "string"}, "message": {"type": "string"}}}}
            }}}},
        "Administration": {"type": "object", "required": ["id", "name", "is_main", "created_at"], "properties": {
            "id": {"type": "integer"}, "environment_id": {"type": "integer"}, "name": {"type": "string"},
            "is_main": {"type": "boolean"}, "created_at": {"type": "string", "format": "date-time"},
            "rights": {"type": "array", "items": {"type": "string", "enum": rights}}}},
        "AdministrationCreate": {"type": "object", "additionalProperties": false, "required": ["name"], "properties": {
            "name": {"type": "string", "maxLength": 100}}},
        "Rights": {"type": "object", "additionalProperties": false, "required": ["rights"], "properties": {
            "rights": {"type": "array", "items": {"type": "string", "enum": rights}}}},
        "Licence": {"type": "object", "required": ["power_up", "state", "capacity"], "properties": {
            "power_up": {"type": "string", "enum": ["power_bi", "sub_administrations", "accountview"]},
            "state": {"type": "string", "enum": ["trial", "active", "inactive"]},
            "until": {"type": "string", "format": "date", "description": "Last day of a trial"},
            "capacity": {"type": "integer"}, "usable": {"type": "boolean"},
            "changed_at": {"type": "string", "format": "date-time"}}},
        "LicenceUpdate": {"type": "object", "additionalProperties": false, "required": ["state"], "properties": {
            "state": {"type": "string", "enum": ["trial", "active", "inactive"]},
            "until": {"type": "string", "format": "date", "description": "The last day of a trial: today or later; required when state is trial, ignored otherwise"},
            "capacity": {"type": "integer", "minimum": 0, "maximum": 1000, "description": "Sub-administrations allowed; leave out to keep the current capacity (null is refused)"}},
            "if": {"properties": {"state": {"const": "trial"}}}, "then": {"required": ["until"]}},
        "User": {"type": "object", "required": ["id", "email", "name", "language"], "properties": {
            "id": {"type": "integer"}, "email": {"type": "string"}, "name": {"type": "string"},
            "language": {"type": "string", "enum": ["nl", "en"]}, "created_at": {"type": "string", "format": "date-time"},
            "administrations": {"type": "array", "items": reference("Administration")}}},
        "UserCreate": {"type": "object", "additionalProperties": false, "required": ["email", "name", "password"], "properties": {
            "email": {"type": "string"}, "name": {"type": "string"}, "password": {"type": "string", "minLength": 10},
            "language": {"type": "string", "enum": ["nl", "en"]}}},
        "Login": {"type": "object", "additionalProperties": false, "required": ["email", "password"], "properties": {
            "email": {"type": "string"}, "password": {"type": "string"}}},
        "Language": {"type": "object", "additionalProperties": false, "required": ["language"], "properties": {
            "language": {"type": "string", "enum": ["nl", "en"]}}},
        "ApiToken": {"type": "object", "required": ["id", "name", "created_at"], "properties": {
            "id": {"type": "integer"}, "name": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"},
            "last_used_at": {"type": ["string", "null"], "format": "date-time"},
            "revoked_at": {"type": ["string", "null"], "format": "date-time"},
            "token": {"type": "string", "description": "The secret; returned once, when the token is created"}}},
        "ApiTokenCreate": {"type": "object", "additionalProperties": false, "required": ["name"], "properties": {
            "name": {"type": "string", "maxLength": 100}}},
        "AuditEntry": {"type": "object", "properties": {
            "id": {"type": "integer"}, "administration_id": {"type": ["integer", "null"]}, "user_id": {"type": ["integer", "null"]},
            "action": {"type": "string"}, "detail": {"type": "string"}, "at": {"type": "string", "format": "date-time"}}},
        "InvoiceRequest": {"type": "object", "additionalProperties": false, "properties": {
            "payment_term_days": {"type": "integer", "minimum": 0, "maximum": 365}}},
    });
    schemas.extend(platform.as_object().expect("object").clone());
    schemas.extend(super::runs::schemas().as_object().expect("object").clone());
    Json::Object(schemas)
}
