//! Deterministic seed data that looks like a Dutch installation company's books: two companies, a 2025 and a
//! 2026 administration for the first, VAT codes 0/1/2/3 (incl. verlegd), a chart of accounts with revenue
//! accounts, journals with sales journal VRK, cost centres, debtors (one blocked, one Belgian, names with
//! diacritics), 500 articles in groups, posted invoices and payments.
//!
//! Every random choice comes from a fixed-seed RNG, so two sandboxes seeded with the same volume hold the
//! same rows and tests may rely on them.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::books::{Administration, Row};
use crate::catalog::{self, TableDef};
use crate::value::{NUMBER_SCALE, Value, round_to_cents};

/// `Id`s of the seeded administrations, stable so demos and docs can name them.
pub const VDB_2025_ID: &str = "a3c1e7f0-2b4d-4e6a-8c9f-0d1e2f302025";
pub const VDB_2026_ID: &str = "a3c1e7f0-2b4d-4e6a-8c9f-0d1e2f302026";
pub const KSO_2026_ID: &str = "5b8d2c41-7e9a-4f03-b6d2-91c4a8e02026";

/// Seeded history never goes past this day, so seeded `CNG_DATE`s lie in the past of any real clock.
const SEED_HORIZON: (i32, u32, u32) = (2026, 10, 31);

/// A seeded or configured login of the authorize page.
#[derive(Clone, Debug)]
pub struct SeedUser {
    pub login: &'static str,
    pub password: &'static str,
    pub display_name: &'static str,
    pub administrations: &'static [&'static str],
    pub read_only: bool,
}

/// The seeded logins; the README lists them.
pub const SEED_USERS: [SeedUser; 3] = [
    SeedUser {
        login: "demo@vandenberg-installatie.nl",
        password: "sandbox",
        display_name: "Sanne de Vries (boekhouding)",
        administrations: &[VDB_2025_ID, VDB_2026_ID, KSO_2026_ID],
        read_only: false,
    },
    SeedUser {
        login: "lezer@vandenberg-installatie.nl",
        password: "sandbox",
        display_name: "Joëlle Bakker (alleen lezen)",
        administrations: &[VDB_2026_ID],
        read_only: true,
    },
    SeedUser {
        login: "boekhouding@klimaatservice-oost.nl",
        password: "sandbox",
        display_name: "Gijs Hoekstra",
        administrations: &[KSO_2026_ID],
        read_only: false,
    },
];

/// Everything the seed produces for the books; users are derived from [`SEED_USERS`] by the state module.
pub fn administrations(debtors: usize) -> Vec<Administration> {
    let van_den_berg = CompanyProfile {
        rng_seed: 0x4B4F_5050_454C_0001,
        debtors,
        article_groups: &ARTICLE_GROUPS,
        places: &UTRECHT_REGION,
        fixed_debtors: true,
    };
    let mut master = Administration::new(VDB_2026_ID, "VDB26", "Installatiebedrijf Van den Berg B.V. 2026", 2026);
    seed_master_data(&mut master, &van_den_berg);

    let mut year_2025 = master.clone();
    year_2025.id = VDB_2025_ID.to_owned();
    year_2025.code = "VDB25".to_owned();
    year_2025.description = "Installatiebedrijf Van den Berg B.V. 2025".to_owned();
    year_2025.fiscal_year = 2025;
    seed_history(&mut year_2025, &mut StdRng::seed_from_u64(0x2025), 420);

    let mut year_2026 = master;
    seed_history(&mut year_2026, &mut StdRng::seed_from_u64(0x2026), 360);

    let klimaat_oost = CompanyProfile {
        rng_seed: 0x4B4F_5050_454C_0002,
        debtors: 40,
        article_groups: &ARTICLE_GROUPS[..4],
        places: &TWENTE_REGION,
        fixed_debtors: false,
    };
    let mut second = Administration::new(KSO_2026_ID, "KSO26", "Klimaatservice Oost B.V. 2026", 2026);
    seed_master_data(&mut second, &klimaat_oost);
    seed_history(&mut second, &mut StdRng::seed_from_u64(0x4B53_4F26), 90);

    vec![year_2025, year_2026, second]
}

struct CompanyProfile {
    rng_seed: u64,
    debtors: usize,
    article_groups: &'static [ArticleGroup],
    places: &'static [Place],
    /// Whether the handwritten debtors (blocked, Belgian, diacritics) open the list.
    fixed_debtors: bool,
}

fn seed_master_data(administration: &mut Administration, profile: &CompanyProfile) {
    let mut rng = StdRng::seed_from_u64(profile.rng_seed);
    let stamp = master_data_stamp();
    for (code, name, percentage, reverse) in VAT_CODES {
        let mut row = Row::empty(&catalog::VAT);
        set_all(
            &mut row,
            &catalog::VAT,
            [
                ("VAT_CODE", Value::text(code)),
                ("VAT_NAME", Value::text(name)),
                ("VAT_PCT", Value::integer(percentage)),
                ("IS_REVERSE", Value::Bool(reverse)),
                ("CNG_DATE", Value::DateTime(Some(stamp))),
            ],
        );
        administration.vat_codes.insert(row);
    }
    for (number, name, revenue, vat_code, blocked) in LEDGER_ACCOUNTS {
        let mut row = Row::empty(&catalog::LEDGER);
        set_all(
            &mut row,
            &catalog::LEDGER,
            [
                ("ACCT_NR", Value::text(number)),
                ("ACCT_NAME", Value::text(name)),
                ("STAT_SELL", Value::Bool(revenue)),
                ("VAT_CODE", Value::text(vat_code)),
                ("REC_BLK", Value::Bool(blocked)),
                ("CNG_DATE", Value::DateTime(Some(stamp))),
            ],
        );
        administration.ledger.insert(row);
    }
    for (code, name, journal_type, blocked) in JOURNALS {
        let mut row = Row::empty(&catalog::DAILY);
        set_all(
            &mut row,
            &catalog::DAILY,
            [
                ("DJ_CODE", Value::text(code)),
                ("DJ_NAME", Value::text(name)),
                ("DJ_TYPE", Value::text(journal_type)),
                ("REC_BLK", Value::Bool(blocked)),
                ("CNG_DATE", Value::DateTime(Some(stamp))),
            ],
        );
        administration.journals.insert(row);
    }
    for (code, description, blocked) in COST_CENTRES {
        let mut row = Row::empty(&catalog::COST);
        set_all(
            &mut row,
            &catalog::COST,
            [
                ("COST_CODE", Value::text(code)),
                ("COST_DESC", Value::text(description)),
                ("REC_BLK", Value::Bool(blocked)),
                ("CNG_DATE", Value::DateTime(Some(stamp))),
            ],
        );
        administration.cost_centres.insert(row);
    }
    seed_articles(administration, profile.article_groups, &mut rng);
    seed_debtors(administration, profile, &mut rng);
}

fn set_all<const N: usize>(row: &mut Row, table: &TableDef, values: [(&str, Value); N]) {
    for (name, value) in values {
        row.set(table, name, value);
    }
}

fn master_data_stamp() -> NaiveDateTime {
    day(2023, 12, 18).and_hms_opt(8, 30, 0).unwrap_or_default()
}

fn day(year: i32, month: u32, day_of_month: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day_of_month).unwrap_or_default()
}

fn horizon() -> NaiveDate {
    day(SEED_HORIZON.0, SEED_HORIZON.1, SEED_HORIZON.2)
}

/// A random moment during office hours between two days, for `CNG_DATE`s.
fn office_moment(rng: &mut StdRng, from: NaiveDate, to: NaiveDate) -> NaiveDateTime {
    let span_days = (to - from).num_days().max(0);
    let chosen = from + Duration::days(rng.random_range(0..=span_days));
    let seconds = rng.random_range(7 * 3600..18 * 3600);
    chosen.and_hms_opt(0, 0, 0).unwrap_or_default() + Duration::seconds(seconds)
}

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

// ---------------------------------------------------------------------------------------------------------
// Reference data
// ---------------------------------------------------------------------------------------------------------

