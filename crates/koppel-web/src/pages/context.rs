//! What every page needs: who is visiting (session, language, CSRF token, the flash message to
//! show), the administration the page is about with the visitor's rights there, the shared
//! layout, and the one place where page failures become answers.

use super::flash::{ShownFlash, read_flash};
use super::html;
use super::i18n::{Lang, Messages, fill};
use crate::AppState;
pub use crate::auth::same_origin;
use crate::auth::{SESSION_COOKIE, cookie};
use crate::error::StoreFailure;
use askama::Template;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::NaiveDate;
use koppel_domain::AdministrationId;
use koppel_domain::licence::PowerUp;
use koppel_domain::rights::{Right, Rights};
use koppel_store::StoreError;
use koppel_store::platform::{Administration, Licence, User};
use sha2::{Digest, Sha256};

pub const FLASH_COOKIE: &str = "koppel_flash";
pub const LANGUAGE_COOKIE: &str = "koppel_lang";

/// A page that could not be shown.
#[derive(Debug)]
pub enum PageError {
    /// No (valid) session: log in first, then come back to `next`.
    Login { next: String },
    /// Unknown page or administration, or one the visitor has no access to (not told apart, so
    /// other customers' administrations cannot be discovered).
    NotFound(Lang),
    /// A form without a valid CSRF token or from another site.
    FormExpired(Lang),
    /// A form holding a character no text may hold (NUL and other control characters).
    InvalidInput(Lang),
    /// Something failed on our side; the cause is logged where it happened.
    Internal,
    /// A page shown instead of the one asked for (a gate that says why it is not available).
    Shown(Box<Response>),
}

impl From<StoreError> for PageError {
    fn from(error: StoreError) -> PageError {
        match StoreFailure::of(&error) {
            StoreFailure::NotFound => PageError::NotFound(Lang::Nl),
            // A page checks what it can explain (a name taken, a licence) before it writes and
            // shows that on the form; a refusal that still reaches here is a failure on our side.
            StoreFailure::Conflict { .. }
            | StoreFailure::Invalid(_)
            | StoreFailure::Licence(_)
            | StoreFailure::Unavailable
            | StoreFailure::TooComplex
            | StoreFailure::Internal => {
                tracing::error!(error = %error, "a page failed on the store");
                PageError::Internal
            }
        }
    }
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    m: &'static Messages,
    lang: Lang,
    title: String,
    text: String,
    link: Option<(String, String)>,
}

impl MessagePage {
    pub fn render_in(
        lang: Lang,
        status: StatusCode,
        title: &str,
        text: &str,
        link: Option<(String, String)>,
    ) -> Response {
        let page = MessagePage {
            m: lang.messages(),
            lang,
            title: title.to_string(),
            text: text.to_string(),
            link,
        };
        html(status, page.render())
    }
}

/// An error page whose language is the visitor's: a page that fails before it knows who is
/// visiting (a store failure, a failure on our side) is rendered again in that language by
/// [`super::errors::localize_error_pages`], which finds this marker on the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorPage {
    /// 404 of a page or administration that does not exist or is not the visitor's.
    NotFound,
    /// 404 of an address that is no page at all.
    UnknownAddress,
    /// 405: a method the address does not take (other than a GET, which leads to the page).
    MethodNotAllowed,
    /// 500: something failed on our side.
    Internal,
}

impl ErrorPage {
    /// The page in a language, with a way back to the start page, marked for
    /// [`super::errors::localize_error_pages`].
    pub fn render(self, lang: Lang) -> Response {
        let m = lang.messages();
        let (status, title, text, back) = match self {
            ErrorPage::NotFound => (
                StatusCode::NOT_FOUND,
                m.not_found_title,
                m.not_found_text,
                m.back_to_settings,
            ),
            ErrorPage::UnknownAddress => (
                StatusCode::NOT_FOUND,
                m.not_found_title,
                m.error_page_not_found_text,
                m.error_back_home,
            ),
            ErrorPage::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                m.method_not_allowed_title,
                m.method_not_allowed_text,
                m.error_back_home,
            ),
            ErrorPage::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                m.server_error_title,
                m.server_error_text,
                m.error_back_home,
            ),
        };
        let mut response = MessagePage::render_in(lang, status, title, text, Some(("/".to_string(), back.to_string())));
        response.extensions_mut().insert(self);
        response
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::Shown(response) => *response,
            PageError::Login { next } => {
                let location = format!("/login?next={}", encode_component(&next));
                redirect(&location)
            }
            PageError::NotFound(lang) => ErrorPage::NotFound.render(lang),
            PageError::FormExpired(lang) => {
                let m = lang.messages();
                let link = Some(("/".to_string(), m.back_to_settings.to_string()));
                MessagePage::render_in(lang, StatusCode::FORBIDDEN, m.form_expired_title, m.form_expired, link)
            }
            PageError::InvalidInput(lang) => {
                let m = lang.messages();
                let link = Some(("/".to_string(), m.back_to_settings.to_string()));
                MessagePage::render_in(
                    lang,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    m.invalid_input_title,
                    m.invalid_characters,
                    link,
                )
            }
            // The language is not known here; the answer is rendered again in the visitor's.
            PageError::Internal => ErrorPage::Internal.render(Lang::Nl),
        }
    }
}

