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
pub enum Category {
    Forms,
    Workflows,
    Templates,
    WorkTypes,
    WorkStatuses,
    HourTypes,
    FreeFieldDefinitions,
    AppPolicies,
}

impl Category {
    /// In the order the user sees them.
    pub const ALL: [Category; 8] = [
        Category::Forms,
        Category::Workflows,
        Category::Templates,
        Category::WorkTypes,
        Category::WorkStatuses,
        Category::HourTypes,
        Category::FreeFieldDefinitions,
        Category::AppPolicies,
    ];

    pub fn spec(self) -> &'static ResourceSpec {
        match self {
            Category::Forms => &resources::FORMS,
            Category::Workflows => &resources::WORKFLOWS,
            Category::Templates => &resources::TEMPLATES,
            Category::WorkTypes => &resources::WORK_TYPES,
            Category::WorkStatuses => &resources::WORK_STATUSES,
            Category::HourTypes => &resources::HOUR_TYPES,
            Category::FreeFieldDefinitions => &resources::FREE_FIELDS,
            Category::AppPolicies => &resources::APP_POLICIES,
        }
    }

    /// The category's name on the wire: the resource slug (`forms`, `work-types`, …).
    pub fn slug(self) -> &'static str {
        self.spec().slug
    }

    pub fn parse(slug: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.slug() == slug)
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
            Category::Forms => "Formulieren",
            Category::Workflows => "Workflows",
            Category::Templates => "Sjablonen",
            Category::WorkTypes => "Werksoorten",
            Category::WorkStatuses => "Werkstatussen",
            Category::HourTypes => "Uursoorten",
            Category::FreeFieldDefinitions => "Vrije velden",
            Category::AppPolicies => "App-beleid",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            Category::Forms => "Forms",
            Category::Workflows => "Workflows",
            Category::Templates => "Templates",
            Category::WorkTypes => "Work types",
            Category::WorkStatuses => "Work statuses",
            Category::HourTypes => "Hour types",
            Category::FreeFieldDefinitions => "Free-field definitions",
            Category::AppPolicies => "App policies",
        }
    }
}

impl std::fmt::Display for Category {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.slug())
    }
}

/// What to sync.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selection {
    /// Whole categories.
    #[serde(default)]
    pub categories: BTreeSet<Category>,
    /// Single items by code; a category listed here syncs only these items (and is not mirrored).
    #[serde(default)]
    pub items: BTreeMap<Category, BTreeSet<String>>,
    /// Also remove what a target has in a whole selected category that the main does not have.
    #[serde(default)]
    pub mirror: bool,
}

impl Selection {
    /// Every category touched, whole or by item.
    pub fn touched(&self) -> BTreeSet<Category> {
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
    pub fn whole(&self) -> BTreeSet<Category> {
        self.categories
            .iter()
            .copied()
            .filter(|c| self.items.get(c).is_none_or(BTreeSet::is_empty))
            .collect()
    }
}

/// A sync as asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRequest {
    pub source: AdministrationId,
    pub targets: Vec<AdministrationId>,
    pub selection: Selection,
}

/// Why a sync cannot be previewed or started.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("only the main administration can be the source of a settings sync")]
    NotMain,
    #[error("administration {0} is not a sub-administration of this main administration")]
    NotASub(AdministrationId),
    #[error("choose at least one sub-administration to sync to")]
    NoTargets,
    #[error("choose at least one category of settings to sync")]
    NoCategories,
    #[error("the main administration has no {category} item with code {code}")]
    UnknownItem { category: Category, code: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SyncError {
    /// A stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            SyncError::NotMain => "not_main",
            SyncError::NotASub(_) => "not_a_sub",
            SyncError::NoTargets => "no_targets",
            SyncError::NoCategories => "no_categories",
            SyncError::UnknownItem { .. } => "unknown_item",
            SyncError::Store(_) => "store",
        }
    }
}
