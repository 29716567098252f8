//! Dutch words the generators draw from: names, streets, cities with their real postal-code ranges,
//! installations, materials and the texts technicians write on work orders.
//!
//! E-mail addresses end in the reserved `.example` top-level domain so no generated address can
//! reach a real mailbox, whatever a demo user does with it.

use rand::Rng;
use rand::seq::IndexedRandom;

pub const FIRST_NAMES: &[&str] = &[
    "Jan", "Pieter", "Kees", "Willem", "Henk", "Joost", "Bas", "Sander", "Thijs", "Daan", "Lars", "Ruben", "Sem",
    "Luuk", "Gerrit", "Hendrik", "Maarten", "Roel", "Wouter", "Jeroen", "Bram", "Niels", "Stijn", "Koen", "Anna",
    "Sanne", "Lotte", "Emma", "Femke", "Ingrid", "Marieke", "Esther", "Annelies", "Noor", "Eva", "Mila", "Tess",
    "Fleur", "Ilse", "Karin", "Marloes", "Linda", "Petra", "Wilma", "Yvonne", "Nienke", "Saskia", "Anouk",
];

pub const SURNAMES: &[&str] = &[
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
    "Janssen",
    "Schouten",
    "van Dam",
    "Willems",
    "Hoekstra",
    "Koster",
    "Prins",
    "Blom",
    "Huisman",
    "Kuipers",
    "van Wijk",
    "Postma",
    "Timmermans",
    "Verhoeven",
    "van Beek",
    "Groen",
];

pub const STREETS: &[&str] = &[
    "Kerkstraat",
    "Dorpsstraat",
    "Schoolstraat",
    "Molenweg",
    "Stationsweg",
    "Julianastraat",
    "Beatrixlaan",
    "Wilhelminastraat",
    "Oranjelaan",
    "Lindenlaan",
    "Eikenlaan",
    "Berkenlaan",
    "Kastanjelaan",
    "Prinses Irenestraat",
    "Vondellaan",
    "Rembrandtlaan",
    "Hoofdstraat",
    "Parallelweg",
    "Industrieweg",
    "Edisonweg",
    "Marconistraat",
    "Nieuwe Gracht",
    "Burgemeester Reigerstraat",
    "Koningin Emmalaan",
    "Sportlaan",
    "Tulpstraat",
    "Rozenstraat",
    "Merelstraat",
    "Spoorstraat",
    "Havenweg",
    "Veldweg",
    "Zandweg",
];

/// A place with its real four-digit postal-code range and telephone area code.
#[derive(Debug, Clone, Copy)]
pub struct City {
    pub name: &'static str,
    pub postal_from: u32,
    pub postal_to: u32,
    pub area_code: &'static str,
}

const fn city(name: &'static str, postal_from: u32, postal_to: u32, area_code: &'static str) -> City {
    City {
        name,
        postal_from,
        postal_to,
        area_code,
    }
}

/// Around the group's head office in Nieuwegein.
pub const CITIES_NIEUWEGEIN: &[City] = &[
    city("Nieuwegein", 3430, 3439, "030"),
    city("Houten", 3990, 3995, "030"),
    city("IJsselstein", 3400, 3404, "030"),
    city("Vianen", 4130, 4133, "0347"),
    city("Utrecht", 3511, 3585, "030"),
];
pub const CITIES_UTRECHT: &[City] = &[
    city("Utrecht", 3511, 3585, "030"),
    city("Maarssen", 3601, 3607, "0346"),
    city("De Bilt", 3731, 3732, "030"),
    city("Bilthoven", 3720, 3723, "030"),
    city("Zeist", 3701, 3709, "030"),
    city("Bunnik", 3981, 3981, "030"),
];
pub const CITIES_AMERSFOORT: &[City] = &[
    city("Amersfoort", 3811, 3829, "033"),
    city("Leusden", 3831, 3835, "033"),
    city("Soest", 3760, 3768, "035"),
    city("Baarn", 3740, 3744, "035"),
    city("Nijkerk", 3861, 3864, "033"),
];
pub const CITIES_ZWOLLE: &[City] = &[
    city("Zwolle", 8011, 8046, "038"),
    city("Kampen", 8261, 8266, "038"),
    city("Hattem", 8051, 8051, "038"),
    city("Dalfsen", 7721, 7722, "0529"),
    city("Heino", 8141, 8141, "0572"),
    city("Genemuiden", 8281, 8281, "038"),
];

