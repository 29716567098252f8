//! The feed's `$metadata`: every entity set with a key, plain foreign keys, a non-null UTC
//! `ModifiedAt`, exact decimals. A snapshot shows every change to what Power BI sees.

use koppel_datasync::feed::feed;

#[test]
fn the_metadata_document_is_stable() {
    let xml = koppel_odata::csdl::metadata_xml(&feed().model).expect("valid model");
    for set in &feed().sets {
        assert!(
            xml.contains(&format!("<EntitySet Name=\"{}\"", set.name)),
            "{}",
            set.name
        );
    }
    assert!(xml.contains(r#"<Property Name="ModifiedAt" Type="Edm.DateTimeOffset" Nullable="false" Precision="6"/>"#));
    assert!(xml.contains(r#"<Property Name="Price" Type="Edm.Decimal" Nullable="false" Precision="18" Scale="2"/>"#));
    assert!(xml.contains(r#"<Property Name="CustomerId" Type="Edm.Int64" Nullable="false"/>"#));
    insta::assert_snapshot!("metadata", xml);
}
