use time::macros::datetime;

use super::*;

/// The header the emulator writes for `billing_event` (history columns first, currency before
/// amount, the newer `agreement_id`, `offer_id` and `usage_quantity` columns last), every field
/// quoted as it quotes them.
const BILLING_EVENT_HEADER: &str = concat!(
    r#""valid_from","insert_date","update_date","delete_date","billing_event_id","#,
    r#""from_account_id","to_account_id","end_user_account_id","product_id","action","#,
    r#""transaction_type","parent_billing_event_id","disbursement_billing_event_id","#,
    r#""currency","amount","balance_impacting","invoice_date","payment_due_date","#,
    r#""usage_period_start_date","usage_period_end_date","invoice_id","billing_address_id","#,
    r#""transaction_reference_id","bank_trace_id","broker_id","agreement_id","offer_id","#,
    r#""usage_quantity""#,
    "\n"
);

/// An invoice of 100.00, its 3 % listing fee, a month of usage, and the disbursement of the
/// invoice and fee, as the emulator writes them.
const BILLING_EVENT_ROWS: &str = concat!(
    r#""2026-11-01T00:00:00Z","2026-11-01T00:00:00Z","2026-11-01T00:00:00Z","","#,
    r#""3f1c0e6a9b7d2c4e8f0a1b2c3d4e5f6a7b8c9d0e","#,
    r#""1b9e3c2a-6d4f-4e8a-9c1b-2d3e4f5a6b7c","7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d","#,
    r#""1b9e3c2a-6d4f-4e8a-9c1b-2d3e4f5a6b7c","prod-abcdefghij123","INVOICED","#,
    r#""SELLER_REV_SHARE","","","USD","100.00","1","2026-11-01T00:00:00Z","#,
    r#""2026-12-01T00:00:00Z","","","inv-0123456789abcdef","","#,
    r#""9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c","","AWS_INC","agmt-1a2b3c4d5e6f7g8h9i0j","#,
    r#""offer-1a2b3c4d5e6f7","""#,
    "\n",
    r#""2026-11-01T00:00:00Z","2026-11-01T00:00:00Z","2026-11-01T00:00:00Z","","#,
    r#""5b2d1f7e0c8a3b6d9e2f4a1c7b0d3e6f9a2c5b8d","#,
    r#""7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d","0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f","#,
    r#""1b9e3c2a-6d4f-4e8a-9c1b-2d3e4f5a6b7c","prod-abcdefghij123","INVOICED","#,
    r#""AWS_REV_SHARE","","","USD","-3.00","1","2026-11-01T00:00:00Z","#,
    r#""2026-12-01T00:00:00Z","","","inv-0123456789abcdef","","#,
    r#""9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c","","AWS_INC","agmt-1a2b3c4d5e6f7g8h9i0j","#,
    r#""offer-1a2b3c4d5e6f7","""#,
    "\n",
    r#""2026-11-01T00:00:00Z","2026-11-01T00:00:00Z","2026-11-01T00:00:00Z","","#,
    r#""c4e6a8b0d2f4a6c8e0b2d4f6a8c0e2b4d6f8a0c2","#,
    r#""1b9e3c2a-6d4f-4e8a-9c1b-2d3e4f5a6b7c","7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d","#,
    r#""1b9e3c2a-6d4f-4e8a-9c1b-2d3e4f5a6b7c","prod-abcdefghij123","INVOICED","#,
    r#""SELLER_REV_SHARE","","","USD","12.5","1","2026-11-01T00:00:00Z","#,
    r#""2026-12-01T00:00:00Z","2026-10-01T00:00:00Z","2026-10-31T23:59:59Z","#,
    r#""inv-fedcba9876543210","","e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0","","AWS_INC","#,
    r#""agmt-1a2b3c4d5e6f7g8h9i0j","offer-1a2b3c4d5e6f7","125""#,
    "\n",
    r#""2026-11-15T00:00:00Z","2026-11-15T00:00:00Z","2026-11-15T00:00:00Z","","#,
    r#""0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b","#,
    r#""1b9e3c2a-6d4f-4e8a-9c1b-2d3e4f5a6b7c","7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d","#,
    r#""1b9e3c2a-6d4f-4e8a-9c1b-2d3e4f5a6b7c","prod-abcdefghij123","DISBURSED","#,
    r#""SELLER_REV_SHARE","3f1c0e6a9b7d2c4e8f0a1b2c3d4e5f6a7b8c9d0e","#,
    r#""f0e1d2c3b4a5968778695a4b3c2d1e0f9a8b7c6d","USD","-100.00","1","2026-11-01T00:00:00Z","#,
    r#""2026-12-01T00:00:00Z","","","inv-0123456789abcdef","","#,
    r#""9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c","","AWS_INC","agmt-1a2b3c4d5e6f7g8h9i0j","#,
    r#""offer-1a2b3c4d5e6f7","""#,
    "\n",
    r#""2026-11-15T00:00:00Z","2026-11-15T00:00:00Z","2026-11-15T00:00:00Z","","#,
    r#""f0e1d2c3b4a5968778695a4b3c2d1e0f9a8b7c6d","#,
    r#""0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f","7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d","#,
    r#""7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d","","DISBURSED","DISBURSEMENT","","","USD","#,
    r#""97.00","0","","","","","","","6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d7c","#,
    r#""souk-f0e1d2c3b4a596877869","AWS_INC","","","""#,
    "\n",
);

