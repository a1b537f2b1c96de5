//! Ingestion figures of the reporting service, beside a floor measured in the same run on the
//! same database:
//!
//! 1. the floor: the rows of a generated `billing_event` file, already parsed into plain
//!    values (the 29 columns of `billing_events`), written by multi-row `INSERT`s, one
//!    transaction per 10,000 rows, no conflict handling, into `floor_billing_events`, a table
//!    of the same columns, key and `at` index as `billing_events` (migration 501; not the two
//!    settlement indexes of 504, so the floor writes less than Souk) in the same database; rows per
//!    statement are the fastest of 5, 10, 25, 100, 400 and 1000 on the first 20,000 rows (measured
//!    first, each into a fresh table: SQLite binds `$N` parameters in time quadratic in their
//!    number, so big statements are slow there), or `BENCH_FLOOR_BATCH`;
//! 2. Souk: the same file served as one object by an in-memory `FeedBucket` and read by
//!    `ReportingApp::ingestion().ingest` over the real `SqlStore`: list, get, `parse_each` with
//!    each row typed by `BillingEvent::from_row` as it is read, `store_file` (chunked upserts,
//!    the whole file in one transaction), end to end; rows/s and the ratio to the floor;
//! 3. the same ingestion again with `full_resync` (every file read again, nothing changed);
//! 4. the revenue report over the data, grouped by month and customer, its sums checked
//!    against the generated rows;
//! 5. a diagnostic: the steps of one ingestion timed apart on a fresh database (bucket copy,
//!    parse, type, store, freeing the parsed rows).
//!
//! The file is generated as the emulator writes it (`crates/emulator/src/feeds`): history
//! columns first, every field quoted, ISO timestamps, currency before amount, 40-hex ids,
//! `account_id` GUIDs; INVOICED SELLER_REV_SHARE / AWS_REV_SHARE pairs of ~1,000 buyers (each
//! paying in one of 3 currencies), 20 products, over the 12 months of 2025, with refunds
//! (SELLER_REV_SHARE_REFUND / AWS_REV_SHARE_REFUND pairs) and disbursements (a DISBURSED row per
//! paid row and a DISBURSEMENT row). A small `account` file maps the accounts' GUIDs to AWS
//! account ids, the seller's to 111122223333, the account of the integration's role.
//!
//! `cargo run --release -p souk-reporting --example bench_ingest`
//! (`BENCH_ROWS`, default 1000000; `BENCH_FLOOR_BATCH` fixes the floor's rows per statement;
//! `BENCH_STEPS=0` skips the step diagnostic; `BENCH_SQLITE=0` skips SQLite, `BENCH_POSTGRES=0`
//! PostgreSQL; PostgreSQL from `SOUK_TEST_DATABASE_URL`,
//! default `postgres://postgres@127.0.0.1:5432/test`, a fresh database per backend). Targets
//! are printed as PASS or MISS, never asserted.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use souk_auth::{IntegrationRole, RoleAssumer, RoleAssumerOptions};
use souk_core::money::decimal;
use souk_core::{Id, MillisClock, SharedClock, SystemClock};
use souk_events::{EventFactory, Namespace};
use souk_reporting::aws::{FeedSource, IntegrationFeeds};
use souk_reporting::domain::billing_event::BillingEvent;
use souk_reporting::domain::feed::Feed;
use souk_reporting::domain::filter::Filter;
use souk_reporting::domain::parse::parse_file;
use souk_reporting::domain::ports::{
    Acting, CallError, FeedBucket, FeedObject, FileRows, Store as _,
};
use souk_reporting::domain::revenue::Grouping;
use souk_reporting::store::{SqlStore, migrations};
use souk_reporting::{AppOptions, ReportingApp, ReportingConfig, STORE_NAME};
use souk_store::{Args, Backend, Store};
use souk_testkit::TestDb;
use time::{Date, Month, OffsetDateTime};

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The seller: the account of the integration's role.
const SELLER_AWS_ACCOUNT: &str = "111122223333";
const ROLE_ARN: &str = "arn:aws:iam::111122223333:role/x";
/// AWS's own account, which receives the listing fee.
const AWS_ACCOUNT: &str = "999988887777";
const BUYERS: usize = 1000;
const PRODUCTS: usize = 20;
const CURRENCIES: [&str; 3] = ["USD", "EUR", "GBP"];
const YEAR: i32 = 2025;
/// Listing fee, basis points.
const FEE_BPS: i64 = 300;
const BROKER: &str = "AWS_INC";
const BILLING_KEY: &str = "billing_event_v1/year=2025/month=12/data.csv";
const ACCOUNT_KEY: &str = "account_v1/year=2025/month=12/data.csv";
/// Rows per floor transaction.
const FLOOR_PER_TX: usize = 10_000;
/// Statement sizes (rows) tried for the floor, and on how many rows.
const FLOOR_SIZES: &[usize] = &[5, 10, 25, 100, 400, 1000];
const CALIBRATION_ROWS: usize = 20_000;

/// The `billing_event` columns as the emulator writes them (history first, currency before
/// amount).
const FILE_COLUMNS: &[&str] = &[
    "valid_from",
    "insert_date",
    "update_date",
    "delete_date",
    "billing_event_id",
    "from_account_id",
    "to_account_id",
    "end_user_account_id",
    "product_id",
    "action",
    "transaction_type",
    "parent_billing_event_id",
    "disbursement_billing_event_id",
    "currency",
    "amount",
    "balance_impacting",
    "invoice_date",
    "payment_due_date",
    "usage_period_start_date",
    "usage_period_end_date",
    "invoice_id",
    "billing_address_id",
    "transaction_reference_id",
    "bank_trace_id",
    "broker_id",
    "agreement_id",
    "offer_id",
    "usage_quantity",
];

