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