fn billing_event_file() -> String {
    format!("{BILLING_EVENT_HEADER}{BILLING_EVENT_ROWS}")
}

/// A quoted CSV line of `fields`, as the emulator writes it.
fn line(fields: &[&str]) -> String {
    let quoted: Vec<String> = fields
        .iter()
        .map(|f| format!("\"{}\"", f.replace('"', "\"\"")))
        .collect();
    format!("{}\n", quoted.join(","))
}

fn parse(feed: Feed, text: &str) -> ParsedFile {
    parse_file(feed, text.as_bytes()).expect("the file reads")
}

fn rejected(parsed: &ParsedFile) -> Vec<(u64, &str)> {
    parsed
        .rejected
        .iter()
        .map(|r| (r.line, r.reason.as_str()))
        .collect()
}

#[test]
fn reads_an_emulator_billing_event_file() {
    let parsed = parse(Feed::BillingEvent, &billing_event_file());
    assert_eq!(rejected(&parsed), []);
    assert_eq!(parsed.rows.len(), 5);
    let lines: Vec<u64> = parsed.rows.iter().map(|r| r.line).collect();
    assert_eq!(lines, [2, 3, 4, 5, 6]);

    let invoice = &parsed.rows[0];
    assert_eq!(invoice.feed, Feed::BillingEvent);
    assert_eq!(invoice.key, "3f1c0e6a9b7d2c4e8f0a1b2c3d4e5f6a7b8c9d0e");
    assert_eq!(
        invoice.history,
        History {
            valid_from: datetime!(2026-11-01 0:00 UTC),
            insert_date: Some(datetime!(2026-11-01 0:00 UTC)),
            update_date: Some(datetime!(2026-11-01 0:00 UTC)),
            delete_date: None,
        }
    );
    assert_eq!(invoice.columns.len(), 28);
    assert_eq!(invoice.get("action"), "INVOICED");
    assert_eq!(invoice.get("amount"), "100.00");
    assert_eq!(invoice.get("currency"), "USD");
    assert_eq!(invoice.get("delete_date"), "");
    assert_eq!(invoice.get("usage_quantity"), "");
    assert_eq!(invoice.get("no_such_column"), "");

    let usage = &parsed.rows[2];
    assert_eq!(usage.get("usage_period_end_date"), "2026-10-31T23:59:59Z");
    assert_eq!(usage.get("usage_quantity"), "125");

    let payout = &parsed.rows[4];
    assert_eq!(payout.key, "f0e1d2c3b4a5968778695a4b3c2d1e0f9a8b7c6d");
    assert_eq!(payout.get("transaction_type"), "DISBURSEMENT");
    assert_eq!(payout.get("product_id"), "");
    assert_eq!(payout.history.valid_from, datetime!(2026-11-15 0:00 UTC));
}

