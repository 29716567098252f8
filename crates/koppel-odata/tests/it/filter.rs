//! `$filter` features: precedence, literals, escaping, offsets, limits and error kinds.

use chrono::{NaiveDate, TimeZone, Utc};
use koppel_odata::filter::{MAX_DEPTH, MAX_NODES, parse};
use koppel_odata::{ArithmeticOp, CompareOp, Decimal, ErrorKind, Expr, Function, Literal};

fn property(name: &str) -> Expr {
    Expr::property(name)
}

fn int(value: i64) -> Expr {
    Expr::Literal(Literal::Int(value))
}

fn string(value: &str) -> Expr {
    Expr::Literal(Literal::String(value.to_owned()))
}

fn boolean(value: bool) -> Expr {
    Expr::Literal(Literal::Boolean(value))
}

fn eq(left: Expr, right: Expr) -> Expr {
    Expr::compare(CompareOp::Eq, left, right)
}

fn literal(text: &str) -> Literal {
    match parse(text) {
        Ok(Expr::Literal(literal)) => literal,
        other => panic!("{text:?} should be a literal, got {other:?}"),
    }
}

fn error_kind(text: &str) -> ErrorKind {
    match parse(text) {
        Ok(expr) => panic!("{text:?} should be refused, parsed as {expr:?}"),
        Err(error) => error.kind(),
    }
}

#[test]
fn and_binds_tighter_than_or_and_not_tighter_than_and() {
    let parsed = parse("A eq 1 or B eq 2 and not C").unwrap();
    let expected = Expr::or(
        eq(property("A"), int(1)),
        Expr::and(eq(property("B"), int(2)), Expr::not(property("C"))),
    );
    assert_eq!(parsed, expected);
}

#[test]
fn parentheses_override_precedence() {
    let parsed = parse("(A eq 1 or B eq 2) and C").unwrap();
    let expected = Expr::and(
        Expr::or(eq(property("A"), int(1)), eq(property("B"), int(2))),
        property("C"),
    );
    assert_eq!(parsed, expected);
    assert_eq!(parsed.to_string(), "(A eq 1 or B eq 2) and C");
}

#[test]
fn not_applies_to_the_next_operand_as_the_spec_table_says() {
    // `not` is a unary operator above the comparisons in OData's precedence table.
    let parsed = parse("not A eq true").unwrap();
    assert_eq!(parsed, eq(Expr::not(property("A")), boolean(true)));
    let parsed = parse("not (A eq true)").unwrap();
    assert_eq!(parsed, Expr::not(eq(property("A"), boolean(true))));
    assert_eq!(parsed.to_string(), "not (A eq true)");
}

#[test]
fn ordering_operators_bind_tighter_than_equality() {
    let parsed = parse("A lt 5 eq B ge 3").unwrap();
    let expected = eq(
        Expr::compare(CompareOp::Lt, property("A"), int(5)),
        Expr::compare(CompareOp::Ge, property("B"), int(3)),
    );
    assert_eq!(parsed, expected);
}

#[test]
fn long_or_chains_stay_flat() {
    // Power Query folds List.Contains into such chains; they must not hit the depth limit.
    let text = (0..2000)
        .map(|id| format!("Id eq {id}"))
        .collect::<Vec<_>>()
        .join(" or ");
    let Expr::Or(operands) = parse(&text).unwrap() else {
        panic!("expected an Or")
    };
    assert_eq!(operands.len(), 2000);
}

#[test]
fn keywords_functions_and_literals_are_case_insensitive_but_properties_are_not() {
    let parsed = parse("Name EQ 'Milk' AND NOT Paid OR StartsWith(Name,'M') eq TRUE").unwrap();
    let lower = parse("Name eq 'Milk' and not Paid or startswith(Name,'M') eq true").unwrap();
    assert_eq!(parsed, lower);
    assert_eq!(parse("name eq 1").unwrap(), eq(property("name"), int(1)));
}

#[test]
fn all_comparison_operators_and_functions_parse() {
    for op in CompareOp::ALL {
        let parsed = parse(&format!("Amount {} 10", op.keyword())).unwrap();
        assert_eq!(parsed, Expr::compare(op, property("Amount"), int(10)));
    }
    for function in Function::ALL {
        let arguments = vec!["Name"; function.arity().0].join(",");
        let text = format!("{}({arguments}) eq null", function.name());
        let Expr::Compare { left, .. } = parse(&text).unwrap() else {
            panic!("expected a comparison")
        };
        assert!(
            matches!(*left, Expr::Call { function: parsed, .. } if parsed == function),
            "{text}"
        );
    }
}

