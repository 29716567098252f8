//! OData query options turned into a reporting read: `$filter` into SQL pieces whose values are
//! always bound parameters, `$orderby` and `$select` into columns. Options are type-checked by
//! `koppel_odata` first, so every comparison here is between compatible types.
//!
//! Semantics follow OData where SQL differs: `ne` is true when one side is null (`IS DISTINCT FROM`),
//! comparisons with `null` become `IS NULL`, decimals are compared exactly by scaling the integer
//! columns (cents, thousandths) instead of using floats, and instants are compared as instants
//! (the literal's offset is already applied by the parser).

use crate::feed::{ColumnKind, FeedColumn, FeedSet};
use koppel_domain::record::{StorageType, Value};
use koppel_odata::{CompareOp, EdmType, Error, Expr, Function, Literal, QueryOptions};
use koppel_store::Backend;
use koppel_store::reporting::SqlPiece;

/// What a collection request reads, ready for `koppel_store::reporting::ReportingRead`.
#[derive(Debug, Clone)]
pub struct Plan<'f> {
    /// The properties written, in model order (all of them without `$select`).
    pub columns: Vec<&'f FeedColumn>,
    pub filter: Vec<SqlPiece>,
    pub order: Vec<(&'static str, bool)>,
}

/// Checks and translates the options for one entity set.
pub fn plan<'f>(set: &'f FeedSet, options: &QueryOptions, backend: Backend) -> Result<Plan<'f>, Error> {
    let entity_type = crate::feed::feed().entity_type(set);
    koppel_odata::check_query(options, entity_type)?;
    let columns = match &options.select {
        None => set.columns.iter().collect(),
        Some(names) => set
            .columns
            .iter()
            .filter(|column| names.contains(&column.property))
            .collect(),
    };
    let filter = match &options.filter {
        None => Vec::new(),
        Some(expr) => {
            let translator = Translator { set, backend };
            translator.condition(expr)?
        }
    };
    let mut order = Vec::new();
    for (name, direction) in &options.orderby {
        let column = set.column(name).expect("checked by check_query");
        order.push((column.column, *direction == koppel_odata::Direction::Desc));
    }
    Ok(Plan { columns, filter, order })
}

/// The type of a translated operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Null,
    Bool,
    /// An integer of 10^-scale units.
    Number {
        scale: u32,
    },
    Text,
    Date,
    Instant,
}

#[derive(Debug, Clone)]
struct Operand {
    pieces: Vec<SqlPiece>,
    kind: Kind,
    /// A literal number (mantissa and scale) that can be rescaled in Rust instead of in SQL.
    literal: Option<(i128, u32)>,
}

impl Operand {
    fn sql(text: impl Into<String>, kind: Kind) -> Operand {
        Operand {
            pieces: vec![SqlPiece::Sql(text.into())],
            kind,
            literal: None,
        }
    }

    fn bind(value: Value, kind: Kind) -> Operand {
        Operand {
            pieces: vec![SqlPiece::Bind(value)],
            kind,
            literal: None,
        }
    }

    fn wrapped(prefix: &str, inner: Vec<SqlPiece>, suffix: &str, kind: Kind) -> Operand {
        let mut pieces = vec![SqlPiece::Sql(prefix.to_string())];
        pieces.extend(inner);
        pieces.push(SqlPiece::Sql(suffix.to_string()));
        Operand {
            pieces,
            kind,
            literal: None,
        }
    }
}

struct Translator<'a> {
    set: &'a FeedSet,
    backend: Backend,
}

fn too_large() -> Error {
    Error::Malformed {
        message: "$filter: a number is too large to compare".to_string(),
        position: None,
    }
}