/// Renders a plain message page (no navigation) in a language.
pub fn message_page(lang: Lang, status: StatusCode, title: &str, text: &str) -> Response {
    MessagePage::render_in(lang, status, title, text, None)
}

/// `303 See Other` to a path of ours.
pub fn redirect(location: &str) -> Response {
    let location = HeaderValue::from_str(location).unwrap_or_else(|_| HeaderValue::from_static("/"));
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

/// Percent-encodes a query parameter value.
pub fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A local path to go back to after logging in or changing language; anything else (another site,
/// `//host`, a scheme) becomes the start page.
pub fn safe_local_path(path: &str) -> String {
    let path = path.trim();
    if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') && !path.contains("://") {
        path.to_string()
    } else {
        "/".to_string()
    }
}

/// The language of an anonymous visitor: the remembered choice, else Dutch. Koppel is a Dutch
/// product and says so from its first page; the login page offers English beside it, and the
/// choice is remembered (the browser's own language preference is deliberately not followed, so
/// that every office sees the same words as its help pages).
pub fn anonymous_language(headers: &HeaderMap) -> Lang {
    match cookie(headers, LANGUAGE_COOKIE) {
        Some(code) => Lang::parse(code),
        None => Lang::Nl,
    }
}

/// The CSRF token of a session: derived from the session secret, which only the browser holds, so
/// another site cannot know it.
pub fn csrf_token(session_secret: &str) -> String {
    let digest = Sha256::digest(format!("koppel-csrf:{session_secret}").as_bytes());
    URL_SAFE_NO_PAD.encode(digest)
}

/// Compares two tokens without leaking where they differ.
pub fn tokens_match(left: &str, right: &str) -> bool {
    left.len() == right.len() && left.bytes().zip(right.bytes()).fold(0_u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// A logged-in visitor.
#[derive(Debug, Clone)]
pub struct Visitor {
    pub user: User,
    pub lang: Lang,
    pub csrf: String,
    pub session_secret: String,
    pub flash: Option<ShownFlash>,
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let next = parts
            .uri
            .path_and_query()
            .map_or("/".to_string(), |p| p.as_str().to_string());
        let next = if parts.method == Method::GET {
            next
        } else {
            "/".to_string()
        };
        let secret = cookie(&parts.headers, SESSION_COOKIE)
            .ok_or(PageError::Login { next: next.clone() })?
            .to_string();
        let user_id = state
            .store
            .session_user(&secret)
            .await?
            .ok_or(PageError::Login { next })?;
        let user = state.store.user(user_id).await?;
        let lang = Lang::parse(&user.language);
        if parts.method != Method::GET
            && parts.method != Method::HEAD
            && !same_origin(&parts.headers, &crate::external::ExternalBase::of_parts(parts, state))
        {
            return Err(PageError::FormExpired(lang));
        }
        // The typed path that follows the visitor answers "not found" in this language.
        parts.extensions.insert(lang);
        Ok(Visitor {
            csrf: csrf_token(&secret),
            flash: read_flash(&parts.headers, lang),
            lang,
            user,
            session_secret: secret,
        })
    }
}

/// A submitted form as name/value pairs (a name may repeat: checkboxes).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(transparent)]
pub struct FormData(pub Vec<(String, String)>);

impl FormData {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Refuses a form with a control character in any value, except tabs and line breaks (a
    /// textarea's). NUL in particular would fail on PostgreSQL and be stored on SQLite.
    pub fn check_characters(&self, lang: Lang) -> Result<(), PageError> {
        let allowed = |c: char| koppel_domain::record::allowed_in_text(c, true);
        if self
            .0
            .iter()
            .all(|(key, value)| key.chars().all(allowed) && value.chars().all(allowed))
        {
            Ok(())
        } else {
            Err(PageError::InvalidInput(lang))
        }
    }

    /// Checks the CSRF token of a logged-in visitor's form.
    pub fn check_csrf(&self, visitor: &Visitor) -> Result<(), PageError> {
        match self.get("csrf") {
            Some(token) if tokens_match(token, &visitor.csrf) => Ok(()),
            _ => Err(PageError::FormExpired(visitor.lang)),
        }
    }
}

/// Reads a form body; an unreadable one is answered like an expired form.
pub fn form(
    body: Result<axum::Form<FormData>, axum::extract::rejection::FormRejection>,
    visitor: &Visitor,
) -> Result<FormData, PageError> {
    let axum::Form(data) = body.map_err(|_| PageError::FormExpired(visitor.lang))?;
    data.check_csrf(visitor)?;
    data.check_characters(visitor.lang)?;
    Ok(data)
}

/// The navigation sections of Settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Overview,
    Integrations,
    Datasync,
    Administrations,
    Users,
    Licences,
    Runs,
}

/// What the shared layout shows around every page.
pub struct Layout {
    pub m: &'static Messages,
    pub lang: Lang,
    pub title: String,
    pub user_name: String,
    pub current: Administration,
    /// The administrations the visitor may switch to, main first.
    pub switchable: Vec<Administration>,
    pub csrf: String,
    pub flash: Option<ShownFlash>,
    /// This page's path below `/a/{id}`, so switching administration or language returns here.
    pub page_path: String,
    pub nav: Nav,
    /// `/a/{id}`.
    pub base: String,
}

impl Layout {
    pub fn signed_in_as(&self) -> String {
        fill(self.m.signed_in_as, &[&self.user_name])
    }

    pub fn full_path(&self) -> String {
        format!("{}{}", self.base, self.page_path)
    }

    /// An inline SVG icon for a template: `{{ page.icon("power")|safe }}`.
    pub fn icon(&self, name: &str) -> &'static str {
        super::icons::svg(name)
    }

    /// The address that shows this page in another administration (`/switch` keeps the section).
    pub fn switch_href(&self, administration: &AdministrationId) -> String {
        format!("/switch?to={administration}&page={}", encode_component(&self.page_path))
    }

    /// Koppel's logo mark, beside its name in the top bar.
    pub fn logo(&self) -> &'static str {
        super::icons::LOGO
    }

    /// Where this page sits: Settings, the section (with its group), then the page itself when it
    /// is deeper than the section. The last crumb is the current page and has no link.
    pub fn crumbs(&self) -> Vec<Crumb> {
        let m = self.m;
        let link = |label: &str, path: &str| Crumb {
            label: label.to_string(),
            href: Some(format!("{}{path}", self.base)),
        };
        let mut crumbs = vec![link(m.nav_settings, "/settings")];
        let section: Option<(&str, &str)> = match self.nav {
            Nav::Overview => None,
            Nav::Integrations => {
                crumbs.push(Crumb {
                    label: m.nav_general.to_string(),
                    href: None,
                });
                Some((m.nav_integrations, "/settings/integrations"))
            }
            Nav::Datasync => Some((m.nav_datasync, "/settings/datasync")),
            Nav::Administrations => Some((m.nav_administrations, "/settings/administrations")),
            Nav::Users => Some((m.nav_users, "/settings/users")),
            Nav::Licences => Some((m.nav_licences, "/settings/licences")),
            Nav::Runs => Some((m.nav_runs, "/runs")),
        };
        if let Some((label, path)) = section {
            crumbs.push(link(label, path));
        }
        let on_section = crumbs.last().is_some_and(|last| last.label == self.title);
        if !on_section {
            crumbs.push(Crumb {
                label: self.title.clone(),
                href: None,
            });
        }
        if let Some(last) = crumbs.last_mut() {
            last.href = None;
        }
        crumbs
    }
}

