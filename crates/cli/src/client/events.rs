//! `souk events tail`: the organisation's lifecycle events from
//! `souk.events.v1.EventService/WatchEvents`, printed as they arrive.

use std::io::{IsTerminal, Write};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};
use souk_proto::events::event_service_client::EventServiceClient;
use souk_proto::events::{Event, Subject, WatchEventsRequest, WatchEventsResponse, event};

use super::output::{time, time_json};
use super::{authenticated_channel, call};
use crate::args::{EventsCommand, OutputFormat, TailArgs};
use crate::exit::{Failure, Kind};

/// Runs an `events` subcommand.
pub async fn run(command: EventsCommand) -> anyhow::Result<()> {
    match command {
        EventsCommand::Tail(args) => tail(args).await,
    }
}

/// The `WatchEvents` request of `args`: `""` (new events only) unless `--from-start` (`"0"`)
/// or `--cursor`.
pub fn watch_request(args: &TailArgs) -> WatchEventsRequest {
    let cursor = if args.from_start {
        "0".to_owned()
    } else {
        args.cursor.clone().unwrap_or_default()
    };
    WatchEventsRequest {
        cursor,
        types: args.types.clone(),
    }
}

async fn tail(args: TailArgs) -> anyhow::Result<()> {
    let format = args.client.output;
    let (channel, auth) = authenticated_channel(&args.client).await?;
    let mut client = EventServiceClient::with_interceptor(channel, auth);
    let mut stream = call(client.watch_events(watch_request(&args))).await?;
    if std::io::stderr().is_terminal() {
        eprintln!("waiting for events (Ctrl-C to stop)");
    }
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            // No signal handler: run until the stream ends or --count.
            std::future::pending::<()>().await;
        }
    };
    tokio::pin!(ctrl_c);
    let mut printed: u64 = 0;
    let mut last_cursor: Option<String> = None;
    while args.count.is_none_or(|count| printed < count) {
        let next = tokio::select! {
            () = &mut ctrl_c => break,
            next = stream.message() => next,
        };
        let response = match next {
            Ok(Some(response)) => response,
            Ok(None) => {
                let mut message = "the server closed the event stream".to_owned();
                if let Some(cursor) = &last_cursor {
                    message.push_str(&format!("; resume with --cursor {cursor}"));
                }
                return Err(Failure::new(Kind::Unavailable, message).into());
            }
            Err(status) => {
                resume_hint(format, last_cursor.as_deref());
                return Err(Failure::from_status(&status).into());
            }
        };
        let text = match format {
            OutputFormat::Table => event_line(&response),
            OutputFormat::Json => event_json(&response).to_string(),
        };
        if !print_line(&text)? {
            // The reader went away (`souk events tail | head -1`): nothing left to do.
            return Ok(());
        }
        printed += 1;
        last_cursor = Some(response.cursor);
    }
    resume_hint(format, last_cursor.as_deref());
    Ok(())
}

/// Prints `text` and a newline to stdout at once (the reader may be waiting for it); false when
/// stdout is a closed pipe.
fn print_line(text: &str) -> anyhow::Result<bool> {
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{text}").and_then(|()| stdout.flush()) {
        Ok(()) => Ok(true),
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(error) => Err(anyhow::Error::new(error).context("cannot write to stdout")),
    }
}

/// `resume with --cursor <cursor>` on stderr for people (table output) once events were
/// printed; JSON lines carry each event's cursor already.
fn resume_hint(format: OutputFormat, last_cursor: Option<&str>) {
    if let (OutputFormat::Table, Some(cursor)) = (format, last_cursor) {
        eprintln!("resume with --cursor {cursor}");
    }
}

/// Widest event type, so that the columns after it line up.
const TYPE_WIDTH: usize = 35;