impl Translator<'_> {
    /// A boolean expression as SQL.
    fn condition(&self, expr: &Expr) -> Result<Vec<SqlPiece>, Error> {
        let operand = self.operand(expr)?;
        Ok(match operand.kind {
            // A bare boolean column or literal: true only when it is true (null is false).
            Kind::Bool
                if !matches!(
                    expr,
                    Expr::Compare { .. } | Expr::And(_) | Expr::Or(_) | Expr::Not(_) | Expr::Call { .. }
                ) =>
            {
                let mut pieces = vec![SqlPiece::Sql("(".to_string())];
                pieces.extend(operand.pieces);
                pieces.push(SqlPiece::Sql(" = ".to_string()));
                pieces.push(SqlPiece::Bind(Value::Bool(true)));
                pieces.push(SqlPiece::Sql(")".to_string()));
                pieces
            }
            Kind::Null => vec![SqlPiece::Sql("1 = 0".to_string())],
            _ => operand.pieces,
        })
    }

    fn operand(&self, expr: &Expr) -> Result<Operand, Error> {
        match expr {
            Expr::Literal(literal) => Ok(literal_operand(literal)),
            Expr::Property(name) => {
                let column = self.set.column(name).expect("checked by check_query");
                Ok(Operand::sql(column.column, column_kind(column)))
            }
            Expr::Not(inner) => {
                let inner = self.condition(inner)?;
                // NOT of an unknown (null) comparison stays unknown, so it selects nothing, as OData.
                Ok(Operand::wrapped("(NOT (", inner, "))", Kind::Bool))
            }
            Expr::And(operands) | Expr::Or(operands) => {
                let keyword = if matches!(expr, Expr::And(_)) { " AND " } else { " OR " };
                let mut pieces = vec![SqlPiece::Sql("(".to_string())];
                for (index, operand) in operands.iter().enumerate() {
                    if index > 0 {
                        pieces.push(SqlPiece::Sql(keyword.to_string()));
                    }
                    pieces.push(SqlPiece::Sql("(".to_string()));
                    pieces.extend(self.condition(operand)?);
                    pieces.push(SqlPiece::Sql(")".to_string()));
                }
                pieces.push(SqlPiece::Sql(")".to_string()));
                Ok(Operand {
                    pieces,
                    kind: Kind::Bool,
                    literal: None,
                })
            }
            Expr::Compare { op, left, right } => {
                let left = self.operand(left)?;
                let right = self.operand(right)?;
                self.compare(*op, left, right)
            }
            Expr::Call { function, args } => self.call(*function, args),
        }
    }

    fn compare(&self, op: CompareOp, left: Operand, right: Operand) -> Result<Operand, Error> {
        // Comparisons with null: only eq and ne mean something.
        if left.kind == Kind::Null || right.kind == Kind::Null {
            let other = if left.kind == Kind::Null { right } else { left };
            let test = match op {
                CompareOp::Eq if other.kind == Kind::Null => return Ok(Operand::sql("(1 = 1)", Kind::Bool)),
                CompareOp::Ne if other.kind == Kind::Null => return Ok(Operand::sql("(1 = 0)", Kind::Bool)),
                CompareOp::Eq => " IS NULL)",
                CompareOp::Ne => " IS NOT NULL)",
                _ => return Ok(Operand::sql("(1 = 0)", Kind::Bool)),
            };
            return Ok(Operand::wrapped("(", other.pieces, test, Kind::Bool));
        }
        let (left, right) = align(left, right)?;
        let operator = match op {
            CompareOp::Eq => " = ",
            CompareOp::Ne => match self.backend {
                Backend::Sqlite => " IS NOT ",
                Backend::Postgres => " IS DISTINCT FROM ",
            },
            CompareOp::Gt => " > ",
            CompareOp::Ge => " >= ",
            CompareOp::Lt => " < ",
            CompareOp::Le => " <= ",
        };
        let mut pieces = vec![SqlPiece::Sql("(".to_string())];
        pieces.extend(left.pieces);
        pieces.push(SqlPiece::Sql(operator.to_string()));
        pieces.extend(right.pieces);
        pieces.push(SqlPiece::Sql(")".to_string()));
        Ok(Operand {
            pieces,
            kind: Kind::Bool,
            literal: None,
        })
    }

    fn call(&self, function: Function, args: &[Expr]) -> Result<Operand, Error> {
        let mut operands = args
            .iter()
            .map(|arg| self.operand(arg))
            .collect::<Result<Vec<_>, _>>()?;
        if operands.iter().any(|operand| operand.kind == Kind::Null) {
            // Every supported function of null is null, and a condition on null is false.
            let kind = match function {
                Function::Contains | Function::StartsWith | Function::EndsWith => Kind::Bool,
                _ => Kind::Null,
            };
            return Ok(Operand::sql(if kind == Kind::Bool { "(1 = 0)" } else { "NULL" }, kind));
        }
        let first = operands.remove(0);
        match function {
            Function::ToLower => Ok(Operand::wrapped("lower(", first.pieces, ")", Kind::Text)),
            Function::ToUpper => Ok(Operand::wrapped("upper(", first.pieces, ")", Kind::Text)),
            Function::Year | Function::Month | Function::Day => {
                let (start, length, part) = match function {
                    Function::Year => (1, 4, "YEAR"),
                    Function::Month => (6, 2, "MONTH"),
                    _ => (9, 2, "DAY"),
                };
                let number = Kind::Number { scale: 0 };
                Ok(match (self.backend, first.kind) {
                    // SQLite keeps dates and UTC instants as ISO text, so the parts are positions.
                    (Backend::Sqlite, _) => Operand::wrapped(
                        "CAST(substr(",
                        first.pieces,
                        &format!(", {start}, {length}) AS INTEGER)"),
                        number,
                    ),
                    (Backend::Postgres, Kind::Instant) => Operand::wrapped(
                        &format!("CAST(EXTRACT({part} FROM ("),
                        first.pieces,
                        ") AT TIME ZONE 'UTC') AS BIGINT)",
                        number,
                    ),
                    (Backend::Postgres, _) => Operand::wrapped(
                        &format!("CAST(EXTRACT({part} FROM "),
                        first.pieces,
                        ") AS BIGINT)",
                        number,
                    ),
                })
            }
            Function::Contains | Function::StartsWith | Function::EndsWith => {
                let needle = operands.remove(0);
                let mut pieces = vec![SqlPiece::Sql("(".to_string())];
                match function {
                    Function::Contains => {
                        let find = match self.backend {
                            Backend::Sqlite => "instr(",
                            Backend::Postgres => "strpos(",
                        };
                        pieces.push(SqlPiece::Sql(find.to_string()));
                        pieces.extend(first.pieces);
                        pieces.push(SqlPiece::Sql(", ".to_string()));
                        pieces.extend(needle.pieces);
                        pieces.push(SqlPiece::Sql(") > 0".to_string()));
                    }
                    Function::StartsWith => {
                        pieces.push(SqlPiece::Sql("substr(".to_string()));
                        pieces.extend(first.pieces);
                        pieces.push(SqlPiece::Sql(", 1, length(".to_string()));
                        pieces.extend(needle.pieces.clone());
                        pieces.push(SqlPiece::Sql(")) = ".to_string()));
                        pieces.extend(needle.pieces);
                    }
                    _ => match self.backend {
                        Backend::Sqlite => {
                            // substr(x, -0) is the whole string, so the empty suffix is handled apart.
                            pieces.push(SqlPiece::Sql("length(".to_string()));
                            pieces.extend(needle.pieces.clone());
                            pieces.push(SqlPiece::Sql(") = 0 OR substr(".to_string()));
                            pieces.extend(first.pieces);
                            pieces.push(SqlPiece::Sql(", -length(".to_string()));
                            pieces.extend(needle.pieces.clone());
                            pieces.push(SqlPiece::Sql(")) = ".to_string()));
                            pieces.extend(needle.pieces);
                        }
                        Backend::Postgres => {
                            pieces.push(SqlPiece::Sql("right(".to_string()));
                            pieces.extend(first.pieces);
                            pieces.push(SqlPiece::Sql(", length(".to_string()));
                            pieces.extend(needle.pieces.clone());
                            pieces.push(SqlPiece::Sql(")) = ".to_string()));
                            pieces.extend(needle.pieces);
                        }
                    },
                }
                pieces.push(SqlPiece::Sql(")".to_string()));
                Ok(Operand {
                    pieces,
                    kind: Kind::Bool,
                    literal: None,
                })
            }
        }
    }
}

