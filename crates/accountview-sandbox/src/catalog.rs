//! The table definitions and business objects of accountview.md: field names, types, widths, keys, and which
//! business objects can be read or written.
//!
//! Everything the sandbox validates against lives here, so a contract change is a change in one file.

use crate::value::FieldType;

/// One column of an AccountView table.
#[derive(Clone, Copy, Debug)]
pub struct FieldDef {
    pub name: &'static str,
    pub field_type: FieldType,
    /// For `C`: maximum characters. For `N`: maximum digits before the decimal point.
    pub width: u8,
    /// For `N`: maximum decimals.
    pub decimals: u8,
    /// Whether a POST may set this field; read-only fields are maintained by AccountView itself.
    pub writable: bool,
    /// Whether a POST must fill this field in.
    pub mandatory: bool,
}

const fn character(name: &'static str, width: u8) -> FieldDef {
    FieldDef {
        name,
        field_type: FieldType::C,
        width,
        decimals: 0,
        writable: true,
        mandatory: false,
    }
}

const fn numeric(name: &'static str, width: u8, decimals: u8) -> FieldDef {
    FieldDef {
        name,
        field_type: FieldType::N,
        width,
        decimals,
        writable: true,
        mandatory: false,
    }
}

const fn date(name: &'static str) -> FieldDef {
    FieldDef {
        name,
        field_type: FieldType::D,
        width: 10,
        decimals: 0,
        writable: true,
        mandatory: false,
    }
}

const fn logical(name: &'static str) -> FieldDef {
    FieldDef {
        name,
        field_type: FieldType::L,
        width: 1,
        decimals: 0,
        writable: true,
        mandatory: false,
    }
}

/// `CNG_DATE`: every table has it, AccountView sets it on every change.
const CHANGED: FieldDef = read_only(FieldDef {
    name: "CNG_DATE",
    field_type: FieldType::T,
    width: 19,
    decimals: 0,
    writable: true,
    mandatory: false,
});

const fn read_only(field: FieldDef) -> FieldDef {
    FieldDef {
        writable: false,
        ..field
    }
}

const fn required(field: FieldDef) -> FieldDef {
    FieldDef {
        mandatory: true,
        ..field
    }
}

/// An AccountView table: its name, key fields (in key order) and columns.
#[derive(Debug)]
pub struct TableDef {
    pub name: &'static str,
    pub key: &'static [&'static str],
    pub fields: &'static [FieldDef],
    /// For detail tables: the field that points at the header row (`<HEADER>_Id`).
    pub header_link: Option<&'static str>,
}

impl TableDef {
    /// Position of a field; names are case-insensitive as in AccountView.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.fields
            .iter()
            .position(|field| field.name.eq_ignore_ascii_case(name.trim()))
    }

    /// Position of a field the sandbox itself names; a miss is a bug in this crate, caught by the tests.
    pub fn expect_index(&self, name: &str) -> usize {
        self.index(name)
            .unwrap_or_else(|| panic!("table {} has no field {name}", self.name))
    }

    pub fn key_indexes(&self) -> Vec<usize> {
        self.key.iter().map(|name| self.expect_index(name)).collect()
    }
}

pub static CONTACT: TableDef = TableDef {
    name: "CONTACT",
    key: &["SUB_NR"],
    header_link: None,
    fields: &[
        required(character("SUB_NR", 10)),
        required(character("ACCT_NAME", 50)),
        character("ADDRESS1", 50),
        character("POST_CODE", 10),
        character("CITY", 50),
        character("CNT_CODE", 3),
        character("MAIL_BUS", 100),
        character("TEL_BUS", 20),
        character("VAT_NR", 20),
        character("COC_CODE", 20),
        character("VAT_CODE", 2),
        character("DISC_CODE", 3),
        logical("REC_BLK"),
        CHANGED,
    ],
};

pub static ARTICLE: TableDef = TableDef {
    name: "ARTICLE",
    key: &["ART_CODE"],
    header_link: None,
    fields: &[
        required(character("ART_CODE", 20)),
        required(character("ART_DESC1", 50)),
        character("AG_CODE", 10),
        numeric("SALES_PX", 10, 2),
        numeric("COST_PX", 10, 2),
        character("UNIT", 5),
        character("VAT_CODE", 2),
        logical("REC_BLK"),
        CHANGED,
    ],
};

pub static ART_GRP: TableDef = TableDef {
    name: "ART_GRP",
    key: &["AG_CODE"],
    header_link: None,
    fields: &[required(character("AG_CODE", 10)), character("AG_DESC", 40), CHANGED],
};

pub static VAT: TableDef = TableDef {
    name: "VAT",
    key: &["VAT_CODE"],
    header_link: None,
    fields: &[
        required(character("VAT_CODE", 2)),
        character("VAT_NAME", 40),
        numeric("VAT_PCT", 3, 2),
        logical("IS_REVERSE"),
        logical("REC_BLK"),
        CHANGED,
    ],
};

pub static LEDGER: TableDef = TableDef {
    name: "LEDGER",
    key: &["ACCT_NR"],
    header_link: None,
    fields: &[
        required(character("ACCT_NR", 10)),
        character("ACCT_NAME", 40),
        logical("STAT_SELL"),
        character("VAT_CODE", 2),
        logical("REC_BLK"),
        CHANGED,
    ],
};

pub static DAILY: TableDef = TableDef {
    name: "DAILY",
    key: &["DJ_CODE"],
    header_link: None,
    fields: &[
        required(character("DJ_CODE", 3)),
        character("DJ_NAME", 40),
        character("DJ_TYPE", 1),
        logical("REC_BLK"),
        CHANGED,
    ],
};

