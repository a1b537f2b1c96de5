//! NATS subjects (`souk.<org>.<area>.<event>`), the event areas and the JetStream stream that
//! holds each area.

use std::fmt;
use std::time::Duration;

use async_nats::jetstream::stream;

use crate::Error;

/// The subject prefix used in production.
pub const DEFAULT_SUBJECT_PREFIX: &str = "souk";
/// The stream-name prefix used in production (`SOUK_SUBSCRIPTION`, ...).
pub const DEFAULT_STREAM_PREFIX: &str = "SOUK";
/// How long JetStream remembers a `Nats-Msg-Id` to drop a republished duplicate.
pub const DEFAULT_DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// The part of the business an event belongs to; one JetStream stream per area.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Area {
    /// Organisations, seller integrations, API keys.
    Integration,
    /// SaaS subscriptions and their lifecycle.
    Subscription,
    /// Contract entitlements.
    Entitlement,
    /// Marketplace agreements.
    Agreement,
    /// Usage ingestion and shipping.
    Metering,
    /// Private offers and resale authorisations.
    Offer,
    /// Data feed ingestion and reports.
    Report,
}

impl Area {
    /// Every area, in a stable order.
    pub const ALL: [Area; 7] = [
        Area::Integration,
        Area::Subscription,
        Area::Entitlement,
        Area::Agreement,
        Area::Metering,
        Area::Offer,
        Area::Report,
    ];

    /// The subject token of the area (`subscription`).
    pub fn as_str(self) -> &'static str {
        match self {
            Area::Integration => "integration",
            Area::Subscription => "subscription",
            Area::Entitlement => "entitlement",
            Area::Agreement => "agreement",
            Area::Metering => "metering",
            Area::Offer => "offer",
            Area::Report => "report",
        }
    }

    /// The area named by the subject token `token`.
    pub fn parse(token: &str) -> Result<Area, Error> {
        Area::ALL
            .into_iter()
            .find(|area| area.as_str() == token)
            .ok_or_else(|| Error::InvalidEvent(format!("unknown event area {token:?}")))
    }
}

impl fmt::Display for Area {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Checks one subject token: non-empty, lowercase ASCII letters, digits, `_` and `-`, so that it
/// can never contain a `.`, a space or a wildcard (`*`, `>`).
pub fn validate_token(what: &str, token: &str) -> Result<(), Error> {
    if token.is_empty() {
        return Err(Error::InvalidEvent(format!("{what} must not be empty")));
    }
    let valid = token
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !valid {
        return Err(Error::InvalidEvent(format!(
            "{what} {token:?} must contain only lowercase letters, digits, '_' and '-'"
        )));
    }
    Ok(())
}

/// `souk.<org>.<area>.<event>`, for example `souk.acme.subscription.cancel_pending`.
pub fn subject_for(org: &str, area: Area, event: &str) -> Result<String, Error> {
    Namespace::default().subject_for(org, area, event)
}

/// Splits an event type (`subscription.cancel_pending`) into its area and event name.
pub fn split_event_type(event_type: &str) -> Result<(Area, &str), Error> {
    let Some((area, event)) = event_type.split_once('.') else {
        return Err(Error::InvalidEvent(format!(
            "event type {event_type:?} must be \"<area>.<event>\""
        )));
    };
    let area = Area::parse(area)?;
    validate_token("event name", event)?;
    Ok((area, event))
}

/// Where events live on the broker: the subject prefix and the stream-name prefix.
///
/// Production uses [`Namespace::default`] (`souk`, `SOUK`); tests use a unique namespace each
/// so that their streams do not overlap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    subject_prefix: String,
    stream_prefix: String,
}

impl Default for Namespace {
    fn default() -> Self {
        Self {
            subject_prefix: DEFAULT_SUBJECT_PREFIX.to_owned(),
            stream_prefix: DEFAULT_STREAM_PREFIX.to_owned(),
        }
    }
}

impl Namespace {
    /// A namespace with subject prefix `subject_prefix` (a valid token) and streams named
    /// `<STREAM_PREFIX>_<AREA>` where the stream prefix is the subject prefix upper-cased.
    pub fn new(subject_prefix: &str) -> Result<Self, Error> {
        validate_token("subject prefix", subject_prefix)?;
        Ok(Self {
            subject_prefix: subject_prefix.to_owned(),
            stream_prefix: subject_prefix.to_ascii_uppercase().replace('-', "_"),
        })
    }

    /// The subject prefix (`souk`).
    pub fn subject_prefix(&self) -> &str {
        &self.subject_prefix
    }

    /// `<prefix>.<org>.<area>.<event>`, each token validated.
    pub fn subject_for(&self, org: &str, area: Area, event: &str) -> Result<String, Error> {
        validate_token("organization id", org)?;
        validate_token("event name", event)?;
        Ok(format!("{}.{org}.{area}.{event}", self.subject_prefix))
    }

