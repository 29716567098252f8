//! The settings catalogue of the demo group: what the main administration has set up, and how each
//! sub has drifted from it, so settings sync has something to show in its preview.
//!
//! Items are wire JSON, exactly what an office administrator would post to the REST API, so they go
//! through the same parsing and checks as real settings.

use koppel_domain::record::ResourceSpec;
use koppel_domain::resources::{
    APP_POLICIES, FORMS, FREE_FIELDS, HOUR_TYPES, TEMPLATES, WORK_STATUSES, WORK_TYPES, WORKFLOWS,
};
use serde_json::{Value as Json, json};

/// One settings item: its resource and its wire JSON.
#[derive(Debug, Clone)]
pub struct SettingsItem {
    pub spec: &'static ResourceSpec,
    pub json: Json,
}

impl SettingsItem {
    pub fn code(&self) -> &str {
        self.json["code"].as_str().expect("every settings item has a code")
    }
}

/// The settings of one administration, in the order they can be created (forms before the workflows
/// that use them).
#[derive(Debug, Clone)]
pub struct Catalogue {
    pub items: Vec<SettingsItem>,
}

/// How a sub-administration's settings differ from the main's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drift {
    /// The main's catalogue as it is.
    None,
    /// Set up a while ago: the air-conditioning items and some newer ones are missing.
    Missing,
    /// Changed locally: another hourly rate, a renamed invoice layout, a switched app policy.
    Changed,
    /// Everything the main has, plus items of its own for its solar-panel work.
    Extra,
}

/// An hour type as the work-order generators need it.
#[derive(Debug, Clone)]
pub struct HourTypeInfo {
    pub code: String,
    pub description: String,
    pub rate_cents: i64,
    pub vat: String,
}

impl Catalogue {
    pub fn for_drift(drift: Drift) -> Catalogue {
        let mut catalogue = Catalogue::main();
        match drift {
            Drift::None => {}
            Drift::Missing => {
                // The workflow goes with its form, so what remains is still consistent.
                for code in [
                    "F-AIRCO",
                    "WF-AIRCO",
                    "E-HERINNERING",
                    "APP-OFFLINE",
                    "VV-PROJECTLEIDER",
                ] {
                    catalogue.items.retain(|item| item.code() != code);
                }
            }
            Drift::Changed => {
                catalogue.edit("NORMAAL", |json| json["rate"] = json!("64.50"));
                catalogue.edit("OVERWERK", |json| json["rate"] = json!("96.75"));
                catalogue.edit("T-FACTUUR", |json| {
                    json["name"] = json!("Factuur Amersfoort");
                    json["footer"] = json!(
                        "Van Dijk Amersfoort · Computerweg 12 · 3821 AB Amersfoort · IBAN NL91 ABNA 0417 1643 00"
                    );
                });
                catalogue.edit("APP-PRIJZEN", |json| json["enabled"] = json!(true));
                catalogue.edit("WACHT-MATERIAAL", |json| json["color"] = json!("#F4511E"));
            }
            Drift::Extra => {
                catalogue.push(
                    &WORK_TYPES,
                    json!({"code": "ZONNEPANELEN", "name": "Zonnepanelen",
                           "description": "Installatie en onderhoud van PV-installaties"}),
                );
                catalogue.push(
                    &FORMS,
                    json!({"code": "F-PV-OPLEVERING", "name": "Opleverrapport zonnepanelen", "fields": [
                        {"key": "aantal_panelen", "label": "Aantal panelen", "type": "number", "required": true},
                        {"key": "omvormer_serienummer", "label": "Serienummer omvormer", "type": "text", "required": true},
                        {"key": "stringmeting", "label": "Stringmeting uitgevoerd", "type": "checkbox"},
                        {"key": "foto_dak", "label": "Foto dakvlak", "type": "photo"},
                        {"key": "handtekening", "label": "Handtekening klant", "type": "signature", "required": true}
                    ]}),
                );
                catalogue.push(
                    &WORKFLOWS,
                    json!({"code": "WF-ZONNEPANELEN", "name": "Zonnepanelen plaatsen",
                           "steps": [{"name": "Dakinspectie"}, {"name": "Montage"}, {"name": "Aansluiten omvormer"},
                                     {"name": "Oplevering", "form_code": "F-PV-OPLEVERING"}],
                           "work_type_codes": ["ZONNEPANELEN"]}),
                );
                catalogue.push(
                    &FREE_FIELDS,
                    json!({"code": "VV-PARKEREN", "label": "Parkeervergunning nodig", "entity": "relation",
                           "field_type": "checkbox"}),
                );
            }
        }
        catalogue.sort();
        catalogue
    }

