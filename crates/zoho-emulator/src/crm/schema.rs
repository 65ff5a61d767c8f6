//! The CRM modules the emulator serves and the fields each one has.
//!
//! One static table drives validation of writes, the `/settings/fields` and
//! `/settings/modules` metadata, search and COQL column checks, so that what the API
//! accepts and what the metadata reports can never drift apart.

/// What kind of value a field holds (Zoho's `data_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Single-line text.
    Text,
    /// Multi-line text.
    TextArea,
    /// E-mail address.
    Email,
    /// Phone number.
    Phone,
    /// URL.
    Website,
    /// One value of a picklist.
    Picklist(&'static [&'static str]),
    /// Several values (e.g. Products `Tax`).
    MultiSelect,
    /// Whole number.
    Integer,
    /// Decimal number (Probability, Exchange_Rate).
    Double,
    /// Money.
    Currency,
    /// `yyyy-mm-dd`.
    Date,
    /// ISO date-time.
    DateTime,
    /// true / false.
    Boolean,
    /// `{name,id}` pointing at a record of this module.
    Lookup(&'static str),
    /// `{name,id}` pointing at a record of whichever module `$se_module` names.
    WhatLookup,
    /// A user (`Owner`, `Created_By`).
    Owner,
    /// Line items.
    Subform,
}

impl Kind {
    /// Zoho's `data_type` string.
    pub fn data_type(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::TextArea => "textarea",
            Kind::Email => "email",
            Kind::Phone => "phone",
            Kind::Website => "website",
            Kind::Picklist(_) => "picklist",
            Kind::MultiSelect => "multiselectpicklist",
            Kind::Integer => "integer",
            Kind::Double => "double",
            Kind::Currency => "currency",
            Kind::Date => "date",
            Kind::DateTime => "datetime",
            Kind::Boolean => "boolean",
            Kind::Lookup(_) | Kind::WhatLookup => "lookup",
            Kind::Owner => "ownerlookup",
            Kind::Subform => "subform",
        }
    }

    /// Zoho's `json_type` string.
    pub fn json_type(self) -> &'static str {
        match self {
            Kind::Integer | Kind::Double | Kind::Currency => "double",
            Kind::Boolean => "boolean",
            Kind::Lookup(_) | Kind::WhatLookup | Kind::Owner => "jsonobject",
            Kind::MultiSelect | Kind::Subform => "jsonarray",
            _ => "string",
        }
    }

    /// Text-like fields, where search `equals` means "contains".
    pub fn is_text(self) -> bool {
        matches!(self, Kind::Text | Kind::TextArea | Kind::Email | Kind::Phone | Kind::Website)
    }
}

/// One field of a module.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// API name.
    pub api_name: &'static str,
    /// Label shown in the UI.
    pub label: &'static str,
    /// Value kind.
    pub kind: Kind,
    /// Set by the system; writes to it are ignored.
    pub read_only: bool,
    /// Created by the org admin (the `Books_*` link fields).
    pub custom: bool,
    /// "Do not allow duplicate values".
    pub unique: bool,
}

const fn f(api_name: &'static str, label: &'static str, kind: Kind) -> Field {
    Field { api_name, label, kind, read_only: false, custom: false, unique: false }
}
const fn ro(api_name: &'static str, label: &'static str, kind: Kind) -> Field {
    Field { api_name, label, kind, read_only: true, custom: false, unique: false }
}
const fn custom(api_name: &'static str, label: &'static str) -> Field {
    Field { api_name, label, kind: Kind::Text, read_only: false, custom: true, unique: true }
}
const fn uniq(api_name: &'static str, label: &'static str, kind: Kind) -> Field {
    Field { api_name, label, kind, read_only: false, custom: false, unique: true }
}

/// One module.
#[derive(Debug)]
pub struct Module {
    /// API name (`Deals`).
    pub api_name: &'static str,
    /// Singular label.
    pub singular: &'static str,
    /// Stable module id.
    pub id: &'static str,
    /// Field that names a record (shown as the lookup `name`).
    pub name_field: &'static str,
    /// Fields that must be present on insert.
    pub mandatory: &'static [&'static str],
    /// Fields checked for duplicates by upsert when no `duplicate_check_fields` is given.
    pub system_duplicate_check: &'static [&'static str],
    /// Every field.
    pub fields: &'static [Field],
}

