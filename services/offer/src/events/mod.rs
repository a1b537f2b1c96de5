//! The events the offer service publishes (through the outbox, in the transaction of the
//! change): `offer.created`, `offer.released`, `offer.failed`, `offer.accepted`,
//! `offer.expired`, `offer.cancelled` and `offer.expiring` (a reminder), each with the offer as
//! it is after the transition; `offer.resale_authorization_created`, `..._released` and
//! `..._failed` with the resale authorisation.
//! The envelope's subject names the Souk offer id and the agreement once there is one.

use souk_events::EventFactory;
use souk_proto::events::event::Payload;
use souk_proto::events::{
    OfferAccepted, OfferCancelled, OfferCreated, OfferExpired, OfferExpiring, OfferFailed,
    OfferReleased, ResaleAuthorizationCreated, ResaleAuthorizationFailed,
    ResaleAuthorizationReleased, Subject,
};
use souk_store::outbox::OutboxRecord;

use crate::domain::Error;
use crate::domain::event::OfferEvent;
use crate::domain::resale::ResaleEvent;
use crate::proto;

/// The outbox record of `event`.
pub fn record(factory: &EventFactory, event: &OfferEvent) -> Result<OutboxRecord, Error> {
    let event_type = event.event_type();
    let o = event.offer();
    let offer = Some(proto::offer(o));
    let payload = match event {
        OfferEvent::Created(_) => Payload::OfferCreated(OfferCreated { offer }),
        OfferEvent::Released(_) => Payload::OfferReleased(OfferReleased { offer }),
        OfferEvent::Failed(_) => Payload::OfferFailed(OfferFailed { offer }),
        OfferEvent::Accepted(_) => Payload::OfferAccepted(OfferAccepted { offer }),
        OfferEvent::Expired(_) => Payload::OfferExpired(OfferExpired { offer }),
        OfferEvent::Cancelled(_) => Payload::OfferCancelled(OfferCancelled { offer }),
        OfferEvent::Expiring { days_before, .. } => Payload::OfferExpiring(OfferExpiring {
            offer,
            days_before: i32::try_from(*days_before).unwrap_or(i32::MAX),
        }),
    };
    let subject = Subject {
        offer_id: o.id.to_string(),
        agreement_id: o.agreement_id.clone().unwrap_or_default(),
        ..Subject::default()
    };
    factory
        .record_about(
            event_type,
            o.organization_id.as_str(),
            o.integration_id.as_str(),
            subject,
            payload,
        )
        .map_err(|e| Error::Internal(format!("building event {event_type}: {e}")))
}

/// The outbox record of a resale-authorisation `event` (its subject names no offer).
pub fn resale_record(factory: &EventFactory, event: &ResaleEvent) -> Result<OutboxRecord, Error> {
    let event_type = event.event_type();
    let ra = event.authorization();
    let resale_authorization = Some(proto::resale_authorization(ra));
    let payload = match event {
        ResaleEvent::Created(_) => {
            Payload::ResaleAuthorizationCreated(ResaleAuthorizationCreated {
                resale_authorization,
            })
        }
        ResaleEvent::Released(_) => {
            Payload::ResaleAuthorizationReleased(ResaleAuthorizationReleased {
                resale_authorization,
            })
        }
        ResaleEvent::Failed(_) => Payload::ResaleAuthorizationFailed(ResaleAuthorizationFailed {
            resale_authorization,
        }),
    };
    factory
        .record_about(
            event_type,
            ra.organization_id.as_str(),
            ra.integration_id.as_str(),
            Subject::default(),
            payload,
        )
        .map_err(|e| Error::Internal(format!("building event {event_type}: {e}")))
}
