//! The work-order life cycle: Klaargezet → Opgehaald → Compleet → Afgehandeld, plus Exportfout.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WorkOrderStatus {
    /// Ready: planned and waiting for the technician's app to fetch it.
    Klaargezet,
    /// Fetched by the technician's app.
    Opgehaald,
    /// Completed in the field; ready to invoice or export.
    Compleet,
    /// Handled: invoiced or exported.
    Afgehandeld,
    /// The export to the accounting package failed; the message says why.
    Exportfout,
}

impl WorkOrderStatus {
    pub const CODES: &'static [&'static str] = &["Klaargezet", "Opgehaald", "Compleet", "Afgehandeld", "Exportfout"];

    pub fn as_str(self) -> &'static str {
        match self {
            WorkOrderStatus::Klaargezet => "Klaargezet",
            WorkOrderStatus::Opgehaald => "Opgehaald",
            WorkOrderStatus::Compleet => "Compleet",
            WorkOrderStatus::Afgehandeld => "Afgehandeld",
            WorkOrderStatus::Exportfout => "Exportfout",
        }
    }

    pub fn parse(text: &str) -> Option<WorkOrderStatus> {
        use WorkOrderStatus::*;
        [Klaargezet, Opgehaald, Compleet, Afgehandeld, Exportfout]
            .into_iter()
            .find(|s| s.as_str() == text)
    }

    /// Whether a work order may move from `self` to `next`. Staying put is always allowed.
    ///
    /// A technician may hand a fetched order back (Opgehaald → Klaargezet) and the office may reopen a
    /// completed one that was not yet handled (Compleet → Opgehaald). An export error is left by a
    /// successful retry (→ Afgehandeld) or by reopening (→ Compleet).
    pub fn can_become(self, next: WorkOrderStatus) -> bool {
        use WorkOrderStatus::*;
        self == next
            || matches!(
                (self, next),
                (Klaargezet, Opgehaald)
                    | (Opgehaald, Klaargezet)
                    | (Opgehaald, Compleet)
                    | (Compleet, Opgehaald)
                    | (Compleet, Afgehandeld)
                    | (Compleet, Exportfout)
                    | (Exportfout, Compleet)
                    | (Exportfout, Afgehandeld)
            )
    }

    /// The status a new work order may start in.
    pub fn can_start_in(self) -> bool {
        matches!(
            self,
            WorkOrderStatus::Klaargezet | WorkOrderStatus::Opgehaald | WorkOrderStatus::Compleet
        )
    }
}

#[cfg(test)]
mod tests {
    use super::WorkOrderStatus::*;

    #[test]
    fn only_valid_transitions() {
        assert!(Klaargezet.can_become(Opgehaald));
        assert!(Compleet.can_become(Afgehandeld));
        assert!(!Klaargezet.can_become(Afgehandeld));
        assert!(!Afgehandeld.can_become(Klaargezet));
        assert!(!Klaargezet.can_become(Exportfout));
        assert!(Exportfout.can_become(Afgehandeld));
    }
}