/// (code, name, percentage, reverse charge). Verlegd keeps the 21% it shifts to the customer, with
/// `IS_REVERSE` telling the supplier to charge nothing.
const VAT_CODES: [(&str, &str, i64, bool); 4] = [
    ("0", "Geen btw (0%)", 0, false),
    ("1", "Btw laag tarief 9%", 9, false),
    ("2", "Btw hoog tarief 21%", 21, false),
    ("3", "Btw verlegd", 21, true),
];

/// (number, name, revenue account, default VAT code, blocked).
const LEDGER_ACCOUNTS: [(&str, &str, bool, &str, bool); 40] = [
    ("0100", "Bedrijfspand", false, "", false),
    ("0300", "Inventaris en gereedschap", false, "", false),
    ("0400", "Bedrijfsauto's", false, "", false),
    ("1000", "Kas", false, "", false),
    ("1100", "ING Bank zakelijk", false, "", false),
    ("1110", "Rabobank spaarrekening", false, "", false),
    ("1300", "Debiteuren", false, "", false),
    ("1400", "Voorraad materialen", false, "", false),
    ("1500", "Af te dragen btw hoog", false, "", false),
    ("1510", "Af te dragen btw laag", false, "", false),
    ("1520", "Btw verlegd", false, "", false),
    ("1530", "Voorbelasting", false, "", false),
    ("1600", "Crediteuren", false, "", false),
    ("1700", "Af te dragen loonheffing", false, "", false),
    ("2000", "Kruisposten", false, "", false),
    ("4000", "Lonen en salarissen", false, "", false),
    ("4010", "Sociale lasten", false, "", false),
    ("4020", "Pensioenpremies", false, "", false),
    ("4100", "Huur bedrijfspand", false, "", false),
    ("4200", "Brandstof bedrijfsauto's", false, "", false),
    ("4210", "Onderhoud bedrijfsauto's", false, "", false),
    ("4300", "Klein gereedschap", false, "", false),
    ("4400", "Kantoorkosten", false, "", false),
    ("4500", "Telefoon en internet", false, "", false),
    ("4600", "Reclame en advertenties", false, "", false),
    ("4700", "Verzekeringen", false, "", false),
    ("4800", "Accountantskosten", false, "", false),
    ("4900", "Bankkosten", false, "", false),
    ("7000", "Inkoop materialen", false, "", false),
    ("7100", "Inkoop onderaanneming", false, "", false),
    ("8000", "Omzet installatiewerk 21%", true, "2", false),
    ("8010", "Omzet isolatiewerk woningen 9%", true, "1", false),
    ("8020", "Omzet verlegd (onderaanneming)", true, "3", false),
    ("8030", "Omzet onderhoudscontracten", true, "2", false),
    ("8040", "Omzet storingsdienst", true, "2", false),
    ("8050", "Omzet materialen", true, "2", false),
    ("8060", "Omzet zonnepanelen woningen 0%", true, "0", false),
    ("8100", "Omzet buitenland", true, "3", false),
    ("8990", "Omzet oude indeling (niet gebruiken)", true, "2", true),
    ("9000", "Diverse baten en lasten", false, "", false),
];

/// (code, name, type, blocked). `V` is a sales journal.
const JOURNALS: [(&str, &str, &str, bool); 6] = [
    ("VRK", "Verkoopboek", "V", false),
    ("INK", "Inkoopboek", "I", false),
    ("BNK", "ING Bank", "B", false),
    ("KAS", "Kas", "K", false),
    ("MEM", "Memoriaal", "M", false),
    ("VR2", "Verkoopboek oude nummering", "V", true),
];

/// (code, description, blocked).
const COST_CENTRES: [(&str, &str, bool); 6] = [
    ("100", "Installatie nieuwbouw", false),
    ("200", "Service en onderhoud", false),
    ("300", "Renovatie en verduurzaming", false),
    ("400", "Storingsdienst", false),
    ("900", "Algemeen", false),
    ("950", "Project Zeist-West (afgesloten)", true),
];

/// The revenue account for a line with a VAT code.
fn revenue_account(vat_code: &str, foreign: bool) -> &'static str {
    match (vat_code, foreign) {
        (_, true) => "8100",
        ("0", _) => "8060",
        ("1", _) => "8010",
        ("3", _) => "8020",
        _ => "8000",
    }
}

// ---------------------------------------------------------------------------------------------------------
// Articles
// ---------------------------------------------------------------------------------------------------------

struct ArticleGroup {
    code: &'static str,
    description: &'static str,
    count: usize,
    /// Product families: (description template with `{}`, variants, unit, cost price in euros, VAT code).
    families: &'static [(&'static str, &'static [&'static str], &'static str, f64, &'static str)],
}