impl Module {
    /// The field called `api_name` (exact match).
    pub fn field(&self, api_name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.api_name == api_name)
    }
}

/// Deal stages and the probability each implies.
pub const DEAL_STAGES: &[&str] = &[
    "Qualification",
    "Needs Analysis",
    "Value Proposition",
    "Identify Decision Makers",
    "Perception Analysis",
    "Proposal/Price Quote",
    "Negotiation/Review",
    "Closed Won",
    "Closed Lost",
    "Closed-Lost to Competition",
];

/// Probability (percent) Zoho fills in for a stage.
pub fn stage_probability(stage: &str) -> Option<i64> {
    Some(match stage {
        "Qualification" => 10,
        "Needs Analysis" => 20,
        "Value Proposition" => 40,
        "Identify Decision Makers" => 60,
        "Perception Analysis" => 70,
        "Proposal/Price Quote" => 75,
        "Negotiation/Review" => 90,
        "Closed Won" => 100,
        "Closed Lost" | "Closed-Lost to Competition" => 0,
        _ => return None,
    })
}

/// Quote stages.
pub const QUOTE_STAGES: &[&str] = &["Draft", "Negotiation", "Delivered", "On Hold", "Confirmed", "Closed Won", "Closed Lost"];
/// Task statuses.
pub const TASK_STATUSES: &[&str] = &["Not Started", "Deferred", "In Progress", "Completed", "Waiting for input"];
/// Task priorities.
pub const TASK_PRIORITIES: &[&str] = &["Highest", "High", "Normal", "Low", "Lowest"];
const DEAL_TYPES: &[&str] = &["-None-", "Existing Business", "New Business"];
const LEAD_SOURCES: &[&str] = &["-None-", "Advertisement", "Cold Call", "Employee Referral", "Partner", "Web Download"];
const PRICING_MODELS: &[&str] = &["Flat", "Differential"];
const PRODUCT_CATEGORIES: &[&str] = &["-None-", "Hardware", "Software", "CRM Applications"];
const USAGE_UNITS: &[&str] = &["-None-", "Box", "Each", "Hours", "Pieces"];

const SYSTEM: [Field; 5] = [
    f("Owner", "Deal Owner", Kind::Owner),
    ro("Created_By", "Created By", Kind::Owner),
    ro("Modified_By", "Modified By", Kind::Owner),
    ro("Created_Time", "Created Time", Kind::DateTime),
    ro("Modified_Time", "Modified Time", Kind::DateTime),
];

macro_rules! with_system {
    ($($field:expr),* $(,)?) => {
        &[SYSTEM[0], SYSTEM[1], SYSTEM[2], SYSTEM[3], SYSTEM[4], $($field),*]
    };
}

