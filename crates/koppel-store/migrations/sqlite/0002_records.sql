-- Record tables, generated from koppel-domain's resource specs (koppel_store::schema).

CREATE TABLE forms (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    administration_id BIGINT NOT NULL REFERENCES administrations(id),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    fields TEXT NOT NULL,
    created_at DATETIME NOT NULL,
    modified_at DATETIME NOT NULL,
    change_seq BIGINT NOT NULL
);
CREATE INDEX forms_by_administration ON forms (administration_id, id);
CREATE INDEX forms_changes ON forms (administration_id, change_seq);
CREATE INDEX forms_modified ON forms (administration_id, modified_at);
CREATE UNIQUE INDEX forms_unique_code ON forms (administration_id, code);

CREATE TABLE work_types (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    administration_id BIGINT NOT NULL REFERENCES administrations(id),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    created_at DATETIME NOT NULL,
    modified_at DATETIME NOT NULL,
    change_seq BIGINT NOT NULL
);
CREATE INDEX work_types_by_administration ON work_types (administration_id, id);
CREATE INDEX work_types_changes ON work_types (administration_id, change_seq);
CREATE INDEX work_types_modified ON work_types (administration_id, modified_at);
CREATE UNIQUE INDEX work_types_unique_code ON work_types (administration_id, code);

CREATE TABLE workflows (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    administration_id BIGINT NOT NULL REFERENCES administrations(id),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    steps TEXT NOT NULL,
    work_type_codes TEXT NOT NULL,
    created_at DATETIME NOT NULL,
    modified_at DATETIME NOT NULL,
    change_seq BIGINT NOT NULL
);
CREATE INDEX workflows_by_administration ON workflows (administration_id, id);
CREATE INDEX workflows_changes ON workflows (administration_id, change_seq);
CREATE INDEX workflows_modified ON workflows (administration_id, modified_at);
CREATE UNIQUE INDEX workflows_unique_code ON workflows (administration_id, code);

CREATE TABLE templates (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    administration_id BIGINT NOT NULL REFERENCES administrations(id),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    header TEXT,
    body TEXT NOT NULL,
    footer TEXT,
    options TEXT NOT NULL,
    created_at DATETIME NOT NULL,
    modified_at DATETIME NOT NULL,
    change_seq BIGINT NOT NULL
);
CREATE INDEX templates_by_administration ON templates (administration_id, id);
CREATE INDEX templates_changes ON templates (administration_id, change_seq);
CREATE INDEX templates_modified ON templates (administration_id, modified_at);
CREATE UNIQUE INDEX templates_unique_code ON templates (administration_id, code);
CREATE INDEX templates_kind ON templates (administration_id, kind);

CREATE TABLE work_statuses (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    administration_id BIGINT NOT NULL REFERENCES administrations(id),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    color TEXT,
    is_final BOOLEAN NOT NULL,
    created_at DATETIME NOT NULL,
    modified_at DATETIME NOT NULL,
    change_seq BIGINT NOT NULL
);
CREATE INDEX work_statuses_by_administration ON work_statuses (administration_id, id);
CREATE INDEX work_statuses_changes ON work_statuses (administration_id, change_seq);
CREATE INDEX work_statuses_modified ON work_statuses (administration_id, modified_at);
CREATE UNIQUE INDEX work_statuses_unique_code ON work_statuses (administration_id, code);

CREATE TABLE hour_types (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    administration_id BIGINT NOT NULL REFERENCES administrations(id),
    code TEXT NOT NULL,
    description TEXT NOT NULL,
    rate BIGINT NOT NULL,
    vat_rate TEXT NOT NULL,
    billable BOOLEAN NOT NULL,
    created_at DATETIME NOT NULL,
    modified_at DATETIME NOT NULL,
    change_seq BIGINT NOT NULL
);
CREATE INDEX hour_types_by_administration ON hour_types (administration_id, id);
CREATE INDEX hour_types_changes ON hour_types (administration_id, change_seq);
CREATE INDEX hour_types_modified ON hour_types (administration_id, modified_at);
CREATE UNIQUE INDEX hour_types_unique_code ON hour_types (administration_id, code);

CREATE TABLE free_field_definitions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    administration_id BIGINT NOT NULL REFERENCES administrations(id),
    code TEXT NOT NULL,
    label TEXT NOT NULL,
    entity TEXT NOT NULL,
    field_type TEXT NOT NULL,
    choices TEXT,
    created_at DATETIME NOT NULL,
    modified_at DATETIME NOT NULL,
    change_seq BIGINT NOT NULL
);
CREATE INDEX free_field_definitions_by_administration ON free_field_definitions (administration_id, id);
CREATE INDEX free_field_definitions_changes ON free_field_definitions (administration_id, change_seq);
CREATE INDEX free_field_definitions_modified ON free_field_definitions (administration_id, modified_at);
CREATE UNIQUE INDEX free_field_definitions_unique_code ON free_field_definitions (administration_id, code);
CREATE INDEX free_field_definitions_entity ON free_field_definitions (administration_id, entity);
CREATE INDEX free_field_definitions_field_type ON free_field_definitions (administration_id, field_type);