    /// Everything the main administration has set up.
    pub fn main() -> Catalogue {
        let mut catalogue = Catalogue { items: Vec::new() };
        catalogue.forms();
        catalogue.work_types();
        catalogue.workflows();
        catalogue.templates();
        catalogue.work_statuses();
        catalogue.hour_types();
        catalogue.free_fields();
        catalogue.app_policies();
        catalogue.sort();
        catalogue
    }

    #[cfg(test)]
    pub fn codes_of(&self, spec: &ResourceSpec) -> Vec<String> {
        self.items
            .iter()
            .filter(|item| item.spec.slug == spec.slug)
            .map(|item| item.code().to_string())
            .collect()
    }

    /// The billable hour types with their rates, as work-order hour lines use them.
    pub fn billable_hour_types(&self) -> Vec<HourTypeInfo> {
        self.items
            .iter()
            .filter(|item| item.spec.slug == HOUR_TYPES.slug && item.json["billable"] == json!(true))
            .map(|item| HourTypeInfo {
                code: item.code().to_string(),
                description: item.json["description"].as_str().unwrap_or_default().to_string(),
                rate_cents: koppel_domain::Money::parse(item.json["rate"].as_str().unwrap_or("0"))
                    .map(|money| money.cents())
                    .unwrap_or_default(),
                vat: item.json["vat_rate"].as_str().unwrap_or("21").to_string(),
            })
            .collect()
    }

    fn push(&mut self, spec: &'static ResourceSpec, json: Json) {
        self.items.push(SettingsItem { spec, json });
    }

    fn edit(&mut self, code: &str, change: impl FnOnce(&mut Json)) {
        let item = self
            .items
            .iter_mut()
            .find(|item| item.code() == code)
            .unwrap_or_else(|| panic!("the catalogue has no item {code}"));
        change(&mut item.json);
    }

    /// Resource order first (references point backwards), insertion order within a resource.
    fn sort(&mut self) {
        let position = |spec: &ResourceSpec| koppel_domain::resources::ALL.iter().position(|s| s.slug == spec.slug);
        self.items.sort_by_key(|item| position(item.spec));
    }

