use time::macros::{date, datetime};

use super::*;
use crate::domain::parse::parse_file;

/// The columns of an emulator `billing_event` file, with a usage line's values.
const USAGE_LINE: &[(&str, &str)] = &[
    ("valid_from", "2026-11-01T00:00:00Z"),
    ("insert_date", "2026-11-01T00:00:00Z"),
    ("update_date", "2026-11-01T00:00:00Z"),
    ("delete_date", ""),
    (
        "billing_event_id",
        "c4e6a8b0d2f4a6c8e0b2d4f6a8c0e2b4d6f8a0c2",
    ),
    ("from_account_id", "1b9e3c2a-6d4f-4e8a-9c1b-2d3e4f5a6b7c"),
    ("to_account_id", "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d"),
    (
        "end_user_account_id",
        "1b9e3c2a-6d4f-4e8a-9c1b-2d3e4f5a6b7c",
    ),
    ("product_id", "prod-abcdefghij123"),
    ("action", "INVOICED"),
    ("transaction_type", "SELLER_REV_SHARE"),
    ("parent_billing_event_id", ""),
    ("disbursement_billing_event_id", ""),
    ("currency", "USD"),
    ("amount", "12.5"),
    ("balance_impacting", "1"),
    ("invoice_date", "2026-11-01T00:00:00Z"),
    ("payment_due_date", "2026-12-01T00:00:00Z"),
    ("usage_period_start_date", "2026-10-01T00:00:00Z"),
    ("usage_period_end_date", "2026-10-31T23:59:59Z"),
    ("invoice_id", "inv-fedcba9876543210"),
    ("billing_address_id", ""),
    (
        "transaction_reference_id",
        "e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0",
    ),
    ("bank_trace_id", ""),
    ("broker_id", "AWS_INC"),
    ("agreement_id", "agmt-1a2b3c4d5e6f7g8h9i0j"),
    ("offer_id", "offer-1a2b3c4d5e6f7"),
    ("usage_quantity", "125"),
    ("usage_dimension", "requests"),
];

fn quoted(fields: impl Iterator<Item = String>) -> String {
    let fields: Vec<String> = fields
        .map(|f| format!("\"{}\"", f.replace('"', "\"\"")))
        .collect();
    format!("{}\n", fields.join(","))
}

/// The row of a one-line file of `columns`, with `changes` applied (a value of `None` drops
/// the column).
fn row_with(changes: &[(&str, Option<&str>)]) -> FeedRow {
    let mut columns: Vec<(String, String)> = USAGE_LINE
        .iter()
        .map(|(c, v)| ((*c).to_owned(), (*v).to_owned()))
        .collect();
    for (name, value) in changes {
        match value {
            Some(value) => match columns.iter_mut().find(|(c, _)| c == name) {
                Some(column) => column.1 = (*value).to_owned(),
                None => columns.push(((*name).to_owned(), (*value).to_owned())),
            },
            None => columns.retain(|(c, _)| c != name),
        }
    }
    let text = format!(
        "{}{}",
        quoted(columns.iter().map(|(c, _)| c.clone())),
        quoted(columns.iter().map(|(_, v)| v.clone()))
    );
    let mut parsed = parse_file(Feed::BillingEvent, text.as_bytes()).expect("the file reads");
    assert_eq!(parsed.rejected, []);
    parsed.rows.pop().expect("one row")
}

fn error(changes: &[(&str, Option<&str>)]) -> String {
    BillingEvent::from_row(&row_with(changes)).expect_err("the row does not read")
}

