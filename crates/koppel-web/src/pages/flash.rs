//! Flash messages: a catalogue text shown once on the page a form's redirect leads to
//! (POST-redirect-GET).
//!
//! Every message is a variant of [`Flash`] tied to a field of the catalogue, so a message that
//! does not exist does not compile (a name in a string could be mistyped and then silently show
//! nothing). The short-lived cookie carries the field's name, its tone and the one value the text
//! may have a place for: `ok.user_created.<base64 of the name>`.

use super::context::{FLASH_COOKIE, redirect};
use super::i18n::{Lang, Messages, fill};
use crate::auth::cookie;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// How a message is shown: as news of something done, or as something that stopped the visitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Ok,
    Error,
}

impl Tone {
    /// The tone's name in the cookie (and the message's style class).
    fn name(self) -> &'static str {
        match self {
            Tone::Ok => "ok",
            Tone::Error => "error",
        }
    }
}

macro_rules! flashes {
    ($($variant:ident => $field:ident, $tone:ident;)*) => {
        /// Every flash message of the back office; each shows the catalogue text of its field.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Flash {
            $($variant,)*
        }

        impl Flash {
            pub const ALL: &'static [Flash] = &[$(Flash::$variant,)*];

            /// The stable name the cookie carries: the catalogue field's.
            pub fn name(self) -> &'static str {
                match self {
                    $(Flash::$variant => stringify!($field),)*
                }
            }

            /// The message's text in a language, with a `{}` where a value goes.
            pub fn text(self, m: &'static Messages) -> &'static str {
                match self {
                    $(Flash::$variant => m.$field,)*
                }
            }

            pub fn tone(self) -> Tone {
                match self {
                    $(Flash::$variant => Tone::$tone,)*
                }
            }
        }
    };
}

flashes! {
    LoggedOut => logged_out, Ok;
    LanguageChanged => language_changed, Ok;
    CreatedAdministration => created_administration, Ok;
    DeletedAdministration => deleted_administration, Ok;
    MainNotDeletable => main_not_deletable, Error;
    UserCreated => user_created, Ok;
    RightsSaved => rights_saved, Ok;
    LicenceActivated => licence_activated, Ok;
    LicenceDeactivated => licence_deactivated, Ok;
    SettingsSyncStarted => sync_started, Ok;
    // The visitor's own selection did not start: another settings sync of this main runs, and the
    // visitor is taken to that one.
    SettingsSyncJoined => sync_joined, Error;
    DatasyncAutosyncOn => ds_autosync_on_saved, Ok;
    DatasyncAutosyncOff => ds_autosync_off_saved, Ok;
    DatasyncSyncStarted => ds_sync_started, Ok;
    DatasyncSyncRunning => ds_sync_running, Ok;
    DatasyncTokenRevoked => ds_token_revoked_saved, Ok;
    AccountviewConnected => av_connected, Ok;
    AccountviewSignInDenied => av_sign_in_denied, Error;
    AccountviewSignInInvalid => av_sign_in_invalid, Error;
    AccountviewSignInExpired => av_sign_in_expired, Error;
    AccountviewSignInFailed => av_sign_in_failed, Error;
    AccountviewSaved => av_saved, Ok;
    AccountviewSavedImporting => av_saved_importing, Ok;
    AccountviewCompanyLocked => av_company_locked, Error;
    AccountviewNotConnected => av_not_connected, Error;
    AccountviewExpired => av_expired, Error;
    AccountviewNotSaved => av_not_saved, Error;
    AccountviewUnavailable => av_unavailable, Error;
    AccountviewImportStarted => av_import_started, Ok;
    AccountviewImportRunning => av_import_running, Ok;
    AccountviewExportStarted => av_export_started, Ok;
    AccountviewExportRunning => av_export_running, Ok;
    AccountviewDisconnected => av_disconnected, Ok;
}

impl Flash {
    /// The message a cookie names, if it names one.
    pub fn named(name: &str) -> Option<Flash> {
        Flash::ALL.iter().copied().find(|flash| flash.name() == name)
    }
}

/// A flash message as the next page shows it.
#[derive(Debug, Clone)]
pub struct ShownFlash {
    pub success: bool,
    pub text: String,
}

/// A redirect that shows `flash` on the next page.
pub fn redirect_with_flash(location: &str, flash: Flash) -> Response {
    redirect_with_flash_about(location, flash, "")
}

/// A redirect that shows `flash` on the next page, with `value` (a name, say) in its text.
pub fn redirect_with_flash_about(location: &str, flash: Flash, value: &str) -> Response {
    let mut response = redirect(location);
    let payload = format!(
        "{}.{}.{}",
        flash.tone().name(),
        flash.name(),
        URL_SAFE_NO_PAD.encode(value.as_bytes())
    );
    if let Ok(cookie) = HeaderValue::from_str(&format!(
        "{FLASH_COOKIE}={payload}; Path=/; HttpOnly; SameSite=Lax; Max-Age=120"
    )) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// The flash message a request's cookie carries, in the visitor's language.
pub fn read_flash(headers: &HeaderMap, lang: Lang) -> Option<ShownFlash> {
    let raw = cookie(headers, FLASH_COOKIE)?;
    let mut parts = raw.splitn(3, '.');
    let success = parts.next()? == Tone::Ok.name();
    let text = Flash::named(parts.next()?)?.text(lang.messages());
    let value = String::from_utf8(URL_SAFE_NO_PAD.decode(parts.next().unwrap_or_default()).ok()?).ok()?;
    Some(ShownFlash {
        success,
        text: fill(text, &[&value]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_is_found_by_its_name() {
        for flash in Flash::ALL {
            assert_eq!(Flash::named(flash.name()), Some(*flash));
        }
        assert_eq!(Flash::named("no_such_message"), None);
    }

    #[test]
    fn a_redirect_carries_the_message_and_its_value() {
        let response = redirect_with_flash_about("/a/1/settings", Flash::UserCreated, "Anna");
        let set_cookie = response.headers()[header::SET_COOKIE].to_str().expect("ascii");
        let mut headers = HeaderMap::new();
        let pair = set_cookie.split(';').next().expect("a cookie");
        headers.insert(header::COOKIE, HeaderValue::from_str(pair).expect("a header"));
        let shown = read_flash(&headers, Lang::En).expect("a message");
        assert!(shown.success);
        assert_eq!(shown.text, fill(Lang::En.messages().user_created, &["Anna"]));
    }
}
