//! The feed's query path against the reference evaluator: random `$filter` and `$orderby`
//! expressions over every entity set's columns (nulls, accented and mixed-case text, `'` in
//! strings, decimals at their scale limits, dates and instants with offsets) must select exactly
//! the reference's rows in the reference's order, on SQLite and on PostgreSQL.

use crate::reference;
use crate::support::create;
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};
use koppel_datasync::feed::{ColumnKind, FeedSet, feed};
use koppel_datasync::query::plan;
use koppel_datasync::rows::ReportingRead;
use koppel_domain::AdministrationId;
use koppel_domain::record::Value as StoredValue;
use koppel_domain::resources::{MATERIALS, RELATIONS};
use koppel_odata::{ArithmeticOp, CompareOp, Decimal, Direction, EdmType, Expr, Function, Literal, QueryOptions};
use koppel_store::Store;
use koppel_test_support::TestDatabase;
use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::json;
use std::sync::Arc;

/// Cases per backend: enough to meet every set and operator many times, in seconds.
const CASES: u32 = 400;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Ty {
    Bool,
    Num,
    Text,
    Date,
    Instant,
}

/// The columns of one set by type, and values found in its rows (so literals often match).
#[derive(Debug)]
struct Columns {
    set: usize,
    of: Vec<(String, Ty)>,
    texts: Vec<String>,
    numbers: Vec<Literal>,
    dates: Vec<NaiveDate>,
    instants: Vec<DateTime<Utc>>,
}

impl Columns {
    fn of_type(&self, ty: Ty) -> Vec<String> {
        self.of
            .iter()
            .filter(|(_, column_type)| *column_type == ty)
            .map(|(name, _)| name.clone())
            .collect()
    }
}

fn columns(index: usize, set: &FeedSet, rows: &[Vec<StoredValue>]) -> Columns {
    let (mut texts, mut numbers, mut dates, mut instants) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for row in rows.iter().take(40) {
        for (column, value) in set.columns.iter().zip(row) {
            match (value, column.kind) {
                (StoredValue::Text(text), _) => texts.push(text.clone()),
                (StoredValue::Integer(units), ColumnKind::Scaled { scale }) => {
                    numbers.push(Literal::Decimal(Decimal::new(i128::from(*units), i32::from(scale))));
                }
                (StoredValue::Integer(value), _) => numbers.push(Literal::Int(*value)),
                (StoredValue::Date(date), _) => dates.push(*date),
                (StoredValue::Timestamp(instant), _) => instants.push(*instant),
                _ => {}
            }
        }
    }
    // Lower- and upper-cased variants, so that `tolower(Name) eq '…'` finds rows.
    let variants: Vec<String> = texts
        .iter()
        .flat_map(|text| [text.to_lowercase(), text.to_uppercase()])
        .collect();
    texts.extend(variants);
    texts.sort();
    texts.dedup();
    texts.push("x".to_string());
    numbers.push(Literal::Int(1));
    dates.push(NaiveDate::from_ymd_opt(2025, 1, 1).unwrap());
    instants.push(Utc.timestamp_opt(1_750_000_000, 0).unwrap());
    Columns {
        set: index,
        texts,
        numbers,
        dates,
        instants,
        of: set
            .columns
            .iter()
            .map(|column| {
                let ty = match (column.edm_type, column.kind) {
                    (_, ColumnKind::Scaled { .. }) => Ty::Num,
                    (EdmType::Boolean, _) => Ty::Bool,
                    (EdmType::String, _) => Ty::Text,
                    (EdmType::Date, _) => Ty::Date,
                    (EdmType::DateTimeOffset, _) => Ty::Instant,
                    _ => Ty::Num,
                };
                (column.property.clone(), ty)
            })
            .collect(),
    }
}

fn lit(literal: Literal) -> Expr {
    Expr::Literal(literal)
}

fn call(function: Function, args: Vec<Expr>) -> Expr {
    Expr::Call { function, args }
}

