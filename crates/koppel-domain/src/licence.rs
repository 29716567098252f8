//! The Licence Manager: which power-ups an environment may use.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PowerUp {
    PowerBi,
    SubAdministrations,
    Accountview,
}

impl PowerUp {
    pub const ALL: [PowerUp; 3] = [PowerUp::PowerBi, PowerUp::SubAdministrations, PowerUp::Accountview];

    pub fn as_str(self) -> &'static str {
        match self {
            PowerUp::PowerBi => "power_bi",
            PowerUp::SubAdministrations => "sub_administrations",
            PowerUp::Accountview => "accountview",
        }
    }

    pub fn parse(text: &str) -> Option<PowerUp> {
        PowerUp::ALL.into_iter().find(|p| p.as_str() == text)
    }
}

/// The state of one power-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum LicenceState {
    Trial { until: NaiveDate },
    Active,
    Inactive,
}

impl LicenceState {
    /// Whether the power-up may be used today. A trial runs through its last day.
    pub fn is_usable(self, today: NaiveDate) -> bool {
        match self {
            LicenceState::Trial { until } => today <= until,
            LicenceState::Active => true,
            LicenceState::Inactive => false,
        }
    }

    pub fn kind(self) -> &'static str {
        match self {
            LicenceState::Trial { .. } => "trial",
            LicenceState::Active => "active",
            LicenceState::Inactive => "inactive",
        }
    }
}

/// Why a feature is unavailable, for the error the API and the pages show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LicenceError {
    #[error("the {} power-up is not active in the Licence Manager", .0.as_str())]
    Inactive(PowerUp),
    #[error("the {} trial ended on {until}", power_up.as_str())]
    TrialEnded { power_up: PowerUp, until: NaiveDate },
    #[error("the licence allows {capacity} sub-administrations and all are in use")]
    CapacityReached { capacity: i64 },
}

/// Checks that a power-up may be used today.
pub fn require(power_up: PowerUp, state: LicenceState, today: NaiveDate) -> Result<(), LicenceError> {
    match state {
        LicenceState::Trial { until } if today > until => Err(LicenceError::TrialEnded { power_up, until }),
        LicenceState::Inactive => Err(LicenceError::Inactive(power_up)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trial_runs_through_its_last_day() {
        let until = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let state = LicenceState::Trial { until };
        assert!(state.is_usable(until));
        assert!(!state.is_usable(until.succ_opt().unwrap()));
        assert!(require(PowerUp::PowerBi, state, until.succ_opt().unwrap()).is_err());
    }
}