#[test]
fn a_header_only_file_has_no_rows() {
    assert_eq!(
        parse(Feed::BillingEvent, BILLING_EVENT_HEADER),
        ParsedFile::default()
    );
}

#[test]
fn one_malformed_row_does_not_stop_the_file() {
    let rows: Vec<&str> = BILLING_EVENT_ROWS.lines().collect();
    let short = line(&["2026-11-01T00:00:00Z", "x", "INVOICED"]);
    let bad_valid_from = rows[1].replacen("2026-11-01T00:00:00Z", "yesterday", 1);
    let blank_id = rows[2].replacen("c4e6a8b0d2f4a6c8e0b2d4f6a8c0e2b4d6f8a0c2", " ", 1);
    let bad_update = rows[3].replacen(
        r#""2026-11-15T00:00:00Z","""#,
        r#""2026-11-15 00:00","""#,
        1,
    );
    let text = format!(
        "{BILLING_EVENT_HEADER}{}\n{short}{bad_valid_from}\n\n{blank_id}\n{bad_update}\n{}\n",
        rows[0], rows[4]
    );
    let parsed = parse(Feed::BillingEvent, &text);
    let good: Vec<(u64, &str)> = parsed
        .rows
        .iter()
        .map(|r| (r.line, r.key.as_str()))
        .collect();
    assert_eq!(
        good,
        [
            (2, "3f1c0e6a9b7d2c4e8f0a1b2c3d4e5f6a7b8c9d0e"),
            (8, "f0e1d2c3b4a5968778695a4b3c2d1e0f9a8b7c6d"),
        ]
    );
    assert_eq!(
        rejected(&parsed),
        [
            (3, "the row has 3 fields, the header 28"),
            (
                4,
                r#"valid_from "yesterday" is not an ISO-8601 UTC timestamp"#
            ),
            (6, "billing_event_id is blank"),
            (
                7,
                r#"update_date "2026-11-15 00:00" is not an ISO-8601 UTC timestamp"#
            ),
        ]
    );
}

#[test]
fn blank_valid_from_and_too_many_fields_are_rejected() {
    let text = format!(
        "{}{}{}{}",
        line(&["valid_from", "account_id", "aws_account_id"]),
        line(&["", "acc-1", "111122223333"]),
        line(&["2026-11-01T00:00:00Z", "acc-2", "111122223333", "extra"]),
        line(&["2026-11-01T00:00:00Z"]),
    );
    let parsed = parse(Feed::Account, &text);
    assert!(parsed.rows.is_empty());
    assert_eq!(
        rejected(&parsed),
        [
            (2, "valid_from is blank"),
            (3, "the row has 4 fields, the header 3"),
            (4, "the row has 1 field, the header 3"),
        ]
    );
}

