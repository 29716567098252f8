//! Checking parsed query options against an entity type: known property names and sound `$filter` types.
//!
//! The rules are those of OData's type system, restricted to Koppel's types: numbers (integers and
//! decimals) compare with numbers, strings with strings, `Edm.Date` with dates and
//! `Edm.DateTimeOffset` with instants; anything compares with `null`; `and`, `or`, `not` and the
//! whole `$filter` need booleans. A date column is deliberately not comparable with an instant:
//! which time zone the date is in would be a guess.

use crate::Error;
use crate::filter::{Expr, Function, Literal};
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
/// [`Error::UnknownProperty`] or [`Error::TypeMismatch`], both answered with 400.
pub fn check_filter(expr: &Expr, entity_type: &EntityType) -> Result<(), Error> {
    let value_type = type_of(expr, entity_type)?;
    if value_type != ValueType::Boolean {
        return Err(mismatch(format!(
            "the expression must be a true/false condition, but `{expr}` is {}",
            value_type.name()
        )));
    }
    Ok(())
}

/// Checks every part of the query options against `entity_type`: the `$filter` as [`check_filter`]
/// does, and that `$select` and `$orderby` name existing properties.
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
    for (name, _) in &options.orderby {
        require_property("$orderby", name, entity_type)?;
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

fn mismatch(message: String) -> Error {
    Error::TypeMismatch {
        message: format!("$filter: {message}"),
    }
}

fn expect_boolean(operand: &Expr, entity_type: &EntityType, context: &str) -> Result<(), Error> {
    match type_of(operand, entity_type)? {
        ValueType::Boolean | ValueType::Null => Ok(()),
        other => Err(mismatch(format!(
            "`{context}` needs true/false operands, but `{operand}` is {}",
            other.name()
        ))),
    }
}

fn type_of(expr: &Expr, entity_type: &EntityType) -> Result<ValueType, Error> {
    match expr {
        Expr::Literal(literal) => Ok(match literal {
            Literal::Null => ValueType::Null,
            Literal::Boolean(_) => ValueType::Boolean,
            Literal::Int(_) => ValueType::Integer,
            Literal::Decimal(_) => ValueType::Decimal,
            Literal::String(_) => ValueType::String,
            Literal::Date(_) => ValueType::Date,
            Literal::DateTimeOffset(_) => ValueType::DateTimeOffset,
        }),
        Expr::Property(name) => require_property("$filter", name, entity_type).map(ValueType::of_edm),
        Expr::Not(operand) => {
            expect_boolean(operand, entity_type, "not")?;
            Ok(ValueType::Boolean)
        }
        Expr::And(operands) | Expr::Or(operands) => {
            let keyword = if matches!(expr, Expr::And(_)) { "and" } else { "or" };
            for operand in operands {
                expect_boolean(operand, entity_type, keyword)?;
            }
            Ok(ValueType::Boolean)
        }
        Expr::Compare { op, left, right } => {
            let left_type = type_of(left, entity_type)?;
            let right_type = type_of(right, entity_type)?;
            if !left_type.comparable_with(right_type) {
                return Err(mismatch(format!(
                    "cannot compare `{left}` ({}) with `{right}` ({}) using `{}`",
                    left_type.name(),
                    right_type.name(),
                    op.keyword()
                )));
            }
            Ok(ValueType::Boolean)
        }
        Expr::Call { function, args } => {
            let accepted: &[ValueType] = match function {
                Function::Contains
                | Function::StartsWith
                | Function::EndsWith
                | Function::ToLower
                | Function::ToUpper => &[ValueType::String, ValueType::Null],
                Function::Year | Function::Month | Function::Day => {
                    &[ValueType::Date, ValueType::DateTimeOffset, ValueType::Null]
                }
            };
            for argument in args {
                let argument_type = type_of(argument, entity_type)?;
                if !accepted.contains(&argument_type) {
                    return Err(mismatch(format!(
                        "`{}` cannot take `{argument}`, which is {}",
                        function.name(),
                        argument_type.name()
                    )));
                }
            }
            Ok(match function {
                Function::Contains | Function::StartsWith | Function::EndsWith => ValueType::Boolean,
                Function::ToLower | Function::ToUpper => ValueType::String,
                Function::Year | Function::Month | Function::Day => ValueType::Integer,
            })
        }
    }
}
