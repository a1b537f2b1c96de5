//! The [`Store`](crate::domain::ports::Store) port on SQL: the offers. Every write is a
//! `souk_store::UnitOfWork` (change, outbox events and idempotency record in one transaction);
//! every query but the tracker's is confined to an organisation.

pub mod migrations;
mod resale_rows;
mod rows;
mod schedules;
mod transaction;

#[cfg(test)]
mod tests;

use async_trait::async_trait;
use souk_core::clock::to_unix_millis;
use souk_core::{Id, Idempotency, Page, PageRequest, SharedClock};
use souk_events::EventFactory;
use souk_store::idempotency::{self, IdempotencyKey};
use souk_store::{Args, Store, tenant};
use sqlx::any::AnyRow;
use time::OffsetDateTime;

pub use migrations::migrations;
pub use schedules::{AcceptedSchedule, AcceptedSchedules};

use crate::domain::Error;
use crate::domain::model::Offer;
use crate::domain::ports::{self, Begun, OfferFilter};
use crate::domain::resale::{ResaleAuthorization, ResaleFilter};
use transaction::SqlTransaction;

fn db(err: sqlx::Error) -> Error {
    souk_store::map_sqlx_error(err).into()
}

/// The offer service's tables.
#[derive(Debug, Clone)]
pub struct SqlStore {
    store: Store,
    events: EventFactory,
    clock: SharedClock,
}

impl SqlStore {
    /// Tables in `store` (migrated), events built by `events`, idempotency records timed by
    /// `clock`.
    pub fn new(store: Store, events: EventFactory, clock: SharedClock) -> Self {
        Self {
            store,
            events,
            clock,
        }
    }
}

#[async_trait]
impl ports::Store for SqlStore {
    async fn begin(
        &self,
        organization_id: &Id,
        idempotency: Option<&Idempotency>,
    ) -> Result<Begun, Error> {
        Ok(
            match self
                .store
                .unit_of_work(organization_id.as_str(), idempotency)
                .await?
            {
                souk_store::Begun::Replayed(bytes) => Begun::Replayed(bytes),
                souk_store::Begun::Fresh(work) => Begun::Fresh(Box::new(SqlTransaction::new(
                    work,
                    self.events.clone(),
                    self.clock.clone(),
                ))),
            },
        )
    }

    async fn replay(
        &self,
        organization_id: &Id,
        idem: &Idempotency,
    ) -> Result<Option<Vec<u8>>, Error> {
        let key = IdempotencyKey {
            organization_id: organization_id.as_str(),
            scope: idem.scope,
            key: &idem.key,
        };
        Ok(idempotency::lookup(self.store.pool(), &key, &idem.request_hash).await?)
    }

    async fn get_offer(&self, organization_id: &Id, id: &Id) -> Result<Option<Offer>, Error> {
        self.get(&OFFERS, organization_id, id, rows::offer).await
    }

    async fn offer_by_aws_id(
        &self,
        organization_id: &Id,
        aws_offer_id: &str,
    ) -> Result<Option<Offer>, Error> {
        self.by_aws_id(&OFFERS, organization_id, aws_offer_id, rows::offer)
            .await
    }

    async fn list_offers(
        &self,
        organization_id: &Id,
        filter: &OfferFilter,
        page: &PageRequest,
    ) -> Result<Page<Offer>, Error> {
        let found = self
            .page_of(&OFFERS, organization_id, page, |args, sql| {
                offer_conditions(args, sql, filter)
            })
            .await?;
        Ok(Page::from_rows(rows::offers(&found)?, page, rows::key))
    }

    async fn due_offers(&self, now: OffsetDateTime, limit: u32) -> Result<Vec<Offer>, Error> {
        rows::offers(&self.due(&OFFERS, now, limit).await?)
    }

    async fn claim(&self, offer: &Offer, until: OffsetDateTime) -> Result<bool, Error> {
        self.claim_check(&OFFERS, &offer.id, offer.next_check_at, until)
            .await
    }

    async fn get_resale_authorization(
        &self,
        organization_id: &Id,
        id: &Id,
    ) -> Result<Option<ResaleAuthorization>, Error> {
        self.get(
            &RESALE_AUTHORIZATIONS,
            organization_id,
            id,
            resale_rows::decode,
        )
        .await
    }

