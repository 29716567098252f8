//! Checking queries against an entity type: unknown properties and ill-typed comparisons are 400.

use koppel_odata::filter::parse;
use koppel_odata::{EdmType, Error, ErrorKind, Model, ModelError, Property, check_filter, check_query, parse_query};

use crate::support::{invoice_type, sample_model};

fn check(text: &str) -> Result<(), Error> {
    check_filter(&parse(text).unwrap(), &invoice_type())
}

#[test]
fn well_typed_filters_pass() {
    for text in [
        "ModifiedAt ge 2021-02-03T00:00:00+01:00 and ModifiedAt lt 2021-02-04T00:00:00+01:00",
        "Amount gt 10 and Amount le 99.95 and Lines eq 3 and Id ne 12.0",
        "contains(tolower(CustomerName),'bv') or startswith(Number,'2024') or endswith(Number,null)",
        "year(DueDate) eq 2024 and month(ModifiedAt) ge 6 and day(DueDate) lt 15",
        "CustomerName eq null and null ne DueDate and not Paid",
        "Paid eq true and (Paid or false)",
        "DueDate ge 2024-01-01 and Hours gt 0.25",
    ] {
        check(text).unwrap_or_else(|error| panic!("{text}: {error}"));
    }
}

#[test]
fn unknown_properties_are_reported_by_name() {
    let error = check("Colour eq 'red'").unwrap_err();
    assert_eq!(
        error,
        Error::UnknownProperty {
            option: "$filter".to_owned(),
            property: "Colour".to_owned(),
            entity_type: "Invoice".to_owned()
        }
    );
    assert_eq!(error.status_code(), 400);
    assert_eq!(
        error.to_string(),
        "$filter: the entity type `Invoice` has no property `Colour`"
    );
    // Property names are case-sensitive.
    assert_eq!(check("amount gt 1").unwrap_err().kind(), ErrorKind::UnknownProperty);
}

#[test]
fn clearly_wrong_comparisons_are_type_mismatches() {
    for (text, named) in [
        ("Number eq 2024-01-31", "Edm.Date"),
        ("Amount eq 'ten'", "Edm.String"),
        ("DueDate ge 2024-01-01T00:00:00Z", "Edm.DateTimeOffset"),
        ("Paid eq 1", "Edm.Boolean"),
        ("contains(Amount,'1')", "contains"),
        ("year(Number) eq 2024", "year"),
        ("Amount and Paid", "and"),
        ("not Number", "not"),
        ("Number", "true/false"),
        ("tolower(Number)", "true/false"),
    ] {
        let result = check(text);
        let matches = matches!(&result, Err(Error::TypeMismatch { message }) if message.contains(named));
        assert!(
            matches,
            "{text}: expected a type mismatch naming {named}, got {result:?}"
        );
        assert_eq!(result.unwrap_err().status_code(), 400);
    }
}

#[test]
fn select_and_orderby_names_are_checked() {
    let entity_type = invoice_type();
    let good = parse_query("$select=Id,Amount&$orderby=ModifiedAt desc,Id&$filter=Paid").unwrap();
    check_query(&good, &entity_type).unwrap();
    let bad_select = parse_query("$select=Id,Price").unwrap();
    assert!(matches!(
        check_query(&bad_select, &entity_type),
        Err(Error::UnknownProperty { option, property, .. }) if option == "$select" && property == "Price"
    ));
    let bad_orderby = parse_query("$orderby=Price").unwrap();
    assert!(matches!(
        check_query(&bad_orderby, &entity_type),
        Err(Error::UnknownProperty { option, .. }) if option == "$orderby"
    ));
}