const ACCOUNT_COLUMNS: &[&str] = &[
    "valid_from",
    "insert_date",
    "update_date",
    "delete_date",
    "account_id",
    "aws_account_id",
    "encrypted_account_id",
    "mailing_address_id",
    "tax_address_id",
    "tax_registration_number",
    "tax_legal_name",
];

/// The columns of `billing_events` (and of the floor's table), in the store's order.
const TABLE_COLUMNS: &[&str] = &[
    "organization_id",
    "integration_id",
    "billing_event_id",
    "valid_from",
    "update_date",
    "delete_date",
    "at",
    "month",
    "action",
    "transaction_type",
    "amount_micros",
    "currency",
    "balance_impacting",
    "from_account_id",
    "to_account_id",
    "end_user_account_id",
    "product_id",
    "invoice_id",
    "invoice_at",
    "payment_due_at",
    "usage_start",
    "usage_end",
    "parent_billing_event_id",
    "disbursement_billing_event_id",
    "transaction_reference_id",
    "bank_trace_id",
    "broker_id",
    "agreement_id",
    "offer_id",
];

/// `billing_events` of migration 501 (without the indexes of 504), renamed.
const FLOOR_TABLE: &str = "CREATE TABLE floor_billing_events (
    organization_id TEXT NOT NULL,
    integration_id TEXT NOT NULL,
    billing_event_id TEXT NOT NULL,
    valid_from BIGINT NOT NULL,
    update_date BIGINT NOT NULL,
    delete_date BIGINT,
    at BIGINT NOT NULL,
    month TEXT NOT NULL,
    action TEXT NOT NULL,
    transaction_type TEXT NOT NULL,
    amount_micros BIGINT NOT NULL,
    currency TEXT NOT NULL,
    balance_impacting BIGINT NOT NULL,
    from_account_id TEXT NOT NULL,
    to_account_id TEXT NOT NULL,
    end_user_account_id TEXT NOT NULL,
    product_id TEXT NOT NULL,
    invoice_id TEXT NOT NULL,
    invoice_at BIGINT,
    payment_due_at BIGINT,
    usage_start TEXT,
    usage_end TEXT,
    parent_billing_event_id TEXT,
    disbursement_billing_event_id TEXT,
    transaction_reference_id TEXT NOT NULL,
    bank_trace_id TEXT NOT NULL,
    broker_id TEXT NOT NULL,
    agreement_id TEXT,
    offer_id TEXT,
    PRIMARY KEY (integration_id, billing_event_id)
)";
const FLOOR_INDEX: &str =
    "CREATE INDEX floor_billing_events_at ON floor_billing_events (integration_id, at)";

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn env_usize(name: &str, default: usize) -> usize {
    usize::try_from(env_number(name, default as u64)).unwrap_or(default)
}

/// splitmix64: a cheap deterministic random stream.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// 40 hex characters, as AWS's billing event ids.
    fn hex40(&mut self) -> String {
        format!(
            "{:016x}{:016x}{:08x}",
            self.next(),
            self.next(),
            self.next() >> 32
        )
    }

    /// A GUID-shaped id, as the feeds' `account_id`.
    fn guid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xffff,
            b >> 48,
            b & 0xffff_ffff_ffff
        )
    }

    /// `n` lowercase letters and digits.
    fn word(&mut self, n: usize) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        (0..n)
            .map(|_| char::from(ALPHABET[self.below(ALPHABET.len())]))
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// The data: one generated billing_event file, the same rows as plain values, an account file.

