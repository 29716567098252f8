//! Invoices made from completed work orders: hours × rate and materials × price, VAT per line.

use crate::money::{Money, Quantity, VatRate};
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

/// Computes lines and totals. VAT is computed and rounded per line, as the issue asks.
pub fn draft(lines: Vec<BillableLine>) -> InvoiceDraft {
    let lines: Vec<InvoiceLine> = lines
        .into_iter()
        .enumerate()
        .map(|(index, source)| {
            let amount_excl_vat = source.unit_price.times(source.quantity);
            let vat_amount = amount_excl_vat.vat(source.vat_rate);
            InvoiceLine {
                line_no: index as i64 + 1,
                source,
                amount_excl_vat,
                vat_amount,
            }
        })
        .collect();
    let total_excl_vat = lines.iter().map(|l| l.amount_excl_vat).sum();
    let total_vat = lines.iter().map(|l| l.vat_amount).sum();
    InvoiceDraft {
        lines,
        total_excl_vat,
        total_vat,
        total_incl_vat: total_excl_vat + total_vat,
    }
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
        ]);
        assert_eq!(invoice.lines[0].amount_excl_vat.to_string(), "108.75");
        assert_eq!(invoice.lines[0].vat_amount.to_string(), "22.84");
        assert_eq!(invoice.lines[1].vat_amount.to_string(), "1.35");
        assert_eq!(invoice.total_excl_vat.to_string(), "223.72");
        assert_eq!(invoice.total_vat.to_string(), "24.19");
        assert_eq!(invoice.total_incl_vat.to_string(), "247.91");
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