const ARTICLE_GROUPS: [ArticleGroup; 10] = [
    ArticleGroup {
        code: "CV",
        description: "Cv-ketels en toebehoren",
        count: 56,
        families: &[
            (
                "HR-combiketel {}",
                &[
                    "Remeha Calenta Ace 40c",
                    "Remeha Tzerra Ace 28c",
                    "Remeha Avanta Ace 35c",
                    "Intergas Xtreme 30",
                    "Intergas Xtreme 36",
                    "Nefit EnerGline 28",
                    "Nefit TrendLine II 30",
                    "Vaillant ecoTEC plus 30",
                    "Vaillant ecoTEC plus 36",
                    "ATAG iC Economiser 27",
                    "ATAG i36C",
                    "Bosch Condens 5300i",
                    "Itho Daalderop Cubo 28",
                ],
                "st",
                1350.0,
                "2",
            ),
            (
                "Paneelradiator {} mm",
                &[
                    "type 21 500x600",
                    "type 21 500x1000",
                    "type 22 500x800",
                    "type 22 600x1200",
                    "type 22 900x600",
                    "type 33 500x1000",
                    "type 33 600x1400",
                    "type 33 900x800",
                ],
                "st",
                145.0,
                "2",
            ),
            (
                "Expansievat {}",
                &["8 liter", "12 liter", "18 liter", "25 liter", "35 liter"],
                "st",
                38.0,
                "2",
            ),
            (
                "Slimme thermostaat {}",
                &[
                    "Honeywell T6",
                    "Google Nest Learning",
                    "Tado V3+",
                    "Remeha eTwist",
                    "Netatmo",
                ],
                "st",
                165.0,
                "2",
            ),
            (
                "Rookgasafvoer {}",
                &[
                    "concentrisch 60/100 1 m",
                    "concentrisch 80/125 1 m",
                    "bocht 87° 60/100",
                    "dakdoorvoer zwart",
                ],
                "st",
                42.0,
                "2",
            ),
            (
                "Vloerverwarmingsverdeler {}",
                &["3 groepen", "4 groepen", "6 groepen", "8 groepen", "10 groepen"],
                "st",
                210.0,
                "2",
            ),
            (
                "Circulatiepomp {}",
                &[
                    "Grundfos Alpha2 25-60",
                    "Wilo Yonos Pico 25/1-6",
                    "Grundfos UPM3 15-70",
                    "Wilo Para 25/6",
                ],
                "st",
                185.0,
                "2",
            ),
            (
                "Radiatorkraan {}",
                &[
                    "thermostatisch ½\"",
                    "haaks ½\"",
                    "recht ½\"",
                    "voetventiel ½\"",
                    "dubbel aansluitblok",
                ],
                "st",
                24.0,
                "2",
            ),
            (
                "Ketelbeugel {}",
                &["universeel", "Remeha", "Intergas", "Nefit"],
                "st",
                28.0,
                "2",
            ),
            (
                "Inhibitor {}",
                &["Sentinel X100 500 ml", "Fernox F1 265 ml", "Sentinel X400 reiniger"],
                "st",
                19.5,
                "2",
            ),
        ],
    },
    ArticleGroup {
        code: "WP",
        description: "Warmtepompen",
        count: 40,
        families: &[
            (
                "Hybride warmtepomp {}",
                &[
                    "Nefit EnviLine 7 kW",
                    "Remeha Elga Ace 4 kW",
                    "Remeha Elga Ace 6 kW",
                    "Intergas Xource 5 kW",
                    "Nefit EnviLine 5 kW",
                    "Itho Daalderop HP Hybrid 4",
                    "ATAG Energion Hybrid 6 kW",
                    "Vaillant aroTHERM plus 3,5 kW",
                    "Quatt Hybrid 2",
                ],
                "st",
                3150.0,
                "2",
            ),
            (
                "All-electric warmtepomp {}",
                &[
                    "Daikin Altherma 3 6 kW",
                    "Daikin Altherma 3 8 kW",
                    "Mitsubishi Ecodan 8 kW",
                    "Panasonic Aquarea J 7 kW",
                    "Vaillant aroTHERM plus 7 kW",
                    "Vaillant aroTHERM plus 10 kW",
                    "NIBE F2120 8 kW",
                    "NIBE S2125 12 kW",
                ],
                "st",
                7400.0,
                "2",
            ),
            (
                "Boilervat {}",
                &["150 liter", "200 liter", "300 liter", "300 liter met zonnespiraal"],
                "st",
                980.0,
                "2",
            ),
            (
                "Montageset warmtepomp {}",
                &[
                    "muurconsole",
                    "vloerconsole",
                    "trillingsdempers",
                    "condensafvoer verwarmd",
                    "buitenunit dak",
                ],
                "set",
                120.0,
                "2",
            ),
            (
                "Buffervat {}",
                &["40 liter", "60 liter", "100 liter", "200 liter"],
                "st",
                390.0,
                "2",
            ),
            (
                "Koudemiddelleiding {}",
                &["¼\"-½\" per meter", "⅜\"-⅝\" per meter", "isolatieslang per meter"],
                "m",
                21.0,
                "2",
            ),
            (
                "Warmtepompregeling {}",
                &["OpenTherm gateway", "kamerthermostaat", "energiemeter", "buitenvoeler"],
                "st",
                145.0,
                "2",
            ),
            (
                "Driewegklep {}",
                &["22 mm", "28 mm", "1\" binnendraad"],
                "st",
                165.0,
                "2",
            ),
        ],
    },
    ArticleGroup {
        code: "SAN",
        description: "Sanitair",
        count: 69,
        families: &[
            (
                "Douchewand {}",
                &[
                    "90x200 mat glas",
                    "80x200 helder glas",
                    "90x200 helder glas",
                    "100x200 rookglas",
                    "inloop 120x200",
                ],
                "st",
                310.0,
                "2",
            ),
            (
                "Designradiator badkamer {}",
                &[
                    "500x800 wit",
                    "600x1200 wit",
                    "600x1800 antraciet",
                    "elektrisch 500x800",
                ],
                "st",
                240.0,
                "2",
            ),
            (
                "Wandcloset {}",
                &[
                    "Geberit iCon rimfree",
                    "Villeroy & Boch Subway 2.0",
                    "Grohe Euro Ceramic",
                    "Sphinx 300 basic",
                ],
                "st",
                245.0,
                "2",
            ),
            (
                "Inbouwreservoir {}",
                &[
                    "Geberit Duofix UP320",
                    "Grohe Rapid SL",
                    "Wisa XS",
                    "Geberit Sigma UP720",
                ],
                "st",
                215.0,
                "2",
            ),
            (
                "Bedieningsplaat {}",
                &["wit", "mat zwart", "RVS geborsteld", "chroom glans", "mat goud"],
                "st",
                68.0,
                "2",
            ),
            (
                "Wastafelmengkraan {}",
                &[
                    "Grohe Eurosmart",
                    "Hansgrohe Logis 100",
                    "Grohe BauEdge",
                    "Hansgrohe Talis E 110",
                    "Tres Study",
                ],
                "st",
                95.0,
                "2",
            ),
            (
                "Thermostatische douchekraan {}",
                &[
                    "Grohe Grohtherm 800",
                    "Hansgrohe Ecostat 1001",
                    "Grohe Precision Flow",
                    "Ideal Standard Ceratherm",
                ],
                "st",
                155.0,
                "2",
            ),
            (
                "Regendouche set {}",
                &[
                    "Ø 200 mm chroom",
                    "Ø 250 mm chroom",
                    "Ø 300 mm mat zwart",
                    "Ø 300 mm RVS",
                ],
                "set",
                285.0,
                "2",
            ),
            (
                "Douchegoot {}",
                &[
                    "70 cm RVS",
                    "80 cm RVS",
                    "90 cm RVS",
                    "100 cm tegelbaar",
                    "120 cm mat zwart",
                ],
                "st",
                135.0,
                "2",
            ),
            (
                "Wastafel {}",
                &[
                    "60 cm keramiek",
                    "80 cm keramiek",
                    "fontein 36 cm",
                    "dubbel 120 cm",
                    "meubel 100 cm eiken",
                ],
                "st",
                175.0,
                "2",
            ),
            (
                "Sifon {}",
                &[
                    "wastafel chroom",
                    "fontein chroom",
                    "douchebak 90 mm",
                    "bad compleet",
                    "design mat zwart",
                ],
                "st",
                26.0,
                "2",
            ),
            (
                "Elektrische boiler {}",
                &[
                    "Inventum 30 liter",
                    "Inventum 50 liter",
                    "Itho Daalderop 80 liter",
                    "Itho Daalderop 120 liter",
                ],
                "st",
                420.0,
                "2",
            ),
            (
                "Keukenkraan {}",
                &[
                    "Grohe Eurosmart uittrekbaar",
                    "Quooker Flex combi",
                    "Quooker Fusion Round",
                    "Hansgrohe Focus",
                ],
                "st",
                190.0,
                "2",
            ),
            (
                "Ligbad {}",
                &["170x75 acryl", "180x80 acryl", "vrijstaand 170 cm"],
                "st",
                465.0,
                "2",
            ),
            (
                "Toiletzitting {}",
                &[
                    "softclose wit",
                    "softclose mat zwart",
                    "met deksel basic",
                    "kinderzitting",
                ],
                "st",
                39.0,
                "2",
            ),
            (
                "Hoekstopkraan {}",
                &["½\" x 10 mm", "½\" x ⅜\"", "met keerklep ½\"", "design rond chroom"],
                "st",
                9.5,
                "2",
            ),
        ],
    },
    ArticleGroup {
        code: "LEI",
        description: "Leidingwerk en fittingen",
        count: 82,
        families: &[
            (
                "Koperen buis {} mm, lengte 5 m",
                &["10", "12", "15", "18", "22", "28", "35", "42", "54"],
                "st",
                31.0,
                "2",
            ),
            (
                "Knelkoppeling recht {} mm",
                &["12", "15", "18", "22", "28", "35"],
                "st",
                4.6,
                "2",
            ),
            (
                "Knelbocht 90° {} mm",
                &["12", "15", "18", "22", "28", "35"],
                "st",
                5.8,
                "2",
            ),
            ("Knel T-stuk {} mm", &["12", "15", "18", "22", "28"], "st", 7.9, "2"),
            (
                "Perskoppeling recht {} mm",
                &["15", "18", "22", "28", "35", "42"],
                "st",
                3.9,
                "2",
            ),
            (
                "Persbocht 90° {} mm",
                &["15", "18", "22", "28", "35", "42"],
                "st",
                4.4,
                "2",
            ),
            ("Pers T-stuk {} mm", &["15", "18", "22", "28", "35"], "st", 6.2, "2"),
            (
                "Meerlagenbuis {} mm, rol 50 m",
                &["16x2", "20x2", "26x3", "32x3"],
                "rol",
                94.0,
                "2",
            ),
            (
                "Kogelkraan {}",
                &[
                    "½\" binnendraad",
                    "¾\" binnendraad",
                    "1\" binnendraad",
                    "22 mm knel",
                    "28 mm knel",
                ],
                "st",
                14.5,
                "2",
            ),
            (
                "PVC afvoerbuis {} mm, lengte 4 m",
                &["32", "40", "50", "75", "110", "125"],
                "st",
                12.5,
                "2",
            ),
            ("PVC bocht 45° {} mm", &["32", "40", "50", "75", "110"], "st", 2.4, "2"),
            (
                "Leidingisolatie {} mm, lengte 2 m",
                &["15x9", "18x9", "22x13", "28x13", "35x13"],
                "st",
                3.1,
                "2",
            ),
            (
                "Gasleiding koper {} mm, lengte 5 m",
                &["15", "22", "28"],
                "st",
                34.0,
                "2",
            ),
            (
                "Gaskraan {}",
                &["½\" haaks", "½\" recht", "15 mm knel", "22 mm knel"],
                "st",
                17.5,
                "2",
            ),
            (
                "Buisbeugel {} mm",
                &["12", "15", "18", "22", "28", "35", "42"],
                "st",
                0.85,
                "2",
            ),
        ],
    },
    ArticleGroup {
        code: "ELE",
        description: "Elektra",
        count: 59,
        families: &[
            (
                "Installatieautomaat {}",
                &[
                    "C20 1-polig",
                    "B16 1-polig",
                    "C16 1-polig",
                    "B20 1-polig",
                    "B25 3-polig",
                    "C32 3-polig",
                ],
                "st",
                9.5,
                "2",
            ),
            (
                "Installatiedraad VD {}",
                &[
                    "2,5 mm² blauw 100 m",
                    "2,5 mm² bruin 100 m",
                    "2,5 mm² geel/groen 100 m",
                    "1,5 mm² blauw 100 m",
                    "1,5 mm² bruin 100 m",
                    "4 mm² zwart 100 m",
                ],
                "rol",
                29.0,
                "2",
            ),
            (
                "Installatiekabel XMvK {}",
                &[
                    "3x2,5 mm² per meter",
                    "5x2,5 mm² per meter",
                    "3x6 mm² per meter",
                    "5x6 mm² per meter",
                    "5x10 mm² per meter",
                ],
                "m",
                2.6,
                "2",
            ),
            (
                "Groepenkast {}",
                &[
                    "4 groepen 1-fase",
                    "6 groepen 1-fase",
                    "8 groepen 3-fase",
                    "12 groepen 3-fase",
                    "16 groepen 3-fase",
                ],
                "st",
                285.0,
                "2",
            ),
            (
                "Aardlekautomaat {}",
                &[
                    "1P+N B16 30 mA",
                    "1P+N C16 30 mA",
                    "1P+N B20 30 mA",
                    "3P+N B16 30 mA",
                    "3P+N C20 30 mA",
                ],
                "st",
                46.0,
                "2",
            ),
            (
                "Wandcontactdoos {}",
                &[
                    "enkel randaarde wit",
                    "dubbel randaarde wit",
                    "opbouw spatwaterdicht",
                    "enkel met USB-A/C",
                    "dubbel mat zwart",
                ],
                "st",
                8.9,
                "2",
            ),
            (
                "Schakelaar {}",
                &[
                    "enkelpolig wit",
                    "wissel wit",
                    "serie wit",
                    "dimmer LED 5-150 W",
                    "bewegingsmelder",
                ],
                "st",
                11.5,
                "2",
            ),
            (
                "Laadpaal {}",
                &[
                    "Alfen Eve Single 11 kW",
                    "Easee Home 22 kW",
                    "Zaptec Go 11 kW",
                    "Wallbox Pulsar Plus",
                    "Peblar Home 11 kW",
                ],
                "st",
                790.0,
                "2",
            ),
            (
                "Inbouwdoos {}",
                &["enkel 55 mm", "dubbel 55 mm", "hollewand enkel", "hollewand dubbel"],
                "st",
                0.7,
                "2",
            ),
            (
                "Installatiebuis {}",
                &[
                    "16 mm crème 4 m",
                    "19 mm crème 4 m",
                    "25 mm crème 4 m",
                    "flexibel 16 mm rol 50 m",
                ],
                "st",
                2.2,
                "2",
            ),
            (
                "kWh-meter {}",
                &["1-fase tussenmeter MID", "3-fase tussenmeter MID", "P1-uitlezer"],
                "st",
                78.0,
                "2",
            ),
            (
                "Rookmelder {}",
                &["10 jaar batterij", "230 V gekoppeld", "koolmonoxidemelder"],
                "st",
                24.0,
                "2",
            ),
            (
                "LED inbouwspot {}",
                &["IP44 dimbaar wit", "IP65 badkamer", "kantelbaar mat zwart"],
                "st",
                18.0,
                "2",
            ),
        ],
    },
    ArticleGroup {
        code: "ZON",
        description: "Zonnepanelen en omvormers",
        count: 41,
        families: &[
            (
                "Zonnepaneel {}",
                &[
                    "Trina Vertex S+ 445 Wp full black",
                    "JA Solar 420 Wp full black",
                    "JA Solar 440 Wp",
                    "Trina Vertex S+ 435 Wp",
                    "Longi Hi-MO 6 430 Wp",
                    "Aiko Neostar 450 Wp",
                    "DMEGC 425 Wp glas-glas",
                    "Jinko Tiger Neo 440 Wp",
                    "REC Alpha Pure 410 Wp",
                ],
                "st",
                118.0,
                "0",
            ),
            (
                "Omvormer {}",
                &[
                    "SolarEdge SE3000H",
                    "SolarEdge SE5000H",
                    "Enphase IQ8M micro",
                    "Growatt MIN 3600TL-XH",
                    "Growatt MOD 6000TL3-X",
                    "Huawei SUN2000-4KTL",
                    "SMA Sunny Boy 4.0",
                    "GoodWe GW5K-DNS",
                ],
                "st",
                640.0,
                "0",
            ),
            (
                "Montagesysteem {}",
                &[
                    "schuin dak pannen per paneel",
                    "plat dak oost-west per paneel",
                    "plat dak zuid per paneel",
                    "leien dak per paneel",
                    "golfplaat per paneel",
                ],
                "st",
                36.0,
                "0",
            ),
            (
                "Thuisbatterij {}",
                &[
                    "Huawei LUNA2000 5 kWh",
                    "Huawei LUNA2000 10 kWh",
                    "BYD Battery-Box 7,7 kWh",
                    "SolarEdge Home 9,7 kWh",
                ],
                "st",
                2950.0,
                "2",
            ),
            (
                "Solarkabel {}",
                &[
                    "4 mm² zwart 100 m",
                    "4 mm² rood 100 m",
                    "6 mm² zwart 100 m",
                    "MC4-connectorset",
                ],
                "st",
                68.0,
                "0",
            ),
            (
                "Optimizer {}",
                &[
                    "SolarEdge S440",
                    "SolarEdge S500",
                    "Tigo TS4-A-O",
                    "Huawei SUN2000-450W-P",
                ],
                "st",
                49.0,
                "0",
            ),
            (
                "Energiemanager {}",
                &[
                    "SolarEdge Home Hub",
                    "Huawei Smart Dongle",
                    "Growatt ShineLink",
                    "HomeWizard P1-meter",
                ],
                "st",
                95.0,
                "2",
            ),
            (
                "Overspanningsbeveiliging {}",
                &["DC 2 strings", "AC 1-fase", "AC 3-fase"],
                "st",
                85.0,
                "2",
            ),
        ],
    },
    ArticleGroup {
        code: "VEN",
        description: "Ventilatie",
        count: 40,
        families: &[
            (
                "Afzuigkapaansluiting {}",
                &["Ø 125 mm met motor", "Ø 125 mm", "Ø 150 mm", "terugslagklep Ø 125 mm"],
                "st",
                16.0,
                "2",
            ),
            (
                "WTW-unit {}",
                &[
                    "Zehnder ComfoAir Q350",
                    "Zehnder ComfoAir Q450",
                    "Brink Flair 325",
                    "Brink Flair 400",
                    "Itho Daalderop HRU 350",
                    "Orcon HRC-300",
                ],
                "st",
                2150.0,
                "2",
            ),
            (
                "Mechanische ventilatiebox {}",
                &[
                    "Itho CVE-S ECO",
                    "Orcon MVS-15",
                    "Zehnder ComfoFan S",
                    "Brink Renovent Excellent",
                ],
                "st",
                265.0,
                "2",
            ),
            (
                "CO2-sensor {}",
                &["Itho RFT draadloos", "Orcon 15RF", "Zehnder RFZ", "Brink Air Control"],
                "st",
                135.0,
                "2",
            ),
            (
                "Ventilatieventiel {}",
                &[
                    "afvoer Ø 100 mm",
                    "afvoer Ø 125 mm",
                    "toevoer Ø 100 mm",
                    "toevoer Ø 125 mm",
                    "design vierkant",
                ],
                "st",
                11.0,
                "2",
            ),
            (
                "Ventilatiekanaal {}",
                &[
                    "semi-flexibel Ø 75 mm 20 m",
                    "semi-flexibel Ø 90 mm 20 m",
                    "spiro Ø 125 mm 3 m",
                    "spiro Ø 160 mm 3 m",
                    "geïsoleerd Ø 160 mm 10 m",
                ],
                "st",
                42.0,
                "2",
            ),
            (
                "Dakdoorvoer {}",
                &[
                    "Ø 125 mm pannen",
                    "Ø 160 mm pannen",
                    "Ø 125 mm plat dak",
                    "Ø 160 mm plat dak",
                ],
                "st",
                74.0,
                "2",
            ),
            (
                "Ventilatiefilter {}",
                &["G4 set", "F7 set", "ePM1 set", "jaarpakket 4 sets"],
                "set",
                34.0,
                "2",
            ),
            (
                "Roosterset {}",
                &["gevel 300x100", "gevel 500x150", "deur 400x100", "raam zelfregelend"],
                "st",
                22.0,
                "2",
            ),
        ],
    },
    ArticleGroup {
        code: "ARB",
        description: "Arbeid en uurtarieven",
        count: 21,
        families: &[
            (
                "Uurtarief {}",
                &[
                    "werkvoorbereider",
                    "monteur",
                    "eerste monteur",
                    "leerling-monteur",
                    "servicemonteur",
                    "projectleider",
                    "engineer",
                    "storingsdienst avond",
                    "storingsdienst weekend",
                    "storingsdienst feestdag",
                ],
                "uur",
                48.0,
                "2",
            ),
            (
                "Voorrijkosten {}",
                &["regio", "buiten regio", "spoed binnen 4 uur"],
                "st",
                32.0,
                "2",
            ),
            (
                "Inbedrijfstelling {}",
                &["cv-ketel", "warmtepomp", "zonnepaneelsysteem", "ventilatiesysteem"],
                "st",
                95.0,
                "2",
            ),
            (
                "Onderhoudsbeurt {}",
                &["cv-ketel", "warmtepomp", "mechanische ventilatie", "elektrische boiler"],
                "st",
                82.0,
                "2",
            ),
        ],
    },
    ArticleGroup {
        code: "KLN",
        description: "Kleinmateriaal",
        count: 52,
        families: &[
            (
                "Teflontape {}",
                &["25 mm x 25 m", "12 mm x 12 m", "19 mm x 15 m", "gas 12 mm x 12 m"],
                "st",
                1.2,
                "2",
            ),
            (
                "Afdichtkit {}",
                &[
                    "sanitair wit",
                    "sanitair transparant",
                    "acryl wit",
                    "brandwerend",
                    "PU-schuim 750 ml",
                ],
                "st",
                6.5,
                "2",
            ),
            (
                "Pluggen {}",
                &[
                    "6 mm doos 100",
                    "8 mm doos 100",
                    "10 mm doos 50",
                    "hollewand doos 50",
                    "nylon assortiment",
                ],
                "doos",
                7.5,
                "2",
            ),
            (
                "Schroeven {}",
                &[
                    "4x40 doos 200",
                    "5x50 doos 200",
                    "6x60 doos 100",
                    "RVS 4x30 doos 200",
                    "houtdraad 8x80 doos 50",
                ],
                "doos",
                9.0,
                "2",
            ),
            (
                "Tyraps {}",
                &["200 mm zwart 100 st", "300 mm zwart 100 st", "370 mm wit 100 st"],
                "zak",
                4.5,
                "2",
            ),
            ("Hennep {}", &["40 g", "100 g", "met pasta set"], "st", 3.8, "2"),
            (
                "Soldeertin {}",
                &["250 g loodvrij", "500 g loodvrij", "vloeimiddel 100 g"],
                "st",
                16.0,
                "2",
            ),
            (
                "Draadeind {}",
                &["M8 1 m verzinkt", "M10 1 m verzinkt", "M8 1 m RVS"],
                "st",
                2.9,
                "2",
            ),
            (
                "Montagerail {}",
                &["27x18 2 m", "38x40 2 m", "41x21 3 m"],
                "st",
                11.0,
                "2",
            ),
            (
                "Las- en persgereedschap huur {}",
                &["per dag", "per week"],
                "st",
                35.0,
                "2",
            ),
            ("Lasdraad {}", &["koper 2 mm 1 kg", "zilver 2% 1 kg"], "st", 24.0, "2"),
            (
                "Kabelgoot {}",
                &["PVC 40x40 2 m", "PVC 60x60 2 m", "metaal 100x60 3 m"],
                "st",
                8.4,
                "2",
            ),
            (
                "Afdekkap {}",
                &[
                    "radiatorbeugel wit",
                    "pijprozet 15 mm",
                    "pijprozet 22 mm",
                    "dubbele rozet 15 mm",
                ],
                "st",
                0.95,
                "2",
            ),
            (
                "Brandmanchet {}",
                &["Ø 50 mm", "Ø 110 mm", "Ø 125 mm", "Ø 160 mm"],
                "st",
                18.0,
                "2",
            ),
            (
                "Afvalverwerking {}",
                &["bouwafval per container", "oude cv-ketel", "koudemiddel terugwinning"],
                "st",
                45.0,
                "2",
            ),
        ],
    },
    ArticleGroup {
        code: "ISO",
        description: "Isolatie",
        count: 40,
        families: &[
            (
                "Isolatieplaten kruipruimte {}",
                &[
                    "XPS 60 mm per m²",
                    "EPS 80 mm per m²",
                    "PIR 60 mm per m²",
                    "schuimbeton per m²",
                    "reflecterende folie per m²",
                ],
                "m2",
                17.0,
                "1",
            ),
            (
                "Spouwmuurisolatie {}",
                &["EPS-parels per m²", "glaswol inblaas per m²", "PUR-schuim per m²"],
                "m2",
                14.5,
                "1",
            ),
            (
                "Vloerisolatie {}",
                &[
                    "PIR-platen per m²",
                    "schuim per m²",
                    "isolatiedeken per m²",
                    "Tonzon per m²",
                ],
                "m2",
                19.0,
                "1",
            ),
            (
                "Dakisolatie {}",
                &[
                    "PIR 100 mm per m²",
                    "PIR 120 mm per m²",
                    "glaswol 160 mm per m²",
                    "houtvezel 140 mm per m²",
                ],
                "m2",
                27.0,
                "1",
            ),
            (
                "Isolerende beglazing {}",
                &["HR++ per m²", "HR+++ per m²", "vacuümglas per m²"],
                "m2",
                98.0,
                "1",
            ),
            (
                "Kierdichting {}",
                &["per meter", "tochtstrip deur", "brievenbusborstel", "dorpelstrip"],
                "st",
                7.5,
                "1",
            ),
            (
                "Leidingisolatie aanbrengen {}",
                &["per meter", "kruipruimte per meter", "ketelruimte compleet"],
                "m",
                6.5,
                "1",
            ),
            (
                "Dampremmende folie {}",
                &["per m²", "tape 60 mm x 25 m", "manchet Ø 110 mm"],
                "st",
                2.9,
                "1",
            ),
            (
                "Uurtarief isolatiewerk {}",
                &["woning ouder dan 2 jaar", "kruipruimte", "zolder"],
                "uur",
                39.0,
                "1",
            ),
            ("Radiatorfolie {}", &["rol 5 m²", "met ventilator set"], "st", 14.0, "1"),
            (
                "Spouwankers {}",
                &["RVS doos 250", "isolatieclips doos 500"],
                "doos",
                29.0,
                "1",
            ),
            (
                "Bodemfolie kruipruimte {}",
                &["per m²", "afwerking randen per meter"],
                "m2",
                3.4,
                "1",
            ),
            (
                "Isolatiemateriaal restant {}",
                &["retourcredit", "afvoer"],
                "st",
                12.0,
                "1",
            ),
        ],
    },
];