fn iso(at: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

fn millis(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// `amount`'s share of `bps` basis points, rounded half away from zero.
fn share(amount: i64, bps: i64) -> i64 {
    let product = amount * bps;
    if product >= 0 {
        (product + 5_000) / 10_000
    } else {
        (product - 5_000) / 10_000
    }
}

/// One billing event, as the emulator models it before rendering.
#[derive(Clone)]
struct Event {
    billing_event_id: String,
    inserted_at: OffsetDateTime,
    from_account_id: String,
    to_account_id: String,
    end_user_account_id: String,
    product_id: String,
    action: &'static str,
    transaction_type: &'static str,
    parent_billing_event_id: Option<String>,
    disbursement_billing_event_id: Option<String>,
    currency: &'static str,
    amount_micros: i64,
    balance_impacting: bool,
    invoice_date: Option<OffsetDateTime>,
    payment_due_date: Option<OffsetDateTime>,
    usage_period: Option<(OffsetDateTime, OffsetDateTime)>,
    invoice_id: String,
    transaction_reference_id: String,
    bank_trace_id: String,
    agreement_id: Option<String>,
    offer_id: Option<String>,
    usage_quantity: Option<String>,
}

/// A row of `billing_events` as plain values (what `SqlStore` binds for it), less the
/// organisation and integration.
struct FloorRow {
    billing_event_id: String,
    valid_from: i64,
    update_date: i64,
    at: i64,
    month: String,
    action: &'static str,
    transaction_type: &'static str,
    amount_micros: i64,
    currency: &'static str,
    balance_impacting: i64,
    from_account_id: String,
    to_account_id: String,
    end_user_account_id: String,
    product_id: String,
    invoice_id: String,
    invoice_at: Option<i64>,
    payment_due_at: Option<i64>,
    usage_start: Option<String>,
    usage_end: Option<String>,
    parent_billing_event_id: Option<String>,
    disbursement_billing_event_id: Option<String>,
    transaction_reference_id: String,
    bank_trace_id: String,
    agreement_id: Option<String>,
    offer_id: Option<String>,
}

impl FloorRow {
    fn of(e: &Event) -> Self {
        let at = e.invoice_date.unwrap_or(e.inserted_at);
        Self {
            billing_event_id: e.billing_event_id.clone(),
            valid_from: millis(e.inserted_at),
            update_date: millis(e.inserted_at),
            at: millis(at),
            month: format!("{:04}-{:02}", at.year(), u8::from(at.month())),
            action: e.action,
            transaction_type: e.transaction_type,
            amount_micros: e.amount_micros,
            currency: e.currency,
            balance_impacting: i64::from(e.balance_impacting),
            from_account_id: e.from_account_id.clone(),
            to_account_id: e.to_account_id.clone(),
            end_user_account_id: e.end_user_account_id.clone(),
            product_id: e.product_id.clone(),
            invoice_id: e.invoice_id.clone(),
            invoice_at: e.invoice_date.map(millis),
            payment_due_at: e.payment_due_date.map(millis),
            usage_start: e.usage_period.map(|(s, _)| s.date().to_string()),
            usage_end: e.usage_period.map(|(_, end)| end.date().to_string()),
            parent_billing_event_id: e.parent_billing_event_id.clone(),
            disbursement_billing_event_id: e.disbursement_billing_event_id.clone(),
            transaction_reference_id: e.transaction_reference_id.clone(),
            bank_trace_id: e.bank_trace_id.clone(),
            agreement_id: e.agreement_id.clone(),
            offer_id: e.offer_id.clone(),
        }
    }

    /// `(placeholders)` of the row's 29 values, bound into `args`.
    fn values(&self, args: &mut Args, acting: &Acting) -> String {
        fn opt_text(args: &mut Args, value: &Option<String>) -> String {
            value
                .as_ref()
                .map_or_else(|| "NULL".to_owned(), |v| args.text(v.as_str()))
        }
        fn opt_int(args: &mut Args, value: Option<i64>) -> String {
            value.map_or_else(|| "NULL".to_owned(), |v| args.int(v))
        }
        let values = [
            args.text(acting.organization_id.as_str()),
            args.text(acting.integration_id.as_str()),
            args.text(self.billing_event_id.as_str()),
            args.int(self.valid_from),
            args.int(self.update_date),
            "NULL".to_owned(),
            args.int(self.at),
            args.text(self.month.as_str()),
            args.text(self.action),
            args.text(self.transaction_type),
            args.int(self.amount_micros),
            args.text(self.currency),
            args.int(self.balance_impacting),
            args.text(self.from_account_id.as_str()),
            args.text(self.to_account_id.as_str()),
            args.text(self.end_user_account_id.as_str()),
            args.text(self.product_id.as_str()),
            args.text(self.invoice_id.as_str()),
            opt_int(args, self.invoice_at),
            opt_int(args, self.payment_due_at),
            opt_text(args, &self.usage_start),
            opt_text(args, &self.usage_end),
            opt_text(args, &self.parent_billing_event_id),
            opt_text(args, &self.disbursement_billing_event_id),
            args.text(self.transaction_reference_id.as_str()),
            args.text(self.bank_trace_id.as_str()),
            args.text(BROKER),
            opt_text(args, &self.agreement_id),
            opt_text(args, &self.offer_id),
        ];
        format!("({})", values.join(", "))
    }
}

/// Appends one CSV line, every field quoted (the generated values hold no quotes).
fn push_line<'a>(out: &mut Vec<u8>, fields: impl IntoIterator<Item = &'a str>) {
    let mut first = true;
    for field in fields {
        if !first {
            out.push(b',');
        }
        first = false;
        out.push(b'"');
        out.extend_from_slice(field.as_bytes());
        out.push(b'"');
    }
    out.push(b'\n');
}

/// What the generated data should sum to, per currency.
#[derive(Default, Clone, Copy)]
struct Expected {
    /// INVOICED SELLER_REV_SHARE paid to the seller.
    gross: i64,
    /// Minus the INVOICED AWS_REV_SHARE rows the seller pays.
    listing_fee: i64,
    /// Minus the INVOICED SELLER_REV_SHARE_REFUND rows.
    refunds: i64,
    /// DISBURSED DISBURSEMENT rows.
    disbursed: i64,
}

struct Data {
    billing_csv: Vec<u8>,
    account_csv: Vec<u8>,
    floor: Vec<FloorRow>,
    expected: BTreeMap<&'static str, Expected>,
    counts: BTreeMap<(&'static str, &'static str), u64>,
}

struct Writer {
    csv: Vec<u8>,
    floor: Vec<FloorRow>,
    expected: BTreeMap<&'static str, Expected>,
    counts: BTreeMap<(&'static str, &'static str), u64>,
    limit: usize,
}

impl Writer {
    fn full(&self) -> bool {
        self.floor.len() >= self.limit
    }

    fn emit(&mut self, e: &Event) {
        if self.full() {
            return;
        }
        let inserted = iso(e.inserted_at);
        let amount = decimal(e.amount_micros);
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        let at = |v: Option<OffsetDateTime>| v.map(iso).unwrap_or_default();
        let fields = [
            inserted.clone(),
            inserted.clone(),
            inserted,
            String::new(),
            e.billing_event_id.clone(),
            e.from_account_id.clone(),
            e.to_account_id.clone(),
            e.end_user_account_id.clone(),
            e.product_id.clone(),
            e.action.to_owned(),
            e.transaction_type.to_owned(),
            opt(&e.parent_billing_event_id),
            opt(&e.disbursement_billing_event_id),
            e.currency.to_owned(),
            amount,
            if e.balance_impacting { "1" } else { "0" }.to_owned(),
            at(e.invoice_date),
            at(e.payment_due_date),
            at(e.usage_period.map(|(s, _)| s)),
            at(e.usage_period.map(|(_, end)| end)),
            e.invoice_id.clone(),
            String::new(),
            e.transaction_reference_id.clone(),
            e.bank_trace_id.clone(),
            BROKER.to_owned(),
            opt(&e.agreement_id),
            opt(&e.offer_id),
            opt(&e.usage_quantity),
        ];
        push_line(&mut self.csv, fields.iter().map(String::as_str));
        self.floor.push(FloorRow::of(e));
        *self
            .counts
            .entry((e.action, e.transaction_type))
            .or_default() += 1;
        let expected = self.expected.entry(e.currency).or_default();
        match (e.action, e.transaction_type) {
            ("INVOICED", "SELLER_REV_SHARE") => expected.gross += e.amount_micros,
            ("INVOICED", "AWS_REV_SHARE") => expected.listing_fee -= e.amount_micros,
            ("INVOICED", "SELLER_REV_SHARE_REFUND") => expected.refunds -= e.amount_micros,
            ("DISBURSED", "DISBURSEMENT") => expected.disbursed += e.amount_micros,
            _ => {}
        }
    }
}

struct Buyer {
    account_id: String,
    aws_account_id: String,
    currency: &'static str,
}

struct Product {
    product_id: String,
    offer_id: String,
}

/// An invoiced charge that may still be refunded or disbursed.
struct Charge {
    revenue: Event,
    fee: Event,
    refunded: bool,
}

/// A random instant of month `month` (0-11) of [`YEAR`].
fn instant_in(rng: &mut Rng, month: usize) -> OffsetDateTime {
    let month =
        Month::try_from(u8::try_from(month % 12 + 1).unwrap_or(1)).unwrap_or(Month::January);
    let day = u8::try_from(1 + rng.below(28)).unwrap_or(1);
    let start = Date::from_calendar_date(YEAR, month, day)
        .unwrap_or(Date::MIN)
        .midnight()
        .assume_utc();
    start + time::Duration::seconds(i64::try_from(rng.below(86_400)).unwrap_or(0))
}

fn generate(rows: usize) -> Data {
    let mut rng = Rng(0x5eed_0f50_u64);
    let seller = rng.guid();
    let aws = rng.guid();
    let buyers: Vec<Buyer> = (0..BUYERS)
        .map(|i| Buyer {
            account_id: rng.guid(),
            aws_account_id: format!("{:012}", 200_000_000_000u64 + i as u64 * 7_919),
            // 60% USD, 20% EUR, 20% GBP.
            currency: CURRENCIES[[0, 0, 0, 1, 2][i % 5]],
        })
        .collect();
    let products: Vec<Product> = (0..PRODUCTS)
        .map(|_| Product {
            product_id: format!("prod-{}", rng.word(13)),
            offer_id: format!("offer-{}", rng.word(13)),
        })
        .collect();

    let mut out = Writer {
        csv: Vec::with_capacity(rows * 620),
        floor: Vec::with_capacity(rows),
        expected: BTreeMap::new(),
        counts: BTreeMap::new(),
        limit: rows,
    };
    push_line(&mut out.csv, FILE_COLUMNS.iter().copied());
    // Charges not yet disbursed, oldest first.
    let mut pending: VecDeque<Charge> = VecDeque::new();
    while !out.full() {
        // Chronological: the month follows the progress through the file.
        let month = out.floor.len() * 12 / rows.max(1);
        let now = instant_in(&mut rng, month);
        let roll = rng.below(100);
        if roll < 4 && !pending.is_empty() {
            // A refund of a pending charge, in full or half.
            let i = rng.below(pending.len());
            let charge = &mut pending[i];
            if !charge.refunded {
                charge.refunded = true;
                let original = &charge.revenue;
                let amount = if rng.below(2) == 0 {
                    original.amount_micros
                } else {
                    original.amount_micros / 2
                };
                let refund_id = format!("refund-{}", rng.word(16));
                let seller_refund = Event {
                    billing_event_id: rng.hex40(),
                    from_account_id: original.to_account_id.clone(),
                    to_account_id: original.from_account_id.clone(),
                    transaction_type: "SELLER_REV_SHARE_REFUND",
                    parent_billing_event_id: Some(original.billing_event_id.clone()),
                    amount_micros: -amount,
                    invoice_date: Some(now),
                    payment_due_date: Some(now),
                    invoice_id: refund_id,
                    transaction_reference_id: rng.hex40(),
                    inserted_at: now,
                    ..original.clone()
                };
                let fee_refund = Event {
                    billing_event_id: rng.hex40(),
                    from_account_id: aws.clone(),
                    to_account_id: original.to_account_id.clone(),
                    transaction_type: "AWS_REV_SHARE_REFUND",
                    parent_billing_event_id: Some(charge.fee.billing_event_id.clone()),
                    amount_micros: share(amount, FEE_BPS),
                    ..seller_refund.clone()
                };
                out.emit(&seller_refund);
                out.emit(&fee_refund);
                continue;
            }
        }
        if roll < 12
            && let Some(charge) = pending.pop_front()
        {
            // A disbursement of the oldest pending charge: a DISBURSED row per paid row, and
            // the DISBURSEMENT itself.
            let disbursement_id = rng.hex40();
            for original in [&charge.revenue, &charge.fee] {
                out.emit(&Event {
                    billing_event_id: rng.hex40(),
                    action: "DISBURSED",
                    parent_billing_event_id: Some(original.billing_event_id.clone()),
                    disbursement_billing_event_id: Some(disbursement_id.clone()),
                    amount_micros: -original.amount_micros,
                    inserted_at: now,
                    ..original.clone()
                });
            }
            let paid = charge.revenue.amount_micros + charge.fee.amount_micros;
            out.emit(&Event {
                billing_event_id: disbursement_id.clone(),
                inserted_at: now,
                from_account_id: aws.clone(),
                to_account_id: seller.clone(),
                end_user_account_id: seller.clone(),
                product_id: String::new(),
                action: "DISBURSED",
                transaction_type: "DISBURSEMENT",
                parent_billing_event_id: None,
                disbursement_billing_event_id: None,
                currency: charge.revenue.currency,
                amount_micros: paid,
                balance_impacting: false,
                invoice_date: None,
                payment_due_date: None,
                usage_period: None,
                invoice_id: String::new(),
                transaction_reference_id: rng.hex40(),
                bank_trace_id: format!("souk-{}", &disbursement_id[..20]),
                agreement_id: None,
                offer_id: None,
                usage_quantity: None,
            });
            continue;
        }
        // A charge: the buyer pays the seller, the seller pays AWS its listing fee.
        let buyer = &buyers[rng.below(buyers.len())];
        let product = &products[rng.below(products.len())];
        let amount = i64::try_from(1 + rng.below(500_000)).unwrap_or(1) * 10_000;
        let usage = rng.below(2) == 0;
        let month_start = Date::from_calendar_date(YEAR, now.month(), 1)
            .unwrap_or(Date::MIN)
            .midnight()
            .assume_utc();
        let revenue = Event {
            billing_event_id: rng.hex40(),
            inserted_at: now,
            from_account_id: buyer.account_id.clone(),
            to_account_id: seller.clone(),
            end_user_account_id: buyer.account_id.clone(),
            product_id: product.product_id.clone(),
            action: "INVOICED",
            transaction_type: "SELLER_REV_SHARE",
            parent_billing_event_id: None,
            disbursement_billing_event_id: None,
            currency: buyer.currency,
            amount_micros: amount,
            balance_impacting: true,
            invoice_date: Some(now),
            payment_due_date: Some(now + time::Duration::days(30)),
            usage_period: usage.then(|| (month_start, month_start + time::Duration::days(27))),
            invoice_id: format!("inv-{}", rng.word(16)),
            transaction_reference_id: rng.hex40(),
            bank_trace_id: String::new(),
            agreement_id: Some(format!("agmt-{}", rng.word(25))),
            offer_id: Some(product.offer_id.clone()),
            usage_quantity: usage.then(|| decimal(amount / 100)),
        };
        let fee = Event {
            billing_event_id: rng.hex40(),
            from_account_id: seller.clone(),
            to_account_id: aws.clone(),
            transaction_type: "AWS_REV_SHARE",
            amount_micros: -share(amount, FEE_BPS),
            ..revenue.clone()
        };
        out.emit(&revenue);
        out.emit(&fee);
        pending.push_back(Charge {
            revenue,
            fee,
            refunded: false,
        });
    }

    let mut account_csv = Vec::new();
    push_line(&mut account_csv, ACCOUNT_COLUMNS.iter().copied());
    let since = iso(instant_in(&mut rng, 0));
    let accounts = [
        (seller.as_str(), SELLER_AWS_ACCOUNT),
        (aws.as_str(), AWS_ACCOUNT),
    ]
    .into_iter()
    .chain(
        buyers
            .iter()
            .map(|b| (b.account_id.as_str(), b.aws_account_id.as_str())),
    );
    for (account_id, aws_account_id) in accounts {
        push_line(
            &mut account_csv,
            [
                since.as_str(),
                since.as_str(),
                since.as_str(),
                "",
                account_id,
                aws_account_id,
                "",
                "",
                "",
                "",
                "",
            ],
        );
    }
    Data {
        billing_csv: out.csv,
        account_csv,
        floor: out.floor,
        expected: out.expected,
        counts: out.counts,
    }
}

// ---------------------------------------------------------------------------------------------
// The outside world: a bucket in memory, the integration's role.

/// A data feed bucket in memory; objects are added as the benchmark goes.
#[derive(Default)]
struct MemoryBucket {
    objects: Mutex<Vec<(FeedObject, Arc<Vec<u8>>)>>,
}

impl MemoryBucket {
    fn put(&self, key: &str, etag: &str, bytes: Arc<Vec<u8>>) {
        let object = FeedObject {
            key: key.to_owned(),
            etag: etag.to_owned(),
            size: bytes.len() as u64,
            last_modified: Some(OffsetDateTime::now_utc()),
        };
        let mut objects = self.objects.lock().unwrap_or_else(|e| e.into_inner());
        objects.retain(|(o, _)| o.key != key);
        objects.push((object, bytes));
    }
}

#[async_trait]
impl FeedBucket for MemoryBucket {
    async fn list(&self, _acting: &Acting) -> Result<Vec<FeedObject>, CallError> {
        Ok(self
            .objects
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(o, _)| o.clone())
            .collect())
    }

    async fn get(&self, _acting: &Acting, object: &FeedObject) -> Result<Vec<u8>, CallError> {
        let bytes = self
            .objects
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|(o, _)| o.key == object.key)
            .map(|(_, bytes)| Arc::clone(bytes));
        match bytes {
            // A body is read into a fresh buffer, as from S3.
            Some(bytes) => Ok(bytes.as_ref().clone()),
            None => Err(CallError::Refused {
                code: "NoSuchKey".into(),
                message: object.key.clone(),
            }),
        }
    }
}

