//! OData query options turned into a reporting read: `$filter` and `$orderby` into SQL pieces whose
//! values are always bound parameters, `$select` into columns. Options are type-checked by
//! `koppel_odata` first, so every operation here is between compatible types.
//!
//! The SQL means what OData means, identically on SQLite and PostgreSQL:
//!
//! - **Null.** Comparisons are two-valued and never null: `null eq null` is true, `null eq 'x'`
//!   false, `ne` its negation; `gt`/`lt` with a null operand are false; `ge`/`le` are true only when
//!   both operands are null or the ordering holds. So `not (X eq 'y')` is true where `X` is null.
//!   Functions and arithmetic of null are null. `and`, `or` and `not` follow Kleene's logic (a null
//!   Boolean, such as a null Boolean property or `contains(null, 'x')`, is unknown; `not unknown` is
//!   unknown), and `$filter` keeps the rows where the condition is true: exactly SQL's own logic,
//!   once comparisons cannot be unknown.
//! - **Numbers are exact.** Decimals are integers of 10^-scale units (money in cents, quantities in
//!   thousandths; literals at their own scale). `add`/`sub` keep the larger scale, `mul` adds the
//!   scales, decimal `div`/`divby` keep [`DIVISION_SCALE`] digits (or more if an operand has more),
//!   truncated toward zero; integer `div` truncates toward zero; `mod` has the dividend's sign;
//!   `round` rounds halves away from zero. At most [`MAX_SCALE`] digits after the point (else 400).
//!   A result beyond ±(2^63−1) units, and a division or `mod` by zero, is null: the row is then
//!   compared as OData compares null, the query never fails half-way and the answer is the same
//!   on both backends. (On PostgreSQL the arithmetic runs in `NUMERIC`; on SQLite in functions
//!   registered on every connection by `koppel_store`, which compute in 128 bits.)
//! - **Text.** Lengths and positions count characters (code points). `tolower`/`toupper` use the
//!   full Unicode case mapping on both backends (Rust's on SQLite, ICU's root locale on PostgreSQL),
//!   so `toupper('ß')` is `'SS'` and accented capitals are lowered whatever the database's locale.
//!   Order (`gt`, `lt`, `$orderby`) is by code point (`COLLATE "C"` on PostgreSQL, SQLite's binary).
//!   `trim` removes spaces, tabs, carriage returns and line feeds.
//! - **Time.** Instants are UTC; `date`, `time` and the parts of an instant are those of its UTC
//!   value. `$orderby` puts nulls first ascending and last descending, as OData prescribes; the key
//!   breaks ties.

use crate::feed::{ColumnKind, FeedColumn, FeedSet};
use crate::rows::SqlPiece;
use chrono::{NaiveTime, Timelike};
use koppel_domain::record::{StorageType, Value};
use koppel_odata::{ArithmeticOp, CompareOp, Direction, EdmType, Error, Expr, Function, Literal, QueryOptions};
use koppel_store::Backend;

/// Digits after the point a decimal division keeps at least.
pub const DIVISION_SCALE: u32 = 6;

/// Most digits after the point a decimal value may have in a query.
pub const MAX_SCALE: u32 = 18;

/// Most pieces the SQL of one query may have: a bound on the SQL made from a query whose size the
/// parser already bounds, because a few operators repeat their operands.
const MAX_PIECES: usize = 50_000;

/// The blanks `trim` removes.
const TRIMMED: &str = " \t\r\n";

/// One past the largest magnitude a number may have, in units (2^63).
const OUT_OF_RANGE: &str = "9223372036854775808";

/// What a collection request reads, ready for a [`crate::rows::ReportingRead`].
#[derive(Debug, Clone)]
pub struct Plan<'f> {
    /// The properties written, in model order (all of them without `$select`).
    pub columns: Vec<&'f FeedColumn>,
    pub filter: Vec<SqlPiece>,
    /// One complete `ORDER BY` term per `$orderby` item (direction and null order included).
    pub order: Vec<Vec<SqlPiece>>,
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
    let translator = Translator { set, backend };
    let filter = match &options.filter {
        None => Vec::new(),
        Some(expr) => translator.condition(expr)?,
    };
    let mut order = Vec::new();
    for (expr, direction) in &options.orderby {
        if let Some(term) = translator.order_term(expr, *direction)? {
            order.push(term);
        }
    }
    let size = filter.len() + order.iter().map(Vec::len).sum::<usize>();
    if size > MAX_PIECES {
        return Err(too_complex());
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
    Time,
    Instant,
}

