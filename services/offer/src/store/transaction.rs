//! The [`Transaction`](crate::domain::ports::Transaction) port on a `souk_store::UnitOfWork`.

use async_trait::async_trait;
use souk_core::{Id, SharedClock};
use souk_events::EventFactory;
use souk_store::{UnitOfWork, tenant};
use sqlx::any::AnyRow;

use super::{OFFERS, RESALE_AUTHORIZATIONS, Tracked, db, resale_rows, rows};
use crate::domain::Error;
use crate::domain::event::OfferEvent;
use crate::domain::model::Offer;
use crate::domain::ports::Transaction;
use crate::domain::resale::{ResaleAuthorization, ResaleEvent};

/// One write of the offer service.
pub(super) struct SqlTransaction {
    work: UnitOfWork,
    events: EventFactory,
    clock: SharedClock,
}

impl SqlTransaction {
    pub(super) fn new(work: UnitOfWork, events: EventFactory, clock: SharedClock) -> Self {
        Self {
            work,
            events,
            clock,
        }
    }
}

/// A row type's values bound to a query, in its table's column order.
type Bind<T> =
    for<'q> fn(
        sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
        &T,
    ) -> Result<sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>, Error>;

impl SqlTransaction {
    /// Writes `row` with `sql` (an insert or update of every column); how many rows changed.
    async fn write<T>(&mut self, sql: String, bind: Bind<T>, row: &T) -> Result<u64, Error> {
        let done = bind(sqlx::query(sqlx::AssertSqlSafe(sql)), row)?
            .execute(&mut **self.work.tx())
            .await
            .map_err(db)?;
        Ok(done.rows_affected())
    }

    /// A new row.
    async fn insert<T>(&mut self, tracked: &Tracked, bind: Bind<T>, row: &T) -> Result<(), Error> {
        self.write(tracked.insert_sql(), bind, row).await?;
        Ok(())
    }

    /// Rewrites the organisation's row `id`, which must exist.
    async fn update<T>(
        &mut self,
        tracked: &Tracked,
        bind: Bind<T>,
        row: &T,
        id: &Id,
    ) -> Result<(), Error> {
        if self.write(tracked.update_sql(), bind, row).await? != 1 {
            return Err(Error::NotFound(format!("{} {id}", tracked.noun)));
        }
        Ok(())
    }

    /// The organisation's row `id`, locked until the transaction ends.
    async fn lock<T>(
        &mut self,
        tracked: &Tracked,
        organization_id: &Id,
        id: &Id,
        decode: fn(&AnyRow) -> Result<T, Error>,
    ) -> Result<Option<T>, Error> {
        let backend = self.work.store().backend();
        tenant::fetch_owned(
            &mut **self.work.tx(),
            backend,
            tracked.owned(true),
            organization_id.as_str(),
            id.as_str(),
            decode,
        )
        .await
    }
}

#[async_trait]
impl Transaction for SqlTransaction {
    async fn insert_offer(&mut self, offer: &Offer) -> Result<(), Error> {
        self.insert(&OFFERS, rows::bind, offer).await
    }

    async fn lock_offer(&mut self, organization_id: &Id, id: &Id) -> Result<Option<Offer>, Error> {
        self.lock(&OFFERS, organization_id, id, rows::offer).await
    }

    async fn update_offer(&mut self, offer: &Offer) -> Result<(), Error> {
        self.update(&OFFERS, rows::bind, offer, &offer.id).await
    }

    fn emit(&mut self, event: OfferEvent) -> Result<(), Error> {
        let record = crate::events::record(&self.events, &event)?;
        self.work.emit(record);
        Ok(())
    }

    async fn insert_resale_authorization(&mut self, ra: &ResaleAuthorization) -> Result<(), Error> {
        self.insert(&RESALE_AUTHORIZATIONS, resale_rows::bind, ra)
            .await
    }

    async fn lock_resale_authorization(
        &mut self,
        organization_id: &Id,
        id: &Id,
    ) -> Result<Option<ResaleAuthorization>, Error> {
        self.lock(
            &RESALE_AUTHORIZATIONS,
            organization_id,
            id,
            resale_rows::decode,
        )
        .await
    }

    async fn update_resale_authorization(&mut self, ra: &ResaleAuthorization) -> Result<(), Error> {
        self.update(&RESALE_AUTHORIZATIONS, resale_rows::bind, ra, &ra.id)
            .await
    }

    fn emit_resale(&mut self, event: ResaleEvent) -> Result<(), Error> {
        let record = crate::events::resale_record(&self.events, &event)?;
        self.work.emit(record);
        Ok(())
    }

    fn remembers_response(&self) -> bool {
        self.work.remembers_response()
    }

    async fn commit(self: Box<Self>, response: Vec<u8>) -> Result<(), Error> {
        let now = self.clock.now();
        self.work.commit(|| response, now).await?;
        Ok(())
    }
}