/// Text from the rows, or with accents, mixed case, quotes, blanks and the letters the rows use.
fn text_literal(columns: &Columns) -> BoxedStrategy<Expr> {
    prop_oneof![
        prop::sample::select(columns.texts.clone()).prop_map(|text| lit(Literal::String(text))),
        proptest::collection::vec(
            prop::sample::select(vec![
                "a", "É", "é", "ß", "Æ", "ø", "'", " ", "L", "n", "0", "x", "C", "-"
            ]),
            0..5
        )
        .prop_map(|parts| lit(Literal::String(parts.concat()))),
        prop::sample::select(vec![
            "élan café ærø strasse",
            "ÉLAN CAFÉ ÆRØ STRASSE",
            "ÉLAN Café Ærø Straße",
            "O'Brien",
            "NL000",
            "",
            "M1",
        ])
        .prop_map(|text| lit(Literal::String(text.to_string()))),
    ]
    .boxed()
}

fn number_literal(columns: &Columns) -> BoxedStrategy<Expr> {
    prop_oneof![
        prop::sample::select(columns.numbers.clone()).prop_map(lit),
        (-3_i64..30).prop_map(|value| lit(Literal::Int(value))),
        (-200_000_i128..200_000, 0_i32..5)
            .prop_map(|(mantissa, scale)| lit(Literal::Decimal(Decimal::new(mantissa, scale)))),
        prop::sample::select(vec![0_i64, 1, 100, 1_000_000]).prop_map(|value| lit(Literal::Int(value))),
    ]
    .boxed()
}

fn date_literal(columns: &Columns) -> BoxedStrategy<Expr> {
    prop_oneof![
        prop::sample::select(columns.dates.clone()).prop_map(|date| lit(Literal::Date(date))),
        (2020_i32..2030, 1_u32..13, 1_u32..29)
            .prop_map(|(year, month, day)| lit(Literal::Date(NaiveDate::from_ymd_opt(year, month, day).unwrap()))),
    ]
    .boxed()
}

fn instant_literal(columns: &Columns) -> BoxedStrategy<Expr> {
    let seen = columns.instants.clone();
    (0_usize..seen.len() * 2, 0_i64..400_000_000, -12_i32..13, 0_u32..2)
        .prop_map(move |(pick, seconds, offset_hours, micros)| {
            let instant: DateTime<Utc> = seen
                .get(pick)
                .copied()
                .unwrap_or_else(|| Utc.timestamp_opt(1_700_000_000 + seconds, micros * 500_000).unwrap());
            // Written with an offset, as a client would; the parser normalises it to UTC.
            let offset = FixedOffset::east_opt(offset_hours * 3600).unwrap();
            let text = instant
                .with_timezone(&offset)
                .format("%Y-%m-%dT%H:%M:%S%.f%:z")
                .to_string();
            koppel_odata::filter::parse(&text).expect("an instant literal")
        })
        .boxed()
}

fn time_literal() -> BoxedStrategy<Expr> {
    (0_u32..24, 0_u32..60, 0_u32..60, 0_u32..3)
        .prop_map(|(hour, minute, second, half)| {
            lit(Literal::TimeOfDay(
                NaiveTime::from_hms_micro_opt(hour, minute, second, half * 250_000).unwrap(),
            ))
        })
        .boxed()
}

/// A leaf of a type: one of the set's columns of that type, or a literal.
fn leaf(columns: &Columns, ty: Ty, literal: BoxedStrategy<Expr>) -> BoxedStrategy<Expr> {
    let names = columns.of_type(ty);
    if names.is_empty() {
        return literal;
    }
    prop_oneof![
        10 => prop::sample::select(names).prop_map(Expr::Property),
        6 => literal,
        1 => Just(lit(Literal::Null)),
    ]
    .boxed()
}

fn text_expr(columns: &Arc<Columns>, depth: u32) -> BoxedStrategy<Expr> {
    let base = leaf(columns, Ty::Text, text_literal(columns));
    if depth == 0 {
        return base;
    }
    let inner = text_expr(columns, depth - 1);
    prop_oneof![
        8 => base,
        1 => inner.clone().prop_map(|x| call(Function::ToLower, vec![x])),
        1 => inner.clone().prop_map(|x| call(Function::ToUpper, vec![x])),
        1 => inner.clone().prop_map(|x| call(Function::Trim, vec![x])),
        1 => (inner.clone(), -1_i64..4).prop_map(|(x, start)| call(Function::Substring, vec![x, lit(Literal::Int(start))])),
        1 => (inner.clone(), 0_i64..3, -1_i64..4).prop_map(|(x, start, length)| {
            call(Function::Substring, vec![x, lit(Literal::Int(start)), lit(Literal::Int(length))])
        }),
        1 => (inner.clone(), inner).prop_map(|(x, y)| call(Function::Concat, vec![x, y])),
    ]
    .boxed()
}