/// One step of the breadcrumb trail.
pub struct Crumb {
    pub label: String,
    /// `None` for a group without a page of its own and for the current page.
    pub href: Option<String>,
}

/// A page about one administration: the visitor, their rights there, and the environment's state.
pub struct Context {
    pub visitor: Visitor,
    pub administration: Administration,
    pub rights: Rights,
    pub main: Administration,
    /// The visitor's rights in the main administration (environment-wide management happens there).
    pub main_rights: Option<Rights>,
    pub switchable: Vec<Administration>,
    pub licences: Vec<Licence>,
    pub today: NaiveDate,
}

impl Context {
    /// Enters an administration the visitor has access to; anything else is "not found".
    pub async fn enter(
        state: &AppState,
        visitor: Visitor,
        administration: AdministrationId,
    ) -> Result<Context, PageError> {
        let lang = visitor.lang;
        let memberships = state.store.memberships(visitor.user.id).await?;
        let current = memberships
            .iter()
            .find(|m| m.administration.id == administration)
            .ok_or(PageError::NotFound(lang))?;
        let environment = state.store.administrations(visitor.user.environment_id).await?;
        let main = environment
            .iter()
            .find(|a| a.is_main)
            .cloned()
            .ok_or(PageError::Internal)?;
        let main_rights = memberships
            .iter()
            .find(|m| m.administration.id == main.id)
            .map(|m| m.rights);
        let licences = state.store.licences(visitor.user.environment_id).await?;
        Ok(Context {
            administration: current.administration.clone(),
            rights: current.rights,
            switchable: memberships.iter().map(|m| m.administration.clone()).collect(),
            main,
            main_rights,
            licences,
            today: state.store.now().date_naive(),
            visitor,
        })
    }

