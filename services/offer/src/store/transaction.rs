//! The [`Transaction`](crate::domain::ports::Transaction) port on a `souk_store::UnitOfWork`.

use async_trait::async_trait;
use souk_core::{Id, SharedClock};
use souk_events::EventFactory;
use souk_store::{UnitOfWork, tenant};

use super::{db, resale_rows, rows};
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

#[async_trait]
impl Transaction for SqlTransaction {
    async fn insert_offer(&mut self, offer: &Offer) -> Result<(), Error> {
        let placeholders: Vec<String> = (1..=21).map(|n| format!("${n}")).collect();
        let sql = format!(
            "INSERT INTO offers ({}) VALUES ({})",
            rows::OFFER_COLUMNS,
            placeholders.join(", ")
        );
        rows::bind(sqlx::query(sqlx::AssertSqlSafe(sql)), offer)?
            .execute(&mut **self.work.tx())
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn lock_offer(&mut self, organization_id: &Id, id: &Id) -> Result<Option<Offer>, Error> {
        let backend = self.work.store().backend();
        tenant::fetch_owned(
            &mut **self.work.tx(),
            backend,
            tenant::OwnedRow {
                table: "offers",
                columns: rows::OFFER_COLUMNS,
                for_update: true,
            },
            organization_id.as_str(),
            id.as_str(),
            rows::offer,
        )
        .await
    }

    async fn update_offer(&mut self, offer: &Offer) -> Result<(), Error> {
        // Every column but the id is rewritten: the offer is the unit of change.
        let sets: Vec<String> = rows::OFFER_COLUMNS
            .split(',')
            .map(str::trim)
            .enumerate()
            .skip(1)
            .map(|(i, column)| format!("{column} = ${}", i + 1))
            .collect();
        let sql = format!(
            "UPDATE offers SET {} WHERE id = $1 AND organization_id = $2",
            sets.join(", ")
        );
        let done = rows::bind(sqlx::query(sqlx::AssertSqlSafe(sql)), offer)?
            .execute(&mut **self.work.tx())
            .await
            .map_err(db)?;
        if done.rows_affected() != 1 {
            return Err(Error::NotFound(format!("offer {}", offer.id)));
        }
        Ok(())
    }

    fn emit(&mut self, event: OfferEvent) -> Result<(), Error> {
        let record = crate::events::record(&self.events, &event)?;
        self.work.emit(record);
        Ok(())
    }

    async fn insert_resale_authorization(&mut self, ra: &ResaleAuthorization) -> Result<(), Error> {
        let placeholders: Vec<String> = (1..=resale_rows::COLUMN_COUNT)
            .map(|n| format!("${n}"))
            .collect();
        let sql = format!(
            "INSERT INTO resale_authorizations ({}) VALUES ({})",
            resale_rows::COLUMNS,
            placeholders.join(", ")
        );
        resale_rows::bind(sqlx::query(sqlx::AssertSqlSafe(sql)), ra)?
            .execute(&mut **self.work.tx())
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn lock_resale_authorization(
        &mut self,
        organization_id: &Id,
        id: &Id,
    ) -> Result<Option<ResaleAuthorization>, Error> {
        let backend = self.work.store().backend();
        tenant::fetch_owned(
            &mut **self.work.tx(),
            backend,
            tenant::OwnedRow {
                table: "resale_authorizations",
                columns: resale_rows::COLUMNS,
                for_update: true,
            },
            organization_id.as_str(),
            id.as_str(),
            resale_rows::decode,
        )
        .await
    }

    async fn update_resale_authorization(&mut self, ra: &ResaleAuthorization) -> Result<(), Error> {
        let sets: Vec<String> = resale_rows::COLUMNS
            .split(',')
            .map(str::trim)
            .enumerate()
            .skip(1)
            .map(|(i, column)| format!("{column} = ${}", i + 1))
            .collect();
        let sql = format!(
            "UPDATE resale_authorizations SET {} WHERE id = $1 AND organization_id = $2",
            sets.join(", ")
        );
        let done = resale_rows::bind(sqlx::query(sqlx::AssertSqlSafe(sql)), ra)?
            .execute(&mut **self.work.tx())
            .await
            .map_err(db)?;
        if done.rows_affected() != 1 {
            return Err(Error::NotFound(format!("resale authorisation {}", ra.id)));
        }
        Ok(())
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
