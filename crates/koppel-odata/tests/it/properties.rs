//! Seeded random tests: the parsers never panic, and printing an expression parses back to it.
//!
//! The seeds are fixed so a failure reproduces; each failure message carries the input.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use koppel_odata::filter::parse;
use koppel_odata::{ArithmeticOp, CompareOp, Decimal, Expr, Function, Literal, check_filter, parse_query};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

use crate::support::invoice_type;

const SEEDS: std::ops::Range<u64> = 0..4;
const ROUNDS_PER_SEED: usize = 1500;

/// Characters that matter to the grammar, plus some that do not.
const ALPHABET: &[char] = &[
    ' ', '\t', '(', ')', ',', '\'', '"', '$', '@', '/', ':', '.', '-', '+', '%', '&', '=', '[', ']', '{', '}', '*',
    'e', 'q', 'n', 'o', 't', 'a', 'd', 'r', 'Z', 'T', '0', '1', '2', '9', '_', 'é', '€', '\u{0}', '\u{202e}', '😀',
];

const VALID_FILTERS: &[&str] = &[
    "ModifiedAt ge 2021-02-03T00:00:00+01:00 and ModifiedAt lt 2021-02-04T00:00:00+01:00",
    "contains(tolower(CustomerName),'o''b') or Amount gt 10.50",
    "not (Paid eq true) and year(DueDate) eq 2024",
    "(Id eq 1 or Id eq 2 or Id eq 3) and Number ne null",
    "startswith(Number,'24') and Hours le -1.5e2 and Lines lt 9223372036854775807",
    "DueDate ge -0001-01-01 and ModifiedAt eq 1972-06-30T23:59:60.5Z",
];

fn random_text(rng: &mut StdRng) -> String {
    let length = rng.random_range(0..40);
    (0..length)
        .map(|_| {
            if rng.random_bool(0.8) {
                *ALPHABET.choose(rng).unwrap()
            } else {
                rng.random::<char>()
            }
        })
        .collect()
}

/// Random bytes written as a query string: printable ASCII raw, everything else percent-encoded,
/// so decoding yields arbitrary (often invalid UTF-8) bytes.
fn random_query(rng: &mut StdRng) -> String {
    let length = rng.random_range(0..60);
    let mut query = String::new();
    if rng.random_bool(0.5) {
        query.push_str(
            ["$filter=", "%24filter=", "$orderby=", "$select=", "$top=", "filter="]
                .choose(rng)
                .unwrap(),
        );
    }
    for _ in 0..length {
        let byte: u8 = if rng.random_bool(0.5) {
            *b"$&=%+ ()',/x0".choose(rng).unwrap()
        } else {
            rng.random()
        };
        if byte.is_ascii_graphic() && rng.random_bool(0.7) {
            query.push(byte as char);
        } else {
            query.push_str(&format!("%{byte:02X}"));
        }
    }
    query
}

fn mutate(rng: &mut StdRng, text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for _ in 0..rng.random_range(1..=4) {
        let position = rng.random_range(0..=chars.len());
        match rng.random_range(0..4) {
            0 => chars.insert(position, *ALPHABET.choose(rng).unwrap()),
            1 if position < chars.len() => {
                chars.remove(position);
            }
            2 if position < chars.len() => chars[position] = *ALPHABET.choose(rng).unwrap(),
            _ => {
                let end = rng.random_range(position..=chars.len().min(position + 8));
                let slice: Vec<char> = chars[position..end].to_vec();
                chars.splice(position..position, slice);
            }
        }
    }
    chars.into_iter().collect()
}

/// Parses, and when that succeeds checks that printing round-trips and type checking does not panic.
fn parse_and_round_trip(text: &str) {
    if let Ok(expr) = parse(text) {
        let printed = expr.to_string();
        let reparsed = parse(&printed).unwrap_or_else(|error| panic!("{text:?} printed as {printed:?}: {error}"));
        assert_eq!(reparsed, expr, "{text:?} printed as {printed:?}");
        let _ = check_filter(&expr, &invoice_type());
    }
}

#[test]
fn random_text_and_bytes_never_panic() {
    for seed in SEEDS {
        let mut rng = StdRng::seed_from_u64(seed);
        for _ in 0..ROUNDS_PER_SEED {
            parse_and_round_trip(&random_text(&mut rng));
            let query = random_query(&mut rng);
            if let Ok(options) = parse_query(&query) {
                let _ = koppel_odata::check_query(&options, &invoice_type());
            }
        }
    }
}

