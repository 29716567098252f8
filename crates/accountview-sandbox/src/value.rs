//! Field types and cell values of AccountView tables, and the wire formats AccountView uses for them.
//!
//! Numbers are fixed-point (four decimals) because amounts are money: floats would let VAT checks and
//! open-amount sums drift by a cent. Dates are `YYYY-MM-DD`, datetimes `YYYY-MM-DDTHH:MM:SS` without zone,
//! and an empty date is `""`, exactly as accountview.md describes the wire.

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize, Serializer};

/// The scale of [`Value::Number`]: a stored 12_3400 means 12.34.
pub const NUMBER_SCALE: i64 = 10_000;
/// How many decimals a stored number can carry.
pub const MAX_DECIMALS: u8 = 4;

const DATE_FORMAT: &str = "%Y-%m-%d";
const DATETIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S";

/// AccountView's field type letters (`FieldType` in POST definitions, `FilterValueType` in reads).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FieldType {
    /// Character.
    C,
    /// Numeric.
    N,
    /// Date.
    D,
    /// Datetime.
    T,
    /// Logical.
    L,
}

impl FieldType {
    /// Parses a type letter; AccountView is case-insensitive here, so the sandbox is too.
    pub fn from_letter(letter: &str) -> Option<Self> {
        match letter.trim().to_ascii_uppercase().as_str() {
            "C" => Some(Self::C),
            "N" => Some(Self::N),
            "D" => Some(Self::D),
            "T" => Some(Self::T),
            "L" => Some(Self::L),
            _ => None,
        }
    }

    pub fn letter(self) -> char {
        match self {
            Self::C => 'C',
            Self::N => 'N',
            Self::D => 'D',
            Self::T => 'T',
            Self::L => 'L',
        }
    }

    /// The value a field of this type has when nobody set it.
    pub fn empty_value(self) -> Value {
        match self {
            Self::C => Value::Text(String::new()),
            Self::N => Value::Number(0),
            Self::D => Value::Date(None),
            Self::T => Value::DateTime(None),
            Self::L => Value::Bool(false),
        }
    }
}

/// One cell. The derived ordering (variant first, then content) is only ever used between cells of the
/// same field, so it is the natural order of that field's type; empty dates sort first.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Value {
    Text(String),
    /// Fixed-point, scaled by [`NUMBER_SCALE`].
    Number(i64),
    Date(Option<NaiveDate>),
    DateTime(Option<NaiveDateTime>),
    Bool(bool),
}

impl Value {
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text(text.into())
    }

    /// A whole number (page numbers, line numbers, ids).
    pub fn integer(number: i64) -> Self {
        Self::Number(number * NUMBER_SCALE)
    }

    /// An amount in cents.
    pub fn cents(cents: i64) -> Self {
        Self::Number(cents * (NUMBER_SCALE / 100))
    }

    pub fn as_text(&self) -> &str {
        match self {
            Self::Text(text) => text,
            _ => "",
        }
    }

    pub fn as_number(&self) -> i64 {
        match self {
            Self::Number(number) => *number,
            _ => 0,
        }
    }

    pub fn as_bool(&self) -> bool {
        matches!(self, Self::Bool(true))
    }

    pub fn as_date(&self) -> Option<NaiveDate> {
        match self {
            Self::Date(date) => *date,
            Self::DateTime(datetime) => datetime.map(|datetime| datetime.date()),
            _ => None,
        }
    }

    /// Whether a mandatory field counts as "not filled in".
    pub fn is_empty(&self) -> bool {
        match self {
            Self::Text(text) => text.trim().is_empty(),
            Self::Number(_) | Self::Bool(_) => false,
            Self::Date(date) => date.is_none(),
            Self::DateTime(datetime) => datetime.is_none(),
        }
    }

    /// The value as text, the way keys are echoed in POST results and shown in messages.
    pub fn display(&self) -> String {
        match self {
            Self::Text(text) => text.clone(),
            Self::Number(number) => format_decimal(*number),
            Self::Date(date) => date
                .map(|date| date.format(DATE_FORMAT).to_string())
                .unwrap_or_default(),
            Self::DateTime(datetime) => datetime
                .map(|datetime| datetime.format(DATETIME_FORMAT).to_string())
                .unwrap_or_default(),
            Self::Bool(flag) => flag.to_string(),
        }
    }

    /// A view of this value that serializes in AccountView's wire format.
    pub fn wire(&self) -> Wire<'_> {
        Wire(self)
    }
}