#[test]
fn string_literals_resolve_doubled_quotes() {
    assert_eq!(literal("'O''Brien'"), Literal::String("O'Brien".to_owned()));
    assert_eq!(literal("''''"), Literal::String("'".to_owned()));
    assert_eq!(literal("''"), Literal::String(String::new()));
    assert_eq!(literal("'a b  c'"), Literal::String("a b  c".to_owned()));
    let expr = eq(property("Name"), string("O'Brien"));
    assert_eq!(expr.to_string(), "Name eq 'O''Brien'");
    assert_eq!(error_kind("Name eq 'O'Brien'"), ErrorKind::Malformed);
    assert_eq!(error_kind("Name eq 'open"), ErrorKind::Malformed);
    assert_eq!(error_kind("Name eq \"Milk\""), ErrorKind::Malformed);
}

#[test]
fn numbers_are_exact() {
    assert_eq!(literal("42"), Literal::Int(42));
    assert_eq!(literal("-9223372036854775808"), Literal::Int(i64::MIN));
    assert_eq!(literal("+7"), Literal::Int(7));
    assert_eq!(literal("10.50"), Literal::Decimal(Decimal::new(105, 1)));
    assert_eq!(literal("10.50"), literal("10.5"));
    assert_eq!(literal("0.1"), Literal::Decimal(Decimal::new(1, 1)));
    assert_eq!(literal("-1.234567e3"), Literal::Decimal(Decimal::new(-1_234_567, 3)));
    assert_eq!(literal("1e-101"), Literal::Decimal(Decimal::new(1, 101)));
    // Beyond Int64 an integer literal is an Edm.Decimal, still exact.
    assert_eq!(
        literal("9223372036854775808"),
        Literal::Decimal(Decimal::new(9_223_372_036_854_775_808, 0))
    );
    let Literal::Decimal(decimal) = literal("12345678901234567890.123456789") else {
        panic!()
    };
    assert_eq!(decimal.to_plain_string(), "12345678901234567890.123456789");
    assert_eq!(Decimal::new(5, 0).to_string(), "5.0");
    assert_eq!(Decimal::new(-5, 3).to_plain_string(), "-0.005");
    assert_eq!(Decimal::new(12, -3).to_plain_string(), "12000");
}

#[test]
fn huge_or_malformed_numbers_are_refused() {
    assert_eq!(error_kind(&format!("A eq {}", "9".repeat(39))), ErrorKind::Malformed);
    assert_eq!(error_kind(&format!("A eq 0.{}", "1".repeat(39))), ErrorKind::Malformed);
    assert_eq!(error_kind("A eq 1e99999"), ErrorKind::Malformed);
    assert_eq!(error_kind("A eq 42."), ErrorKind::Malformed);
    assert_eq!(error_kind("A eq .5"), ErrorKind::Malformed);
    assert_eq!(error_kind("A eq 12abc"), ErrorKind::Malformed);
    assert_eq!(error_kind("A eq INF"), ErrorKind::Unsupported);
    // Trailing zeros are not significant digits.
    assert!(parse(&format!("A eq 1.{}", "0".repeat(60))).is_ok());
}

#[test]
fn dates_are_calendar_checked() {
    assert_eq!(
        literal("2024-01-31"),
        Literal::Date(NaiveDate::from_ymd_opt(2024, 1, 31).unwrap())
    );
    assert_eq!(
        literal("2024-02-29"),
        Literal::Date(NaiveDate::from_ymd_opt(2024, 2, 29).unwrap())
    );
    assert_eq!(error_kind("D eq 2023-02-29"), ErrorKind::Malformed);
    assert_eq!(error_kind("D eq 2024-13-01"), ErrorKind::Malformed);
    assert_eq!(error_kind("D eq 2024-1-01"), ErrorKind::Malformed);
}