fn column_kind(column: &FeedColumn) -> Kind {
    match (column.edm_type, column.kind) {
        (_, ColumnKind::Scaled { scale }) => Kind::Number {
            scale: u32::from(scale),
        },
        (EdmType::Int32 | EdmType::Int64 | EdmType::Decimal { .. }, _) => Kind::Number { scale: 0 },
        (EdmType::Boolean, _) => Kind::Bool,
        (EdmType::Date, _) => Kind::Date,
        (EdmType::DateTimeOffset, _) => Kind::Instant,
        (EdmType::String, _) => Kind::Text,
    }
}

fn literal_operand(literal: &Literal) -> Operand {
    match literal {
        Literal::Null => Operand::sql("NULL", Kind::Null),
        Literal::Boolean(value) => Operand::bind(Value::Bool(*value), Kind::Bool),
        Literal::Int(value) => Operand {
            pieces: vec![SqlPiece::Bind(Value::Integer(*value))],
            kind: Kind::Number { scale: 0 },
            literal: Some((i128::from(*value), 0)),
        },
        Literal::Decimal(decimal) => {
            let (mantissa, scale) = if decimal.scale() <= 0 {
                let factor = 10_i128.checked_pow(decimal.scale().unsigned_abs()).unwrap_or(i128::MAX);
                (decimal.mantissa().saturating_mul(factor), 0)
            } else {
                (decimal.mantissa(), decimal.scale().unsigned_abs())
            };
            Operand {
                pieces: Vec::new(),
                kind: Kind::Number { scale },
                literal: Some((mantissa, scale)),
            }
        }
        Literal::String(value) => Operand::bind(Value::Text(value.clone()), Kind::Text),
        Literal::Date(date) => Operand::bind(Value::Date(*date), Kind::Date),
        Literal::DateTimeOffset(instant) => Operand::bind(Value::Timestamp(*instant), Kind::Instant),
    }
}

