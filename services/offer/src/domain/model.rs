//! What an offer is: the terms a seller asks for (an [`OfferDraft`], stored as it was asked) and
//! the offer Souk follows through its lifecycle ([`Offer`]). Amounts are integer micros in the
//! offer's currency; dates are UTC days, as the Catalog API takes them.

use serde::{Deserialize, Serialize};
use souk_core::Id;
use time::{Date, OffsetDateTime};

use super::dates::end_of_day;

/// Currencies AWS accepts for private offers' upfront and scheduled charges.
pub const CURRENCIES: &[&str] = &["USD", "EUR", "GBP", "JPY", "AUD"];

/// The only currency of usage-based and hourly prices.
pub const USD: &str = "USD";

/// Where an offer is in its lifecycle (docs/offers.md, lifecycle).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OfferState {
    /// Asked for, not sent to AWS yet (a clone waiting to be submitted).
    Draft,
    /// Its Catalog change set is running.
    Submitted,
    /// Published: the buyers can accept it until its expiry.
    Released,
    /// A buyer accepted it: an agreement exists.
    Accepted,
    /// Its expiry passed without an acceptance.
    Expired,
    /// The seller ended it before its expiry.
    Cancelled,
    /// AWS refused the change set.
    Failed,
}

impl OfferState {
    /// Every state.
    pub const ALL: [Self; 7] = [
        Self::Draft,
        Self::Submitted,
        Self::Released,
        Self::Accepted,
        Self::Expired,
        Self::Cancelled,
        Self::Failed,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Submitted => "submitted",
            Self::Released => "released",
            Self::Accepted => "accepted",
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
            Self::Failed => "failed",
        }
    }

    /// The state stored as `raw`.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// Whether nothing will change the offer any more.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Accepted | Self::Expired | Self::Cancelled | Self::Failed
        )
    }
}

/// The kind of an offer, named in every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OfferKind {
    /// SaaS pay-as-you-go.
    Subscription,
    /// SaaS contract.
    Contract,
    /// SaaS contract with pay-as-you-go usage on top.
    ContractWithConsumption,
    /// Agreement-based offer replacing an existing agreement.
    Replacement,
    /// Professional services.
    ProfessionalServices,
    /// AMI product.
    Ami,
    /// Container product.
    Container,
    /// Free trial.
    FreeTrial,
    /// A channel partner's offer made from a resale authorisation (CPPO).
    ChannelPartner,
}

impl OfferKind {
    /// Every kind.
    pub const ALL: [Self; 9] = [
        Self::Subscription,
        Self::Contract,
        Self::ContractWithConsumption,
        Self::Replacement,
        Self::ProfessionalServices,
        Self::Ami,
        Self::Container,
        Self::FreeTrial,
        Self::ChannelPartner,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Subscription => "subscription",
            Self::Contract => "contract",
            Self::ContractWithConsumption => "contract_with_consumption",
            Self::Replacement => "replacement",
            Self::ProfessionalServices => "professional_services",
            Self::Ami => "ami",
            Self::Container => "container",
            Self::FreeTrial => "free_trial",
            Self::ChannelPartner => "channel_partner",
        }
    }

    /// The kind stored as `raw`.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }

    /// How a seller reads it in an error message.
    pub fn label(self) -> &'static str {
        match self {
            Self::Subscription => "a subscription offer",
            Self::Contract => "a contract offer",
            Self::ContractWithConsumption => "a contract with consumption offer",
            Self::Replacement => "a replacement offer",
            Self::ProfessionalServices => "a professional services offer",
            Self::Ami => "an AMI offer",
            Self::Container => "a container offer",
            Self::FreeTrial => "a free-trial offer",
            Self::ChannelPartner => "a channel-partner offer",
        }
    }
}

/// The price of one unit of a dimension (usage, hour).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DimensionPrice {
    /// The product's dimension key.
    pub dimension_key: String,
    /// Price of one unit, micros of the offer's currency.
    pub price_micros: i64,
}

/// A dimension bought for the whole contract: its unit price and the quantity granted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractDimension {
    /// The product's dimension key.
    pub dimension_key: String,
    /// Price of one unit for the contract's duration, micros of the offer's currency.
    pub unit_price_micros: i64,
    /// Units granted; 0 lets the buyer choose (only without a payment schedule).
    pub quantity: i64,
}

/// A SaaS (or professional services, AMI, container) contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractTerms {
    /// Duration in months.
    pub duration_months: u32,
    /// The dimensions, each key once.
    pub dimensions: Vec<ContractDimension>,
    /// The buyer may buy several dimensions.
    pub allow_multiple_dimensions: bool,
    /// The buyer may change quantities.
    pub allow_quantity_change: bool,
}

impl ContractTerms {
    /// What the buyer commits to pay: the sum of unit price x quantity (`None` on overflow).
    pub fn commit_micros(&self) -> Option<i64> {
        self.dimensions.iter().try_fold(0_i64, |total, d| {
            d.unit_price_micros
                .checked_mul(d.quantity)
                .and_then(|line| total.checked_add(line))
        })
    }
}

