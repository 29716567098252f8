//! Settings sync: push forms, workflows, templates and the other shared settings from a main
//! administration to chosen sub-administrations.
//!
//! A sync is first previewed ([`preview`]): per target and category, what will be created, updated
//! (field by field), removed (mirror mode only) or left alone, what is pulled in because something
//! selected refers to it, and what blocks. Each target's plan carries a digest. Applying
//! ([`apply_target`], run by the [`job::SettingsSyncJob`] in the background) recomputes the plan inside
//! the target's write transaction and applies it only when the digest is unchanged, so what is
//! applied is exactly what was previewed. Each target is one transaction: all of its changes or none.
//!
//! Items are matched by code. Settings refer to each other by code, so a copy in the target refers
//! to the target's own items; the main's ids never leave the main. Daily data is never read into a
//! plan, copied or changed: the only daily-data question asked is whether a sub's daily data still
//! uses a code that mirror mode would remove (then the removal blocks).

mod apply;
mod items;
pub mod job;
mod plan;
pub mod received;

pub use apply::{ApplyError, TargetOutcome, apply_target};
pub use plan::{Action, BlockReason, Blocker, FieldChange, ItemPlan, Plan, TargetPlan, preview};

use koppel_domain::AdministrationId;
use koppel_domain::record::ResourceSpec;
use koppel_domain::resources;
use koppel_store::StoreError;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A category of settings that can be synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SettingsCategory {
    Forms,
    Workflows,
    Templates,
    WorkTypes,
    WorkStatuses,
    HourTypes,
    FreeFieldDefinitions,
    AppPolicies,
}

impl SettingsCategory {
    /// In the order the user sees them.
    pub const ALL: [SettingsCategory; 8] = [
        SettingsCategory::Forms,
        SettingsCategory::Workflows,
        SettingsCategory::Templates,
        SettingsCategory::WorkTypes,
        SettingsCategory::WorkStatuses,
        SettingsCategory::HourTypes,
        SettingsCategory::FreeFieldDefinitions,
        SettingsCategory::AppPolicies,
    ];

    pub fn spec(self) -> &'static ResourceSpec {
        match self {
            SettingsCategory::Forms => &resources::FORMS,
            SettingsCategory::Workflows => &resources::WORKFLOWS,
            SettingsCategory::Templates => &resources::TEMPLATES,
            SettingsCategory::WorkTypes => &resources::WORK_TYPES,
            SettingsCategory::WorkStatuses => &resources::WORK_STATUSES,
            SettingsCategory::HourTypes => &resources::HOUR_TYPES,
            SettingsCategory::FreeFieldDefinitions => &resources::FREE_FIELDS,
            SettingsCategory::AppPolicies => &resources::APP_POLICIES,
        }
    }

    /// The category's name on the wire: the resource slug (`forms`, `work-types`, …).
    pub fn slug(self) -> &'static str {
        self.spec().slug
    }

    pub fn parse(slug: &str) -> Option<SettingsCategory> {
        SettingsCategory::ALL.into_iter().find(|c| c.slug() == slug)
    }

    /// Where the category's items are written: referenced items before the items that refer to them.
    pub fn apply_order(self) -> usize {
        resources::ALL
            .iter()
            .position(|spec| spec.slug == self.slug())
            .expect("every category is a resource")
    }

    pub fn name_nl(self) -> &'static str {
        match self {
            SettingsCategory::Forms => "Formulieren",
            SettingsCategory::Workflows => "Workflows",
            SettingsCategory::Templates => "Sjablonen",
            SettingsCategory::WorkTypes => "Werksoorten",
            SettingsCategory::WorkStatuses => "Werkstatussen",
            SettingsCategory::HourTypes => "Uursoorten",
            SettingsCategory::FreeFieldDefinitions => "Vrije velden",
            SettingsCategory::AppPolicies => "App-beleid",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            SettingsCategory::Forms => "Forms",
            SettingsCategory::Workflows => "Workflows",
            SettingsCategory::Templates => "Templates",
            SettingsCategory::WorkTypes => "Work types",
            SettingsCategory::WorkStatuses => "Work statuses",
            SettingsCategory::HourTypes => "Hour types",
            SettingsCategory::FreeFieldDefinitions => "Free-field definitions",
            SettingsCategory::AppPolicies => "App policies",
        }
    }
}