    /// The subject of an event of type `event_type` (`subscription.cancel_pending`) for `org`.
    pub fn subject_for_type(&self, org: &str, event_type: &str) -> Result<String, Error> {
        let (area, event) = split_event_type(event_type)?;
        self.subject_for(org, area, event)
    }

    /// Whether `subject` is a well-formed event subject of this namespace
    /// (`<prefix>.<org>.<area>.<event>`), that is, one some area stream captures.
    pub fn owns(&self, subject: &str) -> bool {
        let mut tokens = subject.split('.');
        let (Some(prefix), Some(org), Some(area), Some(event), None) = (
            tokens.next(),
            tokens.next(),
            tokens.next(),
            tokens.next(),
            tokens.next(),
        ) else {
            return false;
        };
        prefix == self.subject_prefix
            && validate_token("organization id", org).is_ok()
            && Area::parse(area).is_ok()
            && validate_token("event name", event).is_ok()
    }

    /// The stream that holds `area` (`SOUK_SUBSCRIPTION`).
    pub fn stream_name(&self, area: Area) -> String {
        format!(
            "{}_{}",
            self.stream_prefix,
            area.as_str().to_ascii_uppercase()
        )
    }

    /// The subjects the stream of `area` captures (`souk.*.subscription.>`).
    pub fn stream_subjects(&self, area: Area) -> String {
        format!("{}.*.{area}.>", self.subject_prefix)
    }

    /// The subject filter for every event of `area` of one organisation.
    pub fn org_filter(&self, org: &str, area: Area) -> Result<String, Error> {
        validate_token("organization id", org)?;
        Ok(format!("{}.{org}.{area}.>", self.subject_prefix))
    }
}

/// Settings of the per-area JetStream streams.
#[derive(Debug, Clone)]
pub struct StreamSettings {
    /// Subject and stream-name prefixes.
    pub namespace: Namespace,
    /// How long the broker remembers message ids for deduplication; the relay's worst-case
    /// republish delay must stay below it.
    pub duplicate_window: Duration,
    /// How long events are kept (zero: forever).
    pub max_age: Duration,
    /// Replicas per stream (1 on a single server).
    pub replicas: usize,
}

impl Default for StreamSettings {
    fn default() -> Self {
        Self {
            namespace: Namespace::default(),
            duplicate_window: DEFAULT_DUPLICATE_WINDOW,
            max_age: Duration::ZERO,
            replicas: 1,
        }
    }
}

impl StreamSettings {
    /// The JetStream configuration of the stream of `area`: file storage, limits retention,
    /// the configured duplicate window.
    pub fn stream_config(&self, area: Area) -> stream::Config {
        stream::Config {
            name: self.namespace.stream_name(area),
            description: Some(format!("souk {area} events")),
            subjects: vec![self.namespace.stream_subjects(area)],
            storage: stream::StorageType::File,
            retention: stream::RetentionPolicy::Limits,
            duplicate_window: self.duplicate_window,
            max_age: self.max_age,
            num_replicas: self.replicas.max(1),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_follow_the_contract() {
        assert_eq!(
            subject_for("acme", Area::Subscription, "cancel_pending").unwrap(),
            "souk.acme.subscription.cancel_pending"
        );
        let ns = Namespace::default();
        assert_eq!(ns.stream_name(Area::Report), "SOUK_REPORT");
        assert_eq!(ns.stream_subjects(Area::Metering), "souk.*.metering.>");
        assert_eq!(
            ns.subject_for_type("org_01", "offer.published").unwrap(),
            "souk.org_01.offer.published"
        );
    }

    #[test]
    fn bad_tokens_are_rejected() {
        let ns = Namespace::default();
        for org in ["", "Acme", "a.b", "a b", "*", ">", "a*"] {
            assert!(subject_for(org, Area::Offer, "created").is_err(), "{org:?}");
        }
        assert!(subject_for("acme", Area::Offer, "created.x").is_err());
        assert!(split_event_type("bogus.created").is_err());
        assert!(split_event_type("offer").is_err());
        assert!(Namespace::new("Bad").is_err());
        assert!(ns.owns("souk.acme.offer.created"));
        assert!(!ns.owns("souk.acme.offer"));
        assert!(!ns.owns("other.acme.offer.created"));
        assert!(!ns.owns("souk.acme.nope.created"));
    }

    #[test]
    fn stream_config_uses_file_storage_and_dedupe_window() {
        let settings = StreamSettings::default();
        let config = settings.stream_config(Area::Subscription);
        assert_eq!(config.name, "SOUK_SUBSCRIPTION");
        assert_eq!(config.subjects, vec!["souk.*.subscription.>".to_string()]);
        assert_eq!(config.storage, stream::StorageType::File);
        assert_eq!(config.duplicate_window, Duration::from_secs(120));
    }
}
