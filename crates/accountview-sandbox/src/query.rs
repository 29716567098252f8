//! `GET /api/v3/AccountViewData`: parsing the query parameters of accountview.md (case-insensitive names,
//! numbered filters, fields, sorting, `lastKey`), running them against an administration, and writing the
//! answer — an object keyed by table name with UPPER-CASE field names, detail rows in their own array.

use std::cmp::Ordering;
use std::collections::HashSet;
use std::ops::Bound;

use chrono::{NaiveDate, NaiveDateTime};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use crate::books::{Administration, Key, Row};
use crate::catalog::{self, BusinessObjectDef, TableDef};
use crate::errors::{AvError, number};
use crate::value::{self, FieldType, Value};

pub const DEFAULT_PAGE_SIZE: usize = 100;
pub const MAX_PAGE_SIZE: usize = 1000;
/// Filters are numbered 1.. ; more than this is certainly a client bug.
const MAX_FILTERS: usize = 50;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    Equal,
    NotEqual,
    Contains,
    GreaterThan,
    GreaterThanOrEqual,
    LessThan,
    LessThanOrEqual,
}

impl Operator {
    fn parse(text: &str) -> Option<Self> {
        let operator = match text.trim().to_ascii_lowercase().as_str() {
            "equal" => Self::Equal,
            "notequal" => Self::NotEqual,
            "contains" => Self::Contains,
            "greaterthan" => Self::GreaterThan,
            "greaterthanorequal" => Self::GreaterThanOrEqual,
            "lessthan" => Self::LessThan,
            "lessthanorequal" => Self::LessThanOrEqual,
            _ => return None,
        };
        Some(operator)
    }

    fn accepts(self, ordering: Ordering) -> bool {
        match self {
            Self::Equal => ordering == Ordering::Equal,
            Self::NotEqual => ordering != Ordering::Equal,
            Self::GreaterThan => ordering == Ordering::Greater,
            Self::GreaterThanOrEqual => ordering != Ordering::Less,
            Self::LessThan => ordering == Ordering::Less,
            Self::LessThanOrEqual => ordering != Ordering::Greater,
            // Contains is decided before comparing; see `Filter::matches`.
            Self::Contains => false,
        }
    }
}

/// A filter value, already in the field's type.
#[derive(Clone, Debug)]
enum Operand {
    /// Lower-cased: character comparisons are case-insensitive, as in AccountView.
    Text(String),
    Number(i64),
    Date(Option<NaiveDate>),
    DateTime(Option<NaiveDateTime>),
    Bool(bool),
}

#[derive(Clone, Debug)]
struct Filter {
    field: usize,
    operator: Operator,
    operand: Operand,
}

impl Filter {
    fn matches(&self, row: &Row) -> bool {
        let cell = row.get(self.field);
        let ordering = match (&self.operand, cell) {
            (Operand::Text(operand), Value::Text(text)) => {
                let text = text.to_lowercase();
                if self.operator == Operator::Contains {
                    return text.contains(operand.as_str());
                }
                text.trim_end().cmp(operand.trim_end())
            }
            (Operand::Number(operand), Value::Number(number)) => number.cmp(operand),
            (Operand::Date(operand), Value::Date(date)) => date.cmp(operand),
            (Operand::DateTime(operand), Value::DateTime(datetime)) => datetime.cmp(operand),
            (Operand::Bool(operand), Value::Bool(flag)) => flag.cmp(operand),
            // Parsing makes operand and field agree; a mismatch can only mean "no match".
            _ => return false,
        };
        self.operator.accepts(ordering)
    }
}

#[derive(Clone, Debug)]
enum Order {
    /// Key order: keyset paging with `lastKey` works.
    Key { descending: bool },
    /// Other fields, each ascending or descending, the key breaking ties.
    Fields(Vec<(usize, bool)>),
}

