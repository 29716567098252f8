//! `POST /api/v3/AccountViewData`: the columnar body (definitions, then positional `Values` rows, detail rows
//! pointing at their header through `HeaderId`), the validation rules of accountview.md for sales invoices
//! (`DJ2`) and debtors (`AR1`), booking, and the answer.
//!
//! Validation collects every problem of a request before answering, so one answer tells the client all that
//! is wrong. A request is all-or-nothing: nothing is booked unless every row passes.

use std::collections::{BTreeMap, HashSet};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::auth::DataCaller;
use crate::books::{Administration, Row};
use crate::catalog::{self, FieldDef, TableDef};
use crate::errors::{AvError, DUPLICATE_INVOICE_MESSAGE, number};
use crate::seed::vat_on;
use crate::state::{PostedDocument, Shared};
use crate::value::{self, FieldType, NUMBER_SCALE, Value, format_decimal};

// Property names are matched case-insensitively (as ASP.NET does), by lower-casing them before these types
// see them; hence the lower-case renames.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PostRequest {
    #[serde(rename = "businessobject")]
    business_object: String,
    table: TableSpec,
    #[serde(rename = "tabledata")]
    table_data: TableDataSpec,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TableSpec {
    definition: DefinitionSpec,
    #[serde(rename = "detaildefinitions", default)]
    detail_definitions: Vec<DefinitionSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DefinitionSpec {
    name: String,
    fields: Vec<FieldSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldSpec {
    name: String,
    #[serde(rename = "fieldtype")]
    field_type: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TableDataSpec {
    data: DataSpec,
    #[serde(rename = "detaildata", default)]
    detail_data: Vec<DataSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DataSpec {
    #[serde(default)]
    name: Option<String>,
    rows: Vec<RowSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RowSpec {
    #[serde(rename = "rowid")]
    row_id: RowId,
    #[serde(rename = "headerid", default)]
    header_id: Option<RowId>,
    values: Vec<serde_json::Value>,
}

/// Row ids are strings in AccountView's answers; clients also send numbers, which mean the same.
#[derive(Deserialize)]
#[serde(untagged)]
enum RowId {
    Text(String),
    Number(u64),
}

impl RowId {
    fn into_string(self) -> String {
        match self {
            Self::Text(text) => text.trim().to_owned(),
            Self::Number(number) => number.to_string(),
        }
    }
}

/// How bad a problem is, which decides the status of the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Severity {
    /// Checked by AccountView's server after the gateway let the request through: answered with HTTP 200
    /// and an error body **(chosen: a date outside the fiscal year)**.
    Business,
    /// 409.
    Conflict,
    /// 400.
    Invalid,
}

struct Issue {
    severity: Severity,
    number: u32,
    message: String,
}

#[derive(Default)]
struct Issues(Vec<Issue>);

impl Issues {
    fn invalid(&mut self, number: u32, message: String) {
        self.0.push(Issue {
            severity: Severity::Invalid,
            number,
            message,
        });
    }

    fn conflict(&mut self, number: u32, message: String) {
        self.0.push(Issue {
            severity: Severity::Conflict,
            number,
            message,
        });
    }

    fn business(&mut self, number: u32, message: String) {
        self.0.push(Issue {
            severity: Severity::Business,
            number,
            message,
        });
    }

    fn has_invalid(&self) -> bool {
        self.0.iter().any(|issue| issue.severity == Severity::Invalid)
    }

    /// One error answer for all problems: the status of the worst, every number, every message on its own line.
    fn into_error(self) -> Option<AvError> {
        let worst = self.0.iter().map(|issue| issue.severity).max()?;
        let status = match worst {
            Severity::Invalid => StatusCode::BAD_REQUEST,
            Severity::Conflict => StatusCode::CONFLICT,
            Severity::Business => StatusCode::OK,
        };
        let mut error = AvError::new(status, 0, String::new());
        error.numbers = self.0.iter().map(|issue| issue.number).collect();
        error.message = self
            .0
            .iter()
            .map(|issue| issue.message.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        Some(error)
    }
}

/// A definition resolved against a table: which table field each position fills.
struct Layout {
    table: &'static TableDef,
    positions: Vec<usize>,
    present: Vec<bool>,
}

/// A row after type checking: its id, header link, and a full table row with the given values filled in.
struct ParsedRow {
    row_id: String,
    header_id: Option<String>,
    row: Row,
}

/// Handles one POST and records it for `/_sandbox/posted`.
pub fn handle(shared: &Shared, caller: &DataCaller, body: &[u8]) -> Response {
    let request_json: serde_json::Value = match serde_json::from_slice(body) {
        Ok(json) => json,
        Err(error) => {
            return AvError::bad_request(
                number::MALFORMED_BODY,
                format!("Ongeldige JSON in de aanvraag: {error}"),
            )
            .into_response();
        }
    };
    let outcome = post(shared, caller, &request_json);
    let (status, answer, committed, business_object) = match &outcome {
        Ok(success) => (StatusCode::OK, success.body.clone(), true, success.business_object),
        Err(failure) => (
            failure.error.status,
            error_json(&failure.error),
            false,
            failure.business_object,
        ),
    };
    // Rights, scope and malformed bodies never reach the books; only attempts at a known object are logged.
    if let Some(business_object) = business_object {
        let at = shared.clock.local_now();
        let mut state = shared.write();
        let sequence = state.posted.last().map_or(1, |last| last.sequence + 1);
        state.posted.push(PostedDocument {
            sequence,
            at,
            company_id: caller.company_id.clone(),
            business_object: business_object.to_owned(),
            user: caller.caller.user.clone(),
            client_id: caller.caller.client_id.clone(),
            status: status.as_u16(),
            committed,
            answer,
            request: request_json,
        });
    }
    match outcome {
        Ok(success) => (StatusCode::OK, axum::Json(success.body)).into_response(),
        Err(failure) => failure.error.into_response(),
    }
}

fn error_json(error: &AvError) -> serde_json::Value {
    json!({"ErrorType": "AccountViewError", "ErrorNumbers": error.numbers, "ErrorMessage": error.message})
}

struct Success {
    business_object: Option<&'static str>,
    body: serde_json::Value,
}

struct Failure {
    business_object: Option<&'static str>,
    error: AvError,
}

impl Failure {
    fn early(error: AvError) -> Self {
        Self {
            business_object: None,
            error,
        }
    }
}

fn post(shared: &Shared, caller: &DataCaller, request_json: &serde_json::Value) -> Result<Success, Failure> {
    let request: PostRequest = serde_json::from_value(lowercase_keys(request_json)).map_err(|error| {
        Failure::early(AvError::bad_request(
            number::MALFORMED_BODY,
            format!("Aanvraag heeft niet de verwachte vorm: {error}"),
        ))
    })?;
    let object = catalog::business_object(&request.business_object).ok_or_else(|| {
        Failure::early(AvError::bad_request(
            number::UNKNOWN_BUSINESS_OBJECT,
            format!("Onbekend bedrijfsobject {}", request.business_object),
        ))
    })?;
    if !object.insertable {
        return Err(Failure::early(AvError::bad_request(
            number::OPERATION_NOT_SUPPORTED,
            format!("Bedrijfsobject {} kan niet via deze API worden toegevoegd", object.code),
        )));
    }
    caller
        .caller
        .require_scope(catalog::SCOPE_UPDATE)
        .map_err(Failure::early)?;
    {
        let state = shared.read();
        let allowed = state
            .user(&caller.caller.user)
            .and_then(|user| user.rights_for(object.code))
            .is_some_and(|rights| rights.insert);
        if !allowed {
            return Err(Failure::early(AvError::no_right(object.code, "toevoegen")));
        }
    }
    let fail = |error: AvError| Failure {
        business_object: Some(object.code),
        error,
    };

    let mut issues = Issues::default();
    let header_layout = resolve_definition(object.table, &request.table.definition, &mut issues);
    let detail_layout = match (object.detail, request.table.detail_definitions.as_slice()) {
        (Some(detail), [definition]) => resolve_definition(detail, definition, &mut issues),
        (Some(detail), _) => {
            issues.invalid(
                number::INVALID_DEFINITION,
                format!("{} verwacht precies één detaildefinitie ({})", object.code, detail.name),
            );
            None
        }
        (None, []) => None,
        (None, _) => {
            issues.invalid(
                number::INVALID_DEFINITION,
                format!("{} heeft geen detailtabellen", object.code),
            );
            None
        }
    };
    // Rows can only be read with usable definitions; without them, answer with what is wrong with those.
    let definitions_usable = object.detail.is_none() || detail_layout.is_some();
    let Some(header_layout) = header_layout.filter(|_| definitions_usable) else {
        return Err(fail(issues.into_error().unwrap_or_else(|| {
            AvError::bad_request(number::INVALID_DEFINITION, "Ongeldige definitie")
        })));
    };

    let TableDataSpec { data, detail_data } = request.table_data;
    check_block_name(&data, header_layout.table, &mut issues);
    let headers = parse_rows(&header_layout, data.rows, false, &mut issues);
    let mut lines = Vec::new();
    if let Some(detail_layout) = &detail_layout {
        match <[DataSpec; 1]>::try_from(detail_data) {
            Ok([block]) => {
                check_block_name(&block, detail_layout.table, &mut issues);
                lines = parse_rows(detail_layout, block.rows, true, &mut issues);
            }
            Err(_) => issues.invalid(
                number::INVALID_ROW,
                format!("Verwacht precies één blok DetailData voor {}", detail_layout.table.name),
            ),
        }
    } else if !detail_data.is_empty() {
        issues.invalid(
            number::INVALID_ROW,
            format!("{} heeft geen detailgegevens", object.code),
        );
    }
    if headers.is_empty() && !issues.has_invalid() {
        issues.invalid(number::INVALID_ROW, "De aanvraag bevat geen rijen".to_owned());
    }

    let now = shared.clock.local_now();
    let mut state = shared.write();
    let Some(administration) = state.administration_mut(&caller.company_id) else {
        return Err(fail(AvError::company_forbidden()));
    };
    let results = match (object.code, &detail_layout) {
        ("DJ2", Some(line_layout)) => {
            check_invoices(administration, line_layout, &headers, &mut lines, &mut issues);
            if let Some(error) = issues.into_error() {
                return Err(fail(error));
            }
            book_invoices(administration, headers, lines, now)
        }
        ("AR1", None) => {
            check_debtors(administration, &headers, &mut issues);
            if let Some(error) = issues.into_error() {
                return Err(fail(error));
            }
            book_debtors(administration, headers, now)
        }
        // The catalog marks only DJ2 and AR1 insertable; anything else cannot get here.
        _ => {
            return Err(fail(AvError::bad_request(
                number::OPERATION_NOT_SUPPORTED,
                format!("Bedrijfsobject {} kan niet via deze API worden toegevoegd", object.code),
            )));
        }
    };
    Ok(Success {
        business_object: Some(object.code),
        body: json!({"BusinessObject": object.code, "Results": results}),
    })
}

/// Lower-cases every object key, so `BusinessObject`, `businessObject` and `businessobject` are one property.
fn lowercase_keys(json: &serde_json::Value) -> serde_json::Value {
    match json {
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.iter()
                .map(|(key, value)| (key.to_lowercase(), lowercase_keys(value)))
                .collect(),
        ),
        serde_json::Value::Array(items) => serde_json::Value::Array(items.iter().map(lowercase_keys).collect()),
        other => other.clone(),
    }
}

fn check_block_name(block: &DataSpec, table: &TableDef, issues: &mut Issues) {
    if let Some(name) = &block.name
        && !name.trim().eq_ignore_ascii_case(table.name)
    {
        issues.invalid(
            number::INVALID_ROW,
            format!("Gegevensblok {name} hoort bij tabel {}", table.name),
        );
    }
}

/// Checks a definition: the right table, known and writable fields, matching type letters, no duplicates, and
/// every mandatory field present. Returns `None` when the rows cannot be read with it.
fn resolve_definition(table: &'static TableDef, definition: &DefinitionSpec, issues: &mut Issues) -> Option<Layout> {
    if !definition.name.trim().eq_ignore_ascii_case(table.name) {
        issues.invalid(
            number::INVALID_DEFINITION,
            format!(
                "Definitie {} hoort niet bij dit bedrijfsobject; verwacht {}",
                definition.name, table.name
            ),
        );
        return None;
    }
    let before = issues.0.len();
    let mut positions = Vec::with_capacity(definition.fields.len());
    let mut present = vec![false; table.fields.len()];
    for field_spec in &definition.fields {
        let Some(index) = table.index(&field_spec.name) else {
            issues.invalid(
                number::INVALID_DEFINITION,
                format!("Onbekend veld {} in tabel {}", field_spec.name, table.name),
            );
            continue;
        };
        let field = &table.fields[index];
        if present[index] {
            issues.invalid(
                number::INVALID_DEFINITION,
                format!("Veld {} staat dubbel in de definitie van {}", field.name, table.name),
            );
            continue;
        }
        present[index] = true;
        if !field.writable {
            issues.invalid(
                number::INVALID_DEFINITION,
                format!(
                    "Veld {} van {} wordt door AccountView bijgehouden en kan niet worden gevuld",
                    field.name, table.name
                ),
            );
        }
        match FieldType::from_letter(&field_spec.field_type) {
            Some(field_type) if field_type == field.field_type => {}
            _ => issues.invalid(
                number::INVALID_DEFINITION,
                format!(
                    "Veld {} van {} heeft type {}, niet '{}'",
                    field.name,
                    table.name,
                    field.field_type.letter(),
                    field_spec.field_type
                ),
            ),
        }
        positions.push(index);
    }
    for field in table.fields.iter().filter(|field| field.mandatory) {
        if !present[table.expect_index(field.name)] {
            issues.invalid(
                number::MANDATORY,
                format!(
                    "Verplicht veld {} ontbreekt in de definitie van {}",
                    field.name, table.name
                ),
            );
        }
    }
    (issues.0.len() == before).then_some(Layout {
        table,
        positions,
        present,
    })
}

/// Type-checks rows against a layout. Detail rows must name their header.
fn parse_rows(layout: &Layout, rows: Vec<RowSpec>, detail: bool, issues: &mut Issues) -> Vec<ParsedRow> {
    let table = layout.table;
    let mut seen = HashSet::new();
    let mut parsed = Vec::with_capacity(rows.len());
    for spec in rows {
        let row_id = spec.row_id.into_string();
        let label = if detail {
            format!("Regel {row_id}")
        } else {
            format!("Rij {row_id}")
        };
        if row_id.is_empty() {
            issues.invalid(
                number::INVALID_ROW,
                format!("Een rij van {} heeft geen RowId", table.name),
            );
            continue;
        }
        if !seen.insert(row_id.clone()) {
            issues.invalid(
                number::INVALID_ROW,
                format!("{label}: RowId komt dubbel voor in {}", table.name),
            );
            continue;
        }
        let header_id = spec.header_id.map(RowId::into_string);
        match (detail, &header_id) {
            (true, None) => issues.invalid(number::INVALID_ROW, format!("{label}: HeaderId ontbreekt")),
            (false, Some(_)) => issues.invalid(
                number::INVALID_ROW,
                format!("{label}: een kopregel heeft geen HeaderId"),
            ),
            _ => {}
        }
        if spec.values.len() != layout.positions.len() {
            issues.invalid(
                number::INVALID_ROW,
                format!(
                    "{label}: {} waarden, de definitie heeft {} velden",
                    spec.values.len(),
                    layout.positions.len()
                ),
            );
            continue;
        }
        let mut row = Row::empty(table);
        for (position, json) in layout.positions.iter().zip(&spec.values) {
            let field = &table.fields[*position];
            match convert(field, json) {
                Ok(value) => row.values[*position] = value,
                Err((error_number, problem)) => {
                    issues.invalid(error_number, format!("{label}, veld {}: {problem}", field.name))
                }
            }
        }
        for (index, field) in table.fields.iter().enumerate() {
            if field.mandatory && layout.present[index] && row.get(index).is_empty() {
                issues.invalid(
                    number::MANDATORY,
                    format!("{label}: verplicht veld {} is leeg", field.name),
                );
            }
        }
        parsed.push(ParsedRow { row_id, header_id, row });
    }
    parsed
}

/// Converts one JSON value to a field's type, checking width and decimals. `null` means "empty".
fn convert(field: &FieldDef, json: &serde_json::Value) -> Result<Value, (u32, String)> {
    let wrong_type = || {
        (
            number::WRONG_TYPE,
            format!(
                "verwacht een waarde van type {}, kreeg {json}",
                field.field_type.letter()
            ),
        )
    };
    if json.is_null() {
        return Ok(field.field_type.empty_value());
    }
    match field.field_type {
        FieldType::C => {
            let text = json.as_str().ok_or_else(wrong_type)?;
            let length = text.chars().count();
            if length > usize::from(field.width) {
                return Err((
                    number::TOO_LONG,
                    format!("{length} tekens is te lang (maximaal {})", field.width),
                ));
            }
            Ok(Value::text(text))
        }
        FieldType::N => {
            let number = json.as_number().ok_or_else(wrong_type)?;
            let parsed = value::parse_json_number(number).ok_or_else(|| {
                (
                    number::TOO_LONG,
                    format!("{number} is geen bedrag dat AccountView kan opslaan"),
                )
            })?;
            if parsed.decimals > field.decimals {
                return Err((
                    number::TOO_LONG,
                    format!("{number} heeft te veel decimalen (maximaal {})", field.decimals),
                ));
            }
            if parsed.integer_digits > field.width {
                return Err((
                    number::TOO_LONG,
                    format!("{number} heeft te veel cijfers (maximaal {})", field.width),
                ));
            }
            Ok(Value::Number(parsed.scaled))
        }
        FieldType::D => {
            let text = json.as_str().ok_or_else(wrong_type)?.trim();
            if text.is_empty() {
                return Ok(Value::Date(None));
            }
            value::parse_date(text)
                .map(|date| Value::Date(Some(date)))
                .ok_or_else(|| (number::WRONG_TYPE, format!("'{text}' is geen datum (JJJJ-MM-DD)")))
        }
        FieldType::T => {
            let text = json.as_str().ok_or_else(wrong_type)?.trim();
            if text.is_empty() {
                return Ok(Value::DateTime(None));
            }
            value::parse_datetime(text)
                .map(|datetime| Value::DateTime(Some(datetime)))
                .ok_or_else(|| {
                    (
                        number::WRONG_TYPE,
                        format!("'{text}' is geen datum-tijd (JJJJ-MM-DDTUU:MM:SS)"),
                    )
                })
        }
        FieldType::L => json.as_bool().map(Value::Bool).ok_or_else(wrong_type),
    }
}

/// Looks up a code in a master-data table: it must exist and not be blocked.
fn check_reference(
    table: &crate::books::Table,
    code: &str,
    what: &str,
    label: &str,
    issues: &mut Issues,
) -> Option<Row> {
    match table.find(code) {
        None => {
            issues.invalid(
                number::UNKNOWN_REFERENCE,
                format!("{label}: {what} {code} bestaat niet"),
            );
            None
        }
        Some(row) => {
            let blocked = table.def.index("REC_BLK").is_some_and(|index| row.get(index).as_bool());
            if blocked {
                issues.invalid(
                    number::BLOCKED_REFERENCE,
                    format!("{label}: {what} {code} is geblokkeerd"),
                );
            }
            Some(row.clone())
        }
    }
}

/// The validation rules of a sales invoice, per header and line. Fills in `BASE_AMT` and `VAT_AMT` where the
/// client left them out, as AccountView does.
fn check_invoices(
    administration: &Administration,
    line_layout: &Layout,
    headers: &[ParsedRow],
    lines: &mut [ParsedRow],
    issues: &mut Issues,
) {
    let page_table = &catalog::DJ_PAGE;
    let line_table = &catalog::DJ_LINE;
    let header_ids: HashSet<&str> = headers.iter().map(|header| header.row_id.as_str()).collect();
    for line in lines.iter() {
        if let Some(header_id) = &line.header_id
            && !header_ids.contains(header_id.as_str())
        {
            issues.invalid(
                number::INVALID_ROW,
                format!("Regel {}: HeaderId {header_id} bestaat niet", line.row_id),
            );
        }
    }

    let mut invoice_numbers_in_request: HashSet<(String, String)> = HashSet::new();
    for header in headers {
        let label = format!("Rij {}", header.row_id);
        let row = &header.row;
        let journal = row.field(page_table, "DJ_CODE").as_text();
        let invoice_number = row.field(page_table, "INV_NR").as_text();
        if !journal.is_empty()
            && let Some(journal_row) = check_reference(&administration.journals, journal, "dagboek", &label, issues)
            && journal_row.field(&catalog::DAILY, "DJ_TYPE").as_text() != catalog::SALES_JOURNAL_TYPE
        {
            issues.invalid(
                number::RULE_VIOLATED,
                format!("{label}: dagboek {journal} is geen verkoopboek"),
            );
        }
        let debtor = row.field(page_table, "SUB_NR").as_text();
        if !debtor.is_empty() {
            check_reference(&administration.contacts, debtor, "debiteur", &label, issues);
        }
        let currency = row.field(page_table, "CUR_CODE").as_text();
        if !currency.is_empty() && !currency.eq_ignore_ascii_case(catalog::BASE_CURRENCY) {
            issues.invalid(
                number::RULE_VIOLATED,
                format!(
                    "{label}: valuta {currency} wordt niet ondersteund; de administratie boekt in {}",
                    catalog::BASE_CURRENCY
                ),
            );
        }
        if let Some(day) = row.field(page_table, "TRN_DATE").as_date()
            && !administration.in_fiscal_year(day)
        {
            issues.business(
                number::OUTSIDE_FISCAL_YEAR,
                format!(
                    "{label}: datum {day} valt buiten boekjaar {} van deze administratie",
                    administration.fiscal_year
                ),
            );
        }
        let page_number = row.field(page_table, "PAGE_NR").as_number();
        if page_number < 0 || page_number % NUMBER_SCALE != 0 {
            issues.invalid(
                number::RULE_VIOLATED,
                format!("{label}: PAGE_NR moet een positief geheel getal zijn"),
            );
        } else if page_number > 0 && !journal.is_empty() {
            let key = vec![Value::text(journal), Value::Number(page_number)];
            if administration.pages.rows.contains_key(&key) {
                issues.conflict(
                    number::DUPLICATE_KEY,
                    format!(
                        "{label}: bladzijde {} van dagboek {journal} bestaat al",
                        format_decimal(page_number)
                    ),
                );
            }
        }
        if !journal.is_empty() && !invoice_number.is_empty() {
            let wanted = (journal.to_ascii_uppercase(), invoice_number.trim().to_lowercase());
            let already_booked = administration.pages.rows.values().any(|page| {
                page.field(page_table, "DJ_CODE")
                    .as_text()
                    .eq_ignore_ascii_case(journal)
                    && page.field(page_table, "INV_NR").as_text().trim().to_lowercase() == wanted.1
            });
            if already_booked || !invoice_numbers_in_request.insert(wanted) {
                issues.conflict(number::DUPLICATE_INVOICE, DUPLICATE_INVOICE_MESSAGE.to_owned());
            }
        }
        if !lines
            .iter()
            .any(|line| line.header_id.as_deref() == Some(header.row_id.as_str()))
        {
            issues.invalid(number::INVALID_ROW, format!("{label}: de factuur heeft geen regels"));
        }
    }

    let base_given = line_layout.present[line_table.expect_index("BASE_AMT")];
    let vat_given = line_layout.present[line_table.expect_index("VAT_AMT")];
    for line in lines.iter_mut() {
        let label = format!("Regel {}", line.row_id);
        let account = line.row.field(line_table, "ACCT_NR").as_text().to_owned();
        if !account.is_empty() {
            check_reference(&administration.ledger, &account, "grootboekrekening", &label, issues);
        }
        let cost_centre = line.row.field(line_table, "COST_CODE").as_text().to_owned();
        if !cost_centre.is_empty() {
            check_reference(
                &administration.cost_centres,
                &cost_centre,
                "kostenplaats",
                &label,
                issues,
            );
        }
        check_line_vat(administration, line, base_given, vat_given, &label, issues);
    }

    // The invoice total becomes the debtor's open item, an amount of at most 12 digits like every amount.
    let limit = 10i128.pow(12) * i128::from(NUMBER_SCALE);
    for header in headers {
        let total: i128 = lines
            .iter()
            .filter(|line| line.header_id.as_deref() == Some(header.row_id.as_str()))
            .map(|line| {
                i128::from(line.row.field(line_table, "AMOUNT").as_number())
                    + i128::from(line.row.field(line_table, "VAT_AMT").as_number())
            })
            .sum();
        if total.abs() >= limit {
            issues.invalid(
                number::TOO_LONG,
                format!(
                    "Rij {}: het factuurtotaal is groter dan AccountView kan opslaan",
                    header.row_id
                ),
            );
        }
    }
}

/// The VAT rule: the VAT amount must be the code's percentage of the base, to the cent (a difference of one
/// cent is accepted for rounding done on invoice level **(chosen)**); verlegd and "no code" carry no VAT.
fn check_line_vat(
    administration: &Administration,
    line: &mut ParsedRow,
    base_given: bool,
    vat_given: bool,
    label: &str,
    issues: &mut Issues,
) {
    let table = &catalog::DJ_LINE;
    let amount = line.row.field(table, "AMOUNT").as_number();
    let base = if base_given {
        line.row.field(table, "BASE_AMT").as_number()
    } else {
        amount
    };
    let given_vat = line.row.field(table, "VAT_AMT").as_number();
    let vat_code = line.row.field(table, "VAT_CODE").as_text().to_owned();
    if vat_code.is_empty() {
        if vat_given && given_vat != 0 {
            issues.invalid(
                number::VAT_MISMATCH,
                format!("{label}: btw-bedrag {} zonder btw-code", format_decimal(given_vat)),
            );
        }
        return;
    }
    let Some(vat_row) = check_reference(&administration.vat_codes, &vat_code, "btw-code", label, issues) else {
        return;
    };
    let percentage = vat_row.field(&catalog::VAT, "VAT_PCT").as_number();
    let reverse = vat_row.field(&catalog::VAT, "IS_REVERSE").as_bool();
    let expected = if reverse { 0 } else { vat_on(base, percentage) };
    if vat_given {
        let tolerance = if reverse { 0 } else { NUMBER_SCALE / 100 };
        if (given_vat - expected).abs() > tolerance {
            let explanation = if reverse {
                format!("btw-code {vat_code} is verlegd: het btw-bedrag moet 0 zijn")
            } else {
                format!(
                    "btw-code {vat_code} is {}% van {} = {}",
                    format_decimal(percentage),
                    format_decimal(base),
                    format_decimal(expected)
                )
            };
            issues.invalid(
                number::VAT_MISMATCH,
                format!(
                    "{label}: btw-bedrag {} past niet bij de btw-code ({explanation})",
                    format_decimal(given_vat)
                ),
            );
        }
    } else {
        line.row.set(table, "VAT_AMT", Value::Number(expected));
    }
    if !base_given {
        line.row.set(table, "BASE_AMT", Value::Number(amount));
    }
}

fn book_invoices(
    administration: &mut Administration,
    headers: Vec<ParsedRow>,
    lines: Vec<ParsedRow>,
    changed: chrono::NaiveDateTime,
) -> Vec<serde_json::Value> {
    let mut lines_by_header: BTreeMap<String, Vec<Row>> = BTreeMap::new();
    for line in lines {
        if let Some(header_id) = line.header_id {
            lines_by_header.entry(header_id).or_default().push(line.row);
        }
    }
    headers
        .into_iter()
        .map(|header| {
            let lines = lines_by_header.remove(&header.row_id).unwrap_or_default();
            let key = administration.book_sales_invoice(header.row, lines, changed);
            result(&header.row_id, &catalog::DJ_PAGE, &key)
        })
        .collect()
}

/// The rules for a new debtor: a free number, existing VAT code, a plausible country code and mail address.
fn check_debtors(administration: &Administration, headers: &[ParsedRow], issues: &mut Issues) {
    let table = &catalog::CONTACT;
    let mut numbers_in_request = HashSet::new();
    for header in headers {
        let label = format!("Rij {}", header.row_id);
        let row = &header.row;
        let debtor = row.field(table, "SUB_NR").as_text();
        if !debtor.is_empty()
            && (administration.contacts.find(debtor).is_some() || !numbers_in_request.insert(debtor.to_owned()))
        {
            issues.conflict(number::DUPLICATE_KEY, format!("{label}: debiteur {debtor} bestaat al"));
        }
        if debtor != debtor.trim() {
            issues.invalid(
                number::RULE_VIOLATED,
                format!("{label}: debiteurnummer '{debtor}' begint of eindigt met een spatie"),
            );
        }
        let vat_code = row.field(table, "VAT_CODE").as_text();
        if !vat_code.is_empty() {
            check_reference(&administration.vat_codes, vat_code, "btw-code", &label, issues);
        }
        let country = row.field(table, "CNT_CODE").as_text();
        let iso_country = country.len() == 2 && country.bytes().all(|byte| byte.is_ascii_uppercase());
        if !country.is_empty() && !iso_country {
            issues.invalid(
                number::RULE_VIOLATED,
                format!("{label}: landcode '{country}' is geen ISO-landcode (bijv. NL, BE)"),
            );
        }
        let mail = row.field(table, "MAIL_BUS").as_text();
        let plausible_mail = mail
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.') && !domain.contains('@'))
            && !mail.chars().any(char::is_whitespace);
        if !mail.is_empty() && !plausible_mail {
            issues.invalid(number::RULE_VIOLATED, format!("{label}: '{mail}' is geen e-mailadres"));
        }
    }
}

fn book_debtors(
    administration: &mut Administration,
    headers: Vec<ParsedRow>,
    changed: chrono::NaiveDateTime,
) -> Vec<serde_json::Value> {
    let table = &catalog::CONTACT;
    headers
        .into_iter()
        .map(|mut header| {
            header.row.set(table, "CNG_DATE", Value::DateTime(Some(changed)));
            let key = header.row.key(table);
            administration.contacts.insert(header.row);
            result(&header.row_id, table, &key)
        })
        .collect()
}

/// One entry of `Results`; key values are strings, as in accountview.md's example.
fn result(row_id: &str, table: &TableDef, key: &[Value]) -> serde_json::Value {
    let key: serde_json::Map<String, serde_json::Value> = table
        .key
        .iter()
        .zip(key)
        .map(|(name, value)| ((*name).to_owned(), serde_json::Value::String(value.display())))
        .collect();
    json!({"RowId": row_id, "Action": "Inserted", "Key": key})
}