pub static COST: TableDef = TableDef {
    name: "COST",
    key: &["COST_CODE"],
    header_link: None,
    fields: &[
        required(character("COST_CODE", 10)),
        character("COST_DESC", 40),
        logical("REC_BLK"),
        CHANGED,
    ],
};

pub static DJ_PAGE: TableDef = TableDef {
    name: "DJ_PAGE",
    key: &["DJ_CODE", "PAGE_NR"],
    header_link: None,
    fields: &[
        read_only(numeric("DJ_PAGE_Id", 9, 0)),
        required(character("DJ_CODE", 3)),
        numeric("PAGE_NR", 9, 0),
        required(character("SUB_NR", 10)),
        required(character("INV_NR", 12)),
        required(date("TRN_DATE")),
        character("HDR_DESC", 40),
        character("CUR_CODE", 3),
        CHANGED,
    ],
};

pub static DJ_LINE: TableDef = TableDef {
    name: "DJ_LINE",
    key: &["DJ_PAGE_Id", "LINE_NR"],
    header_link: Some("DJ_PAGE_Id"),
    fields: &[
        read_only(numeric("DJ_PAGE_Id", 9, 0)),
        read_only(numeric("LINE_NR", 5, 0)),
        required(character("ACCT_NR", 10)),
        required(numeric("AMOUNT", 12, 2)),
        numeric("BASE_AMT", 12, 2),
        character("VAT_CODE", 2),
        numeric("VAT_AMT", 12, 2),
        character("TRN_DESC", 40),
        character("COST_CODE", 10),
        CHANGED,
    ],
};

pub static TRANSACT: TableDef = TableDef {
    name: "TRANSACT",
    key: &["TRN_NR"],
    header_link: None,
    fields: &[
        numeric("TRN_NR", 9, 0),
        character("DJ_CODE", 3),
        numeric("PAGE_NR", 9, 0),
        date("TRN_DATE"),
        character("SUB_NR", 10),
        character("INV_NR", 12),
        numeric("AMOUNT", 12, 2),
        character("CHK_ID", 20),
        character("TRN_DESC", 40),
        CHANGED,
    ],
};

/// Every table the sandbox stores, for persistence and lookups by name.
pub static TABLES: [&TableDef; 10] = [
    &CONTACT, &ARTICLE, &ART_GRP, &VAT, &LEDGER, &DAILY, &COST, &DJ_PAGE, &DJ_LINE, &TRANSACT,
];

/// A business object: what the API calls a table (plus its detail table) and what can be done with it.
#[derive(Debug)]
pub struct BusinessObjectDef {
    pub code: &'static str,
    pub description: &'static str,
    pub table: &'static TableDef,
    pub detail: Option<&'static TableDef>,
    /// Readable with `GET AccountViewData`.
    pub readable: bool,
    /// Writable with `POST AccountViewData`.
    pub insertable: bool,
}

pub static BUSINESS_OBJECTS: [BusinessObjectDef; 10] = [
    BusinessObjectDef {
        code: "AR1",
        description: "Debiteuren",
        table: &CONTACT,
        detail: None,
        readable: true,
        insertable: true,
    },
    BusinessObjectDef {
        code: "AK1",
        description: "Artikelen",
        table: &ARTICLE,
        detail: None,
        readable: true,
        insertable: false,
    },
    BusinessObjectDef {
        code: "AG1",
        description: "Artikelgroepen",
        table: &ART_GRP,
        detail: None,
        readable: true,
        insertable: false,
    },
    BusinessObjectDef {
        code: "VA1",
        description: "Btw-codes",
        table: &VAT,
        detail: None,
        readable: true,
        insertable: false,
    },
    BusinessObjectDef {
        code: "GL1",
        description: "Grootboekrekeningen",
        table: &LEDGER,
        detail: None,
        readable: true,
        insertable: false,
    },
    BusinessObjectDef {
        code: "DJ1",
        description: "Dagboeken",
        table: &DAILY,
        detail: None,
        readable: true,
        insertable: false,
    },
    BusinessObjectDef {
        code: "CC1",
        description: "Kostenplaatsen",
        table: &COST,
        detail: None,
        readable: true,
        insertable: false,
    },
    BusinessObjectDef {
        code: "DJ2",
        description: "Boeken in dagboeken (verkoopfacturen)",
        table: &DJ_PAGE,
        detail: Some(&DJ_LINE),
        readable: false,
        insertable: true,
    },
    BusinessObjectDef {
        code: "DJ2P",
        description: "Dagboekbladzijden",
        table: &DJ_PAGE,
        detail: Some(&DJ_LINE),
        readable: true,
        insertable: false,
    },
    BusinessObjectDef {
        code: "GJ1",
        description: "Journaalposten",
        table: &TRANSACT,
        detail: None,
        readable: true,
        insertable: false,
    },
];

/// Looks a business object up by code, case-insensitively.
pub fn business_object(code: &str) -> Option<&'static BusinessObjectDef> {
    BUSINESS_OBJECTS
        .iter()
        .find(|object| object.code.eq_ignore_ascii_case(code.trim()))
}

/// Looks a table up by its name (used when loading a state file).
pub fn table(name: &str) -> Option<&'static TableDef> {
    TABLES.iter().copied().find(|table| table.name == name)
}

/// `DJ_TYPE` of a sales journal; only those take sales invoices.
pub const SALES_JOURNAL_TYPE: &str = "V";
/// The administrations' base currency; the sandbox does not book foreign currency.
pub const BASE_CURRENCY: &str = "EUR";
/// The scopes of accountview.md.
pub const SCOPE_READ: &str = "readaccountviewdata";
pub const SCOPE_UPDATE: &str = "updateaccountviewdata";