/// A parsed read request.
#[derive(Clone, Debug)]
pub struct ReadRequest {
    pub object: &'static BusinessObjectDef,
    page_size: usize,
    header_fields: Vec<usize>,
    detail_fields: Vec<usize>,
    filters: Vec<Filter>,
    order: Order,
    last_key: Option<Key>,
}

fn invalid(message: impl Into<String>) -> AvError {
    AvError::bad_request(number::INVALID_PARAMETER, message)
}

/// Parts of one numbered filter as they arrive.
#[derive(Default)]
struct FilterParts {
    control_source: Option<String>,
    operator: Option<String>,
    value_type: Option<String>,
    value: Option<String>,
}

/// Parses the query string of a read. Parameter names are case-insensitive; an unknown or repeated parameter
/// is an error **(chosen)**, so a misspelt filter cannot silently turn into "read everything".
pub fn parse(query: &str) -> Result<ReadRequest, AvError> {
    let mut seen = HashSet::new();
    let mut business_object = None;
    let mut page_size = None;
    let mut fields = None;
    let mut sort_fields = None;
    let mut sort_order = None;
    let mut last_key = None;
    let mut filters: Vec<(usize, FilterParts)> = Vec::new();

    for (name, text) in form_urlencoded::parse(query.as_bytes()) {
        let lower = name.to_ascii_lowercase();
        if !seen.insert(lower.clone()) {
            return Err(invalid(format!("Parameter {name} komt meer dan eens voor")));
        }
        let text = text.into_owned();
        match lower.as_str() {
            "businessobject" => business_object = Some(text),
            "pagesize" => page_size = Some(text),
            "fields" => fields = Some(text),
            "sortfields" => sort_fields = Some(text),
            "sortorder" => sort_order = Some(text),
            "lastkey" => last_key = Some(text),
            _ => {
                let (position, slot) =
                    filter_slot(&lower).ok_or_else(|| invalid(format!("Onbekende parameter {name}")))?;
                let parts = match filters.iter_mut().find(|(existing, _)| *existing == position) {
                    Some((_, parts)) => parts,
                    None => {
                        filters.push((position, FilterParts::default()));
                        let last = filters.len() - 1;
                        &mut filters[last].1
                    }
                };
                match slot {
                    FilterSlot::ControlSource => parts.control_source = Some(text),
                    FilterSlot::Operator => parts.operator = Some(text),
                    FilterSlot::ValueType => parts.value_type = Some(text),
                    FilterSlot::Value => parts.value = Some(text),
                }
            }
        }
    }

    let code = business_object
        .ok_or_else(|| AvError::bad_request(number::UNKNOWN_BUSINESS_OBJECT, "Parameter BusinessObject ontbreekt"))?;
    let object = catalog::business_object(&code).ok_or_else(|| {
        AvError::bad_request(
            number::UNKNOWN_BUSINESS_OBJECT,
            format!("Onbekend bedrijfsobject {code}"),
        )
    })?;
    if !object.readable {
        return Err(AvError::bad_request(
            number::OPERATION_NOT_SUPPORTED,
            format!(
                "Bedrijfsobject {} kan niet worden gelezen; gebruik DJ2P voor dagboekbladzijden",
                object.code
            ),
        ));
    }
    let page_size = match page_size {
        None => DEFAULT_PAGE_SIZE,
        Some(text) => text
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|size| (1..=MAX_PAGE_SIZE).contains(size))
            .ok_or_else(|| {
                invalid(format!(
                    "PageSize moet een geheel getal van 1 tot en met {MAX_PAGE_SIZE} zijn"
                ))
            })?,
    };
    let (header_fields, detail_fields) = parse_fields(object, fields.as_deref())?;

    if filters.len() > MAX_FILTERS {
        return Err(AvError::bad_request(
            number::INVALID_FILTER,
            format!("Te veel filters (maximaal {MAX_FILTERS})"),
        ));
    }
    filters.sort_by_key(|(position, _)| *position);
    let filters = filters
        .into_iter()
        .map(|(position, parts)| parse_filter(object.table, position, parts))
        .collect::<Result<_, _>>()?;

    let order = parse_order(object.table, sort_fields.as_deref(), sort_order.as_deref())?;
    let last_key = match last_key.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => {
            if matches!(order, Order::Fields(_)) {
                return Err(AvError::bad_request(
                    number::INVALID_LAST_KEY,
                    "lastKey kan alleen worden gebruikt bij sortering op de sleutel",
                ));
            }
            Some(parse_key(object.table, text)?)
        }
    };

    Ok(ReadRequest {
        object,
        page_size,
        header_fields,
        detail_fields,
        filters,
        order,
        last_key,
    })
}