#[derive(Debug, Clone)]
struct Operand {
    pieces: Vec<SqlPiece>,
    kind: Kind,
    /// Whether the SQL can be null for some row.
    nullable: bool,
    /// A literal number (mantissa and scale) that can be rescaled in Rust instead of in SQL.
    literal: Option<(i128, u32)>,
}

fn sql(text: &str) -> SqlPiece {
    SqlPiece::Sql(text.to_string())
}

impl Operand {
    fn of(pieces: Vec<SqlPiece>, kind: Kind, nullable: bool) -> Operand {
        Operand {
            pieces,
            kind,
            nullable,
            literal: None,
        }
    }

    fn constant(text: &str, kind: Kind) -> Operand {
        Operand::of(vec![sql(text)], kind, kind == Kind::Null)
    }

    fn bind(value: Value, kind: Kind) -> Operand {
        Operand::of(vec![SqlPiece::Bind(value)], kind, false)
    }

    fn boolean(pieces: Vec<SqlPiece>) -> Operand {
        Operand::of(pieces, Kind::Bool, false)
    }
}

/// Builds SQL from text and operands: `build(&["lower(", ")"], [x])` is `lower(x)`.
fn build(texts: &[&str], operands: &[&[SqlPiece]]) -> Result<Vec<SqlPiece>, Error> {
    let mut pieces = Vec::new();
    for (index, text) in texts.iter().enumerate() {
        if !text.is_empty() {
            pieces.push(sql(text));
        }
        if let Some(operand) = operands.get(index) {
            pieces.extend_from_slice(operand);
        }
    }
    if pieces.len() > MAX_PIECES {
        return Err(too_complex());
    }
    Ok(pieces)
}

struct Translator<'a> {
    set: &'a FeedSet,
    backend: Backend,
}

fn too_large() -> Error {
    Error::Malformed {
        message: "$filter: a number is too large or has too many decimal places to compute with exactly".to_string(),
        position: None,
    }
}

fn too_complex() -> Error {
    Error::Malformed {
        message: "$filter: the expression is too complex to run; simplify it".to_string(),
        position: None,
    }
}

