//! Recursive-descent parser from decoded `$filter` text to [`Expr`], one function per precedence level.

use super::lexer::{Lexer, Spanned, Token, is_whitespace, malformed_at, unsupported_at};
use super::{CompareOp, Expr, Function, Literal};
use crate::Error;

/// Deepest nesting of parentheses, `not` and operators a `$filter` may have.
///
/// Long `and`/`or` chains do not count against it (they are kept flat); it bounds recursion so that
/// hostile input cannot exhaust the stack, here or in code that walks the tree.
pub const MAX_DEPTH: usize = 64;

/// The OData functions that exist but Koppel does not implement: named in the 501 message.
const STANDARD_FUNCTIONS: &[&str] = &[
    "concat",
    "indexof",
    "length",
    "substring",
    "trim",
    "matchespattern",
    "hassubset",
    "hassubsequence",
    "date",
    "time",
    "hour",
    "minute",
    "second",
    "fractionalseconds",
    "totalseconds",
    "totaloffsetminutes",
    "maxdatetime",
    "mindatetime",
    "now",
    "round",
    "floor",
    "ceiling",
    "cast",
    "isof",
    "case",
];

const ARITHMETIC_OPERATORS: &[&str] = &["add", "sub", "mul", "div", "divby", "mod"];

/// Parses decoded `$filter` text (percent-decoding is the caller's job, see
/// [`percent_decode`](crate::query::percent_decode)) into an expression.
///
/// Keywords, function names and `true`/`false`/`null` are case-insensitive as OData 4.01 allows;
/// property names are kept as written. The expression is not type-checked here: see
/// [`check_filter`](crate::check::check_filter).
///
/// # Errors
/// [`Error::Malformed`] for invalid syntax and [`Error::Unsupported`] for valid OData that Koppel
/// does not implement; both carry the character position.
pub fn parse(text: &str) -> Result<Expr, Error> {
    if text.is_empty() {
        return Err(malformed_at(0, "the expression is empty"));
    }
    if text.starts_with(is_whitespace) {
        return Err(malformed_at(0, "the expression must not start with whitespace"));
    }
    if text.ends_with(is_whitespace) {
        let last = text.chars().count().saturating_sub(1);
        return Err(malformed_at(last, "the expression must not end with whitespace"));
    }
    let mut parser = Parser {
        lexer: Lexer::new(text),
        peeked: None,
        nesting: 0,
    };
    let node = parser.or()?;
    let next = parser.next()?;
    match next.token {
        Token::End => Ok(node.expr),
        Token::CloseParen => Err(malformed_at(next.position, "unmatched `)`")),
        other => Err(malformed_at(
            next.position,
            format!(
                "expected an operator such as `eq`, `and` or `or`, found {}",
                other.describe()
            ),
        )),
    }
}

/// An expression with the depth of its tree, so depth limits cost nothing to check.
struct Node {
    expr: Expr,
    depth: usize,
}

struct Parser {
    lexer: Lexer,
    peeked: Option<Spanned>,
    /// How deep the parser's own recursion is.
    nesting: usize,
}

/// Depth of `left op right` when `op` is n-ary and `left` may already be an `op` node that absorbs `right`.
fn flattened_depth(left: &Node, right: &Node, left_is_same_operator: bool) -> usize {
    let left_depth = if left_is_same_operator {
        left.depth
    } else {
        left.depth + 1
    };
    left_depth.max(right.depth + 1)
}

fn keyword(token: &Token) -> Option<String> {
    match token {
        Token::Identifier(name) => Some(name.to_lowercase()),
        _ => None,
    }
}

impl Parser {
    fn peek(&mut self) -> Result<&Spanned, Error> {
        let token = match self.peeked.take() {
            Some(token) => token,
            None => self.lexer.next_token()?,
        };
        Ok(self.peeked.insert(token))
    }

    fn next(&mut self) -> Result<Spanned, Error> {
        match self.peeked.take() {
            Some(token) => Ok(token),
            None => self.lexer.next_token(),
        }
    }

    fn peek_keyword(&mut self) -> Result<Option<String>, Error> {
        Ok(keyword(&self.peek()?.token))
    }

