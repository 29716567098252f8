//! Settings → Data Sync: the Autosync switch, Sync now (or following the sync that runs), how fresh
//! Power BI's data is, the sync history, and the Power BI connection with its feed tokens.
//!
//! Forms follow POST-redirect-GET with a CSRF token, except creating a feed token: its secret is
//! shown once, on the answer to the POST itself, and never stored where a redirect could fetch it.
//! A full resync and revoking a token are reached through a confirmation page (GET) that says
//! what they cost or stop; its danger button posts the form.

use super::confirm::Confirmation;
use super::context::{Layout, Nav, form};
use super::i18n::fill;
use super::path::{AdministrationPage, FeedTokenPage, PagePath};
use super::runs::{RunView, view_at};
use super::settings::datasync_gates;
use super::{
    Context, Flash, FormData, PageError, Visitor, html, redirect, redirect_with_flash, redirect_with_flash_about,
};
use crate::AppState;
use crate::external::ExternalBase;
use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use koppel_datasync::state::AutosyncSwitch;
use koppel_datasync::tokens::FeedTokenId;
use koppel_domain::{AdministrationId, UserId};
use koppel_jobs::Enqueued;
use koppel_jobs::runs::{RunFilter, RunStatus};
use koppel_store::StoreError;
use std::collections::HashMap;

const PATH: &str = "/settings/datasync";
const HISTORY_PAGE: u32 = 20;

/// One feed token as listed.
pub struct TokenView {
    pub id: i64,
    pub name: String,
    pub created: String,
    pub last_used: String,
    pub revoked: bool,
}

/// A history row: the run and its row counts.
pub struct HistoryRow {
    pub run: RunView,
    pub rows: String,
}

#[derive(Template)]
#[template(path = "datasync.html")]
struct DatasyncPage {
    page: Layout,
    intro: &'static str,
    freshness: String,
    autosync: bool,
    autosync_changed: String,
    running: Option<i64>,
    history: Vec<HistoryRow>,
    older: Option<String>,
    feed_url: String,
    feed_user: String,
    power_query_import: String,
    power_query_incremental: String,
    tokens: Vec<TokenView>,
    new_token: Option<NewToken>,
    token_error: Option<&'static str>,
}

/// A token just created: its name and its secret, shown on this one answer only.
pub struct NewToken {
    /// "Nieuw feedtoken Power BI Desktop".
    pub label: String,
    pub secret: String,
}

/// `GET /a/{id}/settings/datasync`.
pub async fn page(
    State(state): State<AppState>,
    visitor: Visitor,
    external: ExternalBase,
    PagePath(path): PagePath<AdministrationPage>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let context = Context::enter(&state, visitor, path.administration).await?;
    let before = query.get("before").and_then(|v| v.parse::<i64>().ok());
    render(&state, &context, &external, before, None, None).await
}

async fn render(
    state: &AppState,
    context: &Context,
    external: &ExternalBase,
    before: Option<i64>,
    new_token: Option<NewToken>,
    token_error: Option<&'static str>,
) -> Result<Response, PageError> {
    let m = context.m();
    let lang = context.lang();
    let gates = datasync_gates(context);
    if !gates.is_empty() {
        return Ok(context.gate(Nav::Datasync, m.datasync_title, PATH, gates));
    }
    let administration = context.administration.id;
    let status = koppel_datasync::state::read(&state.store, administration).await?;
    let freshness = match status.synced_at {
        Some(at) => fill(m.ds_freshness, &[&lang.date_time(at)]),
        None => m.ds_never_synced.to_string(),
    };
    let autosync_changed = match (status.autosync_changed_at, status.autosync_changed_by) {
        (Some(at), by) => {
            let name = match by {
                Some(user) => state
                    .store
                    .user(UserId(user.0))
                    .await
                    .map(|u| u.name)
                    .unwrap_or_default(),
                None => String::new(),
            };
            fill(m.ds_autosync_changed, &[&lang.date_time(at), &name])
        }
        _ => String::new(),
    };
    let page = koppel_jobs::runs::list(
        &state.store,
        administration,
        &RunFilter {
            kind: Some(koppel_datasync::KIND.to_string()),
            before: before.map(koppel_jobs::RunId),
            limit: HISTORY_PAGE,
            ..RunFilter::default()
        },
    )
    .await?;
    let running = page
        .runs
        .iter()
        .find(|run| matches!(run.status, RunStatus::Queued | RunStatus::Running))
        .map(|run| run.id.0);
    let now = state.store.now();
    let history = page
        .runs
        .iter()
        .map(|run| {
            let count = |name: &str| run.counts.get(name).and_then(|v| v.as_i64());
            let rows = match (count("inserted"), count("updated"), count("deleted")) {
                (Some(i), Some(u), Some(d)) => format!("{} / {} / {}", lang.number(i), lang.number(u), lang.number(d)),
                _ => String::new(),
            };
            HistoryRow {
                run: view_at(lang, run, now),
                rows,
            }
        })
        .collect();
    let older = page
        .next_before
        .map(|next| format!("{}{PATH}?before={next}", context.base()));
    let feed_url = crate::api::datasync::feed_url(external, administration);
    let tokens = koppel_datasync::tokens::list(&state.store, administration)
        .await?
        .into_iter()
        .map(|token| TokenView {
            id: token.id.0,
            name: token.name,
            created: lang.date_time(token.created_at),
            last_used: token
                .last_used_at
                .map_or_else(|| m.ds_token_never_used.to_string(), |at| lang.date_time(at)),
            revoked: token.revoked_at.is_some(),
        })
        .collect();
    let page = DatasyncPage {
        page: context.layout(Nav::Datasync, m.datasync_title, PATH),
        intro: m.datasync_intro,
        freshness,
        autosync: status.autosync,
        autosync_changed,
        running,
        history,
        older,
        power_query_import: koppel_datasync::power_query_import_m(&feed_url),
        power_query_incremental: koppel_datasync::power_query_incremental_m(&feed_url),
        feed_url,
        feed_user: koppel_datasync::feed_name(administration),
        tokens,
        new_token,
        token_error,
    };
    Ok(html(StatusCode::OK, page.render()))
}

