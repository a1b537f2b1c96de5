//! The buyer model: products and their dimensions, customers, subscriptions (with the
//! unsubscribe-pending → unsubscribe-success hour), contract entitlements and registration
//! tokens.
//!
//! Every function is pure on `&mut World` / `&MarketState` plus the emulator's `now` (an
//! [`At`], kept to the whole second), so the control API, the catalog/agreement emulation (a
//! buyer accepting a private offer) and tests drive the same rules. Lifecycle notifications are
//! queued with `world.notify.emit(..)`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::Duration;

pub mod model;

pub use model::license_id;
use model::subscription_key;
pub use model::{
    Customer, Dimension, DimensionKind, Entitlement, EntitlementValue, MarketState, Product,
    ProductKind, RegistrationToken, Subscription, SubscriptionStatus,
};

use crate::at::At;
use crate::config::EmulatorConfig;
use crate::notify::model::Notification;
use crate::state::World;

/// Longest product title accepted (the Catalog API's `ProductTitle` limit).
pub const MAX_TITLE_CHARS: usize = 255;
/// Longest dimension description accepted.
pub const MAX_DESCRIPTION_CHARS: usize = 1000;
/// Longest fulfilment URL accepted.
pub const MAX_URL_CHARS: usize = 2048;
/// Most dimensions a product may have (keeps one product from bloating the state).
pub const MAX_DIMENSIONS: usize = 200;

/// What the control API (or the catalog emulation) gives to create a product.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewProduct {
    /// Product code; generated when absent.
    #[serde(default)]
    pub product_code: Option<String>,
    /// Product id; generated when absent.
    #[serde(default)]
    pub product_id: Option<String>,
    /// Kind (default SaaS).
    #[serde(default)]
    pub kind: Option<ProductKind>,
    /// Title.
    #[serde(default)]
    pub title: Option<String>,
    /// Dimensions.
    #[serde(default)]
    pub dimensions: Vec<Dimension>,
    /// See [`Product::concurrent_agreements`].
    #[serde(default)]
    pub concurrent_agreements: bool,
    /// See [`Product::fulfillment_url`].
    #[serde(default)]
    pub fulfillment_url: Option<String>,
}

/// Why a market operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarketError {
    /// The product, customer or subscription does not exist.
    #[error("{0}")]
    NotFound(String),
    /// Bad input.
    #[error("{0}")]
    InvalidArgument(String),
    /// The state does not allow it (e.g. unsubscribing twice).
    #[error("{0}")]
    Conflict(String),
}

fn random_lower_alnum(len: usize) -> String {
    use rand::Rng as _;
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(CHARS[rng.random_range(0..CHARS.len())]))
        .collect()
}

/// The stable legacy `CustomerIdentifier` of an account (11 characters, like AWS's).
pub fn customer_identifier_for(aws_account_id: &str) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(aws_account_id.as_bytes());
    let mut id = String::from("C");
    for byte in digest.iter().take(5) {
        id.push_str(&format!("{byte:02X}"));
    }
    id
}

/// A fresh licence ARN for a buyer (`arn:aws:license-manager::<buyer>:license:l-<32 hex>`).
pub fn new_license_arn(aws_account_id: &str) -> String {
    format!(
        "arn:aws:license-manager::{aws_account_id}:license:l-{}",
        uuid::Uuid::new_v4().simple()
    )
}

/// A fresh agreement id (`agmt-` + 25 characters).
pub fn new_agreement_id() -> String {
    format!("agmt-{}", random_lower_alnum(25))
}

fn is_account_id(value: &str) -> bool {
    value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit())
}