fn seed_articles(administration: &mut Administration, groups: &[ArticleGroup], rng: &mut StdRng) {
    let stamp = master_data_stamp();
    for group in groups {
        let mut row = Row::empty(&catalog::ART_GRP);
        set_all(
            &mut row,
            &catalog::ART_GRP,
            [
                ("AG_CODE", Value::text(group.code)),
                ("AG_DESC", Value::text(group.description)),
                ("CNG_DATE", Value::DateTime(Some(stamp))),
            ],
        );
        administration.article_groups.insert(row);

        // Interleave families so that a group cut off at `count` still shows each kind of product.
        let longest = group.families.iter().map(|family| family.1.len()).max().unwrap_or(0);
        let mut made = 0;
        'variants: for variant_index in 0..longest {
            for (template, variants, unit, cost, vat_code) in group.families {
                let Some(variant) = variants.get(variant_index) else {
                    continue;
                };
                if made == group.count {
                    break 'variants;
                }
                made += 1;
                let cost_cents = ((cost * 100.0) * rng.random_range(0.85..1.2)).round() as i64;
                // Sales prices end on whole ten cents, as price lists do.
                let sales_cents = ((cost_cents as f64 * rng.random_range(1.25..1.65)) / 10.0).round() as i64 * 10;
                let mut article = Row::empty(&catalog::ARTICLE);
                set_all(
                    &mut article,
                    &catalog::ARTICLE,
                    [
                        ("ART_CODE", Value::text(format!("{}-{made:04}", group.code))),
                        ("ART_DESC1", Value::text(truncate(&template.replace("{}", variant), 50))),
                        ("AG_CODE", Value::text(group.code)),
                        ("SALES_PX", Value::cents(sales_cents)),
                        ("COST_PX", Value::cents(cost_cents)),
                        ("UNIT", Value::text(*unit)),
                        ("VAT_CODE", Value::text(*vat_code)),
                        ("REC_BLK", Value::Bool(false)),
                        (
                            "CNG_DATE",
                            Value::DateTime(Some(office_moment(rng, day(2024, 1, 8), horizon()))),
                        ),
                    ],
                );
                administration.articles.insert(article);
            }
        }
    }
}