/// Enters the administration for a form post and checks the gates.
async fn enter_for_post(
    state: &AppState,
    visitor: Visitor,
    administration: AdministrationId,
    body: Result<Form<FormData>, FormRejection>,
) -> Result<Result<(Context, FormData), Response>, PageError> {
    let data = form(body, &visitor)?;
    let context = Context::enter(state, visitor, administration).await?;
    let gates = datasync_gates(&context);
    if !gates.is_empty() {
        let m = context.m();
        return Ok(Err(context.gate(Nav::Datasync, m.datasync_title, PATH, gates)));
    }
    Ok(Ok((context, data)))
}

/// `POST …/settings/datasync/autosync`: the switch takes effect on Save.
pub async fn save_autosync(
    State(state): State<AppState>,
    visitor: Visitor,
    PagePath(path): PagePath<AdministrationPage>,
    body: Result<Form<FormData>, FormRejection>,
) -> Result<Response, PageError> {
    let (context, data) = match enter_for_post(&state, visitor, path.administration, body).await? {
        Ok(entered) => entered,
        Err(gate) => return Ok(gate),
    };
    let enabled = data.get("autosync").is_some_and(|v| v == "on" || v == "true");
    let switch = if enabled {
        AutosyncSwitch::On
    } else {
        AutosyncSwitch::Off
    };
    koppel_datasync::state::set_autosync(
        &state.store,
        context.administration.id,
        switch,
        Some(context.visitor.user.id),
    )
    .await?;
    let flash = if enabled {
        Flash::DatasyncAutosyncOn
    } else {
        Flash::DatasyncAutosyncOff
    };
    Ok(redirect_with_flash(&format!("{}{PATH}", context.base()), flash))
}

/// `POST …/settings/datasync/sync`: starts a sync (full with `full=1`), or follows the running one.
pub async fn sync_now(
    State(state): State<AppState>,
    visitor: Visitor,
    PagePath(path): PagePath<AdministrationPage>,
    body: Result<Form<FormData>, FormRejection>,
) -> Result<Response, PageError> {
    let (context, data) = match enter_for_post(&state, visitor, path.administration, body).await? {
        Ok(entered) => entered,
        Err(gate) => return Ok(gate),
    };
    let full = data.get("full") == Some("1");
    let enqueued =
        koppel_datasync::sync_now(&state.store, context.administration.id, context.visitor.user.id, full).await?;
    let location = format!("{}/runs/{}", context.base(), enqueued.run());
    Ok(match enqueued {
        Enqueued::Created { .. } => redirect_with_flash(&location, Flash::DatasyncSyncStarted),
        Enqueued::Joined { .. } => redirect_with_flash(&location, Flash::DatasyncSyncRunning),
    })
}

