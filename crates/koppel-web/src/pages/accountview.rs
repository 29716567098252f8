//! Settings → Software integrations → AccountView: signing in with AccountView's own login and
//! consent page (and the callback it sends the browser back to), the general, import and export
//! settings with the check before saving, "import now" and "export now", the log panel of recent
//! imports and exports, and disconnecting after a confirmation.
//!
//! One pass: the first successful Save starts an import at once (through `start_import`, as "Import
//! now" does), and while an import or export runs the page shows it with a progress bar that
//! `accountview-progress.js` keeps current from the run's JSON (the REST API, which accepts the
//! session cookie); when the run ends the script reloads the page, so the export mapping fills in.
//! Without JavaScript a "Refresh page" link does the same.
//!
//! Every code the user maps is chosen from what was imported (a `<select>`), never typed. Forms
//! follow POST-redirect-GET with a CSRF token, except Save and Check when the check finds problems:
//! then the page is shown again with what was entered and the check's findings.

use super::context::{Layout, Nav, form, safe_local_path};
use super::i18n::{Lang, fill};
use super::path::{AdministrationPage, PagePath};
use super::runs::{RunView, kind_name, view_at};
use super::settings::accountview_gates;
use super::{
    Context, Flash, FormData, PageError, Visitor, html, redirect, redirect_with_flash, redirect_with_flash_about,
};
use crate::AppState;
use crate::api::accountview::LOG_PAGE;
use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use chrono::{DateTime, NaiveDate, Utc};
use koppel_accountview::log::{LogFilter, LogQuery};
use koppel_accountview::oauth::CallbackParameters;
use koppel_accountview::settings::{SaveError, rate_label};
use koppel_accountview::storage::{CodeEntry, CodeList, Connection};
use koppel_accountview::{AccountView, AccountViewError, CheckReport, ConnectionState, ImportCategory, SignInError};
use koppel_domain::work_order::WorkOrderStatus;
use koppel_domain::{AdministrationId, VatRate};
use koppel_jobs::runs::{Run, RunFilter, RunStatus};
use std::collections::HashMap;

pub const PATH: &str = "/settings/integrations/accountview";
/// Remembers which administration a sign-in started from, so a denied or failed callback (whose
/// state may be unusable) can still return to that administration's page. Only a page address.
const RETURN_COOKIE: &str = "koppel_av_return";

/// One option of a `<select>`.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// One `<select>` of imported codes.
pub struct CodeSelect {
    pub name: String,
    pub label: String,
    pub choices: Vec<Choice>,
}

/// One import category with its switch.
pub struct CategoryRow {
    pub slug: &'static str,
    pub name: &'static str,
    pub on: bool,
}

/// One line of the check before saving.
pub struct CheckLine {
    pub key: String,
    pub ok: bool,
    pub text: String,
}

/// A failed item in the log: the reason in the user's language and AccountView's text verbatim.
pub struct FailedItem {
    pub key: String,
    /// What the item is, in words ("Werkbon (intern nummer 1554)").
    pub name: String,
    pub reason: String,
    pub accountview: String,
}

/// The import or export that is queued or running, shown with live progress.
pub struct ActiveRun {
    pub id: i64,
    pub title: &'static str,
    pub status: &'static str,
    pub status_code: &'static str,
    pub started: bool,
    pub percent: i64,
    pub steps: String,
    /// Per category so far (imports): "Debiteuren: 120 gelezen (…)".
    pub lines: Vec<String>,
    /// The run as JSON, polled by the script.
    pub json_url: String,
    /// What the script fills in: the steps text (`{done}`, `{total}`) and one category line
    /// (`{name}`, `{read}`, `{new}`, `{updated}`, `{unchanged}`, `{skipped}`).
    pub steps_template: String,
    pub line_template: String,
    /// Category names by slug in this language, as JSON for the script.
    pub names: String,
}

/// One run in the log panel.
pub struct LogRow {
    pub run: RunView,
    pub kind: String,
    /// An import's counts per category (new, updated, unchanged, skipped add up to what was read),
    /// shown instead of its long message.
    pub lines: Vec<String>,
    pub failed: Vec<FailedItem>,
}