/// Cuts text to a number of characters, never inside a multi-byte character.
fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

// ---------------------------------------------------------------------------------------------------------
// Debtors
// ---------------------------------------------------------------------------------------------------------

struct Place {
    city: &'static str,
    postcode_from: u32,
    postcode_to: u32,
    area_code: &'static str,
}

const UTRECHT_REGION: [Place; 14] = [
    Place {
        city: "Utrecht",
        postcode_from: 3511,
        postcode_to: 3585,
        area_code: "030",
    },
    Place {
        city: "Amersfoort",
        postcode_from: 3811,
        postcode_to: 3829,
        area_code: "033",
    },
    Place {
        city: "Zeist",
        postcode_from: 3701,
        postcode_to: 3712,
        area_code: "030",
    },
    Place {
        city: "Nieuwegein",
        postcode_from: 3431,
        postcode_to: 3439,
        area_code: "030",
    },
    Place {
        city: "Houten",
        postcode_from: 3991,
        postcode_to: 3997,
        area_code: "030",
    },
    Place {
        city: "IJsselstein",
        postcode_from: 3401,
        postcode_to: 3405,
        area_code: "030",
    },
    Place {
        city: "Woerden",
        postcode_from: 3441,
        postcode_to: 3449,
        area_code: "0348",
    },
    Place {
        city: "Bunnik",
        postcode_from: 3981,
        postcode_to: 3984,
        area_code: "030",
    },
    Place {
        city: "De Bilt",
        postcode_from: 3731,
        postcode_to: 3739,
        area_code: "030",
    },
    Place {
        city: "Maarssen",
        postcode_from: 3601,
        postcode_to: 3608,
        area_code: "0346",
    },
    Place {
        city: "Veenendaal",
        postcode_from: 3901,
        postcode_to: 3909,
        area_code: "0318",
    },
    Place {
        city: "'s-Hertogenbosch",
        postcode_from: 5211,
        postcode_to: 5237,
        area_code: "073",
    },
    Place {
        city: "Culemborg",
        postcode_from: 4101,
        postcode_to: 4108,
        area_code: "0345",
    },
    Place {
        city: "Wijk bij Duurstede",
        postcode_from: 3961,
        postcode_to: 3962,
        area_code: "0343",
    },
];

