//! Where consumers park what they give up on: [`DeadLetterSink`], implemented by
//! `souk_store::Store` (the `dead_letters` table).

use async_trait::async_trait;
use souk_store::Store;
use souk_store::dead_letter::{self, DeadLetter};

use crate::Error;

/// Stores dead letters durably. Parking the same consumer and event id twice keeps one entry.
#[async_trait]
pub trait DeadLetterSink: Send + Sync + 'static {
    /// Stores `letter`; `Ok` means it is durable.
    async fn park(&self, letter: &DeadLetter) -> Result<(), Error>;
}

#[async_trait]
impl DeadLetterSink for Store {
    async fn park(&self, letter: &DeadLetter) -> Result<(), Error> {
        dead_letter::park(self.pool(), letter).await?;
        Ok(())
    }
}

#[async_trait]
impl<T: DeadLetterSink + ?Sized> DeadLetterSink for std::sync::Arc<T> {
    async fn park(&self, letter: &DeadLetter) -> Result<(), Error> {
        (**self).park(letter).await
    }
}
