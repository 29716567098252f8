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
    #[error("expected a decimal number such as \"12.50\"")]
    NotANumber,
    #[error("at most {max} decimals are allowed")]
    TooManyDecimals { max: u32 },
    #[error("the number is too large")]
    TooLarge,
}

/// Parses a plain decimal string into an integer scaled by `10^scale`, refusing excess precision.
fn parse_scaled(text: &str, scale: u32) -> Result<i64, DecimalError> {
    let text = text.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (whole, fraction) = match digits.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (digits, ""),
    };
    if whole.is_empty() && fraction.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
        || (digits.contains('.') && fraction.is_empty())
    {
        return Err(DecimalError::NotANumber);
    }
    let significant_fraction = fraction.trim_end_matches('0');
    if significant_fraction.len() > scale as usize {
        return Err(DecimalError::TooManyDecimals { max: scale });
    }
    let whole_value: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| DecimalError::TooLarge)?
    };
    let mut fraction_value: i64 = 0;
    for position in 0..scale as usize {
        let digit = significant_fraction.as_bytes().get(position).map_or(0, |b| b - b'0');
        fraction_value = fraction_value * 10 + i64::from(digit);
    }
    let scaled = whole_value
        .checked_mul(10_i64.pow(scale))
        .and_then(|v| v.checked_add(fraction_value))
        .ok_or(DecimalError::TooLarge)?;
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

/// An amount in euro cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(i64);

impl Money {
    pub const ZERO: Money = Money(0);

    pub fn from_cents(cents: i64) -> Money {
        Money(cents)
    }

    pub fn cents(self) -> i64 {
        self.0
    }

    pub fn parse(text: &str) -> Result<Money, DecimalError> {
        parse_scaled(text, 2).map(Money)
    }

    /// Price × quantity, rounded to the cent.
    pub fn times(self, quantity: Quantity) -> Money {
        let product = i128::from(self.0) * i128::from(quantity.thousandths());
        Money(div_round(product, 1000) as i64)
    }

    /// The VAT on this amount at the given rate, rounded to the cent.
    pub fn vat(self, rate: VatRate) -> Money {
        Money(div_round(i128::from(self.0) * i128::from(rate.percent()), 100) as i64)
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }
}

impl std::ops::Add for Money {
    type Output = Money;
    fn add(self, other: Money) -> Money {
        Money(self.0 + other.0)
    }
}

impl std::ops::Sub for Money {
    type Output = Money;
    fn sub(self, other: Money) -> Money {
        Money(self.0 - other.0)
    }
}

impl std::iter::Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, |a, b| a + b)
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
        parse_scaled(text, 3).map(Quantity)
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_parses_and_prints_exactly() {
        assert_eq!(Money::parse("1234.56").unwrap().cents(), 123_456);
        assert_eq!(Money::parse("-0.5").unwrap().cents(), -50);
        assert_eq!(Money::parse("7").unwrap().to_string(), "7.00");
        assert_eq!(Money::parse("0.10").unwrap().to_string(), "0.10");
        assert_eq!(Money::parse("1.230").unwrap().cents(), 123);
        assert_eq!(Money::parse("1.234"), Err(DecimalError::TooManyDecimals { max: 2 }));
        assert_eq!(Money::parse("abc"), Err(DecimalError::NotANumber));
        assert_eq!(Money::parse("1."), Err(DecimalError::NotANumber));
        assert_eq!(Money::parse(""), Err(DecimalError::NotANumber));
        assert_eq!(Money::parse("99999999999999999999"), Err(DecimalError::TooLarge));
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
        assert_eq!(rate.times(Quantity::parse("1.5").unwrap()).to_string(), "108.75");
        assert_eq!(
            Money::parse("0.05")
                .unwrap()
                .times(Quantity::parse("0.1").unwrap())
                .cents(),
            1
        );
        assert_eq!(Money::parse("10.50").unwrap().vat(VatRate::High).to_string(), "2.21");
        assert_eq!(Money::parse("-10.50").unwrap().vat(VatRate::High).to_string(), "-2.21");
        assert_eq!(Money::parse("100").unwrap().vat(VatRate::ReverseCharge), Money::ZERO);
    }
}