const TWENTE_REGION: [Place; 6] = [
    Place {
        city: "Enschede",
        postcode_from: 7511,
        postcode_to: 7548,
        area_code: "053",
    },
    Place {
        city: "Hengelo",
        postcode_from: 7550,
        postcode_to: 7559,
        area_code: "074",
    },
    Place {
        city: "Almelo",
        postcode_from: 7600,
        postcode_to: 7609,
        area_code: "0546",
    },
    Place {
        city: "Oldenzaal",
        postcode_from: 7570,
        postcode_to: 7577,
        area_code: "0541",
    },
    Place {
        city: "Borne",
        postcode_from: 7620,
        postcode_to: 7623,
        area_code: "074",
    },
    Place {
        city: "Haaksbergen",
        postcode_from: 7480,
        postcode_to: 7483,
        area_code: "053",
    },
];

const STREETS: [&str; 28] = [
    "Kerkstraat",
    "Dorpsstraat",
    "Molenweg",
    "Stationsweg",
    "Oudegracht",
    "Biltstraat",
    "Amsterdamsestraatweg",
    "Vinkenlaan",
    "Julianalaan",
    "Prins Bernhardlaan",
    "Wilhelminastraat",
    "Beatrixlaan",
    "Lindelaan",
    "Eikenlaan",
    "Kastanjelaan",
    "Industrieweg",
    "Nijverheidsweg",
    "Ambachtsweg",
    "Van Goghstraat",
    "Rembrandtlaan",
    "Vermeerstraat",
    "Populierenlaan",
    "Sint Jacobsstraat",
    "Voorstraat",
    "Lange Nieuwstraat",
    "Händelstraat",
    "Kruisweg",
    "Graaf Florislaan",
];

const FIRST_NAMES: [&str; 38] = [
    "Jan", "Sanne", "Zoë", "Noël", "Anaïs", "Chloë", "Daniël", "Michaël", "Raphaël", "Joëlle", "Thijs", "Bram", "Daan",
    "Femke", "Lotte", "Eva", "Sem", "Lieke", "Anouk", "Ruben", "Ilse", "Gijs", "Maaike", "Sjoerd", "Inge", "Koen",
    "Floor", "Jeroen", "Marloes", "Wouter", "Renée", "José", "Hüseyin", "Ayşe", "Özlem", "Loïs", "Rik", "Tessa",
];

const LAST_NAMES: [&str; 45] = [
    "de Vries",
    "Jansen",
    "van den Berg",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "de Boer",
    "Mulder",
    "de Groot",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "van Leeuwen",
    "Dekker",
    "Brouwer",
    "de Wit",
    "Dijkstra",
    "Smits",
    "de Graaf",
    "van der Meer",
    "van der Linden",
    "Kok",
    "Jacobs",
    "de Haan",
    "Vermeulen",
    "van den Heuvel",
    "van der Veen",
    "van den Broek",
    "de Bruijn",
    "de Jong",
    "Yılmaz",
    "Öztürk",
    "Hoekstra",
    "Koster",
    "Prins",
    "Huisman",
    "Verhoeven",
    "Willems",
    "Kuipers",
    "van Dijk",
    "Sanders",
    "Schouten",
    "Evers",
];

const BUSINESS_NOUNS: [&str; 10] = [
    "Hoekje",
    "Pleintje",
    "Wapen",
    "Haventje",
    "Zwaantje",
    "Anker",
    "Molentje",
    "Bruggetje",
    "Posthoorn",
    "Spijker",
];

/// The handwritten debtors at the start of the list; tests and demos find the special ones by their fields
/// (REC_BLK, CNT_CODE), not by number, but their position is fixed too.
struct FixedDebtor {
    name: &'static str,
    address: &'static str,
    post_code: &'static str,
    city: &'static str,
    country: &'static str,
    mail: &'static str,
    phone: &'static str,
    vat_number: &'static str,
    chamber_of_commerce: &'static str,
    vat_code: &'static str,
    blocked: bool,
}