fn date_expr(columns: &Arc<Columns>) -> BoxedStrategy<Expr> {
    let instant = leaf(columns, Ty::Instant, instant_literal(columns));
    prop_oneof![
        leaf(columns, Ty::Date, date_literal(columns)),
        instant.prop_map(|x| call(Function::Date, vec![x])),
    ]
    .boxed()
}

fn num_expr(columns: &Arc<Columns>, depth: u32) -> BoxedStrategy<Expr> {
    let base = leaf(columns, Ty::Num, number_literal(columns));
    if depth == 0 {
        return base;
    }
    let inner = num_expr(columns, depth - 1);
    let text = text_expr(columns, depth - 1);
    let instant = leaf(columns, Ty::Instant, instant_literal(columns));
    let date = date_expr(columns);
    prop_oneof![
        10 => base,
        3 => (prop::sample::select(ArithmeticOp::ALL.to_vec()), inner.clone(), inner.clone())
            .prop_map(|(op, x, y)| Expr::arithmetic(op, x, y)),
        1 => inner.clone().prop_map(|x| Expr::Negate(Box::new(x))),
        1 => (prop::sample::select(vec![Function::Round, Function::Floor, Function::Ceiling]), inner)
            .prop_map(|(function, x)| call(function, vec![x])),
        1 => text.clone().prop_map(|x| call(Function::Length, vec![x])),
        1 => (text.clone(), text).prop_map(|(x, y)| call(Function::IndexOf, vec![x, y])),
        1 => (prop::sample::select(vec![Function::Year, Function::Month, Function::Day]), date)
            .prop_map(|(function, x)| call(function, vec![x])),
        1 => (
            prop::sample::select(vec![Function::Hour, Function::Minute, Function::Second, Function::FractionalSeconds]),
            instant
        )
            .prop_map(|(function, x)| call(function, vec![x])),
    ]
    .boxed()
}

fn comparison(columns: &Arc<Columns>, depth: u32) -> BoxedStrategy<Expr> {
    let op = prop::sample::select(CompareOp::ALL.to_vec());
    let instant = leaf(columns, Ty::Instant, instant_literal(columns));
    let time = prop_oneof![
        instant.clone().prop_map(|x| call(Function::Time, vec![x])),
        time_literal()
    ];
    let mut arms: Vec<(u32, BoxedStrategy<Expr>)> = vec![
        (
            1,
            (op.clone(), num_expr(columns, depth), num_expr(columns, depth))
                .prop_map(|(op, x, y)| Expr::compare(op, x, y))
                .boxed(),
        ),
        (
            1,
            (op.clone(), text_expr(columns, depth), text_expr(columns, depth))
                .prop_map(|(op, x, y)| Expr::compare(op, x, y))
                .boxed(),
        ),
        (
            1,
            (op.clone(), date_expr(columns), date_expr(columns))
                .prop_map(|(op, x, y)| Expr::compare(op, x, y))
                .boxed(),
        ),
        (
            1,
            (op.clone(), time.clone(), time)
                .prop_map(|(op, x, y)| Expr::compare(op, x, y))
                .boxed(),
        ),
        (
            1,
            (
                prop::sample::select(vec![Function::Contains, Function::StartsWith, Function::EndsWith]),
                text_expr(columns, depth),
                text_expr(columns, depth),
            )
                .prop_map(|(function, x, y)| call(function, vec![x, y]))
                .boxed(),
        ),
    ];
    // Most comparisons start from a column of the set, against a value of its rows.
    for (ty, literal) in [
        (Ty::Num, number_literal(columns)),
        (Ty::Text, text_literal(columns)),
        (Ty::Date, date_literal(columns)),
        (Ty::Instant, instant_literal(columns)),
    ] {
        let names = columns.of_type(ty);
        if names.is_empty() {
            continue;
        }
        let column = prop::sample::select(names).prop_map(Expr::Property);
        let other = prop_oneof![8 => literal.clone(), 1 => Just(lit(Literal::Null))];
        arms.push((
            6,
            (op.clone(), column.clone(), other.clone())
                .prop_map(|(op, x, y)| Expr::compare(op, x, y))
                .boxed(),
        ));
        if ty == Ty::Text {
            let cased = (
                prop::sample::select(vec![Function::ToLower, Function::ToUpper, Function::Trim]),
                column.clone(),
            )
                .prop_map(|(function, x)| call(function, vec![x]));
            arms.push((
                3,
                (op.clone(), cased, other.clone())
                    .prop_map(|(op, x, y)| Expr::compare(op, x, y))
                    .boxed(),
            ));
        }
        arms.push((
            2,
            (column, proptest::collection::vec(other, 0..4))
                .prop_map(|(value, list)| Expr::In {
                    value: Box::new(value),
                    list,
                })
                .boxed(),
        ));
    }
    proptest::strategy::Union::new_weighted(arms).boxed()
}