/// Every module the emulator serves.
pub static MODULES: &[Module] = &[
    Module {
        api_name: "Deals",
        singular: "Deal",
        id: "5725767000000002181",
        name_field: "Deal_Name",
        mandatory: &["Deal_Name", "Stage"],
        system_duplicate_check: &["Deal_Name"],
        fields: with_system![
            f("Deal_Name", "Deal Name", Kind::Text),
            f("Stage", "Stage", Kind::Picklist(DEAL_STAGES)),
            f("Closing_Date", "Closing Date", Kind::Date),
            f("Amount", "Amount", Kind::Currency),
            f("Account_Name", "Account Name", Kind::Lookup("Accounts")),
            f("Contact_Name", "Contact Name", Kind::Lookup("Contacts")),
            f("Currency", "Currency", Kind::Picklist(&[])),
            f("Exchange_Rate", "Exchange Rate", Kind::Double),
            f("Probability", "Probability (%)", Kind::Integer),
            f("Expected_Revenue", "Expected Revenue", Kind::Currency),
            f("Type", "Type", Kind::Picklist(DEAL_TYPES)),
            f("Lead_Source", "Lead Source", Kind::Picklist(LEAD_SOURCES)),
            f("Next_Step", "Next Step", Kind::Text),
            f("Reason_For_Loss__s", "Reason For Loss", Kind::Picklist(&["-None-", "Price", "Competition", "Timing"])),
            f("Description", "Description", Kind::TextArea),
            custom("Books_Invoice_ID", "Books Invoice ID"),
            f("Payment_Status", "Payment Status", Kind::Picklist(&["-None-", "Unpaid", "Partially Paid", "Paid", "Overdue", "Refunded"])),
            f("Amount_Paid", "Amount Paid", Kind::Currency),
        ],
    },
    Module {
        api_name: "Accounts",
        singular: "Account",
        id: "5725767000000002177",
        name_field: "Account_Name",
        mandatory: &["Account_Name"],
        system_duplicate_check: &["Account_Name"],
        fields: with_system![
            uniq("Account_Name", "Account Name", Kind::Text),
            f("Account_Number", "Account Number", Kind::Text),
            f("Phone", "Phone", Kind::Phone),
            f("Website", "Website", Kind::Website),
            f("Parent_Account", "Parent Account", Kind::Lookup("Accounts")),
            f("Billing_Street", "Billing Street", Kind::Text),
            f("Billing_City", "Billing City", Kind::Text),
            f("Billing_State", "Billing State", Kind::Text),
            f("Billing_Code", "Billing Code", Kind::Text),
            f("Billing_Country", "Billing Country", Kind::Text),
            f("Shipping_Street", "Shipping Street", Kind::Text),
            f("Shipping_City", "Shipping City", Kind::Text),
            f("Shipping_State", "Shipping State", Kind::Text),
            f("Shipping_Code", "Shipping Code", Kind::Text),
            f("Shipping_Country", "Shipping Country", Kind::Text),
            f("Description", "Description", Kind::TextArea),
            custom("Books_Contact_ID", "Books Contact ID"),
        ],
    },
    Module {
        api_name: "Contacts",
        singular: "Contact",
        id: "5725767000000002179",
        name_field: "Full_Name",
        mandatory: &["Last_Name"],
        system_duplicate_check: &["Email"],
        fields: with_system![
            f("First_Name", "First Name", Kind::Text),
            f("Last_Name", "Last Name", Kind::Text),
            ro("Full_Name", "Full Name", Kind::Text),
            f("Email", "Email", Kind::Email),
            f("Secondary_Email", "Secondary Email", Kind::Email),
            f("Phone", "Phone", Kind::Phone),
            f("Mobile", "Mobile", Kind::Phone),
            f("Title", "Title", Kind::Text),
            f("Account_Name", "Account Name", Kind::Lookup("Accounts")),
            f("Mailing_Street", "Mailing Street", Kind::Text),
            f("Mailing_City", "Mailing City", Kind::Text),
            f("Mailing_State", "Mailing State", Kind::Text),
            f("Mailing_Zip", "Mailing Zip", Kind::Text),
            f("Mailing_Country", "Mailing Country", Kind::Text),
            f("Description", "Description", Kind::TextArea),
            custom("Books_Contact_Person_ID", "Books Contact Person ID"),
        ],
    },
    Module {
        api_name: "Products",
        singular: "Product",
        id: "5725767000000002185",
        name_field: "Product_Name",
        mandatory: &["Product_Name"],
        system_duplicate_check: &["Product_Code"],
        fields: with_system![
            f("Product_Name", "Product Name", Kind::Text),
            uniq("Product_Code", "Product Code", Kind::Text),
            f("Unit_Price", "Unit Price", Kind::Currency),
            f("Currency", "Currency", Kind::Picklist(&[])),
            f("Tax", "Tax", Kind::MultiSelect),
            f("Taxable", "Taxable", Kind::Boolean),
            f("Product_Active", "Product Active", Kind::Boolean),
            f("Product_Category", "Product Category", Kind::Picklist(PRODUCT_CATEGORIES)),
            f("Usage_Unit", "Usage Unit", Kind::Picklist(USAGE_UNITS)),
            f("Qty_in_Stock", "Qty in Stock", Kind::Double),
            f("Vendor_Name", "Vendor Name", Kind::Text),
            f("Description", "Description", Kind::TextArea),
            custom("Books_Item_ID", "Books Item ID"),
        ],
    },
    Module {
        api_name: "Quotes",
        singular: "Quote",
        id: "5725767000000002187",
        name_field: "Subject",
        mandatory: &["Subject"],
        system_duplicate_check: &[],
        fields: with_system![
            f("Subject", "Subject", Kind::Text),
            f("Quote_Stage", "Quote Stage", Kind::Picklist(QUOTE_STAGES)),
            ro("Quote_Number", "Quote Number", Kind::Text),
            f("Deal_Name", "Deal Name", Kind::Lookup("Deals")),
            f("Account_Name", "Account Name", Kind::Lookup("Accounts")),
            f("Contact_Name", "Contact Name", Kind::Lookup("Contacts")),
            f("Valid_Till", "Valid Till", Kind::Date),
            f("Currency", "Currency", Kind::Picklist(&[])),
            f("Exchange_Rate", "Exchange Rate", Kind::Double),
            f("Quoted_Items", "Quoted Items", Kind::Subform),
            ro("Sub_Total", "Sub Total", Kind::Currency),
            f("Discount", "Discount", Kind::Currency),
            ro("Tax", "Tax", Kind::Currency),
            f("Adjustment", "Adjustment", Kind::Currency),
            ro("Grand_Total", "Grand Total", Kind::Currency),
            f("Billing_Street", "Billing Street", Kind::Text),
            f("Billing_City", "Billing City", Kind::Text),
            f("Billing_State", "Billing State", Kind::Text),
            f("Billing_Code", "Billing Code", Kind::Text),
            f("Billing_Country", "Billing Country", Kind::Text),
            f("Shipping_Street", "Shipping Street", Kind::Text),
            f("Shipping_City", "Shipping City", Kind::Text),
            f("Shipping_State", "Shipping State", Kind::Text),
            f("Shipping_Code", "Shipping Code", Kind::Text),
            f("Shipping_Country", "Shipping Country", Kind::Text),
            f("Terms_and_Conditions", "Terms and Conditions", Kind::TextArea),
            f("Description", "Description", Kind::TextArea),
            custom("Books_Invoice_ID", "Books Invoice ID"),
        ],
    },
    Module {
        api_name: "Tasks",
        singular: "Task",
        id: "5725767000000002193",
        name_field: "Subject",
        mandatory: &["Subject"],
        system_duplicate_check: &[],
        fields: with_system![
            f("Subject", "Subject", Kind::Text),
            f("Due_Date", "Due Date", Kind::Date),
            f("Status", "Status", Kind::Picklist(TASK_STATUSES)),
            f("Priority", "Priority", Kind::Picklist(TASK_PRIORITIES)),
            f("What_Id", "Related To", Kind::WhatLookup),
            f("Who_Id", "Contact Name", Kind::Lookup("Contacts")),
            f("Send_Notification_Email", "Send Notification Email", Kind::Boolean),
            f("Description", "Description", Kind::TextArea),
            f("Closed_Time", "Closed Time", Kind::DateTime),
            custom("Books_Invoice_ID", "Books Invoice ID"),
        ],
    },
    Module {
        api_name: "Price_Books",
        singular: "Price Book",
        id: "5725767000000002189",
        name_field: "Price_Book_Name",
        mandatory: &["Price_Book_Name"],
        system_duplicate_check: &["Price_Book_Name"],
        fields: with_system![
            f("Price_Book_Name", "Price Book Name", Kind::Text),
            f("Active", "Active", Kind::Boolean),
            f("Pricing_Model", "Pricing Model", Kind::Picklist(PRICING_MODELS)),
            f("Description", "Description", Kind::TextArea),
            custom("Books_Pricebook_ID", "Books Price List ID"),
        ],
    },
];

/// Modules that `What_Id` (Tasks) may point at.
pub const WHAT_MODULES: &[&str] = &["Deals", "Accounts", "Products", "Quotes", "Price_Books"];

/// The module with this API name (Zoho matches module names case-insensitively).
pub fn module(name: &str) -> Option<&'static Module> {
    MODULES.iter().find(|m| m.api_name.eq_ignore_ascii_case(name))
}

/// Fields of a `Quoted_Items` row.
pub static QUOTED_ITEM_FIELDS: &[Field] = &[
    f("Product_Name", "Product Name", Kind::Lookup("Products")),
    f("Quantity", "Quantity", Kind::Double),
    f("List_Price", "List Price", Kind::Currency),
    f("Discount", "Discount", Kind::Currency),
    f("Description", "Description", Kind::TextArea),
    f("Line_Tax", "Tax", Kind::MultiSelect),
    ro("Total", "Amount", Kind::Currency),
    ro("Total_After_Discount", "Total After Discount", Kind::Currency),
    ro("Tax", "Tax Amount", Kind::Currency),
    ro("Net_Total", "Total", Kind::Currency),
    f("Sequence_Number", "Sequence Number", Kind::Integer),
];
