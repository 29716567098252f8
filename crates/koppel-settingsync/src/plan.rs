//! The preview: what a sync would do to each target, and a digest of it.

use crate::{Selection, SettingsCategory, SettingsSyncError, SettingsSyncRequest};
use koppel_domain::AdministrationId;
use koppel_domain::record::{ResourceSpec, Value, render_field};
use koppel_domain::settings::code_references;
use koppel_store::records::StoredRecord;
use koppel_store::{Store, Tx};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// What happens to one item in one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Remove,
    Unchanged,
}

/// One field that an update changes, both sides rendered for reading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    pub field: &'static str,
    pub before: String,
    pub after: String,
}

/// One item of one target's plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemPlan {
    pub category: SettingsCategory,
    pub code: String,
    pub name: String,
    pub action: Action,
    /// For updates: the fields that change.
    pub changes: Vec<FieldChange>,
    /// Set when the item was not selected but something selected refers to it.
    pub pulled_in_by: Option<(SettingsCategory, String)>,
}

/// Why something in a target's plan cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BlockReason {
    /// Daily data of the target still uses the code (work orders of a work type, …).
    UsedByDailyData { resource: &'static str },
    /// A settings item the target keeps still refers to it.
    UsedBySetting { category: SettingsCategory, code: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Blocker {
    pub category: SettingsCategory,
    pub code: String,
    pub reason: BlockReason,
}

/// What a sync would do to one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetPlan {
    pub target: AdministrationId,
    pub name: String,
    pub items: Vec<ItemPlan>,
    pub blockers: Vec<Blocker>,
    /// A digest of `items` and `blockers`: applying checks it is still the same.
    pub digest: String,
}

impl TargetPlan {
    pub fn count(&self, action: Action) -> usize {
        self.items.iter().filter(|i| i.action == action).count()
    }

    /// Whether applying would change anything.
    pub fn has_changes(&self) -> bool {
        self.items.iter().any(|i| i.action != Action::Unchanged)
    }
}

/// The preview of a whole sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub source: AdministrationId,
    pub selection: Selection,
    pub targets: Vec<TargetPlan>,
}

/// Settings items of one administration by category and code.
pub(crate) type Settings = BTreeMap<SettingsCategory, BTreeMap<String, StoredRecord>>;

/// The items to sync (selected or pulled in), with what pulled each in.
pub(crate) type Wanted = BTreeMap<(SettingsCategory, String), Option<(SettingsCategory, String)>>;

pub(crate) fn code_of(spec: &ResourceSpec, record: &StoredRecord) -> String {
    record.get(spec, "code").as_str().unwrap_or_default().to_string()
}

/// The name an item is shown by: its name, label or description.
fn display_name(spec: &ResourceSpec, record: &StoredRecord) -> String {
    ["name", "label", "description"]
        .into_iter()
        .find_map(|field| spec.field(field).and_then(|(index, _)| record.values[index].as_str()))
        .unwrap_or_default()
        .to_string()
}

pub(crate) async fn read_settings(
    tx: &mut Tx,
    administration: AdministrationId,
) -> Result<Settings, SettingsSyncError> {
    let mut settings = Settings::new();
    for category in SettingsCategory::ALL {
        let spec = category.spec();
        let records = tx.all_records(administration, spec).await?;
        settings.insert(category, records.into_iter().map(|r| (code_of(spec, &r), r)).collect());
    }
    Ok(settings)
}

/// Checks the request against the environment: the source is a main, the targets its own subs.
pub(crate) async fn validate(
    store: &Store,
    request: &SettingsSyncRequest,
) -> Result<Vec<(AdministrationId, String)>, SettingsSyncError> {
    let source = store.administration(request.source).await?;
    if !source.is_main {
        return Err(SettingsSyncError::NotMain);
    }
    if request.targets.is_empty() {
        return Err(SettingsSyncError::NoTargets);
    }
    if request.selection.touched().is_empty() {
        return Err(SettingsSyncError::NoCategories);
    }
    let environment = store.administrations(source.environment_id).await?;
    let mut targets = Vec::new();
    for target in &request.targets {
        let found = environment
            .iter()
            .find(|a| a.id == *target && !a.is_main)
            .ok_or(SettingsSyncError::NotASub(*target))?;
        if !targets.iter().any(|(id, _)| id == target) {
            targets.push((found.id, found.name.clone()));
        }
    }
    Ok(targets)
}

/// The selected items plus everything they refer to, transitively.
pub(crate) fn wanted(main: &Settings, selection: &Selection) -> Result<Wanted, SettingsSyncError> {
    let mut wanted = Wanted::new();
    for category in selection.touched() {
        let items = &main[&category];
        match selection.items.get(&category).filter(|codes| !codes.is_empty()) {
            Some(codes) => {
                for code in codes {
                    if !items.contains_key(code) {
                        return Err(SettingsSyncError::UnknownItem {
                            category,
                            code: code.clone(),
                        });
                    }
                    wanted.insert((category, code.clone()), None);
                }
            }
            None => {
                for code in items.keys() {
                    wanted.insert((category, code.clone()), None);
                }
            }
        }
    }
    let mut queue: Vec<(SettingsCategory, String)> = wanted.keys().cloned().collect();
    while let Some((category, code)) = queue.pop() {
        let spec = category.spec();
        let record = &main[&category][&code];
        for reference in code_references(spec, &record.values) {
            let Some(target) = SettingsCategory::parse(reference.target) else {
                continue;
            };
            let key = (target, reference.code.clone());
            if !wanted.contains_key(&key) && main[&target].contains_key(&reference.code) {
                wanted.insert(key.clone(), Some((category, code.clone())));
                queue.push(key);
            }
        }
    }
    Ok(wanted)
}

