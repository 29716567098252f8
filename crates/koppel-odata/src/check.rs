//! Checking parsed query options against an entity type: known property names and sound `$filter` types.
//!
//! The rules are those of OData's type system, restricted to Koppel's types: numbers (integers and
//! decimals) compare with numbers, strings with strings, `Edm.Date` with dates, `Edm.TimeOfDay`
//! with times and `Edm.DateTimeOffset` with instants; anything compares with `null`; `and`, `or`,
//! `not` and the whole `$filter` need booleans; arithmetic needs numbers; every function has its
//! argument types. A date column is deliberately not comparable with an instant: which time zone
//! the date is in would be a guess. Arithmetic on dates and instants needs durations, which the
//! feed does not have: that is refused as not implemented (501), not as a client error.

use crate::Error;
use crate::filter::{ArithmeticOp, Expr, Function, Literal};
use crate::model::{EdmType, EntityType};
use crate::query::QueryOptions;

/// The type of a `$filter` sub-expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueType {
    Null,
    Boolean,
    Integer,
    Decimal,
    String,
    Date,
    TimeOfDay,
    DateTimeOffset,
}

impl ValueType {
    fn of_edm(edm_type: EdmType) -> ValueType {
        match edm_type {
            EdmType::Int32 | EdmType::Int64 => ValueType::Integer,
            EdmType::Decimal { .. } => ValueType::Decimal,
            EdmType::String => ValueType::String,
            EdmType::Boolean => ValueType::Boolean,
            EdmType::Date => ValueType::Date,
            EdmType::DateTimeOffset => ValueType::DateTimeOffset,
        }
    }

    fn name(self) -> &'static str {
        match self {
            ValueType::Null => "null",
            ValueType::Boolean => "Edm.Boolean",
            ValueType::Integer => "an integer",
            ValueType::Decimal => "Edm.Decimal",
            ValueType::String => "Edm.String",
            ValueType::Date => "Edm.Date",
            ValueType::TimeOfDay => "Edm.TimeOfDay",
            ValueType::DateTimeOffset => "Edm.DateTimeOffset",
        }
    }

    fn is_numeric(self) -> bool {
        matches!(self, ValueType::Integer | ValueType::Decimal)
    }

    fn comparable_with(self, other: ValueType) -> bool {
        self == other
            || self == ValueType::Null
            || other == ValueType::Null
            || (self.is_numeric() && other.is_numeric())
    }
}

/// Checks that a `$filter` only names properties of `entity_type` and is well typed and boolean.
///
/// # Errors
/// [`Error::UnknownProperty`] or [`Error::TypeMismatch`], both answered with 400, and
/// [`Error::Unsupported`] for date arithmetic.
pub fn check_filter(expr: &Expr, entity_type: &EntityType) -> Result<(), Error> {
    let checker = Checker {
        entity_type,
        option: "$filter",
    };
    let value_type = checker.type_of(expr)?;
    if value_type != ValueType::Boolean {
        return Err(checker.mismatch(format!(
            "the expression must be a true/false condition, but `{expr}` is {}",
            value_type.name()
        )));
    }
    Ok(())
}

/// Checks every part of the query options against `entity_type`: the `$filter` as [`check_filter`]
/// does, that `$select` names existing properties, and that every `$orderby` item is well typed.
///
/// # Errors
/// [`Error::UnknownProperty`] or [`Error::TypeMismatch`].
pub fn check_query(options: &QueryOptions, entity_type: &EntityType) -> Result<(), Error> {
    if let Some(filter) = &options.filter {
        check_filter(filter, entity_type)?;
    }
    for name in options.select.iter().flatten() {
        require_property("$select", name, entity_type)?;
    }
    let checker = Checker {
        entity_type,
        option: "$orderby",
    };
    for (expr, _) in &options.orderby {
        checker.type_of(expr)?;
    }
    Ok(())
}

fn require_property(option: &str, name: &str, entity_type: &EntityType) -> Result<EdmType, Error> {
    entity_type
        .property(name)
        .map(|property| property.edm_type)
        .ok_or_else(|| Error::UnknownProperty {
            option: option.to_owned(),
            property: name.to_owned(),
            entity_type: entity_type.name.clone(),
        })
}

struct Checker<'a> {
    entity_type: &'a EntityType,
    option: &'static str,
}

