//! Runs the OASIS OData TC's ABNF test cases (`odata-abnf-testcases.yaml`) through Koppel's parsers.
//!
//! Every rule in the file is either in scope (how to run it is in [`how_to_run`]) or listed in
//! [`OUT_OF_SCOPE_RULES`] with a reason; a new rule fails the test. Within the in-scope rules every
//! case must conform (positive cases parse, negative cases are refused) or be listed by name and input
//! in [`NOT_SUPPORTED`] with a one-word reason. A listed case that starts to conform fails the test too,
//! so the list cannot go stale; and a listed positive case must be refused as `Unsupported` (501),
//! never as `Malformed` (400), because it is valid OData.
//!
//! Many cases name properties of the TC's sample service: they are only parsed, not type-checked.

use std::collections::BTreeMap;

use koppel_odata::query::percent_decode;
use koppel_odata::{ErrorKind, Expr, Literal, filter, parse_query};

use crate::support::{parse_yaml, read_third_party};

/// Which literal a literal rule must produce.
#[derive(Debug, Clone, Copy)]
enum LiteralKind {
    Boolean,
    Date,
    DateTimeOffset,
    TimeOfDay,
    /// An integer or a decimal.
    Number,
    Integer,
    Null,
    String,
    Any,
}

#[derive(Debug, Clone, Copy)]
enum HowToRun {
    /// Percent-decode, then parse as a `$filter` expression.
    Expression,
    /// Percent-decode, then parse as an expression that must be exactly one literal of this kind.
    Literal(LiteralKind),
    /// A whole query string.
    Query,
    /// A query string holding exactly one option (so a raw `&` cannot occur).
    SingleOption,
}

fn how_to_run(rule: &str) -> Option<HowToRun> {
    use LiteralKind as K;
    Some(match rule {
        "filter" | "select" | "orderby" | "orderBy" | "skiptoken" => HowToRun::SingleOption,
        "queryOptions" | "systemQueryOption" | "customQueryOption" => HowToRun::Query,
        "boolCommonExpr" | "boolcommonExpr" | "commonExpr" | "notExpr" | "firstMemberExpr" | "propertyPathExpr"
        | "anyExpr" | "isofExpr" | "odataIdentifier" => HowToRun::Expression,
        "boolean" | "booleanValue" => HowToRun::Literal(K::Boolean),
        "date" | "dateValue" => HowToRun::Literal(K::Date),
        "dateTimeOffsetValue" | "dateTimeOffsetLiteral" | "dateTimeOffsetValueInUrl" => {
            HowToRun::Literal(K::DateTimeOffset)
        }
        "timeOfDayValue" | "timeOfDayLiteral" => HowToRun::Literal(K::TimeOfDay),
        "decimalValue" | "decimalLiteral" => HowToRun::Literal(K::Number),
        "int32Value" | "int32Literal" | "int64Value" | "int64Literal" => HowToRun::Literal(K::Integer),
        "null" => HowToRun::Literal(K::Null),
        "stringLiteral" => HowToRun::Literal(K::String),
        "primitiveLiteral" => HowToRun::Literal(K::Any),
        _ => return None,
    })
}

/// Rules about parts of OData that Koppel's feed does not parse at all, with the reason.
const OUT_OF_SCOPE_RULES: &[(&str, &str)] = &[
    ("odataUri", "url"),
    ("odataRelativeUri", "url"),
    ("resourcePath", "url"),
    ("entitySetName", "url"),
    ("functionParameter", "url"),
    ("context", "payload"),
    ("primitiveValue", "payload"),
    ("header", "headers"),
    ("request-id", "headers"),
    ("prefer", "headers"),
    ("preference", "headers"),
    ("includeAnnotationsPreference", "headers"),
    ("maxpagesizePreference", "headers"),
    ("expand", "expand"),
    ("compute", "compute"),
    ("search", "search"),
    ("searchExpr", "search"),
    ("deltatoken", "delta"),
    ("binaryLiteral", "binary"),
    ("guid", "guid"),
    ("durationValue", "duration"),
    ("durationLiteral", "duration"),
    ("doubleValue", "double"),
    ("doubleLiteral", "double"),
    ("singleValue", "double"),
    ("singleLiteral", "double"),
    ("byteValue", "smallint"),
    ("sbyteValue", "smallint"),
    ("sbyteLiteral", "smallint"),
    ("int16Value", "smallint"),
    ("int16Literal", "smallint"),
    ("enumLiteral", "enum"),
    ("enumValue", "enum"),
    ("stringInUrl", "json"),
    ("geographyCollection", "geo"),
    ("geographyLineString", "geo"),
    ("geographyMultiLineString", "geo"),
    ("geographyMultiPoint", "geo"),
    ("geographyMultiPolygon", "geo"),
    ("geographyPoint", "geo"),
    ("geographyPolygon", "geo"),
    ("geometryCollection", "geo"),
    ("geometryLineString", "geo"),
    ("geometryMultiLineString", "geo"),
    ("geometryMultiPoint", "geo"),
    ("geometryMultiPolygon", "geo"),
    ("geometryPoint", "geo"),
    ("geometryPolygon", "geo"),
];