/// One table line: time, type, integration, event id, then the subject's ids (`-` for none).
pub fn event_line(response: &WatchEventsResponse) -> String {
    let none = Event::default();
    let event = response.event.as_ref().unwrap_or(&none);
    let when = time(event.occurred_at.as_ref());
    let subject: Vec<String> = subject_ids(event.subject.as_ref())
        .into_iter()
        .map(|(key, _, id)| format!("{key}={id}"))
        .collect();
    let line = format!(
        "{when}  {kind:<TYPE_WIDTH$}  {integration}  {id}  {subject}",
        kind = event.r#type,
        integration = or_dash(&event.integration_id),
        id = or_dash(&event.id),
        subject = if subject.is_empty() {
            "-".to_owned()
        } else {
            subject.join(" ")
        },
    );
    line.trim_end().to_owned()
}

fn or_dash(text: &str) -> &str {
    if text.is_empty() { "-" } else { text }
}

/// The subject's ids that are set: short name (table), field name (JSON), id.
fn subject_ids(subject: Option<&Subject>) -> Vec<(&'static str, &'static str, &str)> {
    let Some(s) = subject else { return Vec::new() };
    [
        ("customer", "customer_id", s.customer_id.as_str()),
        (
            "subscription",
            "subscription_id",
            s.subscription_id.as_str(),
        ),
        ("agreement", "agreement_id", s.agreement_id.as_str()),
        ("offer", "offer_id", s.offer_id.as_str()),
        ("product", "product_code", s.product_code.as_str()),
        ("license", "license_arn", s.license_arn.as_str()),
        ("account", "aws_account_id", s.aws_account_id.as_str()),
    ]
    .into_iter()
    .filter(|(_, _, id)| !id.is_empty())
    .collect()
}

/// One NDJSON object: `{"cursor", "id", "type", "occurred_at", "organization_id",
/// "integration_id", "subject": {<the ids that are set>}, "data"}`, where `data` is the payload
/// as `{"type_url", "value": <base64 protobuf>}` (`null` without a payload).
pub fn event_json(response: &WatchEventsResponse) -> Value {
    let none = Event::default();
    let event = response.event.as_ref().unwrap_or(&none);
    let subject: Map<String, Value> = subject_ids(event.subject.as_ref())
        .into_iter()
        .map(|(_, field, id)| (field.to_owned(), json!(id)))
        .collect();
    json!({
        "cursor": response.cursor,
        "id": event.id,
        "type": event.r#type,
        "occurred_at": time_json(event.occurred_at.as_ref()),
        "organization_id": event.organization_id,
        "integration_id": event.integration_id,
        "subject": subject,
        "data": payload_json(event),
    })
}

/// The payload as an `Any`-like object: the type URL of its message and its protobuf bytes in
/// base64 (`value` is `null` if the encoding cannot be read back).
fn payload_json(event: &Event) -> Value {
    let Some(payload) = &event.payload else {
        return Value::Null;
    };
    json!({
        "type_url": format!("type.googleapis.com/souk.events.v1.{}", payload_message(payload)),
        "value": payload_bytes(payload).map(|bytes| STANDARD.encode(bytes)),
    })
}