enum FilterSlot {
    ControlSource,
    Operator,
    ValueType,
    Value,
}

/// Recognises `FilterControlSource<n>`, `FilterOperator<n>`, `FilterValueType<n>` and `FilterValue<n>`.
fn filter_slot(lower_name: &str) -> Option<(usize, FilterSlot)> {
    // `filtervaluetype` before `filtervalue`: the latter is a prefix of the former.
    let prefixes = [
        ("filtercontrolsource", FilterSlot::ControlSource),
        ("filteroperator", FilterSlot::Operator),
        ("filtervaluetype", FilterSlot::ValueType),
        ("filtervalue", FilterSlot::Value),
    ];
    for (prefix, slot) in prefixes {
        if let Some(digits) = lower_name.strip_prefix(prefix) {
            if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) || digits.len() > 3 {
                return None;
            }
            let position: usize = digits.parse().ok()?;
            return (position >= 1).then_some((position, slot));
        }
    }
    None
}

fn parse_filter(table: &TableDef, position: usize, parts: FilterParts) -> Result<Filter, AvError> {
    let filter_error = |message: String| AvError::bad_request(number::INVALID_FILTER, message);
    let source = parts
        .control_source
        .ok_or_else(|| filter_error(format!("FilterControlSource{position} ontbreekt")))?;
    let operator_text = parts
        .operator
        .ok_or_else(|| filter_error(format!("FilterOperator{position} ontbreekt")))?;
    let text = parts
        .value
        .ok_or_else(|| filter_error(format!("FilterValue{position} ontbreekt")))?;
    let field = table.index(&source).ok_or_else(|| {
        AvError::bad_request(
            number::UNKNOWN_FIELD,
            format!("Onbekend veld {source} in tabel {}", table.name),
        )
    })?;
    let field_type = table.fields[field].field_type;
    let operator = Operator::parse(&operator_text)
        .ok_or_else(|| filter_error(format!("Onbekende FilterOperator{position}: {operator_text}")))?;
    let value_type = match parts.value_type {
        None => field_type,
        Some(letter) => FieldType::from_letter(&letter)
            .ok_or_else(|| filter_error(format!("Onbekend FilterValueType{position}: {letter}")))?,
    };
    // A date may filter a datetime field (meaning midnight); any other mix is a client mistake.
    let compatible = value_type == field_type || (value_type == FieldType::D && field_type == FieldType::T);
    if !compatible {
        return Err(filter_error(format!(
            "FilterValueType{position} {} past niet bij veld {} van type {}",
            value_type.letter(),
            table.fields[field].name,
            field_type.letter()
        )));
    }
    if operator == Operator::Contains && field_type != FieldType::C {
        return Err(filter_error(format!(
            "Contains kan alleen op tekstvelden (filter {position})"
        )));
    }
    if field_type == FieldType::L && !matches!(operator, Operator::Equal | Operator::NotEqual) {
        return Err(filter_error(format!(
            "Een logisch veld kan alleen met Equal of NotEqual (filter {position})"
        )));
    }
    let bad_value = || {
        filter_error(format!(
            "FilterValue{position} '{text}' is geen geldige waarde van type {}",
            value_type.letter()
        ))
    };
    let operand = match (value_type, field_type) {
        (FieldType::C, _) => Operand::Text(text.to_lowercase()),
        (FieldType::N, _) => Operand::Number(value::parse_decimal(&text).ok_or_else(bad_value)?.scaled),
        (FieldType::D, FieldType::T) => Operand::DateTime(
            parse_optional(&text, value::parse_date, bad_value)?
                .map(|date| date.and_hms_opt(0, 0, 0).unwrap_or_default()),
        ),
        (FieldType::D, _) => Operand::Date(parse_optional(&text, value::parse_date, bad_value)?),
        (FieldType::T, _) => Operand::DateTime(parse_optional(&text, value::parse_datetime, bad_value)?),
        (FieldType::L, _) => Operand::Bool(value::parse_bool(&text).ok_or_else(bad_value)?),
    };
    Ok(Filter {
        field,
        operator,
        operand,
    })
}

