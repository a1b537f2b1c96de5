//! `souk usage …`: sending usage (one event, or a CSV file streamed in chunks), the hourly
//! records it becomes, their counts, and sending held records again; and the authenticated
//! client of the metering service the meter commands share.

use std::collections::VecDeque;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use prost_types::Timestamp;
use serde_json::{Value, json};
use souk_proto::metering::metering_service_client::MeteringServiceClient;
use souk_proto::metering::{
    GetMeteringSummaryRequest, HourlyRecord, HourlyRecordStatus, ListUsageRecordsRequest,
    MeteringCounts, RecordUsageRequest, RetryRecordsRequest, StreamUsageRequest,
    StreamUsageResponse, Tag, UsageAllocation, UsageEvent, UsageEventResult, UsageEventStatus,
};
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

use super::output::{Table, emit, enum_name, time, time_json};
use super::{BearerAuth, call, idempotency_key};
use crate::args::{ClientArgs, OutputFormat, RecordStatusArg, RecordUsageArgs, UsageCommand};
use crate::exit::{Failure, Kind};

/// An authenticated client of the metering service.
pub type MeteringClient =
    MeteringServiceClient<tonic::service::interceptor::InterceptedService<Channel, BearerAuth>>;

/// Connects to the server named in `args` with the resolved API key.
pub async fn metering_client(args: &ClientArgs) -> anyhow::Result<MeteringClient> {
    let (channel, auth) = super::authenticated_channel(args).await?;
    Ok(MeteringServiceClient::with_interceptor(channel, auth))
}

/// Runs a `usage` subcommand.
pub async fn run(command: UsageCommand) -> anyhow::Result<()> {
    match command {
        UsageCommand::Record(args) => record(args).await,
        UsageCommand::Upload {
            file,
            chunk,
            client,
        } => upload(&file, chunk as usize, &client).await,
        UsageCommand::List {
            customer,
            dimension,
            statuses,
            page_size,
            page_token,
            client,
        } => {
            let request = ListUsageRecordsRequest {
                customer: customer.unwrap_or_default(),
                dimension: dimension.unwrap_or_default(),
                page_size: page_size.unwrap_or_default(),
                page_token: page_token.unwrap_or_default(),
                statuses: statuses
                    .into_iter()
                    .map(|s| record_status(s) as i32)
                    .collect(),
            };
            list(request, &client).await
        }
        UsageCommand::Summary { client } => summary(&client).await,
        UsageCommand::Retry { ids, client } => retry(ids, &client).await,
    }
}

// --- record ------------------------------------------------------------------------------

async fn record(args: RecordUsageArgs) -> anyhow::Result<()> {
    let timestamp = args.timestamp.unwrap_or_else(OffsetDateTime::now_utc);
    let tags = args
        .tags
        .into_iter()
        .map(|(key, value)| Tag { key, value })
        .collect();
    let event = UsageEvent {
        idempotency_key: args.key.unwrap_or_else(idempotency_key),
        customer: args.customer,
        dimension: args.dimension,
        quantity: args.quantity,
        timestamp: Some(timestamp_of(timestamp)),
        allocations: allocations(args.quantity, tags),
        attributes: Default::default(),
    };
    let mut client = metering_client(&args.client).await?;
    let response = call(client.record_usage(RecordUsageRequest {
        events: vec![event],
    }))
    .await?;
    let result = response.results.into_iter().next().unwrap_or_default();
    let mut table = Table::new(vec!["STATUS", "USAGE ID", "HOUR", "KEY"]);
    table.row(vec![
        event_status(&result),
        result.usage_id.clone(),
        time(result.hour_start.as_ref()),
        result.idempotency_key.clone(),
    ]);
    emit(args.client.output, &table, &result_json(&result));
    Ok(())
}

/// The allocations of an event: the whole quantity to `tags`, or none without tags.
fn allocations(quantity: i64, tags: Vec<Tag>) -> Vec<UsageAllocation> {
    if tags.is_empty() {
        Vec::new()
    } else {
        vec![UsageAllocation { quantity, tags }]
    }
}

fn timestamp_of(at: OffsetDateTime) -> Timestamp {
    Timestamp {
        seconds: at.unix_timestamp(),
        nanos: i32::try_from(at.nanosecond()).unwrap_or_default(),
    }
}

fn event_status(result: &UsageEventResult) -> String {
    enum_name(result.status().as_str_name(), "USAGE_EVENT_STATUS_")
}

fn result_json(result: &UsageEventResult) -> Value {
    json!({
        "idempotency_key": result.idempotency_key,
        "status": event_status(result),
        "usage_id": result.usage_id,
        "hour_start": time_json(result.hour_start.as_ref()),
    })
}

// --- list, summary, retry ----------------------------------------------------------------

fn record_status(arg: RecordStatusArg) -> HourlyRecordStatus {
    match arg {
        RecordStatusArg::Open => HourlyRecordStatus::Open,
        RecordStatusArg::Pending => HourlyRecordStatus::Pending,
        RecordStatusArg::Sent => HourlyRecordStatus::Sent,
        RecordStatusArg::Held => HourlyRecordStatus::Held,
        RecordStatusArg::Failed => HourlyRecordStatus::Failed,
        RecordStatusArg::Carried => HourlyRecordStatus::Carried,
    }
}

fn status_name(record: &HourlyRecord) -> String {
    enum_name(record.status().as_str_name(), "HOURLY_RECORD_STATUS_")
}