/// Every integration reads the bench bucket as the role of account 111122223333.
struct BenchFeeds;

#[async_trait]
impl IntegrationFeeds for BenchFeeds {
    async fn feed_source(
        &self,
        _organization_id: &Id,
        integration_id: &Id,
    ) -> Result<Option<FeedSource>, String> {
        Ok(Some(FeedSource {
            role: IntegrationRole {
                integration_id: integration_id.to_string(),
                role_arn: ROLE_ARN.to_owned(),
                external_id: "souk-bench".to_owned(),
                region: "us-east-1".to_owned(),
            },
            bucket: "souk-bench-feeds".to_owned(),
        }))
    }
}

// ---------------------------------------------------------------------------------------------
// Measurements.

struct Memory {
    peak_mb: f64,
    resident_mb: f64,
}

fn memory() -> Option<Memory> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb = |name: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    Some(Memory {
        peak_mb: kb("VmHWM:")? / 1024.0,
        resident_mb: kb("VmRSS:")? / 1024.0,
    })
}

/// Resets the peak RSS (`VmHWM`) to the current RSS (Linux `clear_refs` 5).
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn memory_line() -> String {
    memory().map_or_else(
        || "unknown".to_owned(),
        |m| format!("RSS {:.0} MB (peak {:.0} MB)", m.resident_mb, m.peak_mb),
    )
}

