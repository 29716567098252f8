//! A reference evaluator of OData `$filter` and `$orderby` over rows in memory, written from the
//! rules (OData 4.01 URL conventions, and the documented choices of `koppel_datasync::query`), not
//! from the SQL translation, so that the two can be compared.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Timelike, Utc};
use koppel_datasync::feed::{ColumnKind, FeedSet};
use koppel_domain::record::Value as Stored;
use koppel_odata::{ArithmeticOp, CompareOp, Direction, Expr, Function, Literal};
use std::cmp::Ordering;

/// A value during evaluation: numbers are exact, `units × 10^-scale`.
#[derive(Debug, Clone, PartialEq)]
pub enum V {
    Null,
    Bool(bool),
    Num(i128, u32),
    Text(String),
    Date(NaiveDate),
    Time(NaiveTime),
    Instant(DateTime<Utc>),
}

/// Numbers beyond ±(2^63 − 1) units are null (the documented range of query arithmetic).
fn num(units: Option<i128>, scale: u32) -> V {
    match units {
        Some(units) if units.unsigned_abs() <= i64::MAX as u128 => V::Num(units, scale),
        _ => V::Null,
    }
}

fn rescale(value: &V, target: u32) -> V {
    match value {
        V::Num(units, scale) => num(
            10_i128
                .checked_pow(target - scale)
                .and_then(|factor| units.checked_mul(factor)),
            target,
        ),
        other => other.clone(),
    }
}

/// The order of two non-null values of one type (numbers at one scale).
fn order(left: &V, right: &V) -> Ordering {
    match (left, right) {
        (V::Bool(a), V::Bool(b)) => a.cmp(b),
        (V::Num(a, _), V::Num(b, _)) => a.cmp(b),
        (V::Text(a), V::Text(b)) => a.cmp(b),
        (V::Date(a), V::Date(b)) => a.cmp(b),
        (V::Time(a), V::Time(b)) => a.cmp(b),
        (V::Instant(a), V::Instant(b)) => a.cmp(b),
        (a, b) => panic!("the checker let through a comparison of {a:?} with {b:?}"),
    }
}

/// Brings two numbers to the larger scale (each may overflow to null); other values as they are.
fn aligned(left: V, right: V) -> (V, V) {
    match (&left, &right) {
        (V::Num(_, a), V::Num(_, b)) => {
            let target = *a.max(b);
            (rescale(&left, target), rescale(&right, target))
        }
        _ => (left, right),
    }
}

fn compare(op: CompareOp, left: V, right: V) -> bool {
    let (left, right) = aligned(left, right);
    match (&left, &right) {
        (V::Null, V::Null) => matches!(op, CompareOp::Eq | CompareOp::Ge | CompareOp::Le),
        (V::Null, _) | (_, V::Null) => op == CompareOp::Ne,
        _ => {
            let ordering = order(&left, &right);
            match op {
                CompareOp::Eq => ordering == Ordering::Equal,
                CompareOp::Ne => ordering != Ordering::Equal,
                CompareOp::Gt => ordering == Ordering::Greater,
                CompareOp::Ge => ordering != Ordering::Less,
                CompareOp::Lt => ordering == Ordering::Less,
                CompareOp::Le => ordering != Ordering::Greater,
            }
        }
    }
}

fn kleene(value: V) -> Option<bool> {
    match value {
        V::Bool(value) => Some(value),
        _ => None,
    }
}

fn from_kleene(value: Option<bool>) -> V {
    value.map_or(V::Null, V::Bool)
}

pub struct Row<'a> {
    pub set: &'a FeedSet,
    pub values: &'a [Stored],
}

