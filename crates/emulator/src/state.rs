//! The emulator's data: [`World`], one field per module, each module's state struct deriving
//! `Default`, `Serialize` and `Deserialize` so the whole world can be persisted to a file. No
//! behaviour lives here: the handle that locks, serves and persists it is [`crate::Emulator`].

use serde::{Deserialize, Serialize};

use crate::tracked::{Change, Tracked};

/// Everything the emulated AWS account(s) know.
///
/// Each module's state is [`Tracked`] (or, for the metering ledger that grows with traffic,
/// tracked per entry), so the journal writes only what a request changed; the wrappers
/// dereference to the module state and serialize as it.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct World {
    /// Products, dimensions, buyers, subscriptions, entitlements, registration tokens.
    pub market: Tracked<crate::market::model::MarketState>,
    /// The metering ledger (tracked per entry).
    pub metering: crate::metering::ledger::MeteringState,
    /// STS roles and issued sessions.
    pub sts: Tracked<crate::sts::model::StsState>,
    /// Catalog entities and change sets.
    pub catalog: Tracked<crate::catalog::CatalogState>,
    /// Agreements created when buyers accept offers or subscribe.
    pub agreements: Tracked<crate::agreement::model::AgreementState>,
    /// SQS queues and messages.
    pub sqs: Tracked<crate::sqs::queue::SqsState>,
    /// Notification subscriptions and the queue of notifications to deliver.
    pub notify: Tracked<crate::notify::model::NotifyState>,
    /// Injected faults.
    pub faults: Tracked<crate::faults::rules::FaultState>,
    /// Seller data feed settings, refunds and disbursements.
    #[serde(default)]
    pub feeds: Tracked<crate::feeds::model::FeedsState>,
}

impl World {
    /// What changed since the last call, as journal entries (and forgets it).
    pub fn drain_changes(&mut self) -> Result<Vec<Change>, serde_json::Error> {
        let mut out = Vec::new();
        self.market.drain(&["market"], &mut out)?;
        self.metering
            .ledger
            .drain(&["metering", "ledger"], &mut out)?;
        self.metering
            .client_tokens
            .drain(&["metering", "client_tokens"], &mut out)?;
        self.sts.drain(&["sts"], &mut out)?;
        self.catalog.drain(&["catalog"], &mut out)?;
        self.agreements.drain(&["agreements"], &mut out)?;
        self.sqs.drain(&["sqs"], &mut out)?;
        self.notify.drain(&["notify"], &mut out)?;
        self.faults.drain(&["faults"], &mut out)?;
        self.feeds.drain(&["feeds"], &mut out)?;
        Ok(out)
    }

    /// Brings a world read from an older state file up to date (the feeds state used to live
    /// under `notify`).
    pub fn migrate(&mut self) {
        if self.notify.legacy_feeds.is_some()
            && let Some(feeds) = self.notify.legacy_feeds.take()
        {
            *self.feeds = feeds;
        }
    }
}
