//! Rights a user holds per administration.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Right {
    /// Read daily data and settings.
    ReadData,
    /// Create, change and delete daily data and settings.
    WriteData,
    /// Create and delete sub-administrations, manage users and licences.
    ManageAdministrations,
    /// Push settings from the main to subs.
    SyncSettings,
    /// Configure Data Sync and Power BI feed tokens.
    ManageDatasync,
    /// Connect and configure AccountView.
    ManageIntegrations,
}

impl Right {
    pub const ALL: [Right; 6] = [
        Right::ReadData,
        Right::WriteData,
        Right::ManageAdministrations,
        Right::SyncSettings,
        Right::ManageDatasync,
        Right::ManageIntegrations,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Right::ReadData => "read_data",
            Right::WriteData => "write_data",
            Right::ManageAdministrations => "manage_administrations",
            Right::SyncSettings => "sync_settings",
            Right::ManageDatasync => "manage_datasync",
            Right::ManageIntegrations => "manage_integrations",
        }
    }

    pub fn parse(text: &str) -> Option<Right> {
        Right::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

/// A set of rights, stored as a bit mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rights(u32);

impl Rights {
    pub fn all() -> Rights {
        Right::ALL.into_iter().collect()
    }

    pub fn from_bits(bits: i64) -> Rights {
        Rights(bits as u32 & Rights::all().0)
    }

    pub fn bits(self) -> i64 {
        i64::from(self.0)
    }

    pub fn has(self, right: Right) -> bool {
        self.0 & (1 << right as u32) != 0
    }

    pub fn with(self, right: Right) -> Rights {
        Rights(self.0 | (1 << right as u32))
    }

    pub fn iter(self) -> impl Iterator<Item = Right> {
        Right::ALL.into_iter().filter(move |r| self.has(*r))
    }
}

impl FromIterator<Right> for Rights {
    fn from_iter<I: IntoIterator<Item = Right>>(iter: I) -> Rights {
        iter.into_iter().fold(Rights::default(), Rights::with)
    }
}

impl Serialize for Rights {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Rights {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Vec::<Right>::deserialize(deserializer)?.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rights_round_trip_through_bits() {
        let rights: Rights = [Right::ReadData, Right::SyncSettings].into_iter().collect();
        assert!(rights.has(Right::SyncSettings));
        assert!(!rights.has(Right::WriteData));
        assert_eq!(Rights::from_bits(rights.bits()), rights);
    }
}