/// One page of records; the next page's token is printed after the table (in the document
/// under `--output json`).
async fn list(request: ListUsageRecordsRequest, args: &ClientArgs) -> anyhow::Result<()> {
    let mut client = metering_client(args).await?;
    let page = call(client.list_usage_records(request)).await?;
    match args.output {
        OutputFormat::Table => {
            print!("{}", records_table(&page.records).render());
            if !page.next_page_token.is_empty() {
                println!("\nmore: --page-token {}", page.next_page_token);
            }
        }
        OutputFormat::Json => {
            let value = json!({
                "records": page.records.iter().map(record_json).collect::<Vec<_>>(),
                "next_page_token": page.next_page_token,
            });
            println!("{}", serde_json::to_string_pretty(&value)?);
        }
    }
    Ok(())
}

fn records_table(records: &[HourlyRecord]) -> Table {
    let mut table = Table::new(vec![
        "HOUR",
        "CUSTOMER",
        "DIMENSION",
        "QUANTITY",
        "STATUS",
        "METERING RECORD ID",
        "ATTEMPTS",
        "LAST ERROR",
    ]);
    for record in records {
        table.row(vec![
            time(record.hour_start.as_ref()),
            record.customer_id.clone(),
            record.dimension.clone(),
            record.quantity.to_string(),
            status_name(record),
            record.metering_record_id.clone(),
            record.attempts.to_string(),
            record.last_error.clone(),
        ]);
    }
    table
}

fn record_json(record: &HourlyRecord) -> Value {
    json!({
        "id": record.id,
        "customer_id": record.customer_id,
        "dimension": record.dimension,
        "hour_start": time_json(record.hour_start.as_ref()),
        "quantity": record.quantity,
        "status": status_name(record),
        "metering_record_id": record.metering_record_id,
        "integration_id": record.integration_id,
        "product_code": record.product_code,
        "license_arn": record.license_arn,
        "allocations": record.allocations.iter().map(|a| json!({
            "quantity": a.quantity,
            "tags": a.tags.iter().map(|t| json!({ "key": t.key, "value": t.value })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "attempts": record.attempts,
        "last_error": record.last_error,
        "aws_status": record.aws_status,
        "seal_time": time_json(record.seal_time.as_ref()),
        "send_time": time_json(record.send_time.as_ref()),
        "carried_to": record.carried_to,
    })
}

async fn summary(args: &ClientArgs) -> anyhow::Result<()> {
    let mut client = metering_client(args).await?;
    let summary = call(client.get_metering_summary(GetMeteringSummaryRequest {})).await?;
    let mut table = Table::new(vec![
        "INTEGRATION",
        "PRODUCT",
        "OPEN",
        "PENDING",
        "SENT",
        "HELD",
        "FAILED",
        "CARRIED",
        "OLDEST UNSENT HOUR",
    ]);
    for counts in &summary.counts {
        table.row(vec![
            counts.integration_id.clone(),
            counts.product_code.clone(),
            counts.open.to_string(),
            counts.pending.to_string(),
            counts.sent.to_string(),
            counts.held.to_string(),
            counts.failed.to_string(),
            counts.carried.to_string(),
            time(counts.oldest_unsent_hour_start.as_ref()),
        ]);
    }
    table.row(vec![
        "total".to_owned(),
        String::new(),
        summary.open.to_string(),
        summary.pending.to_string(),
        summary.sent.to_string(),
        summary.held.to_string(),
        summary.failed.to_string(),
        summary.carried.to_string(),
        time(summary.oldest_unsent_hour_start.as_ref()),
    ]);
    let counts_json = |c: &MeteringCounts| {
        json!({
            "integration_id": c.integration_id,
            "product_code": c.product_code,
            "open": c.open,
            "pending": c.pending,
            "sent": c.sent,
            "held": c.held,
            "failed": c.failed,
            "carried": c.carried,
            "oldest_unsent_hour_start": time_json(c.oldest_unsent_hour_start.as_ref()),
        })
    };
    let value = json!({
        "counts": summary.counts.iter().map(counts_json).collect::<Vec<_>>(),
        "open": summary.open,
        "pending": summary.pending,
        "sent": summary.sent,
        "held": summary.held,
        "failed": summary.failed,
        "carried": summary.carried,
        "oldest_unsent_hour_start": time_json(summary.oldest_unsent_hour_start.as_ref()),
    });
    emit(args.output, &table, &value);
    Ok(())
}

async fn retry(record_ids: Vec<String>, args: &ClientArgs) -> anyhow::Result<()> {
    let mut client = metering_client(args).await?;
    let retried = call(client.retry_records(RetryRecordsRequest {
        record_ids,
        idempotency_key: idempotency_key(),
    }))
    .await?
    .retried;
    match args.output {
        OutputFormat::Table => println!("{retried} held record(s) queued to be sent again"),
        OutputFormat::Json => println!("{}", json!({ "retried": retried })),
    }
    Ok(())
}

// --- CSV ---------------------------------------------------------------------------------

/// The columns of an upload file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Key,
    Customer,
    Dimension,
    Quantity,
    Timestamp,
    Tags,
}

const COLUMNS: [(&str, Column); 6] = [
    ("idempotency_key", Column::Key),
    ("customer", Column::Customer),
    ("dimension", Column::Dimension),
    ("quantity", Column::Quantity),
    ("timestamp", Column::Timestamp),
    ("tags", Column::Tags),
];

/// Splits one CSV record (RFC 4180: fields in double quotes may hold commas, line breaks and
/// doubled quotes; unquoted fields are trimmed). `Ok(None)`: a quoted field is still open, the
/// record continues on the next line.
fn split_record(text: &str) -> Result<Option<Vec<String>>, String> {
    let mut fields = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        // At the start of a field.
        while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
            chars.next();
        }
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut field = String::new();
            loop {
                match chars.next() {
                    None => return Ok(None),
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                }
            }
            fields.push(field);
            while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
                chars.next();
            }
            match chars.next() {
                None => return Ok(Some(fields)),
                Some(',') => {}
                Some(c) => {
                    return Err(format!(
                        "unexpected {c:?} after the closing quote of column {}",
                        fields.len()
                    ));
                }
            }
        } else {
            let mut field = String::new();
            loop {
                match chars.next() {
                    None => {
                        fields.push(field.trim().to_owned());
                        return Ok(Some(fields));
                    }
                    Some(',') => break,
                    Some(c) => field.push(c),
                }
            }
            fields.push(field.trim().to_owned());
        }
    }
}

