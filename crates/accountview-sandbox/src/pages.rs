//! The HTML pages a person sees in the authorize flow (login, consent, errors) and the sandbox's start page.
//! Dutch first, English beneath, like the Visma pages they stand in for. Plain forms, no script.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::catalog::{SCOPE_READ, SCOPE_UPDATE};

/// Escapes text for HTML element content and double-quoted attributes.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

fn layout(title: &str, body: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="nl">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} – AccountView (sandbox)</title>
<style>
body {{ font-family: system-ui, sans-serif; background: #f3f5f8; color: #1d2733; margin: 0; }}
header {{ background: #0b3d6e; color: #fff; padding: 0.8rem 1.5rem; font-weight: 600; }}
header small {{ font-weight: 400; opacity: 0.8; margin-left: 0.5rem; }}
main {{ max-width: 30rem; margin: 2.5rem auto; background: #fff; padding: 1.5rem 2rem; border-radius: 6px;
  box-shadow: 0 1px 4px rgba(0,0,0,0.12); }}
h1 {{ font-size: 1.3rem; margin-top: 0; }}
label {{ display: block; margin-top: 1rem; font-weight: 600; }}
input[type=text], input[type=password] {{ width: 100%; padding: 0.5rem; box-sizing: border-box; margin-top: 0.3rem; }}
button {{ margin-top: 1.2rem; padding: 0.55rem 1.2rem; border: 0; border-radius: 4px; font-size: 1rem; cursor: pointer; }}
button.primary {{ background: #0b6ec5; color: #fff; }}
button.secondary {{ background: #e2e6eb; color: #1d2733; margin-left: 0.5rem; }}
.error {{ background: #fdecea; color: #8a1c12; padding: 0.6rem 0.8rem; border-radius: 4px; }}
.en {{ color: #5b6776; font-size: 0.9rem; }}
ul.scopes li {{ margin: 0.4rem 0; }}
code {{ background: #eef1f4; padding: 0.1rem 0.3rem; border-radius: 3px; }}
</style>
</head>
<body>
<header>AccountView.Net<small>sandbox – geen echte administratie / not real books</small></header>
<main>
{body}
</main>
</body>
</html>
"#,
        title = escape(title),
    )
}

/// The login form of the authorize flow; `error` re-shows it after a failed attempt.
pub fn login(client_name: &str, request_id: &str, login: &str, error: Option<&str>) -> Response {
    let error_block = error
        .map(|message| format!(r#"<p class="error" role="alert">{}</p>"#, escape(message)))
        .unwrap_or_default();
    let body = format!(
        r#"<h1>Inloggen bij AccountView</h1>
<p><strong>{client}</strong> vraagt toegang tot uw AccountView-administraties.<br>
<span class="en">{client} asks for access to your AccountView administrations. Please sign in.</span></p>
{error_block}
<form method="post" action="/ams/login.aspx">
<input type="hidden" name="request_id" value="{request_id}">
<label for="username">E-mailadres <span class="en">/ e-mail</span></label>
<input type="text" id="username" name="username" autocomplete="username" value="{login}" required>
<label for="password">Wachtwoord <span class="en">/ password</span></label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<button class="primary" type="submit">Inloggen / Sign in</button>
</form>"#,
        client = escape(client_name),
        request_id = escape(request_id),
        login = escape(login),
    );
    Html(layout("Inloggen", &body)).into_response()
}

fn scope_description(scope: &str) -> (&'static str, &'static str) {
    match scope {
        SCOPE_READ => (
            "Gegevens uit uw administraties lezen",
            "Read data from your administrations",
        ),
        SCOPE_UPDATE => (
            "Gegevens in uw administraties toevoegen en wijzigen",
            "Add and change data in your administrations",
        ),
        _ => ("Onbekende toestemming", "Unknown permission"),
    }
}

/// The consent page: who asks, for which scopes, approve or deny.
pub fn consent(client_name: &str, user_name: &str, scopes: &[String], request_id: &str) -> Response {
    let items: String = scopes
        .iter()
        .map(|scope| {
            let (dutch, english) = scope_description(scope);
            format!(
                r#"<li><code>{}</code> – {dutch}<br><span class="en">{english}</span></li>"#,
                escape(scope)
            )
        })
        .collect();
    let body = format!(
        r#"<h1>Toegang verlenen</h1>
<p>Ingelogd als <strong>{user}</strong>.<br><span class="en">Signed in as {user}.</span></p>
<p><strong>{client}</strong> vraagt de volgende toestemmingen:<br>
<span class="en">{client} asks for these permissions:</span></p>
<ul class="scopes">{items}</ul>
<form method="post" action="/ams/consent.aspx">
<input type="hidden" name="request_id" value="{request_id}">
<button class="primary" type="submit" name="decision" value="approve">Toestaan / Allow</button>
<button class="secondary" type="submit" name="decision" value="deny">Weigeren / Deny</button>
</form>"#,
        user = escape(user_name),
        client = escape(client_name),
        request_id = escape(request_id),
    );
    Html(layout("Toegang verlenen", &body)).into_response()
}

/// An error page that does not redirect: used when the client or redirect URI cannot be trusted.
pub fn error(status: StatusCode, dutch: &str, english: &str) -> Response {
    let body = format!(
        r#"<h1>Er ging iets mis</h1>
<p class="error" role="alert">{}</p>
<p class="en">{}</p>"#,
        escape(dutch),
        escape(english)
    );
    (status, Html(layout("Fout", &body))).into_response()
}

/// The start page at `/`: what this is and where to go.
pub fn index(logins: &[(String, String)], client_ids: &[String]) -> Response {
    let login_items: String = logins
        .iter()
        .map(|(login, name)| format!("<li><code>{}</code> – {}</li>", escape(login), escape(name)))
        .collect();
    let client_items: String = client_ids
        .iter()
        .map(|id| format!("<li><code>{}</code></li>", escape(id)))
        .collect();
    let body = format!(
        r#"<h1>AccountView sandbox</h1>
<p>Een lokale stand-in voor de AccountView.Net Web API v3 en de OAuth-aanmelding, voor tests en demo's.<br>
<span class="en">A local stand-in for AccountView.Net's Web API v3 and OAuth sign-in, for tests and demos.</span></p>
<p>Gebruikers <span class="en">/ users</span>:</p>
<ul>{login_items}</ul>
<p>Geregistreerde clients <span class="en">/ registered clients</span>:</p>
<ul>{client_items}</ul>
<p class="en">Start the flow at <code>/ams/authorize.aspx?response_type=code&amp;client_id=…&amp;redirect_uri=…&amp;scope=readaccountviewdata&amp;state=…</code>.
The control surface lives under <code>/_sandbox/</code>; see the crate's README.</p>"#
    );
    Html(layout("Sandbox", &body)).into_response()
}