    fn forms(&mut self) {
        self.push(
            &FORMS,
            json!({"code": "F-CV-ONDERHOUD", "name": "Onderhoudsrapport CV-ketel", "fields": [
                {"key": "co2_percentage", "label": "CO2 rookgas (%)", "type": "number", "required": true},
                {"key": "co_ppm", "label": "CO rookgas (ppm)", "type": "number", "required": true},
                {"key": "waterdruk", "label": "Waterdruk (bar)", "type": "number"},
                {"key": "ketel_gereinigd", "label": "Brander en warmtewisselaar gereinigd", "type": "checkbox"},
                {"key": "toestand", "label": "Toestand installatie", "type": "choice",
                 "choices": ["Goed", "Matig", "Slecht, vervanging adviseren"]},
                {"key": "opmerkingen", "label": "Opmerkingen", "type": "text"},
                {"key": "handtekening", "label": "Handtekening klant", "type": "signature", "required": true}
            ]}),
        );
        self.push(
            &FORMS,
            json!({"code": "F-WP-INSPECTIE", "name": "Inspectie warmtepomp", "fields": [
                {"key": "aanvoertemperatuur", "label": "Aanvoertemperatuur (°C)", "type": "number"},
                {"key": "cop_indicatie", "label": "COP volgens regelaar", "type": "number"},
                {"key": "buitenunit_vrij", "label": "Buitenunit vrij van obstakels", "type": "checkbox"},
                {"key": "foto_typeplaat", "label": "Foto typeplaatje", "type": "photo"},
                {"key": "handtekening", "label": "Handtekening klant", "type": "signature"}
            ]}),
        );
        self.push(
            &FORMS,
            json!({"code": "F-AIRCO", "name": "Onderhoud airco en F-gassen logboek", "fields": [
                {"key": "koudemiddel", "label": "Koudemiddel", "type": "choice", "choices": ["R32", "R410A", "R290"]},
                {"key": "vulling_kg", "label": "Vulling (kg)", "type": "number", "required": true},
                {"key": "lekdicht", "label": "Lekdichtheidscontrole in orde", "type": "checkbox", "required": true},
                {"key": "datum_volgende_controle", "label": "Volgende controle", "type": "date"}
            ]}),
        );
        self.push(
            &FORMS,
            json!({"code": "F-BRAND", "name": "Controle brandblusmiddelen (NEN 2559)", "fields": [
                {"key": "aantal_gecontroleerd", "label": "Aantal gecontroleerd", "type": "number", "required": true},
                {"key": "aantal_afgekeurd", "label": "Aantal afgekeurd", "type": "number"},
                {"key": "sticker_geplaatst", "label": "Keuringssticker geplaatst", "type": "checkbox"}
            ]}),
        );
        self.push(
            &FORMS,
            json!({"code": "F-OPLEVERING", "name": "Opleverformulier", "fields": [
                {"key": "werkplek_schoon", "label": "Werkplek schoon opgeleverd", "type": "checkbox"},
                {"key": "uitleg_gegeven", "label": "Uitleg bediening gegeven", "type": "checkbox"},
                {"key": "foto_installatie", "label": "Foto installatie", "type": "photo"},
                {"key": "handtekening", "label": "Handtekening klant", "type": "signature", "required": true}
            ]}),
        );
        self.push(
            &FORMS,
            json!({"code": "F-WERKBON", "name": "Algemene werkbon", "fields": [
                {"key": "werkzaamheden", "label": "Uitgevoerde werkzaamheden", "type": "text", "required": true},
                {"key": "vervolgactie", "label": "Vervolgactie nodig", "type": "checkbox"},
                {"key": "akkoord", "label": "Akkoord klant", "type": "signature"}
            ]}),
        );
    }

    fn work_types(&mut self) {
        for (code, name, description) in [
            (
                "ONDERHOUD",
                "Periodiek onderhoud",
                "Onderhoud volgens onderhoudscontract",
            ),
            ("STORING", "Storing", "Storingsmelding van de klant, zo snel mogelijk"),
            ("INSTALLATIE", "Installatie", "Nieuwe installatie of uitbreiding"),
            ("VERVANGING", "Vervanging", "Vervangen van een bestaand toestel"),
            (
                "INSPECTIE",
                "Inspectie / keuring",
                "Inspectie, keuring of controle volgens norm",
            ),
            ("OPNAME", "Opname voor offerte", "Situatie opnemen voor een offerte"),
            ("GARANTIE", "Garantie", "Werk onder garantie, niet factureren"),
        ] {
            self.push(
                &WORK_TYPES,
                json!({"code": code, "name": name, "description": description}),
            );
        }
    }