/// Creates (or replaces, when the code exists) a product.
pub fn create_product(world: &mut World, new: NewProduct) -> Result<Product, MarketError> {
    let product_code = new
        .product_code
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| random_lower_alnum(25));
    if product_code.len() > 255 {
        return Err(MarketError::InvalidArgument(
            "product_code must be at most 255 characters".into(),
        ));
    }
    if let Some(id) = &new.product_id
        && id.len() > 255
    {
        return Err(MarketError::InvalidArgument(
            "product_id must be at most 255 characters".into(),
        ));
    }
    if new
        .title
        .as_ref()
        .is_some_and(|t| t.chars().count() > MAX_TITLE_CHARS)
    {
        return Err(MarketError::InvalidArgument(format!(
            "title must be at most {MAX_TITLE_CHARS} characters"
        )));
    }
    if new
        .fulfillment_url
        .as_ref()
        .is_some_and(|u| u.len() > MAX_URL_CHARS)
    {
        return Err(MarketError::InvalidArgument(format!(
            "fulfillment_url must be at most {MAX_URL_CHARS} characters"
        )));
    }
    if new.dimensions.len() > MAX_DIMENSIONS {
        return Err(MarketError::InvalidArgument(format!(
            "a product has at most {MAX_DIMENSIONS} dimensions"
        )));
    }
    let mut seen = std::collections::BTreeSet::new();
    for dimension in &new.dimensions {
        if dimension.description.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(MarketError::InvalidArgument(format!(
                "dimension descriptions must be at most {MAX_DESCRIPTION_CHARS} characters"
            )));
        }
        if dimension.name.is_empty() || dimension.name.len() > 255 {
            return Err(MarketError::InvalidArgument(
                "dimension names must be 1..255 characters".into(),
            ));
        }
        if !seen.insert(dimension.name.as_str()) {
            return Err(MarketError::InvalidArgument(format!(
                "duplicate dimension {}",
                dimension.name
            )));
        }
    }
    let product = Product {
        product_id: new
            .product_id
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| format!("prod-{}", random_lower_alnum(13))),
        kind: new.kind.unwrap_or(ProductKind::Saas),
        title: new.title.unwrap_or_else(|| product_code.clone()),
        dimensions: new.dimensions,
        concurrent_agreements: new.concurrent_agreements,
        fulfillment_url: new
            .fulfillment_url
            .unwrap_or_else(|| "http://localhost:8080/aws/fulfillment".to_owned()),
        product_code: product_code.clone(),
        last_modified: At::UNIX_EPOCH,
    };
    world.market.products.insert(product_code, product.clone());
    Ok(product)
}

/// What a buyer does to subscribe (or accept an offer).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscribeRequest {
    /// The product.
    pub product_code: String,
    /// The buyer account (12 digits).
    pub customer_aws_account_id: String,
    /// The offer accepted.
    #[serde(default)]
    pub offer_id: Option<String>,
    /// The agreement id to use (the agreement emulation may pass its own); generated when absent.
    #[serde(default)]
    pub agreement_id: Option<String>,
    /// Whether the offer has a free-trial term.
    #[serde(default)]
    pub free_trial: bool,
}

/// The result of [`subscribe`].
#[derive(Debug, Clone, Serialize)]
pub struct SubscribeOutcome {
    /// The subscription.
    pub subscription: Subscription,
    /// The registration token for `ResolveCustomer`.
    pub registration_token: String,
}

