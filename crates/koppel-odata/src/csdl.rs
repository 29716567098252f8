//! Writing a [`Model`] as the CSDL XML document (EDMX 4.0) that a service answers at `$metadata`.
//!
//! Power BI insists on the XML form. Besides the types and entity sets the document declares, with
//! the standard vocabularies, what the service is: OData 4.0 at the "Intermediate" conformance level
//! (`Capabilities.ConformanceLevel`, `Core.ODataVersions`), read-only (`Capabilities.InsertRestrictions`,
//! `UpdateRestrictions`, `DeleteRestrictions` on every entity set), without `$batch`, and which
//! `$filter` functions it implements (`Capabilities.FilterFunctions`).

use std::fmt::Write as _;

use crate::filter::Function;
use crate::model::{EdmType, Model, ModelError};

/// Where the Core vocabulary is published, as the OData specification references it.
pub const CORE_VOCABULARY_URI: &str =
    "https://oasis-tcs.github.io/odata-vocabularies/vocabularies/Org.OData.Core.V1.xml";
/// Where the Capabilities vocabulary is published.
pub const CAPABILITIES_VOCABULARY_URI: &str =
    "https://oasis-tcs.github.io/odata-vocabularies/vocabularies/Org.OData.Capabilities.V1.xml";

/// Fractional-second digits declared for every `Edm.DateTimeOffset` property (CSDL's default is 0,
/// whole seconds). The feed must not write instants more precise than this: microseconds.
pub const DATE_TIME_OFFSET_PRECISION: u8 = 6;

/// Escapes text for use inside an XML attribute value delimited by `"`.
pub fn escape_xml_attribute(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            // Line breaks and tabs would be normalised to spaces by XML parsers: keep them as references.
            '\n' => escaped.push_str("&#10;"),
            '\r' => escaped.push_str("&#13;"),
            '\t' => escaped.push_str("&#9;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// Writes the `$metadata` document for a model, after validating it.
///
/// # Errors
/// The [`ModelError`] from [`Model::validate`] when the model is invalid.
pub fn metadata_xml(model: &Model) -> Result<String, ModelError> {
    model.validate()?;
    let namespace = escape_xml_attribute(&model.namespace);
    let mut xml = String::new();
    // Writing to a String cannot fail; the `let _` keeps the builder code flat.
    let _ = writeln!(xml, r#"<?xml version="1.0" encoding="utf-8"?>"#);
    let _ = writeln!(
        xml,
        r#"<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">"#
    );
    for (uri, vocabulary, alias) in [
        (CORE_VOCABULARY_URI, "Org.OData.Core.V1", "Core"),
        (CAPABILITIES_VOCABULARY_URI, "Org.OData.Capabilities.V1", "Capabilities"),
    ] {
        let _ = writeln!(xml, r#"  <edmx:Reference Uri="{}">"#, escape_xml_attribute(uri));
        let _ = writeln!(xml, r#"    <edmx:Include Namespace="{vocabulary}" Alias="{alias}"/>"#);
        let _ = writeln!(xml, "  </edmx:Reference>");
    }
    let _ = writeln!(xml, "  <edmx:DataServices>");
    let _ = writeln!(
        xml,
        r#"    <Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="{namespace}">"#
    );
    for entity_type in &model.entity_types {
        let _ = writeln!(
            xml,
            r#"      <EntityType Name="{}">"#,
            escape_xml_attribute(&entity_type.name)
        );
        let _ = writeln!(xml, "        <Key>");
        for key in &entity_type.key {
            let _ = writeln!(xml, r#"          <PropertyRef Name="{}"/>"#, escape_xml_attribute(key));
        }
        let _ = writeln!(xml, "        </Key>");
        for property in &entity_type.properties {
            let facets = match property.edm_type {
                EdmType::Decimal { precision, scale } => format!(r#" Precision="{precision}" Scale="{scale}""#),
                EdmType::DateTimeOffset => format!(r#" Precision="{DATE_TIME_OFFSET_PRECISION}""#),
                _ => String::new(),
            };
            let _ = writeln!(
                xml,
                r#"        <Property Name="{}" Type="{}" Nullable="{}"{facets}/>"#,
                escape_xml_attribute(&property.name),
                property.edm_type.name(),
                property.nullable
            );
        }
        let _ = writeln!(xml, "      </EntityType>");
    }
    let _ = writeln!(
        xml,
        r#"      <EntityContainer Name="{}">"#,
        escape_xml_attribute(&model.container)
    );
    for set in &model.entity_sets {
        let _ = writeln!(
            xml,
            r#"        <EntitySet Name="{}" EntityType="{namespace}.{}">"#,
            escape_xml_attribute(&set.name),
            escape_xml_attribute(&set.entity_type)
        );
        for (term, property) in [
            ("InsertRestrictions", "Insertable"),
            ("UpdateRestrictions", "Updatable"),
            ("DeleteRestrictions", "Deletable"),
        ] {
            let _ = writeln!(xml, r#"          <Annotation Term="Capabilities.{term}">"#);
            let _ = writeln!(
                xml,
                r#"            <Record><PropertyValue Property="{property}" Bool="false"/></Record>"#
            );
            let _ = writeln!(xml, "          </Annotation>");
        }
        let _ = writeln!(xml, "        </EntitySet>");
    }
    let _ = writeln!(xml, r#"        <Annotation Term="Core.ODataVersions" String="4.0"/>"#);
    let _ = writeln!(
        xml,
        r#"        <Annotation Term="Capabilities.ConformanceLevel" EnumMember="Capabilities.ConformanceLevelType/Intermediate"/>"#
    );
    let _ = writeln!(
        xml,
        r#"        <Annotation Term="Capabilities.BatchSupported" Bool="false"/>"#
    );
    let _ = writeln!(xml, r#"        <Annotation Term="Capabilities.FilterFunctions">"#);
    let _ = writeln!(xml, "          <Collection>");
    for function in Function::ALL {
        let _ = writeln!(xml, "            <String>{}</String>", function.name());
    }
    let _ = writeln!(xml, "          </Collection>");
    let _ = writeln!(xml, "        </Annotation>");
    let _ = writeln!(xml, "      </EntityContainer>");
    let _ = writeln!(xml, "    </Schema>");
    let _ = writeln!(xml, "  </edmx:DataServices>");
    let _ = writeln!(xml, "</edmx:Edmx>");
    Ok(xml)
}