fn render(spec: &ResourceSpec, index: usize, value: &Value) -> String {
    match render_field(&spec.fields[index], value) {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(text) => text,
        other => other.to_string(),
    }
}

/// The fields that differ between the target's copy and the main's item (the code never does).
fn field_changes(spec: &ResourceSpec, main: &StoredRecord, target: &StoredRecord) -> Vec<FieldChange> {
    spec.fields
        .iter()
        .enumerate()
        .filter(|(index, field)| field.name != "code" && main.values[*index] != target.values[*index])
        .map(|(index, field)| FieldChange {
            field: field.name,
            before: render(spec, index, &target.values[index]),
            after: render(spec, index, &main.values[index]),
        })
        .collect()
}

/// The plan for one target, given the main's and the target's settings. `tx` sees the target (for
/// the daily-data question of removals).
pub(crate) async fn plan_target(
    tx: &mut Tx,
    target: (AdministrationId, &str),
    main: &Settings,
    wanted: &Wanted,
    selection: &Selection,
    theirs: &Settings,
) -> Result<TargetPlan, SettingsSyncError> {
    let mut items = Vec::new();
    for ((category, code), pulled_in_by) in wanted {
        let spec = category.spec();
        let ours = &main[category][code];
        let (action, changes) = match theirs[category].get(code) {
            None => (Action::Create, Vec::new()),
            Some(copy) => {
                let changes = field_changes(spec, ours, copy);
                let action = if changes.is_empty() {
                    Action::Unchanged
                } else {
                    Action::Update
                };
                (action, changes)
            }
        };
        items.push(ItemPlan {
            category: *category,
            code: code.clone(),
            name: display_name(spec, ours),
            action,
            changes,
            pulled_in_by: pulled_in_by.clone(),
        });
    }
    let mut removals: BTreeSet<(SettingsCategory, String)> = BTreeSet::new();
    if selection.mirror {
        for category in selection.whole() {
            for (code, copy) in &theirs[&category] {
                if !main[&category].contains_key(code) {
                    removals.insert((category, code.clone()));
                    items.push(ItemPlan {
                        category,
                        code: code.clone(),
                        name: display_name(category.spec(), copy),
                        action: Action::Remove,
                        changes: Vec::new(),
                        pulled_in_by: None,
                    });
                }
            }
        }
    }
    let blockers = removal_blockers(tx, target.0, main, wanted, theirs, &removals).await?;
    items.sort_by(|a, b| {
        (a.category.apply_order(), &a.code, a.action == Action::Remove).cmp(&(
            b.category.apply_order(),
            &b.code,
            b.action == Action::Remove,
        ))
    });
    let digest = digest(&items, &blockers);
    Ok(TargetPlan {
        target: target.0,
        name: target.1.to_string(),
        items,
        blockers,
        digest,
    })
}

/// A removal blocks when the target's daily data uses the code, or when a settings item the target
/// keeps (as it is, or as the main's version replaces it) still refers to it.
async fn removal_blockers(
    tx: &mut Tx,
    target: AdministrationId,
    main: &Settings,
    wanted: &Wanted,
    theirs: &Settings,
    removals: &BTreeSet<(SettingsCategory, String)>,
) -> Result<Vec<Blocker>, SettingsSyncError> {
    let mut blockers = Vec::new();
    if removals.is_empty() {
        return Ok(blockers);
    }
    // The target's settings after the sync, minus what goes.
    let mut after: Vec<(SettingsCategory, String, &StoredRecord)> = Vec::new();
    for (category, items) in theirs {
        for (code, record) in items {
            if removals.contains(&(*category, code.clone())) {
                continue;
            }
            let record = if wanted.contains_key(&(*category, code.clone())) {
                &main[category][code]
            } else {
                record
            };
            after.push((*category, code.clone(), record));
        }
    }
    for (category, code) in wanted.keys() {
        if !theirs[category].contains_key(code) {
            after.push((*category, code.clone(), &main[category][code]));
        }
    }
    for (category, code) in removals {
        for user in tx.daily_users_of_code(target, category.spec(), code).await? {
            blockers.push(Blocker {
                category: *category,
                code: code.clone(),
                reason: BlockReason::UsedByDailyData { resource: user.slug },
            });
        }
        for (other, other_code, record) in &after {
            let refers = code_references(other.spec(), &record.values)
                .iter()
                .any(|r| r.target == category.slug() && &r.code == code);
            if refers {
                blockers.push(Blocker {
                    category: *category,
                    code: code.clone(),
                    reason: BlockReason::UsedBySetting {
                        category: *other,
                        code: other_code.clone(),
                    },
                });
            }
        }
    }
    Ok(blockers)
}

fn digest(items: &[ItemPlan], blockers: &[Blocker]) -> String {
    let canonical = serde_json::to_vec(&(items, blockers)).expect("a plan serialises");
    hex::encode(Sha256::digest(canonical))
}

/// Previews a sync: the plan for every target, read from one consistent snapshot.
pub async fn preview(store: &Store, request: &SettingsSyncRequest) -> Result<Plan, SettingsSyncError> {
    let targets = validate(store, request).await?;
    let mut tx = store.snapshot().await?;
    let main = read_settings(&mut tx, request.source).await?;
    let wanted = wanted(&main, &request.selection)?;
    let mut plans = Vec::with_capacity(targets.len());
    for (target, name) in &targets {
        let theirs = read_settings(&mut tx, *target).await?;
        plans.push(plan_target(&mut tx, (*target, name), &main, &wanted, &request.selection, &theirs).await?);
    }
    tx.rollback().await?;
    Ok(Plan {
        source: request.source,
        selection: request.selection.clone(),
        targets: plans,
    })
}
