//! The books of one AccountView administration (one company in one fiscal year): its tables, kept ordered by
//! key so keyset paging is a range scan.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use crate::catalog::{self, TableDef};
use crate::value::{NUMBER_SCALE, Value};

/// A row's key: its key fields' values in key order. Ordered per type, so `PAGE_NR` 10 follows 9.
pub type Key = Vec<Value>;

/// One row, its values in the table definition's field order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub values: Vec<Value>,
}

impl Row {
    /// A row of a table with every field empty.
    pub fn empty(table: &TableDef) -> Self {
        Self {
            values: table
                .fields
                .iter()
                .map(|field| field.field_type.empty_value())
                .collect(),
        }
    }

    pub fn get(&self, index: usize) -> &Value {
        &self.values[index]
    }

    /// Reads a field the sandbox itself names (see [`TableDef::expect_index`]).
    pub fn field(&self, table: &TableDef, name: &str) -> &Value {
        &self.values[table.expect_index(name)]
    }

    pub fn set(&mut self, table: &TableDef, name: &str, value: Value) {
        self.values[table.expect_index(name)] = value;
    }

    pub fn key(&self, table: &TableDef) -> Key {
        table.key.iter().map(|name| self.field(table, name).clone()).collect()
    }
}

/// A table of rows ordered by key.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(try_from = "StoredTable", into = "StoredTable")]
pub struct Table {
    pub def: &'static TableDef,
    pub rows: BTreeMap<Key, Row>,
}

impl Table {
    pub fn new(def: &'static TableDef) -> Self {
        Self {
            def,
            rows: BTreeMap::new(),
        }
    }

    /// Inserts or replaces a row under its key.
    pub fn insert(&mut self, row: Row) {
        self.rows.insert(row.key(self.def), row);
    }

    /// Finds a row of a single-field key table by that key.
    pub fn find(&self, key: &str) -> Option<&Row> {
        self.rows.get([Value::text(key)].as_slice())
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }
}

/// How a table is written to a state file: field names once, then positional rows. Loading checks the names,
/// so a state file from an older sandbox with other columns is refused instead of misread.
#[derive(Serialize, Deserialize)]
struct StoredTable {
    name: String,
    fields: Vec<String>,
    rows: Vec<Vec<Value>>,
}

impl From<Table> for StoredTable {
    fn from(table: Table) -> Self {
        Self {
            name: table.def.name.to_owned(),
            fields: table.def.fields.iter().map(|field| field.name.to_owned()).collect(),
            rows: table.rows.into_values().map(|row| row.values).collect(),
        }
    }
}

impl TryFrom<StoredTable> for Table {
    type Error = String;

    fn try_from(stored: StoredTable) -> Result<Self, Self::Error> {
        let def = catalog::table(&stored.name).ok_or_else(|| format!("unknown table {}", stored.name))?;
        let expected: Vec<&str> = def.fields.iter().map(|field| field.name).collect();
        if stored.fields != expected {
            return Err(format!(
                "table {} has fields {:?}, this sandbox expects {:?}",
                def.name, stored.fields, expected
            ));
        }
        let mut table = Table::new(def);
        for values in stored.rows {
            if values.len() != expected.len() {
                return Err(format!(
                    "a row of table {} has {} values, expected {}",
                    def.name,
                    values.len(),
                    expected.len()
                ));
            }
            table.insert(Row { values });
        }
        Ok(table)
    }
}

/// One AccountView administration: a company's books for one fiscal year.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Administration {
    /// The `Id` of `GET /Companies`, sent back as `x-company`.
    pub id: String,
    pub code: String,
    pub description: String,
    pub fiscal_year: i32,
    pub contacts: Table,
    pub articles: Table,
    pub article_groups: Table,
    pub vat_codes: Table,
    pub ledger: Table,
    pub journals: Table,
    pub cost_centres: Table,
    pub pages: Table,
    pub lines: Table,
    pub transactions: Table,
    pub next_page_id: i64,
    pub next_transaction_nr: i64,
}

impl Administration {
    pub fn new(id: &str, code: &str, description: &str, fiscal_year: i32) -> Self {
        Self {
            id: id.to_owned(),
            code: code.to_owned(),
            description: description.to_owned(),
            fiscal_year,
            contacts: Table::new(&catalog::CONTACT),
            articles: Table::new(&catalog::ARTICLE),
            article_groups: Table::new(&catalog::ART_GRP),
            vat_codes: Table::new(&catalog::VAT),
            ledger: Table::new(&catalog::LEDGER),
            journals: Table::new(&catalog::DAILY),
            cost_centres: Table::new(&catalog::COST),
            pages: Table::new(&catalog::DJ_PAGE),
            lines: Table::new(&catalog::DJ_LINE),
            transactions: Table::new(&catalog::TRANSACT),
            next_page_id: 1,
            next_transaction_nr: 1,
        }
    }

    /// The table behind a business object's main table name.
    pub fn table(&self, def: &TableDef) -> &Table {
        match def.name {
            "CONTACT" => &self.contacts,
            "ARTICLE" => &self.articles,
            "ART_GRP" => &self.article_groups,
            "VAT" => &self.vat_codes,
            "LEDGER" => &self.ledger,
            "DAILY" => &self.journals,
            "COST" => &self.cost_centres,
            "DJ_PAGE" => &self.pages,
            "DJ_LINE" => &self.lines,
            "TRANSACT" => &self.transactions,
            other => panic!("no table {other} in an administration"),
        }
    }

