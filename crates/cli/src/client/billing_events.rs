//! `souk report billing-events`: the billing events of an integration's `billing_event` feed,
//! newest invoice first, fetched page by page up to `--limit`, as a table, JSON or CSV.
//! Amounts travel as integer micros and are printed as exact decimals.

use serde_json::{Value, json};
use souk_proto::common::{Date, DateRange};
use souk_proto::reporting::{BillingAction, BillingEvent, ListBillingEventsRequest};

use super::call;
use super::offers::usage;
use super::output::{Table, csv, enum_name, time, time_json};
use super::reports::{amount, reporting_client};
use crate::args::{BillingActionArg, BillingEventsArgs, RevenueFormat};

/// Largest page the server gives.
const MAX_PAGE: u64 = 1000;

/// Lists the events page by page and prints them.
pub async fn run(request: BillingEventsArgs) -> anyhow::Result<()> {
    let client = &request.client;
    let period = period(request.from.as_deref(), request.to.as_deref()).map_err(usage)?;
    let mut reporting = reporting_client(client).await?;
    let mut events: Vec<BillingEvent> = Vec::new();
    let mut token = String::new();
    loop {
        let left = match request.limit {
            0 => MAX_PAGE,
            limit => (limit - events.len() as u64).min(MAX_PAGE),
        };
        let page = call(reporting.list_billing_events(ListBillingEventsRequest {
            page_size: i32::try_from(left).unwrap_or(1000),
            page_token: token,
            integration_id: request.integration.clone(),
            period,
            actions: request.actions.iter().map(|a| action(*a) as i32).collect(),
            transaction_types: request.types.clone(),
            customer_aws_account_id: request.customer.clone().unwrap_or_default(),
            product_id: request.product.clone().unwrap_or_default(),
        }))
        .await?;
        events.extend(page.billing_events);
        token = page.next_page_token;
        let full = request.limit != 0 && events.len() as u64 >= request.limit;
        if token.is_empty() || full {
            break;
        }
    }
    match client.output {
        RevenueFormat::Table => print!("{}", table(&events).render()),
        RevenueFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&events_json(&events)).unwrap_or_default()
        ),
        RevenueFormat::Csv => print!("{}", events_csv(&events)),
    }
    Ok(())
}

fn action(arg: BillingActionArg) -> BillingAction {
    match arg {
        BillingActionArg::Invoiced => BillingAction::Invoiced,
        BillingActionArg::Forgiven => BillingAction::Forgiven,
        BillingActionArg::Disbursed => BillingAction::Disbursed,
    }
}

/// `--from` and `--to` (days) as the contract's date range, the end after the start.
pub(super) fn period(from: Option<&str>, to: Option<&str>) -> Result<Option<DateRange>, String> {
    if from.is_none() && to.is_none() {
        return Ok(None);
    }
    let day = |flag: &str, raw: Option<&str>| -> Result<Option<time::Date>, String> {
        raw.map(|raw| {
            time::Date::parse(
                raw,
                time::macros::format_description!("[year]-[month]-[day]"),
            )
            .map_err(|_| format!("{flag} {raw:?} is not a day (YYYY-MM-DD)"))
        })
        .transpose()
    };
    let start = day("--from", from)?;
    let end = day("--to", to)?;
    if let (Some(start), Some(end)) = (start, end)
        && end <= start
    {
        return Err("--to must be after --from (--to is exclusive)".to_owned());
    }
    let date = |d: time::Date| Date {
        year: d.year(),
        month: i32::from(u8::from(d.month())),
        day: i32::from(d.day()),
    };
    Ok(Some(DateRange {
        start_date: start.map(date),
        end_date: end.map(date),
    }))
}

fn action_name(event: &BillingEvent) -> String {
    enum_name(event.action().as_str_name(), "BILLING_ACTION_").to_ascii_uppercase()
}

fn money(event: &BillingEvent) -> (String, i64) {
    event.amount.as_ref().map_or((String::new(), 0), |m| {
        (m.currency_code.clone(), m.amount_micros)
    })
}

fn table(events: &[BillingEvent]) -> Table {
    let mut table = Table::new(vec![
        "INVOICED",
        "ACTION",
        "TYPE",
        "CURRENCY",
        "AMOUNT",
        "INVOICE",
        "PRODUCT",
        "CUSTOMER",
        "BILLING EVENT",
    ]);
    for e in events {
        let (currency, micros) = money(e);
        table.row(vec![
            time(e.invoice_time.as_ref()),
            action_name(e),
            e.transaction_type.clone(),
            currency,
            amount(micros),
            e.invoice_id.clone(),
            e.product_id.clone(),
            e.end_user_account_id.clone(),
            e.billing_event_id.clone(),
        ]);
    }
    table
}

