//! The seller's plans: create, change, delete, one feature at a time, and proposing plans from
//! the AWS listing. Every change re-derives the features of the product's customers and
//! publishes what changed, in the same transaction.

use souk_core::{Id, Idempotency, Outcome};
use tracing::instrument;

use super::error::Error;
use super::model::PLAN_PREFIX;
use super::plan::{Grant, Plan, PlanFeature};
use super::ports::{ListingProduct, Transaction};
use super::service::{Entitlements, begin, commit, refresh_features};
use super::validate;

/// A plan to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPlan {
    /// The integration.
    pub integration_id: Id,
    /// Product code.
    pub product_code: String,
    /// Key.
    pub key: String,
    /// Name (defaults to the key).
    pub name: Option<String>,
    /// Dimensions.
    pub dimensions: Vec<String>,
    /// Features.
    pub features: Vec<PlanFeature>,
}

/// A change to a plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanPatch {
    /// New name.
    pub name: Option<String>,
    /// New dimensions.
    pub dimensions: Option<Vec<String>>,
    /// New features.
    pub features: Option<Vec<PlanFeature>>,
    /// Apply only at this version.
    pub expected_version: Option<i64>,
}

/// A plan after a change, and how many customers' features changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanChange {
    /// The plan (after the change; before it for a deletion).
    pub plan: Plan,
    /// Customers whose features changed.
    pub customers_changed: u32,
}

/// What ImportListing found and proposed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedListing {
    /// The integration's listed products.
    pub products: Vec<ListingProduct>,
    /// Plans created by this run.
    pub plans_created: Vec<Plan>,
}

impl Entitlements {
    /// Creates a plan of one of the integration's products.
    #[instrument(skip(self, plan, idempotency, encode), fields(organization_id = %organization_id))]
    pub async fn create_plan(
        &self,
        organization_id: &Id,
        plan: NewPlan,
        idempotency: Option<Idempotency>,
        encode: impl FnOnce(&PlanChange) -> Vec<u8>,
    ) -> Result<Outcome<PlanChange>, Error> {
        validate::new_plan(&plan)?;
        let integration = self
            .integration(Some(organization_id), &plan.integration_id)
            .await?;
        if integration.product(&plan.product_code).is_none() {
            return Err(Error::invalid(
                "product_code",
                format!(
                    "{} is not a product of integration {}",
                    plan.product_code, integration.id
                ),
            ));
        }
        let mut tx = begin!(self, organization_id, idempotency);
        let now = self.now();
        let plan = Plan {
            id: Id::generate(PLAN_PREFIX),
            organization_id: organization_id.clone(),
            integration_id: plan.integration_id,
            product_code: plan.product_code,
            name: plan.name.unwrap_or_else(|| plan.key.clone()),
            key: plan.key,
            dimensions: plan.dimensions,
            features: plan.features,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        tx.insert_plan(&plan).await?;
        let customers_changed = rederive(tx.as_mut(), &plan, self.now()).await?;
        let change = PlanChange {
            plan,
            customers_changed,
        };
        commit(tx, change, encode).await
    }

    /// Changes a plan (a new version).
    #[instrument(skip(self, patch, idempotency, encode), fields(organization_id = %organization_id, plan_id = %plan_id))]
    pub async fn update_plan(
        &self,
        organization_id: &Id,
        plan_id: &Id,
        patch: PlanPatch,
        idempotency: Option<Idempotency>,
        encode: impl FnOnce(&PlanChange) -> Vec<u8>,
    ) -> Result<Outcome<PlanChange>, Error> {
        validate::plan_patch(&patch)?;
        self.change_plan(organization_id, plan_id, idempotency, encode, |plan| {
            if let Some(expected) = patch.expected_version
                && expected != plan.version
            {
                return Err(Error::Aborted(format!(
                    "plan {} is at version {}, not {expected}",
                    plan.id, plan.version
                )));
            }
            if let Some(name) = patch.name {
                plan.name = name;
            }
            if let Some(dimensions) = patch.dimensions {
                plan.dimensions = dimensions;
            }
            if let Some(features) = patch.features {
                plan.features = features;
            }
            Ok(())
        })
        .await
    }

    /// Adds or replaces one feature of a plan.
    pub async fn set_feature(
        &self,
        organization_id: &Id,
        plan_id: &Id,
        feature: PlanFeature,
        idempotency: Option<Idempotency>,
        encode: impl FnOnce(&PlanChange) -> Vec<u8>,
    ) -> Result<Outcome<PlanChange>, Error> {
        validate::plan_feature("feature", &feature)?;
        self.change_plan(organization_id, plan_id, idempotency, encode, |plan| {
            match plan
                .features
                .iter_mut()
                .find(|f| f.feature == feature.feature)
            {
                Some(existing) => *existing = feature,
                None => plan.features.push(feature),
            }
            Ok(())
        })
        .await
    }

    /// Removes one feature from a plan.
    pub async fn remove_feature(
        &self,
        organization_id: &Id,
        plan_id: &Id,
        feature: String,
        idempotency: Option<Idempotency>,
        encode: impl FnOnce(&PlanChange) -> Vec<u8>,
    ) -> Result<Outcome<PlanChange>, Error> {
        validate::feature_name("feature", &feature)?;
        self.change_plan(organization_id, plan_id, idempotency, encode, |plan| {
            let before = plan.features.len();
            plan.features.retain(|f| f.feature != feature);
            if plan.features.len() == before {
                return Err(Error::NotFound(format!(
                    "feature {feature:?} in plan {}",
                    plan.id
                )));
            }
            Ok(())
        })
        .await
    }

    /// Deletes a plan.
    pub async fn delete_plan(
        &self,
        organization_id: &Id,
        plan_id: &Id,
        idempotency: Option<Idempotency>,
        encode: impl FnOnce(&PlanChange) -> Vec<u8>,
    ) -> Result<Outcome<PlanChange>, Error> {
        let mut tx = begin!(self, organization_id, idempotency);
        let plan = tx
            .lock_plan(organization_id, plan_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("plan {plan_id}")))?;
        tx.delete_plan(&plan).await?;
        let customers_changed = rederive(tx.as_mut(), &plan, self.now()).await?;
        commit(
            tx,
            PlanChange {
                plan,
                customers_changed,
            },
            encode,
        )
        .await
    }

