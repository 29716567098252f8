//! Invoices made from completed work orders: hours × rate and materials × price, VAT per line.

use crate::money::{MONEY_MAX_TEXT, Money, Quantity, VatRate};
use serde::Serialize;

/// A billable line taken from a work order.
#[derive(Debug, Clone)]
pub struct BillableLine {
    pub kind: LineKind,
    pub description: String,
    pub quantity: Quantity,
    pub unit_price: Money,
    pub vat_rate: VatRate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    Hours,
    Material,
    Other,
}

impl InvoiceError {
    /// The field at fault: `lines[N]` for a line, else the total's name.
    pub fn field(&self) -> String {
        match self {
            InvoiceError::LineOutOfRange { line_no, .. } => format!("lines[{line_no}]"),
            InvoiceError::TotalOutOfRange { field } => (*field).to_string(),
        }
    }
}

impl LineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LineKind::Hours => "hours",
            LineKind::Material => "material",
            LineKind::Other => "other",
        }
    }
}

/// A computed invoice line.
#[derive(Debug, Clone)]
pub struct InvoiceLine {
    pub line_no: i64,
    pub source: BillableLine,
    pub amount_excl_vat: Money,
    pub vat_amount: Money,
}

/// The computed invoice body.
#[derive(Debug, Clone)]
pub struct InvoiceDraft {
    pub lines: Vec<InvoiceLine>,
    pub total_excl_vat: Money,
    pub total_vat: Money,
    pub total_incl_vat: Money,
}

/// Why an invoice cannot be computed: an amount would leave the range money is held in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvoiceError {
    #[error(
        "line {line_no} ({quantity} × {unit_price}) comes to more than {max} euro, the largest amount Koppel holds",
        max = MONEY_MAX_TEXT
    )]
    LineOutOfRange {
        line_no: i64,
        quantity: Quantity,
        unit_price: Money,
    },
    #[error("the invoice's {field} would come to more than {max} euro, the largest amount Koppel holds", max = MONEY_MAX_TEXT)]
    TotalOutOfRange { field: &'static str },
}

/// Computes lines and totals. VAT is computed and rounded per line, as the issue asks. Every step is
/// checked: a line or total that would leave the money range refuses the invoice, never wraps.
pub fn draft(lines: Vec<BillableLine>) -> Result<InvoiceDraft, InvoiceError> {
    let mut computed = Vec::with_capacity(lines.len());
    for (index, source) in lines.into_iter().enumerate() {
        let line_no = index as i64 + 1;
        let out_of_range = |_| InvoiceError::LineOutOfRange {
            line_no,
            quantity: source.quantity,
            unit_price: source.unit_price,
        };
        let amount_excl_vat = source.unit_price.times(source.quantity).map_err(out_of_range)?;
        let vat_amount = amount_excl_vat.vat(source.vat_rate).map_err(out_of_range)?;
        computed.push(InvoiceLine {
            line_no,
            source,
            amount_excl_vat,
            vat_amount,
        });
    }
    let total = |field: &'static str| move |_| InvoiceError::TotalOutOfRange { field };
    let total_excl_vat =
        Money::checked_sum(computed.iter().map(|l| l.amount_excl_vat)).map_err(total("total_excl_vat"))?;
    let total_vat = Money::checked_sum(computed.iter().map(|l| l.vat_amount)).map_err(total("total_vat"))?;
    let total_incl_vat = total_excl_vat.checked_add(total_vat).map_err(total("total_incl_vat"))?;
    Ok(InvoiceDraft {
        lines: computed,
        total_excl_vat,
        total_vat,
        total_incl_vat,
    })
}

/// How much of an invoice has been paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Open,
    PartlyPaid,
    Paid,
}

impl PaymentStatus {
    pub fn of(total_incl_vat: Money, paid: Money) -> PaymentStatus {
        if paid <= Money::ZERO && total_incl_vat > Money::ZERO {
            PaymentStatus::Open
        } else if paid >= total_incl_vat {
            PaymentStatus::Paid
        } else {
            PaymentStatus::PartlyPaid
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Open => "open",
            PaymentStatus::PartlyPaid => "partly_paid",
            PaymentStatus::Paid => "paid",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(quantity: &str, price: &str, vat_rate: VatRate) -> BillableLine {
        BillableLine {
            kind: LineKind::Hours,
            description: "Arbeid".into(),
            quantity: Quantity::parse(quantity).unwrap(),
            unit_price: Money::parse(price).unwrap(),
            vat_rate,
        }
    }

    #[test]
    fn totals_add_up_per_line() {
        let invoice = draft(vec![
            line("1.5", "72.50", VatRate::High),
            line("3", "4.99", VatRate::Low),
            line("1", "100", VatRate::ReverseCharge),
        ])
        .unwrap();
        assert_eq!(invoice.lines[0].amount_excl_vat.to_string(), "108.75");
        assert_eq!(invoice.lines[0].vat_amount.to_string(), "22.84");
        assert_eq!(invoice.lines[1].vat_amount.to_string(), "1.35");
        assert_eq!(invoice.total_excl_vat.to_string(), "223.72");
        assert_eq!(invoice.total_vat.to_string(), "24.19");
        assert_eq!(invoice.total_incl_vat.to_string(), "247.91");
    }

    #[test]
    fn an_invoice_whose_amounts_leave_the_range_is_refused() {
        // The reproduction of issue 18: 2 × 50,000,000,000,000,000.00 wrapped to a negative total.
        let huge = BillableLine {
            kind: LineKind::Material,
            description: "Groot".into(),
            quantity: Quantity::parse("2").unwrap(),
            unit_price: Money::from_cents(5_000_000_000_000_000_000),
            vat_rate: VatRate::High,
        };
        assert!(matches!(
            draft(vec![line("1", "10", VatRate::High), huge]),
            Err(InvoiceError::LineOutOfRange { line_no: 2, .. })
        ));
        // Each line fits, their sum does not.
        let max = line("1", "999999999999.99", VatRate::Zero);
        assert_eq!(
            draft(vec![max.clone(), max]).unwrap_err(),
            InvoiceError::TotalOutOfRange {
                field: "total_excl_vat"
            }
        );
        // The amount fits, with its VAT it does not.
        let error = draft(vec![line("1", "900000000000", VatRate::High)]).unwrap_err();
        assert_eq!(
            error,
            InvoiceError::TotalOutOfRange {
                field: "total_incl_vat"
            }
        );
        assert!(error.to_string().contains("999999999999.99"));
    }

    #[test]
    fn payment_status_follows_the_amount_paid() {
        let total = Money::parse("100").unwrap();
        assert_eq!(PaymentStatus::of(total, Money::ZERO), PaymentStatus::Open);
        assert_eq!(
            PaymentStatus::of(total, Money::parse("40").unwrap()),
            PaymentStatus::PartlyPaid
        );
        assert_eq!(PaymentStatus::of(total, total), PaymentStatus::Paid);
    }
}