/// Letters a Dutch postal code may use; SA, SD and SS are never issued, so S is left out altogether.
const POSTAL_LETTERS: &[u8] = b"ABCDEGHJKLMNPRTVWXZ";

pub fn postal_code(rng: &mut impl Rng, city: &City) -> String {
    let digits = rng.random_range(city.postal_from..=city.postal_to);
    let first = POSTAL_LETTERS[rng.random_range(0..POSTAL_LETTERS.len())] as char;
    let second = POSTAL_LETTERS[rng.random_range(0..POSTAL_LETTERS.len())] as char;
    format!("{digits} {first}{second}")
}

pub fn house_number(rng: &mut impl Rng) -> String {
    let number = rng.random_range(1..=180);
    match rng.random_range(0..10) {
        0 => format!("{number}a"),
        1 => format!("{number}-{}", rng.random_range(1..=3)),
        _ => number.to_string(),
    }
}

pub fn landline(rng: &mut impl Rng, city: &City) -> String {
    // Area code and subscriber number together always make ten digits.
    let subscriber_digits = 10 - city.area_code.len() as u32;
    let low = 2 * 10_u64.pow(subscriber_digits - 1);
    let high = 10_u64.pow(subscriber_digits) - 1;
    format!("{}-{}", city.area_code, rng.random_range(low..=high))
}

pub fn mobile(rng: &mut impl Rng) -> String {
    format!("06-{}", rng.random_range(10_000_000..=69_999_999))
}

/// Lower-case letters and digits only, for e-mail addresses.
pub fn mail_part(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == ' ' || *c == '.')
        .collect::<String>()
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join("")
}

pub fn person_email(first_name: &str, surname: &str) -> String {
    format!(
        "{}.{}@mail.example",
        mail_part(first_name),
        mail_part(surname).replace('.', "")
    )
}

/// Company names: a kind of business and whose or where it is.
pub const COMPANY_KINDS: &[&str] = &[
    "Bakkerij",
    "Autobedrijf",
    "Tandartspraktijk",
    "Huisartsenpraktijk",
    "Fysiotherapie",
    "Kapsalon",
    "Administratiekantoor",
    "Slagerij",
    "Bouwbedrijf",
    "Schildersbedrijf",
    "Hoveniersbedrijf",
    "Restaurant",
    "Makelaardij",
    "Drukkerij",
    "Transportbedrijf",
];

pub const INSTITUTIONS: &[&str] = &[
    "VvE",
    "Basisschool De Regenboog",
    "Basisschool De Wegwijzer",
    "Kinderdagverblijf Het Zonnetje",
    "Sporthal De Kamp",
    "Woonzorgcentrum De Linde",
    "Woonstichting Thuis",
    "Gemeentehuis",
    "Bibliotheek",
];

pub fn pick<'a, T>(rng: &mut impl Rng, items: &'a [T]) -> &'a T {
    items.choose(rng).expect("a non-empty list")
}

/// An installation type with its brands and models, and the work that is typically done on it.
#[derive(Debug, Clone, Copy)]
pub struct Installation {
    pub kind: &'static str,
    pub models: &'static [(&'static str, &'static str, &'static str)],
    pub work: &'static [&'static str],
}