/// The message name of the payload: every variant of the oneof is named after its message
/// (`IntegrationCreated(IntegrationCreated { … })`).
fn payload_message(payload: &event::Payload) -> String {
    let debug = format!("{payload:?}");
    debug
        .split(['(', ' ', '{'])
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// The payload message's own protobuf bytes: the oneof encodes as one field (key, length,
/// message), whose key and length are skipped.
fn payload_bytes(payload: &event::Payload) -> Option<Vec<u8>> {
    let mut field = Vec::new();
    payload.encode(&mut field);
    let mut rest = field.as_slice();
    prost::encoding::decode_key(&mut rest).ok()?;
    let len = prost::encoding::decode_varint(&mut rest).ok()?;
    (usize::try_from(len).ok()? == rest.len()).then(|| rest.to_vec())
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use prost_types::Timestamp;
    use souk_proto::events::IntegrationCreated;
    use souk_proto::integration::Integration;

    use super::*;
    use crate::args::{Cli, Command};

    fn parse(line: &str) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(line.split_whitespace())
    }

    fn tail_args(line: &str) -> TailArgs {
        match parse(line).unwrap().command {
            Command::Events(EventsCommand::Tail(args)) => args,
            other => panic!("not events tail: {other:?}"),
        }
    }

    #[test]
    fn tail_arguments_parse() {
        let args = tail_args("souk events tail");
        assert_eq!(watch_request(&args).cursor, "");
        assert!(watch_request(&args).types.is_empty());
        assert_eq!(args.count, None);
        assert_eq!(args.client.output, OutputFormat::Table);

        let cli = parse(
            "souk events tail --type subscription. --type offer.accepted --from-start --count 3 -o json",
        )
        .unwrap();
        assert_eq!(cli.command.output(), OutputFormat::Json);
        let Command::Events(EventsCommand::Tail(args)) = cli.command else {
            panic!("not events tail");
        };
        let request = watch_request(&args);
        assert_eq!(request.cursor, "0");
        assert_eq!(request.types, ["subscription.", "offer.accepted"]);
        assert_eq!(args.count, Some(3));

        let args = tail_args("souk events tail --cursor abc --server http://x:1 --api-key k");
        assert_eq!(watch_request(&args).cursor, "abc");
        assert_eq!(args.client.server, "http://x:1");

        assert!(parse("souk events tail --from-start --cursor abc").is_err());
        assert!(parse("souk events tail --count 0").is_err());
        assert!(parse("souk events tail --count many").is_err());
        assert!(parse("souk events tail --cursor").is_err());
    }

    fn response() -> WatchEventsResponse {
        WatchEventsResponse {
            cursor: "c1".to_owned(),
            event: Some(Event {
                id: "0193a5b0-7c3e-7000-8000-000000000001".to_owned(),
                r#type: "subscription.activated".to_owned(),
                occurred_at: Some(Timestamp {
                    seconds: 1_796_083_200,
                    nanos: 0,
                }),
                organization_id: "org_1".to_owned(),
                integration_id: "int_1".to_owned(),
                subject: Some(Subject {
                    customer_id: "cus_1".to_owned(),
                    subscription_id: "sub_1".to_owned(),
                    ..Subject::default()
                }),
                payload: None,
            }),
        }
    }

    #[test]
    fn table_lines() {
        assert_eq!(
            event_line(&response()),
            "2026-12-01T00:00:00Z  subscription.activated               int_1  \
             0193a5b0-7c3e-7000-8000-000000000001  customer=cus_1 subscription=sub_1"
        );
        let bare = WatchEventsResponse {
            cursor: "c2".to_owned(),
            event: Some(Event {
                id: "e".to_owned(),
                r#type: "integration.api_key_created".to_owned(),
                ..Event::default()
            }),
        };
        assert_eq!(
            event_line(&bare),
            "  integration.api_key_created          -  e  -"
        );
    }

    #[test]
    fn json_lines() {
        let value = event_json(&response());
        assert_eq!(
            value,
            json!({
                "cursor": "c1",
                "id": "0193a5b0-7c3e-7000-8000-000000000001",
                "type": "subscription.activated",
                "occurred_at": "2026-12-01T00:00:00Z",
                "organization_id": "org_1",
                "integration_id": "int_1",
                "subject": {"customer_id": "cus_1", "subscription_id": "sub_1"},
                "data": null,
            })
        );
        // One line of NDJSON.
        assert!(!value.to_string().contains('\n'));
    }

    #[test]
    fn payloads_are_type_urls_and_base64() {
        let mut response = response();
        let event = response.event.as_mut().unwrap();
        event.r#type = "integration.created".to_owned();
        event.payload = Some(event::Payload::IntegrationCreated(IntegrationCreated {
            integration: Some(Integration {
                id: "int_1".to_owned(),
                ..Integration::default()
            }),
        }));
        let data = &event_json(&response)["data"];
        assert_eq!(
            data["type_url"],
            "type.googleapis.com/souk.events.v1.IntegrationCreated"
        );
        // Field 1 (integration) holding field 1 (id) "int_1".
        assert_eq!(data["value"], "CgcKBWludF8x");
    }
}