    async fn change_plan(
        &self,
        organization_id: &Id,
        plan_id: &Id,
        idempotency: Option<Idempotency>,
        encode: impl FnOnce(&PlanChange) -> Vec<u8>,
        change: impl FnOnce(&mut Plan) -> Result<(), Error>,
    ) -> Result<Outcome<PlanChange>, Error> {
        let mut tx = begin!(self, organization_id, idempotency);
        let mut plan = tx
            .lock_plan(organization_id, plan_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("plan {plan_id}")))?;
        let before = plan.clone();
        change(&mut plan)?;
        if plan == before {
            return commit(
                tx,
                PlanChange {
                    plan,
                    customers_changed: 0,
                },
                encode,
            )
            .await;
        }
        plan.version += 1;
        plan.updated_at = self.now();
        tx.update_plan(&plan).await?;
        let customers_changed = rederive(tx.as_mut(), &plan, self.now()).await?;
        commit(
            tx,
            PlanChange {
                plan,
                customers_changed,
            },
            encode,
        )
        .await
    }

    /// Reads the integration's products from the Catalog and proposes one plan per dimension
    /// of a managed product that no plan names yet.
    #[instrument(skip(self, idempotency, encode), fields(organization_id = %organization_id, integration_id = %integration_id))]
    pub async fn import_listing(
        &self,
        organization_id: &Id,
        integration_id: &Id,
        idempotency: Option<Idempotency>,
        encode: impl FnOnce(&ImportedListing) -> Vec<u8>,
    ) -> Result<Outcome<ImportedListing>, Error> {
        let integration = self
            .integration(Some(organization_id), integration_id)
            .await?;
        let products: Vec<ListingProduct> = self
            .marketplace
            .listing(&integration)
            .await
            .map_err(|e| match e {
                super::ports::MarketError::Unavailable(d) => Error::Unavailable(d),
                other => Error::FailedPrecondition(other.to_string()),
            })?
            .into_iter()
            .filter(|p| integration.product(&p.product_code).is_some())
            .collect();
        let mut tx = begin!(self, organization_id, idempotency);
        let now = self.now();
        let mut plans_created = Vec::new();
        for product in &products {
            let existing = tx
                .plans_of(organization_id, integration_id, &product.product_code)
                .await?;
            for dimension in &product.dimensions {
                let named = existing.iter().any(|p| {
                    p.key == dimension.key || p.dimensions.iter().any(|d| d == &dimension.key)
                });
                if named || !validate::is_plan_key(&dimension.key) {
                    continue;
                }
                let entitled = dimension.types.iter().any(|t| t == "Entitled");
                let plan = Plan {
                    id: Id::generate(PLAN_PREFIX),
                    organization_id: organization_id.clone(),
                    integration_id: integration_id.clone(),
                    product_code: product.product_code.clone(),
                    key: dimension.key.clone(),
                    name: if dimension.name.is_empty() {
                        dimension.key.clone()
                    } else {
                        dimension.name.chars().take(200).collect()
                    },
                    dimensions: vec![dimension.key.clone()],
                    features: vec![PlanFeature {
                        feature: dimension.key.clone(),
                        grant: if entitled {
                            Grant::DimensionQuantity(dimension.key.clone())
                        } else {
                            Grant::Boolean
                        },
                    }],
                    version: 1,
                    created_at: now,
                    updated_at: now,
                };
                tx.insert_plan(&plan).await?;
                rederive(tx.as_mut(), &plan, now).await?;
                plans_created.push(plan);
            }
        }
        commit(
            tx,
            ImportedListing {
                products,
                plans_created,
            },
            encode,
        )
        .await
    }
}

/// Derives the features of every customer of the plan's product again; returns how many
/// changed.
async fn rederive(
    tx: &mut dyn Transaction,
    plan: &Plan,
    now: time::OffsetDateTime,
) -> Result<u32, Error> {
    let customers = tx
        .customers_of(
            &plan.organization_id,
            &plan.integration_id,
            &plan.product_code,
        )
        .await?;
    let mut changed = 0;
    for record in &customers {
        if refresh_features(tx, record, None, "plan", now).await? {
            changed += 1;
        }
    }
    Ok(changed)
}
