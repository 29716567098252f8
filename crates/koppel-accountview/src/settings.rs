//! What a user configures for a connection (the AccountView administration, what to import, how to
//! export) and the check shown before saving: licence, administration, the AccountView user's rights
//! and that every mapped code was imported and is not blocked. Every code is chosen from what was
//! imported, never typed.

use crate::api::AccountViewApiError;
use crate::storage::{self, ChosenCompany, CodeEntry, CodeList, Connection};
use crate::{AccountView, AccountViewError};
use chrono::{DateTime, Utc};
use koppel_domain::AdministrationId;
use koppel_domain::VatRate;
use koppel_domain::work_order::WorkOrderStatus;
use koppel_jobs::runs::RunMessage;
use koppel_store::StoreError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What can be imported; each is on or off per connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportCategory {
    VatCodes,
    LedgerAccounts,
    Journals,
    CostCentres,
    ArticleGroups,
    Debtors,
    Articles,
    Payments,
}

impl ImportCategory {
    /// In the order an import runs them: code lists first, then what refers to them.
    pub const ALL: [ImportCategory; 8] = [
        ImportCategory::VatCodes,
        ImportCategory::LedgerAccounts,
        ImportCategory::Journals,
        ImportCategory::CostCentres,
        ImportCategory::ArticleGroups,
        ImportCategory::Debtors,
        ImportCategory::Articles,
        ImportCategory::Payments,
    ];

    pub fn slug(self) -> &'static str {
        match self {
            ImportCategory::VatCodes => "vat_codes",
            ImportCategory::LedgerAccounts => "ledger_accounts",
            ImportCategory::Journals => "journals",
            ImportCategory::CostCentres => "cost_centres",
            ImportCategory::ArticleGroups => "article_groups",
            ImportCategory::Debtors => "debtors",
            ImportCategory::Articles => "articles",
            ImportCategory::Payments => "payments",
        }
    }

    pub fn parse(slug: &str) -> Option<ImportCategory> {
        ImportCategory::ALL.into_iter().find(|c| c.slug() == slug)
    }

    /// The AccountView business object it reads.
    pub fn business_object(self) -> &'static str {
        match self {
            ImportCategory::VatCodes => "VA1",
            ImportCategory::LedgerAccounts => "GL1",
            ImportCategory::Journals => "DJ1",
            ImportCategory::CostCentres => "CC1",
            ImportCategory::ArticleGroups => "AG1",
            ImportCategory::Debtors => "AR1",
            ImportCategory::Articles => "AK1",
            ImportCategory::Payments => "GJ1",
        }
    }

    pub fn name_nl(self) -> &'static str {
        match self {
            ImportCategory::VatCodes => "Btw-codes",
            ImportCategory::LedgerAccounts => "Grootboekrekeningen",
            ImportCategory::Journals => "Dagboeken",
            ImportCategory::CostCentres => "Kostenplaatsen",
            ImportCategory::ArticleGroups => "Artikelgroepen",
            ImportCategory::Debtors => "Debiteuren",
            ImportCategory::Articles => "Artikelen",
            ImportCategory::Payments => "Betaalstatus",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            ImportCategory::VatCodes => "VAT codes",
            ImportCategory::LedgerAccounts => "Ledger accounts",
            ImportCategory::Journals => "Journals",
            ImportCategory::CostCentres => "Cost centres",
            ImportCategory::ArticleGroups => "Article groups",
            ImportCategory::Debtors => "Debtors",
            ImportCategory::Articles => "Articles",
            ImportCategory::Payments => "Payment status",
        }
    }
}

/// What to import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImportSettings {
    /// Categories that are on.
    pub categories: Vec<ImportCategory>,
    /// Debtors: also import blocked ones (a blocked debtor that exists in Koppel is always blocked there).
    pub include_blocked_debtors: bool,
    /// Articles: only these article groups (empty: all).
    pub article_groups: Vec<String>,
}

impl Default for ImportSettings {
    fn default() -> Self {
        ImportSettings {
            categories: ImportCategory::ALL.to_vec(),
            include_blocked_debtors: false,
            article_groups: Vec::new(),
        }
    }
}

impl ImportSettings {
    pub fn is_on(&self, category: ImportCategory) -> bool {
        self.categories.contains(&category)
    }
}

/// How to export completed work orders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExportSettings {
    pub enabled: bool,
    /// The status that makes a work order ready for export.
    pub trigger_status: WorkOrderStatus,
    /// The status after a successful export.
    pub done_status: WorkOrderStatus,
    /// Only work orders completed at or after this moment are exported.
    pub cut_off: Option<DateTime<Utc>>,
    pub sales_journal: Option<String>,
    pub hours_account: Option<String>,
    pub materials_account: Option<String>,
    /// Koppel VAT rate (`21`, `9`, `0`, `verlegd`) → AccountView VAT code.
    pub vat_codes: BTreeMap<String, String>,
    pub cost_centre: Option<String>,
    pub create_missing_debtors: bool,
}