impl Row<'_> {
    fn property(&self, name: &str) -> V {
        let index = self
            .set
            .columns
            .iter()
            .position(|column| column.property == name)
            .expect("checked property");
        let column = &self.set.columns[index];
        match &self.values[index] {
            Stored::Null => V::Null,
            Stored::Integer(units) => match column.kind {
                ColumnKind::Scaled { scale } => V::Num(i128::from(*units), u32::from(scale)),
                ColumnKind::Plain => V::Num(i128::from(*units), 0),
            },
            Stored::Bool(value) => V::Bool(*value),
            Stored::Text(text) => V::Text(text.clone()),
            Stored::Date(date) => V::Date(*date),
            Stored::Timestamp(instant) => V::Instant(*instant),
        }
    }

    pub fn eval(&self, expr: &Expr) -> V {
        match expr {
            Expr::Literal(literal) => match literal {
                Literal::Null => V::Null,
                Literal::Boolean(value) => V::Bool(*value),
                Literal::Int(value) => V::Num(i128::from(*value), 0),
                Literal::Decimal(decimal) if decimal.scale() <= 0 => {
                    V::Num(decimal.mantissa() * 10_i128.pow(decimal.scale().unsigned_abs()), 0)
                }
                Literal::Decimal(decimal) => V::Num(decimal.mantissa(), decimal.scale().unsigned_abs()),
                Literal::String(text) => V::Text(text.clone()),
                Literal::Date(date) => V::Date(*date),
                Literal::TimeOfDay(time) => V::Time(*time),
                Literal::DateTimeOffset(instant) => V::Instant(*instant),
            },
            Expr::Property(name) => self.property(name),
            Expr::Not(inner) => from_kleene(kleene(self.eval(inner)).map(|value| !value)),
            Expr::And(operands) => {
                let values: Vec<Option<bool>> = operands.iter().map(|operand| kleene(self.eval(operand))).collect();
                from_kleene(if values.contains(&Some(false)) {
                    Some(false)
                } else if values.contains(&None) {
                    None
                } else {
                    Some(true)
                })
            }
            Expr::Or(operands) => {
                let values: Vec<Option<bool>> = operands.iter().map(|operand| kleene(self.eval(operand))).collect();
                from_kleene(if values.contains(&Some(true)) {
                    Some(true)
                } else if values.contains(&None) {
                    None
                } else {
                    Some(false)
                })
            }
            Expr::Compare { op, left, right } => V::Bool(compare(*op, self.eval(left), self.eval(right))),
            Expr::In { value, list } => {
                let value = self.eval(value);
                V::Bool(
                    list.iter()
                        .any(|item| compare(CompareOp::Eq, value.clone(), self.eval(item))),
                )
            }
            Expr::Negate(inner) => match self.eval(inner) {
                V::Num(units, scale) => num(Some(-units), scale),
                _ => V::Null,
            },
            Expr::Arithmetic { op, left, right } => arithmetic(*op, self.eval(left), self.eval(right)),
            Expr::Call { function, args } => {
                let values: Vec<V> = args.iter().map(|arg| self.eval(arg)).collect();
                if values.contains(&V::Null) {
                    return V::Null;
                }
                call(*function, &values)
            }
        }
    }
}

fn arithmetic(op: ArithmeticOp, left: V, right: V) -> V {
    let (V::Num(a, sa), V::Num(b, sb)) = (&left, &right) else {
        return V::Null;
    };
    let (a, sa, b, sb) = (*a, *sa, *b, *sb);
    match op {
        ArithmeticOp::Add | ArithmeticOp::Sub | ArithmeticOp::Mod => {
            let target = sa.max(sb);
            let (V::Num(a, _), V::Num(b, _)) = (rescale(&left, target), rescale(&right, target)) else {
                return V::Null;
            };
            let result = match op {
                ArithmeticOp::Add => a.checked_add(b),
                ArithmeticOp::Sub => a.checked_sub(b),
                _ => a.checked_rem(b),
            };
            num(result, target)
        }
        ArithmeticOp::Mul => num(a.checked_mul(b), sa + sb),
        ArithmeticOp::Div | ArithmeticOp::DivBy => {
            let decimal = op == ArithmeticOp::DivBy || sa > 0 || sb > 0;
            let scale = if decimal { 6.max(sa).max(sb) } else { 0 };
            let factor = 10_i128.pow(scale + sb - sa);
            num(a.checked_mul(factor).and_then(|scaled| scaled.checked_div(b)), scale)
        }
    }
}

fn text(value: &V) -> &str {
    match value {
        V::Text(text) => text,
        other => panic!("expected text, got {other:?}"),
    }
}

fn integer(value: &V) -> i128 {
    match value {
        V::Num(units, 0) => *units,
        other => panic!("expected an integer, got {other:?}"),
    }
}