const FIXED_DEBTORS: [FixedDebtor; 6] = [
    FixedDebtor {
        name: "Zoë van Dijk",
        address: "Oudegracht 231",
        post_code: "3511 NK",
        city: "Utrecht",
        country: "NL",
        mail: "zoe.vandijk@ziggo.nl",
        phone: "06-41287730",
        vat_number: "",
        chamber_of_commerce: "",
        vat_code: "2",
        blocked: false,
    },
    FixedDebtor {
        name: "Café 't Hoekje",
        address: "Voorstraat 12",
        post_code: "3512 AP",
        city: "Utrecht",
        country: "NL",
        mail: "info@cafethoekje.nl",
        phone: "030-2314455",
        vat_number: "NL812345670B01",
        chamber_of_commerce: "30123456",
        vat_code: "2",
        blocked: false,
    },
    FixedDebtor {
        name: "Coöperatie Zonnedak Zeist U.A.",
        address: "Slotlaan 4",
        post_code: "3701 GK",
        city: "Zeist",
        country: "NL",
        mail: "penningmeester@zonnedakzeist.nl",
        phone: "030-6991203",
        vat_number: "NL859001234B01",
        chamber_of_commerce: "71234567",
        vat_code: "2",
        blocked: false,
    },
    FixedDebtor {
        name: "De Wit & Zn. Aannemers B.V.",
        address: "Nijverheidsweg 18",
        post_code: "3433 NP",
        city: "Nieuwegein",
        country: "NL",
        mail: "administratie@dewitaannemers.nl",
        phone: "030-6041870",
        vat_number: "NL003456789B01",
        chamber_of_commerce: "30098765",
        vat_code: "3",
        blocked: false,
    },
    FixedDebtor {
        name: "Noël Dekker",
        address: "Julianalaan 77",
        post_code: "3722 GE",
        city: "Bilthoven",
        country: "NL",
        mail: "noel.dekker@kpnmail.nl",
        phone: "06-28817364",
        vat_number: "",
        chamber_of_commerce: "",
        vat_code: "2",
        // Blocked after two reminders went unanswered: invoices to it must be refused.
        blocked: true,
    },
    FixedDebtor {
        name: "Verwarming Peeters BV",
        address: "Turnhoutsebaan 142",
        post_code: "2140",
        city: "Borgerhout (Antwerpen)",
        country: "BE",
        mail: "boekhouding@verwarmingpeeters.be",
        phone: "+32 3 2357781",
        vat_number: "BE0476350964",
        chamber_of_commerce: "0476.350.964",
        vat_code: "3",
        blocked: false,
    },
];

/// Debtor numbers share one width per seed (10001.. for small books, 100001.. from 10,000 up), as
/// AccountView installations number them, so they sort the same as text and as numbers.
fn first_debtor_number(debtors: usize) -> u64 {
    let mut width = 4;
    let mut capacity = 9_999usize;
    while debtors > capacity {
        width += 1;
        capacity = capacity * 10 + 9;
    }
    10u64.pow(width) + 1
}

fn seed_debtors(administration: &mut Administration, profile: &CompanyProfile, rng: &mut StdRng) {
    let first_number = first_debtor_number(profile.debtors);
    let from = day(2023, 9, 1);
    let to = horizon();
    for position in 0..profile.debtors {
        let number = first_number + position as u64;
        let mut row = Row::empty(&catalog::CONTACT);
        let table = &catalog::CONTACT;
        row.set(table, "SUB_NR", Value::text(number.to_string()));
        row.set(table, "CNG_DATE", Value::DateTime(Some(office_moment(rng, from, to))));
        match FIXED_DEBTORS.get(position).filter(|_| profile.fixed_debtors) {
            Some(fixed) => fill_fixed_debtor(&mut row, fixed),
            None => fill_generated_debtor(&mut row, profile.places, rng),
        }
        administration.contacts.insert(row);
    }
}

fn fill_fixed_debtor(row: &mut Row, fixed: &FixedDebtor) {
    set_all(
        row,
        &catalog::CONTACT,
        [
            ("ACCT_NAME", Value::text(fixed.name)),
            ("ADDRESS1", Value::text(fixed.address)),
            ("POST_CODE", Value::text(fixed.post_code)),
            ("CITY", Value::text(fixed.city)),
            ("CNT_CODE", Value::text(fixed.country)),
            ("MAIL_BUS", Value::text(fixed.mail)),
            ("TEL_BUS", Value::text(fixed.phone)),
            ("VAT_NR", Value::text(fixed.vat_number)),
            ("COC_CODE", Value::text(fixed.chamber_of_commerce)),
            ("VAT_CODE", Value::text(fixed.vat_code)),
            ("REC_BLK", Value::Bool(fixed.blocked)),
        ],
    );
}

fn fill_generated_debtor(row: &mut Row, places: &[Place], rng: &mut StdRng) {
    let place = pick(rng, places);
    let street = *pick(rng, &STREETS);
    let last_name = *pick(rng, &LAST_NAMES);
    let post_code = format!(
        "{} {}{}",
        rng.random_range(place.postcode_from..=place.postcode_to),
        (b'A' + rng.random_range(0..26u8)) as char,
        (b'A' + rng.random_range(0..26u8)) as char
    );
    let kind = rng.random_range(0..100);
    let (name, business, vat_code) = match kind {
        0..=54 => {
            let first_name = *pick(rng, &FIRST_NAMES);
            if rng.random_bool(0.3) {
                (format!("Fam. {}", capitalize(last_name)), false, "2")
            } else {
                (format!("{first_name} {last_name}"), false, "2")
            }
        }
        55..=62 => (format!("{} Bouw B.V.", capitalize(last_name)), true, "3"),
        63..=68 => (format!("Bakkerij {}", capitalize(last_name)), true, "2"),
        69..=74 => (format!("Café 't {}", pick(rng, &BUSINESS_NOUNS)), true, "2"),
        75..=80 => (
            format!("VvE {street} {}-{}", rng.random_range(1..40), rng.random_range(41..120)),
            true,
            "2",
        ),
        81..=85 => (format!("Tandartspraktijk {}", capitalize(last_name)), true, "2"),
        86..=89 => (format!("Stichting Woonzorg {}", place.city), true, "2"),
        90..=94 => (format!("{} & Zn. Aannemers", capitalize(last_name)), true, "3"),
        _ => (format!("Restaurant De {}", pick(rng, &BUSINESS_NOUNS)), true, "2"),
    };
    let name = truncate(&name, 50);
    let slug = ascii_slug(&name);
    let mail = if business {
        format!("info@{slug}.nl")
    } else {
        let providers = [
            "ziggo.nl",
            "kpnmail.nl",
            "gmail.com",
            "hotmail.com",
            "outlook.com",
            "xs4all.nl",
        ];
        format!("{slug}@{}", pick(rng, &providers))
    };
    let phone = if business || rng.random_bool(0.4) {
        let digits = 10 - place.area_code.len();
        format!("{}-{}", place.area_code, random_digits(rng, digits))
    } else {
        format!("06-{}", random_digits(rng, 8))
    };
    let (vat_number, chamber_of_commerce) = if business {
        (format!("NL{}B01", random_digits(rng, 9)), random_digits(rng, 8))
    } else {
        (String::new(), String::new())
    };
    let discount = if business && rng.random_bool(0.15) { "A" } else { "" };
    set_all(
        row,
        &catalog::CONTACT,
        [
            ("ACCT_NAME", Value::text(name)),
            (
                "ADDRESS1",
                Value::text(format!("{street} {}", rng.random_range(1..250))),
            ),
            ("POST_CODE", Value::text(post_code)),
            ("CITY", Value::text(place.city)),
            ("CNT_CODE", Value::text("NL")),
            ("MAIL_BUS", Value::text(mail)),
            ("TEL_BUS", Value::text(phone)),
            ("VAT_NR", Value::text(vat_number)),
            ("COC_CODE", Value::text(chamber_of_commerce)),
            ("VAT_CODE", Value::text(vat_code)),
            ("DISC_CODE", Value::text(discount)),
            ("REC_BLK", Value::Bool(false)),
        ],
    );
}

/// "van den Berg Bouw" reads "Van den Berg Bouw" at the start of a company name.
fn capitalize(text: &str) -> String {
    let mut characters = text.chars();
    match characters.next() {
        Some(first) => first.to_uppercase().chain(characters).collect(),
        None => String::new(),
    }
}

