//! The run history of an administration: every background run (syncs, imports, exports) with its
//! outcome, and one run's page with a progress bar that follows the run live (Server-Sent Events
//! from the REST API, which accepts the session cookie).

use super::context::{Layout, Nav};
use super::i18n::{Lang, Messages, fill};
use super::path::{AdministrationPage, PagePath, RunPage};
use super::{Context, PageError, Visitor, html};
use crate::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use koppel_domain::rights::Right;
use koppel_jobs::RunId;
use koppel_jobs::runs::{ItemStatus, Run, RunFilter, RunStatus, Trigger};
use std::collections::HashMap;

const PATH: &str = "/runs";
const PAGE_SIZE: u32 = 25;

pub fn gates(context: &Context) -> Vec<String> {
    context.need_right(Right::ReadData).into_iter().collect()
}

pub fn kind_name(m: &'static Messages, kind: &str) -> String {
    match kind {
        "data_sync" => m.kind_data_sync.to_string(),
        "settings_sync" => m.kind_settings_sync.to_string(),
        "accountview_import" => m.kind_accountview_import.to_string(),
        "accountview_export" => m.kind_accountview_export.to_string(),
        other => fill(m.kind_other, &[other]),
    }
}

pub fn status_name(m: &'static Messages, status: RunStatus) -> &'static str {
    match status {
        RunStatus::Queued => m.status_queued,
        RunStatus::Running => m.status_running,
        RunStatus::Succeeded => m.status_succeeded,
        RunStatus::PartiallySucceeded => m.status_partially_succeeded,
        RunStatus::Failed => m.status_failed,
        RunStatus::Cancelled => m.status_cancelled,
    }
}

fn trigger_name(m: &'static Messages, trigger: Trigger) -> &'static str {
    match trigger {
        Trigger::Automatic => m.trigger_automatic,
        Trigger::Manual => m.trigger_manual,
        Trigger::Retry => m.trigger_retry,
    }
}

/// "2 min 5 s", "850 ms".
fn duration_text(run: &Run) -> String {
    let (Some(started), Some(finished)) = (run.started_at, run.finished_at) else {
        return String::new();
    };
    let millis = (finished - started).num_milliseconds().max(0);
    match millis {
        0..1000 => format!("{millis} ms"),
        1000..60_000 => format!("{} s", millis / 1000),
        _ => format!("{} min {} s", millis / 60_000, (millis % 60_000) / 1000),
    }
}

/// A run as the pages show it.
pub struct RunView {
    pub id: i64,
    /// What ran, how and when: "Data Sync · handmatig · 4 dec 14:16".
    pub title: String,
    pub kind: String,
    pub trigger: &'static str,
    pub status: &'static str,
    pub status_code: &'static str,
    pub started: String,
    pub queued: String,
    pub finished: String,
    pub duration: String,
    pub message: String,
    pub total: i64,
    /// Progress done and `total` written the way the visitor's language writes numbers.
    pub done_text: String,
    pub total_text: String,
    pub percent: i64,
    pub finished_run: bool,
    /// The counts that are no table cell, each with its label: "Subadministraties bijgewerkt: 2".
    pub counts: Vec<(String, String)>,
    /// The counts per kind of data: Klanten, Werkbonnen… × nieuw / gewijzigd / verwijderd.
    pub count_table: Option<CountTable>,
    /// Progress per target, for runs that work through several administrations (settings sync).
    pub targets: Vec<TargetProgress>,
}

/// One target of a run that handles several.
pub struct TargetProgress {
    pub id: i64,
    pub name: String,
    pub status_code: String,
    pub status: &'static str,
    pub done: bool,
}

/// A run's counts per kind of data, one row each, with a total row when the job wrote totals.
pub struct CountTable {
    pub columns: Vec<&'static str>,
    pub rows: Vec<CountRow>,
}

pub struct CountRow {
    pub label: String,
    pub total: bool,
    /// One cell per column; empty where the job wrote nothing.
    pub cells: Vec<String>,
}

/// What a count measures; the table's columns, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Measure {
    New,
    Changed,
    Deleted,
    Unchanged,
    Skipped,
    Fetched,
    Pages,
}

impl Measure {
    const ALL: [Measure; 7] = [
        Measure::New,
        Measure::Changed,
        Measure::Deleted,
        Measure::Unchanged,
        Measure::Skipped,
        Measure::Fetched,
        Measure::Pages,
    ];

    /// The names jobs give it: Data Sync says `inserted`, settings sync and AccountView `created`.
    fn parse(name: &str) -> Option<Measure> {
        Some(match name {
            "inserted" | "created" => Measure::New,
            "updated" => Measure::Changed,
            "deleted" | "removed" => Measure::Deleted,
            "unchanged" => Measure::Unchanged,
            "skipped" => Measure::Skipped,
            "fetched" => Measure::Fetched,
            "pages" => Measure::Pages,
            _ => return None,
        })
    }

    fn label(self, m: &'static Messages) -> &'static str {
        match self {
            Measure::New => m.count_new,
            Measure::Changed => m.count_changed,
            Measure::Deleted => m.count_deleted,
            Measure::Unchanged => m.count_unchanged,
            Measure::Skipped => m.count_skipped,
            Measure::Fetched => m.count_fetched,
            Measure::Pages => m.count_pages,
        }
    }
}

/// The kinds of data jobs count, in the order people expect them: Data Sync's entity sets
/// (koppel-datasync's `REPORTED`), then AccountView's import categories.
fn entity_label(m: &'static Messages, key: &str) -> Option<&'static str> {
    ENTITIES
        .iter()
        .find(|(name, _)| *name == key)
        .map(|(_, label)| label(m))
}

type EntityLabel = fn(&'static Messages) -> &'static str;

const ENTITIES: &[(&str, EntityLabel)] = &[
    ("Customers", |m| m.entity_customers),
    ("Addresses", |m| m.entity_addresses),
    ("ContactPersons", |m| m.entity_contact_persons),
    ("Objects", |m| m.entity_objects),
    ("Projects", |m| m.entity_projects),
    ("Employees", |m| m.entity_employees),
    ("Materials", |m| m.entity_materials),
    ("HourTypes", |m| m.entity_hour_types),
    ("WorkOrders", |m| m.entity_work_orders),
    ("WorkOrderHours", |m| m.entity_work_order_hours),
    ("WorkOrderMaterials", |m| m.entity_work_order_materials),
    ("Invoices", |m| m.entity_invoices),
    ("InvoiceLines", |m| m.entity_invoice_lines),
    ("Payments", |m| m.entity_payments),
    ("Quotes", |m| m.entity_quotes),
    ("vat_codes", |m| m.entity_vat_codes),
    ("ledger_accounts", |m| m.entity_ledger_accounts),
    ("journals", |m| m.entity_journals),
    ("cost_centres", |m| m.entity_cost_centres),
    ("article_groups", |m| m.entity_article_groups),
    ("debtors", |m| m.entity_debtors),
    ("articles", |m| m.entity_articles),
    ("payments", |m| m.entity_payment_status),
];

/// The counts that are no table cell, in the order they are shown; unknown keys come last.
const SINGLE_ORDER: &[&str] = &[
    "sync",
    "full",
    "rows_written",
    "targets_succeeded",
    "targets_failed",
    "exported",
    "confirmed",
    "failed",
    "pending",
    "posts",
    "read_backs",
    "runs",
    "run_items",
    "jobs",
];

/// The label of a count that is no table cell.
fn count_label(m: &'static Messages, key: &str) -> String {
    let known = match key {
        "sync" => m.count_sync_no,
        "full" => m.count_full,
        "rows_written" => m.count_rows_written,
        "targets_succeeded" => m.count_targets_succeeded,
        "targets_failed" => m.count_targets_failed,
        "exported" => m.count_exported,
        "confirmed" => m.count_confirmed,
        "failed" => m.count_failed,
        "pending" => m.count_pending,
        "posts" => m.count_posts,
        "read_backs" => m.count_read_backs,
        "runs" => m.count_runs_pruned,
        "run_items" => m.count_run_items_pruned,
        "jobs" => m.count_jobs_pruned,
        _ => return readable(key),
    };
    known.to_string()
}

/// A key no label was written for, still readable: `effect_applied` → "Effect applied",
/// `WorkOrderNotes` → "Work order notes".
fn readable(key: &str) -> String {
    let mut words = String::with_capacity(key.len() + 4);
    let mut previous_lower = false;
    for character in key.chars() {
        if matches!(character, '_' | '-' | '.') {
            words.push(' ');
            previous_lower = false;
            continue;
        }
        if character.is_uppercase() && previous_lower {
            words.push(' ');
        }
        previous_lower = character.is_lowercase() || character.is_ascii_digit();
        words.extend(character.to_lowercase());
    }
    let words = words.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut characters = words.chars();
    match characters.next() {
        Some(first) => first.to_uppercase().chain(characters).collect(),
        None => String::new(),
    }
}

fn value_text(lang: Lang, value: &serde_json::Value) -> String {
    let m = lang.messages();
    match value {
        serde_json::Value::Number(number) => number.as_i64().map_or_else(|| number.to_string(), |n| lang.number(n)),
        serde_json::Value::Bool(true) => m.word_yes.to_string(),
        serde_json::Value::Bool(false) => m.word_no.to_string(),
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The counts a job wrote, as a table per kind of data plus labelled single counts. Keys are
/// `Entity.measure` (Data Sync), `{entity: {measure: n}}` (AccountView), or a bare measure (a total);
/// `targets` is the progress per target and is shown there.
fn count_parts(lang: Lang, counts: &serde_json::Value) -> (Option<CountTable>, Vec<(String, String)>) {
    let m = lang.messages();
    let Some(counts) = counts.as_object() else {
        return (None, Vec::new());
    };
    // Per entity (`None` is the total), per measure.
    let mut cells: Vec<(Option<String>, Measure, i64)> = Vec::new();
    let mut single = Vec::new();
    let mut add_single = |key: &str, value: &serde_json::Value| {
        let order = SINGLE_ORDER
            .iter()
            .position(|known| *known == key)
            .unwrap_or(SINGLE_ORDER.len());
        single.push((order, count_label(m, key), value_text(lang, value)));
    };
    for (key, value) in counts {
        if key == "targets" && value.is_array() {
            continue;
        }
        match value {
            serde_json::Value::Object(inner) => {
                for (measure_name, inner_value) in inner {
                    match (Measure::parse(measure_name), inner_value.as_i64()) {
                        (Some(measure), Some(n)) => cells.push((Some(key.clone()), measure, n)),
                        _ => add_single(&format!("{key}.{measure_name}"), inner_value),
                    }
                }
            }
            _ => {
                let (entity, measure_name) = match key.rsplit_once('.') {
                    Some((entity, measure)) => (Some(entity.to_string()), measure),
                    None => (None, key.as_str()),
                };
                match (Measure::parse(measure_name), value.as_i64()) {
                    (Some(measure), Some(n)) => cells.push((entity, measure, n)),
                    _ => add_single(key, value),
                }
            }
        }
    }
    single.sort_by_key(|(order, _, _)| *order);
    let single: Vec<(String, String)> = single.into_iter().map(|(_, label, value)| (label, value)).collect();
    if cells.is_empty() {
        return (None, single);
    }
    let columns: Vec<Measure> = Measure::ALL
        .into_iter()
        .filter(|measure| cells.iter().any(|(_, m, _)| m == measure))
        .collect();
    let mut entities: Vec<String> = Vec::new();
    for (entity, _, _) in &cells {
        if let Some(entity) = entity
            && !entities.contains(entity)
        {
            entities.push(entity.clone());
        }
    }
    let position = |entity: &str| {
        ENTITIES
            .iter()
            .position(|(name, _)| *name == entity)
            .unwrap_or(ENTITIES.len())
    };
    entities.sort_by(|a, b| position(a).cmp(&position(b)).then_with(|| a.cmp(b)));
    let row = |entity: Option<&str>| -> Vec<Option<i64>> {
        columns
            .iter()
            .map(|column| {
                cells
                    .iter()
                    .find(|(e, measure, _)| e.as_deref() == entity && measure == column)
                    .map(|(_, _, n)| *n)
            })
            .collect()
    };
    let text = |values: Vec<Option<i64>>| -> Vec<String> {
        values
            .into_iter()
            .map(|value| value.map_or(String::new(), |n| lang.number(n)))
            .collect()
    };
    let mut rows: Vec<CountRow> = entities
        .iter()
        .map(|entity| (entity, row(Some(entity))))
        // A kind of data nothing happened to says nothing; the total row still shows it.
        .filter(|(_, values)| values.iter().any(|v| v.is_some_and(|n| n != 0)))
        .map(|(entity, values)| CountRow {
            label: entity_label(m, entity).map_or_else(|| readable(entity), str::to_string),
            total: false,
            cells: text(values),
        })
        .collect();
    let totals = row(None);
    if totals.iter().any(Option::is_some) {
        rows.push(CountRow {
            label: m.count_total.to_string(),
            total: true,
            cells: text(totals),
        });
    } else if rows.is_empty() {
        // Every kind of data was zero and there is no total: show them all rather than nothing.
        rows = entities
            .iter()
            .map(|entity| CountRow {
                label: entity_label(m, entity).map_or_else(|| readable(entity), str::to_string),
                total: false,
                cells: text(row(Some(entity))),
            })
            .collect();
    }
    let table = CountTable {
        columns: columns.into_iter().map(|measure| measure.label(m)).collect(),
        rows,
    };
    (Some(table), single)
}

/// A run's title: what ran, how and when ("Data Sync · handmatig · 4 dec 14:16").
pub fn title(lang: Lang, run: &Run, now: DateTime<Utc>) -> String {
    let m = lang.messages();
    let when = run.started_at.unwrap_or(run.queued_at);
    format!(
        "{} · {} · {}",
        kind_name(m, &run.kind),
        trigger_name(m, run.trigger).to_lowercase(),
        lang.date_time_short(when, now)
    )
}

/// AccountView's export has one item per work order, keyed by its record id (`work-orders/1554`):
/// "Werkbon (intern nummer 1554)".
pub fn work_order_item(m: &Messages, key: &str) -> Option<String> {
    key.strip_prefix("work-orders/")
        .filter(|id| !id.is_empty())
        .map(|id| fill(m.item_work_order, &[id]))
}

/// A run as the pages show it, with times relative to `now` ("vandaag 14:16").
pub fn view_at(lang: Lang, run: &Run, now: DateTime<Utc>) -> RunView {
    let m = lang.messages();
    let message = run.message.as_ref().map_or(String::new(), |message| match lang {
        Lang::Nl => message.nl.clone(),
        Lang::En => message.en.clone(),
    });
    let total = run.progress_total.unwrap_or(0);
    let percent = if run.status.is_finished() && run.status == RunStatus::Succeeded {
        100
    } else if total > 0 {
        (run.progress_done * 100 / total).clamp(0, 100)
    } else {
        0
    };
    let (count_table, counts) = count_parts(lang, &run.counts);
    let targets = run.counts["targets"]
        .as_array()
        .map(|targets| {
            targets
                .iter()
                .map(|target| {
                    let status_code = target["status"].as_str().unwrap_or("queued").to_string();
                    let status = RunStatus::parse(&status_code).map_or(m.status_queued, |s| status_name(m, s));
                    TargetProgress {
                        id: target["id"].as_i64().unwrap_or_default(),
                        name: target["name"].as_str().unwrap_or_default().to_string(),
                        done: matches!(status_code.as_str(), "succeeded" | "failed"),
                        status_code,
                        status,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let when = |moment: DateTime<Utc>| lang.date_time_relative(moment, now);
    RunView {
        id: run.id.0,
        title: title(lang, run, now),
        kind: kind_name(m, &run.kind),
        trigger: trigger_name(m, run.trigger),
        status: if run.recovering {
            m.status_recovering
        } else {
            status_name(m, run.status)
        },
        status_code: run.status.as_str(),
        started: run.started_at.map(when).unwrap_or_default(),
        queued: when(run.queued_at),
        finished: run.finished_at.map(when).unwrap_or_default(),
        duration: duration_text(run),
        message,
        total,
        done_text: lang.number(run.progress_done),
        total_text: lang.number(total),
        percent,
        finished_run: run.status.is_finished(),
        counts,
        count_table,
        targets,
    }
}

#[derive(Template)]
#[template(path = "runs.html")]
struct ListPage {
    page: Layout,
    runs: Vec<RunView>,
    older: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    visitor: Visitor,
    PagePath(path): PagePath<AdministrationPage>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let lang = visitor.lang;
    let context = Context::enter(&state, visitor, path.administration).await?;
    let m = context.m();
    context.require(Nav::Runs, m.runs_title, PATH, gates(&context))?;
    let before = query.get("before").and_then(|b| b.parse::<i64>().ok()).map(RunId);
    let filter = RunFilter {
        before,
        limit: PAGE_SIZE,
        ..RunFilter::default()
    };
    let found = koppel_jobs::runs::list(&state.store, context.administration.id, &filter).await?;
    let now = state.store.now();
    let page = ListPage {
        page: context.layout(Nav::Runs, m.runs_title, PATH),
        runs: found.runs.iter().map(|run| view_at(lang, run, now)).collect(),
        older: found
            .next_before
            .map(|before| format!("{}{PATH}?before={before}", context.base())),
    };
    Ok(html(StatusCode::OK, page.render()))
}

pub struct ItemView {
    pub key: String,
    pub status: &'static str,
    pub message: String,
}

#[derive(Template)]
#[template(path = "run.html")]
struct DetailPage {
    page: Layout,
    run: RunView,
    items: Vec<ItemView>,
    events_url: String,
    /// The status names in this language, for the live script.
    status_names: String,
    /// Who started it and, for settings syncs, what was synced where.
    facts: Vec<(&'static str, String)>,
}

/// What the run page tells about a run beyond its state: who started it and, for a settings
/// sync, its targets, categories and mirror mode (from the job, while the job is kept).
async fn facts(
    state: &AppState,
    m: &'static Messages,
    lang: Lang,
    run: &Run,
    names: &HashMap<String, String>,
) -> Result<Vec<(&'static str, String)>, PageError> {
    let mut facts = Vec::new();
    if let Some(user) = run.started_by {
        let name = state
            .store
            .user(user)
            .await
            .map(|u| u.name)
            .unwrap_or_else(|_| user.to_string());
        facts.push((m.run_started_by, name));
    }
    if run.kind == koppel_settingsync::job::KIND
        && let Ok(job) = koppel_jobs::storage::jobs::job(&state.store, run.job_id).await
        && let Ok(payload) = serde_json::from_value::<koppel_settingsync::job::SettingsSyncPayload>(job.payload)
    {
        let targets: Vec<String> = payload
            .targets
            .iter()
            .map(|(id, _)| names.get(&id.to_string()).cloned().unwrap_or_else(|| id.to_string()))
            .collect();
        facts.push((m.run_targets, targets.join(", ")));
        let categories: Vec<String> = payload
            .selection
            .touched()
            .into_iter()
            .map(|c| match lang {
                Lang::Nl => c.name_nl().to_string(),
                Lang::En => c.name_en().to_string(),
            })
            .collect();
        facts.push((m.run_categories, categories.join(", ")));
        let mirror = if payload.selection.mirror {
            m.word_yes
        } else {
            m.word_no
        };
        facts.push((m.run_mirror, mirror.to_string()));
    }
    Ok(facts)
}

pub async fn detail(
    State(state): State<AppState>,
    visitor: Visitor,
    PagePath(path): PagePath<RunPage>,
) -> Result<Response, PageError> {
    let lang = visitor.lang;
    let run_id = RunId(path.run);
    let context = Context::enter(&state, visitor, path.administration).await?;
    let m = context.m();
    context.require(Nav::Runs, m.runs_title, PATH, gates(&context))?;
    let run = koppel_jobs::runs::run(&state.store, context.administration.id, run_id)
        .await
        .map_err(|_| PageError::NotFound(lang))?;
    let items = koppel_jobs::runs::items(&state.store, context.administration.id, run_id, None, 200).await?;
    // Item keys that start with an administration id (settings sync: `12`, `12/forms/F-CV`) show
    // the administration's name instead.
    let names: HashMap<String, String> = state
        .store
        .administrations(context.administration.environment_id)
        .await?
        .into_iter()
        .map(|a| (a.id.to_string(), a.name))
        .collect();
    // Settings sync: `12/templates/T-FACTUUR` reads "Vestiging Utrecht · Sjablonen · T-FACTUUR".
    let readable_key = |key: &str| -> String {
        let mut parts = key.splitn(3, '/');
        let first = parts.next().unwrap_or_default();
        let Some(name) = names.get(first) else {
            return work_order_item(m, key).unwrap_or_else(|| key.to_string());
        };
        let mut shown = vec![name.clone()];
        match (parts.next(), parts.next()) {
            (Some(slug), Some(code)) => {
                match koppel_settingsync::SettingsCategory::parse(slug) {
                    Some(category) => shown.push(
                        match lang {
                            Lang::Nl => category.name_nl(),
                            Lang::En => category.name_en(),
                        }
                        .to_string(),
                    ),
                    None => shown.push(readable(slug)),
                }
                shown.push(code.to_string());
            }
            (Some(rest), None) => shown.push(rest.to_string()),
            _ => {}
        }
        shown.join(" · ")
    };
    let items = items
        .items
        .iter()
        .map(|item| ItemView {
            key: readable_key(&item.key),
            status: match item.status {
                ItemStatus::Succeeded => m.item_succeeded,
                ItemStatus::Failed => m.item_failed,
                ItemStatus::Skipped => m.item_skipped,
            },
            message: item.message.as_ref().map_or(String::new(), |message| match lang {
                Lang::Nl => message.nl.clone(),
                Lang::En => message.en.clone(),
            }),
        })
        .collect();
    let statuses = [
        RunStatus::Queued,
        RunStatus::Running,
        RunStatus::Succeeded,
        RunStatus::PartiallySucceeded,
        RunStatus::Failed,
        RunStatus::Cancelled,
    ];
    let status_names = serde_json::Value::Object(
        statuses
            .into_iter()
            .map(|s| (s.as_str().to_string(), serde_json::Value::from(status_name(m, s))))
            .collect(),
    )
    .to_string();
    let facts = facts(&state, m, lang, &run, &names).await?;
    let now = state.store.now();
    let mut shown = view_at(lang, &run, now);
    if shown.targets.is_empty()
        && run.kind == koppel_settingsync::job::KIND
        && let Ok(job) = koppel_jobs::storage::jobs::job(&state.store, run.job_id).await
        && let Ok(payload) = serde_json::from_value::<koppel_settingsync::job::SettingsSyncPayload>(job.payload)
    {
        // Not started yet: every target waits.
        shown.targets = payload
            .targets
            .iter()
            .map(|(id, _)| TargetProgress {
                id: id.0,
                name: names.get(&id.to_string()).cloned().unwrap_or_else(|| id.to_string()),
                status_code: "queued".to_string(),
                status: m.status_queued,
                done: false,
            })
            .collect();
    }
    let page = DetailPage {
        facts,
        page: context.layout(Nav::Runs, &shown.title, PATH),
        events_url: format!(
            "/api/v1/administrations/{}/runs/{run_id}/events",
            context.administration.id
        ),
        run: shown,
        items,
        status_names,
    };
    Ok(html(StatusCode::OK, page.render()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn table_text(table: &CountTable) -> Vec<String> {
        let mut lines = vec![table.columns.join(" | ")];
        lines.extend(
            table
                .rows
                .iter()
                .map(|row| format!("{}: {}", row.label, row.cells.join(" | "))),
        );
        lines
    }

    #[test]
    fn an_accountview_import_counts_per_category_and_adds_up() {
        let counts = json!({
            "debtors": {"fetched": 231, "created": 199, "updated": 0, "unchanged": 32, "skipped": 0, "pages": 3},
            "vat_codes": {"fetched": 4, "created": 4, "updated": 0, "unchanged": 0, "skipped": 0, "pages": 1},
        });
        let (table, single) = count_parts(Lang::Nl, &counts);
        let table = table.expect("a table");
        assert_eq!(
            table_text(&table),
            [
                "nieuw | gewijzigd | ongewijzigd | overgeslagen | opgehaald | pagina's",
                "Btw-codes: 4 | 0 | 0 | 0 | 4 | 1",
                "Debiteuren: 199 | 0 | 32 | 0 | 231 | 3",
            ]
        );
        assert!(single.is_empty());
    }

    #[test]
    fn an_accountview_export_and_unknown_keys_read_as_words() {
        let counts = json!({"exported": 1200, "confirmed": 1, "failed": 0, "pending": 0, "posts": 1201,
                            "read_backs": 2, "newFeature_count": 3, "detail": {"x": "y"}});
        let (table, single) = count_parts(Lang::En, &counts);
        assert!(table.is_none());
        let single: Vec<String> = single
            .iter()
            .map(|(label, value)| format!("{label}: {value}"))
            .collect();
        assert_eq!(
            single,
            [
                "Exported: 1,200",
                "Already in AccountView: 1",
                "Failed: 0",
                "Still open: 0",
                "Sent to AccountView: 1,201",
                "Read back from AccountView: 2",
                "Detail x: y",
                "New feature count: 3",
            ]
        );
    }

    #[test]
    fn readable_keys() {
        assert_eq!(readable("effect_applied"), "Effect applied");
        assert_eq!(readable("WorkOrderNotes"), "Work order notes");
        assert_eq!(readable("rows.written"), "Rows written");
    }
}