    async fn resale_authorization_by_aws_id(
        &self,
        organization_id: &Id,
        aws_id: &str,
    ) -> Result<Option<ResaleAuthorization>, Error> {
        self.by_aws_id(
            &RESALE_AUTHORIZATIONS,
            organization_id,
            aws_id,
            resale_rows::decode,
        )
        .await
    }

    async fn list_resale_authorizations(
        &self,
        organization_id: &Id,
        filter: &ResaleFilter,
        page: &PageRequest,
    ) -> Result<Page<ResaleAuthorization>, Error> {
        let found = self
            .page_of(
                &RESALE_AUTHORIZATIONS,
                organization_id,
                page,
                |args, sql| {
                    equals(
                        args,
                        sql,
                        "integration_id",
                        filter.integration_id.as_ref().map(Id::as_str),
                    );
                    equals(args, sql, "product_id", filter.product_id.as_deref());
                    equals(
                        args,
                        sql,
                        "reseller_account_id",
                        filter.reseller_account_id.as_deref(),
                    );
                },
            )
            .await?;
        Ok(Page::from_rows(
            resale_rows::all(&found)?,
            page,
            resale_rows::key,
        ))
    }

    async fn due_resale_authorizations(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<ResaleAuthorization>, Error> {
        resale_rows::all(&self.due(&RESALE_AUTHORIZATIONS, now, limit).await?)
    }

    async fn claim_resale_authorization(
        &self,
        ra: &ResaleAuthorization,
        until: OffsetDateTime,
    ) -> Result<bool, Error> {
        self.claim_check(&RESALE_AUTHORIZATIONS, &ra.id, ra.next_check_at, until)
            .await
    }
}

/// A table of rows the tracker follows through AWS: offers or resale authorisations.
struct Tracked {
    table: &'static str,
    columns: &'static str,
    /// The column of the AWS entity id.
    aws_id: &'static str,
    /// What a row is, for errors.
    noun: &'static str,
}

const OFFERS: Tracked = Tracked {
    table: "offers",
    columns: rows::OFFER_COLUMNS,
    aws_id: "aws_offer_id",
    noun: "offer",
};

const RESALE_AUTHORIZATIONS: Tracked = Tracked {
    table: "resale_authorizations",
    columns: resale_rows::COLUMNS,
    aws_id: "aws_id",
    noun: "resale authorisation",
};

impl Tracked {
    /// The organisation's row by id, `for_update` to also lock it.
    fn owned(&self, for_update: bool) -> tenant::OwnedRow<'static> {
        tenant::OwnedRow {
            table: self.table,
            columns: self.columns,
            for_update,
        }
    }

    /// A new row: every column, bound in column order.
    fn insert_sql(&self) -> String {
        let placeholders: Vec<String> = (1..=self.columns.split(',').count())
            .map(|n| format!("${n}"))
            .collect();
        format!(
            "INSERT INTO {} ({}) VALUES ({})",
            self.table,
            self.columns,
            placeholders.join(", ")
        )
    }

    /// Every column but the id rewritten (the row is the unit of change), bound in column
    /// order as for [`Self::insert_sql`]: the id (`$1`) and organisation (`$2`) pick the row.
    fn update_sql(&self) -> String {
        let sets: Vec<String> = self
            .columns
            .split(',')
            .map(str::trim)
            .enumerate()
            .skip(1)
            .map(|(i, column)| format!("{column} = ${}", i + 1))
            .collect();
        format!(
            "UPDATE {} SET {} WHERE id = $1 AND organization_id = $2",
            self.table,
            sets.join(", ")
        )
    }
}

impl SqlStore {
    /// The organisation's row `id`.
    async fn get<T>(
        &self,
        tracked: &Tracked,
        organization_id: &Id,
        id: &Id,
        decode: fn(&AnyRow) -> Result<T, Error>,
    ) -> Result<Option<T>, Error> {
        tenant::fetch_owned(
            self.store.pool(),
            self.store.backend(),
            tracked.owned(false),
            organization_id.as_str(),
            id.as_str(),
            decode,
        )
        .await
    }