/// The CSV header: the contract's field names, amounts as decimals.
const CSV_COLUMNS: &[&str] = &[
    "billing_event_id",
    "invoice_time",
    "action",
    "transaction_type",
    "currency_code",
    "amount",
    "balance_impacting",
    "from_account_id",
    "to_account_id",
    "end_user_account_id",
    "product_id",
    "invoice_id",
    "payment_due_time",
    "parent_billing_event_id",
    "disbursement_billing_event_id",
    "bank_trace_id",
    "broker_id",
    "transaction_reference_id",
];

/// The events as RFC 4180 CSV (CRLF line ends, fields quoted when needed) with a header row.
fn events_csv(events: &[BillingEvent]) -> String {
    let rows = events.iter().map(|e| {
        let (currency, micros) = money(e);
        vec![
            e.billing_event_id.clone(),
            time(e.invoice_time.as_ref()),
            action_name(e),
            e.transaction_type.clone(),
            currency,
            amount(micros),
            u8::from(e.balance_impacting).to_string(),
            e.from_account_id.clone(),
            e.to_account_id.clone(),
            e.end_user_account_id.clone(),
            e.product_id.clone(),
            e.invoice_id.clone(),
            time(e.payment_due_time.as_ref()),
            e.parent_billing_event_id.clone(),
            e.disbursement_billing_event_id.clone(),
            e.bank_trace_id.clone(),
            e.broker_id.clone(),
            e.transaction_reference_id.clone(),
        ]
    });
    csv(CSV_COLUMNS, rows)
}

/// The events as JSON: the contract's field names, amounts in integer micros.
fn events_json(events: &[BillingEvent]) -> Value {
    json!({
        "billing_events": events.iter().map(|e| {
            let (currency, micros) = money(e);
            json!({
                "billing_event_id": e.billing_event_id,
                "integration_id": e.integration_id,
                "action": action_name(e),
                "transaction_type": e.transaction_type,
                "currency_code": currency,
                "amount_micros": micros,
                "balance_impacting": e.balance_impacting,
                "from_account_id": e.from_account_id,
                "to_account_id": e.to_account_id,
                "end_user_account_id": e.end_user_account_id,
                "product_id": e.product_id,
                "invoice_id": e.invoice_id,
                "invoice_time": time_json(e.invoice_time.as_ref()),
                "payment_due_time": time_json(e.payment_due_time.as_ref()),
                "parent_billing_event_id": e.parent_billing_event_id,
                "disbursement_billing_event_id": e.disbursement_billing_event_id,
                "bank_trace_id": e.bank_trace_id,
                "broker_id": e.broker_id,
                "transaction_reference_id": e.transaction_reference_id,
            })
        }).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use souk_proto::common::Money;

    use super::*;

    fn event() -> BillingEvent {
        BillingEvent {
            billing_event_id: "be-1".into(),
            action: BillingAction::Invoiced as i32,
            transaction_type: "SELLER_REV_SHARE".into(),
            amount: Some(Money {
                amount_micros: 12_345_000,
                currency_code: "USD".into(),
            }),
            invoice_id: "inv,1".into(),
            invoice_time: Some(prost_types::Timestamp {
                seconds: 1_793_491_200,
                nanos: 0,
            }),
            ..BillingEvent::default()
        }
    }

    #[test]
    fn days_become_a_half_open_range() {
        assert_eq!(period(None, None), Ok(None));
        let range = period(Some("2026-11-01"), Some("2026-12-01"))
            .unwrap()
            .unwrap();
        assert_eq!(
            range.end_date,
            Some(Date {
                year: 2026,
                month: 12,
                day: 1
            })
        );
        assert!(period(Some("2026-11-31"), None).is_err());
        assert_eq!(
            period(Some("2026-12-01"), Some("2026-12-01")).unwrap_err(),
            "--to must be after --from (--to is exclusive)"
        );
    }

    #[test]
    fn events_print_as_table_csv_and_json() {
        let events = [event()];
        let text = table(&events).render();
        assert!(text.starts_with("INVOICED"), "{text}");
        assert!(text.contains("INVOICED  SELLER_REV_SHARE  USD"), "{text}");
        assert!(text.contains("12.345"), "{text}");
        let csv = events_csv(&events);
        let mut lines = csv.split("\r\n");
        assert_eq!(lines.next(), Some(CSV_COLUMNS.join(",").as_str()));
        let row = lines.next().unwrap();
        assert!(
            row.starts_with("be-1,2026-11-01T00:00:00Z,INVOICED,SELLER_REV_SHARE,USD,12.345,0,"),
            "{row}"
        );
        assert!(row.contains(",\"inv,1\","), "{row}");
        let json = events_json(&events);
        assert_eq!(json["billing_events"][0]["amount_micros"], 12_345_000);
        assert_eq!(json["billing_events"][0]["action"], "INVOICED");
    }
}
