//! Reads: customers, subscriptions, agreements, entitlements, features, plans. Every read is
//! confined to the caller's organisation: another tenant's record is simply not found.

use souk_core::{Id, Page, PageRequest};

use super::error::Error;
use super::model::{Agreement, Customer, Entitlement, Feature, Subscription, SubscriptionState};
use super::plan::Plan;
use super::ports::{AgreementFilter, CustomerFilter, SubscriptionFilter};
use super::service::Entitlements;

fn found<T>(value: Option<T>, what: &str, id: &dyn std::fmt::Display) -> Result<T, Error> {
    value.ok_or_else(|| Error::NotFound(format!("{what} {id}")))
}

impl Entitlements {
    /// Customer `id` and its subscription's state.
    pub async fn get_customer(
        &self,
        organization_id: &Id,
        id: &Id,
    ) -> Result<(Customer, Option<SubscriptionState>), Error> {
        let customer = found(
            self.store.get_customer(organization_id, id).await?,
            "customer",
            id,
        )?;
        let state = self
            .store
            .subscription_of(organization_id, id)
            .await?
            .map(|s| s.state);
        Ok((customer, state))
    }

    /// One page of customers.
    pub async fn list_customers(
        &self,
        organization_id: &Id,
        filter: &CustomerFilter,
        page: &PageRequest,
    ) -> Result<Page<(Customer, Option<SubscriptionState>)>, Error> {
        self.store
            .list_customers(organization_id, filter, page)
            .await
    }

    /// Subscription `id`.
    pub async fn get_subscription(
        &self,
        organization_id: &Id,
        id: &Id,
    ) -> Result<Subscription, Error> {
        found(
            self.store.get_subscription(organization_id, id).await?,
            "subscription",
            id,
        )
    }

    /// One page of subscriptions.
    pub async fn list_subscriptions(
        &self,
        organization_id: &Id,
        filter: &SubscriptionFilter,
        page: &PageRequest,
    ) -> Result<Page<Subscription>, Error> {
        self.store
            .list_subscriptions(organization_id, filter, page)
            .await
    }

    /// Agreement `id`.
    pub async fn get_agreement(&self, organization_id: &Id, id: &str) -> Result<Agreement, Error> {
        found(
            self.store.get_agreement(organization_id, id).await?,
            "agreement",
            &id,
        )
    }

    /// One page of agreements.
    pub async fn list_agreements(
        &self,
        organization_id: &Id,
        filter: &AgreementFilter,
        page: &PageRequest,
    ) -> Result<Page<Agreement>, Error> {
        self.store
            .list_agreements(organization_id, filter, page)
            .await
    }

    /// The customer's entitlements, optionally on one dimension.
    pub async fn list_entitlements(
        &self,
        organization_id: &Id,
        customer_id: &Id,
        dimension: Option<&str>,
    ) -> Result<Vec<Entitlement>, Error> {
        found(
            self.store
                .get_customer(organization_id, customer_id)
                .await?,
            "customer",
            customer_id,
        )?;
        let mut all = self
            .store
            .entitlements_of(organization_id, customer_id)
            .await?;
        if let Some(dimension) = dimension {
            all.retain(|e| e.dimension == dimension);
        }
        Ok(all)
    }

    /// The customer's features.
    pub async fn list_features(
        &self,
        organization_id: &Id,
        customer_id: &Id,
    ) -> Result<Vec<Feature>, Error> {
        found(
            self.store
                .get_customer(organization_id, customer_id)
                .await?,
            "customer",
            customer_id,
        )?;
        self.store.features_of(organization_id, customer_id).await
    }

    /// Plan `id`.
    pub async fn get_plan(&self, organization_id: &Id, id: &Id) -> Result<Plan, Error> {
        found(self.store.get_plan(organization_id, id).await?, "plan", id)
    }

    /// One page of plans.
    pub async fn list_plans(
        &self,
        organization_id: &Id,
        integration_id: Option<&Id>,
        product_code: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Plan>, Error> {
        self.store
            .list_plans(organization_id, integration_id, product_code, page)
            .await
    }

    /// Every integration of every organisation (the SQS pollers' worklist).
    pub async fn all_integrations(&self) -> Result<Vec<super::ports::IntegrationInfo>, Error> {
        self.directory.all_integrations().await
    }

    /// The check view of every customer changed at or after `since` (all when `None`).
    pub async fn customer_views(
        &self,
        since: Option<time::OffsetDateTime>,
    ) -> Result<Vec<super::check::CustomerView>, Error> {
        self.store.customer_views(since).await
    }
}
