//! Splits decoded `$filter` text into tokens, reading literals (numbers, dates, instants, strings) whole.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

use super::literal::{Decimal, Literal};
use crate::Error;

/// Longest identifier OData allows (one leading character and up to 127 more).
const MAX_IDENTIFIER_CHARS: usize = 128;
/// Longest namespace-qualified name accepted (only ever named in an error message).
const MAX_QUALIFIED_NAME_CHARS: usize = 511;
/// Most significant digits an exact decimal literal may have (what fits an `i128` mantissa).
const MAX_SIGNIFICANT_DIGITS: usize = 38;
/// Largest decimal scale (either sign) accepted from an exponent.
const MAX_DECIMAL_SCALE: i64 = 1000;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Token {
    /// A simple identifier, or a namespace-qualified one when it contains dots.
    Identifier(String),
    Literal(Literal),
    OpenParen,
    CloseParen,
    Comma,
    Slash,
    Colon,
    /// A `-` that does not start a number.
    Minus,
    /// `[` or `{`: the start of a JSON array or object.
    JsonOpen(char),
    /// `$it`, `$this`, `$root`, …
    Dollar(String),
    /// `@alias` or an annotation.
    At(String),
    End,
}

impl Token {
    /// How the token is named in error messages.
    pub(super) fn describe(&self) -> String {
        match self {
            Token::Identifier(name) => format!("`{name}`"),
            Token::Literal(literal) => format!("the literal `{literal}`"),
            Token::OpenParen => "`(`".to_owned(),
            Token::CloseParen => "`)`".to_owned(),
            Token::Comma => "`,`".to_owned(),
            Token::Slash => "`/`".to_owned(),
            Token::Colon => "`:`".to_owned(),
            Token::Minus => "`-`".to_owned(),
            Token::JsonOpen(bracket) => format!("`{bracket}`"),
            Token::Dollar(name) => format!("`${name}`"),
            Token::At(name) => format!("`@{name}`"),
            Token::End => "the end of the expression".to_owned(),
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct Spanned {
    pub(super) token: Token,
    /// Character position of the token's first character.
    pub(super) position: usize,
}

pub(super) struct Lexer {
    chars: Vec<char>,
    position: usize,
}

pub(super) fn malformed_at(position: usize, message: impl Into<String>) -> Error {
    let message = message.into();
    Error::Malformed {
        message: format!("{message} (at position {position})"),
        position: Some(position),
    }
}

pub(super) fn unsupported_at(position: usize, message: impl Into<String>) -> Error {
    let message = message.into();
    Error::Unsupported {
        message: format!("{message} (at position {position})"),
        position: Some(position),
    }
}

fn is_identifier_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_identifier_continue(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

pub(super) fn is_whitespace(c: char) -> bool {
    c == ' ' || c == '\t'
}

impl Lexer {
    pub(super) fn new(text: &str) -> Lexer {
        Lexer {
            chars: text.chars().collect(),
            position: 0,
        }
    }

    fn peek_char(&self, offset: usize) -> Option<char> {
        self.chars.get(self.position + offset).copied()
    }

    fn take_while(&mut self, predicate: impl Fn(char) -> bool) -> String {
        let start = self.position;
        while self.peek_char(0).is_some_and(&predicate) {
            self.position += 1;
        }
        self.chars[start..self.position].iter().collect()
    }

    pub(super) fn next_token(&mut self) -> Result<Spanned, Error> {
        while self.peek_char(0).is_some_and(is_whitespace) {
            self.position += 1;
        }
        let start = self.position;
        let Some(c) = self.peek_char(0) else {
            return Ok(Spanned {
                token: Token::End,
                position: start,
            });
        };
        let single = |token| Ok(Spanned { token, position: start });
        match c {
            '(' | ')' | ',' | '/' | ':' | '[' | '{' => {
                self.position += 1;
                single(match c {
                    '(' => Token::OpenParen,
                    ')' => Token::CloseParen,
                    ',' => Token::Comma,
                    '/' => Token::Slash,
                    ':' => Token::Colon,
                    other => Token::JsonOpen(other),
                })
            }
            '\'' => self.string(),
            '"' => Err(malformed_at(
                start,
                "OData string literals use single quotes, as in 'text'",
            )),
            '$' => {
                self.position += 1;
                let name = self.take_while(is_identifier_continue);
                single(Token::Dollar(name))
            }
            '@' => {
                self.position += 1;
                let name = self.take_while(|c| is_identifier_continue(c) || c == '.');
                single(Token::At(name))
            }
            '0'..='9' => self.number_or_date(),
            '-' | '+' if self.peek_char(1).is_some_and(|c| c.is_ascii_digit()) => self.number_or_date(),
            '-' if self.chars[self.position + 1..].starts_with(&['I', 'N', 'F']) => Err(unsupported_at(
                start,
                "the literals INF, -INF and NaN are not supported",
            )),
            '-' => {
                self.position += 1;
                single(Token::Minus)
            }
            '+' => Err(malformed_at(
                start,
                "unexpected `+` (a raw `+` in a URL query means a space; a plus sign must be sent as `%2B`)",
            )),
            c if is_identifier_start(c) => self.identifier(),
            other => Err(malformed_at(
                start,
                format!("unexpected character `{}`", other.escape_debug()),
            )),
        }
    }

    fn identifier(&mut self) -> Result<Spanned, Error> {
        let start = self.position;
        loop {
            let segment_start = self.position;
            let segment = self.take_while(is_identifier_continue);
            if segment.chars().count() > MAX_IDENTIFIER_CHARS {
                return Err(malformed_at(
                    segment_start,
                    format!("identifier is longer than {MAX_IDENTIFIER_CHARS} characters"),
                ));
            }
            if self.peek_char(0) == Some('.') && self.peek_char(1).is_some_and(is_identifier_start) {
                self.position += 1;
            } else {
                break;
            }
        }
        if self.position - start > MAX_QUALIFIED_NAME_CHARS {
            return Err(malformed_at(
                start,
                format!("name is longer than {MAX_QUALIFIED_NAME_CHARS} characters"),
            ));
        }
        let name: String = self.chars[start..self.position].iter().collect();
        if self.peek_char(0) == Some('\'') {
            return Err(unsupported_at(
                start,
                format!(
                    "typed literals such as `{name}'…'` (binary, duration, enumeration, geography, …) are not supported"
                ),
            ));
        }
        if name == "INF" || name == "NaN" {
            return Err(unsupported_at(
                start,
                "the literals INF, -INF and NaN are not supported",
            ));
        }
        Ok(Spanned {
            token: Token::Identifier(name),
            position: start,
        })
    }

    fn string(&mut self) -> Result<Spanned, Error> {
        let start = self.position;
        self.position += 1;
        let mut value = String::new();
        loop {
            match self.peek_char(0) {
                None => return Err(malformed_at(start, "unterminated string literal (missing closing `'`)")),
                Some('\'') if self.peek_char(1) == Some('\'') => {
                    value.push('\'');
                    self.position += 2;
                }
                Some('\'') => {
                    self.position += 1;
                    break;
                }
                Some(other) => {
                    value.push(other);
                    self.position += 1;
                }
            }
        }
        self.expect_delimiter_after_literal()?;
        Ok(Spanned {
            token: Token::Literal(Literal::String(value)),
            position: start,
        })
    }

    /// A literal must not run straight into a name or another literal (`1eq`, `'a''b'c`).
    fn expect_delimiter_after_literal(&self) -> Result<(), Error> {
        match self.peek_char(0) {
            Some(c) if is_identifier_continue(c) || c == '.' || c == '\'' || c == '"' => Err(malformed_at(
                self.position,
                format!("unexpected `{}` directly after a literal", c.escape_debug()),
            )),
            _ => Ok(()),
        }
    }

    fn digits(&mut self) -> String {
        self.take_while(|c| c.is_ascii_digit())
    }

    fn number_or_date(&mut self) -> Result<Spanned, Error> {
        let start = self.position;
        let negative = match self.peek_char(0) {
            Some('-') => {
                self.position += 1;
                true
            }
            Some('+') => {
                self.position += 1;
                false
            }
            _ => false,
        };
        let whole = self.digits();
        let looks_like_date = whole.len() >= 4
            && self.peek_char(0) == Some('-')
            && self.peek_char(1).is_some_and(|c| c.is_ascii_digit())
            && self.peek_char(2).is_some_and(|c| c.is_ascii_digit())
            && self.peek_char(3) == Some('-');
        let looks_like_time = whole.len() == 2
            && !negative
            && self.peek_char(0) == Some(':')
            && self.peek_char(1).is_some_and(|c| c.is_ascii_digit());
        let literal = if looks_like_date {
            self.date_or_instant(start, negative, &whole)?
        } else if looks_like_time {
            self.time_of_day(start, &whole)?
        } else {
            self.number(start, negative, &whole)?
        };
        self.expect_delimiter_after_literal()?;
        Ok(Spanned {
            token: Token::Literal(literal),
            position: start,
        })
    }

    fn number(&mut self, start: usize, negative: bool, whole: &str) -> Result<Literal, Error> {
        let mut fraction = String::new();
        let mut is_decimal = false;
        if self.peek_char(0) == Some('.') {
            self.position += 1;
            fraction = self.digits();
            if fraction.is_empty() {
                return Err(malformed_at(self.position, "a digit must follow the decimal point"));
            }
            is_decimal = true;
        }
        let mut exponent: i64 = 0;
        let exponent_follows = matches!(self.peek_char(0), Some('e' | 'E'))
            && match self.peek_char(1) {
                Some('+' | '-') => self.peek_char(2).is_some_and(|c| c.is_ascii_digit()),
                Some(c) => c.is_ascii_digit(),
                None => false,
            };
        if exponent_follows {
            self.position += 1;
            let exponent_negative = match self.peek_char(0) {
                Some('-') => {
                    self.position += 1;
                    true
                }
                Some('+') => {
                    self.position += 1;
                    false
                }
                _ => false,
            };
            let exponent_position = self.position;
            let digits = self.digits();
            let magnitude = Some(digits.trim_start_matches('0'))
                .filter(|significant| significant.len() <= 6)
                .map(|significant| significant.parse::<i64>().unwrap_or(0))
                .filter(|magnitude| *magnitude <= MAX_DECIMAL_SCALE)
                .ok_or_else(|| malformed_at(exponent_position, "exponent is out of range"))?;
            exponent = if exponent_negative { -magnitude } else { magnitude };
            is_decimal = true;
        }

        let all_digits = format!("{whole}{fraction}");
        let significant = all_digits.trim_start_matches('0');
        let without_trailing_zeros = significant.trim_end_matches('0');
        if without_trailing_zeros.len() > MAX_SIGNIFICANT_DIGITS {
            return Err(malformed_at(
                start,
                format!("number literal has more than {MAX_SIGNIFICANT_DIGITS} significant digits"),
            ));
        }
        let magnitude: i128 = if without_trailing_zeros.is_empty() {
            0
        } else {
            without_trailing_zeros
                .parse()
                .map_err(|_| malformed_at(start, "number literal is out of range"))?
        };
        let mantissa = if negative { -magnitude } else { magnitude };

        if !is_decimal {
            // An integer literal beyond Edm.Int64 is an Edm.Decimal in OData.
            let trailing_zeros = significant.len() - without_trailing_zeros.len();
            let exact = u32::try_from(trailing_zeros)
                .ok()
                .and_then(|zeros| mantissa.checked_mul(10i128.checked_pow(zeros)?));
            if let Some(value) = exact.and_then(|value| i64::try_from(value).ok()) {
                return Ok(Literal::Int(value));
            }
        }
        let trailing_zeros = i64::try_from(significant.len() - without_trailing_zeros.len()).unwrap_or(i64::MAX);
        let fraction_digits = i64::try_from(fraction.len()).unwrap_or(i64::MAX);
        let scale = fraction_digits - exponent - trailing_zeros;
        if mantissa != 0 && !(-MAX_DECIMAL_SCALE..=MAX_DECIMAL_SCALE).contains(&scale) {
            return Err(malformed_at(start, "decimal literal is out of range"));
        }
        let scale = i32::try_from(scale).map_err(|_| malformed_at(start, "decimal literal is out of range"))?;
        Ok(Literal::Decimal(Decimal::new(mantissa, scale)))
    }

    fn two_digits(&mut self, what: &str) -> Result<u32, Error> {
        let position = self.position;
        match (
            self.peek_char(0).and_then(|c| c.to_digit(10)),
            self.peek_char(1).and_then(|c| c.to_digit(10)),
        ) {
            (Some(tens), Some(ones)) => {
                self.position += 2;
                Ok(tens * 10 + ones)
            }
            _ => Err(malformed_at(position, format!("expected two digits for the {what}"))),
        }
    }

    fn expect_char(&mut self, expected: char, context: &str) -> Result<(), Error> {
        if self.peek_char(0) == Some(expected) {
            self.position += 1;
            Ok(())
        } else {
            Err(malformed_at(self.position, format!("expected `{expected}` {context}")))
        }
    }

    fn date_or_instant(&mut self, start: usize, negative: bool, year_digits: &str) -> Result<Literal, Error> {
        // OData years have four digits, or more without a leading zero.
        if year_digits.len() > 4 && year_digits.starts_with('0') {
            return Err(malformed_at(
                start,
                "a year of more than four digits must not start with 0",
            ));
        }
        let year = year_digits
            .parse::<i32>()
            .ok()
            .filter(|year| *year <= 262_143)
            .map(|year| if negative { -year } else { year })
            .ok_or_else(|| malformed_at(start, "year is out of range"))?;
        self.expect_char('-', "between year and month")?;
        let month = self.two_digits("month")?;
        self.expect_char('-', "between month and day")?;
        let day = self.two_digits("day")?;
        let date = NaiveDate::from_ymd_opt(year, month, day).ok_or_else(|| {
            malformed_at(
                start,
                format!("`{year_digits}-{month:02}-{day:02}` is not a valid date"),
            )
        })?;
        if !matches!(self.peek_char(0), Some('T' | 't')) {
            return Ok(Literal::Date(date));
        }
        self.position += 1;
        let instant = self.time_and_offset(start, date)?;
        Ok(Literal::DateTimeOffset(instant))
    }

    /// An `Edm.TimeOfDay` literal after its two hour digits: `:mm`, then optionally `:ss` and a fraction.
    fn time_of_day(&mut self, start: usize, hour_digits: &str) -> Result<Literal, Error> {
        let hour: u32 = hour_digits.parse().map_err(|_| malformed_at(start, "bad hour"))?;
        self.expect_char(':', "between hour and minute")?;
        let minute = self.two_digits("minute")?;
        let mut second = 0;
        let mut nanos = 0;
        if self.peek_char(0) == Some(':') {
            self.position += 1;
            second = self.two_digits("second")?;
            if self.peek_char(0) == Some('.') {
                self.position += 1;
                let fraction_position = self.position;
                let fraction = self.digits();
                if fraction.is_empty() || fraction.len() > 12 {
                    return Err(malformed_at(
                        fraction_position,
                        "fractional seconds need 1 to 12 digits",
                    ));
                }
                let padded = format!("{fraction:0<9}");
                nanos = padded[..9]
                    .parse::<u32>()
                    .map_err(|_| malformed_at(fraction_position, "bad fraction"))?;
            }
        }
        if hour > 23 || minute > 59 || second > 59 {
            return Err(malformed_at(
                start,
                format!("`{hour:02}:{minute:02}:{second:02}` is not a valid time of day"),
            ));
        }
        NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)
            .map(Literal::TimeOfDay)
            .ok_or_else(|| malformed_at(start, "not a valid time of day"))
    }

    fn time_and_offset(&mut self, start: usize, date: NaiveDate) -> Result<DateTime<Utc>, Error> {
        let hour = self.two_digits("hour")?;
        self.expect_char(':', "between hour and minute")?;
        let minute = self.two_digits("minute")?;
        let mut second = 0;
        let mut nanos = 0;
        if self.peek_char(0) == Some(':') {
            self.position += 1;
            second = self.two_digits("second")?;
            if self.peek_char(0) == Some('.') {
                self.position += 1;
                let fraction_position = self.position;
                let fraction = self.digits();
                if fraction.is_empty() || fraction.len() > 12 {
                    return Err(malformed_at(
                        fraction_position,
                        "fractional seconds need 1 to 12 digits",
                    ));
                }
                // Precision beyond nanoseconds is dropped: no Koppel timestamp is that fine.
                let padded = format!("{fraction:0<9}");
                nanos = padded[..9]
                    .parse::<u32>()
                    .map_err(|_| malformed_at(fraction_position, "bad fraction"))?;
            }
        }
        let offset_position = self.position;
        let offset_seconds: i32 = match self.peek_char(0) {
            Some('Z' | 'z') => {
                self.position += 1;
                0
            }
            Some(sign @ ('+' | '-')) => {
                self.position += 1;
                let hours = self.two_digits("offset hours")?;
                self.expect_char(':', "in the time zone offset")?;
                let minutes = self.two_digits("offset minutes")?;
                if hours > 23 || minutes > 59 {
                    return Err(malformed_at(offset_position, "time zone offset is out of range"));
                }
                let seconds = i32::try_from(hours * 3600 + minutes * 60).unwrap_or(0);
                if sign == '-' { -seconds } else { seconds }
            }
            _ => {
                return Err(malformed_at(
                    offset_position,
                    "a DateTimeOffset needs a time zone: `Z` or `+hh:mm`/`-hh:mm` \
                     (a raw `+` in a URL query means a space; send it as `%2B`)",
                ));
            }
        };
        // A leap second (`:60`) is kept the way chrono represents it: second 59 plus a whole second of nanos.
        let time = if second == 60 {
            NaiveTime::from_hms_nano_opt(hour, minute, 59, nanos + 1_000_000_000)
        } else {
            NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)
        }
        .ok_or_else(|| {
            malformed_at(
                start,
                format!("`{hour:02}:{minute:02}:{second:02}` is not a valid time of day"),
            )
        })?;
        let offset = FixedOffset::east_opt(offset_seconds)
            .ok_or_else(|| malformed_at(offset_position, "time zone offset is out of range"))?;
        offset
            .from_local_datetime(&NaiveDateTime::new(date, time))
            .single()
            .map(|instant| instant.with_timezone(&Utc))
            .ok_or_else(|| malformed_at(start, "date and time are out of range"))
    }
}
