//! Every daily-data and settings resource Koppel stores, described once.
//!
//! Daily data references settings by code (a work order's work type, an hour line's hour type), never
//! by id, so settings sync can replace a sub's settings without touching its daily data.

use crate::record::{Access, Area, FieldKind, FieldSpec, JsonShape, Parent, ResourceSpec};
use crate::work_order::WorkOrderStatus;

const fn field(name: &'static str, kind: FieldKind) -> FieldSpec {
    FieldSpec {
        name,
        kind,
        required: false,
        access: Access::Write,
        description: "",
    }
}

impl FieldSpec {
    const fn required(mut self) -> FieldSpec {
        self.required = true;
        self
    }
    const fn create_only(mut self) -> FieldSpec {
        self.access = Access::CreateOnly;
        self
    }
    const fn system(mut self) -> FieldSpec {
        self.access = Access::System;
        self
    }
    const fn doc(mut self, description: &'static str) -> FieldSpec {
        self.description = description;
        self
    }
}

/// Single-line text: no control characters at all.
const fn text(name: &'static str, max_len: usize) -> FieldSpec {
    field(
        name,
        FieldKind::Text {
            max_len,
            multiline: false,
        },
    )
}

/// Text that may span lines: tabs and line breaks are allowed, other control characters are not.
const fn long_text(name: &'static str, max_len: usize) -> FieldSpec {
    field(
        name,
        FieldKind::Text {
            max_len,
            multiline: true,
        },
    )
}

const NAME: FieldSpec = text("name", 200).required();
const CODE: FieldSpec = field("code", FieldKind::Code)
    .required()
    .doc("Code, unique within the administration");
/// Settings codes never change: settings sync matches on them and other settings refer to them.
const SETTING_CODE: FieldSpec = field("code", FieldKind::Code)
    .required()
    .create_only()
    .doc("Stable code, unique within the administration");
const EMAIL: FieldSpec = text("email", 254);
const PHONE: FieldSpec = text("phone", 40);
const NOTES: FieldSpec = long_text("notes", 4000);
const RELATION: FieldSpec = field("relation_id", FieldKind::Ref("relations"));

pub const RELATIONS: ResourceSpec = ResourceSpec {
    slug: "relations",
    table: "relations",
    title: "Relation",
    area: Area::Daily,
    fields: &[
        CODE.doc("Relation (debtor) number, unique within the administration"),
        NAME,
        field("kind", FieldKind::Choice(&["company", "person"])).required(),
        EMAIL,
        PHONE,
        text("vat_number", 20),
        text("coc_number", 20).doc("Chamber of Commerce (KvK) number"),
        field("blocked", FieldKind::Bool),
        NOTES,
    ],
    unique: Some("code"),
    parent: None,
    client_writable: true,
};

pub const ADDRESSES: ResourceSpec = ResourceSpec {
    slug: "addresses",
    table: "addresses",
    title: "Address",
    area: Area::Daily,
    fields: &[
        RELATION.required().create_only(),
        field("kind", FieldKind::Choice(&["visit", "postal", "invoice"])).required(),
        text("street", 200).required(),
        text("house_number", 20).required(),
        text("postal_code", 12).required(),
        text("city", 100).required(),
        text("country", 2)
            .required()
            .doc("ISO 3166-1 alpha-2 country code, e.g. NL"),
    ],
    unique: None,
    parent: Some(Parent {
        field: "relation_id",
        resource: "relations",
    }),
    client_writable: true,
};

pub const CONTACT_PERSONS: ResourceSpec = ResourceSpec {
    slug: "contact-persons",
    table: "contact_persons",
    title: "Contact person",
    area: Area::Daily,
    fields: &[RELATION.required().create_only(), NAME, EMAIL, PHONE, text("role", 100)],
    unique: None,
    parent: Some(Parent {
        field: "relation_id",
        resource: "relations",
    }),
    client_writable: true,
};

pub const OBJECTS: ResourceSpec = ResourceSpec {
    slug: "objects",
    table: "objects",
    title: "Object (installation)",
    area: Area::Daily,
    fields: &[
        CODE,
        RELATION.required(),
        NAME,
        text("brand", 100),
        text("model", 100),
        text("serial_number", 100),
        field("installed_on", FieldKind::Date),
        field("address_id", FieldKind::Ref("addresses")),
    ],
    unique: Some("code"),
    parent: None,
    client_writable: true,
};

pub const PROJECTS: ResourceSpec = ResourceSpec {
    slug: "projects",
    table: "projects",
    title: "Project",
    area: Area::Daily,
    fields: &[
        CODE,
        RELATION.required(),
        NAME,
        field("status", FieldKind::Choice(&["open", "closed"])).required(),
        field("start_date", FieldKind::Date),
        field("end_date", FieldKind::Date),
    ],
    unique: Some("code"),
    parent: None,
    client_writable: true,
};