impl Translator<'_> {
    fn is_postgres(&self) -> bool {
        self.backend == Backend::Postgres
    }

    fn null_boolean(&self) -> Vec<SqlPiece> {
        vec![sql(if self.is_postgres() {
            "CAST(NULL AS BOOLEAN)"
        } else {
            "NULL"
        })]
    }

    /// A boolean expression as SQL that is true, false or (for an unknown Boolean) null.
    fn condition(&self, expr: &Expr) -> Result<Vec<SqlPiece>, Error> {
        let operand = self.operand(expr)?;
        Ok(match operand.kind {
            // A bare Boolean property or literal: compared with true, so null stays unknown.
            Kind::Bool if matches!(expr, Expr::Property(_) | Expr::Literal(_)) => build(
                &["(", " = ", ")"],
                &[&operand.pieces, &[SqlPiece::Bind(Value::Bool(true))]],
            )?,
            Kind::Null => self.null_boolean(),
            _ => operand.pieces,
        })
    }

    fn operand(&self, expr: &Expr) -> Result<Operand, Error> {
        match expr {
            Expr::Literal(literal) => Ok(self.literal_operand(literal)),
            Expr::Property(name) => {
                let column = self.set.column(name).expect("checked by check_query");
                Ok(Operand::of(
                    vec![sql(column.column)],
                    column_kind(column),
                    column.nullable,
                ))
            }
            Expr::Not(inner) => {
                let inner = self.condition(inner)?;
                Ok(Operand::boolean(build(&["(NOT (", "))"], &[&inner])?))
            }
            Expr::And(operands) | Expr::Or(operands) => {
                let keyword = if matches!(expr, Expr::And(_)) { " AND " } else { " OR " };
                let parts = operands
                    .iter()
                    .map(|operand| self.condition(operand))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Operand::boolean(balanced(parts, keyword)?))
            }
            Expr::Compare { op, left, right } => {
                let left = self.operand(left)?;
                let right = self.operand(right)?;
                self.compare(*op, left, right)
            }
            Expr::In { value, list } => self.in_list(value, list),
            Expr::Negate(inner) => {
                let inner = self.operand(inner)?;
                if let Some((mantissa, scale)) = inner.literal {
                    return Ok(Operand {
                        literal: Some((-mantissa, scale)),
                        ..inner
                    });
                }
                let zero = self.literal_operand(&Literal::Int(0));
                self.arithmetic(ArithmeticOp::Sub, zero, inner)
            }
            Expr::Arithmetic { op, left, right } => {
                let left = self.operand(left)?;
                let right = self.operand(right)?;
                self.arithmetic(*op, left, right)
            }
            Expr::Call { function, args } => self.call(*function, args),
        }
    }

    fn literal_operand(&self, literal: &Literal) -> Operand {
        match literal {
            Literal::Null => Operand::constant("NULL", Kind::Null),
            Literal::Boolean(value) => Operand::bind(Value::Bool(*value), Kind::Bool),
            Literal::Int(value) => Operand {
                pieces: Vec::new(),
                kind: Kind::Number { scale: 0 },
                nullable: false,
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
                    nullable: false,
                    literal: Some((mantissa, scale)),
                }
            }
            Literal::String(value) => Operand::bind(Value::Text(value.clone()), Kind::Text),
            Literal::Date(date) => Operand::bind(Value::Date(*date), Kind::Date),
            Literal::TimeOfDay(time) => {
                let text = SqlPiece::Bind(Value::Text(time_text(*time)));
                if self.is_postgres() {
                    Operand::of(vec![sql("CAST("), text, sql(" AS TIME)")], Kind::Time, false)
                } else {
                    Operand::of(vec![text], Kind::Time, false)
                }
            }
            Literal::DateTimeOffset(instant) => Operand::bind(Value::Timestamp(*instant), Kind::Instant),
        }
    }

    /// Text in byte (code point) order for an ordering comparison or `ORDER BY`.
    fn ordered_text(&self, operand: Operand) -> Result<Operand, Error> {
        if operand.kind == Kind::Text && self.is_postgres() {
            let pieces = build(&["(", " COLLATE \"C\")"], &[&operand.pieces])?;
            return Ok(Operand { pieces, ..operand });
        }
        Ok(operand)
    }

    fn compare(&self, op: CompareOp, left: Operand, right: Operand) -> Result<Operand, Error> {
        if left.kind == Kind::Null || right.kind == Kind::Null {
            let both_null = left.kind == Kind::Null && right.kind == Kind::Null;
            let other = if left.kind == Kind::Null { right } else { left };
            let other = self.finish(other)?;
            let holds_for_null = matches!(op, CompareOp::Eq | CompareOp::Ge | CompareOp::Le);
            return Ok(Operand::boolean(match (both_null, op) {
                (true, _) if holds_for_null => vec![sql("(1 = 1)")],
                (true, _) => vec![sql("(1 = 0)")],
                (false, CompareOp::Ne) => build(&["(", " IS NOT NULL)"], &[&other.pieces])?,
                (false, _) if holds_for_null => build(&["(", " IS NULL)"], &[&other.pieces])?,
                (false, _) => vec![sql("(1 = 0)")],
            }));
        }
        let (left, right) = self.align(left, right)?;
        let (left, right) = if op.is_equality() {
            (left, right)
        } else {
            (self.ordered_text(left)?, self.ordered_text(right)?)
        };
        let (a, b) = (&left.pieces[..], &right.pieces[..]);
        let any_null = left.nullable || right.nullable;
        let postgres = self.is_postgres();
        let pieces = match op {
            CompareOp::Eq if !any_null => build(&["(", " = ", ")"], &[a, b])?,
            CompareOp::Ne if !any_null => build(&["(", " <> ", ")"], &[a, b])?,
            CompareOp::Eq if postgres => build(&["(", " IS NOT DISTINCT FROM ", ")"], &[a, b])?,
            CompareOp::Eq => build(&["(", " IS ", ")"], &[a, b])?,
            CompareOp::Ne if postgres => build(&["(", " IS DISTINCT FROM ", ")"], &[a, b])?,
            CompareOp::Ne => build(&["(", " IS NOT ", ")"], &[a, b])?,
            _ => {
                let operator = match op {
                    CompareOp::Gt => " > ",
                    CompareOp::Ge => " >= ",
                    CompareOp::Lt => " < ",
                    _ => " <= ",
                };
                let both_nullable = left.nullable && right.nullable;
                if !any_null {
                    build(&["(", operator, ")"], &[a, b])?
                } else if both_nullable && matches!(op, CompareOp::Ge | CompareOp::Le) {
                    build(
                        &["COALESCE(", operator, ", ", " IS NULL AND ", " IS NULL)"],
                        &[a, b, a, b],
                    )?
                } else {
                    build(&["COALESCE(", operator, ", 1 = 0)"], &[a, b])?
                }
            }
        };
        Ok(Operand::boolean(pieces))
    }

    fn in_list(&self, value: &Expr, list: &[Expr]) -> Result<Operand, Error> {
        let value = self.operand(value)?;
        let mut items = Vec::new();
        let mut has_null = false;
        for item in list {
            let item = self.operand(item)?;
            if item.kind == Kind::Null {
                has_null = true;
            } else {
                items.push(item);
            }
        }
        if value.kind == Kind::Null {
            return Ok(Operand::boolean(vec![sql(if has_null {
                "(1 = 1)"
            } else {
                "(1 = 0)"
            })]));
        }
        if items.iter().any(|item| item.nullable) {
            // Column items: null-safe equality with each, one by one.
            let mut parts = Vec::new();
            for item in items {
                parts.push(self.compare(CompareOp::Eq, value.clone(), item)?.pieces);
            }
            if has_null {
                parts.push(build(&["(", " IS NULL)"], &[&self.finish(value.clone())?.pieces])?);
            }
            if parts.is_empty() {
                return Ok(Operand::boolean(vec![sql("(1 = 0)")]));
            }
            return Ok(Operand::boolean(balanced(parts, " OR ")?));
        }
        let target = std::iter::once(&value)
            .chain(&items)
            .filter_map(|operand| match operand.kind {
                Kind::Number { scale } => Some(scale),
                _ => None,
            })
            .max();
        let rescale = |operand: Operand| match target {
            Some(target) => self.rescale(operand, target),
            None => self.finish(operand),
        };
        let value = rescale(value)?;
        let mut pieces = Vec::new();
        if !items.is_empty() {
            let mut list = vec![sql("(")];
            list.extend(value.pieces.iter().cloned());
            list.push(sql(" IN ("));
            for (index, item) in items.into_iter().enumerate() {
                if index > 0 {
                    list.push(sql(", "));
                }
                list.extend(rescale(item)?.pieces);
            }
            list.push(sql("))"));
            pieces = if value.nullable {
                build(&["COALESCE(", ", 1 = 0)"], &[&list])?
            } else {
                list
            };
        }
        if has_null {
            let is_null = build(&["(", " IS NULL)"], &[&value.pieces])?;
            pieces = if pieces.is_empty() {
                is_null
            } else {
                build(&["(", " OR ", ")"], &[&is_null, &pieces])?
            };
        }
        if pieces.is_empty() {
            pieces = vec![sql("(1 = 0)")];
        }
        Ok(Operand::boolean(pieces))
    }

    /// An arithmetic operation on two numbers (or null).
    fn arithmetic(&self, op: ArithmeticOp, left: Operand, right: Operand) -> Result<Operand, Error> {
        let (Kind::Number { scale: a }, Kind::Number { scale: b }) = (left.kind, right.kind) else {
            // Arithmetic with null is null (the checker allows only numbers and null here).
            return Ok(Operand::constant("NULL", Kind::Null));
        };
        let decimal = op == ArithmeticOp::DivBy || a > 0 || b > 0;
        match op {
            ArithmeticOp::Add | ArithmeticOp::Sub | ArithmeticOp::Mod => {
                let target = a.max(b);
                let left = self.rescale(left, target)?;
                let right = self.rescale(right, target)?;
                let (sqlite, postgres) = match op {
                    ArithmeticOp::Add => ("exact_add", "+"),
                    ArithmeticOp::Sub => ("exact_sub", "-"),
                    _ => ("exact_mod", "mod"),
                };
                let pieces = if self.is_postgres() {
                    let inner = if op == ArithmeticOp::Mod {
                        build(
                            &["mod(CAST(", " AS NUMERIC), NULLIF(", ", 0))"],
                            &[&left.pieces, &right.pieces],
                        )?
                    } else {
                        let operator = format!(" AS NUMERIC) {postgres} ");
                        build(&["(CAST(", &operator, ")"], &[&left.pieces, &right.pieces])?
                    };
                    self.checked(inner)?
                } else {
                    build(&[&format!("{sqlite}("), ", ", ")"], &[&left.pieces, &right.pieces])?
                };
                Ok(Operand::of(pieces, Kind::Number { scale: target }, true))
            }
            ArithmeticOp::Mul => {
                let scale = a + b;
                if scale > MAX_SCALE {
                    return Err(too_large());
                }
                let left = self.finish(left)?;
                let right = self.finish(right)?;
                let pieces = if self.is_postgres() {
                    self.checked(build(
                        &["(CAST(", " AS NUMERIC) * ", ")"],
                        &[&left.pieces, &right.pieces],
                    )?)?
                } else {
                    build(&["exact_mul(", ", ", ")"], &[&left.pieces, &right.pieces])?
                };
                Ok(Operand::of(pieces, Kind::Number { scale }, true))
            }
            ArithmeticOp::Div | ArithmeticOp::DivBy => {
                let scale = if decimal { DIVISION_SCALE.max(a).max(b) } else { 0 };
                // units = left_units × 10^shift ÷ right_units, truncated toward zero.
                let shift = scale + b - a;
                if scale > MAX_SCALE || shift > MAX_SCALE {
                    return Err(too_large());
                }
                let left = self.finish(left)?;
                let right = self.finish(right)?;
                let factor = SqlPiece::Bind(Value::Integer(10_i64.pow(shift)));
                let pieces = if self.is_postgres() {
                    self.checked(build(
                        &["div(CAST(", " AS NUMERIC) * ", ", NULLIF(", ", 0))"],
                        &[&left.pieces, &[factor], &right.pieces],
                    )?)?
                } else {
                    build(
                        &["exact_div(", ", ", ", ", ")"],
                        &[&left.pieces, &right.pieces, &[factor]],
                    )?
                };
                Ok(Operand::of(pieces, Kind::Number { scale }, true))
            }
        }
    }

    /// PostgreSQL: a `NUMERIC` result, or null when it is beyond ±(2^63−1) (GREATEST and LEAST skip
    /// a null, which then becomes -2^63 and is turned back into null).
    fn checked(&self, numeric: Vec<SqlPiece>) -> Result<Vec<SqlPiece>, Error> {
        let low = format!("-{OUT_OF_RANGE}");
        build(
            &[
                "NULLIF(NULLIF(LEAST(GREATEST(",
                &format!(", {low}), {OUT_OF_RANGE}), {OUT_OF_RANGE}), {low})"),
            ],
            &[&numeric],
        )
    }

    fn call(&self, function: Function, args: &[Expr]) -> Result<Operand, Error> {
        let operands = args
            .iter()
            .map(|arg| self.operand(arg))
            .collect::<Result<Vec<_>, _>>()?;
        if operands.iter().any(|operand| operand.kind == Kind::Null) {
            // Every function of null is null.
            let kind = match function {
                Function::Contains | Function::StartsWith | Function::EndsWith => {
                    return Ok(Operand::of(self.null_boolean(), Kind::Bool, true));
                }
                _ => Kind::Null,
            };
            return Ok(Operand::constant("NULL", kind));
        }
        let nullable = operands.iter().any(|operand| operand.nullable);
        let postgres = self.is_postgres();
        let mut operands = operands
            .into_iter()
            .map(|operand| self.finish(operand))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter();
        let first = operands.next().expect("every function has an argument");
        let second = operands.next();
        let third = operands.next();
        let x = &first.pieces[..];
        let y = second.as_ref().map_or(&[][..], |operand| &operand.pieces[..]);
        let text = |pieces| Ok(Operand::of(pieces, Kind::Text, nullable));
        let integer = |pieces| Ok(Operand::of(pieces, Kind::Number { scale: 0 }, nullable));
        let boolean = |pieces| Ok(Operand::of(pieces, Kind::Bool, nullable));
        match function {
            Function::ToLower if postgres => text(build(&["lower(", " COLLATE \"und-x-icu\")"], &[x])?),
            Function::ToUpper if postgres => text(build(&["upper(", " COLLATE \"und-x-icu\")"], &[x])?),
            Function::ToLower => text(build(&["unicode_lower(", ")"], &[x])?),
            Function::ToUpper => text(build(&["unicode_upper(", ")"], &[x])?),
            Function::Length => integer(build(&["length(", ")"], &[x])?),
            Function::Trim => {
                let blanks = [SqlPiece::Bind(Value::Text(TRIMMED.to_string()))];
                let name = if postgres { "btrim(" } else { "trim(" };
                text(build(&[name, ", ", ")"], &[x, &blanks])?)
            }
            Function::Concat => text(build(&["(", " || ", ")"], &[x, y])?),
            Function::IndexOf => {
                let name = if postgres { "(strpos(" } else { "(instr(" };
                integer(build(&[name, ", ", ") - 1)"], &[x, y])?)
            }
            Function::Contains => {
                let name = if postgres { "(strpos(" } else { "(instr(" };
                boolean(build(&[name, ", ", ") > 0)"], &[x, y])?)
            }
            Function::StartsWith => boolean(build(&["(substr(", ", 1, length(", ")) = ", ")"], &[x, y, y])?),
            Function::EndsWith if postgres => boolean(build(&["(right(", ", length(", ")) = ", ")"], &[x, y, y])?),
            Function::EndsWith => boolean(build(
                &[
                    "(length(",
                    ") >= length(",
                    ") AND substr(",
                    ", length(",
                    ") - length(",
                    ") + 1) = ",
                    ")",
                ],
                &[x, y, x, x, y, y],
            )?),
            Function::Substring => {
                let second = second.as_ref().expect("checked arity");
                text(self.substring(&first, second, third.as_ref())?)
            }
            Function::Year | Function::Month | Function::Day => {
                let (start, part) = match function {
                    Function::Year => (1, "YEAR"),
                    Function::Month => (6, "MONTH"),
                    _ => (9, "DAY"),
                };
                let length = if function == Function::Year { 4 } else { 2 };
                integer(self.date_part(&first, part, start, length)?)
            }
            Function::Hour | Function::Minute | Function::Second => {
                let (part, offset) = match function {
                    Function::Hour => ("HOUR", 0),
                    Function::Minute => ("MINUTE", 3),
                    _ => ("SECOND", 6),
                };
                // Instants are `YYYY-MM-DDTHH:MM:SS…` on SQLite, times `HH:MM:SS…`.
                let start = if first.kind == Kind::Instant {
                    12 + offset
                } else {
                    1 + offset
                };
                integer(self.date_part(&first, part, start, 2)?)
            }
            Function::FractionalSeconds => {
                let pieces = match (postgres, first.kind) {
                    (true, Kind::Instant) => build(
                        &[
                            "(CAST(EXTRACT(MICROSECONDS FROM (",
                            ") AT TIME ZONE 'UTC') AS BIGINT) % 1000000)",
                        ],
                        &[x],
                    )?,
                    (true, _) => build(&["(CAST(EXTRACT(MICROSECONDS FROM ", ") AS BIGINT) % 1000000)"], &[x])?,
                    (false, _) => build(&["micros_of(", ")"], &[x])?,
                };
                Ok(Operand::of(pieces, Kind::Number { scale: 6 }, nullable))
            }
            Function::Date => {
                let pieces = if postgres {
                    build(&["CAST((", ") AT TIME ZONE 'UTC' AS DATE)"], &[x])?
                } else {
                    build(&["substr(", ", 1, 10)"], &[x])?
                };
                Ok(Operand::of(pieces, Kind::Date, nullable))
            }
            Function::Time => {
                let pieces = if postgres {
                    build(&["CAST((", ") AT TIME ZONE 'UTC' AS TIME)"], &[x])?
                } else {
                    // `YYYY-MM-DDTHH:MM:SS[.fff]+00:00`: what lies between `T` and the offset.
                    build(&["substr(", ", 12, length(", ") - 17)"], &[x, x])?
                };
                Ok(Operand::of(pieces, Kind::Time, nullable))
            }
            Function::Round | Function::Floor | Function::Ceiling => {
                let Kind::Number { scale } = first.kind else {
                    return Ok(first);
                };
                if scale == 0 {
                    return Ok(first);
                }
                let factor = 10_i64.pow(scale);
                let pieces = if postgres {
                    let name = match function {
                        Function::Round => "round",
                        Function::Floor => "floor",
                        _ => "ceiling",
                    };
                    let factor = [SqlPiece::Bind(Value::Integer(factor))];
                    self.checked(build(
                        &[
                            &format!("({name}(CAST("),
                            &format!(" AS NUMERIC(40, {scale})) / "),
                            ") * ",
                            ")",
                        ],
                        &[x, &factor, &factor],
                    )?)?
                } else {
                    let name = match function {
                        Function::Round => "exact_round(",
                        Function::Floor => "exact_floor(",
                        _ => "exact_ceiling(",
                    };
                    build(&[name, ", ", ")"], &[x, &[SqlPiece::Bind(Value::Integer(factor))]])?
                };
                Ok(Operand::of(pieces, Kind::Number { scale }, true))
            }
        }
    }

    /// A part of a date, an instant (in UTC) or a time, as an integer.
    fn date_part(&self, operand: &Operand, part: &str, start: u32, length: u32) -> Result<Vec<SqlPiece>, Error> {
        let x = &operand.pieces[..];
        match (self.backend, operand.kind) {
            // SQLite keeps dates, UTC instants and times as ISO text, so the parts are positions.
            (Backend::Sqlite, _) => build(&["CAST(substr(", &format!(", {start}, {length}) AS INTEGER)")], &[x]),
            (Backend::Postgres, Kind::Instant) => build(
                &[
                    &format!("CAST(FLOOR(EXTRACT({part} FROM ("),
                    ") AT TIME ZONE 'UTC')) AS BIGINT)",
                ],
                &[x],
            ),
            (Backend::Postgres, _) => build(&[&format!("CAST(FLOOR(EXTRACT({part} FROM "), ")) AS BIGINT)"], &[x]),
        }
    }

    /// `substring(text, start[, length])` with OData's 0-based start; a negative start counts as 0
    /// and a negative length as 0.
    fn substring(&self, text: &Operand, start: &Operand, length: Option<&Operand>) -> Result<Vec<SqlPiece>, Error> {
        const MAX: &str = "2147483646";
        if !self.is_postgres() {
            let position = build(&["(min(max(", ", 0), 2147483646) + 1)"], &[&start.pieces])?;
            return match length {
                None => build(&["substr(", ", ", ")"], &[&text.pieces, &position]),
                Some(length) => build(
                    &["substr(", ", ", ", min(max(", ", 0), 2147483646))"],
                    &[&text.pieces, &position, &length.pieces],
                ),
            };
        }
        // PostgreSQL's LEAST and GREATEST skip nulls, so a null bound makes the whole call null.
        let position = build(
            &["(CAST(LEAST(GREATEST(", &format!(", 0), {MAX}) AS INTEGER) + 1)")],
            &[&start.pieces],
        )?;
        let mut call = match length {
            None => build(&["substr(", ", ", ")"], &[&text.pieces, &position])?,
            Some(length) => build(
                &[
                    "substr(",
                    ", ",
                    ", CAST(LEAST(GREATEST(",
                    &format!(", 0), {MAX}) AS INTEGER))"),
                ],
                &[&text.pieces, &position, &length.pieces],
            )?,
        };
        for bound in std::iter::once(start).chain(length) {
            if bound.nullable {
                call = build(
                    &["(CASE WHEN ", " IS NULL THEN NULL ELSE ", " END)"],
                    &[&bound.pieces, &call],
                )?;
            }
        }
        Ok(call)
    }

    /// One `ORDER BY` term, or none for a constant null.
    fn order_term(&self, expr: &Expr, direction: Direction) -> Result<Option<Vec<SqlPiece>>, Error> {
        let operand = self.operand(expr)?;
        if operand.kind == Kind::Null {
            return Ok(None);
        }
        let operand = self.ordered_text(self.finish(operand)?)?;
        let descending = direction == Direction::Desc;
        let suffix = match (descending, operand.nullable) {
            (false, false) => " ASC",
            (true, false) => " DESC",
            // OData: nulls before everything ascending, after everything descending.
            (false, true) => " ASC NULLS FIRST",
            (true, true) => " DESC NULLS LAST",
        };
        let pieces = if matches!(expr, Expr::Property(_)) {
            build(&["", suffix], &[&operand.pieces])?
        } else {
            build(&["(", &format!("){suffix}")], &[&operand.pieces])?
        };
        Ok(Some(pieces))
    }

    /// Brings two numbers to one scale: literals are rescaled exactly in Rust, other values in SQL.
    fn align(&self, left: Operand, right: Operand) -> Result<(Operand, Operand), Error> {
        let (Kind::Number { scale: a }, Kind::Number { scale: b }) = (left.kind, right.kind) else {
            return Ok((self.finish(left)?, self.finish(right)?));
        };
        let target = a.max(b);
        Ok((self.rescale(left, target)?, self.rescale(right, target)?))
    }

    fn rescale(&self, operand: Operand, target: u32) -> Result<Operand, Error> {
        let Kind::Number { scale } = operand.kind else {
            return self.finish(operand);
        };
        if scale > MAX_SCALE || target > MAX_SCALE {
            return Err(too_large());
        }
        if operand.literal.is_some() {
            return finish_number(operand, target);
        }
        if scale == target {
            return Ok(operand);
        }
        let factor = [SqlPiece::Bind(Value::Integer(10_i64.pow(target - scale)))];
        let pieces = if self.is_postgres() {
            self.checked(build(&["(CAST(", " AS NUMERIC) * ", ")"], &[&operand.pieces, &factor])?)?
        } else {
            build(&["exact_mul(", ", ", ")"], &[&operand.pieces, &factor])?
        };
        Ok(Operand::of(pieces, Kind::Number { scale: target }, true))
    }

    /// An operand ready for SQL: a literal number bound at its own scale.
    fn finish(&self, operand: Operand) -> Result<Operand, Error> {
        match (operand.literal, operand.kind) {
            (Some(_), Kind::Number { scale }) => finish_number(operand, scale),
            _ => Ok(operand),
        }
    }
}