#[test]
fn date_time_offsets_compare_as_instants() {
    let plus_one = literal("2021-02-03T00:00:00+01:00");
    let utc = literal("2021-02-02T23:00:00Z");
    assert_eq!(plus_one, utc);
    assert_eq!(
        plus_one,
        Literal::DateTimeOffset(Utc.with_ymd_and_hms(2021, 2, 2, 23, 0, 0).unwrap())
    );
    assert_eq!(literal("2021-02-02T18:30:00-04:30"), utc);
    assert_eq!(literal("2021-02-02T23:00Z"), utc, "seconds are optional");
    assert_eq!(literal("2021-02-02t23:00:00z"), utc, "T and Z are case-insensitive");
    let Literal::DateTimeOffset(fraction) = literal("2012-08-31T18:19:22.1234567+02:00") else {
        panic!()
    };
    assert_eq!(
        fraction,
        Utc.with_ymd_and_hms(2012, 8, 31, 16, 19, 22).unwrap() + chrono::Duration::nanoseconds(123_456_700)
    );
    assert_eq!(
        Literal::DateTimeOffset(fraction).to_string(),
        "2012-08-31T16:19:22.1234567Z"
    );
}

#[test]
fn date_time_offsets_need_a_valid_time_and_zone() {
    assert_eq!(error_kind("T eq 2021-02-03T00:00:00"), ErrorKind::Malformed);
    // A raw `+` decoded as a space, the classic mistake: the message says how to send it.
    let error = parse("T ge 2021-02-03T00:00:00 01:00").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Malformed);
    assert!(error.to_string().contains("%2B"), "{error}");
    assert_eq!(error_kind("T eq 2021-02-03T24:00:00Z"), ErrorKind::Malformed);
    assert_eq!(error_kind("T eq 2021-02-03T12:00:00+24:00"), ErrorKind::Malformed);
    assert_eq!(error_kind("T eq 2021-02-03T12:00:00.Z"), ErrorKind::Malformed);
}

#[test]
fn unsupported_constructs_are_501_and_named() {
    for (text, named) in [
        ("Style has Sales.Pattern'Yellow'", "has"),
        ("Lines/any(l:l/Qty gt 1)", "Lines/"),
        ("any(l:l/Qty gt 1)", "lambda"),
        ("geo.distance(A,B) lt 5", "geo.distance"),
        ("now() gt ModifiedAt", "now"),
        ("Orders(1) eq 'x'", "key access"),
        ("Name in ['a','b']", "JSON"),
        ("Id eq @id", "@id"),
        ("Tags eq [1,2]", "JSON"),
        ("Period eq duration'P1D'", "duration'"),
        ("$it eq 'x'", "$it"),
        ("Customer/Name eq 'x'", "Customer/"),
    ] {
        let error = parse(text).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Unsupported, "{text}: {error}");
        assert_eq!(error.status_code(), 501);
        assert!(error.to_string().contains(named), "{text}: {error} should name {named}");
    }
}

#[test]
fn arithmetic_in_and_the_new_functions_parse_with_odata_precedence() {
    let parsed = parse("Price add 2 mul -Qty eq 4 and Name in ('a','b')").unwrap();
    let expected = Expr::and(
        Expr::compare(
            CompareOp::Eq,
            Expr::arithmetic(
                ArithmeticOp::Add,
                property("Price"),
                Expr::arithmetic(ArithmeticOp::Mul, int(2), Expr::Negate(Box::new(property("Qty")))),
            ),
            int(4),
        ),
        Expr::In {
            value: Box::new(property("Name")),
            list: vec![
                Expr::Literal(Literal::String("a".to_owned())),
                Expr::Literal(Literal::String("b".to_owned())),
            ],
        },
    );
    assert_eq!(parsed, expected);
    assert_eq!(
        parse("Price sub 1 sub 2").unwrap(),
        Expr::arithmetic(
            ArithmeticOp::Sub,
            Expr::arithmetic(ArithmeticOp::Sub, property("Price"), int(1)),
            int(2)
        )
    );
    for text in [
        "substring(Name,1) eq 'x'",
        "substring(Name,1,2) eq 'x'",
        "concat(concat(A,'-'),B) eq 'x'",
        "time(ModifiedAt) lt 12:30:00.5",
        "round(Price divby 3) mod 2 eq 0",
        "Name in ()",
    ] {
        assert!(parse(text).is_ok(), "{text}");
    }
    assert_eq!(
        literal("23:59:59.999"),
        Literal::TimeOfDay(chrono::NaiveTime::from_hms_milli_opt(23, 59, 59, 999).unwrap())
    );
}