impl Checker<'_> {
    fn mismatch(&self, message: String) -> Error {
        Error::TypeMismatch {
            message: format!("{}: {message}", self.option),
        }
    }

    fn expect_boolean(&self, operand: &Expr, context: &str) -> Result<(), Error> {
        match self.type_of(operand)? {
            ValueType::Boolean | ValueType::Null => Ok(()),
            other => Err(self.mismatch(format!(
                "`{context}` needs true/false operands, but `{operand}` is {}",
                other.name()
            ))),
        }
    }

    fn type_of(&self, expr: &Expr) -> Result<ValueType, Error> {
        match expr {
            Expr::Literal(literal) => Ok(match literal {
                Literal::Null => ValueType::Null,
                Literal::Boolean(_) => ValueType::Boolean,
                Literal::Int(_) => ValueType::Integer,
                Literal::Decimal(_) => ValueType::Decimal,
                Literal::String(_) => ValueType::String,
                Literal::Date(_) => ValueType::Date,
                Literal::TimeOfDay(_) => ValueType::TimeOfDay,
                Literal::DateTimeOffset(_) => ValueType::DateTimeOffset,
            }),
            Expr::Property(name) => require_property(self.option, name, self.entity_type).map(ValueType::of_edm),
            Expr::Not(operand) => {
                self.expect_boolean(operand, "not")?;
                Ok(ValueType::Boolean)
            }
            Expr::And(operands) | Expr::Or(operands) => {
                let keyword = if matches!(expr, Expr::And(_)) { "and" } else { "or" };
                for operand in operands {
                    self.expect_boolean(operand, keyword)?;
                }
                Ok(ValueType::Boolean)
            }
            Expr::Compare { op, left, right } => {
                let left_type = self.type_of(left)?;
                let right_type = self.type_of(right)?;
                if !left_type.comparable_with(right_type) {
                    return Err(self.mismatch(format!(
                        "cannot compare `{left}` ({}) with `{right}` ({}) using `{}`",
                        left_type.name(),
                        right_type.name(),
                        op.keyword()
                    )));
                }
                Ok(ValueType::Boolean)
            }
            Expr::In { value, list } => {
                let value_type = self.type_of(value)?;
                for item in list {
                    if !matches!(item, Expr::Literal(_)) {
                        return Err(self.mismatch(format!(
                            "`in` needs a list of literal values, but `{item}` is not a literal"
                        )));
                    }
                    let item_type = self.type_of(item)?;
                    if !value_type.comparable_with(item_type) {
                        return Err(self.mismatch(format!(
                            "`{value}` ({}) cannot be looked for among `{item}` ({}) with `in`",
                            value_type.name(),
                            item_type.name()
                        )));
                    }
                }
                Ok(ValueType::Boolean)
            }
            Expr::Negate(operand) => match self.type_of(operand)? {
                numeric @ (ValueType::Integer | ValueType::Decimal | ValueType::Null) => Ok(numeric),
                other => Err(self.mismatch(format!("`-` needs a number, but `{operand}` is {}", other.name()))),
            },
            Expr::Arithmetic { op, left, right } => {
                let left_type = self.type_of(left)?;
                let right_type = self.type_of(right)?;
                let temporal = |value_type| {
                    matches!(
                        value_type,
                        ValueType::Date | ValueType::TimeOfDay | ValueType::DateTimeOffset
                    )
                };
                if temporal(left_type) || temporal(right_type) {
                    return Err(Error::Unsupported {
                        message: format!(
                            "{}: arithmetic with dates and times (`{expr}`) needs durations, which this feed does not support",
                            self.option
                        ),
                        position: None,
                    });
                }
                for (operand, operand_type) in [(left, left_type), (right, right_type)] {
                    if !operand_type.is_numeric() && operand_type != ValueType::Null {
                        return Err(self.mismatch(format!(
                            "`{}` needs numbers, but `{operand}` is {}",
                            op.keyword(),
                            operand_type.name()
                        )));
                    }
                }
                Ok(if left_type == ValueType::Null || right_type == ValueType::Null {
                    ValueType::Null
                } else if *op == ArithmeticOp::DivBy
                    || left_type == ValueType::Decimal
                    || right_type == ValueType::Decimal
                {
                    ValueType::Decimal
                } else {
                    ValueType::Integer
                })
            }
            Expr::Call { function, args } => self.call(*function, args),
        }
    }

    fn call(&self, function: Function, args: &[Expr]) -> Result<ValueType, Error> {
        use ValueType as T;
        const TEXT: &[ValueType] = &[T::String];
        const INTEGER: &[ValueType] = &[T::Integer];
        const NUMBER: &[ValueType] = &[T::Integer, T::Decimal];
        const DATE_PARTS: &[ValueType] = &[T::Date, T::DateTimeOffset];
        const TIME_PARTS: &[ValueType] = &[T::DateTimeOffset, T::TimeOfDay];
        const INSTANT: &[ValueType] = &[T::DateTimeOffset];
        let accepted = |index: usize| -> &'static [ValueType] {
            match function {
                Function::Contains
                | Function::StartsWith
                | Function::EndsWith
                | Function::ToLower
                | Function::ToUpper
                | Function::Length
                | Function::Trim
                | Function::IndexOf
                | Function::Concat => TEXT,
                Function::Substring if index == 0 => TEXT,
                Function::Substring => INTEGER,
                Function::Year | Function::Month | Function::Day => DATE_PARTS,
                Function::Hour | Function::Minute | Function::Second | Function::FractionalSeconds => TIME_PARTS,
                Function::Date | Function::Time => INSTANT,
                Function::Round | Function::Floor | Function::Ceiling => NUMBER,
            }
        };
        let mut first_type = T::Null;
        for (index, argument) in args.iter().enumerate() {
            let argument_type = self.type_of(argument)?;
            if index == 0 {
                first_type = argument_type;
            }
            if argument_type != T::Null && !accepted(index).contains(&argument_type) {
                let wanted: Vec<&str> = accepted(index).iter().map(|value_type| value_type.name()).collect();
                return Err(self.mismatch(format!(
                    "`{}` needs {} as argument {}, but `{argument}` is {}",
                    function.name(),
                    wanted.join(" or "),
                    index + 1,
                    argument_type.name()
                )));
            }
        }
        Ok(match function {
            Function::Contains | Function::StartsWith | Function::EndsWith => T::Boolean,
            Function::ToLower | Function::ToUpper | Function::Trim | Function::Substring | Function::Concat => {
                T::String
            }
            Function::Length
            | Function::IndexOf
            | Function::Year
            | Function::Month
            | Function::Day
            | Function::Hour
            | Function::Minute
            | Function::Second => T::Integer,
            Function::FractionalSeconds => T::Decimal,
            Function::Date => T::Date,
            Function::Time => T::TimeOfDay,
            Function::Round | Function::Floor | Function::Ceiling => match first_type {
                T::Integer => T::Integer,
                T::Null => T::Null,
                _ => T::Decimal,
            },
        })
    }
}