fn bool_expr(columns: &Arc<Columns>, depth: u32) -> BoxedStrategy<Expr> {
    let base = prop_oneof![
        4 => comparison(columns, depth.min(1)),
        1 => leaf(columns, Ty::Bool, any::<bool>().prop_map(|value| lit(Literal::Boolean(value))).boxed()),
    ]
    .boxed();
    if depth == 0 {
        return base;
    }
    let inner = bool_expr(columns, depth - 1);
    prop_oneof![
        4 => base,
        2 => inner.clone().prop_map(Expr::not),
        1 => (inner.clone(), inner.clone()).prop_map(|(x, y)| Expr::and(x, y)),
        1 => (inner.clone(), inner).prop_map(|(x, y)| Expr::or(x, y)),
    ]
    .boxed()
}

fn order_item(columns: &Arc<Columns>) -> BoxedStrategy<(Expr, Direction)> {
    let direction = prop_oneof![Just(Direction::Asc), Just(Direction::Desc)];
    let expr = prop_oneof![
        3 => prop::sample::select(columns.of.iter().map(|(name, _)| name.clone()).collect::<Vec<_>>()).prop_map(Expr::Property),
        1 => num_expr(columns, 1),
        1 => text_expr(columns, 1),
        1 => bool_expr(columns, 0),
    ];
    (expr, direction).boxed()
}

/// A query: which set, an optional filter, up to two order items.
fn query(all: Vec<Arc<Columns>>) -> BoxedStrategy<(usize, QueryOptions)> {
    prop::sample::select(all)
        .prop_flat_map(|columns| {
            let set = columns.set;
            (
                proptest::option::weighted(0.9, bool_expr(&columns, 2)),
                proptest::collection::vec(order_item(&columns), 0..3),
            )
                .prop_map(move |(filter, orderby)| {
                    (
                        set,
                        QueryOptions {
                            filter,
                            orderby,
                            ..QueryOptions::default()
                        },
                    )
                })
        })
        .boxed()
}