/// Subscribes a buyer: creates the customer, the subscription (or re-activates a pending or
/// ended one), issues a registration token and emits `subscribe-success` (plus
/// `Purchase Agreement Created - Proposer` for concurrent-agreement products).
pub fn subscribe(
    world: &mut World,
    config: &EmulatorConfig,
    request: SubscribeRequest,
    now: At,
) -> Result<SubscribeOutcome, MarketError> {
    // Market times are whole seconds (see `model`).
    let now = now.floor_seconds();
    let account = request.customer_aws_account_id.clone();
    if !is_account_id(&account) {
        return Err(MarketError::InvalidArgument(
            "customer_aws_account_id must be 12 digits".into(),
        ));
    }
    let product = world
        .market
        .product(&request.product_code)
        .cloned()
        .ok_or_else(|| {
            MarketError::NotFound(format!("product {} does not exist", request.product_code))
        })?;
    let customer = world
        .market
        .customers
        .entry(account.clone())
        .or_insert_with(|| Customer {
            aws_account_id: account.clone(),
            customer_identifier: customer_identifier_for(&account),
        })
        .clone();
    let key = subscription_key(&product.product_code, &account);
    let existing = world.market.subscriptions.get(&key).cloned();
    let subscription = match existing {
        Some(s) if s.status == SubscriptionStatus::Active => s,
        Some(
            s @ Subscription {
                status: SubscriptionStatus::UnsubscribePending { .. },
                ..
            },
        ) => Subscription {
            status: SubscriptionStatus::Active,
            offer_id: request.offer_id.clone().or(s.offer_id.clone()),
            ..s
        },
        _ => Subscription {
            product_code: product.product_code.clone(),
            aws_account_id: account.clone(),
            customer_identifier: customer.customer_identifier.clone(),
            license_arn: new_license_arn(&account),
            agreement_id: request
                .agreement_id
                .clone()
                .unwrap_or_else(new_agreement_id),
            offer_id: request.offer_id.clone(),
            free_trial: request.free_trial,
            status: SubscriptionStatus::Active,
            subscribed_at: now,
        },
    };
    let newly_active = world
        .market
        .subscriptions
        .get(&key)
        .is_none_or(|s| s.status != SubscriptionStatus::Active);
    world.market.subscriptions.insert(key, subscription.clone());
    let registration_token = new_registration_token();
    world.market.tokens.insert(
        registration_token.clone(),
        RegistrationToken {
            product_code: product.product_code.clone(),
            aws_account_id: account,
            issued_at: now,
        },
    );
    if newly_active {
        emit_subscription(world, &product, &subscription, "subscribe-success");
        if product.concurrent_agreements {
            let detail = agreement_detail(
                config,
                &subscription,
                now,
                serde_json::json!({
                    "id": subscription.agreement_id, "intent": "NEW", "status": "ACTIVE",
                    "acceptanceTime": now.rfc3339(), "startTime": now.rfc3339(),
                }),
            );
            emit_event(
                world,
                &subscription,
                "Purchase Agreement Created - Proposer",
                detail,
            );
        }
    }
    Ok(SubscribeOutcome {
        subscription,
        registration_token,
    })
}

/// Starts the final hour: `unsubscribe-pending` now (plus `Purchase Agreement Ended -
/// Proposer`), `unsubscribe-success` when [`tick`] passes `now + 1h`.
pub fn unsubscribe(
    world: &mut World,
    config: &EmulatorConfig,
    product_code: &str,
    aws_account_id: &str,
    now: At,
) -> Result<Subscription, MarketError> {
    let now = now.floor_seconds();
    let ends_at = now + Duration::HOUR;
    let key = subscription_key(product_code, aws_account_id);
    let Some(subscription) = world.market.subscriptions.get_mut(&key) else {
        return Err(MarketError::NotFound(format!(
            "{aws_account_id} is not subscribed to {product_code}"
        )));
    };
    if subscription.status != SubscriptionStatus::Active {
        return Err(MarketError::Conflict(format!(
            "the subscription of {aws_account_id} to {product_code} is not active"
        )));
    }
    subscription.status = SubscriptionStatus::UnsubscribePending { ends_at };
    let subscription = subscription.clone();
    let next = world
        .market
        .next_transition_at
        .map_or(ends_at, |at| at.min(ends_at));
    world.market.next_transition_at = Some(next);
    let Some(product) = world.market.product(product_code).cloned() else {
        return Err(MarketError::NotFound(format!(
            "product {product_code} does not exist"
        )));
    };
    emit_subscription(world, &product, &subscription, "unsubscribe-pending");
    if product.concurrent_agreements {
        let detail = agreement_detail(
            config,
            &subscription,
            now,
            serde_json::json!({
                "id": subscription.agreement_id, "status": "CANCELLED",
            }),
        );
        emit_event(
            world,
            &subscription,
            "Purchase Agreement Ended - Proposer",
            detail,
        );
    }
    Ok(subscription)
}