/// Empty text is the empty date; anything else must parse.
fn parse_optional<T>(
    text: &str,
    parse: fn(&str) -> Option<T>,
    error: impl Fn() -> AvError,
) -> Result<Option<T>, AvError> {
    let text = text.trim();
    if text.is_empty() {
        Ok(None)
    } else {
        parse(text).map(Some).ok_or_else(error)
    }
}

/// `Fields`: absent or `*` means all; names of the header table plain, detail fields as `DJ_LINE.FIELD`
/// **(chosen)**. Key fields and the header link are always included, because paging and linking need them.
fn parse_fields(object: &BusinessObjectDef, fields: Option<&str>) -> Result<(Vec<usize>, Vec<usize>), AvError> {
    let table = object.table;
    let all_header: Vec<usize> = (0..table.fields.len()).collect();
    let all_detail: Vec<usize> = object
        .detail
        .map(|detail| (0..detail.fields.len()).collect())
        .unwrap_or_default();
    let text = fields.map(str::trim).unwrap_or("*");
    if text.is_empty() || text == "*" {
        return Ok((all_header, all_detail));
    }
    let mut header = vec![false; table.fields.len()];
    let mut detail_selected = object
        .detail
        .map(|detail| vec![false; detail.fields.len()])
        .unwrap_or_default();
    let mut any_detail = false;
    for name in text.split(',').map(str::trim).filter(|name| !name.is_empty()) {
        if name == "*" {
            header.iter_mut().for_each(|selected| *selected = true);
            continue;
        }
        let unknown = || {
            AvError::bad_request(
                number::UNKNOWN_FIELD,
                format!("Onbekend veld {name} voor {}", object.code),
            )
        };
        match (name.split_once('.'), object.detail) {
            (Some((table_name, field_name)), Some(detail)) if table_name.eq_ignore_ascii_case(detail.name) => {
                let index = detail.index(field_name).ok_or_else(unknown)?;
                detail_selected[index] = true;
                any_detail = true;
            }
            (Some((table_name, field_name)), _) if table_name.eq_ignore_ascii_case(table.name) => {
                header[table.index(field_name).ok_or_else(unknown)?] = true;
            }
            (Some(_), _) => return Err(unknown()),
            (None, _) => header[table.index(name).ok_or_else(unknown)?] = true,
        }
    }
    for key_index in table.key_indexes() {
        header[key_index] = true;
    }
    let mut detail_fields = all_detail;
    if let Some(detail) = object.detail
        && let Some(link) = detail.header_link
    {
        // The header carries its own id so the client can join the detail rows to it.
        if let Some(index) = table.index(link) {
            header[index] = true;
        }
        if any_detail {
            for key_index in detail.key_indexes() {
                detail_selected[key_index] = true;
            }
            detail_fields = selected(&detail_selected);
        }
    }
    Ok((selected(&header), detail_fields))
}

fn selected(flags: &[bool]) -> Vec<usize> {
    flags
        .iter()
        .enumerate()
        .filter(|(_, flag)| **flag)
        .map(|(index, _)| index)
        .collect()
}

