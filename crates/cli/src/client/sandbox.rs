//! `souk sandbox …`: drives the local AWS Marketplace emulator through its control API
//! (`/_souk/…`, HTTP/JSON, see docs/emulator.md) the way a seller's engineer tries a purchase:
//! subscribe a buyer, set its contract, cancel it, move the clock.
//!
//! Emulator errors (`{"Message"}` with `x-amzn-ErrorType`) become [`Failure`]s with the exit code
//! of their HTTP status; a refused connection says how to start the emulator.

use std::collections::BTreeMap;

use http::Method;
use prost_types::Timestamp;
use serde_json::{Value, json};

use super::output::{Table, emit};
use crate::args::{DimensionValue, OutputFormat, SandboxCommand, SetEntitlementsArgs};
use crate::emulator_control::EmulatorClient;
use crate::exit::{Failure, Kind};

/// The form field carrying the registration token.
const TOKEN_FIELD: &str = "x-amzn-marketplace-token";

/// Runs a `sandbox` subcommand.
pub async fn run(command: SandboxCommand) -> anyhow::Result<()> {
    match command {
        SandboxCommand::Subscribe {
            product,
            account,
            offer_id,
            free_trial,
            emulator,
        } => {
            let mut body = json!({
                "product_code": product,
                "customer_aws_account_id": account,
                "free_trial": free_trial,
            });
            if let Some(offer_id) = offer_id {
                body["offer_id"] = json!(offer_id);
            }
            let answer = EmulatorClient::new(&emulator.emulator_url)?
                .call(Method::POST, "/_souk/subscribe", Some(&body))
                .await?;
            match emulator.output {
                OutputFormat::Table => print!("{}", subscribe_text(&answer)),
                OutputFormat::Json => print_json(&answer),
            }
            Ok(())
        }
        SandboxCommand::Unsubscribe {
            product,
            account,
            emulator,
        } => {
            let body = json!({ "product_code": product, "customer_aws_account_id": account });
            let answer = EmulatorClient::new(&emulator.emulator_url)?
                .call(Method::POST, "/_souk/unsubscribe", Some(&body))
                .await?;
            let subscription = &answer["subscription"];
            emit(emulator.output, &subscription_table(subscription), &answer);
            if emulator.output == OutputFormat::Table {
                println!("{}", unsubscribe_hint(subscription));
            }
            Ok(())
        }
        SandboxCommand::SetEntitlements(args) => set_entitlements(args).await,
        SandboxCommand::AdvanceClock { by, emulator } => {
            let client = EmulatorClient::new(&emulator.emulator_url)?;
            client
                .call(
                    Method::POST,
                    "/_souk/clock/advance",
                    Some(&json!({ "seconds": by })),
                )
                .await?;
            let clock = client.call(Method::GET, "/_souk/clock", None).await?;
            emit(emulator.output, &clock_table(&clock), &clock);
            Ok(())
        }
        SandboxCommand::Ledger {
            product,
            account,
            dimension,
            emulator,
        } => {
            let query: String = [
                ("product_code", product),
                ("customer_aws_account_id", account),
                ("dimension", dimension),
            ]
            .into_iter()
            .filter_map(|(name, value)| value.map(|v| format!("{name}={v}&")))
            .collect();
            let ledger = EmulatorClient::new(&emulator.emulator_url)?
                .call(
                    Method::GET,
                    &format!("/_souk/metering/ledger?{query}"),
                    None,
                )
                .await?;
            emit(emulator.output, &ledger_table(&ledger), &ledger);
            Ok(())
        }
        SandboxCommand::Clock { emulator } => {
            let clock = EmulatorClient::new(&emulator.emulator_url)?
                .call(Method::GET, "/_souk/clock", None)
                .await?;
            emit(emulator.output, &clock_table(&clock), &clock);
            Ok(())
        }
    }
}

/// One row per billed record, then the total.
fn ledger_table(ledger: &Value) -> Table {
    let mut table = Table::new(vec![
        "HOUR",
        "PRODUCT",
        "CUSTOMER",
        "DIMENSION",
        "QUANTITY",
        "METERING RECORD ID",
    ]);
    for record in ledger["records"].as_array().into_iter().flatten() {
        let customer = [
            &record["customer_aws_account_id"],
            &record["customer_identifier"],
        ]
        .into_iter()
        .map(text)
        .find(|c| !c.is_empty())
        .unwrap_or_default();
        table.row(vec![
            text(&record["hour_start"]),
            text(&record["product_code"]),
            customer,
            text(&record["dimension"]),
            text(&record["quantity"]),
            text(&record["metering_record_id"]),
        ]);
    }
    table.row(vec![
        "total".into(),
        String::new(),
        String::new(),
        String::new(),
        text(&ledger["total_quantity"]),
        String::new(),
    ]);
    table
}

