//! Literal values of `$filter` and their canonical OData spelling.

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Timelike, Utc};

/// A primitive literal in a `$filter` expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Literal {
    /// `null`.
    Null,
    /// `true` or `false` (case-insensitive in the URL).
    Boolean(bool),
    /// An integer that fits `Edm.Int64`.
    Int(i64),
    /// A number with a decimal point or exponent, or an integer too large for `Edm.Int64`; kept exact.
    Decimal(Decimal),
    /// A string, with OData's `''` escapes already resolved.
    String(String),
    /// An `Edm.Date` such as `2024-01-31`.
    Date(NaiveDate),
    /// An `Edm.TimeOfDay` such as `13:20:00.5`.
    TimeOfDay(NaiveTime),
    /// An `Edm.DateTimeOffset`, normalised to the UTC instant it denotes (`+01:00` offsets are applied).
    DateTimeOffset(DateTime<Utc>),
}

/// An exact decimal number: `mantissa × 10^-scale`, normalised so that equal numbers are equal values.
///
/// The mantissa carries no trailing zeros (and zero has scale 0), so `5.10` and `5.1` compare equal.
/// A negative scale means trailing zeros before the decimal point (`1e3` has mantissa 1, scale -3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Decimal {
    mantissa: i128,
    scale: i32,
}

impl Decimal {
    /// The number `mantissa × 10^-scale`, normalised.
    pub fn new(mantissa: i128, scale: i32) -> Decimal {
        let mut decimal = Decimal { mantissa, scale };
        if mantissa == 0 {
            decimal.scale = 0;
            return decimal;
        }
        while decimal.mantissa % 10 == 0 && decimal.scale > i32::MIN {
            decimal.mantissa /= 10;
            decimal.scale -= 1;
        }
        decimal
    }

    /// The significant digits, with the sign.
    pub fn mantissa(&self) -> i128 {
        self.mantissa
    }

    /// How many digits of the mantissa lie after the decimal point (negative: zeros to append).
    pub fn scale(&self) -> i32 {
        self.scale
    }

    /// The number written out in plain positional notation (`-12.5`, `1000`), as SQL expects it.
    pub fn to_plain_string(&self) -> String {
        let digits = self.mantissa.unsigned_abs().to_string();
        let sign = if self.mantissa < 0 { "-" } else { "" };
        let scale = i64::from(self.scale);
        if scale <= 0 {
            let zeros = "0".repeat(usize::try_from(-scale).unwrap_or(0));
            return format!("{sign}{digits}{zeros}");
        }
        let scale = usize::try_from(scale).unwrap_or(0);
        if digits.len() > scale {
            let (whole, fraction) = digits.split_at(digits.len() - scale);
            format!("{sign}{whole}.{fraction}")
        } else {
            format!("{sign}0.{}{digits}", "0".repeat(scale - digits.len()))
        }
    }
}

impl fmt::Display for Decimal {
    /// Writes a literal that reads back as a decimal: `12.5`, `5.0` (not `5`, which is an integer),
    /// and `1e30` when the scale is negative, so huge numbers stay short.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.scale > 0 {
            f.write_str(&self.to_plain_string())
        } else if self.scale == 0 {
            write!(f, "{}.0", self.mantissa)
        } else {
            write!(f, "{}e{}", self.mantissa, -i64::from(self.scale))
        }
    }
}

impl fmt::Display for Literal {
    /// Writes the literal in canonical OData URL syntax (before percent-encoding).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Null => f.write_str("null"),
            Literal::Boolean(value) => write!(f, "{value}"),
            Literal::Int(value) => write!(f, "{value}"),
            Literal::Decimal(value) => write!(f, "{value}"),
            Literal::String(value) => write!(f, "'{}'", value.replace('\'', "''")),
            Literal::Date(date) => write_date(f, *date),
            Literal::TimeOfDay(time) => {
                write!(f, "{:02}:{:02}:{:02}", time.hour(), time.minute(), time.second())?;
                let nanos = time.nanosecond();
                if nanos > 0 {
                    let fraction = format!("{nanos:09}");
                    write!(f, ".{}", fraction.trim_end_matches('0'))?;
                }
                Ok(())
            }
            Literal::DateTimeOffset(instant) => {
                write_date(f, instant.date_naive())?;
                let nanos = instant.nanosecond();
                // chrono keeps a leap second as nanoseconds >= 1e9 in second 59.
                let (second, nanos) = if nanos >= 1_000_000_000 {
                    (60, nanos - 1_000_000_000)
                } else {
                    (instant.second(), nanos)
                };
                write!(f, "T{:02}:{:02}:{:02}", instant.hour(), instant.minute(), second)?;
                if nanos > 0 {
                    let fraction = format!("{nanos:09}");
                    write!(f, ".{}", fraction.trim_end_matches('0'))?;
                }
                f.write_str("Z")
            }
        }
    }
}

/// Writes an OData date: at least four year digits, a `-` for years before 1 BC (ISO 8601 year 0).
fn write_date(f: &mut fmt::Formatter<'_>, date: NaiveDate) -> fmt::Result {
    let year = date.year();
    let sign = if year < 0 { "-" } else { "" };
    write!(
        f,
        "{sign}{:04}-{:02}-{:02}",
        year.unsigned_abs(),
        date.month(),
        date.day()
    )
}