/// Why a replacement offer replaces an agreement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplacementReason {
    /// More or better dimensions during the agreement.
    Upsell,
    /// A new term after the current one.
    Renewal,
    /// Any other replacement.
    Replacement,
}

/// How an AMI or container product is priced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SoftwarePricingModel {
    /// Per hour of use.
    Hourly,
    /// Hourly with a yearly prepaid alternative (AMI only).
    HourlyAnnual,
    /// An upfront contract for a duration.
    Contract,
    /// Bring your own licence: AWS does not take private offers for it.
    Byol,
    /// A monthly price: AWS has none for container offers.
    Monthly,
}

impl SoftwarePricingModel {
    /// How a seller reads it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Hourly => "hourly",
            Self::HourlyAnnual => "hourly with annual",
            Self::Contract => "contract",
            Self::Byol => "BYOL",
            Self::Monthly => "monthly",
        }
    }
}

/// The pricing of an AMI or container offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoftwareTerms {
    /// How it is priced.
    pub pricing_model: SoftwarePricingModel,
    /// Per-hour prices (hourly and hourly-annual).
    pub hourly_prices: Vec<DimensionPrice>,
    /// Prepaid or contract dimensions (hourly-annual: one year each; contract).
    pub contract_dimensions: Vec<ContractDimension>,
    /// Contract duration in months (contract).
    pub duration_months: u32,
}

/// One dimension usable during a free trial.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreeTrialGrant {
    /// The product's dimension key.
    pub dimension_key: String,
    /// Most units usable; `None` for unlimited.
    pub max_quantity: Option<i64>,
}

/// The pricing of an offer, one variant per kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Pricing {
    /// SaaS pay-as-you-go.
    Subscription {
        /// Price per unit of each usage dimension.
        usage_prices: Vec<DimensionPrice>,
    },
    /// SaaS contract.
    Contract {
        /// The contract.
        contract: ContractTerms,
    },
    /// SaaS contract with usage billed on top.
    ContractWithConsumption {
        /// The contract.
        contract: ContractTerms,
        /// Price per unit of usage beyond it.
        usage_prices: Vec<DimensionPrice>,
    },
    /// Replaces an existing agreement of the buyer.
    Replacement {
        /// The agreement replaced (`agmt-...`).
        agreement_id: String,
        /// Why.
        reason: ReplacementReason,
        /// The new contract.
        contract: ContractTerms,
        /// Price per unit of usage beyond it (empty for none).
        usage_prices: Vec<DimensionPrice>,
    },
    /// Professional services: the buyer picks one of the commits.
    ProfessionalServices {
        /// The services contract.
        contract: ContractTerms,
    },
    /// AMI product.
    Ami {
        /// The pricing.
        software: SoftwareTerms,
    },
    /// Container product.
    Container {
        /// The pricing.
        software: SoftwareTerms,
    },
    /// Free trial.
    FreeTrial {
        /// Trial length in days.
        duration_days: u32,
        /// The dimensions usable.
        grants: Vec<FreeTrialGrant>,
    },
}

impl Pricing {
    /// The kind this pricing makes.
    pub fn kind(&self) -> OfferKind {
        match self {
            Self::Subscription { .. } => OfferKind::Subscription,
            Self::Contract { .. } => OfferKind::Contract,
            Self::ContractWithConsumption { .. } => OfferKind::ContractWithConsumption,
            Self::Replacement { .. } => OfferKind::Replacement,
            Self::ProfessionalServices { .. } => OfferKind::ProfessionalServices,
            Self::Ami { .. } => OfferKind::Ami,
            Self::Container { .. } => OfferKind::Container,
            Self::FreeTrial { .. } => OfferKind::FreeTrial,
        }
    }

    /// The contract part, if the offer has one.
    pub fn contract(&self) -> Option<&ContractTerms> {
        match self {
            Self::Contract { contract }
            | Self::ContractWithConsumption { contract, .. }
            | Self::Replacement { contract, .. }
            | Self::ProfessionalServices { contract } => Some(contract),
            _ => None,
        }
    }
}

/// One scheduled charge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Installment {
    /// The day the buyer is invoiced (00:00 UTC).
    pub charge_date: Date,
    /// Amount invoiced, micros of the offer's currency.
    pub amount_micros: i64,
}

/// The licence agreement the buyer accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Eula {
    /// The Standard Contract for AWS Marketplace (SCMP) in a given version.
    Standard {
        /// `2022-07-14` or `2019-04-24`.
        version: String,
    },
    /// The seller's own document.
    Custom {
        /// HTTPS URL of the document.
        url: String,
    },
}

/// The SCMP version used when the request names none.
pub const STANDARD_EULA_VERSION: &str = "2022-07-14";