async fn set_entitlements(args: SetEntitlementsArgs) -> anyhow::Result<()> {
    let mut body = json!({
        "product_code": args.product,
        "customer_aws_account_id": args.account,
        "values": values_object(&args.values)?,
    });
    if let Some(expiration) = args.expiration {
        body["expiration"] = expiration;
    }
    let answer = EmulatorClient::new(&args.emulator.emulator_url)?
        .call(Method::POST, "/_souk/entitlements", Some(&body))
        .await?;
    let mut table = Table::new(vec!["DIMENSION", "VALUE", "EXPIRES"]);
    for entitlement in answer["entitlements"].as_array().into_iter().flatten() {
        table.row(vec![
            text(&entitlement["dimension"]),
            text(&entitlement["value"]),
            epoch_text(&entitlement["expiration"]),
        ]);
    }
    emit(args.emulator.output, &table, &answer);
    Ok(())
}

/// The `values` member: one typed value per dimension; a dimension given twice is a usage error.
fn values_object(values: &[DimensionValue]) -> anyhow::Result<Value> {
    let mut object = BTreeMap::new();
    for DimensionValue { dimension, value } in values {
        if object.insert(dimension.clone(), value.clone()).is_some() {
            return Err(
                Failure::new(Kind::Usage, format!("--value {dimension}=… is given twice")).into(),
            );
        }
    }
    Ok(json!(object))
}

fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

/// A JSON value as a table cell: strings without quotes, `null` as empty.
fn text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Epoch seconds as RFC 3339; empty when absent.
fn epoch_text(value: &Value) -> String {
    value.as_i64().map_or_else(String::new, |seconds| {
        super::output::time(Some(&Timestamp { seconds, nanos: 0 }))
    })
}

/// A shell word in single quotes (safe to paste whatever it holds).
fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// What `subscribe` prints: the buyer, its token, and the fulfilment POST its browser would
/// make, ready to run with curl.
fn subscribe_text(answer: &Value) -> String {
    let subscription = &answer["subscription"];
    let fulfillment = &answer["fulfillment"];
    let token = text(&answer["registration_token"]);
    let url = text(&fulfillment["url"]);
    let mut fields: Vec<(String, String)> = fulfillment["fields"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, value)| (name.clone(), text(value)))
        .collect();
    // The token first, as a browser sends it; the others in the emulator's order.
    fields.sort_by_key(|(name, _)| name != TOKEN_FIELD);

    let mut out = String::new();
    let mut line = |label: &str, value: String| {
        if !value.is_empty() {
            out.push_str(&format!("{label:<20}{value}\n"));
        }
    };
    line("customer account:", text(&subscription["aws_account_id"]));
    line("product:", text(&subscription["product_code"]));
    line("agreement:", text(&subscription["agreement_id"]));
    line("offer:", text(&subscription["offer_id"]));
    line("licence:", text(&subscription["license_arn"]));
    if subscription["free_trial"] == json!(true) {
        line("free trial:", "yes".to_owned());
    }
    line("registration token:", token);

    out.push_str("\nfulfilment request the buyer's browser would make (nothing was opened):\n");
    let method = text(&fulfillment["method"]);
    out.push_str(&format!("  method:        {method}\n"));
    out.push_str(&format!("  URL:           {url}\n"));
    out.push_str(&format!(
        "  content type:  {}\n",
        text(&fulfillment["content_type"])
    ));
    out.push_str("  form fields:\n");
    let width = fields.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    for (name, value) in &fields {
        out.push_str(&format!("    {name:<width$}  {value}\n"));
    }

    let mut curl = format!("curl -i -X {method} {}", shell_quote(&url));
    for (name, value) in &fields {
        curl.push_str(&format!(
            " --data-urlencode {}",
            shell_quote(&format!("{name}={value}"))
        ));
    }
    out.push_str(&format!("\nto make it yourself:\n  {curl}\n"));
    out
}

/// One emulator subscription as a table.
fn subscription_table(subscription: &Value) -> Table {
    let status = &subscription["status"];
    let mut table = Table::new(vec!["PRODUCT", "ACCOUNT", "AGREEMENT", "STATE", "ENDS"]);
    table.row(vec![
        text(&subscription["product_code"]),
        text(&subscription["aws_account_id"]),
        text(&subscription["agreement_id"]),
        text(&status["state"]),
        epoch_text(&status["ends_at"]),
    ]);
    table
}

/// What happens next after an unsubscribe.
fn unsubscribe_hint(subscription: &Value) -> String {
    let ends = epoch_text(&subscription["status"]["ends_at"]);
    if ends.is_empty() {
        return "\nunsubscribe-pending sent".to_owned();
    }
    format!(
        "\nunsubscribe-pending sent; metering is accepted until {ends} (emulator time), then \
         unsubscribe-success follows (`souk sandbox advance-clock 1h` gets there now)"
    )
}