#[test]
fn reads_a_usage_line() {
    let event = BillingEvent::from_row(&row_with(&[])).expect("reads");
    assert_eq!(
        event,
        BillingEvent {
            billing_event_id: "c4e6a8b0d2f4a6c8e0b2d4f6a8c0e2b4d6f8a0c2".to_owned(),
            history: History {
                valid_from: datetime!(2026-11-01 0:00 UTC),
                insert_date: Some(datetime!(2026-11-01 0:00 UTC)),
                update_date: Some(datetime!(2026-11-01 0:00 UTC)),
                delete_date: None,
            },
            action: BillingAction::Invoiced,
            transaction_type: "SELLER_REV_SHARE".to_owned(),
            amount_micros: 12_500_000,
            currency: "USD".to_owned(),
            balance_impacting: true,
            from_account_id: "1b9e3c2a-6d4f-4e8a-9c1b-2d3e4f5a6b7c".to_owned(),
            to_account_id: "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d".to_owned(),
            end_user_account_id: "1b9e3c2a-6d4f-4e8a-9c1b-2d3e4f5a6b7c".to_owned(),
            product_id: "prod-abcdefghij123".to_owned(),
            invoice_id: "inv-fedcba9876543210".to_owned(),
            invoice_date: Some(datetime!(2026-11-01 0:00 UTC)),
            payment_due_date: Some(datetime!(2026-12-01 0:00 UTC)),
            usage_period_start: Some(date!(2026 - 10 - 01)),
            usage_period_end: Some(date!(2026 - 10 - 31)),
            parent_billing_event_id: None,
            disbursement_billing_event_id: None,
            transaction_reference_id: "e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0".to_owned(),
            bank_trace_id: String::new(),
            broker_id: "AWS_INC".to_owned(),
            agreement_id: Some("agmt-1a2b3c4d5e6f7g8h9i0j".to_owned()),
            offer_id: Some("offer-1a2b3c4d5e6f7".to_owned()),
            usage_quantity_micros: Some(125_000_000),
            usage_dimension: Some("requests".to_owned()),
        }
    );
}

#[test]
fn a_usage_quantity_that_is_not_a_decimal_is_named() {
    assert_eq!(
        error(&[("usage_quantity", Some("12 units"))]),
        "usage_quantity \"12 units\" is not a decimal number"
    );
}

#[test]
fn reads_a_disbursement_without_the_newer_columns() {
    let event = BillingEvent::from_row(&row_with(&[
        ("action", Some("DISBURSED")),
        ("transaction_type", Some("DISBURSEMENT")),
        ("product_id", Some("")),
        ("amount", Some("97.00")),
        ("balance_impacting", Some("false")),
        ("invoice_date", Some("")),
        ("payment_due_date", Some("")),
        ("usage_period_start_date", Some("")),
        ("usage_period_end_date", Some("")),
        ("invoice_id", Some("")),
        ("bank_trace_id", Some("souk-f0e1d2c3b4a596877869")),
        ("agreement_id", None),
        ("offer_id", None),
        ("usage_quantity", None),
    ]))
    .expect("reads");
    assert_eq!(event.action, BillingAction::Disbursed);
    assert_eq!(event.amount_micros, 97_000_000);
    assert!(!event.balance_impacting);
    assert_eq!(event.product_id, "");
    assert_eq!(event.invoice_id, "");
    assert_eq!(event.invoice_date, None);
    assert_eq!(event.payment_due_date, None);
    assert_eq!(event.usage_period_start, None);
    assert_eq!(event.usage_period_end, None);
    assert_eq!(event.bank_trace_id, "souk-f0e1d2c3b4a596877869");
    assert_eq!(event.agreement_id, None);
    assert_eq!(event.offer_id, None);
}