/// Rows that exercise the rules: accents and case, quotes, nulls, decimals at their limits.
async fn edge_rows(store: &Store, administration: AdministrationId) {
    for (code, name, vat, blocked) in [
        ("E1", "ÉLAN Café Ærø Straße", Some("NL000"), Some(true)),
        ("E2", "élan café ærø strasse", None, None),
        ("E3", "O'Brien  ", Some("nl000"), Some(false)),
        ("E4", " Ærø", None, Some(true)),
    ] {
        let mut body = json!({"code": code, "name": name, "kind": "company"});
        if let Some(vat) = vat {
            body["vat_number"] = json!(vat);
        }
        if let Some(blocked) = blocked {
            body["blocked"] = json!(blocked);
        }
        create(store, administration, &RELATIONS, body).await;
    }
    for (code, description, price) in [
        ("M1", "Straße 'oben'", "0.01"),
        ("M2", "ÉCROU", "-0.01"),
        ("M3", "écrou", "99999999.99"),
        ("M4", "x", "0"),
    ] {
        create(
            store,
            administration,
            &MATERIALS,
            json!({"code": code, "description": description, "unit": "stuk", "price": price, "vat_rate": "21"}),
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_query_path_selects_and_orders_exactly_what_the_reference_does() {
    for db in TestDatabase::all().await {
        let store = db.store();
        let summary = koppel_demo::seed(store, &koppel_demo::DemoOptions::scaled(12))
            .await
            .expect("seed");
        let administration = summary.administrations[0].id;
        edge_rows(store, administration).await;
        koppel_datasync::engine::run(store, administration, &Default::default())
            .await
            .expect("sync");
        let sync = koppel_datasync::state::read(store, administration)
            .await
            .expect("state")
            .current_sync;
        let sets = &feed().sets;
        let mut all_rows = Vec::new();
        for set in sets {
            let columns: Vec<_> = set.columns.iter().map(|c| (c.column, c.storage)).collect();
            let read = ReportingRead {
                administration,
                source: set.source,
                sync,
                columns: &columns,
                filter: &[],
                order: &[],
                after_key: None,
                offset: 0,
                limit: 1_000_000,
            };
            all_rows.push(koppel_datasync::rows::fetch(store, &read).await.expect("rows"));
        }
        let empty: Vec<&str> = sets
            .iter()
            .zip(&all_rows)
            .filter(|(_, rows)| rows.is_empty())
            .map(|(set, _)| set.name)
            .collect();
        assert!(empty.len() <= 2, "the data should fill the sets, empty: {empty:?}");

        let strategy = query(
            sets.iter()
                .enumerate()
                .map(|(index, set)| Arc::new(columns(index, set, &all_rows[index])))
                .collect(),
        );
        let mut runner = TestRunner::new(Config {
            cases: CASES,
            failure_persistence: None,
            ..Config::default()
        });
        let handle = tokio::runtime::Handle::current();
        let refused = std::cell::Cell::new(0_u32);
        let result = runner.run(&strategy, |(index, options)| {
            let set = &sets[index];
            let plan = match plan(set, &options, store.backend()) {
                Ok(plan) => plan,
                Err(error) => {
                    // Only numbers too large or too precise to compute exactly may be refused, with a 400.
                    prop_assert_eq!(error.status_code(), 400, "{}: {}", set.name, error);
                    refused.set(refused.get() + 1);
                    return Ok(());
                }
            };
            let columns: Vec<_> = set.columns.iter().map(|c| (c.column, c.storage)).collect();
            let read = ReportingRead {
                administration,
                source: set.source,
                sync,
                columns: &columns,
                filter: &plan.filter,
                order: &plan.order,
                after_key: None,
                offset: 0,
                limit: 1_000_000,
            };
            let (rows, count) = tokio::task::block_in_place(|| {
                handle.block_on(async {
                    (
                        koppel_datasync::rows::fetch(store, &read).await,
                        koppel_datasync::rows::count(store, &read).await,
                    )
                })
            });
            let rows = rows.map_err(|error| TestCaseError::fail(format!("{}: {error}", set.name)))?;
            let count = count.map_err(|error| TestCaseError::fail(format!("{}: {error}", set.name)))?;
            let got: Vec<i64> = rows.iter().map(|row| row[0].as_i64().unwrap()).collect();
            let expected = reference::select(set, &all_rows[index], options.filter.as_ref(), &options.orderby);
            let filter_text = options.filter.as_ref().map(ToString::to_string).unwrap_or_default();
            let order_text: Vec<String> = options
                .orderby
                .iter()
                .map(|(expr, direction)| format!("{expr} {direction:?}"))
                .collect();
            prop_assert_eq!(
                &got,
                &expected,
                "{} on {}: $filter={} $orderby={:?}",
                set.name,
                store.backend().name(),
                filter_text,
                order_text
            );
            prop_assert_eq!(count, i64::try_from(expected.len()).unwrap());
            if std::env::var("SEMANTICS_DEBUG").is_ok() {
                eprintln!(
                    "{} {}/{} $filter={filter_text} {order_text:?}",
                    set.name,
                    expected.len(),
                    all_rows[index].len()
                );
            }
            Ok(())
        });
        if let Err(error) = result {
            panic!("{error}");
        }
        let refused = refused.get();
        println!(
            "{}: {CASES} random queries, {refused} refused as too large to compute exactly",
            store.backend().name()
        );
        assert!(refused < CASES / 4, "too many refused: {refused}");
        db.cleanup().await;
    }
}