CREATE TABLE app_policies (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    administration_id BIGINT NOT NULL REFERENCES administrations(id),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    description TEXT,
    created_at DATETIME NOT NULL,
    modified_at DATETIME NOT NULL,
    change_seq BIGINT NOT NULL
);
CREATE INDEX app_policies_by_administration ON app_policies (administration_id, id);
CREATE INDEX app_policies_changes ON app_policies (administration_id, change_seq);
CREATE INDEX app_policies_modified ON app_policies (administration_id, modified_at);
CREATE UNIQUE INDEX app_policies_unique_code ON app_policies (administration_id, code);

CREATE TABLE relations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    administration_id BIGINT NOT NULL REFERENCES administrations(id),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    vat_number TEXT,
    coc_number TEXT,
    blocked BOOLEAN,
    notes TEXT,
    created_at DATETIME NOT NULL,
    modified_at DATETIME NOT NULL,
    change_seq BIGINT NOT NULL
);
CREATE INDEX relations_by_administration ON relations (administration_id, id);
CREATE INDEX relations_changes ON relations (administration_id, change_seq);
CREATE INDEX relations_modified ON relations (administration_id, modified_at);
CREATE UNIQUE INDEX relations_unique_code ON relations (administration_id, code);
CREATE INDEX relations_kind ON relations (administration_id, kind);

CREATE TABLE addresses (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    administration_id BIGINT NOT NULL REFERENCES administrations(id),
    relation_id BIGINT NOT NULL REFERENCES relations(id),
    kind TEXT NOT NULL,
    street TEXT NOT NULL,
    house_number TEXT NOT NULL,
    postal_code TEXT NOT NULL,
    city TEXT NOT NULL,
    country TEXT NOT NULL,
    created_at DATETIME NOT NULL,
    modified_at DATETIME NOT NULL,
    change_seq BIGINT NOT NULL
);
CREATE INDEX addresses_by_administration ON addresses (administration_id, id);
CREATE INDEX addresses_changes ON addresses (administration_id, change_seq);
CREATE INDEX addresses_modified ON addresses (administration_id, modified_at);
CREATE INDEX addresses_relation_id ON addresses (relation_id);
CREATE INDEX addresses_kind ON addresses (administration_id, kind);

CREATE TABLE contact_persons (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    administration_id BIGINT NOT NULL REFERENCES administrations(id),
    relation_id BIGINT NOT NULL REFERENCES relations(id),
    name TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    role TEXT,
    created_at DATETIME NOT NULL,
    modified_at DATETIME NOT NULL,
    change_seq BIGINT NOT NULL
);
CREATE INDEX contact_persons_by_administration ON contact_persons (administration_id, id);
CREATE INDEX contact_persons_changes ON contact_persons (administration_id, change_seq);
CREATE INDEX contact_persons_modified ON contact_persons (administration_id, modified_at);
CREATE INDEX contact_persons_relation_id ON contact_persons (relation_id);

CREATE TABLE objects (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    administration_id BIGINT NOT NULL REFERENCES administrations(id),
    code TEXT NOT NULL,
    relation_id BIGINT NOT NULL REFERENCES relations(id),
    name TEXT NOT NULL,
    brand TEXT,
    model TEXT,
    serial_number TEXT,
    installed_on DATE,
    address_id BIGINT REFERENCES addresses(id),
    created_at DATETIME NOT NULL,
    modified_at DATETIME NOT NULL,
    change_seq BIGINT NOT NULL
);
CREATE INDEX objects_by_administration ON objects (administration_id, id);
CREATE INDEX objects_changes ON objects (administration_id, change_seq);
CREATE INDEX objects_modified ON objects (administration_id, modified_at);
CREATE UNIQUE INDEX objects_unique_code ON objects (administration_id, code);
CREATE INDEX objects_relation_id ON objects (relation_id);
CREATE INDEX objects_address_id ON objects (address_id);

CREATE TABLE projects (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    administration_id BIGINT NOT NULL REFERENCES administrations(id),
    code TEXT NOT NULL,
    relation_id BIGINT NOT NULL REFERENCES relations(id),
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    start_date DATE,
    end_date DATE,
    created_at DATETIME NOT NULL,
    modified_at DATETIME NOT NULL,
    change_seq BIGINT NOT NULL
);
CREATE INDEX projects_by_administration ON projects (administration_id, id);
CREATE INDEX projects_changes ON projects (administration_id, change_seq);
CREATE INDEX projects_modified ON projects (administration_id, modified_at);
CREATE UNIQUE INDEX projects_unique_code ON projects (administration_id, code);
CREATE INDEX projects_relation_id ON projects (relation_id);
CREATE INDEX projects_status ON projects (administration_id, status);