/// A settings field as people read it, in Dutch and English (`footer`: Voettekst, Footer). The
/// preview and the run's results name changed fields by these, never by the field's key; a field
/// without a label here is written readably from its key.
pub fn field_label(field: &str) -> (&'static str, &'static str) {
    match field {
        "code" => ("Code", "Code"),
        "name" => ("Naam", "Name"),
        "fields" => ("Formuliervelden", "Form fields"),
        "steps" => ("Stappen", "Steps"),
        "work_type_codes" => ("Werksoorten", "Work types"),
        "description" => ("Omschrijving", "Description"),
        "kind" => ("Soort", "Kind"),
        "header" => ("Koptekst", "Header"),
        "body" => ("Inhoud", "Body"),
        "footer" => ("Voettekst", "Footer"),
        "options" => ("Opties", "Options"),
        "color" => ("Kleur", "Colour"),
        "is_final" => ("Eindstatus", "Final status"),
        "rate" => ("Tarief", "Rate"),
        "vat_rate" => ("Btw-tarief", "VAT rate"),
        "billable" => ("Factureerbaar", "Billable"),
        "label" => ("Label", "Label"),
        "entity" => ("Hoort bij", "Belongs to"),
        "field_type" => ("Veldtype", "Field type"),
        "choices" => ("Keuzes", "Choices"),
        "enabled" => ("Ingeschakeld", "Enabled"),
        _ => ("", ""),
    }
}

/// [`field_label`] in Dutch (`dutch`) or English, or the key made readable (`work_type_codes` →
/// "Work type codes") for a field without a label.
pub fn field_name(field: &str, dutch: bool) -> String {
    let (nl, en) = field_label(field);
    let label = if dutch { nl } else { en };
    if !label.is_empty() {
        return label.to_string();
    }
    let words = field.replace(['_', '-'], " ");
    let mut characters = words.chars();
    match characters.next() {
        Some(first) => first.to_uppercase().chain(characters).collect(),
        None => String::new(),
    }
}

impl std::fmt::Display for SettingsCategory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.slug())
    }
}

/// What to sync.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selection {
    /// Whole categories.
    #[serde(default)]
    pub categories: BTreeSet<SettingsCategory>,
    /// Single items by code; a category listed here syncs only these items (and is not mirrored).
    #[serde(default)]
    pub items: BTreeMap<SettingsCategory, BTreeSet<String>>,
    /// Also remove what a target has in a whole selected category that the main does not have.
    #[serde(default)]
    pub mirror: bool,
}

impl Selection {
    /// Every category touched, whole or by item.
    pub fn touched(&self) -> BTreeSet<SettingsCategory> {
        self.categories
            .iter()
            .copied()
            .chain(
                self.items
                    .iter()
                    .filter(|(_, codes)| !codes.is_empty())
                    .map(|(c, _)| *c),
            )
            .collect()
    }

    /// Categories synced whole (the only ones mirror mode removes from).
    pub fn whole(&self) -> BTreeSet<SettingsCategory> {
        self.categories
            .iter()
            .copied()
            .filter(|c| self.items.get(c).is_none_or(BTreeSet::is_empty))
            .collect()
    }
}

/// A sync as asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsSyncRequest {
    pub source: AdministrationId,
    pub targets: Vec<AdministrationId>,
    pub selection: Selection,
}

/// Why a sync cannot be previewed or started.
#[derive(Debug, thiserror::Error)]
pub enum SettingsSyncError {
    #[error("only the main administration can be the source of a settings sync")]
    NotMain,
    #[error("administration {0} is not a sub-administration of this main administration")]
    NotASub(AdministrationId),
    #[error("choose at least one sub-administration to sync to")]
    NoTargets,
    #[error("choose at least one category of settings to sync")]
    NoCategories,
    #[error("the main administration has no {category} item with code {code}")]
    UnknownItem { category: SettingsCategory, code: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SettingsSyncError {
    /// A stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            SettingsSyncError::NotMain => "not_main",
            SettingsSyncError::NotASub(_) => "not_a_sub",
            SettingsSyncError::NoTargets => "no_targets",
            SettingsSyncError::NoCategories => "no_categories",
            SettingsSyncError::UnknownItem { .. } => "unknown_item",
            SettingsSyncError::Store(_) => "store",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_settings_field_has_a_dutch_and_an_english_label() {
        for category in SettingsCategory::ALL {
            for field in category.spec().fields {
                let (nl, en) = field_label(field.name);
                assert!(
                    !nl.is_empty() && !en.is_empty(),
                    "{category}: field {} has no label",
                    field.name
                );
            }
        }
        assert_eq!(field_name("footer", true), "Voettekst");
        assert_eq!(field_name("footer", false), "Footer");
        assert_eq!(field_name("new_thing", false), "New thing");
    }
}
