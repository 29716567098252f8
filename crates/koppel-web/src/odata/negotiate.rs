//! Which representation a feed request gets: OData JSON with its format parameters
//! (`odata.metadata`, `IEEE754Compatible`), chosen from `$format` or else `Accept`, or 406.
//!
//! `$format` wins over `Accept` (OData 4.01 Protocol §8.2.1). Only JSON is served; `$metadata` is
//! CSDL XML whatever is asked (Power BI needs that) and `/$count` and `/$value` are plain text.

use super::FeedError;
use axum::http::{HeaderMap, StatusCode, header};
use koppel_odata::query::percent_decode;

/// How much control information a JSON answer carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metadata {
    Minimal,
    /// Only `@odata.nextLink` and `@odata.count`; no `@odata.context`.
    None,
}

/// The JSON representation a client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct JsonFormat {
    pub metadata: Metadata,
    /// `IEEE754Compatible=true`: `Edm.Int64` and `Edm.Decimal` values (and `@odata.count`) are
    /// written as JSON strings, for readers whose numbers are binary floating point.
    pub ieee754: bool,
}

impl Default for JsonFormat {
    fn default() -> Self {
        JsonFormat {
            metadata: Metadata::Minimal,
            ieee754: false,
        }
    }
}

impl JsonFormat {
    /// The `Content-Type` of an answer in this format; it echoes the parameters in effect.
    pub fn content_type(&self) -> &'static str {
        match (self.metadata, self.ieee754) {
            (Metadata::Minimal, false) => {
                "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
            }
            (Metadata::Minimal, true) => {
                "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=true;charset=utf-8"
            }
            (Metadata::None, false) => {
                "application/json;odata.metadata=none;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
            }
            (Metadata::None, true) => {
                "application/json;odata.metadata=none;odata.streaming=true;IEEE754Compatible=true;charset=utf-8"
            }
        }
    }
}

fn not_acceptable(message: impl Into<String>) -> FeedError {
    FeedError::new(StatusCode::NOT_ACCEPTABLE, "not_acceptable", message)
}

/// The query string without `$format` (which the query-option parser does not know), and the
/// `$format` value, decoded, if one was given.
pub fn take_format(raw_query: &str) -> Result<(String, Option<String>), FeedError> {
    let mut kept = Vec::new();
    let mut format = None;
    for part in raw_query.split('&').filter(|part| !part.is_empty()) {
        let (name, value) = part.split_once('=').unwrap_or((part, ""));
        let decoded = percent_decode(name).unwrap_or_default().to_ascii_lowercase();
        if decoded == "$format" || decoded == "format" {
            if format.is_some() {
                return Err(FeedError::new(
                    StatusCode::BAD_REQUEST,
                    "malformed_query",
                    "$format is given more than once",
                ));
            }
            let value = percent_decode(&value.replace('+', " ")).map_err(|_| {
                FeedError::new(
                    StatusCode::BAD_REQUEST,
                    "malformed_query",
                    "$format: invalid percent-encoding",
                )
            })?;
            format = Some(value);
        } else {
            kept.push(part);
        }
    }
    Ok((kept.join("&"), format))
}

/// The JSON format for a request, from `$format` (already taken from the query) or `Accept`.
pub fn json_format(headers: &HeaderMap, format: Option<&str>) -> Result<JsonFormat, FeedError> {
    if let Some(format) = format {
        let range = MediaRange::parse(format);
        let is_json = format.trim().eq_ignore_ascii_case("json")
            || range.as_ref().is_some_and(|range| range.kind == "application/json");
        if !is_json {
            return Err(not_acceptable(format!(
                "$format={format}: this feed answers only JSON; use $format=json or leave $format out"
            )));
        }
        return match range {
            Some(range) => range.json_parameters().map_err(not_acceptable),
            None => Ok(JsonFormat::default()),
        };
    }
    let accept: Vec<&str> = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect();
    let ranges: Vec<MediaRange> = accept
        .iter()
        .flat_map(|value| value.split(','))
        .filter(|item| !item.trim().is_empty())
        .filter_map(MediaRange::parse)
        .collect();
    if ranges.is_empty() {
        return Ok(JsonFormat::default());
    }
    // The acceptable ranges that JSON satisfies, best first (higher q, then more specific, then
    // earlier); the first whose parameters we can honour decides.
    let mut candidates: Vec<(usize, &MediaRange)> = ranges
        .iter()
        .enumerate()
        .filter(|(_, range)| range.q > 0 && matches!(range.kind.as_str(), "application/json" | "application/*" | "*/*"))
        .collect();
    candidates.sort_by_key(|(index, range)| {
        (
            std::cmp::Reverse(range.q),
            usize::from(range.kind != "application/json"),
            *index,
        )
    });
    let mut refusal = None;
    for (_, range) in candidates {
        match range.json_parameters() {
            Ok(format) => return Ok(format),
            Err(reason) => refusal = refusal.or(Some(reason)),
        }
    }
    Err(not_acceptable(refusal.unwrap_or_else(|| {
        format!(
            "this feed answers OData JSON (application/json), which the Accept header ({}) does not allow",
            accept.join(", ")
        )
    })))
}