pub const EMPLOYEES: ResourceSpec = ResourceSpec {
    slug: "employees",
    table: "employees",
    title: "Employee",
    area: Area::Daily,
    fields: &[CODE, NAME, EMAIL, PHONE, field("active", FieldKind::Bool).required()],
    unique: Some("code"),
    parent: None,
    client_writable: true,
};

pub const MATERIALS: ResourceSpec = ResourceSpec {
    slug: "materials",
    table: "materials",
    title: "Material",
    area: Area::Daily,
    fields: &[
        CODE.doc("Article code, unique within the administration"),
        text("description", 200).required(),
        text("unit", 20).required().doc("Unit of measure, e.g. stuk, m, kg"),
        field("price", FieldKind::Money)
            .required()
            .doc("Sales price per unit, excluding VAT"),
        field("cost_price", FieldKind::Money),
        field("vat_rate", FieldKind::Vat).required(),
        text("article_group", 40),
        field("blocked", FieldKind::Bool),
    ],
    unique: Some("code"),
    parent: None,
    client_writable: true,
};

pub const WORK_ORDERS: ResourceSpec = ResourceSpec {
    slug: "work-orders",
    table: "work_orders",
    title: "Work order",
    area: Area::Daily,
    fields: &[
        field("number", FieldKind::Code)
            .required()
            .create_only()
            .doc("Work-order number, unique within the administration"),
        RELATION.required(),
        field("object_id", FieldKind::Ref("objects")),
        field("project_id", FieldKind::Ref("projects")),
        field("employee_id", FieldKind::Ref("employees")).doc("The technician it is planned for"),
        field("work_type_code", FieldKind::CodeRef("work-types")),
        long_text("description", 4000).required(),
        field("status", FieldKind::Choice(WorkOrderStatus::CODES))
            .required()
            .doc("Klaargezet → Opgehaald → Compleet → Afgehandeld, or Exportfout; only valid transitions are accepted"),
        field("planned_date", FieldKind::Date),
        field("completed_at", FieldKind::Timestamp)
            .system()
            .doc("When the work order became Compleet"),
        long_text("export_error", 2000)
            .system()
            .doc("Why the last export failed (status Exportfout)"),
    ],
    unique: Some("number"),
    parent: None,
    client_writable: true,
};

pub const WORK_ORDER_HOURS: ResourceSpec = ResourceSpec {
    slug: "work-order-hours",
    table: "work_order_hours",
    title: "Work-order hour line",
    area: Area::Daily,
    fields: &[
        field("work_order_id", FieldKind::Ref("work-orders"))
            .required()
            .create_only(),
        field("employee_id", FieldKind::Ref("employees")),
        field("hour_type_code", FieldKind::CodeRef("hour-types")).required(),
        field("work_date", FieldKind::Date).required(),
        field("hours", FieldKind::Quantity).required(),
        field("rate", FieldKind::Money)
            .required()
            .doc("Hourly rate excluding VAT"),
        field("vat_rate", FieldKind::Vat).required(),
        text("description", 500),
    ],
    unique: None,
    parent: Some(Parent {
        field: "work_order_id",
        resource: "work-orders",
    }),
    client_writable: true,
};

pub const WORK_ORDER_MATERIALS: ResourceSpec = ResourceSpec {
    slug: "work-order-materials",
    table: "work_order_materials",
    title: "Work-order material line",
    area: Area::Daily,
    fields: &[
        field("work_order_id", FieldKind::Ref("work-orders"))
            .required()
            .create_only(),
        field("material_id", FieldKind::Ref("materials")).required(),
        field("quantity", FieldKind::Quantity).required(),
        field("price", FieldKind::Money)
            .required()
            .doc("Price per unit excluding VAT"),
        field("vat_rate", FieldKind::Vat).required(),
        text("description", 500),
    ],
    unique: None,
    parent: Some(Parent {
        field: "work_order_id",
        resource: "work-orders",
    }),
    client_writable: true,
};

pub const INVOICES: ResourceSpec = ResourceSpec {
    slug: "invoices",
    table: "invoices",
    title: "Invoice",
    area: Area::Daily,
    fields: &[
        field("number", FieldKind::Code).system().required(),
        RELATION.system().required(),
        field("work_order_id", FieldKind::Ref("work-orders")).system(),
        field("invoice_date", FieldKind::Date).system().required(),
        field("due_date", FieldKind::Date).required(),
        text("description", 500),
        field("total_excl_vat", FieldKind::Money).system().required(),
        field("total_vat", FieldKind::Money).system().required(),
        field("total_incl_vat", FieldKind::Money).system().required(),
        field("paid_amount", FieldKind::Money).system().required(),
        field("payment_status", FieldKind::Choice(&["open", "partly_paid", "paid"]))
            .system()
            .required(),
    ],
    unique: Some("number"),
    parent: None,
    client_writable: true,
};

