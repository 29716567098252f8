//! Exact money, quantities and VAT rates. Never floating point.
//!
//! Money is a whole number of euro cents; quantities (hours, pieces, metres) are a whole number of
//! thousandths. Both travel over the wire as decimal strings (`"1234.56"`, `"1.5"`) so no client
//! ever rounds them through a binary float.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a decimal string could not be read as money or a quantity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    #[error(
        "expected a decimal number such as \"12.50\": digits, at most one leading minus sign, no spaces, no plus sign, no leading zeros, no negative zero"
    )]
    NotANumber,
    #[error("at most {max} decimals are allowed")]
    TooManyDecimals { max: u32 },
    #[error("the number must lie between -{max} and {max}")]
    OutOfRange { max: &'static str },
}

/// A computation whose result would leave the documented range of money or quantities. Koppel
/// refuses it rather than wrap around or round it away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the result would lie outside -{MONEY_MAX_TEXT} .. {MONEY_MAX_TEXT} euro")]
pub struct OutOfRange;

/// The largest amount Koppel holds, in cents: 999,999,999,999.99 euro (15 significant digits, so
/// every amount is also exact as an IEEE double in Power BI and spreadsheets).
pub const MONEY_MAX_CENTS: i64 = 99_999_999_999_999;
/// [`MONEY_MAX_CENTS`] as written on the wire.
pub const MONEY_MAX_TEXT: &str = "999999999999.99";
/// The largest quantity Koppel holds, in thousandths: 999,999,999.999.
pub const QUANTITY_MAX_THOUSANDTHS: i64 = 999_999_999_999;
/// [`QUANTITY_MAX_THOUSANDTHS`] as written on the wire.
pub const QUANTITY_MAX_TEXT: &str = "999999999.999";

/// The exact JSON Schema pattern of a money string: the parser accepts what it matches and nothing
/// else (at most 12 whole digits, 1 or 2 decimals, no leading zeros, no negative zero).
pub const MONEY_PATTERN: &str = "^(0|[1-9][0-9]{0,11}|-[1-9][0-9]{0,11})(\\.[0-9]{1,2})?$|^-0\\.([1-9][0-9]?|0[1-9])$";
/// The exact JSON Schema pattern of a quantity string (at most 9 whole digits, 1 to 3 decimals).
pub const QUANTITY_PATTERN: &str =
    "^(0|[1-9][0-9]{0,8}|-[1-9][0-9]{0,8})(\\.[0-9]{1,3})?$|^-0\\.([1-9][0-9]{0,2}|0[1-9][0-9]?|00[1-9])$";

/// Parses a canonical decimal string into an integer scaled by `10^scale`, within `-max..=max`.
///
/// Strict on purpose, so the server accepts exactly what the published pattern allows: an optional
/// `-`, whole digits without leading zeros, and optionally `.` with 1 to `scale` digits. No spaces,
/// no `+`, no `.5`, no `1.`, no negative zero (`-0`, `-0.00`).
fn parse_scaled(text: &str, scale: u32, max: i64, max_text: &'static str) -> Result<i64, DecimalError> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = match digits.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (digits, None),
    };
    let all_digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || (whole.len() > 1 && whole.starts_with('0')) || fraction.is_some_and(|f| !all_digits(f)) {
        return Err(DecimalError::NotANumber);
    }
    let fraction = fraction.unwrap_or("");
    if fraction.len() > scale as usize {
        return Err(DecimalError::TooManyDecimals { max: scale });
    }
    // Digits beyond what fits are out of range, whatever they are.
    let whole_digits_max = max.to_string().len() - scale as usize;
    if whole.len() > whole_digits_max {
        return Err(DecimalError::OutOfRange { max: max_text });
    }
    let mut scaled: i64 = 0;
    for digit in whole.bytes().chain(fraction.bytes()) {
        scaled = scaled * 10 + i64::from(digit - b'0');
    }
    scaled *= 10_i64.pow(scale - fraction.len() as u32);
    if scaled > max {
        return Err(DecimalError::OutOfRange { max: max_text });
    }
    if negative && scaled == 0 {
        return Err(DecimalError::NotANumber);
    }
    Ok(if negative { -scaled } else { scaled })
}

