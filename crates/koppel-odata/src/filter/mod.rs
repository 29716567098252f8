//! The `$filter` expression language: its syntax tree, a hand-written parser and canonical printing.
//!
//! Koppel implements the subset of OData v4.01 URL conventions (section 5.1.1) that Power Query folds:
//! comparisons, `and`/`or`/`not`, parentheses, `null`, the string functions `contains`, `startswith`,
//! `endswith`, `tolower`, `toupper`, the date parts `year`, `month`, `day`, and literals for strings,
//! integers, exact decimals, booleans, `Edm.Date` and `Edm.DateTimeOffset` with any offset.
//! Valid OData that goes beyond this (arithmetic, `in`, `has`, lambdas, paths, other functions and
//! typed literals) is refused with [`Error::Unsupported`](crate::Error::Unsupported) so the
//! server can answer `501`; anything else is [`Error::Malformed`](crate::Error::Malformed).
//!
//! Operator precedence follows the specification's table: `not` binds tighter than the relational
//! operators `gt ge lt le`, which bind tighter than `eq ne`, then `and`, then `or`.

mod lexer;
mod literal;
mod parser;

use std::fmt;

pub use literal::{Decimal, Literal};
pub use parser::{MAX_DEPTH, parse};

/// A `$filter` expression.
///
/// `And` and `Or` are n-ary and kept flat (an `Or` never directly contains an `Or`), so the long
/// `Id eq 1 or Id eq 2 or …` chains Power Query sends stay shallow. The constructors
/// ([`Expr::and`], [`Expr::or`], …) keep that shape; the parser uses them too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// A literal value.
    Literal(Literal),
    /// A property of the entity being filtered (a simple identifier).
    Property(String),
    /// Logical negation.
    Not(Box<Expr>),
    /// Conjunction of two or more operands.
    And(Vec<Expr>),
    /// Disjunction of two or more operands.
    Or(Vec<Expr>),
    /// A comparison.
    Compare {
        /// The operator.
        op: CompareOp,
        /// Left operand.
        left: Box<Expr>,
        /// Right operand.
        right: Box<Expr>,
    },
    /// A call of one of the supported built-in functions.
    Call {
        /// The function.
        function: Function,
        /// Its arguments, as many as [`Function::arity`] says.
        args: Vec<Expr>,
    },
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// `eq`
    Eq,
    /// `ne`
    Ne,
    /// `gt`
    Gt,
    /// `ge`
    Ge,
    /// `lt`
    Lt,
    /// `le`
    Le,
}

/// A built-in function Koppel supports in `$filter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    /// `contains(haystack, needle)`
    Contains,
    /// `startswith(text, prefix)`
    StartsWith,
    /// `endswith(text, suffix)`
    EndsWith,
    /// `tolower(text)`
    ToLower,
    /// `toupper(text)`
    ToUpper,
    /// `year(date or dateTimeOffset)`
    Year,
    /// `month(date or dateTimeOffset)`
    Month,
    /// `day(date or dateTimeOffset)`
    Day,
}

impl CompareOp {
    /// All operators, in the order of the specification.
    pub const ALL: [CompareOp; 6] = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ];

    /// The OData keyword, such as `eq`.
    pub fn keyword(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// Whether this is `eq` or `ne` (which bind looser than the ordering operators).
    pub fn is_equality(self) -> bool {
        matches!(self, CompareOp::Eq | CompareOp::Ne)
    }

    fn from_keyword(lowercase: &str) -> Option<CompareOp> {
        CompareOp::ALL.into_iter().find(|op| op.keyword() == lowercase)
    }
}

impl Function {
    /// All supported functions.
    pub const ALL: [Function; 8] = [
        Function::Contains,
        Function::StartsWith,
        Function::EndsWith,
        Function::ToLower,
        Function::ToUpper,
        Function::Year,
        Function::Month,
        Function::Day,
    ];