impl Default for ExportSettings {
    fn default() -> Self {
        ExportSettings {
            enabled: false,
            trigger_status: WorkOrderStatus::Compleet,
            done_status: WorkOrderStatus::Afgehandeld,
            cut_off: None,
            sales_journal: None,
            hours_account: None,
            materials_account: None,
            vat_codes: BTreeMap::new(),
            cost_centre: None,
            create_missing_debtors: false,
        }
    }
}

/// Everything a connection stores besides its company and tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub import: ImportSettings,
    pub export: ExportSettings,
}

impl Settings {
    /// A new connection's settings: import everything, export off, cut-off at the moment of connecting.
    pub fn defaults(connected_at: DateTime<Utc>) -> Settings {
        Settings {
            import: ImportSettings::default(),
            export: ExportSettings {
                cut_off: Some(connected_at),
                ..ExportSettings::default()
            },
        }
    }

    /// The settings of a stored connection.
    pub fn of(connection: &Connection) -> Settings {
        serde_json::from_value(connection.settings.clone())
            .unwrap_or_else(|_| Settings::defaults(connection.connected_at))
    }
}

/// One line of the check before saving.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckItem {
    /// Stable: `licence`, `company`, `rights` or `rights:<what>`, `options`, `code:<what>` (the help page's
    /// "Voordat u opslaat" points: licence, administration, the user's rights, the options).
    pub key: String,
    pub ok: bool,
    pub message: RunMessage,
}

/// The check before saving.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    pub items: Vec<CheckItem>,
}

impl CheckReport {
    pub fn ok(&self) -> bool {
        self.items.iter().all(|item| item.ok)
    }

    fn push(&mut self, key: impl Into<String>, ok: bool, nl: impl Into<String>, en: impl Into<String>) {
        self.items.push(CheckItem {
            key: key.into(),
            ok,
            message: RunMessage::new(nl, en),
        });
    }
}

/// Why saving was refused.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("the check before saving failed")]
    CheckFailed(CheckReport),
    #[error("the AccountView administration cannot be changed; disconnect first")]
    CompanyLocked,
    #[error(transparent)]
    Sync(#[from] AccountViewError),
}

fn check_code(
    report: &mut CheckReport,
    key: &str,
    label: (&str, &str),
    chosen: Option<&str>,
    codes: &[CodeEntry],
    extra: impl Fn(&CodeEntry) -> Option<(String, String)>,
) {
    let (label_nl, label_en) = label;
    let Some(chosen) = chosen.filter(|c| !c.is_empty()) else {
        report.push(
            key,
            false,
            format!("{label_nl}: niet gekozen."),
            format!("{label_en}: not chosen."),
        );
        return;
    };
    match codes.iter().find(|entry| entry.code == chosen) {
        None => report.push(
            key,
            false,
            format!("{label_nl} {chosen} bestaat niet in AccountView (importeer de codes opnieuw)."),
            format!("{label_en} {chosen} does not exist in AccountView (import the codes again)."),
        ),
        Some(entry) if entry.blocked => report.push(
            key,
            false,
            format!("{label_nl} {chosen} is geblokkeerd in AccountView."),
            format!("{label_en} {chosen} is blocked in AccountView."),
        ),
        Some(entry) => match extra(entry) {
            Some((nl, en)) => report.push(key, false, nl, en),
            None => report.push(
                key,
                true,
                format!("{label_nl} {chosen} ({}) is in orde.", entry.name),
                format!("{label_en} {chosen} ({}) is fine.", entry.name),
            ),
        },
    }
}

