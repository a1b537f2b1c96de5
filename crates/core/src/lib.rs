//! Shared vocabulary of Souk: typed ids, integer money, a clock that tests can move, the error
//! codes every service speaks, paging tokens, the input checks that several services share, who
//! may do what (API keys, scopes, the caller) and the identity of an idempotent request.
//!
//! This crate depends on no other Souk crate and on nothing that talks to a network, a database
//! or a broker: it is pure domain vocabulary.

pub mod access;
pub mod clock;
pub mod error;
pub mod idempotency;
pub mod ids;
pub mod money;
pub mod paging;
mod service_error;
pub mod validate;

pub use clock::{Clock, ManualClock, MillisClock, SharedClock, SystemClock};
pub use error::{Error, ErrorCode, FieldViolation};
pub use idempotency::{Idempotency, Outcome};
pub use ids::Id;
pub use money::{CurrencyCode, Money};
pub use paging::{Page, PageRequest, PageScope};