/// `a OR b OR …` as a balanced tree of parentheses, so long chains stay shallow for the database.
fn balanced(mut parts: Vec<Vec<SqlPiece>>, keyword: &str) -> Result<Vec<SqlPiece>, Error> {
    if parts.len() <= 1 {
        return Ok(parts.pop().unwrap_or_else(|| vec![sql("(1 = 1)")]));
    }
    let right = parts.split_off(parts.len() / 2);
    let left = balanced(parts, keyword)?;
    let right = balanced(right, keyword)?;
    build(&["((", &format!("){keyword}("), "))"], &[&left, &right])
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

/// A time of day as text the way instants are kept on SQLite (`HH:MM:SS`, then 3 or 6 digits of
/// fraction when there is one), to the microsecond.
fn time_text(time: NaiveTime) -> String {
    let micros = time.nanosecond() / 1_000;
    let whole = format!("{:02}:{:02}:{:02}", time.hour(), time.minute(), time.second());
    if micros == 0 {
        whole
    } else if micros.is_multiple_of(1_000) {
        format!("{whole}.{:03}", micros / 1_000)
    } else {
        format!("{whole}.{micros:06}")
    }
}

/// A numeric literal as a bound integer at the target scale.
fn finish_number(operand: Operand, target: u32) -> Result<Operand, Error> {
    let Some((mantissa, scale)) = operand.literal else {
        return Ok(operand);
    };
    if target > MAX_SCALE {
        return Err(too_large());
    }
    let factor = 10_i128
        .checked_pow(target.saturating_sub(scale))
        .ok_or_else(too_large)?;
    // A literal with more decimals than the target keeps them: compare at the literal's scale.
    if scale > target {
        return Err(too_large());
    }
    let value = mantissa.checked_mul(factor).ok_or_else(too_large)?;
    let value = i64::try_from(value).map_err(|_| too_large())?;
    Ok(Operand {
        pieces: vec![SqlPiece::Bind(Value::Integer(value))],
        kind: Kind::Number { scale: target },
        nullable: false,
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