fn format_scaled(value: i64, scale: u32, min_decimals: u32, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let divisor = 10_i64.pow(scale);
    let sign = if value < 0 { "-" } else { "" };
    let magnitude = value.unsigned_abs();
    let whole = magnitude / divisor as u64;
    let mut fraction = format!("{:0width$}", magnitude % divisor as u64, width = scale as usize);
    while fraction.len() > min_decimals as usize && fraction.ends_with('0') {
        fraction.pop();
    }
    if fraction.is_empty() {
        write!(f, "{sign}{whole}")
    } else {
        write!(f, "{sign}{whole}.{fraction}")
    }
}

/// Divides with rounding half away from zero (the commercial rounding Dutch invoices use).
fn div_round(numerator: i128, denominator: i128) -> i128 {
    let quotient = numerator / denominator;
    let remainder = numerator % denominator;
    if remainder.abs() * 2 >= denominator.abs() {
        quotient + numerator.signum() * denominator.signum()
    } else {
        quotient
    }
}

/// An amount in euro cents, within `-MONEY_MAX_CENTS..=MONEY_MAX_CENTS` when it came from
/// [`Money::parse`] or a checked computation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(i64);

impl Money {
    pub const ZERO: Money = Money(0);
    pub const MAX: Money = Money(MONEY_MAX_CENTS);

    /// An amount as stored (stored amounts were checked when they were written).
    pub fn from_cents(cents: i64) -> Money {
        Money(cents)
    }

    /// An amount in cents, if it lies within the range.
    pub fn checked_from_cents(cents: i64) -> Result<Money, OutOfRange> {
        if (-MONEY_MAX_CENTS..=MONEY_MAX_CENTS).contains(&cents) {
            Ok(Money(cents))
        } else {
            Err(OutOfRange)
        }
    }

    pub fn cents(self) -> i64 {
        self.0
    }

    pub fn parse(text: &str) -> Result<Money, DecimalError> {
        parse_scaled(text, 2, MONEY_MAX_CENTS, MONEY_MAX_TEXT).map(Money)
    }

    /// Price × quantity, rounded to the cent; refused when the result leaves the range.
    pub fn times(self, quantity: Quantity) -> Result<Money, OutOfRange> {
        let product = i128::from(self.0) * i128::from(quantity.thousandths());
        Money::from_wide(div_round(product, 1000))
    }

    /// The VAT on this amount at the given rate, rounded to the cent.
    pub fn vat(self, rate: VatRate) -> Result<Money, OutOfRange> {
        Money::from_wide(div_round(i128::from(self.0) * i128::from(rate.percent()), 100))
    }

    /// The sum, refused when it leaves the range.
    pub fn checked_add(self, other: Money) -> Result<Money, OutOfRange> {
        Money::from_wide(i128::from(self.0) + i128::from(other.0))
    }

    /// The difference, refused when it leaves the range.
    pub fn checked_sub(self, other: Money) -> Result<Money, OutOfRange> {
        Money::from_wide(i128::from(self.0) - i128::from(other.0))
    }

    /// The sum of many amounts, refused as soon as a partial sum leaves the range.
    pub fn checked_sum(amounts: impl IntoIterator<Item = Money>) -> Result<Money, OutOfRange> {
        amounts
            .into_iter()
            .try_fold(Money::ZERO, |total, amount| total.checked_add(amount))
    }

    fn from_wide(value: i128) -> Result<Money, OutOfRange> {
        i64::try_from(value)
            .map_err(|_| OutOfRange)
            .and_then(Money::checked_from_cents)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        format_scaled(self.0, 2, 2, f)
    }
}

impl Serialize for Money {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Money::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A quantity (hours, pieces, metres) in thousandths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Quantity(i64);

impl Quantity {
    pub fn from_thousandths(thousandths: i64) -> Quantity {
        Quantity(thousandths)
    }

    pub fn thousandths(self) -> i64 {
        self.0
    }