/// SCMP versions AWS accepts.
pub const STANDARD_EULA_VERSIONS: &[&str] = &["2022-07-14", "2019-04-24"];

/// When the agreement made from the offer starts and ends.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validity {
    /// A future start day; `None` to start on acceptance.
    pub agreement_start_date: Option<Date>,
    /// A fixed last day; `None` to run for the terms' duration.
    pub agreement_end_date: Option<Date>,
}

/// Everything a seller asks for in an offer, as validated: what the change set is made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferDraft {
    /// Catalog product id (`prod-...`).
    pub product_id: String,
    /// Name shown to buyers.
    pub name: String,
    /// Seller-only description.
    pub description: String,
    /// Pricing, by kind.
    pub pricing: Pricing,
    /// ISO 4217 currency of every amount.
    pub currency: String,
    /// Scheduled charges (empty for none).
    pub payment_schedule: Vec<Installment>,
    /// The licence agreement.
    pub eula: Eula,
    /// AWS accounts that may accept it.
    pub buyer_account_ids: Vec<String>,
    /// The last day the buyers can accept it (`None` only for public free trials).
    pub expiry_date: Option<Date>,
    /// Agreement start and end.
    pub validity: Validity,
    /// Refund policy shown to the buyer (empty for none).
    pub refund_policy: String,
    /// Automatic renewal of a contract (`None`: the agreement ends at its end date).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal: Option<Renewal>,
    /// Days a buyer paying by invoice has to pay (`None`: AWS's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net_payment_days: Option<u32>,
    /// Who hears about the offer's lifecycle: every offer event carries them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notification_emails: Vec<String>,
    /// What a channel partner's offer is made from (`None` for the seller's own offers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resale: Option<ResaleTerms>,
}

/// Automatic renewal of a contract (AWS RenewalTerm).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Renewal {
    /// Most renewals; `None` for unlimited.
    pub max_renewals: Option<u32>,
    /// Price increase at each renewal, a decimal percentage with up to 2 decimals ("5.00");
    /// empty for none.
    pub price_increase_percentage: String,
    /// Days before the end during which the renewal can no longer change; `None` for AWS's
    /// default.
    pub lockout_days: Option<u32>,
}

/// A channel partner's offer: the resale authorisation it is made from and the partner's
/// markup. The draft's pricing, currency, schedule and EULA are the authorisation's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResaleTerms {
    /// AWS resale authorisation id (`resaleauthz-...`).
    pub resale_authorization_id: String,
    /// The markup over the ISV's price, a decimal percentage ("12.5").
    pub markup_percentage: String,
    /// The agreement the offer replaces (`agmt-...`), for a replacement; `None` for a new one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace_agreement_id: Option<String>,
}

impl OfferDraft {
    /// The kind of the offer: a channel partner's whatever the authorisation's pricing.
    pub fn kind(&self) -> OfferKind {
        if self.resale.is_some() {
            OfferKind::ChannelPartner
        } else {
            self.pricing.kind()
        }
    }

    /// The last instant the offer can be accepted (AWS's AvailabilityEndDate runs to the end of
    /// the day, UTC).
    pub fn expiry_time(&self) -> Option<OffsetDateTime> {
        self.expiry_date.map(end_of_day)
    }
}

/// An offer followed by Souk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// Souk id (`ofr_...`).
    pub id: Id,
    /// Owning organisation.
    pub organization_id: Id,
    /// The integration (seller account) that creates it.
    pub integration_id: Id,
    /// What was asked.
    pub draft: OfferDraft,
    /// Lifecycle state.
    pub state: OfferState,
    /// AWS offer id, once AWS created it.
    pub aws_offer_id: Option<String>,
    /// The change set that creates it, once started.
    pub change_set_id: Option<String>,
    /// The `ClientRequestToken` of its change set: a retried StartChangeSet starts nothing new.
    pub client_request_token: String,
    /// AWS's error codes when it failed.
    pub failure_code: Option<String>,
    /// A message a seller can act on when it failed.
    pub failure_message: Option<String>,
    /// The agreement made from it, once accepted.
    pub agreement_id: Option<String>,
    /// The offer it was cloned from, if any.
    pub cloned_from: Option<Id>,
    /// When it was asked for.
    pub created_at: OffsetDateTime,
    /// When it last changed.
    pub updated_at: OffsetDateTime,
    /// When the tracker looks at it next (`None`: never again).
    pub next_check_at: Option<OffsetDateTime>,
    /// Consecutive checks that failed to reach AWS (drives the backoff).
    pub check_failures: u32,
    /// How many of the configured expiry reminders are behind it (sent, or skipped because a
    /// nearer one was due at the same time).
    pub reminders_sent: u32,
}

impl Offer {
    /// The kind of the offer.
    pub fn kind(&self) -> OfferKind {
        self.draft.kind()
    }
}

/// Offer ids as the Catalog API prints them.
pub fn is_aws_offer_id(raw: &str) -> bool {
    raw.strip_prefix("offer-")
        .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}