pub const INVOICE_LINES: ResourceSpec = ResourceSpec {
    slug: "invoice-lines",
    table: "invoice_lines",
    title: "Invoice line",
    area: Area::Daily,
    fields: &[
        field("invoice_id", FieldKind::Ref("invoices")).required().system(),
        field("line_no", FieldKind::Integer { min: 1, max: 100_000 })
            .required()
            .system(),
        field("kind", FieldKind::Choice(&["hours", "material", "other"]))
            .required()
            .system(),
        text("description", 500).required().system(),
        field("quantity", FieldKind::Quantity).required().system(),
        field("unit_price", FieldKind::Money).required().system(),
        field("vat_rate", FieldKind::Vat).required().system(),
        field("amount_excl_vat", FieldKind::Money).required().system(),
        field("vat_amount", FieldKind::Money).required().system(),
    ],
    unique: None,
    parent: Some(Parent {
        field: "invoice_id",
        resource: "invoices",
    }),
    client_writable: false,
};

pub const QUOTES: ResourceSpec = ResourceSpec {
    slug: "quotes",
    table: "quotes",
    title: "Quote",
    area: Area::Daily,
    fields: &[
        field("number", FieldKind::Code).required().create_only(),
        RELATION.required(),
        field("project_id", FieldKind::Ref("projects")),
        long_text("description", 4000).required(),
        field("quote_date", FieldKind::Date).required(),
        field("valid_until", FieldKind::Date),
        field("status", FieldKind::Choice(&["draft", "sent", "accepted", "rejected"])).required(),
        field("total_excl_vat", FieldKind::Money).required(),
        field("vat_rate", FieldKind::Vat).required(),
    ],
    unique: Some("number"),
    parent: None,
    client_writable: true,
};

pub const PAYMENTS: ResourceSpec = ResourceSpec {
    slug: "payments",
    table: "payments",
    title: "Payment transaction",
    area: Area::Daily,
    fields: &[
        field("invoice_id", FieldKind::Ref("invoices")).required().create_only(),
        field("amount", FieldKind::Money)
            .required()
            .doc("Amount received; negative for a refund"),
        field("paid_on", FieldKind::Date).required(),
        field("method", FieldKind::Choice(&["bank", "pin", "cash", "ideal", "other"])).required(),
        text("reference", 200),
    ],
    unique: None,
    parent: Some(Parent {
        field: "invoice_id",
        resource: "invoices",
    }),
    client_writable: true,
};

// ---- settings -------------------------------------------------------------------------------

pub const FORMS: ResourceSpec = ResourceSpec {
    slug: "forms",
    table: "forms",
    title: "Form",
    area: Area::Settings,
    fields: &[
        SETTING_CODE,
        NAME,
        field("fields", FieldKind::Json(JsonShape::FormFields)).required(),
    ],
    unique: Some("code"),
    parent: None,
    client_writable: true,
};

pub const WORK_TYPES: ResourceSpec = ResourceSpec {
    slug: "work-types",
    table: "work_types",
    title: "Work type",
    area: Area::Settings,
    fields: &[SETTING_CODE, NAME, long_text("description", 1000)],
    unique: Some("code"),
    parent: None,
    client_writable: true,
};

pub const WORKFLOWS: ResourceSpec = ResourceSpec {
    slug: "workflows",
    table: "workflows",
    title: "Workflow",
    area: Area::Settings,
    fields: &[
        SETTING_CODE,
        NAME,
        field("steps", FieldKind::Json(JsonShape::WorkflowSteps))
            .required()
            .doc("Ordered steps; a step may name a form by code"),
        field("work_type_codes", FieldKind::Json(JsonShape::CodeList("work-types")))
            .required()
            .doc("Codes of the work types this workflow is used for"),
    ],
    unique: Some("code"),
    parent: None,
    client_writable: true,
};

pub const TEMPLATES: ResourceSpec = ResourceSpec {
    slug: "templates",
    table: "templates",
    title: "Template",
    area: Area::Settings,
    fields: &[
        SETTING_CODE,
        NAME,
        field("kind", FieldKind::Choice(&["work_order", "invoice", "quote", "email"])).required(),
        long_text("header", 20_000),
        long_text("body", 100_000).required(),
        long_text("footer", 20_000),
        field("options", FieldKind::Json(JsonShape::Options)).required(),
    ],
    unique: Some("code"),
    parent: None,
    client_writable: true,
};