/// In-scope cases that Koppel does not conform to, by name and input (names repeat in the file), with
/// a one-word reason:
///
/// - `path`: property paths with `/` (navigation, complex, `$count` segments); the feed is flat.
/// - `function`: standard functions that do not apply to a flat feed without collections, durations
///   or types (`hassubset`, `cast`, `isof`, `totalseconds`, …) or that Koppel leaves out (`now`,
///   `mindatetime`, `maxdatetime`, `totaloffsetminutes`, `matchesPattern`), and supported ones given
///   JSON arrays; `key`: `Set(key)` in an expression; `qualified`: namespace-qualified functions,
///   casts, actions (`geo.*`, `Model.*`).
/// - `in` (with JSON arrays), `has` (no enumerations), `lambda` (`any`/`all`), `json` (array and
///   object literals), `alias` (parameter aliases), `annotation`, `dollar` (`$it`, `$this`, `$root`),
///   `typed` (enumeration and other typed literals), `nonfinite` (`INF`, `NaN`), `nested` (options
///   inside `$select`).
/// - `search`, `expand`, `compute`, `format`, `index`, `schemaversion`: system query options Koppel
///   does not implement (answered 501).
/// - `payload`: negative cases of payload-only rules (`booleanValue`, `dateTimeOffsetValue`) that
///   forbid what URLs allow (upper case, percent-encoding); Koppel parses URLs only.
#[rustfmt::skip]
const NOT_SUPPORTED: &[(&str, &str, &str)] = &[
    ("Boolean - payload values are lowercase", "tRUe", "payload"),
    ("DateTimeOffset: no percent-encoding in payloads", "2012-09-03T23%3A59Z", "payload"),
    ("DateTimeOffset: no percent-encoding in payloads", "2012-09-03T23:59+01%3A00", "payload"),
    ("TimeOfDay - no percent-encoding in payloads", "11%3A22%3a33", "payload"),
    ("Decimal - negative infinity", "-INF", "nonfinite"),
    ("Decimal - positive infinity", "INF", "nonfinite"),
    ("Decimal - not a number", "NaN", "nonfinite"),
    ("4.8 Addressing the Count - in $filter with navigation", "$filter=Products/$count gt 0", "path"),
    ("4.8 Addressing the Count - in $filter with complex collection", "$filter=Addresses/$count gt 0", "path"),
    ("4.8 Addressing the Count - in $filter with primitive collection", "$filter=Sizes/$count gt 0", "path"),
    ("4.8 Addressing the Count - in $filter with filtered collection", "$filter=Products/$count($filter=Price gt 5.00) gt 2", "path"),
    ("4.8 Addressing the Count - collection navigation property with $count in $orderby", "$orderby=Products/$count", "path"),
    ("4.8 Addressing the Count - collection property with $count in $orderby", "$orderby=Addresses/$count", "path"),
    ("4.8 Addressing the Count - collection property with $count in $orderby", "$orderby=Sizes/$count", "path"),
    ("4.11 Inheritance - expressions: complex type", "Address/Model.AddressWithLocation", "path"),
    ("4.11 Inheritance - expressions: complex type with path", "Address/Model.AddressWithLocation/Street", "path"),
    ("4.11 Inheritance - expressions: complex type with path, no namespace", "Address/AddressWithLocation/Street", "path"),
    ("4.11 Inheritance - expressions: collection of complex type", "Addresses/Model.AddressWithLocation", "path"),
    ("4.12 Filter Path Segment followed by key predicate", "Products/$filter(Age gt 3)(ID='Sugar')", "path"),
    ("4.12 Filter expression in query", "$filter=Addresses/$filter(endswith(Street,'St'))/$count lt 10", "path"),
    ("5.1.1 Filter - member expressions - single navigation", "Product/Supplier", "path"),
    ("5.1.1 Filter - member expressions - single-complex", "Product/Supplier/Address", "path"),
    ("5.1.1 Filter - member expressions - single-complex-primitive", "Product/Supplier/Address/Street", "path"),
    ("5.1.1 Filter - member expressions - single-complex-single", "Product/Supplier/Address/Country", "path"),
    ("5.1.1 Filter - member expressions - single-complex-collection", "Product/Supplier/Address/Products", "path"),
    ("5.1.1 Filter - member expressions - stream", "Product/Thumbnail", "path"),
    ("5.1.1 Filter - member expressions - stream", "Address/Thumbnail", "path"),
    ("5.1.1 Filter - member expressions - stream", "Thumbnail/Model.Available()", "path"),
    ("5.1.1 Filter - member expressions - single-colComplex", "Product/Supplier/Addresses", "path"),
    ("5.1.1 Filter - member expressions - single-primitive", "Product/Supplier/CompanyName", "path"),
    ("5.1.1 Filter - member expressions - single-colPrimitive", "Product/Supplier/EmailAddresses", "path"),
    ("5.1.1 Filter - member expressions - collection navigation", "Supplier/Products", "path"),
    ("5.1.1 Filter - member expressions - collection navigation - count", "Products/$count", "path"),
    ("5.1.1.1.1 Equals - property path argument", "Address/Street", "path"),
    ("5.1.1.1.1 Equals - property path argument", "Address/Model.AddressWithLocation/Location", "path"),
    ("5.1.1.1.1 Equals", "Address/Street eq 'Hugo'", "path"),
    ("5.1.1.1.1 comparing complex types", r#"$filter=Address eq {"Street":"NE 40th","City":"Redmond","State":"WA","ZipCode":"98052"}"#, "json"),
    ("5.1.1.1.12 Logical Operator Examples", "Supplier/Name eq 'Milk'", "path"),
    ("5.1.1.1.12 Logical Operator Examples", "style has Sales.Pattern'Yellow'", "has"),
    ("5.1.1.1.12 Logical Operator Examples", r#"Name in ["Milk", "Cheese"]"#, "in"),
    ("5.1.1.5.2 contains", r#"contains(Names,["Fred","George"])"#, "json"),
    ("5.1.1.5.3 endswith", r#"endswith(["Fred","George","Ron"],["George","Ron"])"#, "json"),
    ("5.1.1.5.4 indexof", r#"indexof(["Fred","George","Ron"],["George","Ron"]) eq 1"#, "function"),
    ("5.1.1.5.5 length", r#"length(["Fred","George","Ron"]) eq 3"#, "function"),
    ("5.1.1.5.6 startswith", "startswith(Supplier/Name,'Futterkiste')", "path"),
    ("5.1.1.5.6 startswith", r#"startswith(["Fred","George","Ron"],["Fred","George"])"#, "json"),
    ("5.1.1.6.1 hassubset", r#"hassubset(Names,["Milk", "Cheese"])"#, "function"),
    ("5.1.1.6.1 hassubset", r#"hassubset(["Milk", "Cheese"],Names)"#, "function"),
    ("5.1.1.6.2 hassubsequence", "hassubsequence([4,1,3],[4,3])", "function"),
    ("5.1.1.7.1 matchesPattern ^A.*e$", "matchesPattern(CompanyName,'%5EA.*e$')", "function"),
    ("5.1.1.8.5", "maxdatetime()", "function"),
    ("5.1.1.8.5 - non-canonical percent-encoding", "maxdatetime%28%20%29", "function"),
    ("5.1.1.8.6", "mindatetime()", "function"),
    ("5.1.1.8.6 - non-canonical percent-encoding", "mindatetime%28%20%29", "function"),
    ("5.1.1.8.9", "now()", "function"),
    ("5.1.1.8.9 - non-canonical percent-encoding", "now%28%20%29", "function"),
    ("5.1.1.8.12 - totaloffsetminutes", "totaloffsetminutes(ReleaseDate)", "function"),
    ("5.1.1.8.13", "totalseconds(LifeTime)", "function"),
    ("5.1.1.10.1 cast(1)", "cast(Model.Customer)", "function"),
    ("5.1.1.10.1 cast(1), no nanmespace", "cast(Customer)", "function"),
    ("5.1.1.10.1 cast(2)", "cast(Category,Model.Customer)", "function"),
    ("5.1.1.10.1 cast(2), no namespace", "cast(Category,Customer)", "function"),
    ("5.1.1.10.1 cast(3)", "cast(Category,Edm.Boolean)", "function"),
    ("5.1.1.10.2 isof(1)", "isof(Model.Customer)", "function"),
    ("5.1.1.10.2 isof(1), no namespace", "isof(Customer)", "function"),
    ("5.1.1.10.2 isof(2)", "isof(Category,Model.Customer)", "function"),
    ("5.1.1.10.2 isof(2), no namespace", "isof(Category,Customer)", "function"),
    ("5.1.1.10.2 isof(2)", "isof(Location,Edm.GeographyPoint)", "function"),
    ("5.1.1.11.1 geo.distance", "geo.distance(Supplier/Location,Product/Location)", "qualified"),
    ("5.1.1.11.3 geo.intersects", "geo.intersects(Supplier/SalesArea,Product/Location)", "qualified"),
    ("5.1.1.11.3 geo.length", "geo.length(Line)", "qualified"),
    ("5.1.1.11.3 geo.length", "geo.length(geography'SRID=0;LineString(142.1 64.1,3.14 2.78)')", "qualified"),
    ("5.1.1.13 Lambda Operators", "lambda/Completed", "path"),
    ("5.1.1.13 Lambda Operators", "lambda/Name eq $it/Name", "path"),
    ("5.1.1.13.1 any()", "any()", "lambda"),
    ("5.1.1.13.1 any()", "any( )", "lambda"),
    ("5.1.1.13.1 any()", "any(lambda:true)", "lambda"),
    ("5.1.1.13.1 any()", "any( lambda : true )", "lambda"),
    ("5.1.1.13.1 any()", "Products/any(lambda:true)", "path"),
    ("5.1.1.13.1 any() - collection with type cast", "DirectReports/Sales.Manager/any()", "path"),
    ("5.1.1.13.1 any()", "Supplier/Products/any(lambda:true)", "path"),
    ("5.1.1.13.1 any()", "Products/any(lambda:lambda/Completed)", "path"),
    ("5.1.1.13.1 any()", "Products/any(lambda:$it/Completed)", "path"),
    ("5.1.1.13.2 all()", "Products/all(lambda:true)", "path"),
    ("5.1.1.13.2 all()", "EmailAddresses/all(lambda:true)", "path"),
    ("5.1.1.14.2 simple array", r#"FirstName in ["Miller","Smith"]"#, "in"),
    ("5.1.1.14.2 array with single-quoted OData strings", r#"FirstName in ["Miller",'Smith']"#, "in"),
    ("5.1.1.14.2 empty array", "FirstName in []", "in"),
    ("5.1.1.14.2 array in array of arrays", r#"["Joe","Smith"] in [["John","Doe"],["Jane","Smith"]]"#, "json"),
    ("5.1.1.14.2 array of properties in array of arrays", r#"[FirstName,LastName] in [["John","Doe"],["Jane","Smith"]]"#, "json"),
    ("5.1.1.14.2 comparing arrays", r#"["Milk", "Cheese"] eq ["Oranges", "Carrots", "Ginger"]"#, "json"),
    ("5.1.1.14.2 mixed array", r#"["Hello",42,true,false,null,'World']"#, "json"),
    ("5.1.1.14.2 array of property names", "[FirstName,LastName]", "json"),
    ("5.1.1.14.2 empty object", "{}", "json"),
    ("5.1.1.14.2 object with concrete values", r#"{"FirstName":"John","LastName":"Doe","Sizes":["Large","Small"]}"#, "json"),
    ("5.1.1.14.2 object with expression values", r#"{"FirstName":Customer/FirstName,"LastName":Manager/LastName,"Sizes":[1, 2 add 3]}"#, "json"),
    ("5.1.1.14.2 array with 'untyped' values", r#"[[],{},true,false,null,42,{"no property name":"value","@something":true}]"#, "json"),
    ("5.1.1.14.4 $it", "$it/Completed", "dollar"),
    ("5.1.1.14.4 $it", "$filter=endswith($it,'.com')", "dollar"),
    ("5.1.1.14.4 $it with alias for entity reference", r#"$filter=$it eq @ref&@ref={"@odata.id":"http://host/service/ZqV5t"}"#, "dollar"),
    ("5.1.1.14.4 $it with entity reference", r#"$filter=$it eq {"@odata.id":"http://host/service/ZqV5t"}"#, "dollar"),
    ("5.1.1.14.5 $root with entity set", "$root/SalesOrganizations", "dollar"),
    ("5.1.1.14.6 $this", "$this eq 'Hugo'", "dollar"),
    ("5.1.1.14.6 $this", "$filter=endswith($this,'.com')", "dollar"),
    ("5.1.1.15 Path expressions - key access after set navigation", "Items(1)", "key"),
    ("5.1.1.16 Annotation Values", "$filter=Price/@Measures.Currency eq 'EUR'", "path"),
    ("5.1.1.16 Annotation Values, no namespace", "$filter=Price/@Currency eq 'EUR'", "path"),
    ("5.1.1.16 Annotation Values", "$orderby=Price/@Measures.Currency", "path"),
    ("5.1.1.16 Annotation Values with qualifier", "$orderby=Price/@Measures.Currency%23Reporting", "path"),
    ("5.1.1.16 Annotation Values with qualifier, no namespace", "$filter=Price/@Currency%23Reporting eq 'EUR'", "path"),
    ("5.1.1.16 Annotation Values", "$filter=@Core.Messages/any(m:m/severity eq 'error')", "annotation"),
    ("5.1.1.16 Annotation Values", "$compute=@Core.Messages as _at_Core_dot_Messages&$select=_at_Core_dot_Messages($top=5)", "compute"),
    ("5.1.1.16 Annotation Values", "$filter=@Messages/any(m:m/severity eq 'error')", "annotation"),
    ("5.1.3 Select - with property of complex property", "$select=Address/Street", "path"),
    ("5.1.3 Select - with property of complex property", "$select=Address/Country", "path"),
    ("5.1.3 Select - with cast", "$select=Address/Model.AddressWithLocation", "path"),
    ("5.1.3 Select - with cast and property of complex property", "$select=Address/Model.AddressWithLocation/Location", "path"),
    ("5.1.3 Select - with cast and property of complex property, no namespace", "$select=Address/AddressWithLocation/Location", "path"),
    ("5.1.3 Select on complex resource - with cast and property of sub-type", "$select=Model.AddressWithLocation/Location", "path"),
    ("5.1.3 Select on complex resource - with cast and property of sub-type, no namespace", "$select=AddressWithLocation/Location", "path"),
    ("5.1.3 Select - with expand", "$expand=Category($select=Name)", "expand"),
    ("5.1.3 Select - qualifiedEntityTypeName", "$select=Model.PreferredSupplier/Name", "path"),
    ("5.1.3 Select - actions by namespace", "$select=Model.ActionName,Model.MostPopularName,Model.*", "qualified"),
    ("5.1.3 Select - actions and functions with signature", "$select=Model.ActionName,Model.MostPopularName(Location,Kind)", "qualified"),
    ("5.1.3 Select - actions and functions with signature, no  namespace", "$select=ActionName,MostPopularName(Location,Kind)", "function"),
    ("5.1.3 Select - tricky", "$select=Namespace.PreferredSupplier/AccountRepresentative,Address/Street,Address/Namespace.AddressWithLocation/Location", "path"),
    ("5.1.3 Select - tricky, no namespace", "$select=PreferredSupplier/AccountRepresentative,Address/Street,Address/AddressWithLocation/Location", "path"),
    ("5.1.3 Select - nested select", "$select=Address($select=Street,City,Namespace.AddressWithLocation/Location)", "nested"),
    ("5.1.3 Select - nested filter etc.", "$select=Addresses($filter=startswith(City,'H');$top=5;$skip=0;$count=true;$orderby=$it;$search=blue;@c=15)&$expand=Addresses/Country", "nested"),
    ("5.1.3 Select - annotations", "$select=@Core.Messages($top=5)", "annotation"),
    ("5.1.3 Select - annotations", "$select=Address/@Core.Messages($top=5)", "annotation"),
    ("5.1.3 Select - annotations", "$select=@Measures.Currency,@Core.MayImplement($top=2)", "annotation"),
    ("5.1.7 Search - simple term", "$search=blue", "search"),
    ("5.1.7 Search - simple term", "$search=1984", "search"),
    ("5.1.7 Search - simple term", "$search=2x4", "search"),
    ("5.1.7 Search - simple term with dot", "$search=3.14", "search"),
    ("5.1.7 Search - simple term with comma", "$search=9,81", "search"),
    ("5.1.7 Search - simple term with dash", "$search=brand-new", "search"),
    ("5.1.7 Search - simple term with quote", "$search=Daniel's", "search"),
    ("5.1.7 Search - simple term with underscore", "$search=__FILE__", "search"),
    ("5.1.7 Search - simple term with dollar", "$search=$search", "search"),
    ("5.1.7 Search - simple term with slash", "$search=08/15", "search"),
    ("5.1.7 Search - simple term with percent-encoded hash (#)", "$search=%231", "search"),
    ("5.1.7 Search - simple term with percent-encoded ampersand", "$search=more%26more", "search"),
    ("5.1.7 Search - simple term with percent-encoded semicolon", "$search=a%3Bb", "search"),
    ("5.1.7 Search - AND is a word here, not an operator", "$search=AND", "search"),
    ("5.1.7 Search - OR is a word here, not an operator", "$search=OR", "search"),
    ("5.1.7 Search - NOT is a word here, not an operator", "$search=NOT", "search"),
    ("5.1.7 Search - NOT is an operator here, search for items that do not match blue", "$search=NOT blue", "search"),
    ("5.1.7 Search - NOT is an operator here, search for items that do not match blue", "$search=NOT (blue green)", "search"),
    ("5.1.7 Search - the first NOT is an operator, the second a word, search for items that do not match NOT", "$search=NOT NOT", "search"),
    ("5.1.7 Search - AND and OR are words here, search for items that match both AND and OR", "$search=AND OR", "search"),
    ("5.1.7 Search - AND and OR are words here, search for items that match both AND and OR", "$search=OR AND", "search"),
    ("5.1.7 Search - AND and NOT are words here, search for items that match AND or NOT", "$search=AND OR NOT", "search"),
    ("5.1.7 Search - $ is optional", "search=blue", "search"),
    ("5.1.7 Search - simple phrase", r#"$search="blue%20green""#, "search"),
    ("5.1.7 Search - phrase with unbalanced double-quotes", r#"$search='"blue'"#, "search"),
    ("5.1.7 Search - phrase with unbalanced double-quotes - still ok", r#"$search='"blue" "green'"#, "search"),
    ("5.1.7 Search - implicit AND", "$search=blue green", "search"),
    ("5.1.7 Search - implicit AND, encoded", "$search=blue%20green", "search"),
    ("5.1.7 Search - AND", "$search=blue AND green", "search"),
    ("5.1.7 Search - OR", "$search=blue OR green", "search"),
    ("5.1.7 Search - NOT", "$search=blue NOT green", "search"),
    ("5.1.7 Search - only NOT", "$search=NOT blue", "search"),
    ("5.1.7 Search - multiple", "$search=foo AND bar OR foo AND baz OR that AND bar OR that AND baz", "search"),
    ("5.1.7 Search - grouping", "$search=foo AND (bar OR baz)", "search"),
    ("5.1.7 Search - grouping", "$search=(foo AND bar) OR baz", "search"),
    ("5.1.7 Search - grouping", "$search=(NOT foo) OR baz", "search"),
    ("5.1.7 Search - grouping", "$search=(NOT foo)", "search"),
    ("5.1.7 Search - UTF-8 characters: Greek Capital Letter Delta (Δ)", "$search=%CE%94", "search"),
    ("5.1.7 Search - incomplete expressions", r#"$search='"'"#, "search"),
    ("5.1.7 Search - incomplete expressions", r#"$search='"bl'"#, "search"),
    ("5.1.7 Search - incomplete expressions", r#"$search='"blue%20p'"#, "search"),
    ("5.1.7 Search - incomplete expressions", "$search='('", "search"),
    ("5.1.7 Search - nested $search may contain balanced parentheses", "$expand=Manager($search=(green))", "expand"),
    ("5.1.7 Search - nested $search must not contain unbalanced parentheses unless single-quoted", "$expand=Manager($search='gr(een')", "expand"),
    ("5.1.7 Search - nested $search simple term with percent-encoded semicolon", "$expand=Manager($search=a%3Bb)", "expand"),
    ("5.1.7 Search - nested $search simple term with percent-encoded semicolon", "$expand=Manager($search='a%3Bb')", "expand"),
    ("5.1.8 Format", "$format=json&$Format=atom&$format=xml&$format=text/html", "format"),
    ("5.1.8 Format - $ is optional", "format=json", "format"),
    ("5.1.8 Format - value is case-insensitive", "$format=JSON&$format=Atom&$format=XML&$format=text/html", "format"),
    ("5.1.8 Format - media type", "$format=text/html", "format"),
    ("5.1.9 Index", "$index=42", "index"),
    ("5.1.9 Index - $ is optional", "index=42", "index"),
    ("5.1.9 Index - negative indexes allowed with V4.01", "index=-42", "index"),
    ("5.1.10 Compute", "$compute=Amount mul Product/TaxRate as Tax", "compute"),
    ("5.1.10 Compute - $ is optional", "compute=Amount mul Product/TaxRate as Tax", "compute"),
    ("5.1.10 Compute - many", "$compute=Amount mul Product/TaxRate as Tax,day(Time/Date) as WeekDay", "compute"),
    ("5.1.10 Compute - within $expand", "$expand=Sales($compute=Amount mul Product/TaxRate as Tax)", "expand"),
    ("5.3 Parameter Aliases", "$filter=contains(Title,@word)&@word='Black'", "alias"),
    ("5.3 Parameter Aliases", "$filter=Title eq @title&@title='Wizard%20of%20Oz'", "alias"),
    ("Enumeration literal - in filter", "$filter=style eq Sales.Pattern'Yellow'", "typed"),
    ("Enumeration literal - in filter with has", "$filter=style has Sales.Pattern'Yellow'", "has"),
    ("Enumeration literal - undefined value as numeric constant", "$filter=style has Sales.Pattern'32'", "has"),
    ("$filter with geometry", "$filter=geo.intersects(geometry'SRID=0;Point(142.1 64.1)',geometry'SRID=0;Polygon((1 1,1 1),(1 1,2 2,3 3,1 1))')", "qualified"),
    ("Functions in commonExpr", "Model.Available()", "qualified"),
    ("Functions in commonExpr - directly call function", "Model.MostPopularName()", "qualified"),
    ("Functions in commonExpr - after collection navigation", "Products/Model.Available()", "path"),
    ("Functions in commonExpr - composed functions", "Products/Model.BestProduct()/Model.MostPopularName()", "path"),
    ("Functions in commonExpr - composed functions, no namespace", "Products/BestProduct()/MostPopularName()", "path"),
    ("Functions in commonExpr - singleNavigation", "Products/Model.BestProduct()/Name", "path"),
    ("Functions in commonExpr - singleNavigation", "Products/Model.BestProduct()/Model.BestSellingProduct/Name", "path"),
    ("Functions in commonExpr - singleNavigation", "Products/Model.BestProduct()/Name/Model.Available()", "path"),
    ("Functions in commonExpr - singleNavigation", "Products/Model.BestProduct()/Address", "path"),
    ("Functions in commonExpr - singleNavigation", "Products/Model.BestProduct()/Address/Street", "path"),
    ("Functions in commonExpr - singleNavigation", "Products/Model.BestProduct()/Addresses", "path"),
    ("Functions in commonExpr - singleNavigation", "Products/Model.BestProduct()/Addresses/Model.MostPopularName()", "path"),
    ("Functions in commonExpr - singleNavigation", "Products/Model.BestProduct()/EmailAddresses", "path"),
    ("Functions in commonExpr - stream property", "Products/Model.BestProduct()/Thumbnail", "path"),
    ("Functions in commonExpr - singleNavigation with any", "Products/Model.BestProduct()/EmailAddresses/any()", "path"),
    ("Functions in commonExpr - singleNavigation with all", "Products/Model.BestProduct()/EmailAddresses/all(lambda:true)", "path"),
    ("Functions in commonExpr - collectionNavigation", "Products/Model.ProductsByColor(color='green')/Model.MostPopularName()", "path"),
    ("Functions in commonExpr - collectionNavigation", "Products/Model.ProductsByColor(color='green')/Model.BestSellingProduct/Model.MostPopularName()", "path"),
    ("Functions in commonExpr - collectionNavigation", "Products/Model.ProductsByColor(color=@color)/Model.BestSellingProduct/Model.MostPopularName()", "path"),
    ("Functions in commonExpr - collectionNavigation with all", "Products/Model.ProductsByColor()/all(lambda:true)", "path"),
    ("Functions in commonExpr - complexPath", "Items/Model.MostPopularAddress()/Street", "path"),
    ("Functions in commonExpr - complexPath", "Items/Model.MostPopularAddress()/Address", "path"),
    ("Functions in commonExpr - complexPath", "Items/Model.MostPopularAddress()/Address/Model.Available()", "path"),
    ("Functions in commonExpr - collectionPath", "Items/Model.MostPopularAddresses()/$count", "path"),
    ("Functions in commonExpr - collectionPath", "Items/Model.MostPopularAddresses()/Model.MostPopularName()", "path"),
    ("Functions in commonExpr - collectionPath", "Items/Model.MostPopularNames()/$count", "path"),
    ("Functions in commonExpr - collectionPath", "Items/Model.MostPopularNames()/Model.MostPopularName()", "path"),
    ("Functions in commonExpr - collectionPath, no namespace", "Items/MostPopularNames()/MostPopularName()", "path"),
    ("Functions in commonExpr - singlePath", "Items/Model.MostPopularName()/Model.MostPopularName()", "path"),
    ("Functions in commonExpr - singlePath, no namespace", "Items/MostPopularName()/MostPopularName()", "path"),
    ("Functions in commonExpr - collection parameter in JSON", r#"Products/Model.ProductsByColor(colors=["red","green","blue"])"#, "path"),
    ("Functions in commonExpr - collection parameter in JSON with whitespace", r#"Products/Model.ProductsByColor(colors=[ "red", "green" , "blue" ])"#, "path"),
    ("Functions in commonExpr - collection parameter in JSON with whitespace", r#"Products/Model.ProductsByColor(colors=%5B%20"red",%20"green"%20,"blue"%20%5D)"#, "path"),
    ("Functions in commonExpr - complex JSON parameter", r#"Model.Available(complex={"Name":"Value"})"#, "qualified"),
    ("Functions in commonExpr - complex JSON parameter with whitespace", r#"Model.Available(complex={ "Name" : "double quote (\") in value" })"#, "qualified"),
    ("Functions in commonExpr - complex JSON parameter with whitespace", r#"Model.Available(complex=%7B %22Name%22 : "double%20quote (%5C%22) in value" %7D)"#, "qualified"),
    ("Functions in commonExpr - property as parameter", "Model.PhoneticallySimilar(Word1=Name,Word2=Supplier/Name)", "qualified"),
    ("Functions in filter - alias as parameter", "$filter=Model.PhoneticallySimilar(Word=@expression)&@expression=5 add 3", "qualified"),
    ("Functions in filter - expression as parameter", "$filter=Model.PhoneticallySimilar(Number=5 add 3)", "qualified"),
    ("Functions in filter - $it as prefix", "$filter=$it/Model.PhoneticallySimilar(Number=5 add 3)", "dollar"),
    ("Schema Version - numeric", "$schemaversion=0001", "schemaversion"),
    ("Schema Version - alphanumeric", "schemaversion=second", "schemaversion"),
    ("Schema Version - semantic", "schemaversion=1.42.2", "schemaversion"),
    ("Schema Version - latest", "$schemaversion=*", "schemaversion"),
];

enum Outcome {
    Accepted,
    Refused { kind: Option<ErrorKind>, why: String },
}

fn refused(error: koppel_odata::Error) -> Outcome {
    Outcome::Refused {
        kind: Some(error.kind()),
        why: error.to_string(),
    }
}

fn literal_matches(kind: LiteralKind, literal: &Literal) -> bool {
    use LiteralKind as K;
    matches!(
        (kind, literal),
        (K::Any, _)
            | (K::Boolean, Literal::Boolean(_))
            | (K::Date, Literal::Date(_))
            | (K::DateTimeOffset, Literal::DateTimeOffset(_))
            | (K::TimeOfDay, Literal::TimeOfDay(_))
            | (K::Number | K::Integer, Literal::Int(_))
            | (K::Number, Literal::Decimal(_))
            | (K::Null, Literal::Null)
            | (K::String, Literal::String(_))
    )
}

fn run(how: HowToRun, input: &str) -> Outcome {
    match how {
        HowToRun::Expression | HowToRun::Literal(_) => {
            let parsed = percent_decode(input).and_then(|decoded| filter::parse(&decoded));
            match (how, parsed) {
                (_, Err(error)) => refused(error),
                (HowToRun::Literal(kind), Ok(Expr::Literal(literal))) if !literal_matches(kind, &literal) => {
                    Outcome::Refused {
                        kind: None,
                        why: format!("parsed as the wrong literal {literal:?}"),
                    }
                }
                (HowToRun::Literal(_), Ok(Expr::Literal(_))) | (HowToRun::Expression, Ok(_)) => Outcome::Accepted,
                (_, Ok(other)) => Outcome::Refused {
                    kind: None,
                    why: format!("parsed as {other:?}, not a literal"),
                },
            }
        }
        HowToRun::SingleOption if input.contains('&') => Outcome::Refused {
            kind: None,
            why: "a single query option cannot contain a raw `&`".to_owned(),
        },
        HowToRun::Query | HowToRun::SingleOption => match parse_query(input) {
            Ok(_) => Outcome::Accepted,
            Err(error) => refused(error),
        },
    }
}

#[test]
fn oasis_abnf_test_cases() {
    let document = parse_yaml(&read_third_party("odata-abnf-testcases.yaml"));
    let cases = document.get("TestCases").expect("a TestCases list").as_sequence();
    assert!(
        cases.len() >= 800,
        "expected the full OASIS file, found {} cases",
        cases.len()
    );

    let mut failures = Vec::new();
    let mut conforming = BTreeMap::<&str, usize>::new();
    let mut listed_by_reason = BTreeMap::<&str, usize>::new();
    let mut listed_seen = vec![false; NOT_SUPPORTED.len()];
    let mut unknown_rules = Vec::new();
    for case in cases {
        let text = |key| case.get(key).and_then(|value| value.as_str()).unwrap_or("");
        let (name, rule, input) = (text("Name"), text("Rule"), text("Input"));
        let expect_accept = case.get("FailAt").is_none();
        let Some(how) = how_to_run(rule) else {
            if !OUT_OF_SCOPE_RULES.iter().any(|(out, _)| *out == rule) && !unknown_rules.contains(&rule) {
                unknown_rules.push(rule);
            }
            continue;
        };
        let outcome = run(how, input);
        let conforms = matches!(
            (&outcome, expect_accept),
            (Outcome::Accepted, true) | (Outcome::Refused { .. }, false)
        );
        let listing = NOT_SUPPORTED
            .iter()
            .position(|(listed_name, listed_input, _)| *listed_name == name && *listed_input == input);
        let label = format!("[{rule}] {name:?} input {input:?}");
        match (conforms, listing) {
            (true, None) => {
                *conforming
                    .entry(if expect_accept { "positive" } else { "negative" })
                    .or_default() += 1
            }
            (true, Some(_)) => failures.push(format!("{label}: conforms now, remove it from NOT_SUPPORTED")),
            (false, None) => failures.push(match &outcome {
                Outcome::Accepted => format!("{label}: accepted, but the case is negative"),
                Outcome::Refused { why, .. } => format!("{label}: refused ({why}), but the case is positive"),
            }),
            (false, Some(index)) => {
                listed_seen[index] = true;
                *listed_by_reason.entry(NOT_SUPPORTED[index].2).or_default() += 1;
                if let Outcome::Refused { kind, why } = &outcome
                    && *kind != Some(ErrorKind::Unsupported)
                {
                    failures.push(format!(
                        "{label}: valid OData must be refused as Unsupported (501), got: {why}"
                    ));
                }
            }
        }
    }
    for (index, seen) in listed_seen.iter().enumerate() {
        if !seen {
            failures.push(format!(
                "NOT_SUPPORTED entry {:?} matches no case of the file",
                NOT_SUPPORTED[index]
            ));
        }
    }
    if !unknown_rules.is_empty() {
        failures.push(format!(
            "rules neither in scope nor in OUT_OF_SCOPE_RULES: {unknown_rules:?}"
        ));
    }
    println!("ABNF cases conforming: {conforming:?}; listed as not supported: {listed_by_reason:?}");
    assert!(
        failures.is_empty(),
        "{} ABNF problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
