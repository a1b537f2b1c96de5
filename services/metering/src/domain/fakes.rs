//! Test doubles of the domain ports, shared by the unit tests of the domain.

use std::sync::Mutex;

use async_trait::async_trait;
use souk_core::{Id, Idempotency, Page, PageRequest};
use time::OffsetDateTime;

use super::error::Error;
use super::model::{HourlyRecord, Meter};
use super::ports::{Counts, Ingest, RecordFilter, SealPlan, Settlement, Store};

/// A [`Store`] in memory: answers `meters` and `sealed_before` with what it is given, keeps the
/// plans it seals, leases what it holds (once, in order) and keeps what is settled. Ingestion
/// and listing records are not in it.
#[derive(Default)]
pub(crate) struct FakeStore {
    /// What `sealed_before` answers.
    pub(crate) horizon: Option<OffsetDateTime>,
    /// What `meters` answers.
    pub(crate) meters: Vec<Meter>,
    /// The plans sealed, in order.
    pub(crate) plans: Mutex<Vec<SealPlan>>,
    /// The records `lease` hands out.
    pub(crate) due: Mutex<Vec<HourlyRecord>>,
    /// The settlements made, in order.
    pub(crate) settled: Mutex<Vec<Settlement>>,
}

#[async_trait]
impl Store for FakeStore {
    async fn meters(&self) -> Result<Vec<Meter>, Error> {
        Ok(self.meters.clone())
    }
    async fn put_meter(&self, _: &Meter) -> Result<(), Error> {
        Ok(())
    }
    async fn begin_ingest(&self, _: &Id) -> Result<Box<dyn Ingest>, Error> {
        Err(Error::Internal("not in this fake".into()))
    }
    async fn sealed_before(&self) -> Result<Option<OffsetDateTime>, Error> {
        Ok(self.horizon)
    }
    async fn seal(&self, plan: &SealPlan) -> Result<u64, Error> {
        self.plans
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(plan.clone());
        Ok(plan.zero_records.len() as u64)
    }
    async fn lease(
        &self,
        _: &str,
        _: OffsetDateTime,
        _: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<HourlyRecord>, Error> {
        let mut due = self.due.lock().unwrap_or_else(|e| e.into_inner());
        let n = due.len().min(limit as usize);
        Ok(due.drain(..n).collect())
    }
    async fn settle(&self, _: OffsetDateTime, settlements: &[Settlement]) -> Result<u64, Error> {
        self.settled
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(settlements);
        Ok(settlements.len() as u64)
    }
    async fn list_records(
        &self,
        _: &Id,
        _: &RecordFilter,
        _: &PageRequest,
    ) -> Result<Page<HourlyRecord>, Error> {
        Err(Error::Internal("not in this fake".into()))
    }
    async fn counts(&self, _: Option<&Id>) -> Result<Vec<Counts>, Error> {
        Ok(Vec::new())
    }
    async fn retry_held(
        &self,
        _: &Id,
        _: &[Id],
        _: OffsetDateTime,
        _: Option<&Idempotency>,
    ) -> Result<i64, Error> {
        Ok(0)
    }
}