/// What the settings form shows (a saved connection's settings, or what was just entered).
pub struct SettingsForm {
    pub companies: Vec<Choice>,
    pub company_locked: Option<String>,
    pub categories: Vec<CategoryRow>,
    pub include_blocked_debtors: bool,
    pub article_groups: Vec<Choice>,
    pub export_enabled: bool,
    pub trigger_status: Vec<Choice>,
    pub done_status: Vec<Choice>,
    pub cut_off: String,
    pub cut_off_exact: String,
    pub codes: Vec<CodeSelect>,
    pub codes_missing: bool,
    /// The codes are missing and an import is on its way.
    pub codes_importing: bool,
    pub create_missing_debtors: bool,
    pub check: Vec<CheckLine>,
    pub check_ok: Option<bool>,
}

#[derive(Template)]
#[template(path = "accountview.html")]
struct AccountViewPage {
    page: Layout,
    /// `not_configured`, `not_connected`, `unsaved`, `connected`, `authentication_expired`.
    state: &'static str,
    /// Set when the AccountView behind the page is the demo's sandbox.
    sandbox_notice: Option<String>,
    connected_since: String,
    problem: Option<String>,
    form: Option<SettingsForm>,
    log: Vec<LogRow>,
    errors_only: bool,
    older: Option<String>,
    /// The import or export that is queued or running.
    active: Option<ActiveRun>,
    /// A connection exists (connected, unsaved or expired): the log panel offers disconnecting.
    can_disconnect: bool,
    /// The page's own address, for "Refresh page".
    address: String,
}

#[derive(Template)]
#[template(path = "accountview_disconnect.html")]
struct DisconnectPage {
    page: Layout,
}

