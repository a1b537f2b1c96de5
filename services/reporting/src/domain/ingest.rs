//! Ingestion: the integration's data feed bucket read into the store, file by file. Only new
//! or changed files (a new ETag) are read, unless a full resync is asked; each file is stored
//! whole in one transaction with the record of its ETag, so a crash or a failed download
//! leaves nothing half read and the next ingestion reads the file again. Malformed rows are
//! parked with their file, line and reason; the rest of the file is read.

use std::collections::BTreeMap;
use std::sync::Arc;

use souk_core::SharedClock;

use super::billing_event::BillingEvent;
use super::error::Error;
use super::feed::Feed;
use super::parse::parse_each;
use super::ports::{Acting, CallError, FeedBucket, FileRows, Store};
use super::reconciliation::Reconciler;
use super::row::{FeedRow, RejectedRow};

/// Most rejected rows an ingestion report lists (all are counted and parked).
pub const LISTED_REJECTIONS: usize = 100;

/// What one feed's files gave.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedCounts {
    /// Files read.
    pub files: u64,
    /// Rows inserted or updated.
    pub rows: u64,
    /// Rows parked as malformed.
    pub rejected_rows: u64,
}

/// What an ingestion did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestReport {
    /// Files read.
    pub files: u64,
    /// Rows inserted or updated.
    pub rows: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Rows parked as malformed.
    pub rejected_rows: u64,
    /// Files left alone: read before, unchanged since.
    pub unchanged_files: u64,
    /// Per feed.
    pub feeds: BTreeMap<Feed, FeedCounts>,
    /// The first [`LISTED_REJECTIONS`] malformed rows, with their file's key.
    pub rejected: Vec<(String, RejectedRow)>,
}

/// The ingestion use case.
#[derive(Clone)]
pub struct Ingestion {
    bucket: Arc<dyn FeedBucket>,
    store: Arc<dyn Store>,
    clock: SharedClock,
    reconciliation: Option<Reconciler>,
}

impl std::fmt::Debug for Ingestion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingestion").finish_non_exhaustive()
    }
}

impl Ingestion {
    /// Reads from `bucket` into `store`.
    pub fn new(bucket: Arc<dyn FeedBucket>, store: Arc<dyn Store>, clock: SharedClock) -> Self {
        Self {
            bucket,
            store,
            clock,
            reconciliation: None,
        }
    }

    /// After each ingestion that reads new rows, reconciles the integration's usage with
    /// `reconciler` and announces the new discrepancies (`report.discrepancy`).
    pub fn with_reconciliation(mut self, reconciler: Reconciler) -> Self {
        self.reconciliation = Some(reconciler);
        self
    }

    /// Reads the integration's new and changed files (every file with `full_resync`).
    pub async fn ingest(&self, acting: &Acting, full_resync: bool) -> Result<IngestReport, Error> {
        let objects = self.bucket.list(acting).await.map_err(bucket_error)?;
        let read = self.store.read_files(acting).await?;
        let mut report = IngestReport::default();
        let mut feed_objects: Vec<_> = objects
            .iter()
            .filter_map(|o| Feed::of_key(&o.key).map(|feed| (feed, o)))
            .collect();
        feed_objects.sort_by(|a, b| a.1.key.cmp(&b.1.key));
        for (feed, object) in feed_objects {
            if !full_resync && read.get(&object.key) == Some(&object.etag) {
                report.unchanged_files += 1;
                continue;
            }
            let bytes = self
                .bucket
                .get(acting, object)
                .await
                .map_err(bucket_error)?;
            let (rows, billing_events, rejected) = read_rows(feed, &bytes);
            let file = FileRows {
                object,
                feed,
                rows: &rows,
                billing_events: &billing_events,
                rejected: &rejected,
            };
            let stored = self
                .store
                .store_file(acting, file, self.clock.now())
                .await?;
            tracing::info!(
                integration_id = %acting.integration_id,
                key = %object.key,
                rows = stored,
                rejected = rejected.len(),
                bytes = bytes.len(),
                "data feed file read"
            );
            let counts = report.feeds.entry(feed).or_default();
            counts.files += 1;
            counts.rows += stored;
            counts.rejected_rows += rejected.len() as u64;
            report.files += 1;
            report.rows += stored;
            report.bytes += bytes.len() as u64;
            report.rejected_rows += rejected.len() as u64;
            for row in rejected {
                if report.rejected.len() < LISTED_REJECTIONS {
                    report.rejected.push((object.key.clone(), row));
                }
            }
        }
        if report.rows > 0 || report.rejected_rows > 0 {
            self.store.record_ingestion(acting, &report).await?;
        }
        if report.rows > 0
            && let Some(reconciler) = &self.reconciliation
        {
            // The rows are stored whatever happens here: a failed reconciliation is retried
            // by the next ingestion that reads new rows, and the report is still answered.
            match reconciler.announce(acting).await {
                Ok(0) => {}
                Ok(announced) => tracing::info!(
                    integration_id = %acting.integration_id,
                    announced,
                    "usage discrepancies announced"
                ),
                Err(error) => tracing::warn!(
                    integration_id = %acting.integration_id,
                    %error,
                    "reconciling usage after ingestion failed"
                ),
            }
        }
        Ok(report)
    }
}

/// A failed bucket call as the use case's error.
pub(crate) fn bucket_error(error: CallError) -> Error {
    match error {
        CallError::Retry(message) => Error::Unavailable(format!(
            "the data feed bucket could not be read, try again: {message}"
        )),
        CallError::Refused { code, message } => {
            Error::FailedPrecondition(format!("the data feed bucket refused: {code}: {message}"))
        }
    }
}

/// The rows of `bytes`, a file of `feed`: billing events typed as they are read (a month's
/// `billing_event` file can hold millions of rows, never all held as generic rows), the other
/// feeds' rows as they are; and the rows that do not read, in line order.
fn read_rows(feed: Feed, bytes: &[u8]) -> (Vec<FeedRow>, Vec<BillingEvent>, Vec<RejectedRow>) {
    let mut rows = Vec::new();
    let mut billing_events = Vec::new();
    let mut typing_errors = Vec::new();
    let parsed = parse_each(feed, bytes, |row| {
        if feed != Feed::BillingEvent {
            rows.push(row);
            return;
        }
        match BillingEvent::from_row(&row) {
            Ok(event) => billing_events.push(event),
            Err(reason) => typing_errors.push(RejectedRow {
                line: row.line,
                reason,
            }),
        }
    });
    let mut rejected = match parsed {
        Ok(rejected) => rejected,
        Err(reason) => vec![RejectedRow { line: 1, reason }],
    };
    rejected.extend(typing_errors);
    rejected.sort_by_key(|r| r.line);
    (rows, billing_events, rejected)
}