/// Applies time-driven transitions up to `now`: pending unsubscriptions whose hour is over
/// become `unsubscribe-success` (plus `License Deprovisioned - Manufacturer`), and their
/// entitlements are removed.
pub fn tick(world: &mut World, config: &EmulatorConfig, now: At) {
    let now = now.floor_seconds();
    if world.market.next_transition_at.is_none_or(|at| at > now) {
        return;
    }
    let due: Vec<String> = world
        .market
        .subscriptions
        .iter()
        .filter(|(_, s)| matches!(s.status, SubscriptionStatus::UnsubscribePending { ends_at } if ends_at <= now))
        .map(|(key, _)| key.clone())
        .collect();
    world.market.recompute_next_transition(now);
    for key in due {
        let Some(subscription) = world.market.subscriptions.get_mut(&key) else {
            continue;
        };
        let at = match subscription.status {
            SubscriptionStatus::UnsubscribePending { ends_at } => ends_at,
            _ => now,
        };
        subscription.status = SubscriptionStatus::Unsubscribed { at };
        let subscription = subscription.clone();
        let prefix = format!("{key}/");
        world
            .market
            .entitlements
            .retain(|k, _| !k.starts_with(&prefix));
        let Some(product) = world.market.product(&subscription.product_code).cloned() else {
            continue;
        };
        emit_subscription(world, &product, &subscription, "unsubscribe-success");
        if product.concurrent_agreements {
            let detail = license_detail(config, &product, &subscription);
            emit_event(
                world,
                &subscription,
                "License Deprovisioned - Manufacturer",
                detail,
            );
        }
    }
}

/// Replaces the contract entitlements of a buyer for a product (a new contract, an upgrade, a
/// renewal) and emits `entitlement-updated` (plus `License Updated - Manufacturer`).
/// The buyer must be subscribed (see [`subscribe`]); every key must be a dimension of the
/// product.
pub fn set_entitlements(
    world: &mut World,
    config: &EmulatorConfig,
    product_code: &str,
    aws_account_id: &str,
    values: BTreeMap<String, EntitlementValue>,
    expiration: Option<At>,
) -> Result<Vec<Entitlement>, MarketError> {
    // An agreement ending at 23:59:59.999 expires at 23:59:59, as entitlements show it.
    let expiration = expiration.map(At::floor_seconds);
    let Some(product) = world.market.product(product_code).cloned() else {
        return Err(MarketError::NotFound(format!(
            "product {product_code} does not exist"
        )));
    };
    let Some(subscription) = world
        .market
        .subscription(product_code, aws_account_id)
        .cloned()
    else {
        return Err(MarketError::NotFound(format!(
            "{aws_account_id} is not subscribed to {product_code}"
        )));
    };
    if matches!(subscription.status, SubscriptionStatus::Unsubscribed { .. }) {
        return Err(MarketError::Conflict(format!(
            "the subscription of {aws_account_id} to {product_code} has ended"
        )));
    }
    if let Some(unknown) = values.keys().find(|name| product.dimension(name).is_none()) {
        return Err(MarketError::InvalidArgument(format!(
            "{unknown} is not a dimension of {product_code}"
        )));
    }
    let prefix = format!("{}/", subscription_key(product_code, aws_account_id));
    world
        .market
        .entitlements
        .retain(|k, _| !k.starts_with(&prefix));
    let mut created = Vec::new();
    for (dimension, value) in values {
        let entitlement = Entitlement {
            product_code: product_code.to_owned(),
            dimension: dimension.clone(),
            aws_account_id: aws_account_id.to_owned(),
            customer_identifier: subscription.customer_identifier.clone(),
            license_arn: subscription.license_arn.clone(),
            value,
            expiration,
        };
        world
            .market
            .entitlements
            .insert(format!("{prefix}{dimension}"), entitlement.clone());
        created.push(entitlement);
    }
    world.notify.emit(Notification::EntitlementUpdated {
        product_code: product_code.to_owned(),
        customer_identifier: subscription.customer_identifier.clone(),
    });
    if product.concurrent_agreements {
        let detail = license_detail(config, &product, &subscription);
        emit_event(
            world,
            &subscription,
            "License Updated - Manufacturer",
            detail,
        );
    }
    Ok(created)
}