impl AccountView {
    /// The check before saving `settings` with `company_id` for `administration`.
    pub async fn check(
        &self,
        administration: AdministrationId,
        company_id: &str,
        settings: &Settings,
    ) -> Result<CheckReport, AccountViewError> {
        let mut report = CheckReport { items: Vec::new() };
        let environment = self.store.administration(administration).await?.environment_id;
        match self.store.require_licence(environment, crate::POWER_UP).await {
            Ok(()) => report.push(
                "licence",
                true,
                "De integratie is geactiveerd in de Licentie Manager.",
                "The integration is activated in the Licence Manager.",
            ),
            Err(StoreError::Licence(_)) => report.push(
                "licence",
                false,
                "De integratie is niet geactiveerd in de Licentie Manager: activeer de power-up AccountView.",
                "The integration is not activated in the Licence Manager: activate the AccountView power-up.",
            ),
            Err(other) => return Err(other.into()),
        }
        let companies = self.companies(administration).await?;
        let Some(company) = companies.iter().find(|c| c.id == company_id) else {
            report.push(
                "company",
                false,
                "De gekozen AccountView-administratie is niet bereikbaar voor deze gebruiker.",
                "The chosen AccountView administration cannot be reached by this user.",
            );
            return Ok(report);
        };
        report.push(
            "company",
            true,
            format!(
                "Geselecteerde administratie: {} – {}. Controleer of dit de juiste is.",
                company.code, company.description
            ),
            format!(
                "Selected administration: {} – {}. Make sure it is the right one.",
                company.code, company.description
            ),
        );
        let rights = match self.business_objects_for(administration, company_id).await {
            Ok(rights) => rights,
            Err(AccountViewError::Api(AccountViewApiError::Forbidden { message })) => {
                report.push(
                    "rights",
                    false,
                    format!("Uw AccountView-gebruiker heeft geen toegang tot deze administratie: {message}"),
                    format!("Your AccountView user has no access to this administration: {message}"),
                );
                return Ok(report);
            }
            Err(other) => return Err(other),
        };
        let mut missing_read: Vec<&str> = Vec::new();
        for category in &settings.import.categories {
            let object = category.business_object();
            if !rights.iter().any(|r| r.code == object) {
                missing_read.push(object);
            }
        }
        if missing_read.is_empty() {
            report.push(
                "rights:import",
                true,
                "Uw AccountView-gebruiker heeft voldoende toegangsrechten om te lezen wat er geïmporteerd wordt.",
                "Your AccountView user has sufficient access rights to read what is imported.",
            );
        } else {
            let list = missing_read.join(", ");
            report.push(
                "rights:import",
                false,
                format!("Uw AccountView-gebruiker mist leesrechten op: {list}."),
                format!("Your AccountView user lacks read rights on: {list}."),
            );
        }
        report.push(
            "options",
            true,
            options_text(settings, true),
            options_text(settings, false),
        );
        if settings.export.enabled {
            let insert = |object: &str| rights.iter().any(|r| r.code == object && r.insert);
            if insert("DJ2") {
                report.push(
                    "rights:export",
                    true,
                    "Uw AccountView-gebruiker mag verkoopfacturen boeken (DJ2).",
                    "Your AccountView user may post sales invoices (DJ2).",
                );
            } else {
                report.push(
                    "rights:export",
                    false,
                    "Uw AccountView-gebruiker mag geen verkoopfacturen toevoegen (DJ2): exporteren kan niet.",
                    "Your AccountView user may not insert sales invoices (DJ2): exporting is not possible.",
                );
            }
            if settings.export.create_missing_debtors && !insert("AR1") {
                report.push(
                    "rights:debtors",
                    false,
                    "Uw AccountView-gebruiker mag geen debiteuren toevoegen (AR1).",
                    "Your AccountView user may not insert debtors (AR1).",
                );
            }
            self.check_export_codes(administration, &settings.export, &mut report)
                .await?;
        }
        Ok(report)
    }

    async fn business_objects_for(
        &self,
        administration: AdministrationId,
        company_id: &str,
    ) -> Result<Vec<crate::api::BusinessObjectRights>, AccountViewError> {
        self.business_objects(administration, company_id).await
    }

    async fn check_export_codes(
        &self,
        administration: AdministrationId,
        export: &ExportSettings,
        report: &mut CheckReport,
    ) -> Result<(), AccountViewError> {
        let journals = storage::codes(&self.store, administration, CodeList::Journals).await?;
        let accounts = storage::codes(&self.store, administration, CodeList::LedgerAccounts).await?;
        let vat_codes = storage::codes(&self.store, administration, CodeList::VatCodes).await?;
        check_code(
            report,
            "code:sales_journal",
            ("Verkoopdagboek", "Sales journal"),
            export.sales_journal.as_deref(),
            &journals,
            |entry| {
                (entry.journal_type != "V").then(|| {
                    (
                        format!("Dagboek {} is geen verkoopdagboek.", entry.code),
                        format!("Journal {} is not a sales journal.", entry.code),
                    )
                })
            },
        );
        for (key, label, chosen) in [
            (
                "code:hours_account",
                ("Omzetrekening uren", "Revenue account for hours"),
                &export.hours_account,
            ),
            (
                "code:materials_account",
                ("Omzetrekening materialen", "Revenue account for materials"),
                &export.materials_account,
            ),
        ] {
            check_code(report, key, label, chosen.as_deref(), &accounts, |_| None);
        }
        for rate in VatRate::ALL {
            let chosen = export.vat_codes.get(rate.as_str()).map(String::as_str);
            let key = format!("code:vat:{}", rate.as_str());
            let label_nl = format!("Btw-code voor {}", rate_label(rate).0);
            let label_en = format!("VAT code for {}", rate_label(rate).1);
            check_code(report, &key, (&label_nl, &label_en), chosen, &vat_codes, |entry| {
                let reverse = rate == VatRate::ReverseCharge;
                if entry.reverse_charge != reverse {
                    return Some((
                        format!("Btw-code {} past niet bij {}.", entry.code, rate_label(rate).0),
                        format!("VAT code {} does not fit {}.", entry.code, rate_label(rate).1),
                    ));
                }
                // Compared as exact decimals, so "21" and "21.00" are both 21%.
                (!reverse && !rate.has_percentage(&entry.percentage)).then(|| {
                    (
                        format!(
                            "Btw-code {} heeft {}%, niet {}%.",
                            entry.code,
                            entry.percentage,
                            rate.percent()
                        ),
                        format!(
                            "VAT code {} is {}%, not {}%.",
                            entry.code,
                            entry.percentage,
                            rate.percent()
                        ),
                    )
                })
            });
        }
        if let Some(cost_centre) = export.cost_centre.as_deref().filter(|c| !c.is_empty()) {
            let centres = storage::codes(&self.store, administration, CodeList::CostCentres).await?;
            check_code(
                report,
                "code:cost_centre",
                ("Kostenplaats", "Cost centre"),
                Some(cost_centre),
                &centres,
                |_| None,
            );
        }
        Ok(())
    }