    /// Whether a date falls in this administration's fiscal year (calendar years, as for most installers).
    pub fn in_fiscal_year(&self, day: NaiveDate) -> bool {
        day.year() == self.fiscal_year
    }

    /// The next free page number of a journal.
    pub fn next_page_number(&self, journal: &str) -> i64 {
        let from = vec![Value::text(journal)];
        let to = vec![Value::text(journal), Value::Number(i64::MAX)];
        self.pages
            .rows
            .range(from..=to)
            .next_back()
            .map(|(key, _)| key[1].as_number() / NUMBER_SCALE)
            .unwrap_or(0)
            + 1
    }

    /// Detail rows of one header, via the ordered key (`DJ_PAGE_Id`, `LINE_NR`).
    pub fn lines_of_page(&self, page_id: i64) -> impl Iterator<Item = &Row> {
        let from = vec![Value::integer(page_id)];
        let to = vec![Value::integer(page_id + 1)];
        self.lines.rows.range(from..to).map(|(_, row)| row)
    }

    /// Books a validated sales invoice: the journal page (numbered if the client left `PAGE_NR` empty), its
    /// lines, and the debtor's open item in `TRANSACT`. Returns the page's key.
    pub fn book_sales_invoice(&mut self, mut page: Row, lines: Vec<Row>, changed: NaiveDateTime) -> Key {
        let page_table = &catalog::DJ_PAGE;
        let line_table = &catalog::DJ_LINE;
        let page_id = self.next_page_id;
        self.next_page_id += 1;
        let journal = page.field(page_table, "DJ_CODE").as_text().to_owned();
        if page.field(page_table, "PAGE_NR").as_number() == 0 {
            page.set(page_table, "PAGE_NR", Value::integer(self.next_page_number(&journal)));
        }
        if page.field(page_table, "CUR_CODE").is_empty() {
            page.set(page_table, "CUR_CODE", Value::text(catalog::BASE_CURRENCY));
        }
        page.set(page_table, "DJ_PAGE_Id", Value::integer(page_id));
        page.set(page_table, "CNG_DATE", Value::DateTime(Some(changed)));

        let mut total = 0;
        for (position, mut line) in lines.into_iter().enumerate() {
            total += line.field(line_table, "AMOUNT").as_number() + line.field(line_table, "VAT_AMT").as_number();
            line.set(line_table, "DJ_PAGE_Id", Value::integer(page_id));
            line.set(line_table, "LINE_NR", Value::integer(position as i64 + 1));
            line.set(line_table, "CNG_DATE", Value::DateTime(Some(changed)));
            self.lines.insert(line);
        }

        let transaction_table = &catalog::TRANSACT;
        let mut transaction = Row::empty(transaction_table);
        for name in ["DJ_CODE", "PAGE_NR", "TRN_DATE", "SUB_NR", "INV_NR"] {
            transaction.set(transaction_table, name, page.field(page_table, name).clone());
        }
        transaction.set(transaction_table, "TRN_NR", Value::integer(self.next_transaction_nr));
        transaction.set(transaction_table, "AMOUNT", Value::Number(total));
        transaction.set(
            transaction_table,
            "TRN_DESC",
            page.field(page_table, "HDR_DESC").clone(),
        );
        transaction.set(transaction_table, "CNG_DATE", Value::DateTime(Some(changed)));
        self.next_transaction_nr += 1;
        self.transactions.insert(transaction);

        let key = page.key(page_table);
        self.pages.insert(page);
        key
    }

    /// Books a received payment against an invoice: a negative open-item entry in the bank journal, so the
    /// sum per invoice in `TRANSACT` is what is still open.
    pub fn book_payment(&mut self, payment: Payment<'_>) {
        let table = &catalog::TRANSACT;
        let mut transaction = Row::empty(table);
        transaction.set(table, "TRN_NR", Value::integer(self.next_transaction_nr));
        transaction.set(table, "DJ_CODE", Value::text("BNK"));
        transaction.set(
            table,
            "PAGE_NR",
            Value::integer(i64::from(payment.date.iso_week().week())),
        );
        transaction.set(table, "TRN_DATE", Value::Date(Some(payment.date)));
        transaction.set(table, "SUB_NR", Value::text(payment.sub_nr));
        transaction.set(table, "INV_NR", Value::text(payment.inv_nr));
        transaction.set(table, "AMOUNT", Value::Number(-payment.amount));
        transaction.set(table, "CHK_ID", Value::text(payment.statement));
        transaction.set(
            table,
            "TRN_DESC",
            Value::text(format!("Betaling factuur {}", payment.inv_nr)),
        );
        transaction.set(table, "CNG_DATE", Value::DateTime(Some(payment.changed)));
        self.next_transaction_nr += 1;
        self.transactions.insert(transaction);
    }
}

/// A payment received on an invoice, for [`Administration::book_payment`].
pub struct Payment<'a> {
    pub sub_nr: &'a str,
    pub inv_nr: &'a str,
    /// Scaled amount received (positive).
    pub amount: i64,
    pub date: NaiveDate,
    /// The bank statement it arrived on, kept in `CHK_ID`.
    pub statement: &'a str,
    pub changed: NaiveDateTime,
}