CREATE TABLE employees (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    administration_id BIGINT NOT NULL REFERENCES administrations(id),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    active BOOLEAN NOT NULL,
    created_at DATETIME NOT NULL,
    modified_at DATETIME NOT NULL,
    change_seq BIGINT NOT NULL
);
CREATE INDEX employees_by_administration ON employees (administration_id, id);
CREATE INDEX employees_changes ON employees (administration_id, change_seq);
CREATE INDEX employees_modified ON employees (administration_id, modified_at);
CREATE UNIQUE INDEX employees_unique_code ON employees (administration_id, code);

CREATE TABLE materials (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    administration_id BIGINT NOT NULL REFERENCES administrations(id),
    code TEXT NOT NULL,
    description TEXT NOT NULL,
    unit TEXT NOT NULL,
    price BIGINT NOT NULL,
    cost_price BIGINT,
    vat_rate TEXT NOT NULL,
    article_group TEXT,
    blocked BOOLEAN,
    created_at DATETIME NOT NULL,
    modified_at DATETIME NOT NULL,
    change_seq BIGINT NOT NULL
);
CREATE INDEX materials_by_administration ON materials (administration_id, id);
CREATE INDEX materials_changes ON materials (administration_id, change_seq);
CREATE INDEX materials_modified ON materials (administration_id, modified_at);
CREATE UNIQUE INDEX materials_unique_code ON materials (administration_id, code);

CREATE TABLE work_orders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    administration_id BIGINT NOT NULL REFERENCES administrations(id),
    number TEXT NOT NULL,
    relation_id BIGINT NOT NULL REFERENCES relations(id),
    object_id BIGINT REFERENCES objects(id),
    project_id BIGINT REFERENCES projects(id),
    employee_id BIGINT REFERENCES employees(id),
    work_type_code TEXT,
    description TEXT NOT NULL,
    status TEXT NOT NULL,
    planned_date DATE,
    completed_at DATETIME,
    export_error TEXT,
    created_at DATETIME NOT NULL,
    modified_at DATETIME NOT NULL,
    change_seq BIGINT NOT NULL
);
CREATE INDEX work_orders_by_administration ON work_orders (administration_id, id);
CREATE INDEX work_orders_changes ON work_orders (administration_id, change_seq);
CREATE INDEX work_orders_modified ON work_orders (administration_id, modified_at);
CREATE UNIQUE INDEX work_orders_unique_number ON work_orders (administration_id, number);
CREATE INDEX work_orders_relation_id ON work_orders (relation_id);
CREATE INDEX work_orders_object_id ON work_orders (object_id);
CREATE INDEX work_orders_project_id ON work_orders (project_id);
CREATE INDEX work_orders_employee_id ON work_orders (employee_id);
CREATE INDEX work_orders_work_type_code ON work_orders (administration_id, work_type_code);
CREATE INDEX work_orders_status ON work_orders (administration_id, status);

CREATE TABLE work_order_hours (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    administration_id BIGINT NOT NULL REFERENCES administrations(id),
    work_order_id BIGINT NOT NULL REFERENCES work_orders(id),
    employee_id BIGINT REFERENCES employees(id),
    hour_type_code TEXT NOT NULL,
    work_date DATE NOT NULL,
    hours BIGINT NOT NULL,
    rate BIGINT NOT NULL,
    vat_rate TEXT NOT NULL,
    description TEXT,
    created_at DATETIME NOT NULL,
    modified_at DATETIME NOT NULL,
    change_seq BIGINT NOT NULL
);
CREATE INDEX work_order_hours_by_administration ON work_order_hours (administration_id, id);
CREATE INDEX work_order_hours_changes ON work_order_hours (administration_id, change_seq);
CREATE INDEX work_order_hours_modified ON work_order_hours (administration_id, modified_at);
CREATE INDEX work_order_hours_work_order_id ON work_order_hours (work_order_id);
CREATE INDEX work_order_hours_employee_id ON work_order_hours (employee_id);
CREATE INDEX work_order_hours_hour_type_code ON work_order_hours (administration_id, hour_type_code);

CREATE TABLE work_order_materials (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    administration_id BIGINT NOT NULL REFERENCES administrations(id),
    work_order_id BIGINT NOT NULL REFERENCES work_orders(id),
    material_id BIGINT NOT NULL REFERENCES materials(id),
    quantity BIGINT NOT NULL,
    price BIGINT NOT NULL,
    vat_rate TEXT NOT NULL,
    description TEXT,
    created_at DATETIME NOT NULL,
    modified_at DATETIME NOT NULL,
    change_seq BIGINT NOT NULL
);
CREATE INDEX work_order_materials_by_administration ON work_order_materials (administration_id, id);
CREATE INDEX work_order_materials_changes ON work_order_materials (administration_id, change_seq);
CREATE INDEX work_order_materials_modified ON work_order_materials (administration_id, modified_at);
CREATE INDEX work_order_materials_work_order_id ON work_order_materials (work_order_id);
CREATE INDEX work_order_materials_material_id ON work_order_materials (material_id);

