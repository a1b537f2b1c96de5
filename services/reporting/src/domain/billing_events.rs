//! ListBillingEvents: the integration's current billing events, newest first, in pages whose
//! keys (when a row counts, then its id) never skip or repeat a row, whatever is ingested
//! between two pages (a row ingested meanwhile shows on a later page only if it sorts after
//! the last row seen).

use time::OffsetDateTime;

use super::billing_event::{BillingAction, BillingEvent};
use super::error::Error;
use super::ports::Acting;
use super::revenue::{Names, Reports};

/// What ListBillingEvents keeps, as the caller asks it; empty lists and `None` keep all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// First instant a row counts at (its invoice date; a payout's date), inclusive.
    pub start: Option<OffsetDateTime>,
    /// End of that range, exclusive.
    pub end: Option<OffsetDateTime>,
    /// One of these actions.
    pub actions: Vec<BillingAction>,
    /// One of these transaction types.
    pub transaction_types: Vec<String>,
    /// The buyer's (end user's) 12-digit AWS account id.
    pub customer_aws_account_id: Option<String>,
    /// The product.
    pub product_id: Option<String>,
}

/// [`EventFilter`] in the stored values (the buyer as its `account_id`s).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventQuery {
    /// First instant, inclusive.
    pub start: Option<OffsetDateTime>,
    /// Last instant, exclusive.
    pub end: Option<OffsetDateTime>,
    /// One of these actions (empty: any).
    pub actions: Vec<BillingAction>,
    /// One of these transaction types (empty: any).
    pub transaction_types: Vec<String>,
    /// `end_user_account_id` one of these (`None`: any).
    pub end_user_account_ids: Option<Vec<String>>,
    /// `product_id` (`None`: any).
    pub product_id: Option<String>,
}

/// Where a page ends: the last row's instant (unix milliseconds) and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventCursor {
    /// When the row counts, unix milliseconds.
    pub at_millis: i64,
    /// Its billing event id.
    pub billing_event_id: String,
}

impl EventCursor {
    /// As a page key: `<millis>:<id>`.
    pub fn key(&self) -> String {
        format!("{}:{}", self.at_millis, self.billing_event_id)
    }

    /// The cursor of page key `key`.
    pub fn parse(key: &str) -> Option<Self> {
        let (millis, id) = key.split_once(':')?;
        Some(Self {
            at_millis: millis.parse().ok()?,
            billing_event_id: id.to_owned(),
        })
        .filter(|c| !c.billing_event_id.is_empty())
    }
}

/// A billing event as listed, with when it counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedEvent {
    /// When it counts (the invoice date; a payout's date): the sort key with its id.
    pub at: OffsetDateTime,
    /// The event.
    pub event: BillingEvent,
}

impl ListedEvent {
    /// Its page cursor.
    pub fn cursor(&self) -> EventCursor {
        EventCursor {
            at_millis: souk_core::clock::to_unix_millis(self.at),
            billing_event_id: self.event.billing_event_id.clone(),
        }
    }
}

impl Reports {
    /// Up to `limit` current billing events of the integration that `filter` keeps, newest
    /// first, after the page key `after` (a [`EventCursor::key`]). Accounts are given as AWS
    /// account ids where the `account` feed knows them. An integration the caller's
    /// organisation does not have (or without an AWS role) is [`Error::NotFound`].
    pub async fn billing_events(
        &self,
        acting: &Acting,
        filter: &EventFilter,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ListedEvent>, Error> {
        let after = after
            .map(|key| {
                EventCursor::parse(key).ok_or_else(|| {
                    Error::invalid("page_token", "is not a token this service issued")
                })
            })
            .transpose()?;
        // An integration of another organisation is not found, as in the newer reports.
        let names = self.known_names(acting).await?;
        let query = EventQuery {
            start: filter.start,
            end: filter.end,
            actions: filter.actions.clone(),
            transaction_types: filter.transaction_types.clone(),
            end_user_account_ids: filter.customer_aws_account_id.as_ref().map(|aws| {
                let mut ids: Vec<String> = names
                    .aws_accounts
                    .iter()
                    .filter(|(_, a)| *a == aws)
                    .map(|(id, _)| id.clone())
                    .chain([aws.clone()])
                    .collect();
                ids.sort();
                ids.dedup();
                ids
            }),
            product_id: filter.product_id.clone(),
        };
        let mut events = self
            .store()
            .billing_events(acting, &query, after.as_ref(), limit)
            .await?;
        for listed in &mut events {
            aws_accounts(&names, &mut listed.event);
        }
        Ok(events)
    }
}

/// `event`'s accounts as AWS account ids where the `account` feed knows them.
fn aws_accounts(names: &Names, event: &mut BillingEvent) {
    for account in [
        &mut event.from_account_id,
        &mut event.to_account_id,
        &mut event.end_user_account_id,
    ] {
        if let Some(aws) = names.aws_accounts.get(account.as_str())
            && !aws.is_empty()
        {
            account.clone_from(aws);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let cursor = EventCursor {
            at_millis: 1_764_547_200_000,
            billing_event_id: "abc:def".into(),
        };
        assert_eq!(EventCursor::parse(&cursor.key()), Some(cursor));
        assert_eq!(EventCursor::parse("x:abc"), None);
        assert_eq!(EventCursor::parse("12:"), None);
        assert_eq!(EventCursor::parse("nothing"), None);
    }
}
