//! The entity data model a feed publishes: entity types with typed properties, and entity sets.
//!
//! Deliberately small: primitive properties only (no navigation, complex or collection properties),
//! which is what the Power BI feed serves. [`Model::validate`] checks the invariants that
//! `$metadata` and query checking rely on.

use std::collections::HashSet;

/// The primitive EDM types a Koppel feed uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EdmType {
    /// `Edm.Int32`
    Int32,
    /// `Edm.Int64`
    Int64,
    /// `Edm.String`
    String,
    /// `Edm.Decimal` with its facets: total digits and digits after the point.
    Decimal {
        /// Total number of significant digits, 1 to 38.
        precision: u8,
        /// Digits after the decimal point, at most `precision`.
        scale: u8,
    },
    /// `Edm.Boolean`
    Boolean,
    /// `Edm.Date`
    Date,
    /// `Edm.DateTimeOffset`
    DateTimeOffset,
}

impl EdmType {
    /// The qualified type name, such as `Edm.Int64`.
    pub fn name(self) -> &'static str {
        match self {
            EdmType::Int32 => "Edm.Int32",
            EdmType::Int64 => "Edm.Int64",
            EdmType::String => "Edm.String",
            EdmType::Decimal { .. } => "Edm.Decimal",
            EdmType::Boolean => "Edm.Boolean",
            EdmType::Date => "Edm.Date",
            EdmType::DateTimeOffset => "Edm.DateTimeOffset",
        }
    }
}

/// One structural property of an entity type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    /// The property name, a simple identifier.
    pub name: String,
    /// Its type.
    pub edm_type: EdmType,
    /// Whether rows may hold `null`.
    pub nullable: bool,
}

impl Property {
    /// A property that can be `null`.
    pub fn nullable(name: impl Into<String>, edm_type: EdmType) -> Property {
        Property {
            name: name.into(),
            edm_type,
            nullable: true,
        }
    }

    /// A property that is never `null`.
    pub fn required(name: impl Into<String>, edm_type: EdmType) -> Property {
        Property {
            name: name.into(),
            edm_type,
            nullable: false,
        }
    }
}

/// An entity type: a named record with a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityType {
    /// The type name, a simple identifier unique in the model.
    pub name: String,
    /// The names of the key properties (usually one).
    pub key: Vec<String>,
    /// All properties, in the order rows are written.
    pub properties: Vec<Property>,
}

impl EntityType {
    /// The property with this exact (case-sensitive) name.
    pub fn property(&self, name: &str) -> Option<&Property> {
        self.properties.iter().find(|property| property.name == name)
    }
}

/// An entity set: the collection of entities of one type that a feed URL lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntitySet {
    /// The set name, used in URLs (`/odata/<feed>/<set>`).
    pub name: String,
    /// The name of its entity type in the same model.
    pub entity_type: String,
}

/// A complete model: one schema namespace, its entity types, and one container of entity sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    /// The schema namespace, such as `Koppel.Feed` (dot-separated identifiers).
    pub namespace: String,
    /// The entity container's name.
    pub container: String,
    /// The entity types.
    pub entity_types: Vec<EntityType>,
    /// The entity sets.
    pub entity_sets: Vec<EntitySet>,
}

/// Why a [`Model`] is not a valid OData model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A name is not an OData identifier (letters, digits, `_`, not starting with a digit, ≤ 128 chars).
    #[error("`{name}` is not a valid OData {what} name")]
    InvalidName {
        /// What was named: namespace, entity type, property, …
        what: &'static str,
        /// The offending name.
        name: String,
    },
    /// Two things that need distinct names share one.
    #[error("the {what} name `{name}` is used more than once")]
    DuplicateName {
        /// What was named.
        what: &'static str,
        /// The repeated name.
        name: String,
    },
    /// An entity type's key is empty, names a missing property, or a nullable one.
    #[error("entity type `{entity_type}` has an invalid key: {reason}")]
    InvalidKey {
        /// The entity type.
        entity_type: String,
        /// What is wrong.
        reason: String,
    },
    /// An entity set refers to an entity type the model lacks.
    #[error("entity set `{entity_set}` refers to the unknown entity type `{entity_type}`")]
    UnknownEntityType {
        /// The entity set.
        entity_set: String,
        /// The missing type name.
        entity_type: String,
    },
    /// A decimal property has impossible facets.
    #[error("property `{property}` has invalid decimal facets: precision {precision}, scale {scale}")]
    InvalidDecimalFacets {
        /// The property.
        property: String,
        /// Its precision.
        precision: u8,
        /// Its scale.
        scale: u8,
    },
}

