//! The settings sync wizard, hung on the main's action menu on the Administrations page: choose
//! targets and what to sync, look at the preview, confirm. The sync then runs in the background and
//! the visitor lands on its run page (live progress, results per target).

use super::context::{Layout, Nav, form};
use super::i18n::{Lang, Messages, fill};
use super::path::{AdministrationPage, PagePath};
use super::{Context, Flash, FormData, PageError, Visitor, html, redirect_with_flash};
use crate::AppState;
use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use koppel_domain::AdministrationId;
use koppel_domain::licence::PowerUp;
use koppel_domain::record::FieldKind;
use koppel_domain::rights::Right;
use koppel_settingsync::job::{Confirmation, TargetStatus, confirm, targets};
use koppel_settingsync::{
    Action, BlockReason, Blocker, Plan, Selection, SettingsCategory, SettingsSyncError, SettingsSyncRequest, preview,
};
use std::collections::{BTreeMap, BTreeSet};

const PATH: &str = "/settings/administrations";

fn gates(context: &Context) -> Vec<String> {
    [
        context.need_main(),
        context.need_licence(PowerUp::SubAdministrations),
        context.need_right(Right::SyncSettings),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn category_name(lang: Lang, category: SettingsCategory) -> &'static str {
    match lang {
        Lang::Nl => category.name_nl(),
        Lang::En => category.name_en(),
    }
}

/// The selection as the form sent it: `target`, `category`, `item` (`slug:code`) and `mirror`.
fn read_selection(source: AdministrationId, data: &FormData) -> SettingsSyncRequest {
    let mut selection = Selection {
        mirror: data.get("mirror").is_some(),
        ..Selection::default()
    };
    selection.categories = data.all("category").filter_map(SettingsCategory::parse).collect();
    for item in data.all("item") {
        if let Some((slug, code)) = item.split_once(':')
            && let Some(category) = SettingsCategory::parse(slug)
        {
            selection.items.entry(category).or_default().insert(code.to_string());
        }
    }
    SettingsSyncRequest {
        source,
        targets: data
            .all("target")
            .filter_map(|t| t.parse::<i64>().ok())
            .map(AdministrationId)
            .collect(),
        selection,
    }
}

/// The same selection as query pairs, for links and hidden fields.
fn selection_pairs(request: &SettingsSyncRequest) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = request
        .targets
        .iter()
        .map(|t| ("target".to_string(), t.to_string()))
        .collect();
    pairs.extend(
        request
            .selection
            .categories
            .iter()
            .map(|c| ("category".to_string(), c.slug().to_string())),
    );
    for (category, codes) in &request.selection.items {
        pairs.extend(
            codes
                .iter()
                .map(|code| ("item".to_string(), format!("{}:{code}", category.slug()))),
        );
    }
    if request.selection.mirror {
        pairs.push(("mirror".to_string(), "on".to_string()));
    }
    pairs
}