/// A CSV record and the line it starts on; the error is a record that cannot be split.
type Record = (usize, Result<Vec<String>, String>);

/// Reads CSV records, tracking the line each starts on.
struct Records<R> {
    input: R,
    /// Lines read so far.
    line: usize,
}

impl<R: BufRead> Records<R> {
    fn new(input: R) -> Self {
        Self { input, line: 0 }
    }

    /// The next non-blank record and its first line; the inner error is a record that cannot
    /// be split (an unterminated quote).
    fn next_record(&mut self) -> std::io::Result<Option<Record>> {
        let mut text = String::new();
        let mut first = 0;
        loop {
            let mut line = String::new();
            if self.input.read_line(&mut line)? == 0 {
                if text.is_empty() {
                    return Ok(None);
                }
                return Ok(Some((
                    first,
                    Err("a quoted field is not closed before the end of the file".to_owned()),
                )));
            }
            self.line += 1;
            let line = line.trim_end_matches(['\n', '\r']);
            if text.is_empty() {
                if line.trim().is_empty() {
                    continue;
                }
                first = self.line;
            } else {
                text.push('\n');
            }
            text.push_str(line);
            match split_record(&text) {
                Ok(Some(fields)) => return Ok(Some((first, Ok(fields)))),
                Ok(None) => {}
                Err(reason) => return Ok(Some((first, Err(reason)))),
            }
        }
    }
}

/// One event of the file and the line it starts on.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    line: usize,
    event: UsageEvent,
}

/// A row that was not sent, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
struct BadRow {
    line: usize,
    reason: String,
}

/// The events of an upload file, in chunks.
struct UsageCsv<R> {
    records: Records<R>,
    columns: Vec<Column>,
    chunk_size: usize,
    /// Rows not sent so far.
    bad: Vec<BadRow>,
    /// Data rows read so far (sent or not).
    rows: usize,
}

impl<R: BufRead> UsageCsv<R> {
    /// Reads the header; the error (a usage error) names the bad or missing columns.
    fn new(input: R, chunk_size: usize) -> anyhow::Result<Self> {
        let mut records = Records::new(input);
        let usage = |message: String| anyhow::Error::new(Failure::new(Kind::Usage, message));
        let header = match records.next_record()? {
            None => {
                return Err(usage(
                    "the file is empty: expected a header line".to_owned(),
                ));
            }
            Some((line, Err(reason))) => return Err(usage(format!("line {line}: {reason}"))),
            Some((_, Ok(header))) => header,
        };
        let mut columns = Vec::new();
        for name in &header {
            let name = name
                .trim_start_matches('\u{feff}')
                .trim()
                .to_ascii_lowercase();
            let Some((_, column)) = COLUMNS.iter().find(|(known, _)| *known == name) else {
                return Err(usage(format!(
                    "unknown column {name:?} in the header; expected \
                     idempotency_key,customer,dimension,quantity,timestamp[,tags]"
                )));
            };
            if columns.contains(column) {
                return Err(usage(format!(
                    "column {name:?} appears twice in the header"
                )));
            }
            columns.push(*column);
        }
        let missing: Vec<&str> = COLUMNS
            .iter()
            .filter(|(_, column)| *column != Column::Tags && !columns.contains(column))
            .map(|(name, _)| *name)
            .collect();
        if !missing.is_empty() {
            return Err(usage(format!(
                "the header lacks the column(s) {}",
                missing.join(", ")
            )));
        }
        Ok(Self {
            records,
            columns,
            chunk_size: chunk_size.max(1),
            bad: Vec::new(),
            rows: 0,
        })
    }

    /// The next chunk of valid rows (bad rows are set aside in `bad`); `None` at the end.
    fn next_chunk(&mut self) -> std::io::Result<Option<Vec<Row>>> {
        let mut chunk = Vec::new();
        while chunk.len() < self.chunk_size {
            let Some((line, fields)) = self.records.next_record()? else {
                break;
            };
            self.rows += 1;
            match fields.and_then(|fields| self.event(&fields)) {
                Ok(event) => chunk.push(Row { line, event }),
                Err(reason) => self.bad.push(BadRow { line, reason }),
            }
        }
        Ok((!chunk.is_empty()).then_some(chunk))
    }

