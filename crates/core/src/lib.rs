//! Shared vocabulary of Souk: typed ids, integer money, a clock that tests can move, the error
//! codes every service speaks, paging tokens and the input checks that several services share.
//!
//! This crate depends on no other Souk crate and on nothing that talks to a network, a database
//! or a broker: it is pure domain vocabulary.

pub mod clock;
pub mod error;
pub mod ids;
pub mod money;
pub mod paging;
pub mod validate;

pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use error::{Error, ErrorCode, FieldViolation};
pub use ids::Id;
pub use money::{CurrencyCode, Money};
pub use paging::{Page, PageRequest};
