//! The structured parts of settings items (form fields, workflow steps, template options) and the
//! references between settings items, which always go by code.

use crate::Code;
use crate::record::{FieldKind, JsonShape, ResourceSpec, Value};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// One field on a form as the technician sees it in the app.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormField {
    pub key: Code,
    pub label: String,
    #[serde(rename = "type")]
    pub field_type: FormFieldType,
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FormFieldType {
    Text,
    Number,
    Checkbox,
    Date,
    Choice,
    Signature,
    Photo,
}

/// One step of a workflow.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowStep {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form_code: Option<Code>,
}

const MAX_ITEMS: usize = 500;

/// Parses and normalises a JSON field; the message says what is wrong.
pub fn parse_json(shape: JsonShape, json: &Json) -> Result<Json, String> {
    match shape {
        JsonShape::FormFields => {
            let fields: Vec<FormField> = typed(json)?;
            check_count(fields.len())?;
            let mut keys = std::collections::BTreeSet::new();
            for form_field in &fields {
                if form_field.label.trim().is_empty() {
                    return Err(format!("field {} needs a label", form_field.key));
                }
                if !keys.insert(form_field.key.clone()) {
                    return Err(format!("field key {} appears twice", form_field.key));
                }
                if form_field.field_type == FormFieldType::Choice && form_field.choices.is_empty() {
                    return Err(format!("choice field {} needs at least one choice", form_field.key));
                }
            }
            Ok(serde_json::to_value(fields).expect("form fields serialise"))
        }
        JsonShape::WorkflowSteps => {
            let steps: Vec<WorkflowStep> = typed(json)?;
            check_count(steps.len())?;
            if steps.is_empty() {
                return Err("a workflow needs at least one step".into());
            }
            if steps.iter().any(|s| s.name.trim().is_empty()) {
                return Err("every step needs a name".into());
            }
            Ok(serde_json::to_value(steps).expect("steps serialise"))
        }
        JsonShape::CodeList(_) => {
            let mut codes: Vec<Code> = typed(json)?;
            check_count(codes.len())?;
            codes.sort();
            codes.dedup();
            Ok(serde_json::to_value(codes).expect("codes serialise"))
        }
        JsonShape::Options => {
            let options: serde_json::Map<String, Json> = typed(json)?;
            check_count(options.len())?;
            if let Some((key, _)) = options
                .iter()
                .find(|(_, v)| !(v.is_string() || v.is_boolean() || v.is_number()))
            {
                return Err(format!("option {key} must be text, a number or true/false"));
            }
            Ok(Json::Object(options))
        }
        JsonShape::Choices => {
            let choices: Vec<String> = typed(json)?;
            check_count(choices.len())?;
            Ok(serde_json::to_value(choices).expect("choices serialise"))
        }
    }
}

fn typed<T: serde::de::DeserializeOwned>(json: &Json) -> Result<T, String> {
    serde_json::from_value(json.clone()).map_err(|e| e.to_string())
}

fn check_count(count: usize) -> Result<(), String> {
    if count > MAX_ITEMS {
        Err(format!("at most {MAX_ITEMS} entries are allowed"))
    } else {
        Ok(())
    }
}

/// A reference from a settings item (or daily-data record) to a settings item, by code.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CodeReference {
    /// The field that holds the reference.
    pub field: &'static str,
    /// The slug of the referenced settings resource.
    pub target: &'static str,
    pub code: String,
}

/// Every code reference a stored record makes, so the store can check they exist and settings sync
/// can pull the referenced items along.
pub fn code_references(spec: &ResourceSpec, values: &[Value]) -> Vec<CodeReference> {
    let mut references = Vec::new();
    for (field, value) in spec.fields.iter().zip(values) {
        let Some(text) = value.as_str() else { continue };
        match field.kind {
            FieldKind::CodeRef(target) => references.push(CodeReference {
                field: field.name,
                target,
                code: text.to_string(),
            }),
            FieldKind::Json(JsonShape::CodeList(target)) => {
                let codes: Vec<String> = serde_json::from_str(text).unwrap_or_default();
                references.extend(codes.into_iter().map(|code| CodeReference {
                    field: field.name,
                    target,
                    code,
                }));
            }
            FieldKind::Json(JsonShape::WorkflowSteps) => {
                let steps: Vec<WorkflowStep> = serde_json::from_str(text).unwrap_or_default();
                references.extend(steps.into_iter().filter_map(|step| {
                    step.form_code.map(|code| CodeReference {
                        field: field.name,
                        target: "forms",
                        code: code.as_str().to_string(),
                    })
                }));
            }
            _ => {}
        }
    }
    references.sort();
    references.dedup();
    references
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::parse_create;
    use crate::resources::WORKFLOWS;
    use serde_json::json;

    #[test]
    fn workflow_references_its_forms_and_work_types() {
        let values = parse_create(
            &WORKFLOWS,
            &json!({"code": "WF-CV", "name": "CV-ketel onderhoud",
                    "steps": [{"name": "Aankomst"}, {"name": "Inspectie", "form_code": "F-CV"}],
                    "work_type_codes": ["ONDERHOUD", "ONDERHOUD", "STORING"]}),
        )
        .unwrap();
        let references = code_references(&WORKFLOWS, &values);
        let targets: Vec<(&str, &str)> = references.iter().map(|r| (r.target, r.code.as_str())).collect();
        assert_eq!(
            targets,
            vec![
                ("forms", "F-CV"),
                ("work-types", "ONDERHOUD"),
                ("work-types", "STORING")
            ]
        );
    }

    #[test]
    fn form_fields_are_checked() {
        let bad = json!([{"key": "a", "label": "A", "type": "choice"}]);
        assert!(parse_json(JsonShape::FormFields, &bad).unwrap_err().contains("choice"));
        let unknown = json!([{"key": "a", "label": "A", "type": "text", "colour": 1}]);
        assert!(parse_json(JsonShape::FormFields, &unknown).is_err());
    }
}
