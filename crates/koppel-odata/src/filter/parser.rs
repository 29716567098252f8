//! Recursive-descent parser from decoded `$filter` text to [`Expr`], one function per precedence level.

use super::lexer::{Lexer, Spanned, Token, is_whitespace, malformed_at, unsupported_at};
use super::{ArithmeticOp, CompareOp, Expr, Function, Literal};
use crate::Error;

/// Deepest nesting of parentheses, `not`, operators and function calls a `$filter` (or one
/// `$orderby` item) may have.
///
/// Long `and`/`or` chains do not count against it (they are kept flat); it bounds recursion so that
/// hostile input cannot exhaust the stack, here or in code that walks the tree.
pub const MAX_DEPTH: usize = 64;

/// Most nodes (literals, properties, operators, function calls, list items) one `$filter` (or one
/// `$orderby` item) may have. Generous for what people and Power Query write (an `or` chain of
/// 3,000 `Id eq …` terms fits, an `in` list of 9,000 keys too), and small enough that the SQL made
/// from it stays far inside the databases' own limits (bound parameters, expression depth).
pub const MAX_NODES: usize = 10_000;

/// The OData functions that exist but cannot apply to Koppel's flat feed, or that Koppel does not
/// implement: named in the 501 message. Every other unknown name is a 400.
const STANDARD_FUNCTIONS: &[&str] = &[
    "matchespattern",
    "hassubset",
    "hassubsequence",
    "totalseconds",
    "totaloffsetminutes",
    "maxdatetime",
    "mindatetime",
    "now",
    "cast",
    "isof",
    "case",
];

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
        nodes: 0,
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
    /// How many nodes the expression has so far.
    nodes: usize,
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