fn per_second(rows: usize, took: Duration) -> f64 {
    rows as f64 / took.as_secs_f64().max(1e-9)
}

fn verdict(pass: bool) -> &'static str {
    if pass { "PASS" } else { "MISS" }
}

fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "PostgreSQL",
        Backend::Sqlite => "SQLite",
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The floor table, created afresh under `name`.
async fn floor_table(store: &Store, name: &str) -> BenchResult<()> {
    let statements = [
        format!("DROP TABLE IF EXISTS {name}"),
        FLOOR_TABLE.replace("floor_billing_events", name),
        FLOOR_INDEX.replace("floor_billing_events", name),
    ];
    for statement in statements {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(store.pool())
            .await?;
    }
    Ok(())
}

/// Plain multi-row INSERTs of `batch` rows into `table`, a transaction per [`FLOOR_PER_TX`]
/// rows.
async fn insert_plain(
    store: &Store,
    table: &str,
    acting: &Acting,
    rows: &[FloorRow],
    batch: usize,
) -> BenchResult<Duration> {
    let columns = TABLE_COLUMNS.join(", ");
    let started = Instant::now();
    for part in rows.chunks(FLOOR_PER_TX) {
        let mut tx = store.begin_write().await?;
        for chunk in part.chunks(batch) {
            let mut args = Args::default();
            let values: Vec<String> = chunk.iter().map(|r| r.values(&mut args, acting)).collect();
            let sql = format!(
                "INSERT INTO {table} ({columns}) VALUES {}",
                values.join(", ")
            );
            args.query(sql).execute(&mut *tx).await?;
        }
        tx.commit().await?;
    }
    Ok(started.elapsed())
}