    /// The OData name, such as `startswith`.
    pub fn name(self) -> &'static str {
        match self {
            Function::Contains => "contains",
            Function::StartsWith => "startswith",
            Function::EndsWith => "endswith",
            Function::ToLower => "tolower",
            Function::ToUpper => "toupper",
            Function::Year => "year",
            Function::Month => "month",
            Function::Day => "day",
        }
    }

    /// How many arguments the function takes.
    pub fn arity(self) -> usize {
        match self {
            Function::Contains | Function::StartsWith | Function::EndsWith => 2,
            Function::ToLower | Function::ToUpper | Function::Year | Function::Month | Function::Day => 1,
        }
    }

    fn from_name(lowercase: &str) -> Option<Function> {
        Function::ALL.into_iter().find(|function| function.name() == lowercase)
    }
}

impl Expr {
    /// A property reference.
    pub fn property(name: impl Into<String>) -> Expr {
        Expr::Property(name.into())
    }

    /// `left and right`, flattened into an existing `And` on either side.
    pub fn and(left: Expr, right: Expr) -> Expr {
        let mut operands = Vec::new();
        for side in [left, right] {
            match side {
                Expr::And(inner) => operands.extend(inner),
                other => operands.push(other),
            }
        }
        Expr::And(operands)
    }

    /// `left or right`, flattened into an existing `Or` on either side.
    pub fn or(left: Expr, right: Expr) -> Expr {
        let mut operands = Vec::new();
        for side in [left, right] {
            match side {
                Expr::Or(inner) => operands.extend(inner),
                other => operands.push(other),
            }
        }
        Expr::Or(operands)
    }

    /// `not operand`.
    #[allow(clippy::should_implement_trait)]
    pub fn not(operand: Expr) -> Expr {
        Expr::Not(Box::new(operand))
    }

    /// `left op right`.
    pub fn compare(op: CompareOp, left: Expr, right: Expr) -> Expr {
        Expr::Compare {
            op,
            left: Box::new(left),
            right: Box::new(right),
        }
    }

    /// Binding strength when printing: a child weaker than its context gets parentheses.
    fn precedence(&self) -> u8 {
        match self {
            Expr::Or(_) => 1,
            Expr::And(_) => 2,
            Expr::Compare { op, .. } if op.is_equality() => 3,
            Expr::Compare { .. } => 4,
            Expr::Not(_) => 5,
            Expr::Literal(_) | Expr::Property(_) | Expr::Call { .. } => 6,
        }
    }

    fn write_operand(&self, f: &mut fmt::Formatter<'_>, minimum_precedence: u8) -> fmt::Result {
        if self.precedence() < minimum_precedence {
            write!(f, "({self})")
        } else {
            write!(f, "{self}")
        }
    }
}

impl fmt::Display for Expr {
    /// Writes the expression as OData `$filter` text (before percent-encoding) that parses back to
    /// an equal `Expr`, with only the parentheses precedence requires.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Literal(literal) => write!(f, "{literal}"),
            Expr::Property(name) => f.write_str(name),
            Expr::Not(operand) => {
                f.write_str("not ")?;
                operand.write_operand(f, 5)
            }
            Expr::And(operands) | Expr::Or(operands) => {
                let (keyword, minimum) = if matches!(self, Expr::And(_)) {
                    (" and ", 3)
                } else {
                    (" or ", 2)
                };
                for (index, operand) in operands.iter().enumerate() {
                    if index > 0 {
                        f.write_str(keyword)?;
                    }
                    operand.write_operand(f, minimum)?;
                }
                Ok(())
            }
            Expr::Compare { op, left, right } => {
                let own = self.precedence();
                left.write_operand(f, own)?;
                write!(f, " {} ", op.keyword())?;
                right.write_operand(f, own + 1)
            }
            Expr::Call { function, args } => {
                write!(f, "{}(", function.name())?;
                for (index, argument) in args.iter().enumerate() {
                    if index > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{argument}")?;
                }
                f.write_str(")")
            }
        }
    }
}
