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
    pub kind: String,
    pub trigger: &'static str,
    pub status: &'static str,
    pub status_code: &'static str,
    pub started: String,
    pub queued: String,
    pub finished: String,
    pub duration: String,
    pub message: String,
    pub done: i64,
    pub total: i64,
    pub percent: i64,
    pub finished_run: bool,
    pub counts: Vec<(String, String)>,
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

pub fn view(lang: Lang, run: &Run) -> RunView {
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
    let counts = run
        .counts
        .as_object()
        .map(|counts| {
            counts
                .iter()
                .filter(|(_, value)| !value.is_array() && !value.is_object())
                .map(|(name, value)| {
                    let value = value.as_i64().map_or_else(|| value.to_string(), |n| lang.number(n));
                    (name.clone(), value)
                })
                .collect()
        })
        .unwrap_or_default();
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
    RunView {
        id: run.id.0,
        kind: kind_name(m, &run.kind),
        trigger: trigger_name(m, run.trigger),
        status: if run.recovering {
            m.status_recovering
        } else {
            status_name(m, run.status)
        },
        status_code: run.status.as_str(),
        started: run.started_at.map(|t| lang.date_time(t)).unwrap_or_default(),
        queued: lang.date_time(run.queued_at),
        finished: run.finished_at.map(|t| lang.date_time(t)).unwrap_or_default(),
        duration: duration_text(run),
        message,
        done: run.progress_done,
        total,
        percent,
        finished_run: run.status.is_finished(),
        counts,
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
    let page = ListPage {
        page: context.layout(Nav::Runs, m.runs_title, PATH),
        runs: found.runs.iter().map(|run| view(lang, run)).collect(),
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
    let readable_key = |key: &str| -> String {
        let (first, rest) = key.split_once('/').unwrap_or((key, ""));
        match names.get(first) {
            Some(name) if rest.is_empty() => name.clone(),
            Some(name) => format!("{name} · {rest}"),
            None => key.to_string(),
        }
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
    let mut shown = view(lang, &run);
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
        page: context.layout(Nav::Runs, &fill(m.run_title, &[&run_id.to_string()]), PATH),
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