    fn workflows(&mut self) {
        self.push(
            &WORKFLOWS,
            json!({"code": "WF-ONDERHOUD", "name": "Onderhoud CV-ketel",
                   "steps": [{"name": "Aankomst en melden bij klant"},
                             {"name": "Inspectie en rookgasmeting", "form_code": "F-CV-ONDERHOUD"},
                             {"name": "Reinigen en afstellen"},
                             {"name": "Afronding", "form_code": "F-OPLEVERING"}],
                   "work_type_codes": ["ONDERHOUD", "INSPECTIE"]}),
        );
        self.push(
            &WORKFLOWS,
            json!({"code": "WF-STORING", "name": "Storing verhelpen",
                   "steps": [{"name": "Aankomst"}, {"name": "Diagnose"}, {"name": "Reparatie"},
                             {"name": "Klantakkoord", "form_code": "F-WERKBON"}],
                   "work_type_codes": ["STORING", "GARANTIE"]}),
        );
        self.push(
            &WORKFLOWS,
            json!({"code": "WF-INSTALLATIE", "name": "Installatie en oplevering",
                   "steps": [{"name": "Voorbereiding en materiaal controleren"}, {"name": "Installeren"},
                             {"name": "In bedrijf stellen"}, {"name": "Oplevering", "form_code": "F-OPLEVERING"}],
                   "work_type_codes": ["INSTALLATIE", "VERVANGING"]}),
        );
        self.push(
            &WORKFLOWS,
            json!({"code": "WF-WARMTEPOMP", "name": "Inspectie warmtepomp",
                   "steps": [{"name": "Aankomst"}, {"name": "Inspectie", "form_code": "F-WP-INSPECTIE"},
                             {"name": "Afronding"}],
                   "work_type_codes": ["INSPECTIE", "ONDERHOUD"]}),
        );
        self.push(
            &WORKFLOWS,
            json!({"code": "WF-AIRCO", "name": "Onderhoud airco",
                   "steps": [{"name": "Aankomst"}, {"name": "Filters reinigen"},
                             {"name": "Lekdichtheidscontrole", "form_code": "F-AIRCO"}],
                   "work_type_codes": ["ONDERHOUD"]}),
        );
        self.push(
            &WORKFLOWS,
            json!({"code": "WF-BRAND", "name": "Keuring brandblusmiddelen",
                   "steps": [{"name": "Controle", "form_code": "F-BRAND"}, {"name": "Rapport opstellen"}],
                   "work_type_codes": ["INSPECTIE"]}),
        );
    }