    /// Goes on only when nothing stands in the way; otherwise the page becomes a gate that lists
    /// the reasons.
    pub fn require(&self, nav: Nav, title: &str, page_path: &str, reasons: Vec<String>) -> Result<(), PageError> {
        if reasons.is_empty() {
            Ok(())
        } else {
            Err(PageError::Shown(Box::new(self.gate(nav, title, page_path, reasons))))
        }
    }

    pub fn m(&self) -> &'static Messages {
        self.visitor.lang.messages()
    }

    pub fn lang(&self) -> Lang {
        self.visitor.lang
    }

    pub fn base(&self) -> String {
        format!("/a/{}", self.administration.id)
    }

    pub fn layout(&self, nav: Nav, title: &str, page_path: &str) -> Layout {
        Layout {
            m: self.m(),
            lang: self.lang(),
            title: title.to_string(),
            user_name: self.visitor.user.name.clone(),
            current: self.administration.clone(),
            switchable: self.switchable.clone(),
            csrf: self.visitor.csrf.clone(),
            flash: self.visitor.flash.clone(),
            page_path: page_path.to_string(),
            nav,
            base: self.base(),
        }
    }

    pub fn licence(&self, power_up: PowerUp) -> Option<&Licence> {
        self.licences.iter().find(|l| l.power_up == power_up)
    }

    /// Why the visitor may not use something that needs `right` here, if they may not.
    pub fn need_right(&self, right: Right) -> Option<String> {
        (!self.rights.has(right)).then(|| {
            fill(
                self.m().gate_right,
                &[right_name(self.m(), right), &self.administration.name],
            )
        })
    }

    /// Why the visitor may not use environment-wide management that needs `right` on the main.
    pub fn need_right_on_main(&self, right: Right) -> Option<String> {
        let held = self.main_rights.is_some_and(|rights| rights.has(right));
        (!held).then(|| fill(self.m().gate_right_main, &[right_name(self.m(), right)]))
    }

    /// Why a power-up cannot be used, if it cannot.
    pub fn need_licence(&self, power_up: PowerUp) -> Option<String> {
        let m = self.m();
        let name = power_up_name(m, power_up);
        match self.licence(power_up).map(|l| l.state) {
            Some(state) if state.is_usable(self.today) => None,
            Some(koppel_domain::licence::LicenceState::Trial { until }) => {
                Some(fill(m.gate_licence_expired, &[name, &self.lang().date(until)]))
            }
            _ => Some(fill(m.gate_licence, &[name])),
        }
    }

    /// Why a page that exists only in the main administration cannot be shown here.
    pub fn need_main(&self) -> Option<String> {
        (!self.administration.is_main).then(|| fill(self.m().gate_main_only, &[&self.main.name]))
    }

    /// A link to the same page in the main administration, when the visitor may go there.
    pub fn main_link(&self, page_path: &str) -> Option<(String, String)> {
        (!self.administration.is_main && self.main_rights.is_some()).then(|| {
            (
                format!("/a/{}{page_path}", self.main.id),
                fill(self.m().gate_open_main, &[&self.main.name]),
            )
        })
    }

    /// A page explaining why this page is not available (status 403).
    pub fn gate(&self, nav: Nav, title: &str, page_path: &str, reasons: Vec<String>) -> Response {
        let page = GatePage {
            page: self.layout(nav, &fill(self.m().gate_page_title, &[title]), page_path),
            reasons,
            link: self.main_link(page_path),
        };
        html(StatusCode::FORBIDDEN, page.render())
    }
}

#[derive(Template)]
#[template(path = "gate.html")]
struct GatePage {
    page: Layout,
    reasons: Vec<String>,
    link: Option<(String, String)>,
}

pub fn right_name(m: &'static Messages, right: Right) -> &'static str {
    match right {
        Right::ReadData => m.right_read_data,
        Right::WriteData => m.right_write_data,
        Right::ManageAdministrations => m.right_manage_administrations,
        Right::SyncSettings => m.right_sync_settings,
        Right::ManageDatasync => m.right_manage_datasync,
        Right::ManageIntegrations => m.right_manage_integrations,
    }
}

pub fn power_up_name(m: &'static Messages, power_up: PowerUp) -> &'static str {
    match power_up {
        PowerUp::PowerBi => m.power_up_power_bi,
        PowerUp::SubAdministrations => m.power_up_sub_administrations,
        PowerUp::Accountview => m.power_up_accountview,
    }
}

/// Reads an id the visitor sent (the administration to switch to); anything else is "not found".
pub fn id_or_not_found(text: &str, lang: Lang) -> Result<i64, PageError> {
    text.parse::<i64>().map_err(|_| PageError::NotFound(lang))
}