/// Lets the page's forms lead to AccountView: "Log in" is a POST answered with a redirect to
/// AccountView's login page, and browsers hold such redirects to the page's `form-action`.
fn allow_form_to(mut response: Response, accountview: Option<&AccountView>) -> Response {
    let Some(base) = accountview.map(|a| a.config().base_url.clone()) else {
        return response;
    };
    let origin = match base.find("://") {
        Some(at) => {
            let rest = &base[at + 3..];
            let host_end = rest.find('/').unwrap_or(rest.len());
            format!("{}{}", &base[..at + 3], &rest[..host_end])
        }
        None => return response,
    };
    let policy = super::content_security_policy(Some(&origin));
    if let Ok(value) = HeaderValue::from_str(&policy) {
        response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

fn text(lang: Lang, message: &koppel_jobs::runs::RunMessage) -> String {
    match lang {
        Lang::Nl => message.nl.clone(),
        Lang::En => message.en.clone(),
    }
}

fn code_choices(entries: &[CodeEntry], chosen: Option<&str>, blocked_label: &str, with_name: bool) -> Vec<Choice> {
    entries
        .iter()
        .filter(|entry| !entry.blocked || Some(entry.code.as_str()) == chosen)
        .map(|entry| {
            let mut label = if with_name {
                format!("{} – {}", entry.code, entry.name)
            } else {
                entry.code.clone()
            };
            if entry.blocked {
                label = format!("{label} {blocked_label}");
            }
            Choice {
                value: entry.code.clone(),
                label,
                selected: Some(entry.code.as_str()) == chosen,
            }
        })
        .collect()
}

fn status_choices(chosen: WorkOrderStatus) -> Vec<Choice> {
    WorkOrderStatus::CODES
        .iter()
        .map(|code| Choice {
            value: (*code).to_string(),
            label: (*code).to_string(),
            selected: *code == chosen.as_str(),
        })
        .collect()
}

/// The settings form for `settings`, with the imported codes to choose from.
async fn settings_form(
    context: &Context,
    accountview: &AccountView,
    connection: &Connection,
    company: Option<&str>,
    settings: &koppel_accountview::Settings,
    check: Option<&CheckReport>,
) -> Result<Result<SettingsForm, AccountViewError>, PageError> {
    let m = context.m();
    let lang = context.lang();
    let administration = context.administration.id;
    let companies = match accountview.companies(administration).await {
        Ok(companies) => companies,
        Err(AccountViewError::Store(store)) => return Err(store.into()),
        Err(other) => return Ok(Err(other)),
    };
    let locked = connection.saved_at.is_some();
    let company_choices = companies
        .iter()
        .filter(|c| !locked || Some(c.id.as_str()) == company)
        .map(|c| Choice {
            value: c.id.clone(),
            label: format!("{} – {}", c.code, c.description),
            selected: Some(c.id.as_str()) == company,
        })
        .collect();
    let lists = accountview.code_lists(administration).await?;
    let list = |which: CodeList| lists.get(&which).map(Vec::as_slice).unwrap_or(&[]);
    let export = &settings.export;
    let mut codes = vec![
        CodeSelect {
            name: "sales_journal".into(),
            label: m.av_sales_journal.into(),
            choices: code_choices(
                &list(CodeList::Journals)
                    .iter()
                    .filter(|j| j.journal_type == "V" || Some(j.code.as_str()) == export.sales_journal.as_deref())
                    .cloned()
                    .collect::<Vec<_>>(),
                export.sales_journal.as_deref(),
                m.av_blocked,
                true,
            ),
        },
        CodeSelect {
            name: "hours_account".into(),
            label: m.av_hours_account.into(),
            choices: code_choices(
                list(CodeList::LedgerAccounts),
                export.hours_account.as_deref(),
                m.av_blocked,
                true,
            ),
        },
        CodeSelect {
            name: "materials_account".into(),
            label: m.av_materials_account.into(),
            choices: code_choices(
                list(CodeList::LedgerAccounts),
                export.materials_account.as_deref(),
                m.av_blocked,
                true,
            ),
        },
    ];
    for rate in VatRate::ALL {
        let (nl, en) = rate_label(rate);
        let name = if lang == Lang::Nl { nl } else { en };
        codes.push(CodeSelect {
            name: format!("vat_{}", rate.as_str()),
            label: fill(m.av_vat_for, &[name]),
            choices: code_choices(
                list(CodeList::VatCodes),
                export.vat_codes.get(rate.as_str()).map(String::as_str),
                m.av_blocked,
                true,
            ),
        });
    }
    codes.push(CodeSelect {
        name: "cost_centre".into(),
        label: m.av_cost_centre.into(),
        choices: code_choices(
            list(CodeList::CostCentres),
            export.cost_centre.as_deref(),
            m.av_blocked,
            true,
        ),
    });
    let codes_missing = list(CodeList::Journals).is_empty()
        || list(CodeList::LedgerAccounts).is_empty()
        || list(CodeList::VatCodes).is_empty();
    let groups = &settings.import.article_groups;
    let article_groups = list(CodeList::ArticleGroups)
        .iter()
        .map(|g| Choice {
            value: g.code.clone(),
            label: format!("{} – {}", g.code, g.name),
            selected: groups.contains(&g.code),
        })
        .collect();
    let categories = ImportCategory::ALL
        .into_iter()
        .map(|category| CategoryRow {
            slug: category.slug(),
            name: if lang == Lang::Nl {
                category.name_nl()
            } else {
                category.name_en()
            },
            on: settings.import.is_on(category),
        })
        .collect();
    let cut_off = export.cut_off.unwrap_or(connection.connected_at);
    let check_lines = check
        .map(|report| {
            report
                .items
                .iter()
                .map(|item| CheckLine {
                    key: item.key.clone(),
                    ok: item.ok,
                    text: text(lang, &item.message),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Ok(SettingsForm {
        companies: company_choices,
        company_locked: locked.then(|| m.av_company_locked.to_string()),
        categories,
        include_blocked_debtors: settings.import.include_blocked_debtors,
        article_groups,
        export_enabled: export.enabled,
        trigger_status: status_choices(export.trigger_status),
        done_status: status_choices(export.done_status),
        cut_off: cut_off.date_naive().format("%Y-%m-%d").to_string(),
        cut_off_exact: cut_off.to_rfc3339(),
        codes,
        codes_missing,
        codes_importing: false,
        create_missing_debtors: export.create_missing_debtors,
        check: check_lines,
        check_ok: check.map(CheckReport::ok),
    }))
}

/// The newest AccountView import or export of the administration when it is queued or running.
async fn active_run(state: &AppState, context: &Context) -> Result<Option<ActiveRun>, PageError> {
    let mut newest: Option<Run> = None;
    for kind in [koppel_accountview::import::KIND, koppel_accountview::export::KIND] {
        let filter = RunFilter {
            kind: Some(kind.to_string()),
            limit: 1,
            ..RunFilter::default()
        };
        let found = koppel_jobs::runs::list(&state.store, context.administration.id, &filter).await?;
        if let Some(run) = found.runs.into_iter().next()
            && !run.status.is_finished()
            && newest.as_ref().is_none_or(|other| other.id.0 < run.id.0)
        {
            newest = Some(run);
        }
    }
    Ok(newest.map(|run| active_view(context, &run)))
}

/// Category lines of an import's counts (`{"debtors": {"fetched": …}}`), in the import's order.
pub fn category_lines(lang: Lang, counts: &serde_json::Value) -> Vec<String> {
    let m = lang.messages();
    ImportCategory::ALL
        .into_iter()
        .filter_map(|category| {
            let c = counts.get(category.slug())?;
            let n = |field: &str| lang.number(c[field].as_i64().unwrap_or(0));
            let name = if lang == Lang::Nl {
                category.name_nl()
            } else {
                category.name_en()
            };
            Some(fill(
                m.av_progress_category,
                &[
                    name,
                    &n("fetched"),
                    &n("created"),
                    &n("updated"),
                    &n("unchanged"),
                    &n("skipped"),
                ],
            ))
        })
        .collect()
}

fn active_view(context: &Context, run: &Run) -> ActiveRun {
    let m = context.m();
    let lang = context.lang();
    let import = run.kind == koppel_accountview::import::KIND;
    let total = run.progress_total.unwrap_or(0);
    let percent = if total > 0 {
        (run.progress_done * 100 / total).clamp(0, 100)
    } else {
        0
    };
    let steps_template = if import {
        m.av_progress_import_steps
    } else {
        m.av_progress_export_steps
    };
    let names: serde_json::Map<String, serde_json::Value> = ImportCategory::ALL
        .into_iter()
        .map(|category| {
            let name = if lang == Lang::Nl {
                category.name_nl()
            } else {
                category.name_en()
            };
            (category.slug().to_string(), serde_json::Value::from(name))
        })
        .collect();
    ActiveRun {
        id: run.id.0,
        title: if import {
            m.av_progress_import
        } else {
            m.av_progress_export
        },
        status: super::runs::status_name(m, run.status),
        status_code: run.status.as_str(),
        started: run.status == RunStatus::Running,
        percent,
        // A queued run has no total yet: nothing to count.
        steps: if total > 0 {
            fill(steps_template, &[&lang.number(run.progress_done), &lang.number(total)])
        } else {
            String::new()
        },
        lines: if import {
            category_lines(lang, &run.counts)
        } else {
            Vec::new()
        },
        json_url: format!(
            "/api/v1/administrations/{}/runs/{}",
            context.administration.id, run.id.0
        ),
        // The script fills named markers, so no "{}" reaches the page.
        steps_template: fill(steps_template, &["{done}", "{total}"]),
        line_template: fill(
            m.av_progress_category,
            &["{name}", "{read}", "{new}", "{updated}", "{unchanged}", "{skipped}"],
        ),
        names: serde_json::Value::Object(names).to_string(),
    }
}

/// What the page shows besides the form: the log panel.
async fn log_rows(
    state: &AppState,
    context: &Context,
    filter: LogFilter,
    before: Option<i64>,
) -> Result<(Vec<LogRow>, Option<String>), PageError> {
    let lang = context.lang();
    let m = context.m();
    let query = LogQuery {
        filter,
        before: before.map(koppel_jobs::RunId),
        limit: LOG_PAGE,
    };
    let now = state.store.now();
    let page = koppel_accountview::log::page(&state.store, context.administration.id, query).await?;
    let rows = page
        .entries
        .iter()
        .map(|entry| LogRow {
            run: view_at(lang, &entry.run, now),
            kind: kind_name(m, &entry.run.kind),
            lines: if entry.run.kind == koppel_accountview::import::KIND {
                category_lines(lang, &entry.run.counts)
            } else {
                Vec::new()
            },
            failed: entry
                .failed
                .iter()
                .map(|item| FailedItem {
                    key: item.key.clone(),
                    name: super::runs::work_order_item(m, &item.key).unwrap_or_else(|| item.key.clone()),
                    reason: item.message.as_ref().map(|msg| text(lang, msg)).unwrap_or_default(),
                    accountview: item.detail.clone().unwrap_or_default(),
                })
                .collect(),
        })
        .collect();
    let filter = match filter {
        LogFilter::Errors => "errors=1&",
        LogFilter::All => "",
    };
    let older = page
        .next_before
        .map(|next| format!("{}{PATH}?{filter}before={}", context.base(), next.0));
    Ok((rows, older))
}

/// What a page render needs beyond the context.
struct Shown<'a> {
    company: Option<&'a str>,
    settings: Option<&'a koppel_accountview::Settings>,
    check: Option<&'a CheckReport>,
    problem: Option<String>,
    log_filter: LogFilter,
    before: Option<i64>,
    status: StatusCode,
}

impl Default for Shown<'_> {
    fn default() -> Self {
        Shown {
            company: None,
            settings: None,
            check: None,
            problem: None,
            log_filter: LogFilter::All,
            before: None,
            status: StatusCode::OK,
        }
    }
}

async fn render(state: &AppState, context: &Context, shown: Shown<'_>) -> Result<Response, PageError> {
    let m = context.m();
    let lang = context.lang();
    let administration = context.administration.id;
    let (mut connection_state, connection) = match &state.accountview {
        Some(accountview) => accountview
            .state(administration)
            .await
            .map_err(|_| PageError::Internal)?,
        None => (ConnectionState::NotConfigured, None),
    };
    let mut problem = shown.problem;
    let mut shown_form = None;
    if let (Some(accountview), Some(connection), ConnectionState::Unsaved | ConnectionState::Connected) =
        (&state.accountview, &connection, connection_state)
    {
        let stored = koppel_accountview::Settings::of(connection);
        let settings = shown.settings.unwrap_or(&stored);
        let company = shown
            .company
            .or_else(|| connection.company.as_ref().map(|c| c.id.as_str()));
        match settings_form(context, accountview, connection, company, settings, shown.check).await? {
            Ok(form) => shown_form = Some(form),
            Err(AccountViewError::AuthenticationExpired) => connection_state = ConnectionState::AuthenticationExpired,
            Err(error) => {
                tracing::warn!(administration.id = %administration, error = %error, "AccountView could not be reached for the settings page");
                problem = Some(m.av_unavailable.to_string());
            }
        }
    }
    let (log, older) = if connection.is_some() || state.accountview.is_some() {
        log_rows(state, context, shown.log_filter, shown.before).await?
    } else {
        (Vec::new(), None)
    };
    let active = if connection.is_some() {
        active_run(state, context).await?
    } else {
        None
    };
    if let Some(form) = shown_form.as_mut()
        && form.codes_missing
        && active.is_some()
    {
        form.codes_importing = true;
    }
    let page = AccountViewPage {
        page: context.layout(Nav::Integrations, m.accountview_title, PATH),
        can_disconnect: connection.is_some(),
        active,
        address: page_address(context),
        state: connection_state.code(),
        sandbox_notice: state
            .accountview_sandbox
            .as_ref()
            .filter(|_| state.accountview.is_some())
            .map(|sandbox| fill(m.av_sandbox_notice, &[&sandbox.login, &sandbox.password])),
        connected_since: connection
            .as_ref()
            .map(|c| fill(m.av_connected_since, &[&lang.date_time(c.connected_at)]))
            .unwrap_or_default(),
        problem,
        form: shown_form,
        log,
        errors_only: shown.log_filter == LogFilter::Errors,
        older,
    };
    Ok(allow_form_to(
        html(shown.status, page.render()),
        state.accountview.as_ref(),
    ))
}

/// Enters the page's administration and checks the gates (licence, right).
async fn enter(state: &AppState, visitor: Visitor, administration: AdministrationId) -> Result<Context, PageError> {
    let context = Context::enter(state, visitor, administration).await?;
    context.require(
        Nav::Integrations,
        context.m().accountview_title,
        PATH,
        accountview_gates(&context),
    )?;
    Ok(context)
}

/// `GET /a/{id}/settings/integrations/accountview`.
pub async fn page(
    State(state): State<AppState>,
    visitor: Visitor,
    PagePath(path): PagePath<AdministrationPage>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let context = enter(&state, visitor, path.administration).await?;
    let shown = Shown {
        log_filter: if query.get("errors").is_some_and(|v| v == "1") {
            LogFilter::Errors
        } else {
            LogFilter::All
        },
        before: query.get("before").and_then(|v| v.parse().ok()),
        ..Shown::default()
    };
    render(&state, &context, shown).await
}

fn page_address(context: &Context) -> String {
    format!("{}{PATH}", context.base())
}

/// `POST …/accountview/sign-in`: to AccountView's login page, with a fresh state.
pub async fn sign_in(
    State(state): State<AppState>,
    visitor: Visitor,
    PagePath(path): PagePath<AdministrationPage>,
    body: Result<Form<FormData>, FormRejection>,
) -> Result<Response, PageError> {
    form(body, &visitor)?;
    let context = enter(&state, visitor, path.administration).await?;
    let Some(accountview) = &state.accountview else {
        return Ok(redirect(&page_address(&context)));
    };
    let url = accountview
        .begin_sign_in(context.administration.id, context.visitor.user.id)
        .await
        .map_err(|error| {
            tracing::error!(error = %error, "an AccountView sign-in could not start");
            PageError::Internal
        })?;
    let mut response = redirect(&url);
    if let Ok(cookie) = HeaderValue::from_str(&format!(
        "{RETURN_COOKIE}={}; Path=/accountview; HttpOnly; SameSite=Lax; Max-Age=900",
        page_address(&context)
    )) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// `GET /accountview/callback?code&state` (or `?error&state`): where AccountView sends the browser
/// back. The state names the administration; whatever the outcome, the user lands on that
/// administration's AccountView page with a message.
pub async fn callback(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    Query(parameters): Query<CallbackParameters>,
) -> Result<Response, PageError> {
    let back = crate::auth::cookie(&headers, RETURN_COOKIE)
        .map(safe_local_path)
        .unwrap_or_else(|| "/".to_string());
    let Some(accountview) = &state.accountview else {
        return Ok(redirect(&back));
    };
    let user = visitor.user.id;
    let (flash, value, location) = match accountview.complete_sign_in(&parameters, user).await {
        Ok(administration) => {
            let context = Context::enter(&state, visitor, administration).await?;
            let gates = accountview_gates(&context);
            if !gates.is_empty() {
                // The right or the licence went away during the sign-in: do not keep the connection.
                let _ = accountview.disconnect(administration).await;
                let m = context.m();
                return Ok(context.gate(Nav::Integrations, m.accountview_title, PATH, gates));
            }
            (Flash::AccountviewConnected, String::new(), page_address(&context))
        }
        Err(error) => {
            tracing::info!(error = %error, "an AccountView sign-in did not complete");
            let (flash, value) = match &error {
                SignInError::Denied => (Flash::AccountviewSignInDenied, String::new()),
                SignInError::InvalidState => (Flash::AccountviewSignInInvalid, String::new()),
                SignInError::Expired => (Flash::AccountviewSignInExpired, String::new()),
                SignInError::Provider(text) => (Flash::AccountviewSignInFailed, text.clone()),
                SignInError::Sync(_) => (Flash::AccountviewSignInFailed, String::new()),
            };
            (flash, value, back)
        }
    };
    let mut response = redirect_with_flash_about(&location, flash, &value);
    response.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_static("koppel_av_return=; Path=/accountview; HttpOnly; SameSite=Lax; Max-Age=0"),
    );
    Ok(response)
}

/// The settings as entered in the form, starting from the stored ones.
fn settings_from_form(data: &FormData, stored: &koppel_accountview::Settings) -> koppel_accountview::Settings {
    let mut settings = stored.clone();
    let chosen = |name: &str| {
        data.get(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    settings.import.categories = ImportCategory::ALL
        .into_iter()
        .filter(|c| data.all("import_category").any(|slug| slug == c.slug()))
        .collect();
    settings.import.include_blocked_debtors = data.get("include_blocked_debtors").is_some();
    settings.import.article_groups = data.all("article_group").map(str::to_string).collect();
    let export = &mut settings.export;
    export.enabled = data.get("export_enabled").is_some();
    if let Some(status) = data.get("trigger_status").and_then(WorkOrderStatus::parse) {
        export.trigger_status = status;
    }
    if let Some(status) = data.get("done_status").and_then(WorkOrderStatus::parse) {
        export.done_status = status;
    }
    // The cut-off keeps its exact moment unless another day was chosen.
    let exact = data
        .get("cut_off_exact")
        .and_then(|v| DateTime::parse_from_rfc3339(v).ok())
        .map(|v| v.with_timezone(&Utc));
    if let Some(day) = data
        .get("cut_off")
        .and_then(|v| NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d").ok())
    {
        export.cut_off = match exact {
            Some(exact) if exact.date_naive() == day => Some(exact),
            _ => day.and_hms_opt(0, 0, 0).map(|t| t.and_utc()),
        };
    }
    export.sales_journal = chosen("sales_journal");
    export.hours_account = chosen("hours_account");
    export.materials_account = chosen("materials_account");
    export.cost_centre = chosen("cost_centre");
    export.vat_codes = VatRate::ALL
        .into_iter()
        .filter_map(|rate| chosen(&format!("vat_{}", rate.as_str())).map(|code| (rate.as_str().to_string(), code)))
        .collect();
    export.create_missing_debtors = data.get("create_missing_debtors").is_some();
    settings
}

/// `POST …/accountview/settings`: `action=check` shows the check; `action=save` checks and saves.
pub async fn save(
    State(state): State<AppState>,
    visitor: Visitor,
    PagePath(path): PagePath<AdministrationPage>,
    body: Result<Form<FormData>, FormRejection>,
) -> Result<Response, PageError> {
    let data = form(body, &visitor)?;
    let context = enter(&state, visitor, path.administration).await?;
    let m = context.m();
    let address = page_address(&context);
    let Some(accountview) = &state.accountview else {
        return Ok(redirect(&address));
    };
    let administration = context.administration.id;
    let saved = match accountview.saved_settings(administration).await {
        Ok(saved) => saved,
        Err(AccountViewError::NotConnected) => {
            return Ok(redirect_with_flash(&address, Flash::AccountviewNotConnected));
        }
        Err(_) => return Err(PageError::Internal),
    };
    let settings = settings_from_form(&data, &saved.settings);
    let company = data
        .get("company")
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .or_else(|| saved.company.as_ref().map(|c| c.id.clone()));
    let Some(company) = company else {
        let shown = Shown {
            settings: Some(&settings),
            problem: Some(m.av_company_missing.to_string()),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            ..Shown::default()
        };
        return render(&state, &context, shown).await;
    };
    if data.get("action") == Some("check") {
        let outcome = accountview.check(administration, &company, &settings).await;
        return match outcome {
            Ok(report) => {
                let shown = Shown {
                    company: Some(&company),
                    settings: Some(&settings),
                    check: Some(&report),
                    ..Shown::default()
                };
                render(&state, &context, shown).await
            }
            Err(error) => Ok(sync_failure(&address, &error)),
        };
    }
    match accountview.save(administration, &company, &settings).await {
        // The first save starts the first import at once, through the same function as "Import
        // now", so the export's code lists fill in without waiting for the schedule.
        Ok(_) if !saved.company_locked => {
            let started = accountview
                .start_import(administration, Vec::new(), context.visitor.user.id)
                .await;
            match started {
                Ok(_) => Ok(redirect_with_flash(&address, Flash::AccountviewSavedImporting)),
                Err(AccountViewError::Store(store)) => Err(store.into()),
                Err(error) => Ok(sync_failure(&address, &error)),
            }
        }
        Ok(_) => Ok(redirect_with_flash(&address, Flash::AccountviewSaved)),
        Err(SaveError::CheckFailed(report)) => {
            let shown = Shown {
                company: Some(&company),
                settings: Some(&settings),
                check: Some(&report),
                problem: Some(m.av_check_failed.to_string()),
                status: StatusCode::UNPROCESSABLE_ENTITY,
                ..Shown::default()
            };
            render(&state, &context, shown).await
        }
        Err(SaveError::CompanyLocked) => Ok(redirect_with_flash(&address, Flash::AccountviewCompanyLocked)),
        Err(SaveError::Sync(error)) => Ok(sync_failure(&address, &error)),
    }
}

/// A redirect back to the page with what went wrong talking to AccountView.
fn sync_failure(address: &str, error: &AccountViewError) -> Response {
    let flash = match error {
        AccountViewError::AuthenticationExpired => Flash::AccountviewExpired,
        AccountViewError::NotConnected => Flash::AccountviewNotConnected,
        AccountViewError::NotConfigured => Flash::AccountviewNotSaved,
        _ => {
            tracing::warn!(error = %error, "an AccountView call from the settings page failed");
            Flash::AccountviewUnavailable
        }
    };
    redirect_with_flash(address, flash)
}

/// `POST …/accountview/import` (`category` = one category, or none for all that are on).
pub async fn import_now(
    State(state): State<AppState>,
    visitor: Visitor,
    PagePath(path): PagePath<AdministrationPage>,
    body: Result<Form<FormData>, FormRejection>,
) -> Result<Response, PageError> {
    let data = form(body, &visitor)?;
    let context = enter(&state, visitor, path.administration).await?;
    let address = page_address(&context);
    let Some(accountview) = &state.accountview else {
        return Ok(redirect(&address));
    };
    let categories: Vec<ImportCategory> = data
        .get("category")
        .and_then(ImportCategory::parse)
        .into_iter()
        .collect();
    let started = accountview
        .start_import(context.administration.id, categories, context.visitor.user.id)
        .await;
    let enqueued = match started {
        Ok(enqueued) => enqueued,
        Err(AccountViewError::Store(store)) => return Err(store.into()),
        Err(error) => return Ok(sync_failure(&address, &error)),
    };
    let flash = if enqueued.is_new() {
        Flash::AccountviewImportStarted
    } else {
        Flash::AccountviewImportRunning
    };
    Ok(redirect_with_flash(&address, flash))
}

/// `POST …/accountview/export`.
pub async fn export_now(
    State(state): State<AppState>,
    visitor: Visitor,
    PagePath(path): PagePath<AdministrationPage>,
    body: Result<Form<FormData>, FormRejection>,
) -> Result<Response, PageError> {
    form(body, &visitor)?;
    let context = enter(&state, visitor, path.administration).await?;
    let address = page_address(&context);
    let Some(accountview) = &state.accountview else {
        return Ok(redirect(&address));
    };
    let started = accountview
        .start_export(context.administration.id, context.visitor.user.id)
        .await;
    let enqueued = match started {
        Ok(enqueued) => enqueued,
        Err(AccountViewError::Store(store)) => return Err(store.into()),
        Err(error) => return Ok(sync_failure(&address, &error)),
    };
    let flash = if enqueued.is_new() {
        Flash::AccountviewExportStarted
    } else {
        Flash::AccountviewExportRunning
    };
    Ok(redirect_with_flash(&address, flash))
}

/// `GET …/accountview/disconnect`: the confirmation step.
pub async fn confirm_disconnect(
    State(state): State<AppState>,
    visitor: Visitor,
    PagePath(path): PagePath<AdministrationPage>,
) -> Result<Response, PageError> {
    let context = enter(&state, visitor, path.administration).await?;
    let m = context.m();
    let page = DisconnectPage {
        page: context.layout(Nav::Integrations, m.av_disconnect_title, PATH),
    };
    Ok(html(StatusCode::OK, page.render()))
}

/// `POST …/accountview/disconnect`: tokens and cursors go, imported and exported data stays.
pub async fn disconnect(
    State(state): State<AppState>,
    visitor: Visitor,
    PagePath(path): PagePath<AdministrationPage>,
    body: Result<Form<FormData>, FormRejection>,
) -> Result<Response, PageError> {
    form(body, &visitor)?;
    let context = enter(&state, visitor, path.administration).await?;
    let address = page_address(&context);
    let Some(accountview) = &state.accountview else {
        return Ok(redirect(&address));
    };
    accountview
        .disconnect(context.administration.id)
        .await
        .map_err(|_| PageError::Internal)?;
    Ok(redirect_with_flash(&address, Flash::AccountviewDisconnected))
}
