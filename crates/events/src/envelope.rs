//! Building `souk.events.v1.Event` envelopes and turning them into outbox records.

use prost::Message;
use souk_core::Clock;
use souk_proto::events::{Event, event};
use souk_store::outbox::OutboxRecord;
use time::OffsetDateTime;

use crate::Error;
use crate::subject::{Namespace, split_event_type, validate_token};

/// A fresh event of `event_type` (`subscription.cancel_pending`) for `organization_id`, with a
/// new UUIDv7 id and the clock's time. Set `integration_id`, the subject ids and the payload on
/// the result.
pub fn new_event(
    clock: &dyn Clock,
    event_type: &str,
    organization_id: &str,
) -> Result<Event, Error> {
    split_event_type(event_type)?;
    validate_token("organization id", organization_id)?;
    Ok(Event {
        id: uuid::Uuid::now_v7().to_string(),
        r#type: event_type.to_owned(),
        occurred_at: Some(to_timestamp(clock.now())),
        organization_id: organization_id.to_owned(),
        ..Event::default()
    })
}

/// Like [`new_event`], with the payload set.
pub fn event_with(
    clock: &dyn Clock,
    event_type: &str,
    organization_id: &str,
    payload: event::Payload,
) -> Result<Event, Error> {
    let mut event = new_event(clock, event_type, organization_id)?;
    event.payload = Some(payload);
    Ok(event)
}

/// The outbox record of `event`: subject in `namespace`, protobuf payload. Append it with
/// `souk_store::outbox::append` in the transaction that makes the change the event reports.
pub fn outbox_record(namespace: &Namespace, event: &Event) -> Result<OutboxRecord, Error> {
    if uuid::Uuid::parse_str(&event.id).is_err() {
        return Err(Error::InvalidEvent(format!(
            "event id {:?} is not a uuid",
            event.id
        )));
    }
    let subject = namespace.subject_for_type(&event.organization_id, &event.r#type)?;
    let occurred_at = event
        .occurred_at
        .as_ref()
        .map(from_timestamp)
        .transpose()?
        .ok_or_else(|| Error::InvalidEvent("event has no occurred_at".into()))?;
    Ok(OutboxRecord {
        event_id: event.id.clone(),
        organization_id: event.organization_id.clone(),
        subject,
        event_type: event.r#type.clone(),
        payload: event.encode_to_vec(),
        occurred_at,
    })
}

/// An instant as a protobuf timestamp.
pub fn to_timestamp(at: OffsetDateTime) -> prost_types::Timestamp {
    let nanos = at.unix_timestamp_nanos();
    let seconds = nanos.div_euclid(1_000_000_000);
    let subsec = nanos.rem_euclid(1_000_000_000);
    prost_types::Timestamp {
        seconds: i64::try_from(seconds).unwrap_or(i64::MAX),
        nanos: i32::try_from(subsec).unwrap_or(0),
    }
}

/// A protobuf timestamp as an instant (UTC).
pub fn from_timestamp(at: &prost_types::Timestamp) -> Result<OffsetDateTime, Error> {
    let nanos = i128::from(at.seconds) * 1_000_000_000 + i128::from(at.nanos);
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .map_err(|err| Error::InvalidEvent(format!("occurred_at out of range: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use souk_core::ManualClock;
    use time::macros::datetime;

    #[test]
    fn new_events_get_a_uuid_v7_and_the_clock_time() {
        let clock = ManualClock::new(datetime!(2026-05-01 12:00:00.5 UTC));
        let event = new_event(&clock, "subscription.cancel_pending", "org_1").unwrap();
        let id = uuid::Uuid::parse_str(&event.id).unwrap();
        assert_eq!(id.get_version_num(), 7);
        assert_eq!(
            from_timestamp(event.occurred_at.as_ref().unwrap()).unwrap(),
            clock.now()
        );
        assert!(new_event(&clock, "nope.created", "org_1").is_err());
        assert!(new_event(&clock, "offer.created", "Org.1").is_err());
    }

    #[test]
    fn outbox_records_carry_subject_and_encoded_event() {
        let clock = ManualClock::new(datetime!(2026-05-01 12:00 UTC));
        let event = new_event(&clock, "offer.published", "acme").unwrap();
        let record = outbox_record(&Namespace::default(), &event).unwrap();
        assert_eq!(record.subject, "souk.acme.offer.published");
        assert_eq!(record.event_id, event.id);
        assert_eq!(record.occurred_at, clock.now());
        assert_eq!(Event::decode(record.payload.as_slice()).unwrap(), event);
    }
}