/// `GET …/settings/datasync/full-resync`: what a full resync costs, before it is started.
pub async fn confirm_full_resync(
    State(state): State<AppState>,
    visitor: Visitor,
    PagePath(path): PagePath<AdministrationPage>,
) -> Result<Response, PageError> {
    let context = Context::enter(&state, visitor, path.administration).await?;
    let m = context.m();
    context.require(Nav::Datasync, m.datasync_title, PATH, datasync_gates(&context))?;
    let base = context.base();
    Ok(Confirmation {
        page: context.layout(Nav::Datasync, m.ds_full_resync_title, PATH),
        paragraphs: vec![m.ds_full_resync_cost.to_string()],
        action: format!("{base}{PATH}/sync"),
        hidden: vec![("full", "1".to_string())],
        confirm: m.ds_full_resync_confirm.to_string(),
        cancel: format!("{base}{PATH}"),
    }
    .render())
}

/// `GET …/settings/datasync/tokens/{token}/revoke`: what revoking a token stops, before it is revoked.
pub async fn confirm_revoke_token(
    State(state): State<AppState>,
    visitor: Visitor,
    PagePath(path): PagePath<FeedTokenPage>,
) -> Result<Response, PageError> {
    let lang = visitor.lang;
    let context = Context::enter(&state, visitor, path.administration).await?;
    let m = context.m();
    context.require(Nav::Datasync, m.datasync_title, PATH, datasync_gates(&context))?;
    let token = FeedTokenId(path.token);
    let base = context.base();
    let found = koppel_datasync::tokens::list(&state.store, context.administration.id)
        .await?
        .into_iter()
        .find(|t| t.id == token)
        .ok_or(PageError::NotFound(lang))?;
    if found.revoked_at.is_some() {
        // Nothing left to confirm: the list says it is revoked.
        return Ok(redirect(&format!("{base}{PATH}")));
    }
    Ok(Confirmation {
        page: context.layout(Nav::Datasync, &fill(m.ds_token_revoke_title, &[&found.name]), PATH),
        paragraphs: vec![m.ds_token_revoke_text.to_string()],
        action: format!("{base}{PATH}/tokens/{}/revoke", token.0),
        hidden: Vec::new(),
        confirm: m.ds_token_revoke_confirm.to_string(),
        cancel: format!("{base}{PATH}#ds-tokens"),
    }
    .render())
}

/// `POST …/settings/datasync/tokens`: creates a token and shows its secret once.
pub async fn create_token(
    State(state): State<AppState>,
    visitor: Visitor,
    external: ExternalBase,
    PagePath(path): PagePath<AdministrationPage>,
    body: Result<Form<FormData>, FormRejection>,
) -> Result<Response, PageError> {
    let (context, data) = match enter_for_post(&state, visitor, path.administration, body).await? {
        Ok(entered) => entered,
        Err(gate) => return Ok(gate),
    };
    let name = data.get("name").unwrap_or_default();
    match koppel_datasync::tokens::create(
        &state.store,
        context.administration.id,
        name,
        Some(context.visitor.user.id),
    )
    .await
    {
        Ok((token, secret)) => {
            let new_token = NewToken {
                label: fill(context.m().ds_token_new_label, &[&token.name]),
                secret,
            };
            render(&state, &context, &external, None, Some(new_token), None).await
        }
        Err(StoreError::Invalid(_)) => {
            let m = context.m();
            render(&state, &context, &external, None, None, Some(m.ds_token_name_invalid)).await
        }
        Err(other) => Err(other.into()),
    }
}

/// `POST …/settings/datasync/tokens/{token}/revoke`.
pub async fn revoke_token(
    State(state): State<AppState>,
    visitor: Visitor,
    PagePath(path): PagePath<FeedTokenPage>,
    body: Result<Form<FormData>, FormRejection>,
) -> Result<Response, PageError> {
    let lang = visitor.lang;
    let token = path.token;
    let (context, _) = match enter_for_post(&state, visitor, path.administration, body).await? {
        Ok(entered) => entered,
        Err(gate) => return Ok(gate),
    };
    let administration = context.administration.id;
    let token = FeedTokenId(token);
    let name = koppel_datasync::tokens::list(&state.store, administration)
        .await?
        .into_iter()
        .find(|t| t.id == token)
        .map(|t| t.name)
        .ok_or(PageError::NotFound(lang))?;
    match koppel_datasync::tokens::revoke(&state.store, administration, token).await {
        Ok(()) | Err(StoreError::NotFound) => Ok(redirect_with_flash_about(
            &format!("{}{PATH}", context.base()),
            Flash::DatasyncTokenRevoked,
            &name,
        )),
        Err(other) => Err(other.into()),
    }
}