    fn node(expr: Expr, depth: usize, position: usize) -> Result<Node, Error> {
        if depth > MAX_DEPTH {
            return Err(malformed_at(
                position,
                format!("the expression is nested more than {MAX_DEPTH} levels deep"),
            ));
        }
        Ok(Node { expr, depth })
    }

    /// Runs `inner` one recursion level deeper, refusing input nested beyond [`MAX_DEPTH`].
    fn nested<T>(&mut self, position: usize, inner: impl FnOnce(&mut Self) -> Result<T, Error>) -> Result<T, Error> {
        if self.nesting >= MAX_DEPTH {
            return Err(malformed_at(
                position,
                format!("the expression is nested more than {MAX_DEPTH} levels deep"),
            ));
        }
        self.nesting += 1;
        let result = inner(self);
        self.nesting -= 1;
        result
    }

    fn or(&mut self) -> Result<Node, Error> {
        let mut left = self.and()?;
        while self.peek_keyword()?.as_deref() == Some("or") {
            let position = self.next()?.position;
            let right = self.and()?;
            let depth = flattened_depth(&left, &right, matches!(left.expr, Expr::Or(_)));
            left = Self::node(Expr::or(left.expr, right.expr), depth, position)?;
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Node, Error> {
        let mut left = self.equality()?;
        while self.peek_keyword()?.as_deref() == Some("and") {
            let position = self.next()?.position;
            let right = self.equality()?;
            let depth = flattened_depth(&left, &right, matches!(left.expr, Expr::And(_)));
            left = Self::node(Expr::and(left.expr, right.expr), depth, position)?;
        }
        Ok(left)
    }

    fn equality(&mut self) -> Result<Node, Error> {
        self.comparisons(Self::relational, CompareOp::is_equality)
    }

    fn relational(&mut self) -> Result<Node, Error> {
        self.comparisons(Self::operand, |op| !op.is_equality())
    }

    /// One left-associative level of comparison operators over operands parsed by `operand`.
    fn comparisons(
        &mut self,
        operand: fn(&mut Self) -> Result<Node, Error>,
        at_this_level: fn(CompareOp) -> bool,
    ) -> Result<Node, Error> {
        let mut left = operand(self)?;
        loop {
            let Some(op) = self.peek_keyword()?.and_then(|word| CompareOp::from_keyword(&word)) else {
                return Ok(left);
            };
            if !at_this_level(op) {
                return Ok(left);
            }
            let position = self.next()?.position;
            let right = operand(self)?;
            let depth = left.depth.max(right.depth) + 1;
            left = Self::node(Expr::compare(op, left.expr, right.expr), depth, position)?;
        }
    }

    /// A unary expression, then a check that no unsupported binary operator follows it.
    fn operand(&mut self) -> Result<Node, Error> {
        let node = self.unary()?;
        let next = self.peek()?;
        let position = next.position;
        if let Some(word) = keyword(&next.token) {
            if ARITHMETIC_OPERATORS.contains(&word.as_str()) {
                return Err(unsupported_at(
                    position,
                    format!("the arithmetic operator `{word}` is not supported"),
                ));
            }
            if word == "has" || word == "in" {
                return Err(unsupported_at(
                    position,
                    format!("the `{word}` operator is not supported"),
                ));
            }
        }
        Ok(node)
    }

    fn unary(&mut self) -> Result<Node, Error> {
        let next = self.peek()?;
        let position = next.position;
        match &next.token {
            Token::Identifier(name) if name.eq_ignore_ascii_case("not") => {
                self.next()?;
                let operand = self.nested(position, Self::unary)?;
                Self::node(Expr::not(operand.expr), operand.depth + 1, position)
            }
            Token::Minus => Err(unsupported_at(position, "the negation operator `-` is not supported")),
            _ => self.primary(),
        }
    }

    fn primary(&mut self) -> Result<Node, Error> {
        let Spanned { token, position } = self.next()?;
        match token {
            Token::Literal(literal) => Ok(Node {
                expr: Expr::Literal(literal),
                depth: 1,
            }),
            Token::OpenParen => {
                let inner = self.nested(position, Self::or)?;
                let close = self.next()?;
                if close.token != Token::CloseParen {
                    return Err(malformed_at(
                        close.position,
                        format!(
                            "expected `)` to close the `(` at position {position}, found {}",
                            close.token.describe()
                        ),
                    ));
                }
                Ok(inner)
            }
            Token::Identifier(name) => self.identifier(name, position),
            Token::Dollar(name) | Token::At(name) if name.is_empty() => {
                Err(malformed_at(position, "expected a name after `$` or `@`"))
            }
            Token::Dollar(name) => Err(unsupported_at(
                position,
                format!("`${name}` is not supported in $filter"),
            )),
            Token::At(name) => Err(unsupported_at(
                position,
                format!("parameter aliases and annotations such as `@{name}` are not supported"),
            )),
            Token::JsonOpen(_) => Err(unsupported_at(position, "JSON arrays and objects are not supported")),
            Token::End => Err(malformed_at(
                position,
                "the expression ends where an operand is expected",
            )),
            other => Err(malformed_at(
                position,
                format!("expected an operand, found {}", other.describe()),
            )),
        }
    }

    fn identifier(&mut self, name: String, position: usize) -> Result<Node, Error> {
        let lowercase = name.to_lowercase();
        let literal = match lowercase.as_str() {
            "true" => Some(Literal::Boolean(true)),
            "false" => Some(Literal::Boolean(false)),
            "null" => Some(Literal::Null),
            _ => None,
        };
        if let Some(literal) = literal {
            return Ok(Node {
                expr: Expr::Literal(literal),
                depth: 1,
            });
        }
        let followed_by = self.peek()?.token.clone();
        if name.contains('.') {
            return Err(if followed_by == Token::OpenParen {
                unsupported_at(position, format!("the function `{name}` is not supported"))
            } else {
                unsupported_at(
                    position,
                    format!(
                        "the qualified name `{name}` (type casts, enumeration members, bound functions) is not supported"
                    ),
                )
            });
        }
        match followed_by {
            Token::OpenParen => self.call(&name, &lowercase, position),
            Token::Slash => Err(unsupported_at(
                position,
                format!("the path `{name}/…` is not supported: only properties of the entity itself can be used"),
            )),
            _ => Ok(Node {
                expr: Expr::Property(name),
                depth: 1,
            }),
        }
    }

    fn call(&mut self, name: &str, lowercase: &str, position: usize) -> Result<Node, Error> {
        let Some(function) = Function::from_name(lowercase) else {
            let message = if lowercase == "any" || lowercase == "all" {
                format!("the lambda operator `{lowercase}` is not supported")
            } else if STANDARD_FUNCTIONS.contains(&lowercase) {
                format!("the function `{lowercase}` is not supported")
            } else {
                format!("`{name}(…)` is not a supported function (key access and function imports are not supported)")
            };
            return Err(unsupported_at(position, message));
        };
        self.next()?; // the `(`
        let (args, depth) = self.nested(position, |parser| {
            let mut args = Vec::new();
            let mut depth = 0;
            if parser.peek()?.token == Token::CloseParen {
                parser.next()?;
                return Ok((args, depth));
            }
            loop {
                let argument = parser.or()?;
                depth = depth.max(argument.depth);
                args.push(argument.expr);
                let separator = parser.next()?;
                match separator.token {
                    Token::Comma => continue,
                    Token::CloseParen => return Ok((args, depth)),
                    other => {
                        return Err(malformed_at(
                            separator.position,
                            format!(
                                "expected `,` or `)` in the arguments of `{lowercase}`, found {}",
                                other.describe()
                            ),
                        ));
                    }
                }
            }
        })?;
        if args.len() != function.arity() {
            let plural = if function.arity() == 1 { "" } else { "s" };
            return Err(malformed_at(
                position,
                format!(
                    "`{}` takes {} argument{plural}, found {}",
                    function.name(),
                    function.arity(),
                    args.len()
                ),
            ));
        }
        Self::node(Expr::Call { function, args }, depth + 1, position)
    }
}