/// The fastest statement size of `sizes` for the first [`CALIBRATION_ROWS`] rows (each into a
/// fresh table), with the rates seen.
async fn calibrate(
    store: &Store,
    acting: &Acting,
    rows: &[FloorRow],
    sizes: &[usize],
) -> BenchResult<(usize, Vec<(usize, f64)>)> {
    let sample = &rows[..rows.len().min(CALIBRATION_ROWS)];
    let mut seen = Vec::new();
    for &size in sizes {
        floor_table(store, "floor_calibration").await?;
        let took = insert_plain(store, "floor_calibration", acting, sample, size).await?;
        seen.push((size, per_second(sample.len(), took)));
    }
    sqlx::query("DROP TABLE IF EXISTS floor_calibration")
        .execute(store.pool())
        .await?;
    let best = seen
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map_or(1000, |(size, _)| *size);
    Ok((best, seen))
}

async fn count_rows(store: &Store, table: &str) -> BenchResult<i64> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM {table}"
    )))
    .fetch_one(store.pool())
    .await?;
    Ok(souk_store::row::int(&row, "n")?)
}

struct Figures {
    backend: Backend,
    rows: usize,
    floor: Duration,
    souk: Duration,
    resync: Duration,
    report: Duration,
    report_again: Duration,
    report_rows: usize,
    sums_match: bool,
    rss_before_mb: f64,
    peak_mb: f64,
}

impl Figures {
    fn ratio(&self) -> f64 {
        per_second(self.rows, self.souk) / per_second(self.rows, self.floor).max(1e-9)
    }
}