#[test]
fn reads_links_forgiven_rows_and_plain_dates() {
    let event = BillingEvent::from_row(&row_with(&[
        ("action", Some("FORGIVEN")),
        ("amount", Some("-0.2")),
        ("balance_impacting", Some("TRUE")),
        (
            "parent_billing_event_id",
            Some("3f1c0e6a9b7d2c4e8f0a1b2c3d4e5f6a7b8c9d0e"),
        ),
        (
            "disbursement_billing_event_id",
            Some("f0e1d2c3b4a5968778695a4b3c2d1e0f9a8b7c6d"),
        ),
        ("usage_period_start_date", Some("2026-10-01")),
        ("usage_period_end_date", Some("2026-10-31")),
        ("agreement_id", Some("")),
    ]))
    .expect("reads");
    assert_eq!(event.action, BillingAction::Forgiven);
    assert_eq!(event.amount_micros, -200_000);
    assert!(event.balance_impacting);
    assert_eq!(
        event.parent_billing_event_id.as_deref(),
        Some("3f1c0e6a9b7d2c4e8f0a1b2c3d4e5f6a7b8c9d0e")
    );
    assert_eq!(
        event.disbursement_billing_event_id.as_deref(),
        Some("f0e1d2c3b4a5968778695a4b3c2d1e0f9a8b7c6d")
    );
    assert_eq!(event.usage_period_start, Some(date!(2026 - 10 - 01)));
    assert_eq!(event.usage_period_end, Some(date!(2026 - 10 - 31)));
    assert_eq!(event.agreement_id, None);
}

#[test]
fn errors_name_the_column_and_quote_the_value() {
    for (changes, expected) in [
        (
            vec![("action", Some("REFUNDED"))],
            r#"action "REFUNDED" is not INVOICED, FORGIVEN or DISBURSED"#,
        ),
        (
            vec![("action", Some("invoiced"))],
            r#"action "invoiced" is not INVOICED, FORGIVEN or DISBURSED"#,
        ),
        (vec![("action", Some(""))], "action is blank"),
        (vec![("action", None)], "action is blank"),
        (
            vec![("transaction_type", Some(""))],
            "transaction_type is blank",
        ),
        (vec![("amount", Some(""))], "amount is blank"),
        (
            vec![("amount", Some("1,250.00"))],
            r#"amount "1,250.00" has a comma: amounts use "." for decimals and no thousands separator"#,
        ),
        (
            vec![("amount", Some("0.1234567"))],
            r#"amount "0.1234567" has more than 6 decimals"#,
        ),
        (vec![("currency", Some(""))], "currency is blank"),
        (
            vec![("currency", Some("usd"))],
            r#"currency "usd" is not an ISO 4217 code (3 uppercase letters)"#,
        ),
        (
            vec![("currency", Some("US$"))],
            r#"currency "US$" is not an ISO 4217 code (3 uppercase letters)"#,
        ),
        (
            vec![("balance_impacting", Some("yes"))],
            r#"balance_impacting "yes" is not 0, 1, true or false"#,
        ),
        (
            vec![("balance_impacting", Some(""))],
            "balance_impacting is blank",
        ),
        (
            vec![("invoice_date", Some("2026-11-01"))],
            r#"invoice_date "2026-11-01" is not an ISO-8601 UTC timestamp"#,
        ),
        (
            vec![("payment_due_date", Some("2026-12-01T00:00:00+01:00"))],
            r#"payment_due_date "2026-12-01T00:00:00+01:00" is not in UTC (offset +01:00)"#,
        ),
        (
            vec![("usage_period_start_date", Some("October 2026"))],
            r#"usage_period_start_date "October 2026" is not a date (YYYY-MM-DD) or an ISO-8601 UTC timestamp"#,
        ),
        (
            vec![("usage_period_end_date", Some("2026-09-30"))],
            "usage_period_end_date 2026-09-30 is before usage_period_start_date 2026-10-01",
        ),
    ] {
        assert_eq!(error(&changes), expected, "{changes:?}");
    }
}

#[test]
fn rows_of_other_feeds_are_not_billing_events() {
    let text = "\"valid_from\",\"account_id\"\n\"2026-11-01T00:00:00Z\",\"acc-1\"\n";
    let parsed = parse_file(Feed::Account, text.as_bytes()).expect("reads");
    assert_eq!(
        BillingEvent::from_row(&parsed.rows[0]),
        Err("a row of the account feed is not a billing_event row".to_owned())
    );
}
