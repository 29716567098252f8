//! The `$filter` expression language: its syntax tree, a hand-written parser and canonical printing.
//!
//! Koppel implements the part of OData v4.01 URL conventions (section 5.1.1) that applies to a flat
//! feed of strings, numbers, booleans and dates, which covers what Power Query folds: comparisons,
//! `and`/`or`/`not`, `in` with a list, the arithmetic operators `add sub mul div divby mod` and
//! unary `-`, parentheses, `null`, the canonical functions in [`Function`], and literals for
//! strings, integers, exact decimals, booleans, `Edm.Date`, `Edm.TimeOfDay` and
//! `Edm.DateTimeOffset` with any offset. Valid OData that cannot apply to such a feed (`has`,
//! lambdas, paths, geo and type functions, typed literals, JSON) is refused with
//! [`Error::Unsupported`](crate::Error::Unsupported) so the server can answer `501`; anything else,
//! unknown function names included, is [`Error::Malformed`](crate::Error::Malformed) (400).
//!
//! Operator precedence follows the specification's table, tightest first: `in`; unary `-` and
//! `not`; `mul div divby mod`; `add sub`; `gt ge lt le`; `eq ne`; `and`; `or`.
//!
//! The parser bounds what it accepts (see [`MAX_DEPTH`], [`MAX_NODES`]) so that hostile input
//! is refused with a 400 before any query runs.

mod lexer;
mod literal;
mod parser;

use std::fmt;

pub use literal::{Decimal, Literal};
pub use parser::{MAX_DEPTH, MAX_NODES, parse};

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
    /// An arithmetic operation.
    Arithmetic {
        /// The operator.
        op: ArithmeticOp,
        /// Left operand.
        left: Box<Expr>,
        /// Right operand.
        right: Box<Expr>,
    },
    /// Unary minus (`-operand`).
    Negate(Box<Expr>),
    /// `value in (item, …)`: whether `value` equals one of the items.
    In {
        /// The value looked for.
        value: Box<Expr>,
        /// The list (possibly empty).
        list: Vec<Expr>,
    },
    /// A call of one of the supported built-in functions.
    Call {
        /// The function.
        function: Function,
        /// Its arguments, as many as [`Function::arity`] allows.
        args: Vec<Expr>,
    },
}

/// An arithmetic operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArithmeticOp {
    /// `add`
    Add,
    /// `sub`
    Sub,
    /// `mul`
    Mul,
    /// `div`: integer division for integers, decimal division otherwise.
    Div,
    /// `divby`: decimal division, also for integers (OData 4.01).
    DivBy,
    /// `mod`
    Mod,
}

impl ArithmeticOp {
    /// All operators.
    pub const ALL: [ArithmeticOp; 6] = [
        ArithmeticOp::Add,
        ArithmeticOp::Sub,
        ArithmeticOp::Mul,
        ArithmeticOp::Div,
        ArithmeticOp::DivBy,
        ArithmeticOp::Mod,
    ];

    /// The OData keyword, such as `add`.
    pub fn keyword(self) -> &'static str {
        match self {
            ArithmeticOp::Add => "add",
            ArithmeticOp::Sub => "sub",
            ArithmeticOp::Mul => "mul",
            ArithmeticOp::Div => "div",
            ArithmeticOp::DivBy => "divby",
            ArithmeticOp::Mod => "mod",
        }
    }

    /// Whether this is `add` or `sub` (which bind looser than the multiplicative operators).
    pub fn is_additive(self) -> bool {
        matches!(self, ArithmeticOp::Add | ArithmeticOp::Sub)
    }

    fn from_keyword(lowercase: &str) -> Option<ArithmeticOp> {
        ArithmeticOp::ALL.into_iter().find(|op| op.keyword() == lowercase)
    }
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
    /// `length(text)`: the number of characters.
    Length,
    /// `trim(text)`: without leading and trailing blanks (space, tab, CR, LF).
    Trim,
    /// `substring(text, start)` or `substring(text, start, length)`, 0-based.
    Substring,
    /// `indexof(text, needle)`: 0-based position, -1 when absent.
    IndexOf,
    /// `concat(text, text)`
    Concat,
    /// `hour(dateTimeOffset or timeOfDay)`
    Hour,
    /// `minute(dateTimeOffset or timeOfDay)`
    Minute,
    /// `second(dateTimeOffset or timeOfDay)`
    Second,
    /// `fractionalseconds(dateTimeOffset or timeOfDay)`: the fraction of the second, a decimal.
    FractionalSeconds,
    /// `date(dateTimeOffset)`: the date part (of the UTC instant).
    Date,
    /// `time(dateTimeOffset)`: the time of day (of the UTC instant).
    Time,
    /// `round(number)`: to the nearest integer, halves away from zero.
    Round,
    /// `floor(number)`
    Floor,
    /// `ceiling(number)`
    Ceiling,
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
    pub const ALL: [Function; 22] = [
        Function::Contains,
        Function::StartsWith,
        Function::EndsWith,
        Function::ToLower,
        Function::ToUpper,
        Function::Year,
        Function::Month,
        Function::Day,
        Function::Length,
        Function::Trim,
        Function::Substring,
        Function::IndexOf,
        Function::Concat,
        Function::Hour,
        Function::Minute,
        Function::Second,
        Function::FractionalSeconds,
        Function::Date,
        Function::Time,
        Function::Round,
        Function::Floor,
        Function::Ceiling,
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
            Function::Length => "length",
            Function::Trim => "trim",
            Function::Substring => "substring",
            Function::IndexOf => "indexof",
            Function::Concat => "concat",
            Function::Hour => "hour",
            Function::Minute => "minute",
            Function::Second => "second",
            Function::FractionalSeconds => "fractionalseconds",
            Function::Date => "date",
            Function::Time => "time",
            Function::Round => "round",
            Function::Floor => "floor",
            Function::Ceiling => "ceiling",
        }
    }

    /// How many arguments the function takes: the fewest and the most.
    pub fn arity(self) -> (usize, usize) {
        match self {
            Function::Contains | Function::StartsWith | Function::EndsWith | Function::IndexOf | Function::Concat => {
                (2, 2)
            }
            Function::Substring => (2, 3),
            _ => (1, 1),
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

    /// `left op right` for an arithmetic operator.
    pub fn arithmetic(op: ArithmeticOp, left: Expr, right: Expr) -> Expr {
        Expr::Arithmetic {
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
            Expr::Arithmetic { op, .. } if op.is_additive() => 5,
            Expr::Arithmetic { .. } => 6,
            Expr::Not(_) | Expr::Negate(_) => 7,
            Expr::In { .. } => 8,
            Expr::Literal(_) | Expr::Property(_) | Expr::Call { .. } => 9,
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
                operand.write_operand(f, 7)
            }
            Expr::Negate(operand) => {
                // Only names follow `-` directly: a number or date would read back as a negative literal.
                if matches!(**operand, Expr::Property(_) | Expr::Call { .. }) {
                    write!(f, "-{operand}")
                } else {
                    write!(f, "-({operand})")
                }
            }
            Expr::Arithmetic { op, left, right } => {
                let own = self.precedence();
                left.write_operand(f, own)?;
                write!(f, " {} ", op.keyword())?;
                right.write_operand(f, own + 1)
            }
            Expr::In { value, list } => {
                value.write_operand(f, 9)?;
                f.write_str(" in (")?;
                for (index, item) in list.iter().enumerate() {
                    if index > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str(")")
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