/// The emulator's time and how far ahead of the wall clock it runs.
fn clock_table(clock: &Value) -> Table {
    let ahead = clock["offset_seconds"]
        .as_i64()
        .map(duration_text)
        .unwrap_or_default();
    let mut table = Table::new(vec!["EMULATOR TIME", "AHEAD OF WALL CLOCK"]);
    table.row(vec![text(&clock["now"]), ahead]);
    table
}

/// Seconds as `1d2h3m4s` (`0s` for zero; negative with a leading `-`).
fn duration_text(seconds: i64) -> String {
    if seconds == 0 {
        return "0s".to_owned();
    }
    let sign = if seconds < 0 { "-" } else { "" };
    let mut rest = seconds.unsigned_abs();
    let mut out = sign.to_owned();
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        let amount = rest / size;
        rest %= size;
        if amount > 0 {
            out.push_str(&format!("{amount}{unit}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{parse_dimension_value, parse_duration};

    fn subscribe_answer(free_trial: bool) -> Value {
        let mut fields = json!({ "x-amzn-marketplace-token": "tok+en/1=" });
        if free_trial {
            fields["x-amzn-marketplace-offer-type"] = json!("free-trial");
        }
        json!({
            "subscription": {
                "product_code": "souk-demo",
                "aws_account_id": "111122223333",
                "customer_identifier": "abc",
                "license_arn": "",
                "agreement_id": "agmt-1",
                "offer_id": null,
                "free_trial": free_trial,
                "status": { "state": "active" },
                "subscribed_at": 0,
            },
            "registration_token": "tok+en/1=",
            "fulfillment": {
                "method": "POST",
                "url": "http://localhost:8080/aws/fulfillment",
                "content_type": "application/x-www-form-urlencoded",
                "fields": fields,
                "body": "",
            },
        })
    }

    #[test]
    fn subscribe_prints_the_fulfilment_request_and_a_curl_line() {
        let text = subscribe_text(&subscribe_answer(true));
        assert!(text.contains("customer account:   111122223333\n"));
        assert!(text.contains("registration token: tok+en/1=\n"));
        assert!(text.contains("  URL:           http://localhost:8080/aws/fulfillment\n"));
        assert!(text.contains("    x-amzn-marketplace-token       tok+en/1=\n"));
        assert!(text.contains("free trial:"));
        assert!(text.ends_with(
            "  curl -i -X POST 'http://localhost:8080/aws/fulfillment' \
             --data-urlencode 'x-amzn-marketplace-token=tok+en/1=' \
             --data-urlencode 'x-amzn-marketplace-offer-type=free-trial'\n"
        ));
        assert!(!subscribe_text(&subscribe_answer(false)).contains("offer-type"));
    }

    #[test]
    fn shell_words_are_quoted() {
        assert_eq!(shell_quote("http://h:1/p"), "'http://h:1/p'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("x=$HOME"), "'x=$HOME'");
        assert_eq!(shell_quote(""), "''");
    }

    #[tokio::test]
    async fn control_calls_reach_the_emulator() {
        let running = souk_emulator::spawn(souk_emulator::EmulatorConfig::default())
            .await
            .unwrap();
        let client = EmulatorClient::new(&running.url).unwrap();
        let before = client
            .call(Method::GET, "/_souk/clock", None)
            .await
            .unwrap();
        client
            .call(
                Method::POST,
                "/_souk/clock/advance",
                Some(&json!({ "seconds": parse_duration("1h30m").unwrap() })),
            )
            .await
            .unwrap();
        let after = client
            .call(Method::GET, "/_souk/clock", None)
            .await
            .unwrap();
        let moved =
            after["epoch_seconds"].as_i64().unwrap() - before["epoch_seconds"].as_i64().unwrap();
        assert!((5400..5460).contains(&moved), "moved {moved}s");
        assert_eq!(clock_table(&after).render().lines().count(), 2);

        let error = client
            .call(
                Method::POST,
                "/_souk/subscribe",
                Some(&json!({ "product_code": "nope", "customer_aws_account_id": "111122223333" })),
            )
            .await
            .unwrap_err();
        assert_eq!(crate::exit::kind_of(&error), Kind::NotFound);

        let values = [
            parse_dimension_value("seats=10").unwrap(),
            parse_dimension_value("premium=true").unwrap(),
        ];
        assert_eq!(
            values_object(&values).unwrap(),
            json!({ "premium": true, "seats": 10 })
        );
        let twice = [
            parse_dimension_value("seats=10").unwrap(),
            parse_dimension_value("seats=11").unwrap(),
        ];
        assert_eq!(
            crate::exit::kind_of(&values_object(&twice).unwrap_err()),
            Kind::Usage
        );
    }

    #[test]
    fn durations_print_compactly() {
        assert_eq!(duration_text(0), "0s");
        assert_eq!(duration_text(5400), "1h30m");
        assert_eq!(duration_text(93_784), "1d2h3m4s");
        assert_eq!(duration_text(-60), "-1m");
    }
}