#[test]
fn unknown_functions_and_wrong_argument_counts_are_400() {
    for (text, named) in [
        ("lenght(Name) eq 2", "not a known function"),
        ("frobnicate() eq 2", "not a known function"),
        ("substring(Name) eq 'x'", "2 to 3 arguments"),
        ("length(Name,Name) eq 2", "1 argument"),
        ("Name in (Name, Code)", "only hold literal values"),
        ("24:00:00 eq Name", "time of day"),
    ] {
        let error = parse(text).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Malformed, "{text}: {error}");
        assert_eq!(error.status_code(), 400);
        assert!(error.to_string().contains(named), "{text}: {error} should say {named}");
    }
}

#[test]
fn expressions_beyond_the_size_limit_are_400() {
    let chain = |terms: usize| {
        (0..terms)
            .map(|id| format!("Id eq {id}"))
            .collect::<Vec<_>>()
            .join(" or ")
    };
    assert!(parse(&chain(2_000)).is_ok());
    let error = parse(&chain(5_000)).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Malformed);
    assert!(error.to_string().contains("too large"), "{error}");
    let list = (0..MAX_NODES).map(|id| id.to_string()).collect::<Vec<_>>().join(",");
    assert_eq!(error_kind(&format!("Id in ({list})")), ErrorKind::Malformed);
}

#[test]
fn malformed_input_is_400_with_a_position() {
    for (text, position) in [
        ("", 0),
        (" Name eq 1", 0),
        ("Name eq 1 ", 9),
        ("Name eq", 7),
        ("Name eq 1)", 9),
        ("(Name eq 1", 10),
        ("Name Neil 1", 5),
        ("contains(Name)", 0),
        ("Name eq 1 and", 13),
        ("Name ~ 1", 5),
    ] {
        let error = parse(text).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Malformed, "{text:?}: {error}");
        assert_eq!(error.status_code(), 400);
        assert_eq!(error.position(), Some(position), "{text:?}: {error}");
        assert!(error.to_string().contains(&format!("position {position}")), "{error}");
    }
}

#[test]
fn deep_nesting_is_refused_not_a_stack_overflow() {
    let nested = |depth: usize| format!("{}true{}", "(".repeat(depth), ")".repeat(depth));
    assert!(parse(&nested(MAX_DEPTH - 1)).is_ok());
    assert_eq!(error_kind(&nested(100_000)), ErrorKind::Malformed);
    assert_eq!(error_kind(&"not ".repeat(100_000)), ErrorKind::Malformed);
    assert_eq!(
        error_kind(&format!("{}true", "not ".repeat(MAX_DEPTH + 1))),
        ErrorKind::Malformed
    );
    // Chained comparisons nest on the left without recursion: the tree depth is limited too.
    let chained = format!("true{}", " eq true".repeat(10_000));
    assert_eq!(error_kind(&chained), ErrorKind::Malformed);
    let arguments = format!("{}Name{}", "tolower(".repeat(10_000), ")".repeat(10_000));
    assert_eq!(error_kind(&arguments), ErrorKind::Malformed);
}

#[test]
fn display_writes_canonical_odata() {
    let text =
        "ModifiedAt ge 2021-02-03T00:00:00+01:00 and (contains(tolower(Name),'o''b') or Amount gt 10.50) and not Paid";
    let parsed = parse(text).unwrap();
    assert_eq!(
        parsed.to_string(),
        "ModifiedAt ge 2021-02-02T23:00:00Z and (contains(tolower(Name),'o''b') or Amount gt 10.5) and not Paid"
    );
    assert_eq!(parse(&parsed.to_string()).unwrap(), parsed);
    assert_eq!(
        Literal::Date(NaiveDate::from_ymd_opt(-44, 3, 15).unwrap()).to_string(),
        "-0044-03-15"
    );
}

#[test]
fn stray_sigils_and_overlong_names_are_malformed() {
    assert_eq!(error_kind("$ eq 1"), ErrorKind::Malformed);
    assert_eq!(error_kind("A eq @"), ErrorKind::Malformed);
    assert_eq!(error_kind(&format!("{} eq 1", "a".repeat(129))), ErrorKind::Malformed);
    assert_eq!(
        error_kind(&format!("{} eq 1", "a.".repeat(300) + "a")),
        ErrorKind::Malformed
    );
    assert!(parse(&format!("{} eq 1", "a".repeat(128))).is_ok());
}
