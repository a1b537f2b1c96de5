//! What the offer service tells the rest of the world: each lifecycle transition, committed
//! with the state change it reports.

use super::model::Offer;

/// An offer lifecycle event (`offer.<name>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfferEvent {
    /// Checked and stored as a draft ("offer.created").
    Created(Offer),
    /// AWS published it ("offer.released").
    Released(Offer),
    /// AWS refused its change set ("offer.failed").
    Failed(Offer),
    /// A buyer accepted it ("offer.accepted").
    Accepted(Offer),
    /// Its expiry passed unaccepted ("offer.expired").
    Expired(Offer),
    /// The seller cancelled it ("offer.cancelled").
    Cancelled(Offer),
    /// It expires in at most `days_before` days and nobody accepted it ("offer.expiring").
    Expiring {
        /// The offer.
        offer: Offer,
        /// The reminder (days before the expiry).
        days_before: u32,
    },
}

impl OfferEvent {
    /// The event type.
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::Created(_) => "offer.created",
            Self::Released(_) => "offer.released",
            Self::Failed(_) => "offer.failed",
            Self::Accepted(_) => "offer.accepted",
            Self::Expired(_) => "offer.expired",
            Self::Cancelled(_) => "offer.cancelled",
            Self::Expiring { .. } => "offer.expiring",
        }
    }

    /// The offer as it is after the transition.
    pub fn offer(&self) -> &Offer {
        match self {
            Self::Created(o)
            | Self::Released(o)
            | Self::Failed(o)
            | Self::Accepted(o)
            | Self::Expired(o)
            | Self::Cancelled(o)
            | Self::Expiring { offer: o, .. } => o,
        }
    }
}