#[test]
fn models_are_validated() {
    let model = sample_model();
    model.validate().unwrap();
    assert_eq!(model.entity_type_of_set("Invoices").unwrap().name, "Invoice");
    assert!(model.entity_type_of_set("Nope").is_none());

    let broken = |change: fn(&mut Model)| {
        let mut model = sample_model();
        change(&mut model);
        model.validate().unwrap_err()
    };
    assert!(matches!(
        broken(|m| m.namespace = "Koppel..Feed".to_owned()),
        ModelError::InvalidName { .. }
    ));
    assert!(matches!(
        broken(|m| m.entity_types[0].key = vec!["Nope".to_owned()]),
        ModelError::InvalidKey { .. }
    ));
    assert!(matches!(
        broken(|m| m.entity_types[0].key = vec!["DueDate".to_owned()]),
        ModelError::InvalidKey { .. }
    ));
    assert!(matches!(
        broken(|m| m.entity_sets[0].entity_type = "Nope".to_owned()),
        ModelError::UnknownEntityType { .. }
    ));
    assert!(matches!(
        broken(|m| m.entity_types[0]
            .properties
            .push(Property::nullable("Id", EdmType::String))),
        ModelError::DuplicateName { .. }
    ));
    assert!(matches!(
        broken(|m| m.entity_types[0]
            .properties
            .push(Property::nullable("X", EdmType::Decimal { precision: 2, scale: 3 }))),
        ModelError::InvalidDecimalFacets { .. }
    ));
    assert!(matches!(
        broken(|m| m.entity_types[0]
            .properties
            .push(Property::nullable("Bad<Name>", EdmType::String))),
        ModelError::InvalidName { .. }
    ));
}

#[test]
fn arithmetic_functions_and_in_are_type_checked() {
    for text in [
        "Amount add 1 gt Lines mul 2.5 and -Hours lt 0 and Amount divby 3 ge 1 and Lines mod 2 eq 0",
        "length(trim(CustomerName)) gt 2 and indexof(Number,'24') eq 0 and substring(Number,1,2) eq '02'",
        "concat(Number,CustomerName) ne null and round(Amount) eq floor(Hours) and ceiling(Lines) eq 3",
        "hour(ModifiedAt) eq 1 and minute(ModifiedAt) lt 30 and second(ModifiedAt) ge 0",
        "fractionalseconds(ModifiedAt) lt 0.5 and date(ModifiedAt) eq DueDate and time(ModifiedAt) gt 12:00:00",
        "Lines in (1, 2, null) and CustomerName in ('a', 'b') and not (Amount in ())",
        "tolower(CustomerName) eq null and year(null) eq 2024",
    ] {
        check(text).unwrap_or_else(|error| panic!("{text}: {error}"));
    }
    for (text, says) in [
        ("Number add 1 eq 2", "`add` needs numbers"),
        ("-Number eq 'x'", "`-` needs a number"),
        ("length(Amount) eq 1", "`length` needs Edm.String as argument 1"),
        (
            "substring(Number,'1') eq 'x'",
            "`substring` needs an integer as argument 2",
        ),
        ("hour(DueDate) eq 1", "`hour` needs Edm.DateTimeOffset or Edm.TimeOfDay"),
        ("date(DueDate) eq DueDate", "`date` needs Edm.DateTimeOffset"),
        ("round(Number) eq 1", "`round` needs an integer or Edm.Decimal"),
        ("Lines in ('a')", "cannot be looked for"),
        ("Lines in (Amount)", "needs a list of literal values"),
        ("time(ModifiedAt) eq DueDate", "cannot compare"),
    ] {
        let error = check(text).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::TypeMismatch, "{text}: {error}");
        assert!(error.to_string().contains(says), "{text}: {error} should say {says}");
    }
    // Date arithmetic needs durations: valid OData that the feed does not implement.
    let error = check("ModifiedAt sub ModifiedAt eq null").unwrap_err();
    assert_eq!(error.status_code(), 501, "{error}");
}

#[test]
fn orderby_expressions_are_checked_too() {
    let good = parse_query("$orderby=tolower(CustomerName) desc,Amount mul Lines,Id").unwrap();
    check_query(&good, &invoice_type()).unwrap();
    let unknown = parse_query("$orderby=length(Colour)").unwrap();
    assert!(matches!(
        check_query(&unknown, &invoice_type()),
        Err(Error::UnknownProperty { option, .. }) if option == "$orderby"
    ));
    let ill_typed = parse_query("$orderby=Amount add 'x'").unwrap();
    let error = check_query(&ill_typed, &invoice_type()).unwrap_err();
    assert!(error.to_string().starts_with("$orderby:"), "{error}");
}