#[test]
fn mutated_valid_filters_never_panic_and_round_trip_when_they_parse() {
    for filter in VALID_FILTERS {
        parse(filter).unwrap_or_else(|error| panic!("{filter}: {error}"));
    }
    for seed in SEEDS {
        let mut rng = StdRng::seed_from_u64(seed);
        for _ in 0..ROUNDS_PER_SEED {
            let original = VALID_FILTERS.choose(&mut rng).unwrap();
            let mutated = mutate(&mut rng, original);
            parse_and_round_trip(&mutated);
            let _ = parse_query(&format!("$filter={mutated}"));
        }
    }
}

fn random_literal(rng: &mut StdRng) -> Literal {
    match rng.random_range(0..7) {
        0 => Literal::Null,
        1 => Literal::Boolean(rng.random()),
        2 => Literal::Int(if rng.random_bool(0.5) {
            rng.random()
        } else {
            rng.random_range(-100..100)
        }),
        3 => {
            let mantissa = rng.random_range(-(10i128.pow(38) - 1)..10i128.pow(38));
            let mantissa = if rng.random_bool(0.5) {
                mantissa % 100_000
            } else {
                mantissa
            };
            Literal::Decimal(Decimal::new(mantissa, rng.random_range(-60..60)))
        }
        4 => {
            let length = rng.random_range(0..12);
            let pool = ['\'', '\'', ' ', 'a', 'Z', '%', '+', '&', '"', '(', 'é', '\u{0}', '😀'];
            Literal::String((0..length).map(|_| *pool.choose(rng).unwrap()).collect())
        }
        5 => Literal::Date(random_date(rng)),
        _ => {
            let nanos = if rng.random_bool(0.5) {
                0
            } else {
                rng.random_range(0..1_000_000_000)
            };
            let time = if rng.random_bool(0.05) {
                // A leap second, which chrono represents as second 59 with extra nanoseconds.
                NaiveTime::from_hms_nano_opt(23, 59, 59, 1_000_000_000 + nanos).unwrap()
            } else {
                NaiveTime::from_num_seconds_from_midnight_opt(rng.random_range(0..86_400), nanos).unwrap()
            };
            let instant: DateTime<Utc> = Utc.from_utc_datetime(&random_date(rng).and_time(time));
            Literal::DateTimeOffset(instant)
        }
    }
}

fn random_date(rng: &mut StdRng) -> NaiveDate {
    let year = if rng.random_bool(0.8) {
        rng.random_range(1900..2100)
    } else {
        rng.random_range(-262_000..262_000)
    };
    NaiveDate::from_yo_opt(year, rng.random_range(1..=365)).unwrap()
}

const PROPERTY_NAMES: &[&str] = &[
    "Id",
    "Amount",
    "ModifiedAt",
    "Größe",
    "_x1",
    "Contains",
    "Name_2",
    "ne0",
];

fn random_expr(rng: &mut StdRng, depth: u32) -> Expr {
    let leaf = depth == 0 || rng.random_bool(0.25);
    if leaf {
        return if rng.random_bool(0.5) {
            Expr::property(*PROPERTY_NAMES.choose(rng).unwrap())
        } else {
            Expr::Literal(random_literal(rng))
        };
    }
    match rng.random_range(0..8) {
        0 => Expr::not(random_expr(rng, depth - 1)),
        1 => Expr::and(random_expr(rng, depth - 1), random_expr(rng, depth - 1)),
        2 => Expr::or(random_expr(rng, depth - 1), random_expr(rng, depth - 1)),
        3 => Expr::compare(
            *CompareOp::ALL.choose(rng).unwrap(),
            random_expr(rng, depth - 1),
            random_expr(rng, depth - 1),
        ),
        4 => Expr::arithmetic(
            *ArithmeticOp::ALL.choose(rng).unwrap(),
            random_expr(rng, depth - 1),
            random_expr(rng, depth - 1),
        ),
        5 => Expr::Negate(Box::new(random_expr(rng, depth - 1))),
        6 => Expr::In {
            value: Box::new(random_expr(rng, depth - 1)),
            list: (0..rng.random_range(0..3))
                .map(|_| Expr::Literal(random_literal(rng)))
                .collect(),
        },
        _ => {
            let function = *Function::ALL.choose(rng).unwrap();
            let (fewest, most) = function.arity();
            let count = rng.random_range(fewest..=most);
            let args = (0..count).map(|_| random_expr(rng, depth - 1)).collect();
            Expr::Call { function, args }
        }
    }
}

#[test]
fn printed_expressions_parse_back_to_the_same_tree() {
    for seed in SEEDS {
        let mut rng = StdRng::seed_from_u64(seed);
        for _ in 0..ROUNDS_PER_SEED {
            let expr = random_expr(&mut rng, 5);
            let printed = expr.to_string();
            let reparsed = parse(&printed).unwrap_or_else(|error| panic!("{expr:?} printed as {printed:?}: {error}"));
            assert_eq!(reparsed, expr, "printed as {printed:?}");
        }
    }
}