/// One media range of `Accept` (or a `$format` media type).
#[derive(Debug)]
struct MediaRange {
    /// `type/subtype`, lower-cased.
    kind: String,
    /// Parameters other than `q`, names lower-cased.
    parameters: Vec<(String, String)>,
    /// Quality in thousandths.
    q: u16,
}

impl MediaRange {
    fn parse(text: &str) -> Option<MediaRange> {
        let mut parts = text.split(';');
        let kind = parts.next()?.trim().to_ascii_lowercase();
        if !kind.contains('/') {
            return None;
        }
        let mut parameters = Vec::new();
        let mut q = 1000;
        for parameter in parts {
            let Some((name, value)) = parameter.split_once('=') else {
                continue;
            };
            let name = name.trim().to_ascii_lowercase();
            let value = value.trim().trim_matches('"').to_string();
            if name == "q" {
                q = parse_quality(&value)?;
            } else {
                parameters.push((name, value));
            }
        }
        Some(MediaRange { kind, parameters, q })
    }

    /// The JSON format its parameters ask for, or why they cannot be honoured.
    fn json_parameters(&self) -> Result<JsonFormat, String> {
        let mut format = JsonFormat::default();
        for (name, value) in &self.parameters {
            match name.as_str() {
                "odata.metadata" | "metadata" => {
                    format.metadata = match value.to_ascii_lowercase().as_str() {
                        "minimal" => Metadata::Minimal,
                        "none" => Metadata::None,
                        _ => {
                            return Err(format!(
                                "odata.metadata={value} is not served; this feed answers odata.metadata=minimal or none"
                            ));
                        }
                    }
                }
                "ieee754compatible" => {
                    format.ieee754 = match value.to_ascii_lowercase().as_str() {
                        "true" => true,
                        "false" => false,
                        _ => return Err(format!("IEEE754Compatible must be true or false, not {value}")),
                    }
                }
                "charset" if !value.eq_ignore_ascii_case("utf-8") => {
                    return Err(format!("charset={value} is not served; this feed answers UTF-8"));
                }
                // odata.streaming, OData 3's `odata=minimalmetadata` (Power BI sends it) and
                // parameters this feed does not know change nothing.
                _ => {}
            }
        }
        Ok(format)
    }
}

/// `q` as thousandths: `0`, `1`, `0.7`, `0.125` (RFC 9110 §12.4.2).
fn parse_quality(text: &str) -> Option<u16> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{fraction:0<3}").parse::<u16>().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const POWER_QUERY_ACCEPT: &str = "application/json;odata.metadata=minimal;q=1.0,application/json;odata=minimalmetadata;q=0.9,application/atomsvc+xml;q=0.8,application/atom+xml;q=0.8,application/xml;q=0.7,text/plain;q=0.7";

    fn accept(value: &str) -> Result<JsonFormat, FeedError> {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        json_format(&headers, None)
    }

    #[test]
    fn accept_headers_choose_json_or_are_refused() {
        assert_eq!(accept(POWER_QUERY_ACCEPT).unwrap(), JsonFormat::default());
        assert_eq!(json_format(&HeaderMap::new(), None).unwrap(), JsonFormat::default());
        assert!(accept("application/json;IEEE754Compatible=true").unwrap().ieee754);
        assert_eq!(
            accept("application/json;odata.metadata=none").unwrap().metadata,
            Metadata::None
        );
        assert_eq!(
            accept("application/xml").unwrap_err().status,
            StatusCode::NOT_ACCEPTABLE
        );
        assert_eq!(
            accept("application/json;q=0, text/html").unwrap_err().status,
            StatusCode::NOT_ACCEPTABLE
        );
        assert_eq!(accept("application/xml, */*;q=0.1").unwrap(), JsonFormat::default());
        // A range asking for full metadata is passed over for one we can serve.
        assert_eq!(
            accept("application/json;odata.metadata=full, application/json;q=0.5").unwrap(),
            JsonFormat::default()
        );
        assert_eq!(
            accept("application/json;odata.metadata=full").unwrap_err().status,
            StatusCode::NOT_ACCEPTABLE
        );
    }

    #[test]
    fn format_wins_over_accept() {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/xml"));
        assert_eq!(json_format(&headers, Some("json")).unwrap(), JsonFormat::default());
        assert!(
            json_format(&headers, Some("application/json;IEEE754Compatible=true"))
                .unwrap()
                .ieee754
        );
        for refused in ["xml", "atom", "application/xml", "text/csv"] {
            assert_eq!(
                json_format(&HeaderMap::new(), Some(refused)).unwrap_err().status,
                StatusCode::NOT_ACCEPTABLE,
                "{refused}"
            );
        }
        let (rest, format) = take_format("$top=1&%24format=application%2Fjson%3BIEEE754Compatible%3Dtrue").unwrap();
        assert_eq!(
            (rest.as_str(), format.as_deref()),
            ("$top=1", Some("application/json;IEEE754Compatible=true"))
        );
    }
}
