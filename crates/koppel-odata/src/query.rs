//! Parsing an OData request's query string into typed [`QueryOptions`].
//!
//! Accepts what Power Query and OData 4.01 clients send: percent-encoded names (`%24top`), `+` and
//! `%20` for spaces, option names without `$` and in any case. Refuses duplicates and malformed values
//! with [`Error::Malformed`] (400), and system query options Koppel does not implement (`$expand`,
//! `$search`, `$apply`, …) with [`Error::Unsupported`] (501). Custom query options (names without `$`
//! that are not system option names) and parameter-alias definitions (`@name=…`) are ignored, as
//! OData allows.

use crate::filter::{self, Expr};
use crate::{Error, model};

/// The system query options of one request that Koppel implements.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryOptions {
    /// `$filter`, parsed but not yet type-checked (see [`check_query`](crate::check::check_query)).
    pub filter: Option<Expr>,
    /// `$select` property names in request order; `None` when absent or when it contains `*`.
    pub select: Option<Vec<String>>,
    /// `$orderby` items (a property or any other expression) with their direction, in priority order.
    pub orderby: Vec<(Expr, Direction)>,
    /// `$top`.
    pub top: Option<u64>,
    /// `$skip`.
    pub skip: Option<u64>,
    /// `$count=true`.
    pub count: bool,
    /// `$skiptoken`, opaque to this crate.
    pub skiptoken: Option<String>,
}

/// Sort direction of one `$orderby` item.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Direction {
    /// `asc`, the default.
    #[default]
    Asc,
    /// `desc`.
    Desc,
}

/// System query options Koppel implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SystemOption {
    Filter,
    Select,
    OrderBy,
    Top,
    Skip,
    Count,
    SkipToken,
}

impl SystemOption {
    const ALL: [SystemOption; 7] = [
        SystemOption::Filter,
        SystemOption::Select,
        SystemOption::OrderBy,
        SystemOption::Top,
        SystemOption::Skip,
        SystemOption::Count,
        SystemOption::SkipToken,
    ];

    fn name(self) -> &'static str {
        match self {
            SystemOption::Filter => "$filter",
            SystemOption::Select => "$select",
            SystemOption::OrderBy => "$orderby",
            SystemOption::Top => "$top",
            SystemOption::Skip => "$skip",
            SystemOption::Count => "$count",
            SystemOption::SkipToken => "$skiptoken",
        }
    }
}

/// System query options defined by OData that Koppel does not implement (answered with 501).
const UNSUPPORTED_OPTIONS: &[&str] = &[
    "$expand",
    "$search",
    "$apply",
    "$compute",
    "$format",
    "$index",
    "$levels",
    "$schemaversion",
    "$deltatoken",
    "$id",
];

/// Parses the query part of a request URL (everything after `?`, without the `?`).
///
/// # Errors
/// [`Error::Malformed`] for duplicates, bad percent-encoding, invalid UTF-8 and invalid values;
/// [`Error::Unsupported`] for system query options (or `$filter`/`$select`/`$orderby` features)
/// Koppel does not implement. Every message names the option.
pub fn parse_query(raw_query: &str) -> Result<QueryOptions, Error> {
    let mut options = QueryOptions::default();
    let mut seen: Vec<SystemOption> = Vec::new();
    for segment in raw_query.split('&').filter(|segment| !segment.is_empty()) {
        let (raw_name, raw_value) = match segment.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (segment, None),
        };
        let name = decode_component(raw_name).map_err(|error| error.in_option("query option name"))?;
        let Some(option) = classify(&name)? else {
            continue;
        };
        if seen.contains(&option) {
            return Err(Error::malformed(format!("{} is given more than once", option.name())));
        }
        seen.push(option);
        let Some(raw_value) = raw_value else {
            return Err(Error::malformed(format!("{} needs a value after `=`", option.name())));
        };
        let value = decode_component(raw_value).map_err(|error| error.in_option(option.name()))?;
        apply(&mut options, option, &value).map_err(|error| error.in_option(option.name()))?;
    }
    Ok(options)
}

/// Which system option a decoded name denotes; `None` for custom options and alias definitions.
fn classify(name: &str) -> Result<Option<SystemOption>, Error> {
    if name.starts_with('@') {
        return Ok(None);
    }
    let with_dollar = if name.starts_with('$') {
        name.to_lowercase()
    } else {
        format!("${}", name.to_lowercase())
    };
    if let Some(option) = SystemOption::ALL
        .into_iter()
        .find(|option| option.name() == with_dollar)
    {
        return Ok(Some(option));
    }
    if UNSUPPORTED_OPTIONS.contains(&with_dollar.as_str()) {
        return Err(Error::unsupported(format!(
            "the system query option {with_dollar} is not supported"
        )));
    }
    if !name.starts_with('$') {
        return Ok(None);
    }
    if name.chars().any(char::is_whitespace) {
        return Err(Error::malformed(format!(
            "the query option name `{name}` contains whitespace"
        )));
    }
    Err(Error::unsupported(format!(
        "`{name}` is not a system query option this service supports"
    )))
}