fn parse_order(table: &TableDef, sort_fields: Option<&str>, sort_order: Option<&str>) -> Result<Order, AvError> {
    let names: Vec<&str> = sort_fields
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .collect();
    let directions: Vec<bool> = sort_order
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|direction| !direction.is_empty())
        .map(|direction| match direction.to_ascii_lowercase().as_str() {
            "asc" | "a" | "ascending" => Ok(false),
            "desc" | "d" | "descending" => Ok(true),
            _ => Err(invalid(format!("Onbekende SortOrder {direction}; gebruik ASC of DESC"))),
        })
        .collect::<Result<_, _>>()?;
    if directions.len() > 1 && directions.len() != names.len() {
        return Err(invalid(
            "SortOrder moet één richting of één richting per sorteerveld bevatten",
        ));
    }
    let direction_of = |position: usize| {
        directions
            .get(position)
            .or(directions.first())
            .copied()
            .unwrap_or(false)
    };
    if names.is_empty() {
        return Ok(Order::Key {
            descending: direction_of(0),
        });
    }
    let mut fields = Vec::with_capacity(names.len());
    for (position, name) in names.iter().enumerate() {
        let index = table.index(name).ok_or_else(|| {
            AvError::bad_request(
                number::UNKNOWN_FIELD,
                format!("Onbekend sorteerveld {name} in tabel {}", table.name),
            )
        })?;
        fields.push((index, direction_of(position)));
    }
    // Sorting on exactly the key, one direction, is key order: keep keyset paging available.
    let key_indexes = table.key_indexes();
    let same_direction = fields.iter().all(|(_, descending)| *descending == fields[0].1);
    if same_direction && fields.iter().map(|(index, _)| *index).eq(key_indexes.iter().copied()) {
        return Ok(Order::Key {
            descending: fields[0].1,
        });
    }
    Ok(Order::Fields(fields))
}

/// `lastKey`: the key of the last row of the previous page; the parts of a composite key comma-separated
/// in key order (`VRK,12` for journal pages) **(chosen)**.
fn parse_key(table: &TableDef, text: &str) -> Result<Key, AvError> {
    let key_indexes = table.key_indexes();
    let parts: Vec<&str> = if key_indexes.len() == 1 {
        vec![text]
    } else {
        text.splitn(key_indexes.len(), ',').collect()
    };
    if parts.len() != key_indexes.len() {
        return Err(AvError::bad_request(
            number::INVALID_LAST_KEY,
            format!(
                "lastKey moet {} delen hebben ({})",
                key_indexes.len(),
                table.key.join(",")
            ),
        ));
    }
    key_indexes
        .iter()
        .zip(parts)
        .map(|(index, part)| {
            let field = &table.fields[*index];
            let part = part.trim();
            match field.field_type {
                FieldType::N => value::parse_decimal(part).map(|parsed| Value::Number(parsed.scaled)),
                FieldType::C => Some(Value::text(part)),
                FieldType::D => value::parse_date(part).map(|date| Value::Date(Some(date))),
                FieldType::T => value::parse_datetime(part).map(|datetime| Value::DateTime(Some(datetime))),
                FieldType::L => value::parse_bool(part).map(Value::Bool),
            }
            .ok_or_else(|| {
                AvError::bad_request(
                    number::INVALID_LAST_KEY,
                    format!("lastKey-deel '{part}' past niet bij {}", field.name),
                )
            })
        })
        .collect()
}

/// The rows of one page.
pub struct ReadResult<'a> {
    request: &'a ReadRequest,
    headers: Vec<&'a Row>,
    details: Vec<&'a Row>,
}

