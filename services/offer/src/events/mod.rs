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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use prost::Message;
    use souk_core::clock::ManualClock;
    use souk_core::{Id, SharedClock};
    use souk_events::{EventFactory, Namespace};
    use souk_proto::events::Event;
    use souk_proto::events::event::Payload;
    use time::macros::datetime;

    use super::record;
    use crate::domain::event::OfferEvent;
    use crate::domain::model::{Offer, OfferState, Renewal};
    use crate::domain::validate::tests::saas_contract;

    #[test]
    fn every_offer_event_carries_the_contacts_and_terms() {
        let now = datetime!(2026-11-30 12:00 UTC);
        let clock: SharedClock = Arc::new(ManualClock::new(now));
        let factory = EventFactory::new(clock, Namespace::default());
        let mut draft = saas_contract();
        draft.notification_emails = vec!["deals@example.com".into(), "cfo@example.com".into()];
        draft.net_payment_days = Some(60);
        draft.renewal = Some(Renewal {
            max_renewals: Some(2),
            price_increase_percentage: "5.00".into(),
            lockout_days: None,
        });
        let offer = Offer {
            id: Id::generate("ofr"),
            organization_id: Id::generate("org"),
            integration_id: Id::generate("int"),
            draft,
            state: OfferState::Released,
            aws_offer_id: Some("offer-1".into()),
            change_set_id: None,
            client_request_token: "t".into(),
            failure_code: None,
            failure_message: None,
            agreement_id: None,
            cloned_from: None,
            created_at: now,
            updated_at: now,
            next_check_at: None,
            check_failures: 0,
            reminders_sent: 0,
        };
        let events = [
            OfferEvent::Created(offer.clone()),
            OfferEvent::Released(offer.clone()),
            OfferEvent::Failed(offer.clone()),
            OfferEvent::Accepted(offer.clone()),
            OfferEvent::Expired(offer.clone()),
            OfferEvent::Cancelled(offer.clone()),
            OfferEvent::Expiring {
                offer,
                days_before: 7,
            },
        ];
        for event in &events {
            let encoded = record(&factory, event).unwrap();
            let decoded = Event::decode(encoded.payload.as_slice()).unwrap();
            let carried = match decoded.payload.unwrap() {
                Payload::OfferCreated(e) => e.offer,
                Payload::OfferReleased(e) => e.offer,
                Payload::OfferFailed(e) => e.offer,
                Payload::OfferAccepted(e) => e.offer,
                Payload::OfferExpired(e) => e.offer,
                Payload::OfferCancelled(e) => e.offer,
                Payload::OfferExpiring(e) => e.offer,
                other => panic!("{other:?}"),
            }
            .unwrap();
            assert_eq!(
                carried.notification_emails,
                vec!["deals@example.com".to_owned(), "cfo@example.com".to_owned()],
                "{}",
                event.event_type()
            );
            assert_eq!(carried.net_payment_days, 60);
            let Some(souk_proto::offer::offer_terms::Kind::Contract(contract)) =
                carried.terms.and_then(|t| t.kind)
            else {
                panic!("a contract");
            };
            assert_eq!(
                contract.renewal,
                Some(souk_proto::offer::RenewalTerms {
                    max_renewals: 2,
                    price_increase_percentage: "5.00".into(),
                    lockout_days: 0,
                })
            );
        }
    }
}