    fn event(&self, fields: &[String]) -> Result<UsageEvent, String> {
        if fields.len() != self.columns.len() {
            return Err(format!(
                "expected {} columns, found {}",
                self.columns.len(),
                fields.len()
            ));
        }
        let mut event = UsageEvent::default();
        let mut tags = Vec::new();
        for (column, value) in self.columns.iter().zip(fields) {
            let required = |name: &str| {
                if value.is_empty() {
                    Err(format!("{name} is empty"))
                } else {
                    Ok(value.clone())
                }
            };
            match column {
                Column::Key => event.idempotency_key = required("idempotency_key")?,
                Column::Customer => event.customer = required("customer")?,
                Column::Dimension => event.dimension = required("dimension")?,
                Column::Quantity => {
                    event.quantity = value
                        .parse()
                        .map_err(|_| format!("quantity {value:?} is not a whole number"))?;
                }
                Column::Timestamp => {
                    let at = crate::args::parse_rfc3339(value)?;
                    event.timestamp = Some(timestamp_of(at));
                }
                Column::Tags => tags = parse_tags(value)?,
            }
        }
        event.allocations = allocations(event.quantity, tags);
        Ok(event)
    }
}

/// Parses a tags cell: `k=v;k2=v2` (empty: no tags).
fn parse_tags(cell: &str) -> Result<Vec<Tag>, String> {
    cell.split(';')
        .filter(|part| !part.trim().is_empty())
        .map(|part| {
            crate::args::parse_tag(part)
                .map(|(key, value)| Tag { key, value })
                .map_err(|_| format!("tag {part:?} is not KEY=VALUE (tags are k=v;k2=v2)"))
        })
        .collect()
}

/// Counts the data lines of `path` for the progress line (blank lines and the header left out;
/// an estimate when quoted fields span lines).
fn count_rows(path: &Path) -> Option<usize> {
    let file = std::fs::File::open(path).ok()?;
    let mut count = 0usize;
    for line in std::io::BufReader::new(file).lines() {
        if !line.ok()?.trim().is_empty() {
            count += 1;
        }
    }
    Some(count.saturating_sub(1))
}

// --- upload ------------------------------------------------------------------------------

/// Chunks in flight on one stream.
const WINDOW: usize = 4;
/// Consecutive stream failures (unavailable, overloaded) before the upload stops.
const MAX_FAILURES: u32 = 5;

/// A sent chunk not acknowledged yet.
#[derive(Debug, Clone)]
struct Chunk {
    rows: Vec<Row>,
}

impl Chunk {
    fn lines(&self) -> (usize, usize) {
        (
            self.rows.first().map_or(0, |r| r.line),
            self.rows.last().map_or(0, |r| r.line),
        )
    }

    fn request(&self) -> StreamUsageRequest {
        StreamUsageRequest {
            events: self.rows.iter().map(|r| r.event.clone()).collect(),
        }
    }
}

/// One problem of a refused chunk, mapped to the file: `line` is `None` when the server did
/// not name an event.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Problem {
    line: Option<usize>,
    field: String,
    description: String,
}

/// A chunk the server refused (nothing of it was recorded).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Refusal {
    first_line: usize,
    last_line: usize,
    events: usize,
    grpc_code: String,
    message: String,
    problems: Vec<Problem>,
}

/// The index `i` of a field naming `events[i]`, and the rest of the field (`quantity`).
fn event_field(field: &str) -> Option<(usize, &str)> {
    let rest = field.strip_prefix("events[")?;
    let (index, rest) = rest.split_once(']')?;
    let index = index.parse().ok()?;
    Some((index, rest.strip_prefix('.').unwrap_or(rest)))
}

/// Maps the server's refusal of `chunk` to lines of the file: each field violation naming
/// `events[i]` is the line of the chunk's i-th event; without violations, an event whose
/// idempotency key the message quotes (a key reused with other content) is named.
fn refusal(chunk: &Chunk, failure: &Failure) -> Refusal {
    let (first_line, last_line) = chunk.lines();
    let mut problems: Vec<Problem> = failure
        .violations
        .iter()
        .map(|(field, description)| match event_field(field) {
            Some((index, rest)) if index < chunk.rows.len() => Problem {
                line: Some(chunk.rows[index].line),
                field: if rest.is_empty() {
                    field.clone()
                } else {
                    rest.to_owned()
                },
                description: description.clone(),
            },
            _ => Problem {
                line: None,
                field: field.clone(),
                description: description.clone(),
            },
        })
        .collect();
    if problems.is_empty() {
        let words: Vec<&str> = failure
            .message
            .split_whitespace()
            .map(|w| w.trim_matches(|c: char| "\"'`,.;:()[]{}".contains(c)))
            .filter(|w| !w.is_empty())
            .collect();
        for row in &chunk.rows {
            if words.contains(&row.event.idempotency_key.as_str()) {
                problems.push(Problem {
                    line: Some(row.line),
                    field: "idempotency_key".to_owned(),
                    description: failure.message.clone(),
                });
            }
        }
    }
    Refusal {
        first_line,
        last_line,
        events: chunk.rows.len(),
        grpc_code: failure.grpc_code.unwrap_or("UNKNOWN").to_owned(),
        message: failure.message.clone(),
        problems,
    }
}

/// Whether a stream error refuses its chunk (the upload goes on with the next one), may pass
/// (sent again), or stops the upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ErrorKind {
    Refused,
    Transient,
    Fatal,
}

fn classify(code: tonic::Code) -> ErrorKind {
    use tonic::Code as C;
    match code {
        C::InvalidArgument | C::OutOfRange | C::AlreadyExists | C::FailedPrecondition => {
            ErrorKind::Refused
        }
        C::Unavailable | C::ResourceExhausted | C::Aborted | C::DeadlineExceeded => {
            ErrorKind::Transient
        }
        _ => ErrorKind::Fatal,
    }
}

