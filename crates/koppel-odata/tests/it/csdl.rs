//! `$metadata`: the CSDL XML validates against the OASIS schema and declares what Power BI needs.
//!
//! Schema validation uses `xmllint` (Debian package `libxml2-utils`). Without it the test says loudly
//! that it skipped validation, unless `KOPPEL_REQUIRE_TOOLS=1`, in which case it fails.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use koppel_odata::csdl::{escape_xml_attribute, metadata_xml};
use koppel_odata::{EdmType, ModelError, Property};

use crate::support::{sample_model, third_party_dir};

/// Whether `xmllint` can run; if it cannot, either fail (tools required) or explain the skip.
fn xmllint_available() -> bool {
    match Command::new("xmllint").arg("--version").output() {
        Ok(output) if output.status.success() => true,
        outcome => {
            let required = std::env::var("KOPPEL_REQUIRE_TOOLS").is_ok_and(|value| value == "1");
            assert!(
                !required,
                "KOPPEL_REQUIRE_TOOLS=1 but xmllint cannot run ({outcome:?}); apt-get install libxml2-utils"
            );
            eprintln!(
                "\n!!!!!!!! SKIPPED: CSDL schema validation needs xmllint (apt-get install -y libxml2-utils) !!!!!!!!\n"
            );
            false
        }
    }
}

fn write_temporary(xml: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "koppel-odata-metadata-{}-{}.xml",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, xml).expect("write temporary metadata file");
    path
}

/// Runs `xmllint --schema edmx.xsd`; returns its verdict and output.
fn validate(xml: &str) -> (bool, String) {
    let schema: PathBuf = third_party_dir().join("edmx.xsd");
    assert!(Path::new(&schema).exists(), "missing {}", schema.display());
    let file = write_temporary(xml);
    let output = Command::new("xmllint")
        .args(["--noout", "--nonet", "--schema"])
        .arg(&schema)
        .arg(&file)
        .output()
        .expect("run xmllint");
    let _ = std::fs::remove_file(&file);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
fn metadata_validates_against_the_csdl_schema() {
    let xml = metadata_xml(&sample_model()).unwrap();
    if !xmllint_available() {
        return;
    }
    let (valid, output) = validate(&xml);
    assert!(valid, "xmllint rejected the metadata:\n{output}\n{xml}");

    // The validation is real: a document missing a required attribute is rejected.
    let broken = xml.replacen(r#" Type="Edm.Int64""#, "", 1);
    let (valid, _) = validate(&broken);
    assert!(!valid, "xmllint should reject a Property without Type");
}

#[test]
fn metadata_declares_types_keys_facets_and_capabilities() {
    let xml = metadata_xml(&sample_model()).unwrap();
    for expected in [
        r#"<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">"#,
        r#"<edmx:Include Namespace="Org.OData.Capabilities.V1" Alias="Capabilities"/>"#,
        r#"<edmx:Include Namespace="Org.OData.Core.V1" Alias="Core"/>"#,
        r#"<Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="Koppel.Feed">"#,
        r#"<PropertyRef Name="Id"/>"#,
        r#"<Property Name="Amount" Type="Edm.Decimal" Nullable="false" Precision="18" Scale="2"/>"#,
        r#"<Property Name="CustomerName" Type="Edm.String" Nullable="true"/>"#,
        r#"<Property Name="ModifiedAt" Type="Edm.DateTimeOffset" Nullable="false" Precision="6"/>"#,
        r#"<Property Name="DueDate" Type="Edm.Date" Nullable="true"/>"#,
        r#"<EntitySet Name="Invoices" EntityType="Koppel.Feed.Invoice">"#,
        r#"<Annotation Term="Capabilities.ConformanceLevel" EnumMember="Capabilities.ConformanceLevelType/Intermediate"/>"#,
        r#"<PropertyValue Property="Insertable" Bool="false"/>"#,
        r#"<PropertyValue Property="Updatable" Bool="false"/>"#,
        r#"<PropertyValue Property="Deletable" Bool="false"/>"#,
        r#"<Annotation Term="Core.ODataVersions" String="4.0"/>"#,
        "<String>startswith</String>",
    ] {
        assert!(xml.contains(expected), "missing {expected} in\n{xml}");
    }
    // Every property of every type is declared, in order.
    let amount = xml.find(r#"Name="Amount""#).unwrap();
    let modified = xml.find(r#"Name="ModifiedAt""#).unwrap();
    assert!(amount < modified);
}

#[test]
fn invalid_models_produce_no_metadata() {
    let mut model = sample_model();
    model.entity_types[0]
        .properties
        .push(Property::required("A\"<&>", EdmType::String));
    assert!(matches!(metadata_xml(&model), Err(ModelError::InvalidName { .. })));
}

#[test]
fn attribute_values_are_escaped() {
    assert_eq!(escape_xml_attribute(r#"a&b<c>"d'"#), "a&amp;b&lt;c&gt;&quot;d&apos;");
    assert_eq!(escape_xml_attribute("tab\tline\n"), "tab&#9;line&#10;");
    assert_eq!(escape_xml_attribute("Größe"), "Größe");
}
