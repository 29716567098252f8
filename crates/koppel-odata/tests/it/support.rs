//! Shared test helpers: the third-party test material, a small YAML tree, and a sample model.

use std::borrow::Cow;
use std::path::PathBuf;

use koppel_odata::{EdmType, EntitySet, EntityType, Model, Property};
use saphyr_parser::{Event, Parser};

/// `shared/third_party/odata`: beside the repository, else where this workplace keeps it (a CI
/// checkout elsewhere on the same machine); override with `KOPPEL_ODATA_THIRD_PARTY`.
pub fn third_party_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("KOPPEL_ODATA_THIRD_PARTY") {
        return PathBuf::from(dir);
    }
    let beside = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/third_party/odata");
    let workplace = PathBuf::from("/work/shared/third_party/odata");
    if !beside.is_dir() && workplace.is_dir() {
        workplace
    } else {
        beside
    }
}

pub fn read_third_party(file_name: &str) -> String {
    let path = third_party_dir().join(file_name);
    std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "cannot read {} ({error}); set KOPPEL_ODATA_THIRD_PARTY to the folder holding it",
            path.display()
        )
    })
}

/// A YAML node with every scalar kept as its verbatim text (no implicit typing: `0123` stays a string).
#[derive(Debug)]
pub enum Yaml {
    Scalar(String),
    Sequence(Vec<Yaml>),
    Mapping(Vec<(String, Yaml)>),
}

impl Yaml {
    pub fn get(&self, key: &str) -> Option<&Yaml> {
        match self {
            Yaml::Mapping(entries) => entries.iter().find(|(name, _)| name == key).map(|(_, value)| value),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Yaml::Scalar(text) => Some(text),
            _ => None,
        }
    }

    pub fn as_sequence(&self) -> &[Yaml] {
        match self {
            Yaml::Sequence(items) => items,
            _ => &[],
        }
    }
}

/// Reads the first document of a YAML text (anchors and aliases are not needed and not resolved).
pub fn parse_yaml(text: &str) -> Yaml {
    let mut events = Parser::new_from_str(text).map(|event| event.expect("valid YAML").0);
    loop {
        match events.next().expect("a YAML document") {
            Event::StreamStart | Event::DocumentStart(_) => continue,
            first => return build(first, &mut events),
        }
    }
}

fn build<'a>(first: Event<'a>, events: &mut impl Iterator<Item = Event<'a>>) -> Yaml {
    match first {
        Event::Scalar(text, ..) => Yaml::Scalar(Cow::into_owned(text)),
        Event::SequenceStart(..) => {
            let mut items = Vec::new();
            loop {
                match events.next().expect("sequence end") {
                    Event::SequenceEnd => return Yaml::Sequence(items),
                    event => items.push(build(event, events)),
                }
            }
        }
        Event::MappingStart(..) => {
            let mut entries = Vec::new();
            loop {
                match events.next().expect("mapping end") {
                    Event::MappingEnd => return Yaml::Mapping(entries),
                    Event::Scalar(key, ..) => {
                        let value = build(events.next().expect("mapping value"), events);
                        entries.push((key.into_owned(), value));
                    }
                    other => panic!("unsupported YAML mapping key {other:?}"),
                }
            }
        }
        other => panic!("unsupported YAML event {other:?}"),
    }
}

/// An entity type like the ones the Power BI feed publishes.
pub fn invoice_type() -> EntityType {
    EntityType {
        name: "Invoice".to_owned(),
        key: vec!["Id".to_owned()],
        properties: vec![
            Property::required("Id", EdmType::Int64),
            Property::required("Number", EdmType::String),
            Property::nullable("CustomerName", EdmType::String),
            Property::required(
                "Amount",
                EdmType::Decimal {
                    precision: 18,
                    scale: 2,
                },
            ),
            Property::nullable("Hours", EdmType::Decimal { precision: 9, scale: 2 }),
            Property::required("Lines", EdmType::Int32),
            Property::required("Paid", EdmType::Boolean),
            Property::nullable("DueDate", EdmType::Date),
            Property::required("ModifiedAt", EdmType::DateTimeOffset),
        ],
    }
}

pub fn sample_model() -> Model {
    Model {
        namespace: "Koppel.Feed".to_owned(),
        container: "Container".to_owned(),
        entity_types: vec![
            invoice_type(),
            EntityType {
                name: "Customer".to_owned(),
                key: vec!["Code".to_owned()],
                properties: vec![
                    Property::required("Code", EdmType::String),
                    Property::nullable("Name", EdmType::String),
                    Property::required("ModifiedAt", EdmType::DateTimeOffset),
                ],
            },
        ],
        entity_sets: vec![
            EntitySet {
                name: "Invoices".to_owned(),
                entity_type: "Invoice".to_owned(),
            },
            EntitySet {
                name: "Customers".to_owned(),
                entity_type: "Customer".to_owned(),
            },
        ],
    }
}