/// What an upload did.
#[derive(Debug, Default)]
struct Outcome {
    recorded: usize,
    duplicates: usize,
    refusals: Vec<Refusal>,
    /// Rows of the file in total when known (for the progress line).
    total: Option<usize>,
    progress_shown: bool,
}

impl Outcome {
    fn refused(&self) -> usize {
        self.refusals.iter().map(|r| r.events).sum()
    }

    fn acknowledge(&mut self, chunk: &Chunk, ack: &StreamUsageResponse) -> anyhow::Result<()> {
        if ack.results.len() != chunk.rows.len() {
            return Err(anyhow::anyhow!(
                "the server acknowledged {} events for the chunk of lines {}-{} ({} events)",
                ack.results.len(),
                chunk.lines().0,
                chunk.lines().1,
                chunk.rows.len()
            ));
        }
        for result in &ack.results {
            match result.status() {
                UsageEventStatus::Duplicate => self.duplicates += 1,
                UsageEventStatus::Recorded | UsageEventStatus::Unspecified => self.recorded += 1,
            }
        }
        Ok(())
    }

    /// Prints the progress line (only when stderr is a terminal).
    fn progress(&mut self, bad_rows: usize) {
        if !std::io::stderr().is_terminal() {
            return;
        }
        let done = self.recorded + self.duplicates + self.refused() + bad_rows;
        let line = match self.total {
            Some(total) if total > 0 => format!(
                "uploaded {done}/{total} events ({}%)",
                done.min(total) * 100 / total
            ),
            _ => format!("uploaded {done} events"),
        };
        let mut stderr = std::io::stderr().lock();
        let _ = write!(stderr, "\r{line}\x1b[K");
        let _ = stderr.flush();
        self.progress_shown = true;
    }

    fn end_progress(&mut self) {
        if self.progress_shown {
            eprintln!();
            self.progress_shown = false;
        }
    }
}

/// Streams the file's events in chunks with StreamUsage. A refused chunk is reported (mapped to
/// the file's lines) and the upload goes on with the next chunk on a new stream; an unavailable
/// or overloaded server is retried (chunks not acknowledged are sent again: idempotency makes
/// that safe); anything else stops the upload.
async fn upload(path: &Path, chunk_size: usize, args: &ClientArgs) -> anyhow::Result<()> {
    let stdin = path.as_os_str() == "-";
    let input: Box<dyn BufRead + Send> = if stdin {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        let file = std::fs::File::open(path).map_err(|error| {
            Failure::new(
                Kind::Usage,
                format!("cannot read {}: {error}", path.display()),
            )
        })?;
        Box::new(std::io::BufReader::with_capacity(1 << 16, file))
    };
    let mut csv = UsageCsv::new(input, chunk_size)?;
    let mut outcome = Outcome {
        total: if !stdin && std::io::stderr().is_terminal() {
            count_rows(path)
        } else {
            None
        },
        ..Outcome::default()
    };
    let client = metering_client(args).await?;
    let result = stream_all(client, &mut csv, &mut outcome).await;
    outcome.end_progress();
    match args.output {
        OutputFormat::Table => {
            print_report(&outcome, &csv.bad, csv.rows);
            result?;
        }
        OutputFormat::Json => {
            // One document on stdout, with the error when the upload stopped.
            let mut value = report_json(&outcome, &csv.bad, csv.rows);
            if let Err(error) = result {
                value["error"] = crate::exit::render_json(&error)["error"].clone();
                println!("{}", serde_json::to_string_pretty(&value)?);
                return Err(Failure {
                    reported: true,
                    ..Failure::new(crate::exit::kind_of(&error), format!("{error:#}"))
                }
                .into());
            }
            println!("{}", serde_json::to_string_pretty(&value)?);
        }
    }
    let refused = outcome.refused();
    if refused + csv.bad.len() > 0 {
        return Err(Failure {
            reported: true,
            ..Failure::new(
                Kind::Invalid,
                format!(
                    "{} of {} events were not recorded (see above)",
                    refused + csv.bad.len(),
                    csv.rows
                ),
            )
        }
        .into());
    }
    Ok(())
}