    fn templates(&mut self) {
        let footer = "Van Dijk Installatiegroep B.V. · Ravenswade 54 · 3439 LD Nieuwegein · KvK 30123456 · \
                      btw NL812345678B01 · IBAN NL91 ABNA 0417 1643 00";
        self.push(
            &TEMPLATES,
            json!({"code": "T-WERKBON", "name": "Werkbon standaard", "kind": "work_order",
                   "header": "Werkbon {{werkbon.nummer}} — {{relatie.naam}}",
                   "body": "Datum: {{werkbon.datum}}\nAdres: {{object.adres}}\nMonteur: {{medewerker.naam}}\n\n\
                            Omschrijving:\n{{werkbon.omschrijving}}\n\nGewerkte uren:\n{{uren}}\n\n\
                            Gebruikte materialen:\n{{materialen}}\n\nHandtekening klant: {{handtekening}}",
                   "footer": footer,
                   "options": {"toon_prijzen": false, "papierformaat": "A4", "logo": "vandijk-logo.png",
                               "taal": "nl"}}),
        );
        self.push(
            &TEMPLATES,
            json!({"code": "T-FACTUUR", "name": "Factuur standaard", "kind": "invoice",
                   "header": "Factuur {{factuur.nummer}}",
                   "body": "Geachte {{relatie.naam}},\n\nHierbij ontvangt u de factuur voor de werkzaamheden \
                            volgens werkbon {{werkbon.nummer}}.\n\n{{regels}}\n\nTotaal exclusief btw: \
                            {{factuur.totaal_excl}}\nBtw: {{factuur.btw}}\nTotaal: {{factuur.totaal}}\n\n\
                            Wij verzoeken u het bedrag binnen {{factuur.betaaltermijn}} dagen over te maken onder \
                            vermelding van het factuurnummer.",
                   "footer": footer,
                   "options": {"toon_btw_specificatie": true, "betaaltermijn_dagen": 30, "papierformaat": "A4",
                               "qr_betaalcode": true}}),
        );
        self.push(
            &TEMPLATES,
            json!({"code": "T-OFFERTE", "name": "Offerte", "kind": "quote",
                   "header": "Offerte {{offerte.nummer}}",
                   "body": "Beste {{relatie.naam}},\n\nNaar aanleiding van ons bezoek doen wij u graag de \
                            volgende aanbieding:\n\n{{offerte.omschrijving}}\n\nTotaal exclusief btw: \
                            {{offerte.totaal}}\n\nDeze offerte is geldig tot {{offerte.geldig_tot}}. Voor akkoord \
                            kunt u deze offerte ondertekend retourneren.",
                   "footer": footer,
                   "options": {"geldigheid_dagen": 30, "toon_voorwaarden": true}}),
        );
        for (code, name, header, body) in [
            (
                "E-FACTUUR",
                "E-mail bij factuur",
                "Uw factuur {{factuur.nummer}}",
                "Beste {{relatie.naam}},\n\nIn de bijlage vindt u factuur {{factuur.nummer}} voor de \
                 werkzaamheden op {{werkbon.datum}}.\n\nMet vriendelijke groet,\nVan Dijk Installatiegroep",
            ),
            (
                "E-AFSPRAAK",
                "Bevestiging afspraak",
                "Bevestiging van uw afspraak op {{werkbon.datum}}",
                "Beste {{relatie.naam}},\n\nOp {{werkbon.datum}} komt {{medewerker.naam}} bij u langs voor \
                 {{werkbon.omschrijving}}. Verhinderd? Bel ons op 030-6012345.\n\nMet vriendelijke groet,\n\
                 Van Dijk Installatiegroep",
            ),
            (
                "E-WERKBON",
                "Werkbon afgerond",
                "Werkbon {{werkbon.nummer}} is afgerond",
                "Beste {{relatie.naam}},\n\nDe werkzaamheden zijn afgerond. In de bijlage vindt u de getekende \
                 werkbon.\n\nMet vriendelijke groet,\nVan Dijk Installatiegroep",
            ),
            (
                "E-HERINNERING",
                "Betalingsherinnering",
                "Herinnering: factuur {{factuur.nummer}}",
                "Beste {{relatie.naam}},\n\nVolgens onze administratie is factuur {{factuur.nummer}} van \
                 {{factuur.datum}} nog niet (volledig) betaald. Wilt u het openstaande bedrag van \
                 {{factuur.openstaand}} binnen 14 dagen overmaken?\n\nMet vriendelijke groet,\n\
                 Van Dijk Installatiegroep",
            ),
        ] {
            self.push(
                &TEMPLATES,
                json!({"code": code, "name": name, "kind": "email", "header": header, "body": body,
                       "footer": "Dit bericht is verstuurd door Van Dijk Installatiegroep.",
                       "options": {"afzender": "planning@vandijk.example", "bijlage_pdf": true}}),
            );
        }
    }

    fn work_statuses(&mut self) {
        for (code, name, color, is_final) in [
            ("KLAARGEZET", "Klaargezet", "#9E9E9E", false),
            ("OPGEHAALD", "Opgehaald", "#1E88E5", false),
            ("COMPLEET", "Compleet", "#43A047", false),
            ("AFGEHANDELD", "Afgehandeld", "#2E7D32", true),
            ("EXPORTFOUT", "Exportfout", "#E53935", false),
            ("WACHT-MATERIAAL", "Wacht op materiaal", "#FB8C00", false),
            ("WACHT-KLANT", "Wacht op klant", "#8E24AA", false),
        ] {
            self.push(
                &WORK_STATUSES,
                json!({"code": code, "name": name, "color": color, "is_final": is_final}),
            );
        }
    }

    fn hour_types(&mut self) {
        for (code, description, rate, vat, billable) in [
            ("NORMAAL", "Normale uren", "62.50", "21", true),
            ("OVERWERK", "Overwerk (150%)", "93.75", "21", true),
            ("WEEKEND", "Weekend en feestdagen (200%)", "125.00", "21", true),
            (
                "STORINGSDIENST",
                "Storingsdienst buiten kantoortijd",
                "89.50",
                "21",
                true,
            ),
            ("REIS", "Reisuren", "45.00", "21", true),
            (
                "ONDERAANNEMING",
                "Onderaanneming (btw verlegd)",
                "55.00",
                "verlegd",
                true,
            ),
            ("INTERN", "Interne uren (opleiding, werkplaats)", "0.00", "21", false),
        ] {
            self.push(
                &HOUR_TYPES,
                json!({"code": code, "description": description, "rate": rate, "vat_rate": vat,
                       "billable": billable}),
            );
        }
    }