    pub fn parse(text: &str) -> Result<Quantity, DecimalError> {
        parse_scaled(text, 3, QUANTITY_MAX_THOUSANDTHS, QUANTITY_MAX_TEXT).map(Quantity)
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        format_scaled(self.0, 3, 0, f)
    }
}

/// The Dutch VAT rates a line can carry. Reverse charge (verlegd) charges 0% but is reported apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum VatRate {
    #[serde(rename = "21")]
    High,
    #[serde(rename = "9")]
    Low,
    #[serde(rename = "0")]
    Zero,
    #[serde(rename = "verlegd")]
    ReverseCharge,
}

impl VatRate {
    pub const ALL: [VatRate; 4] = [VatRate::High, VatRate::Low, VatRate::Zero, VatRate::ReverseCharge];

    pub fn percent(self) -> i64 {
        match self {
            VatRate::High => 21,
            VatRate::Low => 9,
            VatRate::Zero | VatRate::ReverseCharge => 0,
        }
    }

    /// The stable text form used in storage, JSON and reporting.
    pub fn as_str(self) -> &'static str {
        match self {
            VatRate::High => "21",
            VatRate::Low => "9",
            VatRate::Zero => "0",
            VatRate::ReverseCharge => "verlegd",
        }
    }

    pub fn parse(text: &str) -> Option<VatRate> {
        VatRate::ALL.into_iter().find(|rate| rate.as_str() == text)
    }

    /// Whether a percentage written as a decimal (`21`, `21.00`, `9.0`) is exactly this rate's, compared
    /// as exact thousandths; text that is not such a decimal is no rate's percentage.
    pub fn has_percentage(self, text: &str) -> bool {
        Quantity::parse(text).is_ok_and(|percentage| percentage.thousandths() == self.percent() * 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vat_percentages_compare_exactly() {
        assert!(VatRate::High.has_percentage("21"));
        assert!(VatRate::High.has_percentage("21.00"));
        assert!(VatRate::Low.has_percentage("9.0"));
        assert!(VatRate::Zero.has_percentage("0"));
        assert!(!VatRate::High.has_percentage("21.001"));
        assert!(!VatRate::High.has_percentage("9"));
        assert!(!VatRate::High.has_percentage("eenentwintig"));
        assert!(!VatRate::Zero.has_percentage(""));
    }

    #[test]
    fn money_parses_and_prints_exactly() {
        assert_eq!(Money::parse("1234.56").unwrap().cents(), 123_456);
        assert_eq!(Money::parse("-0.5").unwrap().cents(), -50);
        assert_eq!(Money::parse("7").unwrap().to_string(), "7.00");
        assert_eq!(Money::parse("0.10").unwrap().to_string(), "0.10");
        assert_eq!(Money::parse("1.234"), Err(DecimalError::TooManyDecimals { max: 2 }));
        assert_eq!(Money::parse("abc"), Err(DecimalError::NotANumber));
        assert_eq!(Money::parse("1."), Err(DecimalError::NotANumber));
        assert_eq!(Money::parse(""), Err(DecimalError::NotANumber));
        assert_eq!(
            Money::parse("99999999999999999999"),
            Err(DecimalError::OutOfRange { max: MONEY_MAX_TEXT })
        );
    }

    /// Exactly what the published pattern allows, and nothing else.
    #[test]
    fn money_parsing_is_as_strict_as_the_published_pattern() {
        for text in [
            "-0", "-0.00", "-0.0", " 1.00", "1.00 ", "+1.00", ".5", "01.00", "00", "-01", "1.230", "1e3", "1,00",
            "--1", "-",
        ] {
            assert!(Money::parse(text).is_err(), "{text:?} must be refused");
        }
        for (text, cents) in [
            ("0", 0),
            ("0.5", 50),
            ("-0.05", -5),
            ("-0.5", -50),
            ("10", 1000),
            ("-12.34", -1234),
        ] {
            assert_eq!(Money::parse(text).unwrap().cents(), cents, "{text:?}");
        }
        for text in ["-0.1", "0.00", "-7.05"] {
            assert!(Money::parse(text).is_ok(), "{text:?} must be accepted");
        }
        assert!(Quantity::parse("-0.000").is_err());
        assert!(Quantity::parse("-0.001").is_ok());
        assert!(Quantity::parse("1.2345").is_err());
    }

    #[test]
    fn amounts_have_a_documented_range() {
        assert_eq!(Money::parse(MONEY_MAX_TEXT).unwrap(), Money::MAX);
        assert_eq!(Money::parse("-999999999999.99").unwrap().cents(), -MONEY_MAX_CENTS);
        assert_eq!(
            Money::parse("1000000000000.00"),
            Err(DecimalError::OutOfRange { max: MONEY_MAX_TEXT })
        );
        assert_eq!(
            Money::parse("50000000000000000.00"),
            Err(DecimalError::OutOfRange { max: MONEY_MAX_TEXT })
        );
        assert_eq!(
            Quantity::parse(QUANTITY_MAX_TEXT).unwrap().thousandths(),
            QUANTITY_MAX_THOUSANDTHS
        );
        assert_eq!(
            Quantity::parse("1000000000"),
            Err(DecimalError::OutOfRange { max: QUANTITY_MAX_TEXT })
        );
    }

    #[test]
    fn arithmetic_that_leaves_the_range_is_refused_not_wrapped() {
        let price = Money::MAX;
        let quantity = Quantity::parse("2").unwrap();
        assert_eq!(price.times(quantity), Err(OutOfRange));
        assert_eq!(
            Money::parse("999999999999.99")
                .unwrap()
                .times(Quantity::parse(QUANTITY_MAX_TEXT).unwrap()),
            Err(OutOfRange)
        );
        assert_eq!(Money::MAX.checked_add(Money::from_cents(1)), Err(OutOfRange));
        assert_eq!(Money::from_cents(i64::MAX).vat(VatRate::High), Err(OutOfRange));
        assert_eq!(
            Money::from_cents(-MONEY_MAX_CENTS).checked_sub(Money::from_cents(1)),
            Err(OutOfRange)
        );
        assert_eq!(
            Money::checked_sum([Money::MAX, Money::MAX, Money::from_cents(-MONEY_MAX_CENTS)]),
            Err(OutOfRange)
        );
        // Even values that never passed the parser (an i64 at its extremes) do not wrap.
        assert_eq!(Money::from_cents(i64::MAX).times(quantity), Err(OutOfRange));
        assert_eq!(
            Money::from_cents(i64::MIN).checked_add(Money::from_cents(-1)),
            Err(OutOfRange)
        );
        assert_eq!(Money::MAX.times(Quantity::parse("1").unwrap()), Ok(Money::MAX));
    }

    #[test]
    fn quantities_keep_three_decimals() {
        assert_eq!(Quantity::parse("1.5").unwrap().thousandths(), 1500);
        assert_eq!(Quantity::parse("1.5").unwrap().to_string(), "1.5");
        assert_eq!(Quantity::parse("2").unwrap().to_string(), "2");
        assert_eq!(Quantity::parse("0.125").unwrap().to_string(), "0.125");
    }

    #[test]
    fn multiplication_and_vat_round_half_away_from_zero() {
        let rate = Money::parse("72.50").unwrap();
        assert_eq!(
            rate.times(Quantity::parse("1.5").unwrap()).unwrap().to_string(),
            "108.75"
        );
        assert_eq!(
            Money::parse("0.05")
                .unwrap()
                .times(Quantity::parse("0.1").unwrap())
                .unwrap()
                .cents(),
            1
        );
        assert_eq!(
            Money::parse("10.50").unwrap().vat(VatRate::High).unwrap().to_string(),
            "2.21"
        );
        assert_eq!(
            Money::parse("-10.50").unwrap().vat(VatRate::High).unwrap().to_string(),
            "-2.21"
        );
        assert_eq!(
            Money::parse("100").unwrap().vat(VatRate::ReverseCharge),
            Ok(Money::ZERO)
        );
    }
}