async fn run_backend(
    backend: Backend,
    data: &Data,
    acting: &Acting,
    floor_batch: Option<usize>,
) -> BenchResult<Figures> {
    let rows = data.floor.len();
    let db = TestDb::new(backend).await?;
    let store = db.store(STORE_NAME).await?;
    let bucket = Arc::new(MemoryBucket::default());
    let app = ReportingApp::new(
        store.clone(),
        Arc::new(BenchFeeds),
        RoleAssumer::with_static_credentials(
            "AKIDSOUKREPORTINGBENCH",
            "unused",
            RoleAssumerOptions::default(),
        ),
        ReportingConfig::default(),
        AppOptions {
            bucket: Some(bucket.clone()),
            ..AppOptions::default()
        },
    )
    .await?;

    let floor_batch = match floor_batch {
        Some(batch) => batch,
        None => {
            let (best, seen) = calibrate(&store, acting, &data.floor, FLOOR_SIZES).await?;
            println!(
                "  floor statement size: {best} rows, the fastest of {} on the first \
                 {CALIBRATION_ROWS} rows",
                seen.iter()
                    .map(|(size, rate)| format!("{size}: {rate:.0} rows/s"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            best
        }
    };
    floor_table(&store, "floor_billing_events").await?;
    let floor_took = insert_plain(
        &store,
        "floor_billing_events",
        acting,
        &data.floor,
        floor_batch,
    )
    .await?;
    let floor_rows = count_rows(&store, "floor_billing_events").await?;
    println!(
        "  floor: {rows} rows by multi-row INSERT ({floor_batch} rows a statement, {FLOOR_PER_TX} a \
         transaction) in {:.2} s: {:.0} rows/s ({floor_rows} rows in the table)",
        floor_took.as_secs_f64(),
        per_second(rows, floor_took)
    );

    // The account file first (small), then the billing file alone.
    bucket.put(
        ACCOUNT_KEY,
        "\"account-1\"",
        Arc::new(data.account_csv.clone()),
    );
    let accounts = app.ingestion().ingest(acting, false).await?;
    println!(
        "  account file: {} rows stored, {} rejected",
        accounts.rows, accounts.rejected_rows
    );
    bucket.put(
        BILLING_KEY,
        "\"billing-1\"",
        Arc::new(data.billing_csv.clone()),
    );

    let before = memory();
    let reset = reset_peak();
    let started = Instant::now();
    let first = app.ingestion().ingest(acting, false).await?;
    let souk_took = started.elapsed();
    let after = memory();
    let stored = count_rows(&store, "billing_events").await?;
    println!(
        "  Souk ingest (list, get, parse, type, upsert in one transaction): {} rows stored, {} \
         rejected, {} unchanged files skipped, in {:.2} s: {:.0} rows/s ({:.2} of floor; {stored} \
         rows in billing_events)",
        first.rows,
        first.rejected_rows,
        first.unchanged_files,
        souk_took.as_secs_f64(),
        per_second(rows, souk_took),
        per_second(rows, souk_took) / per_second(rows, floor_took).max(1e-9)
    );
    for (file, row) in first.rejected.iter().take(3) {
        println!("    rejected {file} line {}: {}", row.line, row.reason);
    }
    let (rss_before_mb, peak_mb) = match (&before, &after) {
        (Some(b), Some(a)) => {
            println!(
                "  memory: RSS {:.0} MB before the ingest (the data held by the benchmark), {} \
                 {:.0} MB during it, RSS {:.0} MB after",
                b.resident_mb,
                if reset {
                    "peak"
                } else {
                    "process peak (not resettable)"
                },
                a.peak_mb,
                a.resident_mb
            );
            (b.resident_mb, a.peak_mb)
        }
        _ => (0.0, 0.0),
    };

    let started = Instant::now();
    let again = app.ingestion().ingest(acting, true).await?;
    let resync_took = started.elapsed();
    println!(
        "  re-ingest, full_resync, nothing changed: {} files read, {} rows changed, in {:.2} s",
        again.files,
        again.rows,
        resync_took.as_secs_f64()
    );

    let grouping = [Grouping::Month, Grouping::Customer];
    let started = Instant::now();
    let report = app.reports().revenue(acting, None, None, &grouping).await?;
    let report_took = started.elapsed();
    let started = Instant::now();
    let report_again = app.reports().revenue(acting, None, None, &grouping).await?;
    let report_again_took = started.elapsed();
    let mut sums: BTreeMap<String, Expected> = BTreeMap::new();
    let mut months = std::collections::BTreeSet::new();
    let mut customers = std::collections::BTreeSet::new();
    for row in &report.rows {
        let sum = sums.entry(row.currency.clone()).or_default();
        sum.gross += row.gross_micros;
        sum.listing_fee += row.listing_fee_micros;
        sum.refunds += row.refund_micros;
        sum.disbursed += row.disbursed_micros;
        months.insert(row.period.clone());
        customers.insert(row.customer_aws_account_id.clone());
    }
    println!(
        "  revenue report by month and customer: {} rows ({} months, {} customers) in {:.3} s \
         (again {:.3} s)",
        report.rows.len(),
        months.len(),
        customers.len(),
        report_took.as_secs_f64(),
        report_again_took.as_secs_f64()
    );
    // The same report for one customer, and for a reseller (its transactions looked up in one
    // scan): filters applied in SQL.
    let one = report
        .rows
        .iter()
        .find(|r| r.gross_micros > 0)
        .map(|r| r.customer_aws_account_id.clone())
        .unwrap_or_default();
    for (what, filter) in [
        (
            "one customer",
            Filter {
                customer_aws_account_ids: vec![one],
                ..Filter::default()
            },
        ),
        (
            "a reseller",
            Filter {
                reseller_aws_account_ids: vec!["999999999999".to_owned()],
                ..Filter::default()
            },
        ),
    ] {
        let started = Instant::now();
        let filtered = app
            .reports()
            .filtered_revenue(acting, None, None, &grouping, &filter)
            .await?;
        println!(
            "  revenue report by month and customer for {what}: {} rows in {:.3} s",
            filtered.rows.len(),
            started.elapsed().as_secs_f64()
        );
    }
    let mut sums_match = report.rows == report_again.rows && !report.rows.is_empty();
    for (currency, want) in &data.expected {
        let got = sums.get(*currency).copied().unwrap_or_default();
        let same = got.gross == want.gross
            && got.listing_fee == want.listing_fee
            && got.refunds == want.refunds
            && got.disbursed == want.disbursed
            && got.gross > 0;
        sums_match &= same;
        println!(
            "    {currency}: gross {}, listing fee {}, refunds {}, disbursed {} (generated: {}, {}, \
             {}, {})  {}",
            decimal(got.gross),
            decimal(got.listing_fee),
            decimal(got.refunds),
            decimal(got.disbursed),
            decimal(want.gross),
            decimal(want.listing_fee),
            decimal(want.refunds),
            decimal(want.disbursed),
            verdict(same)
        );
    }
    store.close().await;
    db.cleanup().await?;
    Ok(Figures {
        backend,
        rows,
        floor: floor_took,
        souk: souk_took,
        resync: resync_took,
        report: report_took,
        report_again: report_again_took,
        report_rows: report.rows.len(),
        sums_match,
        rss_before_mb,
        peak_mb,
    })
}

/// The steps of one ingestion timed apart, on a fresh database: the bucket's copy, parse, type,
/// store (`SqlStore::store_file`), freeing the parsed rows.
async fn steps(backend: Backend, data: &Data, acting: &Acting) -> BenchResult<()> {
    let db = TestDb::new(backend).await?;
    let store = db.store(STORE_NAME).await?;
    store.migrate(migrations()).await?;
    let clock: SharedClock = Arc::new(MillisClock(Arc::new(SystemClock)));
    let sql = SqlStore::new(
        store.clone(),
        EventFactory::new(clock.clone(), Namespace::default()),
        clock,
    );
    let object = FeedObject {
        key: BILLING_KEY.to_owned(),
        etag: "\"billing-1\"".to_owned(),
        size: data.billing_csv.len() as u64,
        last_modified: None,
    };
    let rows = data.floor.len();
    let mut total = Duration::ZERO;
    let mut step = |name: &str, took: Duration| {
        total += took;
        println!(
            "    {name:<44} {:>7.2} s  ({:.0} rows/s)",
            took.as_secs_f64(),
            per_second(rows, took)
        );
    };

    let started = Instant::now();
    let bytes = data.billing_csv.clone();
    step("get (the bucket's copy of the file)", started.elapsed());

    let started = Instant::now();
    let parsed = parse_file(Feed::BillingEvent, &bytes)?;
    step("parse_file (CSV to FeedRows)", started.elapsed());

    let started = Instant::now();
    let mut events = Vec::new();
    let mut rejected = parsed.rejected;
    for row in &parsed.rows {
        match BillingEvent::from_row(row) {
            Ok(event) => events.push(event),
            Err(reason) => rejected.push(souk_reporting::domain::row::RejectedRow {
                line: row.line,
                reason,
            }),
        }
    }
    step("BillingEvent::from_row (type)", started.elapsed());

    let started = Instant::now();
    let stored = sql
        .store_file(
            acting,
            FileRows {
                object: &object,
                feed: Feed::BillingEvent,
                rows: &parsed.rows,
                billing_events: &events,
                rejected: &rejected,
            },
            OffsetDateTime::now_utc(),
        )
        .await?;
    step("SqlStore::store_file (upserts, one tx)", started.elapsed());

    let started = Instant::now();
    drop(events);
    drop(parsed.rows);
    drop(bytes);
    step("free the file, its rows and events", started.elapsed());
    println!(
        "    {:<44} {:>7.2} s  ({stored} rows stored, {} rejected)",
        "total",
        total.as_secs_f64(),
        rejected.len()
    );
    store.close().await;
    db.cleanup().await?;
    Ok(())
}

#[tokio::main]
async fn main() -> BenchResult<()> {
    let rows = env_usize("BENCH_ROWS", 1_000_000).max(2);
    let floor_batch = std::env::var("BENCH_FLOOR_BATCH")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .map(|batch| batch.clamp(1, 1000));
    let with_steps = env_number("BENCH_STEPS", 1) != 0;
    let sqlite = env_number("BENCH_SQLITE", 1) != 0;
    let postgres = env_number("BENCH_POSTGRES", 1) != 0;
    let load_at_start = load_average();

    let started = Instant::now();
    let data = generate(rows);
    println!(
        "reporting ingestion: a billing_event file of {rows} rows ({:.0} MB: {}), {BUYERS} buyers, \
         {PRODUCTS} products, {} currencies, 12 months; generated in {:.1} s; {} cores, load \
         average {load_at_start}; {}",
        data.billing_csv.len() as f64 / 1e6,
        data.counts
            .iter()
            .map(|((action, kind), n)| format!("{n} {action} {kind}"))
            .collect::<Vec<_>>()
            .join(", "),
        CURRENCIES.len(),
        started.elapsed().as_secs_f64(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        memory_line()
    );
    println!(
        "Souk stack: ReportingApp (SqlStore, Ingestion, Reports with RoleSellerAccounts) with an \
         in-memory FeedBucket; the database server on the same machine"
    );
    let acting = Acting {
        organization_id: Id::generate("org"),
        integration_id: Id::generate("int"),
    };

    let backends = [(Backend::Postgres, postgres), (Backend::Sqlite, sqlite)];
    let mut figures = Vec::new();
    for backend in backends
        .into_iter()
        .filter_map(|(backend, on)| on.then_some(backend))
    {
        println!("{}:", backend_name(backend));
        figures.push(run_backend(backend, &data, &acting, floor_batch).await?);
        if with_steps {
            println!("  diagnostic: the steps of one ingestion, apart, on a fresh database");
            steps(backend, &data, &acting).await?;
        }
    }

    println!();
    println!("== figures ==");
    println!(
        "load average at start {load_at_start}, at end {} (2 shared cores); {rows} rows",
        load_average()
    );
    for f in &figures {
        println!(
            "{}: floor {:.0} rows/s ({:.1} s); Souk ingest {:.0} rows/s ({:.1} s), ratio {:.2}; \
             re-ingest (full resync, unchanged) {:.1} s; revenue report by month and customer \
             {:.2} s (again {:.2} s, {} rows, sums {}); RSS {:.0} MB before the ingest, peak {:.0} \
             MB during it",
            backend_name(f.backend),
            per_second(f.rows, f.floor),
            f.floor.as_secs_f64(),
            per_second(f.rows, f.souk),
            f.souk.as_secs_f64(),
            f.ratio(),
            f.resync.as_secs_f64(),
            f.report.as_secs_f64(),
            f.report_again.as_secs_f64(),
            f.report_rows,
            if f.sums_match { "match" } else { "DIFFER" },
            f.rss_before_mb,
            f.peak_mb
        );
    }
    println!("targets:");
    for f in &figures {
        println!(
            "  Souk ingest >= 0.5 of the floor on {}: {:.2}  {}",
            backend_name(f.backend),
            f.ratio(),
            verdict(f.ratio() >= 0.5)
        );
        println!(
            "  revenue report sums equal the generated rows on {}: {}",
            backend_name(f.backend),
            verdict(f.sums_match)
        );
    }
    Ok(())
}
