//! Query-string features: what Power Query sends, OData 4.01 leniency, duplicates and error kinds.

use chrono::{TimeZone, Utc};
use koppel_odata::query::percent_decode;
use koppel_odata::{CompareOp, Direction, ErrorKind, Expr, Literal, QueryOptions, parse_query};

fn kind_of(query: &str) -> ErrorKind {
    match parse_query(query) {
        Ok(options) => panic!("{query:?} should be refused, got {options:?}"),
        Err(error) => error.kind(),
    }
}

#[test]
fn power_query_incremental_refresh_url() {
    let options = parse_query(
        "$filter=ModifiedAt%20ge%202021-02-03T00:00:00%2B01:00%20and%20ModifiedAt%20lt%202021-02-04T00:00:00%2B01:00&$top=1000",
    )
    .unwrap();
    let instant = |day| {
        Expr::Literal(Literal::DateTimeOffset(
            Utc.with_ymd_and_hms(2021, 2, day, 23, 0, 0).unwrap(),
        ))
    };
    let expected = Expr::and(
        Expr::compare(CompareOp::Ge, Expr::property("ModifiedAt"), instant(2)),
        Expr::compare(CompareOp::Lt, Expr::property("ModifiedAt"), instant(3)),
    );
    assert_eq!(
        options,
        QueryOptions {
            filter: Some(expected),
            top: Some(1000),
            ..QueryOptions::default()
        }
    );
}

#[test]
fn all_supported_options_together() {
    let options = parse_query(
        "%24select=Id,Name&$orderby=Name desc,Id&$top=10&$skip=20&$count=true&$skiptoken=abc%3D%3D&$filter=Paid",
    )
    .unwrap();
    assert_eq!(options.select, Some(vec!["Id".to_owned(), "Name".to_owned()]));
    assert_eq!(
        options.orderby,
        vec![
            (Expr::property("Name"), Direction::Desc),
            (Expr::property("Id"), Direction::Asc)
        ]
    );
    assert_eq!((options.top, options.skip, options.count), (Some(10), Some(20), true));
    assert_eq!(options.skiptoken.as_deref(), Some("abc=="));
    assert_eq!(options.filter, Some(Expr::property("Paid")));
}

#[test]
fn spaces_may_be_plus_or_percent_20_and_names_need_no_dollar_nor_lower_case() {
    let plus = parse_query("$filter=Name+eq+'a+b'&$orderby=Name+desc").unwrap();
    let encoded = parse_query("filter=Name%20eq%20'a%20b'&%24OrderBy=Name%20DESC").unwrap();
    assert_eq!(plus, encoded);
    assert_eq!(plus.filter.unwrap().to_string(), "Name eq 'a b'");
    assert_eq!(parse_query("TOP=5&Skip=3").unwrap().top, Some(5));
    assert_eq!(
        parse_query("$orderby=Name\tasc").unwrap().orderby,
        vec![(Expr::property("Name"), Direction::Asc)]
    );
}

#[test]
fn select_star_means_everything() {
    assert_eq!(parse_query("$select=*").unwrap().select, None);
    assert_eq!(parse_query("$select=Id,*").unwrap().select, None);
    assert_eq!(parse_query("").unwrap(), QueryOptions::default());
    assert!(!parse_query("$count=false").unwrap().count);
}

#[test]
fn custom_options_and_alias_definitions_are_ignored() {
    let options = parse_query("$top=1&debug=1&!special&@p='x'&&").unwrap();
    assert_eq!(
        options,
        QueryOptions {
            top: Some(1),
            ..QueryOptions::default()
        }
    );
}

#[test]
fn duplicates_are_malformed_even_when_spelled_differently() {
    for query in [
        "$top=1&$top=2",
        "$top=1&top=2",
        "%24top=1&$TOP=1",
        "$filter=true&filter=false",
    ] {
        let error = parse_query(query).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Malformed, "{query}");
        assert!(error.to_string().contains("more than once"), "{error}");
    }
}

#[test]
fn unsupported_system_options_are_501() {
    for (query, named) in [
        ("$expand=Lines", "$expand"),
        ("$search=blue", "$search"),
        ("$apply=groupby((Name))", "$apply"),
        ("apply=groupby((Name))", "$apply"),
        ("$format=json", "$format"),
        ("$levels=2", "$levels"),
        ("$frobnicate=1", "$frobnicate"),
    ] {
        let error = parse_query(query).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Unsupported, "{query}: {error}");
        assert_eq!(error.status_code(), 501);
        assert_eq!(error.code(), "not_implemented");
        assert!(error.to_string().contains(named), "{error}");
    }
    assert_eq!(kind_of("$select=Customer/Name"), ErrorKind::Unsupported);
    assert_eq!(kind_of("$orderby=Customer/Name"), ErrorKind::Unsupported);
    assert_eq!(kind_of("$filter=Tags/any(t:t eq 'a')"), ErrorKind::Unsupported);
    assert_eq!(kind_of("$filter=any(t:t eq 'a')"), ErrorKind::Unsupported);
    assert_eq!(
        kind_of("$filter=Style has Sales.Pattern'Yellow'"),
        ErrorKind::Unsupported
    );
    assert_eq!(kind_of("$filter=geo.distance(A,B) lt 1"), ErrorKind::Unsupported);
}

#[test]
fn malformed_values_are_400_and_name_the_option() {
    for (query, named) in [
        ("$top=-1", "$top"),
        ("$top=ten", "$top"),
        ("$top=99999999999999999999999", "$top"),
        ("$skip=", "$skip"),
        ("$count", "$count"),
        ("$count=yes", "$count"),
        ("$skiptoken=", "$skiptoken"),
        ("$select=Id,,Name", "$select"),
        ("$select=1abc", "$select"),
        ("$orderby=Name sideways", "$orderby"),
        ("$orderby=", "$orderby"),
        ("$filter=Name eq", "$filter"),
        ("$filter=%ZZ", "$filter"),
        ("$filter=%FF%FE", "$filter"),
        ("$filter%", "query option name"),
        ("$filter =true", "whitespace"),
    ] {
        let error = parse_query(query).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Malformed, "{query}: {error}");
        assert_eq!(error.status_code(), 400);
        assert!(
            error.to_string().contains(named),
            "{query}: {error} should name {named}"
        );
    }
}

#[test]
fn filter_errors_carry_the_position_in_the_decoded_text() {
    let error = parse_query("$filter=Name%20eq%20'x'%20and").unwrap_err();
    assert_eq!(error.position(), Some(15));
    assert!(error.to_string().starts_with("$filter: "), "{error}");
}

#[test]
fn percent_decoding_checks_escapes_and_utf8() {
    assert_eq!(percent_decode("a%20b+c%2B%C3%A9").unwrap(), "a b+c+é");
    assert!(percent_decode("%").is_err());
    assert!(percent_decode("%4").is_err());
    assert!(percent_decode("%+1").is_err());
    assert!(percent_decode("%C3").is_err());
}