CREATE TABLE invoices (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    administration_id BIGINT NOT NULL REFERENCES administrations(id),
    number TEXT NOT NULL,
    relation_id BIGINT NOT NULL REFERENCES relations(id),
    work_order_id BIGINT REFERENCES work_orders(id),
    invoice_date DATE NOT NULL,
    due_date DATE NOT NULL,
    description TEXT,
    total_excl_vat BIGINT NOT NULL,
    total_vat BIGINT NOT NULL,
    total_incl_vat BIGINT NOT NULL,
    paid_amount BIGINT NOT NULL,
    payment_status TEXT NOT NULL,
    created_at DATETIME NOT NULL,
    modified_at DATETIME NOT NULL,
    change_seq BIGINT NOT NULL
);
CREATE INDEX invoices_by_administration ON invoices (administration_id, id);
CREATE INDEX invoices_changes ON invoices (administration_id, change_seq);
CREATE INDEX invoices_modified ON invoices (administration_id, modified_at);
CREATE UNIQUE INDEX invoices_unique_number ON invoices (administration_id, number);
CREATE INDEX invoices_relation_id ON invoices (relation_id);
CREATE INDEX invoices_work_order_id ON invoices (work_order_id);
CREATE INDEX invoices_payment_status ON invoices (administration_id, payment_status);

CREATE TABLE invoice_lines (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    administration_id BIGINT NOT NULL REFERENCES administrations(id),
    invoice_id BIGINT NOT NULL REFERENCES invoices(id),
    line_no BIGINT NOT NULL,
    kind TEXT NOT NULL,
    description TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    unit_price BIGINT NOT NULL,
    vat_rate TEXT NOT NULL,
    amount_excl_vat BIGINT NOT NULL,
    vat_amount BIGINT NOT NULL,
    created_at DATETIME NOT NULL,
    modified_at DATETIME NOT NULL,
    change_seq BIGINT NOT NULL
);
CREATE INDEX invoice_lines_by_administration ON invoice_lines (administration_id, id);
CREATE INDEX invoice_lines_changes ON invoice_lines (administration_id, change_seq);
CREATE INDEX invoice_lines_modified ON invoice_lines (administration_id, modified_at);
CREATE INDEX invoice_lines_invoice_id ON invoice_lines (invoice_id);
CREATE INDEX invoice_lines_kind ON invoice_lines (administration_id, kind);

CREATE TABLE quotes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    administration_id BIGINT NOT NULL REFERENCES administrations(id),
    number TEXT NOT NULL,
    relation_id BIGINT NOT NULL REFERENCES relations(id),
    project_id BIGINT REFERENCES projects(id),
    description TEXT NOT NULL,
    quote_date DATE NOT NULL,
    valid_until DATE,
    status TEXT NOT NULL,
    total_excl_vat BIGINT NOT NULL,
    vat_rate TEXT NOT NULL,
    created_at DATETIME NOT NULL,
    modified_at DATETIME NOT NULL,
    change_seq BIGINT NOT NULL
);
CREATE INDEX quotes_by_administration ON quotes (administration_id, id);
CREATE INDEX quotes_changes ON quotes (administration_id, change_seq);
CREATE INDEX quotes_modified ON quotes (administration_id, modified_at);
CREATE UNIQUE INDEX quotes_unique_number ON quotes (administration_id, number);
CREATE INDEX quotes_relation_id ON quotes (relation_id);
CREATE INDEX quotes_project_id ON quotes (project_id);
CREATE INDEX quotes_status ON quotes (administration_id, status);

CREATE TABLE payments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    administration_id BIGINT NOT NULL REFERENCES administrations(id),
    invoice_id BIGINT NOT NULL REFERENCES invoices(id),
    amount BIGINT NOT NULL,
    paid_on DATE NOT NULL,
    method TEXT NOT NULL,
    reference TEXT,
    created_at DATETIME NOT NULL,
    modified_at DATETIME NOT NULL,
    change_seq BIGINT NOT NULL
);
CREATE INDEX payments_by_administration ON payments (administration_id, id);
CREATE INDEX payments_changes ON payments (administration_id, change_seq);
CREATE INDEX payments_modified ON payments (administration_id, modified_at);
CREATE INDEX payments_invoice_id ON payments (invoice_id);
CREATE INDEX payments_method ON payments (administration_id, method);
