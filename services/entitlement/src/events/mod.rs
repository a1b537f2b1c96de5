//! The events the entitlement service publishes (through the outbox, in the transaction of the
//! change): `subscription.created|activated|failed|cancel_pending|cancelled`,
//! `entitlement.changed|expiring`, `agreement.created|ended`. Each names its customer,
//! subscription, agreement and product in the envelope's subject.

use souk_events::EventFactory;
use souk_proto::events::event::Payload;
use souk_proto::events::{
    AgreementCreated, AgreementEnded, EntitlementChanged, EntitlementExpiring, NotificationSource,
    Subject, SubscriptionActivated, SubscriptionCancelPending, SubscriptionCancelled,
    SubscriptionCreated, SubscriptionFailed,
};
use souk_service::convert::timestamp;
use souk_store::outbox::OutboxRecord;

use crate::domain::Error;
use crate::domain::event::{EntitlementEvent, Origin};
use crate::domain::model::Subscription;
use crate::domain::notice::NoticeSource;
use crate::proto;

/// The outbox record of `event`.
pub fn record(factory: &EventFactory, event: &EntitlementEvent) -> Result<OutboxRecord, Error> {
    let (event_type, organization_id, integration_id, subject, payload) = match event {
        EntitlementEvent::SubscriptionCreated(s, origin) => about(
            "subscription.created",
            s,
            Payload::SubscriptionCreated(SubscriptionCreated {
                subscription: Some(proto::subscription(s)),
                source: source(*origin) as i32,
            }),
        ),
        EntitlementEvent::SubscriptionActivated(s, origin) => about(
            "subscription.activated",
            s,
            Payload::SubscriptionActivated(SubscriptionActivated {
                subscription: Some(proto::subscription(s)),
                source: source(*origin) as i32,
            }),
        ),
        EntitlementEvent::SubscriptionFailed(s, origin, reason) => about(
            "subscription.failed",
            s,
            Payload::SubscriptionFailed(SubscriptionFailed {
                subscription: Some(proto::subscription(s)),
                source: source(*origin) as i32,
                reason: reason.clone(),
            }),
        ),
        EntitlementEvent::SubscriptionCancelPending(s, origin) => about(
            "subscription.cancel_pending",
            s,
            Payload::SubscriptionCancelPending(SubscriptionCancelPending {
                subscription: Some(proto::subscription(s)),
                source: source(*origin) as i32,
                final_metering_deadline: s.final_metering_deadline.map(timestamp),
            }),
        ),
        EntitlementEvent::SubscriptionCancelled(s, origin) => about(
            "subscription.cancelled",
            s,
            Payload::SubscriptionCancelled(SubscriptionCancelled {
                subscription: Some(proto::subscription(s)),
                source: source(*origin) as i32,
            }),
        ),
        EntitlementEvent::EntitlementChanged(change) => (
            "entitlement.changed",
            change.organization_id.as_str(),
            change.integration_id.as_str(),
            Subject {
                customer_id: change.customer_id.to_string(),
                product_code: change.product_code.clone(),
                ..Subject::default()
            },
            Payload::EntitlementChanged(EntitlementChanged {
                customer_id: change.customer_id.to_string(),
                product_code: change.product_code.clone(),
                entitlements: change.entitlements.iter().map(proto::entitlement).collect(),
                previous_entitlements: change
                    .previous_entitlements
                    .iter()
                    .map(proto::entitlement)
                    .collect(),
                features: change.features.iter().map(proto::feature).collect(),
                previous_features: change
                    .previous_features
                    .iter()
                    .map(proto::feature)
                    .collect(),
                cause: change.cause.to_owned(),
            }),
        ),
        EntitlementEvent::EntitlementExpiring {
            integration_id,
            entitlement,
            days,
            organization_id,
        } => (
            "entitlement.expiring",
            organization_id.as_str(),
            integration_id.as_str(),
            Subject {
                customer_id: entitlement.customer_id.to_string(),
                product_code: entitlement.product_code.clone(),
                ..Subject::default()
            },
            Payload::EntitlementExpiring(EntitlementExpiring {
                customer_id: entitlement.customer_id.to_string(),
                product_code: entitlement.product_code.clone(),
                entitlement: Some(proto::entitlement(entitlement)),
                days: *days,
                expire_time: entitlement.expires_at.map(timestamp),
            }),
        ),
        EntitlementEvent::AgreementCreated(a) => (
            "agreement.created",
            a.organization_id.as_str(),
            a.integration_id.as_str(),
            agreement_subject(a),
            Payload::AgreementCreated(AgreementCreated {
                agreement: Some(proto::agreement(a)),
            }),
        ),
        EntitlementEvent::AgreementEnded(a, deadline) => (
            "agreement.ended",
            a.organization_id.as_str(),
            a.integration_id.as_str(),
            agreement_subject(a),
            Payload::AgreementEnded(AgreementEnded {
                agreement: Some(proto::agreement(a)),
                final_metering_deadline: deadline.map(timestamp),
            }),
        ),
    };
    factory
        .record_about(
            event_type,
            organization_id,
            integration_id,
            subject,
            payload,
        )
        .map_err(|e| Error::Internal(format!("building event {event_type}: {e}")))
}

fn about<'a>(
    event_type: &'static str,
    s: &'a Subscription,
    payload: Payload,
) -> (&'static str, &'a str, &'a str, Subject, Payload) {
    (
        event_type,
        s.organization_id.as_str(),
        s.integration_id.as_str(),
        Subject {
            customer_id: s.customer_id.to_string(),
            subscription_id: s.id.to_string(),
            agreement_id: s.agreement_id.clone().unwrap_or_default(),
            offer_id: s.offer_id.clone().unwrap_or_default(),
            product_code: s.product_code.clone(),
            license_arn: s.license_arn.clone().unwrap_or_default(),
            ..Subject::default()
        },
        payload,
    )
}

fn agreement_subject(a: &crate::domain::model::Agreement) -> Subject {
    Subject {
        customer_id: a
            .customer_id
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        agreement_id: a.id.clone(),
        offer_id: a.offer_id.clone().unwrap_or_default(),
        product_code: a.product_code.clone().unwrap_or_default(),
        aws_account_id: a.acceptor_account_id.clone().unwrap_or_default(),
        ..Subject::default()
    }
}

fn source(origin: Origin) -> NotificationSource {
    match origin {
        Origin::Fulfilment => NotificationSource::Fulfillment,
        Origin::Notice(NoticeSource::Sns) => NotificationSource::Sns,
        Origin::Notice(NoticeSource::EventBridge) => NotificationSource::Eventbridge,
    }
}