    /// Checks, then saves the company and the settings. The company is locked once saved.
    pub async fn save(
        &self,
        administration: AdministrationId,
        company_id: &str,
        settings: &Settings,
    ) -> Result<CheckReport, SaveError> {
        let connection = self.live_or_unsaved(administration).await?;
        if connection.saved_at.is_some()
            && connection
                .company
                .as_ref()
                .is_some_and(|company| company.id != company_id)
        {
            return Err(SaveError::CompanyLocked);
        }
        let report = self.check(administration, company_id, settings).await?;
        if !report.ok() {
            return Err(SaveError::CheckFailed(report));
        }
        let companies = self.companies(administration).await?;
        let company = companies
            .iter()
            .find(|c| c.id == company_id)
            .expect("the check found the company");
        let chosen = ChosenCompany {
            id: company.id.clone(),
            code: company.code.clone(),
            name: company.description.clone(),
        };
        let value = serde_json::to_value(settings).expect("settings serialise");
        match storage::save(&self.store, administration, &chosen, &value).await {
            Ok(_) => Ok(report),
            Err(StoreError::Conflict {
                code: "company_locked", ..
            }) => Err(SaveError::CompanyLocked),
            Err(other) => Err(AccountViewError::from(other).into()),
        }
    }

    /// A connected connection, saved or not.
    pub(crate) async fn live_or_unsaved(
        &self,
        administration: AdministrationId,
    ) -> Result<Connection, AccountViewError> {
        let connection = storage::connection(&self.store, administration)
            .await?
            .ok_or(AccountViewError::NotConnected)?;
        if connection.status == storage::ConnectionStatus::AuthenticationExpired {
            return Err(AccountViewError::AuthenticationExpired);
        }
        Ok(connection)
    }
}

/// The import and export options in a sentence, for the user to compare with their process.
fn options_text(settings: &Settings, dutch: bool) -> String {
    let names: Vec<&str> = settings
        .import
        .categories
        .iter()
        .map(|c| if dutch { c.name_nl() } else { c.name_en() })
        .collect();
    let import = match (names.is_empty(), dutch) {
        (true, true) => "er wordt niets geïmporteerd".to_string(),
        (true, false) => "nothing is imported".to_string(),
        (false, true) => format!("importeren: {}", names.join(", ")),
        (false, false) => format!("import: {}", names.join(", ")),
    };
    let export = match (settings.export.enabled, dutch) {
        (true, true) => format!(
            "werkbonnen met status {} worden als verkoopfactuur geëxporteerd",
            settings.export.trigger_status.as_str()
        ),
        (true, false) => format!(
            "work orders with status {} are exported as sales invoices",
            settings.export.trigger_status.as_str()
        ),
        (false, true) => "exporteren staat uit".to_string(),
        (false, false) => "exporting is off".to_string(),
    };
    if dutch {
        format!("Import- en exportopties: {import}; {export}. Controleer of dit overeenkomt met uw proces.")
    } else {
        format!("Import and export options: {import}; {export}. Make sure this matches your process.")
    }
}

/// A VAT rate as users read it.
pub fn rate_label(rate: VatRate) -> (&'static str, &'static str) {
    match rate {
        VatRate::High => ("hoog (21%)", "high (21%)"),
        VatRate::Low => ("laag (9%)", "low (9%)"),
        VatRate::Zero => ("0%", "0%"),
        VatRate::ReverseCharge => ("verlegd", "reverse charge"),
    }
}