pub const INSTALLATIONS: &[Installation] = &[
    Installation {
        kind: "CV-ketel",
        models: &[
            ("Remeha", "Calenta Ace 28c", "RH"),
            ("Remeha", "Tzerra Ace 28c", "RT"),
            ("Nefit", "EcomLine HR 30", "NE"),
            ("Nefit", "ProLine NxT 28", "NP"),
            ("Intergas", "Xtreme 36", "IX"),
            ("Intergas", "HRE 36/30", "IH"),
            ("Vaillant", "ecoTEC plus VHR 30-34", "VE"),
            ("ATAG", "i36C", "AI"),
        ],
        work: &[
            "Jaarlijks onderhoud CV-ketel",
            "Storing CV-ketel: geen warm water",
            "Storing CV-ketel: foutcode E1",
            "CV-ketel verliest druk, lekkage zoeken",
            "Rookgasanalyse en afstellen brander",
            "CV-installatie bijvullen en ontluchten",
            "Vervangen expansievat",
            "Vervangen CV-ketel",
        ],
    },
    Installation {
        kind: "Warmtepomp",
        models: &[
            ("Daikin", "Altherma 3 H HT", "DA"),
            ("Mitsubishi Electric", "Ecodan PUZ-WM85", "ME"),
            ("Vaillant", "aroTHERM plus 7 kW", "VA"),
            ("Itho Daalderop", "HP Cube", "IC"),
            ("Nibe", "F2120-12", "NF"),
        ],
        work: &[
            "Onderhoud warmtepomp",
            "Storing warmtepomp: hogedrukstoring",
            "Inregelen stooklijn warmtepomp",
            "Installatie hybride warmtepomp",
            "Controle buitenunit en condensafvoer",
        ],
    },
    Installation {
        kind: "Airco",
        models: &[
            ("Daikin", "Perfera FTXM35R", "DP"),
            ("Daikin", "Emura FTXJ25AW", "DE"),
            ("Mitsubishi Electric", "MSZ-LN35VG", "MS"),
            ("Toshiba", "Seiya RAS-B13", "TS"),
            ("LG", "Artcool AC12BK", "LA"),
        ],
        work: &[
            "Onderhoud airco en reinigen filters",
            "Airco koelt niet, koudemiddel controleren",
            "Lekdichtheidscontrole F-gassen",
            "Installatie split-unit airco",
        ],
    },
    Installation {
        kind: "Mechanische ventilatie",
        models: &[
            ("Zehnder", "ComfoAir Q350", "ZQ"),
            ("Itho Daalderop", "CVE-S ECO RFT", "IV"),
            ("Brink", "Renovent Excellent 300", "BR"),
        ],
        work: &[
            "Filters WTW-unit vervangen",
            "Ventilatiesysteem inregelen",
            "Storing mechanische ventilatie: maakt lawaai",
        ],
    },
    Installation {
        kind: "Brandblusmiddelen",
        models: &[
            ("Gloria", "Schuimblusser 6 l", "GS"),
            ("Gloria", "CO2-blusser 5 kg", "GC"),
            ("Ajax", "Poederblusser 6 kg", "AP"),
        ],
        work: &[
            "Jaarlijkse controle brandblusmiddelen (NEN 2559)",
            "Vervangen brandblusser",
            "Controle brandslanghaspels",
        ],
    },
    Installation {
        kind: "Zonnepanelen",
        models: &[
            ("SolarEdge", "SE5000H omvormer", "SE"),
            ("Enphase", "IQ8 micro-omvormers", "EN"),
            ("Growatt", "MIN 4200TL-XE", "GW"),
        ],
        work: &[
            "Omvormer geeft storing",
            "Installatie zonnepanelen",
            "Controle en reiniging zonnepanelen",
        ],
    },
];

pub fn serial_number(rng: &mut impl Rng, prefix: &str, installed_year: i32) -> String {
    format!(
        "{prefix}{}{:02}{:06}",
        installed_year % 100,
        rng.random_range(1..=52),
        rng.random_range(0..1_000_000)
    )
}

/// A material from the catalogue: code, description, unit, sales price and cost price in cents, VAT.
#[derive(Debug, Clone, Copy)]
pub struct MaterialItem {
    pub code: &'static str,
    pub description: &'static str,
    pub unit: &'static str,
    pub price_cents: i64,
    pub cost_cents: i64,
    pub vat: &'static str,
    pub group: &'static str,
}

const fn material(
    code: &'static str,
    description: &'static str,
    unit: &'static str,
    price_cents: i64,
    cost_cents: i64,
    vat: &'static str,
    group: &'static str,
) -> MaterialItem {
    MaterialItem {
        code,
        description,
        unit,
        price_cents,
        cost_cents,
        vat,
        group,
    }
}