#[test]
fn a_header_without_a_key_column_is_an_error() {
    let header = BILLING_EVENT_HEADER.replace(r#""billing_event_id","#, "");
    assert_eq!(
        parse_file(
            Feed::BillingEvent,
            format!("{header}{BILLING_EVENT_ROWS}").as_bytes()
        ),
        Err("the billing_event header has no billing_event_id column".to_owned())
    );
    assert_eq!(
        parse_file(Feed::Offer, line(&["valid_from", "name"]).as_bytes()),
        Err("the offer header has no offer_id, offer_revision columns".to_owned())
    );
    assert_eq!(
        parse_file(
            Feed::Product,
            line(&["insert_date", "product_id"]).as_bytes()
        ),
        Err("the product header has no valid_from column".to_owned())
    );
}

#[test]
fn files_that_cannot_be_read_at_all() {
    assert_eq!(
        parse_file(Feed::Account, b""),
        Err("the account file has no header row".to_owned())
    );
    assert_eq!(
        parse_file(Feed::Account, b"\n\n"),
        Err("the account file has no header row".to_owned())
    );
    assert_eq!(
        parse_file(Feed::Account, b"\"valid_from\",\"account\xFF_id\"\n"),
        Err("the account header is not UTF-8 (column 2)".to_owned())
    );
    assert_eq!(
        parse_file(
            Feed::Account,
            line(&["valid_from", "account_id", "valid_from"]).as_bytes()
        ),
        Err("the account header names column valid_from twice".to_owned())
    );
}

#[test]
fn unknown_columns_are_kept_and_columns_are_found_by_name() {
    let text = format!(
        "{}{}",
        line(&[
            "product_id",
            "title",
            "valid_from",
            "future_column",
            "insert_date"
        ]),
        line(&[
            "prod-1",
            "Widget, \"Pro\"",
            "2026-11-01T00:00:00Z",
            "something new",
            ""
        ]),
    );
    let parsed = parse(Feed::Product, &text);
    assert_eq!(rejected(&parsed), []);
    let row = &parsed.rows[0];
    assert_eq!(row.key, "prod-1");
    assert_eq!(row.get("future_column"), "something new");
    assert_eq!(row.get("title"), "Widget, \"Pro\"");
    assert_eq!(row.history.insert_date, None);
    assert_eq!(row.history.update_date, None);
    assert_eq!(row.columns.len(), 5);
}

#[test]
fn keys_join_every_key_column() {
    let text = format!(
        "{}{}",
        line(&[
            "valid_from",
            "insert_date",
            "update_date",
            "delete_date",
            "offer_id",
            "offer_revision",
            "product_id"
        ]),
        line(&[
            "2026-11-01T00:00:00Z",
            "2026-11-01T00:00:00Z",
            "2026-11-02T10:00:00.5Z",
            "2026-11-03T00:00:00+00:00",
            "offer-abc",
            "3",
            "prod-1"
        ]),
    );
    let parsed = parse(Feed::OfferProduct, &text);
    let row = &parsed.rows[0];
    assert_eq!(row.key, "offer-abc|3|prod-1");
    assert_eq!(
        row.history.update_date,
        Some(datetime!(2026-11-02 10:00:00.5 UTC))
    );
    assert_eq!(
        row.history.delete_date,
        Some(datetime!(2026-11-03 0:00 UTC))
    );
}

#[test]
fn tolerates_a_bom_crlf_and_unquoted_fields() {
    let text = billing_event_file().replace('\n', "\r\n");
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(text.as_bytes());
    let parsed = parse_file(Feed::BillingEvent, &bytes).expect("reads");
    assert_eq!(parsed, parse(Feed::BillingEvent, &billing_event_file()));
    assert_eq!(parsed.rows[4].get("offer_id"), "");

    let plain = "\u{feff}valid_from,account_id,aws_account_id\r\n\r\n2026-11-01T00:00:00Z,acc-1,111122223333\r\n";
    let parsed = parse(Feed::Account, plain);
    assert_eq!(rejected(&parsed), []);
    assert_eq!(parsed.rows[0].line, 3);
    assert_eq!(parsed.rows[0].key, "acc-1");
    assert_eq!(parsed.rows[0].get("aws_account_id"), "111122223333");
}

#[test]
fn lines_count_the_newlines_inside_quoted_fields() {
    let text = format!(
        "{}{}{}",
        line(&["valid_from", "product_id", "title"]),
        line(&["2026-11-01T00:00:00Z", "prod-1", "two\nlines"]),
        line(&["2026-11-01T00:00:00Z", "prod-2", "one line"]),
    );
    let parsed = parse(Feed::Product, &text);
    let lines: Vec<(u64, &str)> = parsed
        .rows
        .iter()
        .map(|r| (r.line, r.get("title")))
        .collect();
    assert_eq!(lines, [(2, "two\nlines"), (4, "one line")]);
}

#[test]
fn a_field_that_is_not_utf8_rejects_its_row() {
    let mut bytes = line(&["valid_from", "product_id", "title"]).into_bytes();
    bytes.extend_from_slice(b"\"2026-11-01T00:00:00Z\",\"prod-1\",\"caf\xE9\"\n");
    bytes.extend_from_slice(line(&["2026-11-01T00:00:00Z", "prod-2", "ok"]).as_bytes());
    let parsed = parse_file(Feed::Product, &bytes).expect("reads");
    assert_eq!(rejected(&parsed), [(2, "title is not valid UTF-8")]);
    assert_eq!(parsed.rows.len(), 1);
    assert_eq!(parsed.rows[0].line, 3);
}

#[test]
fn micros_reads_plain_decimals() {
    for (raw, expected) in [
        ("12.5", 12_500_000),
        ("-0.2", -200_000),
        ("3", 3_000_000),
        ("0", 0),
        ("-0", 0),
        ("100.00", 100_000_000),
        ("0.000001", 1),
        ("-12.345678", -12_345_678),
        ("+1.5", 1_500_000),
        (".5", 500_000),
        ("5.", 5_000_000),
        (" 7.25 ", 7_250_000),
        ("007", 7_000_000),
        ("9223372036854.775807", i64::MAX),
        ("-9223372036854.775808", i64::MIN),
    ] {
        assert_eq!(micros(raw), Ok(expected), "{raw:?}");
    }
}

#[test]
fn micros_errors_quote_the_value() {
    for (raw, expected) in [
        ("1.1234567", r#""1.1234567" has more than 6 decimals"#),
        ("-0.0000001", r#""-0.0000001" has more than 6 decimals"#),
        (
            "1,000.00",
            r#""1,000.00" has a comma: amounts use "." for decimals and no thousands separator"#,
        ),
        (
            "12,5",
            r#""12,5" has a comma: amounts use "." for decimals and no thousands separator"#,
        ),
        (
            "1e5",
            r#""1e5" has an exponent: amounts are plain decimals"#,
        ),
        (
            "-1.5E-3",
            r#""-1.5E-3" has an exponent: amounts are plain decimals"#,
        ),
        (
            "9223372036854.775808",
            r#""9223372036854.775808" is out of range"#,
        ),
        (
            "-9223372036854.775809",
            r#""-9223372036854.775809" is out of range"#,
        ),
        (
            "123456789012345678901234567890123456789012",
            r#""123456789012345678901234567890123456789012" is out of range"#,
        ),
        ("", r#""" is not a decimal number"#),
        ("  ", r#""  " is not a decimal number"#),
        ("abc", r#""abc" is not a decimal number"#),
        ("nine", r#""nine" is not a decimal number"#),
        ("1.2.3", r#""1.2.3" is not a decimal number"#),
        ("-", r#""-" is not a decimal number"#),
        (".", r#""." is not a decimal number"#),
        ("--1", r#""--1" is not a decimal number"#),
        ("1 000", r#""1 000" is not a decimal number"#),
        ("0x10", r#""0x10" is not a decimal number"#),
        ("$5", r#""$5" is not a decimal number"#),
        ("1e", r#""1e" is not a decimal number"#),
    ] {
        assert_eq!(micros(raw), Err(expected.to_owned()), "{raw:?}");
    }
}

#[test]
fn timestamp_forms() {
    for (raw, expected) in [
        ("2026-11-01T00:00:00Z", datetime!(2026-11-01 0:00 UTC)),
        ("2026-11-01T00:00:00+00:00", datetime!(2026-11-01 0:00 UTC)),
        ("2026-11-01T00:00:00-00:00", datetime!(2026-11-01 0:00 UTC)),
        (
            "2026-11-22T12:34:56.789Z",
            datetime!(2026-11-22 12:34:56.789 UTC),
        ),
        (
            "2026-11-22T12:34:56.123456+00:00",
            datetime!(2026-11-22 12:34:56.123456 UTC),
        ),
        (" 2026-11-01T00:00:00Z ", datetime!(2026-11-01 0:00 UTC)),
    ] {
        assert_eq!(timestamp(raw), Ok(Some(expected)), "{raw:?}");
    }
    assert_eq!(timestamp(""), Ok(None));
    assert_eq!(timestamp("  "), Ok(None));
    for raw in [
        "yesterday",
        "2026-11-01",
        "2026-11-01T00:00:00",
        "2026-11-01 00:00",
        "2026-13-01T00:00:00Z",
        "2026-11-31T00:00:00Z",
        "1793491200",
    ] {
        assert_eq!(
            timestamp(raw),
            Err(format!("{raw:?} is not an ISO-8601 UTC timestamp")),
            "{raw:?}"
        );
    }
    assert_eq!(
        timestamp("2026-11-01T02:00:00+02:00"),
        Err(r#""2026-11-01T02:00:00+02:00" is not in UTC (offset +02:00)"#.to_owned())
    );
}