/// Serializes a [`Value`] as AccountView sends it: numbers as JSON numbers, dates as strings, empty dates as `""`.
pub struct Wire<'a>(&'a Value);

impl Serialize for Wire<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Text(text) => serializer.serialize_str(text),
            Value::Number(number) => {
                if number % NUMBER_SCALE == 0 {
                    serializer.serialize_i64(number / NUMBER_SCALE)
                } else {
                    // Shortest round-trip formatting of a value with at most four decimals gives exactly
                    // those decimals back, so this does not introduce float noise on the wire.
                    serializer.serialize_f64(*number as f64 / NUMBER_SCALE as f64)
                }
            }
            Value::Date(Some(date)) => match wire_datetime(date.and_time(chrono::NaiveTime::MIN)) {
                Some(text) => serializer.serialize_str(&text.as_str()[..10]),
                None => serializer.collect_str(&date.format(DATE_FORMAT)),
            },
            Value::DateTime(Some(datetime)) => match wire_datetime(*datetime) {
                Some(text) => serializer.serialize_str(text.as_str()),
                None => serializer.collect_str(&datetime.format(DATETIME_FORMAT)),
            },
            Value::Date(None) | Value::DateTime(None) => serializer.serialize_str(""),
            Value::Bool(flag) => serializer.serialize_bool(*flag),
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SS` written digit by digit: every row of every page has a `CNG_DATE`, and chrono's
/// general formatter (which interprets its pattern on each call) was a noticeable share of a page's cost.
/// `None` for years outside 0..=9999, which the general formatter handles.
fn wire_datetime(datetime: NaiveDateTime) -> Option<WireText> {
    use chrono::{Datelike, Timelike};
    let year = u32::try_from(datetime.year()).ok().filter(|year| *year <= 9999)?;
    let mut bytes = *b"0000-00-00T00:00:00";
    let mut put = |position: usize, width: usize, mut number: u32| {
        for index in (position..position + width).rev() {
            bytes[index] = b'0' + (number % 10) as u8;
            number /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, datetime.month());
    put(8, 2, datetime.day());
    put(11, 2, datetime.hour());
    put(14, 2, datetime.minute());
    put(17, 2, datetime.second());
    Some(WireText(bytes))
}

/// The ASCII text of [`wire_datetime`].
struct WireText([u8; 19]);

impl WireText {
    fn as_str(&self) -> &str {
        // Only ASCII digits and separators are ever written, so this cannot fail.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// A decimal parsed from text: the scaled value and how many decimals were written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParsedDecimal {
    pub scaled: i64,
    pub decimals: u8,
    /// Digits before the decimal point, for length checks against AccountView's field widths.
    pub integer_digits: u8,
}

/// Parses `-12.34` style decimals exactly (no exponent, `.` as separator, at most four decimals).
pub fn parse_decimal(text: &str) -> Option<ParsedDecimal> {
    let text = text.trim();
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (integer_part, fraction_part) = match unsigned.split_once('.') {
        Some((integer, fraction)) => (integer, fraction),
        None => (unsigned, ""),
    };
    if integer_part.is_empty() && fraction_part.is_empty() {
        return None;
    }
    if !integer_part.bytes().all(|byte| byte.is_ascii_digit()) || !fraction_part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let fraction_part = fraction_part.trim_end_matches('0');
    if fraction_part.len() > MAX_DECIMALS as usize {
        return None;
    }
    let integer_digits = integer_part.trim_start_matches('0').len();
    // 14 integer digits keep the scaled value far inside i64 and exceed every AccountView numeric width.
    if integer_digits > 14 {
        return None;
    }
    let integer: i64 = if integer_part.is_empty() {
        0
    } else {
        integer_part.parse().ok()?
    };
    let mut fraction: i64 = if fraction_part.is_empty() {
        0
    } else {
        fraction_part.parse().ok()?
    };
    for _ in fraction_part.len()..MAX_DECIMALS as usize {
        fraction *= 10;
    }
    let magnitude = integer.checked_mul(NUMBER_SCALE)?.checked_add(fraction)?;
    Some(ParsedDecimal {
        scaled: if negative { -magnitude } else { magnitude },
        decimals: fraction_part.len() as u8,
        integer_digits: integer_digits as u8,
    })
}

/// Formats a scaled number as plain decimal text without trailing zeros.
pub fn format_decimal(scaled: i64) -> String {
    let sign = if scaled < 0 { "-" } else { "" };
    let magnitude = scaled.unsigned_abs();
    let integer = magnitude / NUMBER_SCALE as u64;
    let fraction = magnitude % NUMBER_SCALE as u64;
    if fraction == 0 {
        format!("{sign}{integer}")
    } else {
        let fraction = format!("{fraction:04}");
        format!("{sign}{integer}.{}", fraction.trim_end_matches('0'))
    }
}

/// Parses a JSON number exactly: integers directly, floats through Rust's shortest decimal rendering,
/// which never uses an exponent and gives back the digits the client wrote.
pub fn parse_json_number(number: &serde_json::Number) -> Option<ParsedDecimal> {
    if let Some(integer) = number.as_i64() {
        return parse_decimal(&integer.to_string());
    }
    let float = number.as_f64()?;
    if !float.is_finite() {
        return None;
    }
    parse_decimal(&float.to_string())
}

/// Parses `YYYY-MM-DD` strictly (ten characters, zero padded).
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    if text.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(text, DATE_FORMAT).ok()
}

/// Parses `YYYY-MM-DDTHH:MM:SS` strictly (no zone, no fraction).
pub fn parse_datetime(text: &str) -> Option<NaiveDateTime> {
    if text.len() != 19 {
        return None;
    }
    NaiveDateTime::parse_from_str(text, DATETIME_FORMAT).ok()
}

/// Parses a logical the ways AccountView clients write one.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | ".t." | "t" | "y" => Some(true),
        "false" | "0" | ".f." | "f" | "n" => Some(false),
        _ => None,
    }
}

/// Rounds a scaled amount to whole cents, half away from zero (the Dutch VAT rounding rule).
pub fn round_to_cents(scaled: i128) -> i128 {
    let step = (NUMBER_SCALE / 100) as i128;
    let half = step / 2;
    if scaled >= 0 {
        (scaled + half) / step * step
    } else {
        -((-scaled + half) / step * step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_parse_exactly() {
        assert_eq!(parse_decimal("12.34").map(|d| d.scaled), Some(123_400));
        assert_eq!(parse_decimal("-0.5").map(|d| d.scaled), Some(-5_000));
        assert_eq!(parse_decimal("7").map(|d| (d.scaled, d.decimals)), Some((70_000, 0)));
        assert_eq!(parse_decimal("1.23456"), None);
        assert_eq!(parse_decimal("1e5"), None);
        assert_eq!(parse_decimal(""), None);
        assert_eq!(parse_decimal("."), None);
        assert_eq!(format_decimal(-123_400), "-12.34");
        assert_eq!(format_decimal(70_000), "7");
    }

    #[test]
    fn json_floats_keep_their_digits() {
        let number: serde_json::Number = serde_json::from_str("1234.56").expect("valid json number");
        assert_eq!(
            parse_json_number(&number).map(|d| (d.scaled, d.decimals)),
            Some((12_345_600, 2))
        );
        let wire = serde_json::to_string(&Value::Number(12_345_600).wire()).expect("serializable");
        assert_eq!(wire, "1234.56");
    }

    #[test]
    fn dates_serialize_as_accountview_writes_them() {
        let datetime = parse_datetime("2026-03-09T07:05:03").expect("valid datetime");
        let wire = serde_json::to_string(&Value::DateTime(Some(datetime)).wire()).expect("serializable");
        assert_eq!(wire, "\"2026-03-09T07:05:03\"");
        let date = parse_date("0987-12-31").expect("valid date");
        let wire = serde_json::to_string(&Value::Date(Some(date)).wire()).expect("serializable");
        assert_eq!(wire, "\"0987-12-31\"");
        let wire = serde_json::to_string(&Value::Date(None).wire()).expect("serializable");
        assert_eq!(wire, "\"\"");
    }

    #[test]
    fn cents_round_half_away_from_zero() {
        assert_eq!(round_to_cents(1_050), 1_100);
        assert_eq!(round_to_cents(1_049), 1_000);
        assert_eq!(round_to_cents(-1_050), -1_100);
    }
}