async fn stream_all<R: BufRead>(
    mut client: MeteringClient,
    csv: &mut UsageCsv<R>,
    outcome: &mut Outcome,
) -> anyhow::Result<()> {
    // Chunks to send (again) before reading on.
    let mut queue: VecDeque<Chunk> = VecDeque::new();
    let mut failures = 0u32;
    'streams: loop {
        let (tx, rx) = mpsc::channel::<StreamUsageRequest>(WINDOW);
        let mut sender = Some(tx);
        let mut inflight: VecDeque<Chunk> = VecDeque::new();
        fill(&mut sender, &mut inflight, &mut queue, csv).await?;
        if inflight.is_empty() {
            return Ok(());
        }
        let status = match client.stream_usage(ReceiverStream::new(rx)).await {
            Err(status) => status,
            Ok(response) => {
                let mut responses = response.into_inner();
                let mut expected = 0i64;
                loop {
                    match responses.message().await {
                        Ok(Some(ack)) => {
                            let Some(chunk) = inflight.pop_front() else {
                                return Err(anyhow::anyhow!(
                                    "the server acknowledged chunk {} that was not sent",
                                    ack.chunk
                                ));
                            };
                            if ack.chunk != expected {
                                return Err(anyhow::anyhow!(
                                    "the server acknowledged chunk {} where chunk {expected} was \
                                     expected",
                                    ack.chunk
                                ));
                            }
                            expected += 1;
                            outcome.acknowledge(&chunk, &ack)?;
                            outcome.progress(csv.bad.len());
                            failures = 0;
                            fill(&mut sender, &mut inflight, &mut queue, csv).await?;
                        }
                        Ok(None) if inflight.is_empty() && sender.is_none() => {
                            if queue.is_empty() {
                                return Ok(());
                            }
                            // A chunk could not be sent on this stream: on to a new one.
                            continue 'streams;
                        }
                        Ok(None) => {
                            break tonic::Status::unavailable(
                                "the server ended the stream before acknowledging every chunk",
                            );
                        }
                        Err(status) => break status,
                    }
                }
            }
        };
        // The stream ended with `status`: it concerns the first chunk not acknowledged.
        drop(sender);
        let failure = Failure::from_status(&status);
        match classify(status.code()) {
            ErrorKind::Refused if !inflight.is_empty() => {
                if let Some(chunk) = inflight.pop_front() {
                    outcome.refusals.push(refusal(&chunk, &failure));
                }
                outcome.progress(csv.bad.len());
                failures = 0;
            }
            ErrorKind::Transient if failures < MAX_FAILURES => {
                failures += 1;
                let pause = std::time::Duration::from_secs(1 << (failures - 1));
                tokio::time::sleep(pause).await;
            }
            _ => {
                let (line, _) = inflight.front().map_or((0, 0), Chunk::lines);
                let context = if line > 0 {
                    format!(
                        "the upload stopped at line {line} ({} events acknowledged; uploading the \
                         file again is safe: events already recorded come back as duplicates)",
                        outcome.recorded + outcome.duplicates
                    )
                } else {
                    "the upload stopped".to_owned()
                };
                return Err(anyhow::Error::new(failure).context(context));
            }
        }
        // Chunks sent after the refused one were dropped with the stream: send them again.
        while let Some(chunk) = inflight.pop_back() {
            queue.push_front(chunk);
        }
    }
}

/// Sends chunks (from `queue` first, then the file) until `WINDOW` are in flight; at the end
/// of the file, closes the request stream.
async fn fill<R: BufRead>(
    sender: &mut Option<mpsc::Sender<StreamUsageRequest>>,
    inflight: &mut VecDeque<Chunk>,
    queue: &mut VecDeque<Chunk>,
    csv: &mut UsageCsv<R>,
) -> anyhow::Result<()> {
    while inflight.len() < WINDOW {
        let Some(tx) = sender.as_ref() else {
            return Ok(());
        };
        let chunk = match queue.pop_front() {
            Some(chunk) => chunk,
            None => match csv.next_chunk()? {
                Some(rows) => Chunk { rows },
                None => {
                    *sender = None;
                    return Ok(());
                }
            },
        };
        if tx.send(chunk.request()).await.is_err() {
            // The stream is gone; its error comes with the responses.
            queue.push_front(chunk);
            *sender = None;
            return Ok(());
        }
        inflight.push_back(chunk);
    }
    Ok(())
}

/// Prints the summary: counts, refused chunks with their lines, rows not sent.
fn print_report(outcome: &Outcome, bad: &[BadRow], rows: usize) {
    println!(
        "rows {rows}: recorded {}, duplicates {}, refused {}, invalid rows {}",
        outcome.recorded,
        outcome.duplicates,
        outcome.refused(),
        bad.len()
    );
    for refusal in &outcome.refusals {
        println!(
            "refused: lines {}-{} ({} events, none recorded): {}",
            refusal.first_line, refusal.last_line, refusal.events, refusal.message
        );
        for problem in &refusal.problems {
            match problem.line {
                Some(line) => println!("  line {line}: {}: {}", problem.field, problem.description),
                None => println!("  {}: {}", problem.field, problem.description),
            }
        }
    }
    for row in bad {
        println!("invalid: line {}: {} (not sent)", row.line, row.reason);
    }
}