/// Why a registration token did not resolve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Unknown or malformed (`InvalidTokenException`).
    Invalid,
    /// Older than the token lifetime (`ExpiredTokenException`).
    Expired,
}

/// Resolves a registration token issued less than `ttl` ago.
pub fn resolve_token<'m>(
    market: &'m MarketState,
    token: &str,
    now: At,
    ttl: Duration,
) -> Result<&'m RegistrationToken, TokenError> {
    let token = market.tokens.get(token).ok_or(TokenError::Invalid)?;
    if now - token.issued_at >= ttl {
        return Err(TokenError::Expired);
    }
    Ok(token)
}

fn new_registration_token() -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 48];
    rand::Rng::fill(&mut rand::rng(), &mut bytes[..]);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn emit_subscription(
    world: &mut World,
    product: &Product,
    subscription: &Subscription,
    action: &str,
) {
    let customer_identifier = if product.concurrent_agreements {
        String::new()
    } else {
        subscription.customer_identifier.clone()
    };
    world.notify.emit(Notification::Subscription {
        action: action.to_owned(),
        product_code: product.product_code.clone(),
        customer_identifier,
        customer_aws_account_id: subscription.aws_account_id.clone(),
        offer_id: subscription.offer_id.clone(),
        free_trial: subscription.free_trial,
    });
}

fn emit_event(
    world: &mut World,
    subscription: &Subscription,
    detail_type: &str,
    detail: serde_json::Value,
) {
    world.notify.emit(Notification::EventBridge {
        source: "aws.agreement-marketplace".to_owned(),
        detail_type: detail_type.to_owned(),
        resources: vec![format!(
            "arn:aws:aws-marketplace::aws:agreement:{}",
            subscription.agreement_id
        )],
        detail,
    });
}

fn agreement_detail(
    config: &EmulatorConfig,
    s: &Subscription,
    _now: At,
    agreement: serde_json::Value,
) -> serde_json::Value {
    serde_json::json!({
        "requestId": uuid::Uuid::new_v4().to_string(),
        "catalog": "AWSMarketplace",
        "agreement": agreement,
        "acceptor": { "accountId": s.aws_account_id },
        "proposer": { "accountId": config.seller_account_id },
        "offer": { "id": s.offer_id },
    })
}