/// Whether `name` is an OData simple identifier (`odataIdentifier` in the ABNF).
pub fn is_simple_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first == '_' || first.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
        && name.chars().count() <= 128
}

fn check_name(what: &'static str, name: &str) -> Result<(), ModelError> {
    if is_simple_identifier(name) {
        Ok(())
    } else {
        Err(ModelError::InvalidName {
            what,
            name: name.to_owned(),
        })
    }
}

fn check_unique<'a>(what: &'static str, names: impl IntoIterator<Item = &'a str>) -> Result<(), ModelError> {
    let mut seen = HashSet::new();
    for name in names {
        if !seen.insert(name) {
            return Err(ModelError::DuplicateName {
                what,
                name: name.to_owned(),
            });
        }
    }
    Ok(())
}

impl Model {
    /// The entity set with this name.
    pub fn entity_set(&self, name: &str) -> Option<&EntitySet> {
        self.entity_sets.iter().find(|set| set.name == name)
    }

    /// The entity type with this (unqualified) name.
    pub fn entity_type(&self, name: &str) -> Option<&EntityType> {
        self.entity_types.iter().find(|entity_type| entity_type.name == name)
    }

    /// The entity type of the entity set with this name.
    pub fn entity_type_of_set(&self, set_name: &str) -> Option<&EntityType> {
        self.entity_type(&self.entity_set(set_name)?.entity_type)
    }

    /// Checks names, uniqueness, keys, decimal facets and entity set references.
    ///
    /// # Errors
    /// The first [`ModelError`] found.
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.namespace.is_empty() || !self.namespace.split('.').all(is_simple_identifier) {
            return Err(ModelError::InvalidName {
                what: "namespace",
                name: self.namespace.clone(),
            });
        }
        check_name("entity container", &self.container)?;
        check_unique(
            "entity type",
            self.entity_types.iter().map(|entity_type| entity_type.name.as_str()),
        )?;
        check_unique("entity set", self.entity_sets.iter().map(|set| set.name.as_str()))?;
        for entity_type in &self.entity_types {
            check_name("entity type", &entity_type.name)?;
            check_unique(
                "property",
                entity_type.properties.iter().map(|property| property.name.as_str()),
            )?;
            for property in &entity_type.properties {
                check_name("property", &property.name)?;
                if let EdmType::Decimal { precision, scale } = property.edm_type
                    && (precision == 0 || precision > 38 || scale > precision)
                {
                    return Err(ModelError::InvalidDecimalFacets {
                        property: property.name.clone(),
                        precision,
                        scale,
                    });
                }
            }
            let invalid_key = |reason: String| ModelError::InvalidKey {
                entity_type: entity_type.name.clone(),
                reason,
            };
            if entity_type.key.is_empty() {
                return Err(invalid_key("it names no property".to_owned()));
            }
            for key in &entity_type.key {
                match entity_type.property(key) {
                    None => return Err(invalid_key(format!("there is no property `{key}`"))),
                    Some(property) if property.nullable => {
                        return Err(invalid_key(format!("the key property `{key}` is nullable")));
                    }
                    Some(_) => {}
                }
            }
        }
        for set in &self.entity_sets {
            check_name("entity set", &set.name)?;
            if self.entity_type(&set.entity_type).is_none() {
                return Err(ModelError::UnknownEntityType {
                    entity_set: set.name.clone(),
                    entity_type: set.entity_type.clone(),
                });
            }
        }
        Ok(())
    }
}
