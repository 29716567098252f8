//! The one message catalogue of the back office, in Dutch (the default) and English, and the
//! Dutch and English ways of writing dates, times and amounts.
//!
//! Every text is a field of [`Messages`], so a template that names a key that does not exist does
//! not compile: a page cannot show a missing key. Texts with a value in them use `{}` placeholders,
//! filled in order by [`fill`].

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::{Europe::Amsterdam, Tz};

/// A moment in the Netherlands' time zone, where Koppel's customers work.
pub fn local_time(moment: DateTime<Utc>) -> DateTime<Tz> {
    moment.with_timezone(&Amsterdam)
}

/// The Netherlands' calendar day of a moment.
pub fn local_date(moment: DateTime<Utc>) -> NaiveDate {
    local_time(moment).date_naive()
}

/// The languages of the back office.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Nl,
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Nl, Lang::En];

    pub fn code(self) -> &'static str {
        match self {
            Lang::Nl => "nl",
            Lang::En => "en",
        }
    }

    /// Unknown or missing codes fall back to Dutch.
    pub fn parse(code: &str) -> Lang {
        match code.trim().to_ascii_lowercase().as_str() {
            "en" => Lang::En,
            _ => Lang::Nl,
        }
    }

    pub fn messages(self) -> &'static Messages {
        match self {
            Lang::Nl => &NL,
            Lang::En => &EN,
        }
    }

    /// A month's short name: `mrt`, `okt` in Dutch, `Mar`, `Oct` in English.
    fn month_short(self, month: u32) -> &'static str {
        const NL_MONTHS: [&str; 12] = [
            "jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec",
        ];
        const EN_MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let index = (month.clamp(1, 12) - 1) as usize;
        match self {
            Lang::Nl => NL_MONTHS[index],
            Lang::En => EN_MONTHS[index],
        }
    }

    /// `22 nov 2026` in Dutch, `22 Nov 2026` in English.
    pub fn date(self, date: NaiveDate) -> String {
        format!("{} {} {}", date.day(), self.month_short(date.month()), date.year())
    }

    /// `22 nov` in Dutch, `22 Nov` in English: a date in the current year.
    fn day_month(self, date: NaiveDate) -> String {
        format!("{} {}", date.day(), self.month_short(date.month()))
    }

    /// A moment as people in the Netherlands read it, in their own time (summer time included):
    /// `4 dec 2026 14:16` in Dutch, `4 Dec 2026 14:16` in English. The server keeps UTC.
    pub fn date_time(self, moment: DateTime<Utc>) -> String {
        let local = local_time(moment);
        format!("{} {}", self.date(local.date_naive()), local.format("%H:%M"))
    }

    /// A moment relative to `now` where that reads better: `vandaag 14:16`, `gisteren 09:02`
    /// (`today 14:16`, `yesterday 09:02`), otherwise as [`Lang::date_time`]. Days are the
    /// Netherlands' calendar days.
    pub fn date_time_relative(self, moment: DateTime<Utc>, now: DateTime<Utc>) -> String {
        let local = local_time(moment);
        let today = local_time(now).date_naive();
        let time = local.format("%H:%M").to_string();
        let m = self.messages();
        if local.date_naive() == today {
            fill(m.time_today, &[&time])
        } else if today.pred_opt() == Some(local.date_naive()) {
            fill(m.time_yesterday, &[&time])
        } else {
            self.date_time(moment)
        }
    }

    /// A moment in a title: `4 dec 14:16`, with the year only when it is not `now`'s year.
    pub fn date_time_short(self, moment: DateTime<Utc>, now: DateTime<Utc>) -> String {
        let local = local_time(moment);
        if local.year() == local_time(now).year() {
            format!("{} {}", self.day_month(local.date_naive()), local.format("%H:%M"))
        } else {
            self.date_time(moment)
        }
    }

    /// Money in cents: `€ 1.234,56` in Dutch, `€1,234.56` in English.
    pub fn money(self, cents: i64) -> String {
        let sign = if cents < 0 { "-" } else { "" };
        let whole = (cents.unsigned_abs() / 100).to_string();
        let fraction = cents.unsigned_abs() % 100;
        let (group, decimal) = match self {
            Lang::Nl => ('.', ','),
            Lang::En => (',', '.'),
        };
        let grouped = group_digits(&whole, group);
        match self {
            Lang::Nl => format!("{sign}€ {grouped}{decimal}{fraction:02}"),
            Lang::En => format!("{sign}€{grouped}{decimal}{fraction:02}"),
        }
    }

    /// A whole number with thousands separators.
    pub fn number(self, value: i64) -> String {
        let digits = value.unsigned_abs().to_string();
        let group = if self == Lang::Nl { '.' } else { ',' };
        let grouped = group_digits(&digits, group);
        if value < 0 { format!("-{grouped}") } else { grouped }
    }
}

/// `1234567` → `1.234.567` (or with another separator).
fn group_digits(digits: &str, separator: char) -> String {
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(separator);
        }
        grouped.push(digit);
    }
    grouped
}

/// Fills the `{}` placeholders of a catalogue text in order.
pub fn fill(template: &str, values: &[&str]) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut values = values.iter();
    let mut rest = template;
    while let Some(at) = rest.find("{}") {
        out.push_str(&rest[..at]);
        out.push_str(values.next().copied().unwrap_or(""));
        rest = &rest[at + 2..];
    }
    out.push_str(rest);
    out
}

macro_rules! catalogue {
    ($($key:ident: $nl:literal, $en:literal;)*) => {
        /// Every text of the back office in one language.
        #[derive(Debug)]
        pub struct Messages {
            $(pub $key: &'static str,)*
        }

        pub static NL: Messages = Messages { $($key: $nl,)* };
        pub static EN: Messages = Messages { $($key: $en,)* };

        /// Every key with its Dutch and English text, for tests.
        pub const KEYS: &[(&str, &str, &str)] = &[$((stringify!($key), $nl, $en),)*];

        impl Messages {
            /// A text by its key's name, for tests that walk [`KEYS`]. Pages name their texts as
            /// fields (flash messages too, through `Flash`), so that a missing one cannot compile.
            pub fn get(&self, key: &str) -> Option<&'static str> {
                match key {
                    $(stringify!($key) => Some(self.$key),)*
                    _ => None,
                }
            }
        }
    };
}