/// Brings two numbers to one scale: literals are rescaled exactly in Rust, columns in SQL.
fn align(left: Operand, right: Operand) -> Result<(Operand, Operand), Error> {
    let (Kind::Number { scale: a }, Kind::Number { scale: b }) = (left.kind, right.kind) else {
        return Ok((finish(left, 0)?, finish(right, 0)?));
    };
    let target = a.max(b);
    Ok((rescale(left, target)?, rescale(right, target)?))
}

fn rescale(operand: Operand, target: u32) -> Result<Operand, Error> {
    let Kind::Number { scale } = operand.kind else {
        return Ok(operand);
    };
    if scale > 18 || target > 18 {
        return Err(too_large());
    }
    if operand.literal.is_some() {
        return finish(operand, target);
    }
    if scale == target {
        return Ok(operand);
    }
    let factor = 10_i64.pow(target - scale);
    Ok(Operand::wrapped(
        "(",
        operand.pieces,
        &format!(" * {factor})"),
        Kind::Number { scale: target },
    ))
}

/// A numeric literal as a bound integer at the target scale.
fn finish(operand: Operand, target: u32) -> Result<Operand, Error> {
    let Some((mantissa, scale)) = operand.literal else {
        return Ok(operand);
    };
    let factor = 10_i128
        .checked_pow(target.saturating_sub(scale))
        .ok_or_else(too_large)?;
    let value = mantissa.checked_mul(factor).ok_or_else(too_large)?;
    let value = i64::try_from(value).map_err(|_| too_large())?;
    Ok(Operand {
        pieces: vec![SqlPiece::Bind(Value::Integer(value))],
        kind: Kind::Number { scale: target },
        literal: None,
    })
}

/// The storage types of the planned columns, for the store's decoder.
pub fn storage_columns<'f>(plan: &Plan<'f>) -> Vec<(&'static str, StorageType)> {
    plan.columns
        .iter()
        .map(|column| (column.column, column.storage))
        .collect()
}