/// Runs a read against an administration.
pub fn execute<'a>(request: &'a ReadRequest, administration: &'a Administration) -> ReadResult<'a> {
    let table = administration.table(request.object.table);
    let matches = |row: &&Row| request.filters.iter().all(|filter| filter.matches(row));
    let headers: Vec<&Row> = match &request.order {
        Order::Key { descending: false } => {
            let from = request.last_key.as_ref().map_or(Bound::Unbounded, Bound::Excluded);
            table
                .rows
                .range::<Key, _>((from, Bound::Unbounded))
                .map(|(_, row)| row)
                .filter(matches)
                .take(request.page_size)
                .collect()
        }
        Order::Key { descending: true } => {
            let to = request.last_key.as_ref().map_or(Bound::Unbounded, Bound::Excluded);
            table
                .rows
                .range::<Key, _>((Bound::Unbounded, to))
                .rev()
                .map(|(_, row)| row)
                .filter(matches)
                .take(request.page_size)
                .collect()
        }
        Order::Fields(fields) => {
            // Rows come in key order, and the sort is stable, so the key breaks ties.
            let mut rows: Vec<&Row> = table.rows.values().filter(matches).collect();
            rows.sort_by(|left, right| {
                fields
                    .iter()
                    .map(|(index, descending)| {
                        let ordering = compare_for_sort(left.get(*index), right.get(*index));
                        if *descending { ordering.reverse() } else { ordering }
                    })
                    .find(|ordering| ordering.is_ne())
                    .unwrap_or(Ordering::Equal)
            });
            rows.truncate(request.page_size);
            rows
        }
    };
    let mut details = Vec::new();
    if let (Some(detail), Some(link)) = (
        request.object.detail,
        request.object.detail.and_then(|detail| detail.header_link),
    ) {
        debug_assert_eq!(detail.name, catalog::DJ_LINE.name);
        let link_index = request.object.table.expect_index(link);
        for header in &headers {
            let page_id = header.get(link_index).as_number() / value::NUMBER_SCALE;
            details.extend(administration.lines_of_page(page_id));
        }
    }
    ReadResult {
        request,
        headers,
        details,
    }
}

/// Text sorts case-insensitively for people; other types in their natural order.
fn compare_for_sort(left: &Value, right: &Value) -> Ordering {
    match (left, right) {
        (Value::Text(left), Value::Text(right)) => left.to_lowercase().cmp(&right.to_lowercase()),
        _ => left.cmp(right),
    }
}

impl Serialize for ReadResult<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let object = self.request.object;
        let mut map = serializer.serialize_map(Some(if object.detail.is_some() { 2 } else { 1 }))?;
        map.serialize_entry(
            object.table.name,
            &Rows {
                table: object.table,
                fields: &self.request.header_fields,
                rows: &self.headers,
            },
        )?;
        if let Some(detail) = object.detail {
            map.serialize_entry(
                detail.name,
                &Rows {
                    table: detail,
                    fields: &self.request.detail_fields,
                    rows: &self.details,
                },
            )?;
        }
        map.end()
    }
}

struct Rows<'a> {
    table: &'a TableDef,
    fields: &'a [usize],
    rows: &'a [&'a Row],
}

impl Serialize for Rows<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut sequence = serializer.serialize_seq(Some(self.rows.len()))?;
        for row in self.rows {
            sequence.serialize_element(&RowView {
                table: self.table,
                fields: self.fields,
                row,
            })?;
        }
        sequence.end()
    }
}

struct RowView<'a> {
    table: &'a TableDef,
    fields: &'a [usize],
    row: &'a Row,
}

impl Serialize for RowView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.fields.len()))?;
        for index in self.fields {
            map.serialize_entry(self.table.fields[*index].name, &self.row.get(*index).wire())?;
        }
        map.end()
    }
}

/// Serializes a page.
pub fn to_json(result: &ReadResult<'_>) -> Result<Vec<u8>, serde_json::Error> {
    // Room for a typical debtor row up front saves a few reallocations on the hot path.
    let mut body = Vec::with_capacity(256 + result.headers.len() * 320);
    serde_json::to_writer(&mut body, result)?;
    Ok(body)
}
