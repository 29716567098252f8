//! Identifier newtypes: an id or code that exists is a valid one.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl From<i64> for $name {
            fn from(id: i64) -> Self {
                $name(id)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// One customer account: one main administration and its subs.
    EnvironmentId
);
id_type!(
    /// A separate data space inside an environment.
    AdministrationId
);
id_type!(
    /// A person who logs in.
    UserId
);
id_type!(
    /// The id of a daily-data or settings record; unique within its table.
    RecordId
);

/// A stable, human-chosen code (settings items, relation numbers, work-order numbers).
///
/// Codes are what settings sync matches on and what references between settings use, so they are
/// restricted to characters that survive every system Koppel talks to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Code(String);

/// Why a string is not a valid [`Code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("a code may not be empty")]
    Empty,
    #[error("a code may be at most {max} characters long")]
    TooLong { max: usize },
    #[error("a code may only contain letters, digits, '-', '_' and '.'")]
    InvalidCharacter,
}

impl Code {
    pub const MAX_LEN: usize = 40;

    pub fn parse(text: &str) -> Result<Code, CodeError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(CodeError::Empty);
        }
        if trimmed.chars().count() > Self::MAX_LEN {
            return Err(CodeError::TooLong { max: Self::MAX_LEN });
        }
        if !trimmed
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(CodeError::InvalidCharacter);
        }
        Ok(Code(trimmed.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Code::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_trimmed_and_checked() {
        assert_eq!(Code::parse(" WT-01 ").unwrap().as_str(), "WT-01");
        assert_eq!(Code::parse(""), Err(CodeError::Empty));
        assert_eq!(Code::parse("a b"), Err(CodeError::InvalidCharacter));
        assert!(matches!(Code::parse(&"x".repeat(41)), Err(CodeError::TooLong { .. })));
    }
}