fn random_digits(rng: &mut StdRng, count: usize) -> String {
    (0..count)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect()
}

/// Mail-address-safe form of a name: diacritics dropped, only lower-case letters, digits and dots.
fn ascii_slug(name: &str) -> String {
    let mut slug = String::new();
    for character in name.chars() {
        let plain = match character {
            'à' | 'á' | 'â' | 'ä' | 'À' | 'Á' | 'Ä' => 'a',
            'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ë' => 'e',
            'ì' | 'í' | 'î' | 'ï' | 'ı' | 'İ' => 'i',
            'ò' | 'ó' | 'ô' | 'ö' | 'Ö' | 'Ó' => 'o',
            'ù' | 'ú' | 'û' | 'ü' | 'Ü' => 'u',
            'ç' | 'Ç' => 'c',
            'ş' | 'Ş' => 's',
            'ñ' => 'n',
            other => other.to_ascii_lowercase(),
        };
        if plain.is_ascii_alphanumeric() {
            slug.push(plain);
        } else if plain == ' ' && !slug.ends_with('.') && !slug.is_empty() {
            slug.push('.');
        }
    }
    slug.trim_end_matches('.').to_owned()
}

// ---------------------------------------------------------------------------------------------------------
// History: invoices in the sales journal and the payments on them
// ---------------------------------------------------------------------------------------------------------

fn seed_history(administration: &mut Administration, rng: &mut StdRng, invoices: usize) {
    let year = administration.fiscal_year;
    let first_day = day(year, 1, 2);
    let last_day = day(year, 12, 31).min(horizon());
    let debtors: Vec<(String, String, bool)> = administration
        .contacts
        .rows
        .values()
        .filter(|row| !row.field(&catalog::CONTACT, "REC_BLK").as_bool())
        .map(|row| {
            (
                row.field(&catalog::CONTACT, "SUB_NR").as_text().to_owned(),
                row.field(&catalog::CONTACT, "VAT_CODE").as_text().to_owned(),
                row.field(&catalog::CONTACT, "CNT_CODE").as_text() != "NL",
            )
        })
        .collect();
    let articles: Vec<(String, i64, String)> = administration
        .articles
        .rows
        .values()
        .map(|row| {
            (
                row.field(&catalog::ARTICLE, "ART_DESC1").as_text().to_owned(),
                row.field(&catalog::ARTICLE, "SALES_PX").as_number(),
                row.field(&catalog::ARTICLE, "VAT_CODE").as_text().to_owned(),
            )
        })
        .collect();
    let percentages: Vec<(String, i64, bool)> = administration
        .vat_codes
        .rows
        .values()
        .map(|row| {
            (
                row.field(&catalog::VAT, "VAT_CODE").as_text().to_owned(),
                row.field(&catalog::VAT, "VAT_PCT").as_number(),
                row.field(&catalog::VAT, "IS_REVERSE").as_bool(),
            )
        })
        .collect();
    let cost_centres = ["100", "200", "300", "400"];
    if debtors.is_empty() || articles.is_empty() {
        return;
    }

    // Invoice dates in order, so invoice numbers rise with the date as in a real sales journal.
    let mut dates: Vec<NaiveDate> = (0..invoices)
        .map(|_| first_day + Duration::days(rng.random_range(0..=(last_day - first_day).num_days())))
        .collect();
    dates.sort();

    for (sequence, invoice_date) in dates.into_iter().enumerate() {
        let (debtor, debtor_vat_code, foreign) = pick(rng, &debtors).clone();
        let invoice_number = format!("{year}-{:05}", sequence + 1);
        let changed = office_moment(rng, invoice_date, invoice_date);
        let mut page = Row::empty(&catalog::DJ_PAGE);
        set_all(
            &mut page,
            &catalog::DJ_PAGE,
            [
                ("DJ_CODE", Value::text("VRK")),
                ("SUB_NR", Value::text(&debtor)),
                ("INV_NR", Value::text(&invoice_number)),
                ("TRN_DATE", Value::Date(Some(invoice_date))),
                ("HDR_DESC", Value::text(format!("Factuur {invoice_number}"))),
                ("CUR_CODE", Value::text(catalog::BASE_CURRENCY)),
            ],
        );
        let cost_centre = *pick(rng, &cost_centres);
        let mut lines = Vec::new();
        for _ in 0..rng.random_range(1..=4) {
            let (description, price, article_vat_code) = pick(rng, &articles).clone();
            let quantity = rng.random_range(1..=8i64);
            // Reverse-charge debtors get every line verlegd; others follow the article's VAT code.
            let vat_code = if debtor_vat_code == "3" {
                "3".to_owned()
            } else {
                article_vat_code
            };
            let (percentage, reverse) = percentages
                .iter()
                .find(|(code, _, _)| *code == vat_code)
                .map(|(_, percentage, reverse)| (*percentage, *reverse))
                .unwrap_or((0, false));
            let amount = price * quantity;
            let vat_amount = if reverse { 0 } else { vat_on(amount, percentage) };
            let mut line = Row::empty(&catalog::DJ_LINE);
            set_all(
                &mut line,
                &catalog::DJ_LINE,
                [
                    ("ACCT_NR", Value::text(revenue_account(&vat_code, foreign))),
                    ("AMOUNT", Value::Number(amount)),
                    ("BASE_AMT", Value::Number(amount)),
                    ("VAT_CODE", Value::text(&vat_code)),
                    ("VAT_AMT", Value::Number(vat_amount)),
                    (
                        "TRN_DESC",
                        Value::text(truncate(&format!("{quantity} x {description}"), 40)),
                    ),
                    ("COST_CODE", Value::text(cost_centre)),
                ],
            );
            lines.push(line);
        }
        let total: i64 = lines
            .iter()
            .map(|line| {
                line.field(&catalog::DJ_LINE, "AMOUNT").as_number()
                    + line.field(&catalog::DJ_LINE, "VAT_AMT").as_number()
            })
            .sum();
        administration.book_sales_invoice(page, lines, changed);

        // Older invoices are mostly paid, some in part; the youngest are still open.
        let payment_date = invoice_date + Duration::days(rng.random_range(7..45));
        if payment_date > last_day {
            continue;
        }
        let outcome = rng.random_range(0..100);
        let paid = match outcome {
            0..=74 => total,
            75..=84 => round_to_cents(total as i128 / 2) as i64,
            _ => continue,
        };
        let statement = format!("AFS{}-{:02}", payment_date.year(), payment_date.iso_week().week());
        let payment_changed = office_moment(rng, payment_date, payment_date);
        administration.book_payment(crate::books::Payment {
            sub_nr: &debtor,
            inv_nr: &invoice_number,
            amount: paid,
            date: payment_date,
            statement: &statement,
            changed: payment_changed,
        });
    }
}

/// VAT on a scaled amount for a scaled percentage, rounded to cents half away from zero.
pub fn vat_on(amount: i64, percentage: i64) -> i64 {
    // Both inputs carry NUMBER_SCALE. VAT in cents = amount × percentage / 100 (percent) × 100 (cents),
    // so the cent count is simply the product over NUMBER_SCALE².
    let product = amount as i128 * percentage as i128;
    let per_cent = NUMBER_SCALE as i128 * NUMBER_SCALE as i128;
    let cents = (2 * product.abs() + per_cent) / (2 * per_cent);
    let signed_cents = if product < 0 { -cents } else { cents };
    (signed_cents * (NUMBER_SCALE / 100) as i128) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vat_rounds_half_away_from_zero() {
        // 21% of 10.05 = 2.1105 → 2.11; 9% of 0.50 = 0.045 → 0.05; negative mirrors positive.
        assert_eq!(vat_on(100_500, 210_000), 21_100);
        assert_eq!(vat_on(5_000, 90_000), 500);
        assert_eq!(vat_on(-5_000, 90_000), -500);
    }

    #[test]
    fn debtor_numbers_keep_one_width() {
        assert_eq!(first_debtor_number(200), 10_001);
        assert_eq!(first_debtor_number(9_999), 10_001);
        assert_eq!(first_debtor_number(10_000), 100_001);
        assert_eq!(first_debtor_number(100_000), 1_000_001);
    }
}