    /// The organisation's row with this AWS id.
    async fn by_aws_id<T>(
        &self,
        tracked: &Tracked,
        organization_id: &Id,
        aws_id: &str,
        decode: fn(&AnyRow) -> Result<T, Error>,
    ) -> Result<Option<T>, Error> {
        let sql = format!(
            "SELECT {} FROM {} WHERE organization_id = $1 AND {} = $2",
            tracked.columns, tracked.table, tracked.aws_id
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(organization_id.as_str())
            .bind(aws_id)
            .fetch_optional(self.store.pool())
            .await
            .map_err(db)?
            .as_ref()
            .map(decode)
            .transpose()
    }

    /// A page of the organisation's rows, newest first, with the `conditions` a filter adds.
    async fn page_of(
        &self,
        tracked: &Tracked,
        organization_id: &Id,
        page: &PageRequest,
        conditions: impl FnOnce(&mut Args, &mut String),
    ) -> Result<Vec<AnyRow>, Error> {
        let mut args = Args::default();
        let mut sql = format!(
            "SELECT {} FROM {} WHERE organization_id = {}",
            tracked.columns,
            tracked.table,
            args.text(organization_id.as_str())
        );
        if let Some(after) = &page.after {
            sql.push_str(&format!(" AND id < {}", args.text(after.as_str())));
        }
        conditions(&mut args, &mut sql);
        sql.push_str(&format!(
            " ORDER BY id DESC LIMIT {}",
            args.int(page.fetch_limit())
        ));
        args.query(sql)
            .fetch_all(self.store.pool())
            .await
            .map_err(db)
    }

    /// The rows whose next check is due at `now` (every organisation's: the tracker's query).
    async fn due(
        &self,
        tracked: &Tracked,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<AnyRow>, Error> {
        let sql = format!(
            "SELECT {} FROM {} WHERE next_check_at IS NOT NULL AND next_check_at <= $1 \
             ORDER BY next_check_at LIMIT $2",
            tracked.columns, tracked.table
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(to_unix_millis(now))
            .bind(i64::from(limit))
            .fetch_all(self.store.pool())
            .await
            .map_err(db)
    }

    /// Moves a due row's next check to `until` unless another tracker did first (its check is
    /// no longer `due`); whether this one did.
    async fn claim_check(
        &self,
        tracked: &Tracked,
        id: &Id,
        due: Option<OffsetDateTime>,
        until: OffsetDateTime,
    ) -> Result<bool, Error> {
        let Some(due) = due else {
            return Ok(false);
        };
        let sql = format!(
            "UPDATE {} SET next_check_at = $1 WHERE id = $2 AND next_check_at = $3",
            tracked.table
        );
        let done = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(to_unix_millis(until))
            .bind(id.as_str())
            .bind(to_unix_millis(due))
            .execute(self.store.pool())
            .await
            .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }
}

/// ` AND column = $n` when `value` is given.
fn equals(args: &mut Args, sql: &mut String, column: &str, value: Option<&str>) {
    if let Some(value) = value {
        sql.push_str(&format!(" AND {column} = {}", args.text(value)));
    }
}

/// The conditions of an offer filter.
fn offer_conditions(args: &mut Args, sql: &mut String, filter: &OfferFilter) {
    equals(
        args,
        sql,
        "integration_id",
        filter.integration_id.as_ref().map(Id::as_str),
    );
    equals(args, sql, "product_id", filter.product_id.as_deref());
    if let Some(buyer) = &filter.buyer_account_id {
        // The ids are a JSON array of quoted 12-digit strings.
        sql.push_str(&format!(
            " AND buyer_account_ids LIKE {}",
            args.text(format!("%\"{buyer}\"%"))
        ));
    }
    if !filter.states.is_empty() {
        sql.push_str(&format!(
            " AND state IN ({})",
            args.texts(filter.states.iter().map(|s| s.as_str()))
        ));
    }
    if !filter.kinds.is_empty() {
        sql.push_str(&format!(
            " AND kind IN ({})",
            args.texts(filter.kinds.iter().map(|k| k.as_str()))
        ));
    }
    if let Some(before) = filter.expiring_before {
        sql.push_str(&format!(
            " AND expiry_at IS NOT NULL AND expiry_at < {}",
            args.int(to_unix_millis(before))
        ));
    }
}