pub const WORK_STATUSES: ResourceSpec = ResourceSpec {
    slug: "work-statuses",
    table: "work_statuses",
    title: "Work status",
    area: Area::Settings,
    fields: &[
        SETTING_CODE,
        NAME,
        text("color", 7).doc("Colour in the planning board, e.g. #1E88E5"),
        field("is_final", FieldKind::Bool).required(),
    ],
    unique: Some("code"),
    parent: None,
    client_writable: true,
};

pub const HOUR_TYPES: ResourceSpec = ResourceSpec {
    slug: "hour-types",
    table: "hour_types",
    title: "Hour type",
    area: Area::Settings,
    fields: &[
        SETTING_CODE,
        text("description", 200).required(),
        field("rate", FieldKind::Money)
            .required()
            .doc("Default hourly rate excluding VAT"),
        field("vat_rate", FieldKind::Vat).required(),
        field("billable", FieldKind::Bool).required(),
    ],
    unique: Some("code"),
    parent: None,
    client_writable: true,
};

pub const FREE_FIELDS: ResourceSpec = ResourceSpec {
    slug: "free-field-definitions",
    table: "free_field_definitions",
    title: "Free-field definition",
    area: Area::Settings,
    fields: &[
        SETTING_CODE,
        text("label", 200).required(),
        field(
            "entity",
            FieldKind::Choice(&["relation", "object", "work_order", "project"]),
        )
        .required(),
        field(
            "field_type",
            FieldKind::Choice(&["text", "number", "date", "checkbox", "choice"]),
        )
        .required(),
        field("choices", FieldKind::Json(JsonShape::Choices)),
    ],
    unique: Some("code"),
    parent: None,
    client_writable: true,
};

pub const APP_POLICIES: ResourceSpec = ResourceSpec {
    slug: "app-policies",
    table: "app_policies",
    title: "App policy",
    area: Area::Settings,
    fields: &[
        SETTING_CODE,
        NAME,
        field("enabled", FieldKind::Bool).required(),
        long_text("description", 1000),
    ],
    unique: Some("code"),
    parent: None,
    client_writable: true,
};

/// Every resource, parents before children (the order to create in; reverse it to delete).
pub const ALL: &[&ResourceSpec] = &[
    &FORMS,
    &WORK_TYPES,
    &WORKFLOWS,
    &TEMPLATES,
    &WORK_STATUSES,
    &HOUR_TYPES,
    &FREE_FIELDS,
    &APP_POLICIES,
    &RELATIONS,
    &ADDRESSES,
    &CONTACT_PERSONS,
    &OBJECTS,
    &PROJECTS,
    &EMPLOYEES,
    &MATERIALS,
    &WORK_ORDERS,
    &WORK_ORDER_HOURS,
    &WORK_ORDER_MATERIALS,
    &INVOICES,
    &INVOICE_LINES,
    &QUOTES,
    &PAYMENTS,
];

pub fn by_slug(slug: &str) -> Option<&'static ResourceSpec> {
    ALL.iter().copied().find(|spec| spec.slug == slug)
}

/// Resources whose `parent` is the given resource.
pub fn children_of(slug: &str) -> impl Iterator<Item = &'static ResourceSpec> + '_ {
    ALL.iter()
        .copied()
        .filter(move |spec| spec.parent.is_some_and(|p| p.resource == slug))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::FieldKind;

    #[test]
    fn references_point_at_known_resources_declared_earlier() {
        for (position, spec) in ALL.iter().enumerate() {
            for field in spec.fields {
                if let FieldKind::Ref(target) | FieldKind::CodeRef(target) = field.kind {
                    let target_position = ALL.iter().position(|s| s.slug == target);
                    assert!(
                        target_position.is_some_and(|t| t < position),
                        "{}.{} refers to {target}, which must be declared before it",
                        spec.slug,
                        field.name
                    );
                }
            }
            if let Some(unique) = spec.unique {
                assert!(spec.field(unique).is_some(), "{} unique field {unique}", spec.slug);
            }
        }
    }

    #[test]
    fn settings_never_refer_to_daily_data() {
        for spec in ALL.iter().filter(|s| s.area == Area::Settings) {
            for field in spec.fields {
                if let FieldKind::Ref(target) | FieldKind::CodeRef(target) = field.kind {
                    assert_eq!(
                        by_slug(target).unwrap().area,
                        Area::Settings,
                        "{}.{}",
                        spec.slug,
                        field.name
                    );
                }
            }
        }
    }
}