/// Whether a call's arguments look like a key predicate (`Items(1)`, `Items(Id=1)`), not a function call.
fn looks_like_key(args: &[Expr]) -> bool {
    !args.is_empty() && args.iter().all(|argument| matches!(argument, Expr::Literal(_)))
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

    /// Counts one more node, refusing expressions beyond [`MAX_NODES`].
    fn count(&mut self, position: usize) -> Result<(), Error> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(malformed_at(
                position,
                format!(
                    "the expression is too large: it has more than {MAX_NODES} operands, operators and calls \
                     (use `in (…)` for long lists of values)"
                ),
            ));
        }
        Ok(())
    }

    fn node(&mut self, expr: Expr, depth: usize, position: usize) -> Result<Node, Error> {
        if depth > MAX_DEPTH {
            return Err(malformed_at(
                position,
                format!("the expression is nested more than {MAX_DEPTH} levels deep"),
            ));
        }
        self.count(position)?;
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
            left = self.node(Expr::or(left.expr, right.expr), depth, position)?;
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Node, Error> {
        let mut left = self.equality()?;
        while self.peek_keyword()?.as_deref() == Some("and") {
            let position = self.next()?.position;
            let right = self.equality()?;
            let depth = flattened_depth(&left, &right, matches!(left.expr, Expr::And(_)));
            left = self.node(Expr::and(left.expr, right.expr), depth, position)?;
        }
        Ok(left)
    }

    fn equality(&mut self) -> Result<Node, Error> {
        self.comparisons(Self::relational, CompareOp::is_equality)
    }

    fn relational(&mut self) -> Result<Node, Error> {
        self.comparisons(Self::additive, |op| !op.is_equality())
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
            left = self.node(Expr::compare(op, left.expr, right.expr), depth, position)?;
        }
    }

    fn additive(&mut self) -> Result<Node, Error> {
        self.arithmetic(Self::multiplicative, ArithmeticOp::is_additive)
    }

    fn multiplicative(&mut self) -> Result<Node, Error> {
        self.arithmetic(Self::unary, |op| !op.is_additive())
    }

    /// One left-associative level of arithmetic operators over operands parsed by `operand`.
    fn arithmetic(
        &mut self,
        operand: fn(&mut Self) -> Result<Node, Error>,
        at_this_level: fn(ArithmeticOp) -> bool,
    ) -> Result<Node, Error> {
        let mut left = operand(self)?;
        loop {
            let Some(op) = self.peek_keyword()?.and_then(|word| ArithmeticOp::from_keyword(&word)) else {
                return Ok(left);
            };
            if !at_this_level(op) {
                return Ok(left);
            }
            let position = self.next()?.position;
            let right = operand(self)?;
            let depth = left.depth.max(right.depth) + 1;
            left = self.node(Expr::arithmetic(op, left.expr, right.expr), depth, position)?;
        }
    }

    fn unary(&mut self) -> Result<Node, Error> {
        let next = self.peek()?;
        let position = next.position;
        match &next.token {
            Token::Identifier(name) if name.eq_ignore_ascii_case("not") => {
                self.next()?;
                let operand = self.nested(position, Self::unary)?;
                self.node(Expr::not(operand.expr), operand.depth + 1, position)
            }
            Token::Minus => {
                self.next()?;
                let operand = self.nested(position, Self::unary)?;
                self.node(Expr::Negate(Box::new(operand.expr)), operand.depth + 1, position)
            }
            _ => self.postfix(),
        }
    }

    /// A primary expression, then `in (…)` if it follows; `has` is refused.
    fn postfix(&mut self) -> Result<Node, Error> {
        let node = self.primary()?;
        let next = self.peek()?;
        let position = next.position;
        match keyword(&next.token).as_deref() {
            Some("has") => Err(unsupported_at(
                position,
                "the `has` operator is not supported: the feed has no enumeration types",
            )),
            Some("in") => {
                self.next()?;
                self.in_list(node, position)
            }
            _ => Ok(node),
        }
    }

    fn in_list(&mut self, value: Node, position: usize) -> Result<Node, Error> {
        let open = self.next()?;
        match open.token {
            Token::OpenParen => {}
            Token::JsonOpen(_) => {
                return Err(unsupported_at(
                    open.position,
                    "JSON arrays are not supported after `in`; write the list in parentheses, as in `in ('a','b')`",
                ));
            }
            other => {
                return Err(malformed_at(
                    open.position,
                    format!("expected `(` and a list after `in`, found {}", other.describe()),
                ));
            }
        }
        let (list, depth) = self.nested(position, |parser| parser.arguments("in"))?;
        if list.len() > 1 && list.iter().any(|item| !matches!(item, Expr::Literal(_))) {
            return Err(malformed_at(
                open.position,
                "the list after `in` may only hold literal values, as in `in ('a','b')`",
            ));
        }
        let depth = value.depth.max(depth) + 1;
        self.node(
            Expr::In {
                value: Box::new(value.expr),
                list,
            },
            depth,
            position,
        )
    }

    /// A comma-separated list up to and including its `)`, the `(` already taken.
    fn arguments(&mut self, context: &str) -> Result<(Vec<Expr>, usize), Error> {
        let mut args = Vec::new();
        let mut depth = 0;
        if self.peek()?.token == Token::CloseParen {
            self.next()?;
            return Ok((args, depth));
        }
        loop {
            let argument = self.or()?;
            depth = depth.max(argument.depth);
            args.push(argument.expr);
            let separator = self.next()?;
            match separator.token {
                Token::Comma => continue,
                Token::CloseParen => return Ok((args, depth)),
                other => {
                    return Err(malformed_at(
                        separator.position,
                        format!(
                            "expected `,` or `)` in the list of `{context}`, found {}",
                            other.describe()
                        ),
                    ));
                }
            }
        }
    }

    fn primary(&mut self) -> Result<Node, Error> {
        let Spanned { token, position } = self.next()?;
        match token {
            Token::Literal(literal) => {
                self.count(position)?;
                Ok(Node {
                    expr: Expr::Literal(literal),
                    depth: 1,
                })
            }
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
            self.count(position)?;
            return Ok(Node {
                expr: Expr::Literal(literal),
                depth: 1,
            });
        }
        let followed_by = self.peek()?.token.clone();
        if name.contains('.') {
            return Err(if followed_by == Token::OpenParen {
                unsupported_at(
                    position,
                    format!(
                        "the function `{name}` is not supported (geo, type and model functions do not apply to this feed)"
                    ),
                )
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
            _ => {
                self.count(position)?;
                Ok(Node {
                    expr: Expr::Property(name),
                    depth: 1,
                })
            }
        }
    }

    fn call(&mut self, name: &str, lowercase: &str, position: usize) -> Result<Node, Error> {
        let function = Function::from_name(lowercase);
        if function.is_none() {
            if lowercase == "any" || lowercase == "all" {
                return Err(unsupported_at(
                    position,
                    format!("the lambda operator `{lowercase}` is not supported: the feed has no collections"),
                ));
            }
            if STANDARD_FUNCTIONS.contains(&lowercase) {
                return Err(unsupported_at(
                    position,
                    format!("the function `{lowercase}` is not supported"),
                ));
            }
        }
        self.next()?; // the `(`
        let (args, depth) = self.nested(position, |parser| parser.arguments(lowercase))?;
        let Some(function) = function else {
            return Err(if looks_like_key(&args) {
                unsupported_at(
                    position,
                    format!("`{name}(…)` looks like key access, which is not supported in $filter"),
                )
            } else {
                malformed_at(
                    position,
                    format!(
                        "`{name}` is not a known function; the supported functions are {}",
                        Function::ALL.map(Function::name).join(", ")
                    ),
                )
            });
        };
        let (fewest, most) = function.arity();
        if !(fewest..=most).contains(&args.len()) {
            let expected = if fewest == most {
                let plural = if fewest == 1 { "" } else { "s" };
                format!("{fewest} argument{plural}")
            } else {
                format!("{fewest} to {most} arguments")
            };
            return Err(malformed_at(
                position,
                format!("`{}` takes {expected}, found {}", function.name(), args.len()),
            ));
        }
        self.node(Expr::Call { function, args }, depth + 1, position)
    }
}
