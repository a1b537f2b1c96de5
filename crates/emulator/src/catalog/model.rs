//! What the catalog stores: change sets with their changes, offers, resale authorizations and
//! catalog-local products.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::Date;

use crate::at::At;

/// Change-set status as AWS spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChangeSetStatus {
    /// Validating; can still be cancelled.
    Preparing,
    /// Being applied; entities locked.
    Applying,
    /// Applied.
    Succeeded,
    /// Cancelled while preparing.
    Cancelled,
    /// Rejected by a business rule (`ErrorDetailList`) or a server fault.
    Failed,
}

impl ChangeSetStatus {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Preparing => "PREPARING",
            Self::Applying => "APPLYING",
            Self::Succeeded => "SUCCEEDED",
            Self::Cancelled => "CANCELLED",
            Self::Failed => "FAILED",
        }
    }

    /// Whether the change set has finished.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Succeeded | Self::Cancelled | Self::Failed)
    }
}

/// One asynchronous business-rule failure of a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// For example `INVALID_CHARGE_DATES`.
    pub code: String,
    /// Human-readable message.
    pub message: String,
}

impl ErrorDetail {
    /// A new error detail.
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

/// A change as submitted (plus its outcome).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Change {
    /// For example `CreateOffer`.
    pub change_type: String,
    /// For example `Offer@1.0`.
    pub entity_type: String,
    /// The identifier as submitted (may be a `$Name.Entity.Identifier` reference or absent).
    pub identifier: Option<String>,
    /// The identifier after resolution (new ids are filled in when the change set succeeds).
    pub resolved_identifier: Option<String>,
    /// `ChangeName`.
    pub change_name: Option<String>,
    /// `Details` (stringified JSON), when submitted in that form.
    pub details: Option<String>,
    /// `DetailsDocument`, when submitted in that form.
    pub details_document: Option<Value>,
    /// The parsed details, whichever form was used.
    pub document: Value,
    /// `EntityTags`, echoed only.
    pub entity_tags: Vec<Value>,
    /// Asynchronous errors.
    pub errors: Vec<ErrorDetail>,
}

/// A change set.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChangeSet {
    /// Change-set id (25 lower-case alphanumerics).
    pub id: String,
    /// `ChangeSetName`.
    pub name: String,
    /// `APPLY` or `VALIDATE`.
    pub intent: String,
    /// Current status.
    pub status: ChangeSetStatus,
    /// When it was started.
    #[serde(with = "crate::at::offset_datetime")]
    pub start_time: At,
    /// When it left PREPARING (APPLYING begins).
    #[serde(with = "crate::at::offset_datetime")]
    pub applying_at: At,
    /// When it will finish (or finished).
    #[serde(with = "crate::at::offset_datetime")]
    pub finish_at: At,
    /// Set once terminal.
    #[serde(default, with = "crate::at::offset_datetime::option")]
    pub end_time: Option<At>,
    /// `CLIENT_ERROR` / `SERVER_FAULT` when FAILED.
    pub failure_code: Option<String>,
    /// Failure not tied to one change.
    pub failure_description: Option<String>,
    /// The changes.
    pub changes: Vec<Change>,
    /// Existing entity ids the change set touches (locked while running).
    pub locked_entities: Vec<String>,
    /// `ClientRequestToken`.
    pub client_request_token: Option<String>,
    /// `ChangeSetTags`.
    pub tags: Vec<Value>,
}

impl ChangeSet {
    /// Entity ids shown in `EntityIdList`: the locked ones plus those created.
    pub fn entity_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        for change in &self.changes {
            if let Some(id) = &change.resolved_identifier
                && !id.starts_with('$')
                && !ids.contains(id)
            {
                ids.push(id.clone());
            }
        }
        for id in &self.locked_entities {
            if !ids.contains(id) {
                ids.push(id.clone());
            }
        }
        ids
    }
}

/// Offer state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OfferState {
    /// Being built.
    Draft,
    /// Published.
    Released,
}

/// Offer targeting, in the DetailsDocument form.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Targeting {
    /// `PositiveTargeting.BuyerAccounts`.
    pub buyer_accounts: Vec<String>,
    /// `PositiveTargeting.CountryCodes`.
    pub country_codes: Vec<String>,
    /// `NegativeTargeting.CountryCodes`.
    pub negative_country_codes: Vec<String>,
}