fn apply(options: &mut QueryOptions, option: SystemOption, value: &str) -> Result<(), Error> {
    match option {
        SystemOption::Filter => options.filter = Some(filter::parse(value)?),
        SystemOption::Select => options.select = parse_select(value)?,
        SystemOption::OrderBy => options.orderby = parse_orderby(value)?,
        SystemOption::Top => options.top = Some(parse_non_negative(value)?),
        SystemOption::Skip => options.skip = Some(parse_non_negative(value)?),
        SystemOption::Count => {
            options.count = if value.eq_ignore_ascii_case("true") {
                true
            } else if value.eq_ignore_ascii_case("false") {
                false
            } else {
                return Err(Error::malformed(format!("expected `true` or `false`, found `{value}`")));
            }
        }
        SystemOption::SkipToken => {
            if value.is_empty() {
                return Err(Error::malformed("the skip token is empty"));
            }
            options.skiptoken = Some(value.to_owned());
        }
    }
    Ok(())
}

fn parse_non_negative(value: &str) -> Result<u64, Error> {
    if value.is_empty() || !value.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(Error::malformed(format!(
            "expected a non-negative integer, found `{value}`"
        )));
    }
    value
        .parse()
        .map_err(|_| Error::malformed(format!("`{value}` is too large")))
}

fn trim_blanks(text: &str) -> &str {
    text.trim_matches([' ', '\t'])
}

/// Splits at `separator` outside parentheses and single-quoted strings.
fn split_top_level(text: &str, separator: char) -> Vec<&str> {
    let mut items = Vec::new();
    let mut depth = 0usize;
    let mut in_string = false;
    let mut start = 0;
    for (index, c) in text.char_indices() {
        match c {
            '\'' => in_string = !in_string,
            '(' if !in_string => depth += 1,
            ')' if !in_string => depth = depth.saturating_sub(1),
            c if c == separator && !in_string && depth == 0 => {
                items.push(&text[start..index]);
                start = index + c.len_utf8();
            }
            _ => {}
        }
    }
    items.push(&text[start..]);
    items
}

/// Refuses a `$select`/`$orderby` item that is valid OData but not a plain property name.
fn unsupported_item(item: &str, what: &str) -> Option<Error> {
    let is_odata_but_not_plain = item.contains(['/', '.', '(', '*']) || item.starts_with(['@', '$']);
    is_odata_but_not_plain.then(|| {
        Error::unsupported(format!(
            "`{item}` is not supported: only properties of the entity itself can be {what}"
        ))
    })
}

fn parse_select(value: &str) -> Result<Option<Vec<String>>, Error> {
    let mut names = Vec::new();
    let mut everything = false;
    for item in split_top_level(value, ',').into_iter().map(trim_blanks) {
        if item.is_empty() {
            return Err(Error::malformed("an item of the list is empty"));
        }
        if item == "*" {
            everything = true;
        } else if model::is_simple_identifier(item) {
            names.push(item.to_owned());
        } else if let Some(error) = unsupported_item(item, "selected") {
            return Err(error);
        } else {
            return Err(Error::malformed(format!("`{item}` is not a property name")));
        }
    }
    Ok(if everything { None } else { Some(names) })
}

/// Most items one `$orderby` may have: far more than any report sorts by, and far fewer than the
/// databases' own limits on `ORDER BY` terms.
pub const MAX_ORDERBY_ITEMS: usize = 32;

fn parse_orderby(value: &str) -> Result<Vec<(Expr, Direction)>, Error> {
    let mut order = Vec::new();
    for item in split_top_level(value, ',').into_iter().map(trim_blanks) {
        if item.is_empty() {
            return Err(Error::malformed("an item of the list is empty"));
        }
        if order.len() == MAX_ORDERBY_ITEMS {
            return Err(Error::malformed(format!(
                "more than {MAX_ORDERBY_ITEMS} items; order by fewer properties"
            )));
        }
        let (subject, direction) = match item.rsplit_once([' ', '\t']) {
            Some((subject, word)) if word.eq_ignore_ascii_case("asc") => (trim_blanks(subject), Direction::Asc),
            Some((subject, word)) if word.eq_ignore_ascii_case("desc") => (trim_blanks(subject), Direction::Desc),
            _ => (item, Direction::Asc),
        };
        if model::is_simple_identifier(subject) && !matches!(subject.to_lowercase().as_str(), "true" | "false" | "null")
        {
            order.push((Expr::Property(subject.to_owned()), direction));
            continue;
        }
        if (subject.starts_with(['@', '$']) || subject.contains('/'))
            && let Some(error) = unsupported_item(subject, "ordered by")
        {
            return Err(error);
        }
        order.push((filter::parse(subject)?, direction));
    }
    Ok(order)
}

/// Decodes one query-string component: `+` means a space, then `%XX` escapes are resolved.
fn decode_component(raw: &str) -> Result<String, Error> {
    percent_decode(&raw.replace('+', " "))
}

/// Resolves `%XX` escapes (leaving `+` alone) and checks that the result is UTF-8.
///
/// # Errors
/// [`Error::Malformed`] for a `%` not followed by two hex digits, or bytes that are not UTF-8.
pub fn percent_decode(text: &str) -> Result<String, Error> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = bytes.get(index + 1..index + 3).and_then(|pair| {
                let pair = std::str::from_utf8(pair).ok()?;
                u8::from_str_radix(pair, 16)
                    .ok()
                    .filter(|_| pair.bytes().all(|b| b.is_ascii_hexdigit()))
            });
            let Some(byte) = hex else {
                return Err(Error::malformed(format!(
                    "`%` at byte {index} is not followed by two hexadecimal digits"
                )));
            };
            decoded.push(byte);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(decoded).map_err(|_| Error::malformed("the percent-decoded text is not valid UTF-8"))
}