    fn free_fields(&mut self) {
        self.push(
            &FREE_FIELDS,
            json!({"code": "VV-TOEGANG", "label": "Toegangscode / sleutelkluis", "entity": "relation",
                   "field_type": "text"}),
        );
        self.push(
            &FREE_FIELDS,
            json!({"code": "VV-HUISDIER", "label": "Let op: huisdier aanwezig", "entity": "relation",
                   "field_type": "checkbox"}),
        );
        self.push(
            &FREE_FIELDS,
            json!({"code": "VV-CONTRACT", "label": "Onderhoudscontract", "entity": "relation",
                   "field_type": "choice", "choices": ["Geen", "Basis", "Comfort", "Totaal"]}),
        );
        self.push(
            &FREE_FIELDS,
            json!({"code": "VV-BOUWJAAR", "label": "Bouwjaar woning", "entity": "object", "field_type": "number"}),
        );
        self.push(
            &FREE_FIELDS,
            json!({"code": "VV-PRIORITEIT", "label": "Prioriteit", "entity": "work_order", "field_type": "choice",
                   "choices": ["Laag", "Normaal", "Hoog", "Spoed"]}),
        );
        self.push(
            &FREE_FIELDS,
            json!({"code": "VV-PROJECTLEIDER", "label": "Projectleider", "entity": "project", "field_type": "text"}),
        );
    }

    fn app_policies(&mut self) {
        for (code, name, enabled, description) in [
            (
                "APP-KLANTGEGEVENS",
                "Klantgegevens tonen in de app",
                true,
                "Monteurs zien naam, adres en telefoonnummer van de klant",
            ),
            (
                "APP-PRIJZEN",
                "Prijzen tonen aan monteur",
                false,
                "Verkoopprijzen van materiaal en uren zichtbaar in de app",
            ),
            (
                "APP-HANDTEKENING",
                "Handtekening klant verplicht",
                true,
                "Een werkbon kan pas compleet met handtekening van de klant",
            ),
            (
                "APP-FOTO",
                "Foto's toevoegen",
                true,
                "Monteurs mogen foto's aan een werkbon toevoegen",
            ),
            (
                "APP-UREN-WIJZIGEN",
                "Uren achteraf wijzigen",
                false,
                "Monteurs mogen uren na afronden nog aanpassen",
            ),
            (
                "APP-OFFLINE",
                "Offline werken",
                true,
                "Werkbonnen ook zonder verbinding afronden",
            ),
            (
                "APP-MATERIAAL",
                "Materiaal toevoegen vanuit de app",
                true,
                "Monteurs boeken gebruikt materiaal zelf op de werkbon",
            ),
        ] {
            self.push(
                &APP_POLICIES,
                json!({"code": code, "name": name, "enabled": enabled, "description": description}),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use koppel_domain::record::parse_create;
    use std::collections::BTreeSet;

    #[test]
    fn every_item_parses_and_every_reference_resolves_in_every_variant() {
        for drift in [Drift::None, Drift::Missing, Drift::Changed, Drift::Extra] {
            let catalogue = Catalogue::for_drift(drift);
            let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
            for item in &catalogue.items {
                let values = parse_create(item.spec, &item.json)
                    .unwrap_or_else(|errors| panic!("{drift:?} {}: {errors:?}", item.code()));
                for reference in koppel_domain::settings::code_references(item.spec, &values) {
                    assert!(
                        seen.contains(&(reference.target.to_string(), reference.code.clone())),
                        "{drift:?}: {} refers to {} {} before it exists",
                        item.code(),
                        reference.target,
                        reference.code
                    );
                }
                assert!(seen.insert((item.spec.slug.to_string(), item.code().to_string())));
            }
        }
    }
}
