//! Injected fault rules and disabled regions (data and the pure rules that consume them;
//! `World.faults`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What a fault does to a matching call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// The service's throttling error (nothing is processed).
    Throttle,
    /// The service's internal (5xx) error (nothing is processed).
    ServerError,
    /// The call is processed after `latency_ms`.
    Latency,
    /// The call is processed, then the connection is cut before a response is read: the client
    /// sees a transport error although the state changed (the case idempotency exists for).
    Drop,
    /// BatchMeterUsage only: each record the rule hits is returned in `UnprocessedRecords`
    /// (counts and probabilities apply per record).
    Unprocessed,
}

/// One injected fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// Identifier returned on creation (for deletion).
    #[serde(default)]
    pub id: String,
    /// Operation name as on the wire (`BatchMeterUsage`, `GetEntitlements`, `AssumeRole`,
    /// `StartChangeSet`, `ReceiveMessage`), or `*` for every operation.
    pub operation: String,
    /// Restricts the rule to one service (`metering`, `entitlement`, `catalog`, `agreement`,
    /// `sts`, `sqs`, `s3`); `None` matches any.
    #[serde(default)]
    pub service: Option<String>,
    /// What happens.
    pub kind: FaultKind,
    /// How many more calls this rule hits; `None` = until removed.
    #[serde(default)]
    pub count: Option<u32>,
    /// Chance (0..=1) that a matching call is hit; `None` = always.
    #[serde(default)]
    pub probability: Option<f64>,
    /// Delay for [`FaultKind::Latency`].
    #[serde(default)]
    pub latency_ms: Option<u64>,
}

/// The faults in force.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct FaultState {
    /// Rules, evaluated in order; every matching latency rule adds up, the first matching
    /// throttle/5xx/drop rule wins.
    pub rules: Vec<FaultRule>,
    next_id: u64,
    /// Regions where the Marketplace APIs are disabled (`DisabledApiException`, STS
    /// `RegionDisabledException`), matched against the SigV4 signing region.
    #[serde(default)]
    pub disabled_regions: std::collections::BTreeSet<String>,
}

impl FaultState {
    /// Adds a rule and returns its id.
    pub fn add(&mut self, mut rule: FaultRule) -> String {
        self.next_id += 1;
        rule.id = format!("fault-{}", self.next_id);
        let id = rule.id.clone();
        self.rules.push(rule);
        id
    }

    /// Removes a rule; returns whether it existed.
    pub fn remove(&mut self, id: &str) -> bool {
        let before = self.rules.len();
        self.rules.retain(|rule| rule.id != id);
        before != self.rules.len()
    }

    /// Decides what happens to one call, consuming counts of the rules that fire.
    pub fn decide(&mut self, service: &str, operation: &str) -> Decision {
        let mut decision = Decision::default();
        for rule in &mut self.rules {
            let op_matches = rule.operation == "*" || rule.operation == operation;
            let service_matches = rule.service.as_deref().is_none_or(|s| s == service);
            if !op_matches
                || !service_matches
                || rule.count == Some(0)
                || rule.kind == FaultKind::Unprocessed
            {
                continue;
            }
            if decision.outcome.is_some() && rule.kind != FaultKind::Latency {
                continue;
            }
            if let Some(p) = rule.probability
                && rand::random::<f64>() >= p
            {
                continue;
            }
            if let Some(count) = rule.count.as_mut() {
                *count -= 1;
            }
            match rule.kind {
                FaultKind::Latency => {
                    decision.delay += Duration::from_millis(rule.latency_ms.unwrap_or(0))
                }
                kind => decision.outcome = Some(kind),
            }
        }
        self.rules.retain(|rule| rule.count != Some(0));
        decision
    }
}

impl FaultState {
    /// Whether an `unprocessed` rule hits one record of `operation` (consumes its count).
    pub fn record_unprocessed(&mut self, operation: &str) -> bool {
        let mut hit = false;
        for rule in &mut self.rules {
            if rule.kind != FaultKind::Unprocessed
                || !(rule.operation == "*" || rule.operation == operation)
            {
                continue;
            }
            if rule.count == Some(0) || rule.probability.is_some_and(|p| rand::random::<f64>() >= p)
            {
                continue;
            }
            if let Some(count) = rule.count.as_mut() {
                *count -= 1;
            }
            hit = true;
            break;
        }
        self.rules.retain(|rule| rule.count != Some(0));
        hit
    }
}

/// The outcome of [`FaultState::decide`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Added latency.
    pub delay: Duration,
    /// Throttle, 5xx or drop, if one fired.
    pub outcome: Option<FaultKind>,
}