catalogue! {
    app_name: "Koppel", "Koppel";
    skip_to_content: "Naar de inhoud", "Skip to content";
    // Log in and out.
    login_title: "Inloggen", "Log in";
    login_intro: "Log in met je e-mailadres en wachtwoord.", "Log in with your e-mail address and password.";
    login_email: "E-mailadres", "E-mail address";
    login_password: "Wachtwoord", "Password";
    login_submit: "Inloggen", "Log in";
    login_wrong: "Het e-mailadres of het wachtwoord is onjuist. Controleer beide en probeer het opnieuw.",
        "The e-mail address or the password is wrong. Check both and try again.";
    login_missing: "Vul je e-mailadres en je wachtwoord in.", "Fill in your e-mail address and your password.";
    login_locked: "Te veel mislukte pogingen voor dit e-mailadres. Probeer het over {} minuten opnieuw.",
        "Too many failed attempts for this e-mail address. Try again in {} minutes.";
    login_expired: "Je sessie is verlopen. Log opnieuw in.", "Your session has ended. Please log in again.";
    logout: "Uitloggen", "Log out";
    logged_out: "Je bent uitgelogd.", "You have been logged out.";
    form_expired: "Dit formulier is verlopen of kwam niet van deze site. Laad de pagina opnieuw en probeer het nog eens.",
        "This form has expired or did not come from this site. Reload the page and try again.";
    form_unreadable: "Het formulier kon niet worden gelezen. Laad de pagina opnieuw en probeer het nog eens.",
        "The form could not be read. Reload the page and try again.";
    // Top bar.
    administration: "Administratie", "Administration";
    switch_administration: "Wisselen", "Switch";
    switch_label: "Administratie kiezen", "Choose administration";
    language: "Taal", "Language";
    language_nl: "Nederlands", "Nederlands";
    language_en: "English", "English";
    language_save: "Taal wijzigen", "Change language";
    language_changed: "De taal is gewijzigd.", "The language has been changed.";
    signed_in_as: "Ingelogd als {}", "Signed in as {}";
    // Navigation.
    nav_settings: "Instellingen", "Settings";
    nav_general: "Algemeen", "General";
    nav_integrations: "Software-integraties", "Software integrations";
    nav_datasync: "Data Sync", "Data Sync";
    nav_administrations: "Administraties", "Administrations";
    nav_users: "Gebruikers en rechten", "Users and rights";
    nav_licences: "Licentie Manager", "Licence Manager";
    nav_runs: "Geschiedenis", "History";
    settings_intro: "Beheer hier de koppelingen, Data Sync, administraties, gebruikers en licenties van {}.",
        "Manage the integrations, Data Sync, administrations, users and licences of {} here.";
    // Gates.
    gate_title: "Deze pagina is niet beschikbaar", "This page is not available";
    gate_right: "Je hebt het recht ‘{}’ nodig in administratie {}. Vraag een beheerder om het je te geven.",
        "You need the right ‘{}’ in administration {}. Ask an administrator to grant it.";
    gate_right_main: "Je hebt het recht ‘{}’ nodig in de hoofdadministratie. Vraag een beheerder om het je te geven.",
        "You need the right ‘{}’ in the main administration. Ask an administrator to grant it.";
    gate_licence: "De power-up ‘{}’ is niet actief. Activeer hem in de Licentie Manager.",
        "The power-up ‘{}’ is not active. Activate it in the Licence Manager.";
    gate_licence_expired: "De proefperiode van de power-up ‘{}’ is op {} afgelopen. Activeer hem in de Licentie Manager.",
        "The trial of the power-up ‘{}’ ended on {}. Activate it in the Licence Manager.";
    gate_main_only: "Deze pagina is er alleen in de hoofdadministratie {}.",
        "This page exists only in the main administration {}.";
    gate_open_main: "Open deze pagina in {}", "Open this page in {}";
    not_found_title: "Niet gevonden", "Not found";
    not_found_text: "Deze pagina of administratie bestaat niet, of je hebt er geen toegang toe.",
        "This page or administration does not exist, or you have no access to it.";
    form_expired_title: "Formulier geweigerd", "Form refused";
    invalid_input_title: "Ongeldige invoer", "Invalid input";
    invalid_characters: "Het formulier bevat een teken dat niet is toegestaan (een NUL- of ander stuurteken). Pas de invoer aan en probeer het opnieuw.",
        "The form contains a character that is not allowed (a NUL or other control character). Correct the input and try again.";
    gate_page_title: "Niet beschikbaar: {}", "Not available: {}";
    no_access_title: "Geen toegang", "No access";
    no_access_text: "Je account heeft nog geen toegang tot een administratie. Vraag een beheerder om toegang.",
        "Your account has no access to any administration yet. Ask an administrator for access.";
    server_error_title: "Er ging iets mis", "Something went wrong";
    server_error_text: "Er ging aan onze kant iets mis. Probeer het later opnieuw; blijft het misgaan, neem dan contact op met de beheerder.",
        "Something went wrong on our side. Try again later; if it keeps happening, contact your administrator.";
    back_to_settings: "Terug naar Instellingen", "Back to Settings";
    // Rights.
    right_read_data: "Gegevens inzien", "Read data";
    right_write_data: "Gegevens wijzigen", "Change data";
    right_manage_administrations: "Administraties, gebruikers en licenties beheren", "Manage administrations, users and licences";
    right_sync_settings: "Instellingen synchroniseren", "Sync settings";
    right_manage_datasync: "Data Sync beheren", "Manage Data Sync";
    right_manage_integrations: "Software-integraties beheren", "Manage software integrations";
    // Power-ups.
    power_up_power_bi: "Power BI (Data Sync)", "Power BI (Data Sync)";
    power_up_sub_administrations: "Subadministraties", "Sub-administrations";
    power_up_accountview: "AccountView", "AccountView";
    power_up_power_bi_text: "Houd een rapportagekopie van je gegevens actueel en lees hem in Power BI.",
        "Keep a reporting copy of your data current and read it in Power BI.";
    power_up_sub_administrations_text: "Werk met subadministraties en synchroniseer instellingen vanuit de hoofdadministratie.",
        "Work with sub-administrations and sync settings from the main administration.";
    power_up_accountview_text: "Importeer stamgegevens uit AccountView en exporteer afgeronde werkbonnen als verkoopfacturen.",
        "Import master data from AccountView and export completed work orders as sales invoices.";
    // Software integrations.
    integrations_title: "Software-integraties", "Software integrations";
    integrations_intro: "Verbind Koppel met de boekhoudsoftware van uw bedrijf. Open een integratie om deze in te stellen.",
        "Connect Koppel to your company's accounting software. Open an integration to set it up.";
    integration_open: "Openen", "Open";
    accountview_title: "AccountView", "AccountView";
    accountview_intro: "Met de AccountView-integratie importeert u debiteuren, artikelen, btw-codes en grootboekrekeningen, en exporteert u afgeronde werkbonnen precies één keer als verkoopfactuur.",
        "With the AccountView integration you import debtors, articles, VAT codes and ledger accounts, and export completed work orders exactly once as sales invoices.";
    // Data Sync.
    datasync_title: "Data Sync", "Data Sync";
    datasync_intro: "Data Sync houdt een rapportagekopie van de gegevens van deze administratie actueel voor Power BI.",
        "Data Sync keeps a reporting copy of this administration's data current for Power BI.";
    // AccountView page.
    av_not_configured: "De beheerder van deze Koppel-installatie heeft AccountView nog niet ingesteld. Vraag de beheerder om de AccountView-koppeling te configureren.",
        "The operator of this Koppel installation has not configured AccountView. Ask the operator to configure the AccountView integration.";
    av_sandbox_notice: "Demo: deze AccountView is de sandbox die met koppel serve --demo meedraait, met voorbeeldadministraties en geen echte boekhouding. Log daar in met {} en wachtwoord {}.",
        "Demo: this AccountView is the sandbox that runs with koppel serve --demo, with sample administrations and no real books. Log in there with {} and password {}.";
    av_login_title: "Verbinden met AccountView", "Connect to AccountView";
    av_login_help: "De integratie is nog niet verbonden. Klik Inloggen: u meldt zich aan op de inlogpagina van AccountView met uw AccountView-inloggegevens en geeft Koppel toestemming om toegang te krijgen tot uw gegevens. Daarna opent Koppel opnieuw deze instellingenpagina.",
        "The integration is not connected yet. Click Log in: you sign in on AccountView's login page with your AccountView credentials and give Koppel permission to access your data. Koppel then opens this settings page again.";
    av_login_button: "Inloggen", "Log in";
    av_expired: "Authenticatie verlopen. Verbind de integratie opnieuw om gegevens te synchroniseren.",
        "Authentication expired. Reconnect the integration to sync data.";
    av_connected_since: "Verbonden met AccountView sinds {}.", "Connected to AccountView since {}.";
    av_connected: "Verbonden met AccountView. Kies in Algemene instellingen de administratie en klik Opslaan.",
        "Connected to AccountView. Choose the administration under General settings and click Save.";
    av_sign_in_denied: "U heeft Koppel in AccountView geen toegang gegeven. Er is niets verbonden.",
        "You did not give Koppel access in AccountView. Nothing was connected.";
    av_sign_in_invalid: "Deze aanmelding kon niet worden gecontroleerd (al gebruikt, onbekend of van een andere gebruiker). Er is niets verbonden; klik opnieuw op Inloggen.",
        "This sign-in could not be verified (already used, unknown or another user's). Nothing was connected; click Log in again.";
    av_sign_in_expired: "De aanmelding duurde langer dan tien minuten. Er is niets verbonden; klik opnieuw op Inloggen.",
        "The sign-in took longer than ten minutes. Nothing was connected; click Log in again.";
    av_sign_in_failed: "AccountView meldde een fout bij het aanmelden. Er is niets verbonden. {}",
        "AccountView reported an error during sign-in. Nothing was connected. {}";
    av_general_title: "Algemene instellingen", "General settings";
    av_company_label: "Administratie", "Administration";
    av_choose: "Kies…", "Choose…";
    av_company_locked: "De administratie is vastgelegd. Wilt u een andere administratie synchroniseren, ontkoppel dan eerst de integratie.",
        "The administration is fixed. To sync another administration, disconnect the integration first.";
    av_company_missing: "Kies eerst de administratie in AccountView.", "Choose the administration in AccountView first.";
    av_import_title: "Importinstellingen", "Import settings";
    av_import_help: "Kies wat Koppel uit AccountView importeert. AccountView is leidend voor wat het importeert; imports lopen volgens schema en alleen met wijzigingen.",
        "Choose what Koppel imports from AccountView. AccountView leads for what it imports; imports run on the schedule and only fetch changes.";
    av_import_now: "Nu importeren", "Import now";
    av_import_all: "Alles nu importeren", "Import everything now";
    av_include_blocked: "Ook geblokkeerde debiteuren importeren", "Also import blocked debtors";
    av_article_groups: "Artikelgroepen", "Article groups";
    av_article_groups_help: "Kies geen groep om alle artikelen te importeren.", "Choose no group to import every article.";
    av_import_started: "De import is gestart.", "The import has started.";
    av_import_running: "Er loopt al een import; die neemt dit mee.", "An import is already running; it takes this along.";
    av_export_title: "Exportinstellingen", "Export settings";
    av_export_enabled: "Afgeronde werkbonnen exporteren als verkoopfactuur", "Export completed work orders as sales invoices";
    av_codes_missing: "Importeer eerst de btw-codes, grootboekrekeningen en dagboeken: u kiest ze hieronder uit wat geïmporteerd is.",
        "Import the VAT codes, ledger accounts and journals first: you choose them below from what was imported.";
    av_trigger_status: "Exporteren bij status", "Export at status";
    av_done_status: "Status na een geslaagde export", "Status after a successful export";
    av_cut_off: "Werkbonnen exporteren vanaf", "Export work orders from";
    av_cut_off_help: "Werkbonnen die eerder zijn afgerond worden niet geëxporteerd.", "Work orders completed earlier are not exported.";
    av_sales_journal: "Verkoopdagboek", "Sales journal";
    av_hours_account: "Omzetrekening uren", "Revenue account for hours";
    av_materials_account: "Omzetrekening materialen", "Revenue account for materials";
    av_vat_for: "Btw-code voor {}", "VAT code for {}";
    av_cost_centre: "Kostenplaats (optioneel)", "Cost centre (optional)";
    av_blocked: "(geblokkeerd)", "(blocked)";
    av_create_debtors: "Ontbrekende debiteuren aanmaken in AccountView", "Create missing debtors in AccountView";
    av_export_now: "Nu exporteren", "Export now";
    av_export_started: "De export is gestart.", "The export has started.";
    av_export_running: "Er loopt al een export; die neemt dit mee.", "An export is already running; it takes this along.";
    av_check_title: "Voordat u opslaat", "Before you save";
    av_check_help: "Controleer eerst deze punten:", "Check these points first:";
    av_check_button: "Controleren", "Check";
    av_check_ok: "In orde", "Fine";
    av_check_problem: "Niet in orde", "Not fine";
    av_check_failed: "Niet opgeslagen: los eerst de punten van de controle op.", "Not saved: resolve the points of the check first.";
    av_save: "Opslaan", "Save";
    av_saved: "De AccountView-instellingen zijn opgeslagen.", "The AccountView settings have been saved.";
    av_not_connected: "AccountView is niet verbonden. Klik op Inloggen.", "AccountView is not connected. Click Log in.";
    av_not_saved: "Kies eerst de administratie en sla de instellingen op.", "Choose the administration and save the settings first.";
    av_unavailable: "AccountView is nu niet bereikbaar. Probeer het later opnieuw.", "AccountView cannot be reached right now. Try again later.";
    av_log_title: "Logboek", "Log";
    av_log_none: "Nog geen synchronisatie-activiteit.", "No sync activity yet.";
    av_log_errors_only: "Alleen fouten tonen", "Show errors only";
    av_log_all: "Alles tonen", "Show everything";
    av_log_older: "Oudere activiteit", "Older activity";
    av_disconnect: "Ontkoppelen", "Disconnect";
    av_disconnect_title: "AccountView ontkoppelen", "Disconnect AccountView";
    av_disconnect_text: "Wat gebeurt er als u de integratie ontkoppelt? De synchronisatie stopt. Bestaande gegevens in Koppel blijven behouden. Er worden geen nieuwe gegevens gesynchroniseerd totdat u opnieuw verbinding maakt. Al geëxporteerde werkbonnen worden na opnieuw verbinden niet nog eens geëxporteerd.",
        "What happens when you disconnect the integration? Syncing stops. Existing data in Koppel is kept. No new data is synced until you connect again. Work orders already exported are not exported again after reconnecting.";
    av_disconnect_confirm: "Ja, ontkoppelen", "Yes, disconnect";
    av_disconnect_cancel: "Annuleren", "Cancel";
    av_disconnected: "AccountView is ontkoppeld. Bestaande gegevens blijven behouden.", "AccountView has been disconnected. Existing data stays.";
    // Administrations.
    administrations_title: "Administraties", "Administrations";
    administrations_intro: "De hoofdadministratie en haar subadministraties.", "The main administration and its sub-administrations.";
    column_name: "Naam", "Name";
    column_type: "Soort", "Type";
    column_created: "Aangemaakt", "Created";
    column_actions: "Acties", "Actions";
    type_main: "Hoofdadministratie", "Main administration";
    type_sub: "Subadministratie", "Sub-administration";
    actions_menu: "Acties voor {}", "Actions for {}";
    action_open: "Openen", "Open";
    action_delete: "Administratie verwijderen", "Delete administration";
    capacity_used: "{} van {} subadministraties in gebruik.", "{} of {} sub-administrations in use.";
    create_title: "Administratie aanmaken", "Create administration";
    create_name: "Naam van de nieuwe subadministratie", "Name of the new sub-administration";
    create_submit: "Administratie aanmaken", "Create administration";
    create_full: "Alle {} subadministraties van je licentie zijn in gebruik. Verwijder er een of vergroot de capaciteit.",
        "All {} sub-administrations of your licence are in use. Delete one or increase the capacity.";
    create_no_licence: "Subadministraties aanmaken kan pas als de power-up Subadministraties actief is (Licentie Manager).",
        "You can create sub-administrations once the Sub-administrations power-up is active (Licence Manager).";
    created_administration: "Administratie {} is aangemaakt.", "Administration {} has been created.";
    name_required: "Vul een naam in (hoogstens 100 tekens).", "Fill in a name (at most 100 characters).";
    name_taken: "Er is al een administratie met de naam {}. Kies een andere naam.",
        "There is already an administration named {}. Choose another name.";
    delete_title: "{} verwijderen", "Delete {}";
    delete_warning: "Let op: verwijderen is definitief. Alle gegevens van {} — relaties, werkbonnen, facturen, instellingen en de geschiedenis — worden gewist en zijn niet terug te halen.",
        "Warning: deletion is permanent. All data of {} — relations, work orders, invoices, settings and history — is erased and cannot be recovered.";
    delete_confirm_label: "Typ de naam van de administratie ter bevestiging", "Type the administration's name to confirm";
    delete_submit: "Definitief verwijderen", "Delete permanently";
    delete_cancel: "Annuleren", "Cancel";
    delete_mismatch: "De naam komt niet overeen. Typ precies {} om te verwijderen.",
        "The name does not match. Type exactly {} to delete.";
    deleted_administration: "Administratie {} is verwijderd.", "Administration {} has been deleted.";
    main_not_deletable: "De hoofdadministratie kan niet worden verwijderd.", "The main administration cannot be deleted.";
    // Settings sync.
    action_sync: "Sync naar subadministraties", "Sync to sub-administrations";
    sync_title: "Sync naar subadministraties", "Sync to sub-administrations";
    sync_intro: "Gebruik sync om instellingen van {} zoals formulieren, workflows en sjablonen naar subadministraties te kopiëren. Sync kopieert je dagelijkse gegevens niet: klanten, werkbonnen en facturen blijven gescheiden.",
        "Use sync to copy settings of {} such as forms, workflows and templates to sub-administrations. Sync does not copy your daily data: customers, work orders and invoices stay separate.";
    sync_step_targets: "1. Kies de doeladministraties", "1. Choose the target administrations";
    sync_step_what: "2. Kies wat je wilt synchroniseren", "2. Choose what to sync";
    sync_step_preview: "3. Start de synchronisatie", "3. Start the sync";
    sync_all: "Alles", "All";
    sync_none: "Geen", "None";
    sync_last: "Laatst gesynchroniseerd: {}", "Last synced: {}";
    sync_never: "Nog nooit gesynchroniseerd", "Never synced";
    sync_drifted: "Wijkt af van de hoofdadministratie", "Differs from the main administration";
    sync_in_step: "Gelijk aan de hoofdadministratie", "Same as the main administration";
    sync_no_subs: "Er zijn nog geen subadministraties om naar te synchroniseren.", "There are no sub-administrations to sync to yet.";
    sync_items_hint: "Alleen bepaalde onderdelen (laat leeg voor de hele categorie)", "Only some items (leave empty for the whole category)";
    sync_mirror: "Ook verwijderen wat een subadministratie wel heeft en de hoofdadministratie niet (spiegelen)",
        "Also remove what a sub-administration has and the main does not (mirror)";
    sync_preview_submit: "Voorbeeld bekijken", "Show preview";
    sync_no_targets: "Kies minstens één subadministratie.", "Choose at least one sub-administration.";
    sync_no_categories: "Kies minstens één categorie instellingen.", "Choose at least one category of settings.";
    sync_invalid: "Deze synchronisatie kan zo niet: {}", "This sync is not possible like this: {}";
    sync_preview_intro: "Zo ziet de synchronisatie eruit. Er verandert pas iets als je bevestigt.",
        "This is what the sync will do. Nothing changes until you confirm.";
    sync_create: "Aanmaken", "Create";
    sync_update: "Bijwerken", "Update";
    sync_remove: "Verwijderen", "Remove";
    sync_unchanged: "Ongewijzigd", "Unchanged";
    sync_pulled_in: "meegenomen omdat {} ernaar verwijst", "pulled in because {} refers to it";
    sync_summary: "{} aanmaken, {} bijwerken, {} verwijderen, {} ongewijzigd", "{} to create, {} to update, {} to remove, {} unchanged";
    sync_nothing: "Geen wijzigingen: deze subadministratie is al gelijk.", "No changes: this sub-administration is already the same.";
    sync_blocked: "Geblokkeerd", "Blocked";
    sync_blocked_note: "Deze subadministratie kan zo niet worden gesynchroniseerd. Haal haar weg uit de keuze, zet spiegelen uit of los de oorzaak op.",
        "This sub-administration cannot be synced like this. Deselect it, turn mirroring off or resolve the cause.";
    sync_used_by_daily: "{} wordt nog gebruikt door dagelijkse gegevens ({}).", "{} is still used by daily data ({}).";
    sync_used_by_setting: "{} wordt nog gebruikt door {}.", "{} is still used by {}.";
    sync_column_item: "Onderdeel", "Item";
    sync_column_change: "Wijziging", "Change";
    sync_confirm: "Bevestigen en synchroniseren", "Confirm and sync";
    sync_back: "Keuze aanpassen", "Change the selection";
    sync_started: "De synchronisatie is gestart. Je kunt deze pagina verlaten; de geschiedenis bewaart het resultaat.",
        "The sync has started. You can leave this page; the history keeps the result.";
    sync_joined: "Er liep al een synchronisatie vanuit deze hoofdadministratie; dit is de voortgang daarvan.",
        "A sync from this main administration was already running; this is its progress.";
    sync_outdated: "De instellingen zijn gewijzigd na het voorbeeld. Bekijk het nieuwe voorbeeld hieronder en bevestig opnieuw.",
        "The settings changed after the preview. Check the new preview below and confirm again.";
    sync_has_blockers: "Er is een subadministratie geblokkeerd; er is niets gesynchroniseerd.", "A sub-administration is blocked; nothing was synced.";
    sync_results: "Resultaat per subadministratie", "Result per sub-administration";
    sync_history: "Alle synchronisaties in de geschiedenis", "All syncs in the history";
    run_started_by: "Gestart door", "Started by";
    run_targets: "Subadministraties", "Sub-administrations";
    run_categories: "Categorieën", "Categories";
    run_mirror: "Spiegelen", "Mirror";
    word_yes: "Ja", "Yes";
    word_no: "Nee", "No";
    run_per_target: "Voortgang per subadministratie", "Progress per sub-administration";
    // Users and rights.
    users_title: "Gebruikers en rechten", "Users and rights";
    users_intro: "Gebruikers met toegang tot {} en hun rechten daar.", "Users with access to {} and their rights there.";
    users_without_access: "Gebruikers zonder toegang tot deze administratie", "Users without access to this administration";
    users_none: "Nog geen gebruikers.", "No users yet.";
    column_email: "E-mailadres", "E-mail address";
    column_rights: "Rechten", "Rights";
    edit_rights: "Rechten wijzigen", "Change rights";
    give_access: "Toegang geven", "Give access";
    user_rights_title: "Rechten van {}", "Rights of {}";
    user_rights_intro: "Vink per administratie aan wat {} mag. Zonder vinkjes heeft de gebruiker geen toegang tot die administratie.",
        "Tick per administration what {} may do. Without ticks the user has no access to that administration.";
    rights_save: "Rechten opslaan", "Save rights";
    rights_saved: "De rechten van {} zijn opgeslagen.", "The rights of {} have been saved.";
    rights_self_lockout: "Je kunt jezelf het recht om administraties te beheren in de hoofdadministratie niet afnemen; laat dat door een andere beheerder doen.",
        "You cannot take away your own right to manage administrations in the main administration; ask another administrator.";
    rights_last_manager: "{} is de laatste gebruiker die gebruikers, licenties en administraties mag beheren (het recht ‘Administraties, gebruikers en licenties beheren’ in de hoofdadministratie). Geef dat recht eerst aan een andere gebruiker.",
        "{} is the last user who may manage users, licences and administrations (the right ‘Manage administrations, users and licences’ in the main administration). Give that right to another user first.";
    new_user_title: "Gebruiker toevoegen", "Add user";
    new_user_name: "Naam", "Name";
    new_user_email: "E-mailadres", "E-mail address";
    new_user_password: "Wachtwoord (minstens 10 tekens)", "Password (at least 10 characters)";
    new_user_language: "Taal", "Language";
    new_user_submit: "Gebruiker toevoegen", "Add user";
    user_created: "Gebruiker {} is toegevoegd. Geef hem of haar nu toegang tot administraties.",
        "User {} has been added. Now give them access to administrations.";
    user_email_taken: "Er bestaat al een gebruiker met e-mailadres {}.", "A user with e-mail address {} already exists.";
    user_invalid: "Controleer de gegevens: {}", "Check the details: {}";
    // Licences.
    licences_title: "Licentie Manager", "Licence Manager";
    licences_intro: "De power-ups van deze omgeving. Er is geen betaalstap: activeren en deactiveren wordt vastgelegd in het auditlog.",
        "The power-ups of this environment. There is no payment step: activating and deactivating is recorded in the audit log.";
    column_power_up: "Power-up", "Power-up";
    column_state: "Status", "State";
    state_trial: "Proefperiode tot en met {}", "Trial until {}";
    state_trial_over: "Proefperiode afgelopen op {}", "Trial ended on {}";
    state_active: "Actief", "Active";
    state_inactive: "Niet actief", "Inactive";
    licence_capacity: "Capaciteit: {} subadministraties", "Capacity: {} sub-administrations";
    licence_activate: "Activeren", "Activate";
    licence_deactivate: "Deactiveren", "Deactivate";
    licence_activated: "{} is geactiveerd.", "{} has been activated.";
    licence_deactivated: "{} is gedeactiveerd. Er zijn geen gegevens verwijderd.", "{} has been deactivated. No data was deleted.";
    // Data Sync page.
    ds_freshness: "Gegevens bijgewerkt tot {}.", "Data up to {}.";
    ds_never_synced: "Er is nog niet gesynchroniseerd. Klik op Nu synchroniseren om Power BI van gegevens te voorzien.",
        "Nothing has been synced yet. Click Sync now to give Power BI its data.";
    ds_autosync_title: "Automatische synchronisatie", "Automatic sync";
    ds_autosync_label: "Autosync", "Autosync";
    ds_autosync_help: "Met Autosync houdt Koppel de gegevens voor Power BI op de achtergrond actueel, volgens het schema van het systeem. Wijzigingen gelden pas na Opslaan.",
        "With Autosync, Koppel keeps Power BI's data current in the background on the system's schedule. Changes apply after Save.";
    ds_autosync_save: "Opslaan", "Save";
    ds_autosync_on_saved: "Autosync staat aan. De eerste automatische synchronisatie start zo.", "Autosync is on. The first automatic sync starts shortly.";
    ds_autosync_off_saved: "Autosync staat uit. De geschiedenis blijft bewaard.", "Autosync is off. The history is kept.";
    ds_autosync_changed: "Laatst gewijzigd op {} door {}.", "Last changed on {} by {}.";
    ds_sync_now: "Nu synchroniseren", "Sync now";
    ds_full_resync: "Alles opnieuw synchroniseren", "Full resync";
    ds_full_resync_cost: "Alles opnieuw synchroniseren kopieert alle gegevens opnieuw: dat duurt veel langer dan een gewone synchronisatie, en de vorige kopie blijft bewaard zolang Power BI die nog kan lezen (de bewaartermijn), dus tijdelijk is er twee keer zoveel opslag nodig. Is er binnen die termijn al alles opnieuw gesynchroniseerd, dan bouwt een nieuwe aanvraag daarop voort in plaats van nog een kopie te maken.",
        "A full resync copies all data again: it takes much longer than a normal sync, and the previous copy is kept while Power BI may still read it (the retention period), so for a while twice the storage is needed. If a full resync already ran within that period, a new request builds on it instead of making another copy.";
    ds_sync_started: "De synchronisatie is gestart.", "The sync has started.";
    ds_sync_running: "Er loopt al een synchronisatie; je volgt nu die.", "A sync is already running; you are now following it.";
    ds_running_notice: "Er loopt een synchronisatie.", "A sync is running.";
    ds_running_link: "Voortgang bekijken", "View progress";
    ds_history_title: "Synchronisatiegeschiedenis", "Sync history";
    ds_history_none: "Er zijn nog geen synchronisaties.", "No syncs yet.";
    ds_history_older: "Oudere synchronisaties", "Older syncs";
    column_rows: "Rijen (nieuw / gewijzigd / verwijderd)", "Rows (new / changed / deleted)";
    ds_connection_title: "Power BI-verbinding", "Power BI connection";
    ds_connection_help: "Kies in Power BI Desktop Gegevens ophalen → OData-feed, plak de feed-URL en kies Basis: de gebruikersnaam is de feednaam, het wachtwoord een feedtoken.",
        "In Power BI Desktop choose Get Data → OData feed, paste the feed URL and choose Basic: the user name is the feed name, the password a feed token.";
    ds_feed_url: "Feed-URL", "Feed URL";
    ds_feed_user: "Gebruikersnaam", "User name";
    ds_power_query: "Power Query (M) om te plakken", "Power Query (M) to paste";
    ds_tokens_title: "Feedtokens", "Feed tokens";
    ds_tokens_none: "Nog geen feedtokens.", "No feed tokens yet.";
    column_last_used: "Laatst gebruikt", "Last used";
    ds_token_never_used: "Nooit", "Never";
    ds_token_revoked: "Ingetrokken", "Revoked";
    ds_token_revoke: "Intrekken", "Revoke";
    ds_token_revoked_saved: "Feedtoken {} is ingetrokken. Power BI kan er niet meer mee vernieuwen.",
        "Feed token {} has been revoked. Power BI can no longer refresh with it.";
    ds_token_name: "Naam van het nieuwe token", "Name of the new token";
    ds_token_create: "Token aanmaken", "Create token";
    ds_token_created: "Kopieer dit token nu: het wordt maar één keer getoond.", "Copy this token now: it is shown only once.";
    ds_token_name_invalid: "Geef het token een naam van hoogstens 100 tekens.", "Give the token a name of at most 100 characters.";
    // Runs.
    runs_title: "Geschiedenis", "History";
    runs_intro: "Alle achtergrondtaken van deze administratie: synchronisaties, imports en exports.",
        "Every background run of this administration: syncs, imports and exports.";
    runs_none: "Er zijn nog geen taken uitgevoerd.", "No runs yet.";
    runs_older: "Oudere taken", "Older runs";
    column_kind: "Taak", "Run";
    column_trigger: "Aanleiding", "Trigger";
    column_status: "Status", "Status";
    column_started: "Gestart", "Started";
    column_duration: "Duur", "Duration";
    column_message: "Melding", "Message";
    run_progress: "Voortgang", "Progress";
    run_counts: "Aantallen", "Counts";
    run_items: "Onderdelen", "Items";
    run_queued_at: "In de wachtrij gezet", "Queued";
    run_finished_at: "Klaar", "Finished";
    run_live: "Deze pagina werkt zichzelf bij zolang de taak loopt.", "This page updates itself while the run is going.";
    kind_data_sync: "Data Sync", "Data Sync";
    kind_settings_sync: "Instellingen synchroniseren", "Settings sync";
    kind_accountview_import: "AccountView-import", "AccountView import";
    kind_accountview_export: "AccountView-export", "AccountView export";
    kind_other: "Andere taak ({})", "Other run ({})";
    trigger_automatic: "Automatisch", "Automatic";
    trigger_manual: "Handmatig", "Manual";
    trigger_retry: "Opnieuw geprobeerd", "Retry";
    status_queued: "In de wachtrij", "Queued";
    status_running: "Bezig", "Running";
    status_recovering: "Wordt hersteld (het proces is gestopt)", "Being recovered (its process stopped)";
    status_succeeded: "Geslaagd", "Succeeded";
    status_partially_succeeded: "Gedeeltelijk geslaagd", "Partially succeeded";
    status_failed: "Mislukt", "Failed";
    status_cancelled: "Geannuleerd", "Cancelled";
    item_succeeded: "Gelukt", "Succeeded";
    item_failed: "Mislukt", "Failed";
    item_skipped: "Overgeslagen", "Skipped";
    // ===== AccountView page: one pass, live progress (new keys go here) =====
    av_company_help: "Dit is de AccountView-administratie die Koppel gebruikt voor import en export.",
        "This is the AccountView administration Koppel uses for import and export.";
    av_company_warning: "Let op: na Opslaan ligt de administratie vast. Een andere administratie kiezen kan daarna alleen door de integratie te ontkoppelen en opnieuw te verbinden.",
        "Note: once you click Save, the administration is fixed. Choosing another administration afterwards means disconnecting the integration and connecting again.";
    av_check_point_licence: "de integratie is geactiveerd in de Licentie Manager", "the integration is activated in the Licence Manager";
    av_check_point_company: "de geselecteerde administratie de juiste is", "the selected administration is the right one";
    av_check_point_rights: "uw AccountView-gebruiker voldoende toegangsrechten heeft", "your AccountView user has sufficient access rights";
    av_check_point_options: "de import- en exportopties komen overeen met uw proces", "the import and export options match your process";
    av_saved_importing: "De instellingen zijn opgeslagen en de eerste import is gestart. Zodra die klaar is, kiest u bij Exportinstellingen de dagboeken, omzetrekeningen en btw-codes.",
        "The settings have been saved and the first import has started. As soon as it is done, you choose the journals, revenue accounts and VAT codes under Export settings.";
    av_progress_import: "Import uit AccountView loopt", "Import from AccountView running";
    av_progress_export: "Export naar AccountView loopt", "Export to AccountView running";
    av_progress_queued: "Wacht op zijn beurt…", "Waiting for its turn…";
    av_progress_import_steps: "{} van {} onderdelen geïmporteerd", "{} of {} parts imported";
    av_progress_export_steps: "{} van {} werkbonnen verwerkt", "{} of {} work orders handled";
    av_progress_category: "{}: {} gelezen ({} nieuw, {} bijgewerkt, {} ongewijzigd, {} overgeslagen)",
        "{}: {} read ({} new, {} updated, {} unchanged, {} skipped)";
    av_progress_refresh: "Pagina vernieuwen", "Refresh page";
    av_progress_refresh_help: "De pagina ververst zichzelf zodra de import klaar is; zonder JavaScript klikt u op Pagina vernieuwen.",
        "The page refreshes itself as soon as the import is done; without JavaScript, click Refresh page.";
    av_progress_details: "Details van de taak", "Details of the run";
    av_codes_importing: "De codes worden nu geïmporteerd. De keuzelijsten hieronder vullen zich zodra de import klaar is.",
        "The codes are being imported now. The lists below fill in as soon as the import is done.";
    av_disconnect_hint: "Ontkoppelen (aan/uit)", "Disconnect (on/off)";
    av_disconnect_keeps: "Koppel bewaart de geïmporteerde debiteuren, artikelen en codes en de exportgeschiedenis.",
        "Koppel keeps the imported debtors, articles and codes and the export history.";
    integration_connected: "Verbonden", "Connected";
    integration_connected_to: "Verbonden met administratie {}", "Connected to administration {}";
    integration_not_connected: "Niet verbonden", "Not connected";
    integration_unsaved: "Verbonden; kies nog de administratie", "Connected; the administration is still to be chosen";
    integration_expired: "Authenticatie verlopen: opnieuw inloggen", "Authentication expired: log in again";
    integration_not_configured: "Niet ingesteld door de beheerder", "Not set up by the operator";
    // ===== end AccountView page =====

    // ===== Data Sync, Power BI panel, licences, confirmations, error pages (new keys go here) =====
    ds_autosync_state_on: "Aan", "On";
    ds_autosync_state_off: "Uit", "Off";
    ds_manual_title: "Handmatig synchroniseren", "Sync manually";
    ds_manual_hint: "Je kunt nog steeds handmatig synchroniseren wanneer je direct actuele gegevens nodig hebt.",
        "You can still sync manually when you need up-to-date data right away.";
    ds_full_resync_hint: "Alleen nodig als de gegevens in Power BI niet kloppen. Je ziet eerst wat het kost en bevestigt dan.",
        "Only needed when the data in Power BI is not right. You first see what it costs, then confirm.";
    ds_full_resync_title: "Alles opnieuw synchroniseren?", "Full resync?";
    ds_full_resync_confirm: "Ja, alles opnieuw synchroniseren", "Yes, resync everything";
    confirm_cancel: "Annuleren", "Cancel";
    ds_token_revoke_title: "Feedtoken {} intrekken", "Revoke feed token {}";
    ds_token_revoke_text: "Power BI kan dan niet meer verversen met dit token: elke vernieuwing die het gebruikt, wordt geweigerd met de melding dat het token is ingetrokken. Wil je blijven vernieuwen, maak dan eerst een nieuw token aan en vul dat in Power BI in. Intrekken kan niet ongedaan worden gemaakt; er worden geen gegevens verwijderd.",
        "Power BI can then no longer refresh with this token: every refresh that uses it is refused with the message that the token was revoked. To keep refreshing, first create a new token and enter it in Power BI. Revoking cannot be undone; no data is deleted.";
    ds_token_revoke_confirm: "Ja, token intrekken", "Yes, revoke the token";
    ds_token_password: "Wachtwoord", "Password";
    ds_token_password_hint: "Het wachtwoord is een feedtoken: maak er hieronder een aan. Het wordt maar één keer getoond.",
        "The password is a feed token: create one below. It is shown only once.";
    ds_token_new_label: "Nieuw feedtoken {}", "New feed token {}";
    copy: "Kopiëren", "Copy";
    copied: "Gekopieerd", "Copied";
    copy_failed: "Kopiëren lukte niet: selecteer de tekst en kopieer hem met Ctrl+C.", "Copying failed: select the text and copy it with Ctrl+C.";
    ds_m_title: "Power Query (M)", "Power Query (M)";
    ds_m_help: "Plak een van deze query's in Power BI Desktop via Gegevens ophalen → Lege query → Geavanceerde editor. Zet geldkolommen daarna op Vast decimaal getal.",
        "Paste one of these queries in Power BI Desktop via Get Data → Blank query → Advanced Editor. Then set money columns to Fixed Decimal Number.";
    ds_m_import_title: "Gewoon importeren", "Plain import";
    ds_m_import_help: "Importeert de tabel WorkOrders in zijn geheel; werkt zoals hij is.", "Imports the WorkOrders table as a whole; works as it is.";
    ds_m_incremental_title: "Incrementeel vernieuwen", "Incremental refresh";
    ds_m_incremental_help: "RangeStart en RangeEnd zijn parameters die je eerst zelf maakt in Power BI Desktop: Start → Parameters beheren (Manage Parameters) → Nieuw, type Datum/tijd (Date/Time), één met de naam RangeStart en één met de naam RangeEnd. Pas daarna werkt deze M; stel dan op de tabel incrementeel vernieuwen in.",
        "RangeStart and RangeEnd are parameters you must create first in Power BI Desktop: Home → Manage Parameters → New, type Date/Time, one named RangeStart and one named RangeEnd. Only then does this M work; then set up incremental refresh on the table.";
    licence_deactivate_title: "{} deactiveren", "Deactivate {}";
    licence_deactivate_power_bi: "Data Sync stopt voor alle administraties en Power BI kan dan niet meer verversen: de feed weigert elke vernieuwing met de melding dat de licentie niet actief is. Autosync en Nu synchroniseren werken niet meer.",
        "Data Sync stops for every administration and Power BI can then no longer refresh: the feed refuses every refresh with the message that the licence is not active. Autosync and Sync now stop working.";
    licence_deactivate_sub_administrations: "Instellingen synchroniseren naar subadministraties stopt, en er kunnen geen subadministraties meer worden aangemaakt. Bestaande subadministraties blijven bestaan en bruikbaar.",
        "Syncing settings to sub-administrations stops, and no more sub-administrations can be created. Existing sub-administrations stay and remain usable.";
    licence_deactivate_accountview: "De AccountView-koppeling stopt: er wordt niet meer geïmporteerd uit AccountView en er worden geen werkbonnen meer geëxporteerd. De verbinding en de instellingen blijven bewaard.",
        "The AccountView integration stops: nothing is imported from AccountView any more and no work orders are exported. The connection and the settings are kept.";
    licence_deactivate_no_data: "Er worden geen gegevens verwijderd: activeer je de power-up later weer, dan werkt alles zoals voorheen.",
        "No data is deleted: when you activate the power-up again later, everything works as before.";
    licence_deactivate_confirm: "Ja, deactiveren", "Yes, deactivate";
    method_not_allowed_title: "Dit adres opent geen pagina", "This address does not open a page";
    method_not_allowed_text: "Dit adres werkt alleen vanuit een formulier op een pagina van Koppel.",
        "This address only works from a form on a page of Koppel.";
    error_page_not_found_text: "Deze pagina bestaat niet (meer). Controleer het adres, of ga terug naar de startpagina.",
        "This page does not exist (any more). Check the address, or go back to the start page.";
    error_back_home: "Naar de startpagina", "Go to the start page";
    // ===== end Data Sync =====

    // ===== Runs, times, settings sync (new keys go here) =====
    time_today: "vandaag {}", "today {}";
    time_yesterday: "gisteren {}", "yesterday {}";
    // Settings sync wizard: the help page's steps.
    sync_step_targets_help: "Selecteer de subadministraties die de update moeten ontvangen.", "Select the sub-administrations that should receive the update.";
    sync_step_what_help: "Selecteer de instellingen die je wilt kopiëren.", "Select the settings you want to copy.";
    sync_step_confirm_help: "Bevestig de actie en wacht tot deze is voltooid.", "Confirm the action and wait until it has finished.";
    sync_changed: "gewijzigd", "changed";
    sync_empty: "(leeg)", "(empty)";
    // Run pages: counts per kind of data.
    count_entity: "Gegevens", "Data";
    count_total: "Totaal", "Total";
    count_new: "nieuw", "new";
    count_changed: "gewijzigd", "changed";
    count_deleted: "verwijderd", "deleted";
    count_unchanged: "ongewijzigd", "unchanged";
    count_skipped: "overgeslagen", "skipped";
    count_fetched: "opgehaald", "fetched";
    count_pages: "pagina's", "pages";
    count_sync_no: "Synchronisatienummer", "Sync number";
    count_full: "Alles opnieuw gesynchroniseerd", "Full resync";
    count_rows_written: "Rijen geschreven", "Rows written";
    count_targets_succeeded: "Subadministraties bijgewerkt", "Sub-administrations updated";
    count_targets_failed: "Subadministraties mislukt", "Sub-administrations failed";
    count_exported: "Geëxporteerd", "Exported";
    count_confirmed: "Stond al in AccountView", "Already in AccountView";
    count_failed: "Mislukt", "Failed";
    count_pending: "Nog open", "Still open";
    count_posts: "Verzonden naar AccountView", "Sent to AccountView";
    count_read_backs: "Teruggelezen uit AccountView", "Read back from AccountView";
    count_runs_pruned: "Opgeruimde taken", "Runs removed";
    count_run_items_pruned: "Opgeruimde onderdelen", "Items removed";
    count_jobs_pruned: "Opgeruimde opdrachten", "Jobs removed";
    item_work_order: "Werkbon (intern nummer {})", "Work order (internal number {})";
    entity_customers: "Klanten", "Customers";
    entity_addresses: "Adressen", "Addresses";
    entity_contact_persons: "Contactpersonen", "Contact persons";
    entity_objects: "Objecten", "Objects";
    entity_projects: "Projecten", "Projects";
    entity_employees: "Medewerkers", "Employees";
    entity_materials: "Materialen", "Materials";
    entity_hour_types: "Uursoorten", "Hour types";
    entity_work_orders: "Werkbonnen", "Work orders";
    entity_work_order_hours: "Uren op werkbonnen", "Work order hours";
    entity_work_order_materials: "Materialen op werkbonnen", "Work order materials";
    entity_invoices: "Facturen", "Invoices";
    entity_invoice_lines: "Factuurregels", "Invoice lines";
    entity_payments: "Betalingen", "Payments";
    entity_quotes: "Offertes", "Quotes";
    entity_vat_codes: "Btw-codes", "VAT codes";
    entity_ledger_accounts: "Grootboekrekeningen", "Ledger accounts";
    entity_journals: "Dagboeken", "Journals";
    entity_cost_centres: "Kostenplaatsen", "Cost centres";
    entity_article_groups: "Artikelgroepen", "Article groups";
    entity_debtors: "Debiteuren", "Debtors";
    entity_articles: "Artikelen", "Articles";
    entity_payment_status: "Betaalstatus", "Payment status";
    // ===== end Runs =====

    // ===== App shell, navigation, overview (new keys go here) =====
    shell_menu: "Menu", "Menu";
    shell_main: "hoofdadministratie", "main administration";
    shell_breadcrumbs: "Kruimelpad", "Breadcrumb";
    overview_blocked: "Niet beschikbaar voor jou", "Not available to you";
    overview_integrations_text: "Koppel je boekhoudsoftware: AccountView.", "Connect your accounting software: AccountView.";
    overview_datasync_text: "Houd de gegevens voor Power BI actueel met Autosync of synchroniseer handmatig.",
        "Keep Power BI's data current with Autosync or sync by hand.";
    overview_administrations_text: "De hoofdadministratie en subadministraties; instellingen synchroniseren naar subadministraties.",
        "The main administration and sub-administrations; sync settings to sub-administrations.";
    overview_users_text: "Wie toegang heeft tot welke administratie, met welke rechten.", "Who has access to which administration, with which rights.";
    overview_licences_text: "Power-ups activeren en deactiveren.", "Activate and deactivate power-ups.";
    overview_runs_text: "Alle synchronisaties, imports en exports, met hun resultaat.", "Every sync, import and export, with its result.";
    // ===== end App shell =====
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dutch_and_english_formats() {
        let date = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        assert_eq!(Lang::Nl.date(date), "22 nov 2026");
        assert_eq!(Lang::En.date(date), "22 Nov 2026");
        assert_eq!(Lang::Nl.money(123_456), "€ 1.234,56");
        assert_eq!(Lang::En.money(123_456), "€1,234.56");
        assert_eq!(Lang::Nl.money(-5), "-€ 0,05");
        assert_eq!(Lang::Nl.money(100_000_000), "€ 1.000.000,00");
        assert_eq!(Lang::Nl.number(1_234_567), "1.234.567");
        assert_eq!(Lang::En.number(-1_000), "-1,000");
        assert_eq!(fill("{} van {}", &["3", "5"]), "3 van 5");
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("a moment")
            .with_timezone(&Utc)
    }

    #[test]
    fn times_are_the_netherlands_local_time_in_winter_and_summer() {
        // Winter: UTC+1.
        assert_eq!(Lang::Nl.date_time(utc("2026-12-04T13:16:00Z")), "4 dec 2026 14:16");
        assert_eq!(Lang::En.date_time(utc("2026-12-04T13:16:00Z")), "4 Dec 2026 14:16");
        // Summer: UTC+2, and the local day may be the next one.
        assert_eq!(Lang::Nl.date_time(utc("2026-07-01T12:00:00Z")), "1 jul 2026 14:00");
        assert_eq!(Lang::En.date_time(utc("2026-07-03T22:30:00Z")), "4 Jul 2026 00:30");
        assert_eq!(Lang::Nl.date_time(utc("2026-03-15T09:05:00Z")), "15 mrt 2026 10:05");
        assert_eq!(local_date(utc("2026-12-31T23:30:00Z")).to_string(), "2027-01-01");
        assert!(!Lang::En.date_time(utc("2026-12-04T13:16:00Z")).contains("UTC"));
    }

    #[test]
    fn times_on_the_days_summer_time_starts_and_ends() {
        // 29 March 2026: at 01:00 UTC the clocks go from 02:00 to 03:00.
        assert_eq!(Lang::Nl.date_time(utc("2026-03-29T00:59:00Z")), "29 mrt 2026 01:59");
        assert_eq!(Lang::Nl.date_time(utc("2026-03-29T01:00:00Z")), "29 mrt 2026 03:00");
        // 25 October 2026: at 01:00 UTC the clocks go from 03:00 back to 02:00.
        assert_eq!(Lang::Nl.date_time(utc("2026-10-25T00:30:00Z")), "25 okt 2026 02:30");
        assert_eq!(Lang::Nl.date_time(utc("2026-10-25T01:30:00Z")), "25 okt 2026 02:30");
        assert_eq!(Lang::En.date_time(utc("2026-10-25T02:00:00Z")), "25 Oct 2026 03:00");
    }

    #[test]
    fn today_and_yesterday_follow_the_local_calendar() {
        let now = utc("2026-12-04T13:30:00Z");
        assert_eq!(
            Lang::Nl.date_time_relative(utc("2026-12-04T13:16:00Z"), now),
            "vandaag 14:16"
        );
        assert_eq!(
            Lang::En.date_time_relative(utc("2026-12-03T08:02:00Z"), now),
            "yesterday 09:02"
        );
        assert_eq!(
            Lang::Nl.date_time_relative(utc("2026-12-03T08:02:00Z"), now),
            "gisteren 09:02"
        );
        assert_eq!(
            Lang::Nl.date_time_relative(utc("2026-12-02T08:02:00Z"), now),
            "2 dec 2026 09:02"
        );
        // 23:30 UTC on 3 December is already 4 December in the Netherlands.
        assert_eq!(
            Lang::Nl.date_time_relative(utc("2026-12-03T23:30:00Z"), now),
            "vandaag 00:30"
        );
        // Just after local midnight, a moment before it was yesterday.
        let after_midnight = utc("2026-12-03T23:10:00Z");
        assert_eq!(
            Lang::Nl.date_time_relative(utc("2026-12-03T22:50:00Z"), after_midnight),
            "gisteren 23:50"
        );
        // Across the switch to summer time: the day is 23 hours long.
        let sunday = utc("2026-03-29T12:00:00Z");
        assert_eq!(
            Lang::Nl.date_time_relative(utc("2026-03-28T23:30:00Z"), sunday),
            "vandaag 00:30"
        );
        assert_eq!(
            Lang::Nl.date_time_relative(utc("2026-03-28T22:30:00Z"), sunday),
            "gisteren 23:30"
        );
        // Across the switch back: the day is 25 hours long.
        let october = utc("2026-10-25T22:30:00Z");
        assert_eq!(
            Lang::En.date_time_relative(utc("2026-10-24T22:30:00Z"), october),
            "today 00:30"
        );
        assert_eq!(
            Lang::En.date_time_relative(utc("2026-10-24T21:59:00Z"), october),
            "yesterday 23:59"
        );
        // A later moment (a clock ahead) is written in full.
        assert_eq!(
            Lang::En.date_time_relative(utc("2026-12-05T08:00:00Z"), now),
            "5 Dec 2026 09:00"
        );
    }

    #[test]
    fn short_times_leave_out_the_current_year() {
        let now = utc("2026-12-04T13:30:00Z");
        assert_eq!(
            Lang::Nl.date_time_short(utc("2026-12-04T13:16:00Z"), now),
            "4 dec 14:16"
        );
        assert_eq!(
            Lang::En.date_time_short(utc("2026-06-04T13:16:00Z"), now),
            "4 Jun 15:16"
        );
        assert_eq!(
            Lang::Nl.date_time_short(utc("2025-12-04T13:16:00Z"), now),
            "4 dec 2025 14:16"
        );
    }
}