/// The summary as one JSON document.
fn report_json(outcome: &Outcome, bad: &[BadRow], rows: usize) -> Value {
    let refusals: Vec<Value> = outcome
        .refusals
        .iter()
        .map(|r| {
            json!({
                "first_line": r.first_line,
                "last_line": r.last_line,
                "events": r.events,
                "grpc_code": r.grpc_code,
                "message": r.message,
                "problems": r.problems.iter().map(|p| json!({
                    "line": p.line,
                    "field": p.field,
                    "description": p.description,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "rows": rows,
        "recorded": outcome.recorded,
        "duplicates": outcome.duplicates,
        "refused": outcome.refused(),
        "invalid_rows": bad.len(),
        "refusals": refusals,
        "invalid": bad
            .iter()
            .map(|b| json!({ "line": b.line, "reason": b.reason }))
            .collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(text: &str, chunk: usize) -> UsageCsv<&[u8]> {
        UsageCsv::new(text.as_bytes(), chunk).unwrap()
    }

    #[test]
    fn records_split_with_quotes_and_line_breaks() {
        assert_eq!(
            split_record("a, b ,\"c,d\",\"say \"\"hi\"\"\",").unwrap(),
            Some(vec![
                "a".into(),
                "b".into(),
                "c,d".into(),
                "say \"hi\"".into(),
                String::new()
            ])
        );
        assert_eq!(split_record("a,\"open").unwrap(), None);
        assert!(split_record("\"a\"b,c").is_err());
        let mut records = Records::new("h1,h2\n\n\"x\ny\",z\r\nlast,1\n".as_bytes());
        assert_eq!(
            records.next_record().unwrap(),
            Some((1, Ok(vec!["h1".into(), "h2".into()])))
        );
        assert_eq!(
            records.next_record().unwrap(),
            Some((3, Ok(vec!["x\ny".into(), "z".into()])))
        );
        assert_eq!(
            records.next_record().unwrap(),
            Some((5, Ok(vec!["last".into(), "1".into()])))
        );
        assert_eq!(records.next_record().unwrap(), None);
    }

    #[test]
    fn rows_become_events_in_chunks_and_bad_rows_keep_their_lines() {
        let text = "\u{feff}Idempotency_Key,customer,dimension,quantity,timestamp,tags\n\
                    k1,cus_1,api,3,2026-06-01T12:30:00Z,team=a;env=prod\n\
                    k2,111122223333,api,x,2026-06-01T12:30:00Z,\n\
                    \n\
                    k3,acct-7,api,5,2026-06-01T12:31:00.5Z,\n\
                    k4,acct-7,api,5,yesterday,\n\
                    k5,acct-7,api,5\n\
                    k6,acct-7,api,1,2026-06-01T13:00:00Z,oops\n\
                    ,acct-7,api,1,2026-06-01T13:00:00Z,\n\
                    k8,acct-7,api,7,2026-06-01T13:00:00+02:00,\n";
        let mut csv = csv(text, 2);
        let first = csv.next_chunk().unwrap().unwrap();
        assert_eq!(
            first.iter().map(|r| r.line).collect::<Vec<_>>(),
            [2, 5],
            "line 3 is bad, line 4 blank"
        );
        let k1 = &first[0].event;
        assert_eq!(k1.idempotency_key, "k1");
        assert_eq!(k1.quantity, 3);
        assert_eq!(
            k1.timestamp,
            Some(Timestamp {
                seconds: 1_780_317_000,
                nanos: 0
            })
        );
        assert_eq!(k1.allocations.len(), 1);
        assert_eq!(k1.allocations[0].quantity, 3);
        assert_eq!(
            k1.allocations[0]
                .tags
                .iter()
                .map(|t| format!("{}={}", t.key, t.value))
                .collect::<Vec<_>>(),
            ["team=a", "env=prod"]
        );
        assert_eq!(
            first[1].event.timestamp.as_ref().unwrap().nanos,
            500_000_000
        );
        assert!(first[1].event.allocations.is_empty());
        let second = csv.next_chunk().unwrap().unwrap();
        assert_eq!(second.iter().map(|r| r.line).collect::<Vec<_>>(), [10]);
        assert_eq!(
            second[0].event.timestamp.as_ref().unwrap().seconds,
            1_780_311_600,
            "offsets are honoured"
        );
        assert!(csv.next_chunk().unwrap().is_none());
        assert_eq!(csv.rows, 8);
        let bad: Vec<(usize, &str)> = csv
            .bad
            .iter()
            .map(|b| (b.line, b.reason.as_str()))
            .collect();
        assert_eq!(bad.len(), 5);
        assert_eq!(bad[0], (3, "quantity \"x\" is not a whole number"));
        assert_eq!(bad[1].0, 6);
        assert!(bad[1].1.contains("RFC 3339"));
        assert_eq!(bad[2], (7, "expected 6 columns, found 4"));
        assert_eq!(bad[3].0, 8);
        assert!(bad[3].1.contains("KEY=VALUE"));
        assert_eq!(bad[4], (9, "idempotency_key is empty"));
    }

    #[test]
    fn headers_are_checked() {
        let error = |text: &str| {
            UsageCsv::new(text.as_bytes(), 10)
                .err()
                .map(|e| (crate::exit::kind_of(&e), e.to_string()))
        };
        let (kind, message) = error("idempotency_key,customer,dimension,quantity\n").unwrap();
        assert_eq!(kind, Kind::Usage);
        assert!(message.contains("timestamp"), "{message}");
        assert!(
            error("idempotency_key,customer,dimension,quantity,timestamp,color\n")
                .unwrap()
                .1
                .contains("\"color\"")
        );
        assert!(error("").is_some());
        assert!(
            error("timestamp,quantity,dimension,customer,idempotency_key\n").is_none(),
            "any order"
        );
        let mut reordered = csv(
            "timestamp,quantity,dimension,customer,idempotency_key\n\
             2026-06-01T12:00:00Z,4,api,cus_1,k\n",
            10,
        );
        let rows = reordered.next_chunk().unwrap().unwrap();
        assert_eq!(rows[0].event.quantity, 4);
        assert_eq!(rows[0].event.customer, "cus_1");
    }

    #[test]
    fn refusals_map_to_the_lines_of_the_file() {
        let mut csv = csv(
            "idempotency_key,customer,dimension,quantity,timestamp\n\
             k1,cus_1,api,1,2026-06-01T12:00:00Z\n\
             bad,cus_1,api,-1,2026-06-01T12:00:00Z\n\
             \n\
             k3,cus_9,api,1,2026-06-01T12:00:00Z\n",
            10,
        );
        let chunk = Chunk {
            rows: csv.next_chunk().unwrap().unwrap(),
        };
        let failure = Failure {
            violations: vec![
                ("events[1].quantity".into(), "must not be negative".into()),
                ("events[2].customer".into(), "unknown customer".into()),
                ("events".into(), "too many".into()),
                ("events[7].quantity".into(), "out of the chunk".into()),
            ],
            grpc_code: Some("INVALID_ARGUMENT"),
            ..Failure::new(Kind::Invalid, "InvalidArgument: bad events")
        };
        let refused = refusal(&chunk, &failure);
        assert_eq!((refused.first_line, refused.last_line), (2, 5));
        assert_eq!(refused.events, 3);
        assert_eq!(refused.grpc_code, "INVALID_ARGUMENT");
        let problems: Vec<(Option<usize>, &str)> = refused
            .problems
            .iter()
            .map(|p| (p.line, p.field.as_str()))
            .collect();
        assert_eq!(
            problems,
            [
                (Some(3), "quantity"),
                (Some(5), "customer"),
                (None, "events"),
                (None, "events[7].quantity"),
            ]
        );
        let reused = Failure::new(
            Kind::Conflict,
            "AlreadyExists: idempotency key \"bad\" was used for other content",
        );
        let refused = refusal(&chunk, &reused);
        assert_eq!(refused.problems.len(), 1);
        assert_eq!(refused.problems[0].line, Some(3));
        assert_eq!(event_field("events[12]"), Some((12, "")));
        assert_eq!(event_field("events[x].quantity"), None);
    }

    #[test]
    fn stream_errors_are_classified() {
        assert_eq!(classify(tonic::Code::InvalidArgument), ErrorKind::Refused);
        assert_eq!(classify(tonic::Code::AlreadyExists), ErrorKind::Refused);
        assert_eq!(
            classify(tonic::Code::FailedPrecondition),
            ErrorKind::Refused
        );
        assert_eq!(
            classify(tonic::Code::ResourceExhausted),
            ErrorKind::Transient
        );
        assert_eq!(classify(tonic::Code::Unimplemented), ErrorKind::Fatal);
        assert_eq!(classify(tonic::Code::Unauthenticated), ErrorKind::Fatal);
    }

    /// A metering server that records chunks in order, refuses a chunk with a negative
    /// quantity (ending the stream, as the contract says) and knows the keys it recorded.
    #[derive(Default, Clone)]
    struct FakeServer {
        keys: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
    }

    #[async_trait::async_trait]
    impl souk_proto::metering::metering_service_server::MeteringService for FakeServer {
        async fn stream_usage(
            &self,
            request: tonic::Request<tonic::Streaming<StreamUsageRequest>>,
        ) -> Result<tonic::Response<tonic::codegen::BoxStream<StreamUsageResponse>>, tonic::Status>
        {
            let mut inbound = request.into_inner();
            let keys = self.keys.clone();
            let (tx, rx) = mpsc::channel(4);
            tokio::spawn(async move {
                let mut chunk = 0;
                while let Ok(Some(request)) = inbound.message().await {
                    if let Some(bad) = request.events.iter().position(|e| e.quantity < 0) {
                        let status = souk_service::status::invalid_argument(vec![
                            souk_core::FieldViolation::new(
                                format!("events[{bad}].quantity"),
                                "must not be negative",
                            ),
                        ]);
                        let _ = tx.send(Err(status)).await;
                        return;
                    }
                    let results = request
                        .events
                        .iter()
                        .map(|e| {
                            let fresh = keys.lock().unwrap().insert(e.idempotency_key.clone());
                            UsageEventResult {
                                idempotency_key: e.idempotency_key.clone(),
                                status: if fresh {
                                    UsageEventStatus::Recorded
                                } else {
                                    UsageEventStatus::Duplicate
                                } as i32,
                                ..UsageEventResult::default()
                            }
                        })
                        .collect();
                    let _ = tx.send(Ok(StreamUsageResponse { chunk, results })).await;
                    chunk += 1;
                }
            });
            Ok(tonic::Response::new(Box::pin(ReceiverStream::new(rx))))
        }
    }

    #[tokio::test]
    async fn a_refused_chunk_is_reported_and_the_rest_is_sent_on_a_new_stream() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(
                    souk_proto::metering::metering_service_server::MeteringServiceServer::new(
                        FakeServer::default(),
                    ),
                )
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let auth = BearerAuth {
            header: "Bearer souk_test".parse().unwrap(),
        };
        let client = MeteringServiceClient::with_interceptor(channel, auth);
        let mut text = String::from("idempotency_key,customer,dimension,quantity,timestamp\n");
        for n in 0..11 {
            let quantity = if n == 3 { -1 } else { n };
            text.push_str(&format!("k{n},cus_1,api,{quantity},2026-06-01T12:00:00Z\n"));
        }
        text.push_str("k-bad,cus_1,api,lots,2026-06-01T12:00:00Z\n");
        for round in 0..2 {
            let mut csv = csv(&text, 2);
            let mut outcome = Outcome::default();
            stream_all(client.clone(), &mut csv, &mut outcome)
                .await
                .unwrap();
            // Line n + 2 holds event n; chunk [k2, k3] (lines 4-5) is refused for line 5.
            let (recorded, duplicates) = if round == 0 { (9, 0) } else { (0, 9) };
            assert_eq!(
                (outcome.recorded, outcome.duplicates),
                (recorded, duplicates)
            );
            assert_eq!(outcome.refused(), 2);
            let refusal = &outcome.refusals[0];
            assert_eq!((refusal.first_line, refusal.last_line), (4, 5));
            assert_eq!(refusal.grpc_code, "INVALID_ARGUMENT");
            assert_eq!(
                refusal.problems,
                [Problem {
                    line: Some(5),
                    field: "quantity".into(),
                    description: "must not be negative".into(),
                }]
            );
            assert_eq!(csv.rows, 12);
            assert_eq!(csv.bad.len(), 1);
            assert_eq!(csv.bad[0].line, 13);
        }
    }
}