fn license_detail(
    config: &EmulatorConfig,
    product: &Product,
    s: &Subscription,
) -> serde_json::Value {
    serde_json::json!({
        "requestId": uuid::Uuid::new_v4().to_string(),
        "catalog": "AWSMarketplace",
        "agreement": { "id": s.agreement_id },
        "product": { "code": product.product_code, "id": product.product_id },
        "license": { "arn": s.license_arn },
        "acceptor": { "accountId": s.aws_account_id },
        "proposer": { "accountId": config.seller_account_id },
        "offer": { "id": s.offer_id },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world_with_product(concurrent: bool) -> World {
        let mut world = World::default();
        let new = NewProduct {
            product_code: Some("prod1".into()),
            dimensions: vec![
                Dimension {
                    name: "users".into(),
                    kind: DimensionKind::Metered,
                    description: String::new(),
                },
                Dimension {
                    name: "seats".into(),
                    kind: DimensionKind::Entitled,
                    description: String::new(),
                },
            ],
            concurrent_agreements: concurrent,
            ..NewProduct::default()
        };
        assert!(create_product(&mut world, new).is_ok());
        world
    }

    fn request() -> SubscribeRequest {
        SubscribeRequest {
            product_code: "prod1".into(),
            customer_aws_account_id: "123456789012".into(),
            ..SubscribeRequest::default()
        }
    }

    #[test]
    fn unsubscribe_success_comes_one_hour_later() {
        let config = EmulatorConfig::default();
        let mut world = world_with_product(true);
        let at = At::from_seconds;
        assert!(subscribe(&mut world, &config, request(), at(1000)).is_ok());
        assert!(unsubscribe(&mut world, &config, "prod1", "123456789012", at(2000)).is_ok());
        tick(&mut world, &config, at(2000 + 3599));
        let status = world
            .market
            .subscription("prod1", "123456789012")
            .map(|s| s.status);
        assert_eq!(
            status,
            Some(SubscriptionStatus::UnsubscribePending { ends_at: at(5600) })
        );
        tick(&mut world, &config, at(5600));
        let status = world
            .market
            .subscription("prod1", "123456789012")
            .map(|s| s.status);
        assert_eq!(
            status,
            Some(SubscriptionStatus::Unsubscribed { at: at(5600) })
        );
        let kinds: Vec<String> = world
            .notify
            .pending
            .iter()
            .map(|n| match n {
                Notification::Subscription { action, .. } => action.clone(),
                Notification::EventBridge { detail_type, .. } => detail_type.clone(),
                Notification::EntitlementUpdated { .. } => "entitlement-updated".into(),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "subscribe-success",
                "Purchase Agreement Created - Proposer",
                "unsubscribe-pending",
                "Purchase Agreement Ended - Proposer",
                "unsubscribe-success",
                "License Deprovisioned - Manufacturer"
            ]
        );
    }

    #[test]
    fn entitlements_need_known_dimensions_and_a_subscription() {
        let config = EmulatorConfig::default();
        let mut world = world_with_product(false);
        let values = BTreeMap::from([("seats".to_owned(), EntitlementValue::Integer(10))]);
        let missing = set_entitlements(
            &mut world,
            &config,
            "prod1",
            "123456789012",
            values.clone(),
            None,
        );
        assert!(matches!(missing, Err(MarketError::NotFound(_))));
        assert!(subscribe(&mut world, &config, request(), At::UNIX_EPOCH).is_ok());
        let bad = BTreeMap::from([("nope".to_owned(), EntitlementValue::Boolean(true))]);
        assert!(matches!(
            set_entitlements(&mut world, &config, "prod1", "123456789012", bad, None),
            Err(MarketError::InvalidArgument(_))
        ));
        let set = set_entitlements(
            &mut world,
            &config,
            "prod1",
            "123456789012",
            values,
            Some(At::from_seconds(99)),
        );
        assert_eq!(set.map(|v| v.len()), Ok(1));
    }

    #[test]
    fn tokens_expire() {
        let config = EmulatorConfig::default();
        let mut world = world_with_product(false);
        let outcome =
            subscribe(&mut world, &config, request(), At::UNIX_EPOCH).map_err(|e| e.to_string());
        let Ok(outcome) = outcome else {
            panic!("subscribe failed")
        };
        let (at, ttl) = (At::from_seconds, Duration::seconds(200));
        assert!(resolve_token(&world.market, &outcome.registration_token, at(100), ttl).is_ok());
        assert_eq!(
            resolve_token(&world.market, &outcome.registration_token, at(200), ttl).err(),
            Some(TokenError::Expired)
        );
        assert_eq!(
            resolve_token(&world.market, "nope", at(0), ttl).err(),
            Some(TokenError::Invalid)
        );
    }
}