fn query_string(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", super::context::encode_component(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A target on the selection page.
pub struct TargetRow {
    pub status: TargetStatus,
    pub last: String,
    pub checked: bool,
}

/// A category on the selection page, with the main's items to pick from.
pub struct CategoryRow {
    pub slug: &'static str,
    pub name: &'static str,
    /// How many items the main has, written the visitor's way.
    pub count: String,
    pub checked: bool,
    pub items: Vec<(String, String, bool)>,
}

#[derive(Template)]
#[template(path = "sync_select.html")]
struct SelectPage {
    page: Layout,
    intro: String,
    targets: Vec<TargetRow>,
    categories: Vec<CategoryRow>,
    mirror: bool,
    error: Option<String>,
}

async fn render_select(
    state: &AppState,
    context: &Context,
    chosen: Option<&SettingsSyncRequest>,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let m = context.m();
    let lang = context.lang();
    let source = context.administration.id;
    let statuses = targets(&state.store, source).await.map_err(sync_store_error)?;
    let now = state.store.now();
    let target_rows = statuses
        .into_iter()
        .map(|status| TargetRow {
            last: status.last_synced_at.map_or(m.sync_never.to_string(), |at| {
                fill(m.sync_last, &[&lang.date_time_relative(at, now)])
            }),
            checked: chosen.is_some_and(|c| c.targets.contains(&status.target)),
            status,
        })
        .collect();
    let mut tx = state.store.snapshot().await?;
    let mut categories = Vec::new();
    for category in SettingsCategory::ALL {
        let spec = category.spec();
        let records = tx.all_records(source, spec).await?;
        let picked: BTreeSet<String> = chosen
            .and_then(|c| c.selection.items.get(&category))
            .cloned()
            .unwrap_or_default();
        let items = records
            .iter()
            .map(|record| {
                let code = record.get(spec, "code").as_str().unwrap_or_default().to_string();
                let name = ["name", "label", "description"]
                    .into_iter()
                    .find_map(|f| spec.field(f).and_then(|(i, _)| record.values[i].as_str()))
                    .unwrap_or_default()
                    .to_string();
                let checked = picked.contains(&code);
                (code, name, checked)
            })
            .collect();
        categories.push(CategoryRow {
            count: lang.number(records.len() as i64),
            slug: category.slug(),
            name: category_name(lang, category),
            checked: chosen.is_some_and(|c| c.selection.categories.contains(&category)),
            items,
        });
    }
    tx.rollback().await?;
    let page = SelectPage {
        page: context.layout(Nav::Administrations, m.sync_title, PATH),
        intro: fill(m.sync_intro, &[&context.administration.name]),
        targets: target_rows,
        categories,
        mirror: chosen.is_some_and(|c| c.selection.mirror),
        error,
    };
    Ok(html(status, page.render()))
}

fn sync_store_error(error: SettingsSyncError) -> PageError {
    match error {
        SettingsSyncError::Store(store) => store.into(),
        _ => PageError::Internal,
    }
}

/// `GET …/settings/administrations/sync`: steps 1 and 2.
pub async fn select(
    State(state): State<AppState>,
    visitor: Visitor,
    PagePath(path): PagePath<AdministrationPage>,
) -> Result<Response, PageError> {
    let context = Context::enter(&state, visitor, path.administration).await?;
    context.require(Nav::Administrations, context.m().sync_title, PATH, gates(&context))?;
    render_select(&state, &context, None, None, StatusCode::OK).await
}

/// A user-facing reason for a refused request.
fn refusal(m: &'static Messages, error: &SettingsSyncError) -> String {
    match error {
        SettingsSyncError::NoTargets => m.sync_no_targets.to_string(),
        SettingsSyncError::NoCategories => m.sync_no_categories.to_string(),
        other => fill(m.sync_invalid, &[&other.to_string()]),
    }
}

/// One changed field of an item, by its label: "Voettekst: oud → nieuw".
pub struct ChangeRow {
    pub label: String,
    pub before: String,
    pub after: String,
    /// Structured values (form fields, steps, options) are not shown as text, only that they change.
    pub values: bool,
}

/// One item of a target's preview, as shown.
pub struct ItemRow {
    pub category: &'static str,
    /// The item's name, or its code when it has none.
    pub name: String,
    pub action: &'static str,
    pub action_class: &'static str,
    pub note: String,
    pub changes: Vec<ChangeRow>,
}

/// A changed field as the preview shows it: its label, and both values in the visitor's words.
fn change_row(lang: Lang, category: SettingsCategory, change: &koppel_settingsync::FieldChange) -> ChangeRow {
    let m = lang.messages();
    let kind = category.spec().field(change.field).map(|(_, spec)| spec.kind);
    let shown = |value: &str| -> String {
        match (kind, value) {
            (_, "") => m.sync_empty.to_string(),
            (Some(FieldKind::Bool), "true") => m.word_yes.to_string(),
            (Some(FieldKind::Bool), "false") => m.word_no.to_string(),
            _ => value.to_string(),
        }
    };
    ChangeRow {
        label: koppel_settingsync::field_name(change.field, lang == Lang::Nl),
        values: !matches!(kind, Some(FieldKind::Json(_))),
        before: shown(&change.before),
        after: shown(&change.after),
    }
}

/// One target's preview, as shown.
pub struct TargetPreview {
    pub id: i64,
    pub name: String,
    pub summary: String,
    pub digest: String,
    pub rows: Vec<ItemRow>,
    pub blockers: Vec<String>,
    pub nothing: bool,
}

#[derive(Template)]
#[template(path = "sync_preview.html")]
struct PreviewPage {
    page: Layout,
    notice: Option<String>,
    targets: Vec<TargetPreview>,
    hidden: Vec<(String, String)>,
    back: String,
    blocked: bool,
}

fn blocker_text(m: &'static Messages, lang: Lang, blocker: &Blocker) -> String {
    let item = format!("{} {}", category_name(lang, blocker.category), blocker.code);
    match &blocker.reason {
        BlockReason::UsedByDailyData { resource } => fill(m.sync_used_by_daily, &[&item, resource]),
        BlockReason::UsedBySetting { category, code } => fill(
            m.sync_used_by_setting,
            &[&item, &format!("{} {code}", category_name(lang, *category))],
        ),
    }
}

fn render_preview(
    context: &Context,
    plan: &Plan,
    request: &SettingsSyncRequest,
    notice: Option<String>,
    status: StatusCode,
) -> Response {
    let m = context.m();
    let lang = context.lang();
    let targets = plan
        .targets
        .iter()
        .map(|target| {
            let counts = [Action::Create, Action::Update, Action::Remove, Action::Unchanged]
                .map(|a| lang.number(target.count(a) as i64));
            let rows = target
                .items
                .iter()
                .filter(|item| item.action != Action::Unchanged)
                .map(|item| ItemRow {
                    category: category_name(lang, item.category),
                    name: if item.name.is_empty() {
                        item.code.clone()
                    } else {
                        item.name.clone()
                    },
                    action: match item.action {
                        Action::Create => m.sync_create,
                        Action::Update => m.sync_update,
                        Action::Remove => m.sync_remove,
                        Action::Unchanged => m.sync_unchanged,
                    },
                    action_class: match item.action {
                        Action::Create => "create",
                        Action::Update => "update",
                        Action::Remove => "remove",
                        Action::Unchanged => "unchanged",
                    },
                    note: item.pulled_in_by.as_ref().map_or(String::new(), |(category, code)| {
                        // The referring item by its name, as the rows name items.
                        let name = target
                            .items
                            .iter()
                            .find(|other| other.category == *category && other.code == *code)
                            .map_or(code.as_str(), |other| other.name.as_str());
                        fill(
                            m.sync_pulled_in,
                            &[&format!("{} · {name}", category_name(lang, *category))],
                        )
                    }),
                    changes: item
                        .changes
                        .iter()
                        .map(|change| change_row(lang, item.category, change))
                        .collect(),
                })
                .collect();
            TargetPreview {
                id: target.target.0,
                name: target.name.clone(),
                summary: fill(m.sync_summary, &counts.each_ref().map(String::as_str)),
                digest: target.digest.clone(),
                rows,
                blockers: target.blockers.iter().map(|b| blocker_text(m, lang, b)).collect(),
                nothing: !target.has_changes(),
            }
        })
        .collect::<Vec<_>>();
    let pairs = selection_pairs(request);
    let page = PreviewPage {
        page: context.layout(Nav::Administrations, m.sync_title, PATH),
        notice,
        blocked: targets.iter().any(|t| !t.blockers.is_empty()),
        back: format!("{}{PATH}/sync?{}", context.base(), query_string(&pairs)),
        hidden: pairs,
        targets,
    };
    html(status, page.render())
}

/// `GET …/settings/administrations/sync/preview?target=…&category=…`: step 3.
pub async fn show_preview(
    State(state): State<AppState>,
    visitor: Visitor,
    PagePath(path): PagePath<AdministrationPage>,
    Query(query): Query<FormData>,
) -> Result<Response, PageError> {
    let context = Context::enter(&state, visitor, path.administration).await?;
    let m = context.m();
    context.require(Nav::Administrations, m.sync_title, PATH, gates(&context))?;
    let request = read_selection(context.administration.id, &query);
    match preview(&state.store, &request).await {
        Ok(plan) => Ok(render_preview(&context, &plan, &request, None, StatusCode::OK)),
        Err(SettingsSyncError::Store(error)) => Err(error.into()),
        Err(error) => {
            let reason = refusal(m, &error);
            render_select(
                &state,
                &context,
                Some(&request),
                Some(reason),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

/// `POST …/settings/administrations/sync`: step 4, confirm.
pub async fn start(
    State(state): State<AppState>,
    visitor: Visitor,
    PagePath(path): PagePath<AdministrationPage>,
    body: Result<Form<FormData>, FormRejection>,
) -> Result<Response, PageError> {
    let data = form(body, &visitor)?;
    let context = Context::enter(&state, visitor, path.administration).await?;
    let m = context.m();
    context.require(Nav::Administrations, m.sync_title, PATH, gates(&context))?;
    let request = read_selection(context.administration.id, &data);
    let digests: BTreeMap<AdministrationId, String> = request
        .targets
        .iter()
        .filter_map(|t| data.get(&format!("digest-{t}")).map(|d| (*t, d.to_string())))
        .collect();
    match confirm(&state.store, &request, &digests, context.visitor.user.id).await {
        Ok(Confirmation::Enqueued { run, joined }) => {
            let flash = if joined {
                Flash::SettingsSyncJoined
            } else {
                Flash::SettingsSyncStarted
            };
            Ok(redirect_with_flash(&format!("{}/runs/{run}", context.base()), flash))
        }
        Ok(Confirmation::Outdated(plan)) => Ok(render_preview(
            &context,
            &plan,
            &request,
            Some(m.sync_outdated.to_string()),
            StatusCode::CONFLICT,
        )),
        Ok(Confirmation::Blocked(plan)) => Ok(render_preview(
            &context,
            &plan,
            &request,
            Some(m.sync_has_blockers.to_string()),
            StatusCode::UNPROCESSABLE_ENTITY,
        )),
        Err(SettingsSyncError::Store(error)) => Err(error.into()),
        Err(error) => {
            let reason = refusal(m, &error);
            render_select(
                &state,
                &context,
                Some(&request),
                Some(reason),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}