fn call(function: Function, values: &[V]) -> V {
    let int = |value: i64| V::Num(i128::from(value), 0);
    let count = |text: &str| i64::try_from(text.chars().count()).unwrap();
    match function {
        Function::Contains => V::Bool(text(&values[0]).contains(text(&values[1]))),
        Function::StartsWith => V::Bool(text(&values[0]).starts_with(text(&values[1]))),
        Function::EndsWith => V::Bool(text(&values[0]).ends_with(text(&values[1]))),
        Function::ToLower => V::Text(text(&values[0]).to_lowercase()),
        Function::ToUpper => V::Text(text(&values[0]).to_uppercase()),
        Function::Length => int(count(text(&values[0]))),
        Function::Trim => V::Text(text(&values[0]).trim_matches([' ', '\t', '\r', '\n']).to_string()),
        Function::Concat => V::Text(format!("{}{}", text(&values[0]), text(&values[1]))),
        Function::IndexOf => {
            let haystack = text(&values[0]);
            int(haystack
                .find(text(&values[1]))
                .map_or(-1, |byte| count(&haystack[..byte])))
        }
        Function::Substring => {
            let start = usize::try_from(integer(&values[1]).max(0)).unwrap_or(usize::MAX);
            let rest = text(&values[0]).chars().skip(start);
            V::Text(match values.get(2) {
                None => rest.collect(),
                Some(length) => rest
                    .take(usize::try_from(integer(length).max(0)).unwrap_or(usize::MAX))
                    .collect(),
            })
        }
        Function::Year | Function::Month | Function::Day => {
            let date = match &values[0] {
                V::Date(date) => *date,
                V::Instant(instant) => instant.date_naive(),
                other => panic!("no date: {other:?}"),
            };
            int(i64::from(match function {
                Function::Year => date.year(),
                Function::Month => i32::try_from(date.month()).unwrap(),
                _ => i32::try_from(date.day()).unwrap(),
            }))
        }
        Function::Hour | Function::Minute | Function::Second | Function::FractionalSeconds => {
            let time = match &values[0] {
                V::Time(time) => *time,
                V::Instant(instant) => instant.time(),
                other => panic!("no time: {other:?}"),
            };
            match function {
                Function::Hour => int(i64::from(time.hour())),
                Function::Minute => int(i64::from(time.minute())),
                Function::Second => int(i64::from(time.second())),
                _ => V::Num(i128::from(time.nanosecond() / 1_000), 6),
            }
        }
        Function::Date => match &values[0] {
            V::Instant(instant) => V::Date(instant.date_naive()),
            other => panic!("no instant: {other:?}"),
        },
        Function::Time => match &values[0] {
            V::Instant(instant) => V::Time(instant.time()),
            other => panic!("no instant: {other:?}"),
        },
        Function::Round | Function::Floor | Function::Ceiling => {
            let V::Num(units, scale) = values[0] else {
                panic!("no number: {:?}", values[0]);
            };
            let factor = 10_i128.pow(scale);
            let (quotient, remainder) = (units / factor, units % factor);
            let rounded = match function {
                Function::Round if remainder.abs() * 2 >= factor => quotient + remainder.signum(),
                Function::Floor if remainder < 0 => quotient - 1,
                Function::Ceiling if remainder > 0 => quotient + 1,
                _ => quotient,
            };
            num(rounded.checked_mul(factor), scale)
        }
    }
}

/// OData's order of one `$orderby` value: null first, then by value (numbers by value).
fn order_values(left: &V, right: &V) -> Ordering {
    match (left, right) {
        (V::Null, V::Null) => Ordering::Equal,
        (V::Null, _) => Ordering::Less,
        (_, V::Null) => Ordering::Greater,
        (V::Num(a, sa), V::Num(b, sb)) => {
            let target = *sa.max(sb);
            let scale = |units: i128, scale: u32| units * 10_i128.pow(target - scale);
            scale(*a, *sa).cmp(&scale(*b, *sb))
        }
        _ => order(left, right),
    }
}

/// The keys (`Id`, first column) of the rows a query selects, in the order it lists them.
pub fn select(set: &FeedSet, rows: &[Vec<Stored>], filter: Option<&Expr>, orderby: &[(Expr, Direction)]) -> Vec<i64> {
    let mut selected: Vec<(Vec<V>, i64)> = rows
        .iter()
        .filter_map(|values| {
            let row = Row { set, values };
            if let Some(filter) = filter
                && row.eval(filter) != V::Bool(true)
            {
                return None;
            }
            let keys = orderby.iter().map(|(expr, _)| row.eval(expr)).collect();
            Some((keys, values[0].as_i64().expect("integer key")))
        })
        .collect();
    selected.sort_by(|(left, left_id), (right, right_id)| {
        for ((a, b), (_, direction)) in left.iter().zip(right).zip(orderby) {
            let ordering = order_values(a, b);
            let ordering = if *direction == Direction::Desc {
                ordering.reverse()
            } else {
                ordering
            };
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
        left_id.cmp(right_id)
    });
    selected.into_iter().map(|(_, id)| id).collect()
}