/// An `Offer@1.0` entity.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Offer {
    /// `offer-…`.
    pub id: String,
    /// Revision, bumped on every applied change set.
    pub revision: u32,
    /// Draft or Released.
    pub state: OfferState,
    /// The product offered.
    pub product_id: String,
    /// CPPO: the resale authorization the offer was created from.
    pub resale_authorization_id: Option<String>,
    /// Replacement offers: the agreement being replaced.
    pub replaces_agreement_id: Option<String>,
    /// `Name`.
    pub name: Option<String>,
    /// `Description`.
    pub description: Option<String>,
    /// `PreExistingAgreement`.
    pub pre_existing_agreement: Option<Value>,
    /// `MarkupPercentage` (CPPO).
    pub markup_percentage: Option<String>,
    /// `OfferSetId`.
    pub offer_set_id: Option<String>,
    /// `PricingModel` from UpdatePricingTerms.
    pub pricing_model: Option<String>,
    /// All terms in DetailsDocument form (PascalCase), one per `Type`.
    pub terms: Vec<Value>,
    /// Targeting rule.
    pub targeting: Targeting,
    /// `AvailabilityEndDate`.
    pub availability_end_date: Option<Date>,
    /// When the offer was released.
    #[serde(default, with = "crate::at::offset_datetime::option")]
    pub release_date: Option<At>,
    /// Last modification.
    #[serde(with = "crate::at::offset_datetime")]
    pub last_modified: At,
}

impl Offer {
    /// A private offer targets buyer accounts.
    pub fn is_private(&self) -> bool {
        !self.targeting.buyer_accounts.is_empty()
    }

    /// The term of type `term_type`, if any.
    pub fn term(&self, term_type: &str) -> Option<&Value> {
        self.terms
            .iter()
            .find(|t| t.get("Type").and_then(Value::as_str) == Some(term_type))
    }

    /// Replaces every term whose type is in `types` with `new_terms`.
    pub fn replace_terms(&mut self, types: &[&str], new_terms: Vec<Value>) {
        self.terms.retain(|t| {
            !types.contains(&t.get("Type").and_then(Value::as_str).unwrap_or_default())
        });
        self.terms.extend(new_terms);
    }

    /// Whether the offer has expired at `now`.
    pub fn is_expired(&self, now: At) -> bool {
        self.availability_end_date
            .is_some_and(|d| crate::support::format::end_of(d) < now)
    }
}

/// Resale authorization status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResaleStatus {
    /// Being built.
    Draft,
    /// Released to the reseller.
    Active,
    /// Restricted: no new offers.
    Restricted,
}

/// A `ResaleAuthorization@1.0` entity.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResaleAuthorization {
    /// `resaleauthz-…`.
    pub id: String,
    /// Revision.
    pub revision: u32,
    /// Status.
    pub status: ResaleStatus,
    /// Product.
    pub product_id: String,
    /// `Name`.
    pub name: String,
    /// `Description`.
    pub description: Option<String>,
    /// The channel partner.
    pub reseller_account_id: String,
    /// The ISV.
    pub manufacturer_account_id: String,
    /// `PreExistingBuyerAgreement`.
    pub pre_existing_buyer_agreement: Option<Value>,
    /// `PricingModel`.
    pub pricing_model: Option<String>,
    /// Terms (Resale*PricingTerm, ResalePaymentScheduleTerm, BuyerLegalTerm, ResaleLegalTerm,
    /// BuyerTargetingTerm, BuyerValidityTerm) in DetailsDocument form.
    pub terms: Vec<Value>,
    /// `AvailabilityEndDate`.
    pub availability_end_date: Option<Date>,
    /// `OffersMaxQuantity`.
    pub offers_max_quantity: Option<u64>,
    /// Creation time.
    #[serde(with = "crate::at::offset_datetime")]
    pub created: At,
    /// Last modification.
    #[serde(with = "crate::at::offset_datetime")]
    pub last_modified: At,
}

impl ResaleAuthorization {
    /// The term of type `term_type`, if any.
    pub fn term(&self, term_type: &str) -> Option<&Value> {
        self.terms
            .iter()
            .find(|t| t.get("Type").and_then(Value::as_str) == Some(term_type))
    }
}

/// A product known to the catalog (seeded through the control API, or mirrored from the market).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CatalogProduct {
    /// `prod-…`.
    pub id: String,
    /// `SaaSProduct@1.0`, `AmiProduct@1.0`, `ContainerProduct@1.0`, `ProfessionalServicesProduct@1.0`...
    pub entity_type: String,
    /// Product title.
    pub title: String,
    /// Product code.
    pub product_code: String,
    /// `Public`, `Limited`, `Restricted`, `Draft`.
    pub visibility: String,
    /// The seller that owns the product.
    pub seller_account_id: String,
    /// Dimensions, `{ "Key", "Name", "Types": [...], "Unit" }`.
    pub dimensions: Vec<Value>,
    /// Last modification.
    #[serde(with = "crate::at::offset_datetime")]
    pub last_modified: At,
}

/// Knobs for the catalog emulation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CatalogSettings {
    /// How long a change set stays PREPARING (ms of emulator time).
    pub preparing_millis: u64,
    /// How long it stays APPLYING (ms of emulator time).
    pub applying_millis: u64,
    /// Open (non-terminal) change sets allowed before `ServiceQuotaExceededException`.
    pub max_open_change_sets: usize,
}

impl Default for CatalogSettings {
    fn default() -> Self {
        Self {
            preparing_millis: 2_000,
            applying_millis: 3_000,
            max_open_change_sets: 20,
        }
    }
}