/// Installer's stock at realistic 2026 prices. Solar panels on homes carry the 0% rate; everything
/// else the high rate.
pub const MATERIALS: &[MaterialItem] = &[
    material("CU15", "Koperen buis 15 mm", "m", 795, 512, "21", "Leidingwerk"),
    material("CU22", "Koperen buis 22 mm", "m", 1245, 820, "21", "Leidingwerk"),
    material("KN15", "Knelkoppeling recht 15 mm", "stuk", 345, 190, "21", "Fittingen"),
    material("KN22", "Knelkoppeling recht 22 mm", "stuk", 495, 280, "21", "Fittingen"),
    material("KNB15", "Knelbocht 90° 15 mm", "stuk", 395, 215, "21", "Fittingen"),
    material(
        "EXP18",
        "Expansievat 18 liter",
        "stuk",
        4950,
        2980,
        "21",
        "CV-onderdelen",
    ),
    material(
        "EXP25",
        "Expansievat 25 liter",
        "stuk",
        6450,
        3890,
        "21",
        "CV-onderdelen",
    ),
    material(
        "GRA2",
        "CV-pomp Grundfos Alpha2 25-60",
        "stuk",
        28900,
        19500,
        "21",
        "CV-onderdelen",
    ),
    material(
        "TRK",
        "Thermostatische radiatorkraan",
        "stuk",
        2495,
        1410,
        "21",
        "CV-onderdelen",
    ),
    material("ONTL", "Ontluchtingsnippel", "stuk", 195, 60, "21", "CV-onderdelen"),
    material(
        "VULS",
        "Vulslang met koppelingen",
        "stuk",
        1250,
        640,
        "21",
        "CV-onderdelen",
    ),
    material("MANO", "Manometer 0-4 bar", "stuk", 1895, 990, "21", "CV-onderdelen"),
    material(
        "OVDV",
        "Overstortventiel 3 bar",
        "stuk",
        2150,
        1180,
        "21",
        "CV-onderdelen",
    ),
    material(
        "ONTST",
        "Ontsteekelektrode (universeel)",
        "stuk",
        3495,
        1850,
        "21",
        "CV-onderdelen",
    ),
    material(
        "TSTAT",
        "Kamerthermostaat OpenTherm",
        "stuk",
        14900,
        9200,
        "21",
        "Regeltechniek",
    ),
    material("SIFON", "Condensafvoersifon", "stuk", 1695, 820, "21", "CV-onderdelen"),
    material("PVC32", "PVC afvoerbuis 32 mm", "m", 495, 230, "21", "Afvoer"),
    material(
        "KETEL28",
        "HR-combiketel 28 kW CW4",
        "stuk",
        249500,
        168000,
        "21",
        "Toestellen",
    ),
    material(
        "WPHYB",
        "Hybride warmtepomp 4 kW",
        "stuk",
        529500,
        381000,
        "21",
        "Toestellen",
    ),
    material(
        "AIRCO35",
        "Split-unit airco 3,5 kW",
        "stuk",
        189500,
        121000,
        "21",
        "Toestellen",
    ),
    material("R32", "Koudemiddel R32", "kg", 4500, 2600, "21", "Koeltechniek"),
    material(
        "LEIDAC",
        "Koelleiding 1/4\" - 3/8\" geïsoleerd",
        "m",
        1850,
        990,
        "21",
        "Koeltechniek",
    ),
    material(
        "WTWF",
        "Filterset WTW-unit G4/F7",
        "set",
        3995,
        1890,
        "21",
        "Ventilatie",
    ),
    material(
        "VENTV",
        "Ventielen afzuigpunt 125 mm",
        "stuk",
        1495,
        720,
        "21",
        "Ventilatie",
    ),
    material(
        "RM10",
        "Rookmelder 10 jaar batterij",
        "stuk",
        3495,
        1650,
        "21",
        "Brandveiligheid",
    ),
    material(
        "BLS6",
        "Schuimblusser 6 liter",
        "stuk",
        7950,
        4100,
        "21",
        "Brandveiligheid",
    ),
    material(
        "PV410",
        "Zonnepaneel 410 Wp full black",
        "stuk",
        18900,
        11200,
        "0",
        "Zonne-energie",
    ),
    material("OMV5", "Omvormer 5 kW", "stuk", 109500, 72000, "0", "Zonne-energie"),
    material(
        "KLEIN",
        "Klein materiaal (bevestiging, tape, kit)",
        "post",
        950,
        300,
        "21",
        "Diversen",
    ),
    material("LEKZ", "Lekzoekspray 400 ml", "stuk", 1295, 580, "21", "Diversen"),
];

pub const EXPORT_ERRORS: &[&str] = &[
    "AccountView: grootboekrekening 8010 bestaat niet in de gekozen administratie",
    "AccountView: debiteur is geblokkeerd",
    "AccountView: btw-code onbekend voor regel 2",
    "AccountView: het dagboek VK is gesloten voor deze periode",
];

pub const PROJECT_NAMES: &[&str] = &[
    "Nieuwbouw 24 woningen",
    "Renovatie CV-installaties",
    "Verduurzaming gemeentelijk vastgoed",
    "Vervanging ventilatie appartementencomplex",
    "Onderhoudscontract zorglocaties",
    "Aardgasvrij maken rijtjeswoningen",
    "Zonnepanelen op bedrijfshal",
];
