//! The [`Transaction`](crate::domain::ports::Transaction) port on a `souk_store::UnitOfWork`.
//!
//! Statements whose port method names no organisation (a customer's entitlements, features,
//! sync flag and expiry notices) are confined to the organisation the transaction began for,
//! and a write of another organisation's record is refused: a transaction never reaches across
//! tenants.

use async_trait::async_trait;
use souk_core::clock::to_unix_millis;
use souk_core::{Id, SharedClock};
use souk_events::EventFactory;
use souk_store::{UnitOfWork, tenant};
use sqlx::any::AnyRow;
use time::OffsetDateTime;

use super::{
    Args, CUSTOMER_RECORD_FROM, db, for_update, map_all, rows, sort_entitlements, sort_features,
};
use crate::domain::Error;
use crate::domain::event::EntitlementEvent;
use crate::domain::model::{
    Agreement, BuyerKeys, Customer, Entitlement, Feature, FulfilmentSettings, Subscription,
};
use crate::domain::plan::Plan;
use crate::domain::ports::{CustomerRecord, Transaction};

/// One write of the entitlement service.
pub(super) struct SqlTransaction {
    work: UnitOfWork,
    organization_id: Id,
    events: EventFactory,
    clock: SharedClock,
}

/// `Conflict` on the external id becomes the message a seller understands.
fn external_id_conflict(err: sqlx::Error, customer: &Customer) -> Error {
    match Error::from(souk_store::map_sqlx_error(err)) {
        Error::Conflict(_) => Error::Conflict(format!(
            "another customer is already linked to {:?}",
            customer.external_id.as_deref().unwrap_or_default()
        )),
        other => other,
    }
}

/// `Conflict` on the plan key becomes the message a seller understands.
fn plan_key_conflict(err: sqlx::Error, plan: &Plan) -> Error {
    match Error::from(souk_store::map_sqlx_error(err)) {
        Error::Conflict(_) => Error::Conflict(format!(
            "a plan with key {:?} already exists for product {}",
            plan.key, plan.product_code
        )),
        other => other,
    }
}

impl SqlTransaction {
    pub(super) fn new(
        work: UnitOfWork,
        organization_id: Id,
        events: EventFactory,
        clock: SharedClock,
    ) -> Self {
        Self {
            work,
            organization_id,
            events,
            clock,
        }
    }

    fn now_millis(&self) -> i64 {
        to_unix_millis(self.clock.now())
    }

    /// Refuses a write of a record of another organisation than the transaction's.
    fn own(&self, organization_id: &Id, what: &str) -> Result<(), Error> {
        if organization_id == &self.organization_id {
            Ok(())
        } else {
            Err(Error::Internal(format!(
                "a write of organisation {} tried to change a {what} of organisation {organization_id}",
                self.organization_id
            )))
        }
    }

    /// Waits for the advisory lock `purpose` until the commit (PostgreSQL; SQLite's write
    /// transaction holds the database already). Guards the absence of a row, which `FOR UPDATE`
    /// cannot lock.
    async fn lock(&mut self, purpose: &str) -> Result<(), Error> {
        let store = self.work.store().clone();
        store.lock(self.work.tx(), purpose).await?;
        Ok(())
    }

    fn backend_for_update(&self) -> &'static str {
        for_update(self.work.store().backend())
    }

    async fn fetch_all(&mut self, args: Args, sql: String) -> Result<Vec<AnyRow>, Error> {
        args.query(sql)
            .fetch_all(&mut **self.work.tx())
            .await
            .map_err(db)
    }

    async fn execute(&mut self, args: Args, sql: String) -> Result<u64, Error> {
        Ok(args
            .query(sql)
            .execute(&mut **self.work.tx())
            .await
            .map_err(db)?
            .rows_affected())
    }

    async fn lock_owned<T>(
        &mut self,
        table: &str,
        columns: &str,
        organization_id: &Id,
        id: &str,
        map: fn(&AnyRow) -> Result<T, Error>,
    ) -> Result<Option<T>, Error> {
        let backend = self.work.store().backend();
        let row = tenant::OwnedRow {
            table,
            columns,
            for_update: true,
        };
        tenant::fetch_owned(
            &mut **self.work.tx(),
            backend,
            row,
            organization_id.as_str(),
            id,
            map,
        )
        .await
    }

    /// Marks that the check view of customer `customer_id` changed.
    async fn touch(&mut self, customer_id: &Id) -> Result<(), Error> {
        let mut args = Args::default();
        let sql = format!(
            "UPDATE customers SET changed_at = {} WHERE organization_id = {} AND id = {}",
            args.int(self.now_millis()),
            args.text(self.organization_id.as_str()),
            args.text(customer_id.as_str())
        );
        self.execute(args, sql).await?;
        Ok(())
    }

    /// Marks that the check views of every customer of the plan's product changed (whether
    /// the product has plans may have).
    async fn touch_product(&mut self, plan: &Plan) -> Result<(), Error> {
        let mut args = Args::default();
        let sql = format!(
            "UPDATE customers SET changed_at = {} \
             WHERE organization_id = {} AND integration_id = {} AND product_code = {}",
            args.int(self.now_millis()),
            args.text(plan.organization_id.as_str()),
            args.text(plan.integration_id.as_str()),
            args.text(plan.product_code.as_str())
        );
        self.execute(args, sql).await?;
        Ok(())
    }

    /// Customers with their subscriptions, locked until the commit.
    async fn locked_records(
        &mut self,
        args: Args,
        condition: &str,
        order: &str,
    ) -> Result<Vec<CustomerRecord>, Error> {
        let sql = format!(
            "SELECT {}, {} FROM {CUSTOMER_RECORD_FROM} WHERE {condition} ORDER BY {order}{}",
            rows::CUSTOMER_COLUMNS,
            rows::SUBSCRIPTION_COLUMNS,
            self.backend_for_update()
        );
        let found = self.fetch_all(args, sql).await?;
        map_all(&found, rows::customer_record)
    }
}

#[async_trait]
impl Transaction for SqlTransaction {
    async fn find_customers(
        &mut self,
        organization_id: &Id,
        integration_id: &Id,
        keys: &BuyerKeys,
    ) -> Result<Vec<CustomerRecord>, Error> {
        // Two requests about the same new buyer must not both find nobody and both insert it:
        // finding (and then creating) customers of an integration takes turns.
        self.lock(&format!("buyers:{integration_id}")).await?;
        let mut args = Args::default();
        let mut condition = format!(
            "c.organization_id = {} AND c.integration_id = {}",
            args.text(organization_id.as_str()),
            args.text(integration_id.as_str())
        );
        if let Some(product_code) = &keys.product_code {
            condition.push_str(&format!(
                " AND c.product_code = {}",
                args.text(product_code.as_str())
            ));
        }
        let any_key: Vec<String> = [
            ("c.customer_identifier", &keys.customer_identifier),
            ("c.aws_account_id", &keys.aws_account_id),
            ("c.license_arn", &keys.license_arn),
        ]
        .into_iter()
        .filter_map(|(column, value)| {
            value
                .as_ref()
                .map(|value| format!("{column} = {}", args.text(value.as_str())))
        })
        .collect();
        if any_key.is_empty() {
            return Ok(Vec::new());
        }
        condition.push_str(&format!(" AND ({})", any_key.join(" OR ")));
        self.locked_records(args, &condition, "c.created_at, c.id")
            .await
    }

    async fn lock_customer(
        &mut self,
        organization_id: &Id,
        id: &Id,
    ) -> Result<Option<CustomerRecord>, Error> {
        let mut args = Args::default();
        let condition = format!(
            "c.organization_id = {} AND c.id = {}",
            args.text(organization_id.as_str()),
            args.text(id.as_str())
        );
        Ok(self
            .locked_records(args, &condition, "c.id")
            .await?
            .into_iter()
            .next())
    }

    async fn insert_customer(&mut self, record: &CustomerRecord) -> Result<(), Error> {
        let c = &record.customer;
        let s = &record.subscription;
        self.own(&c.organization_id, "customer")?;
        self.own(&s.organization_id, "subscription")?;
        sqlx::query(
            "INSERT INTO customers (id, organization_id, integration_id, product_code, \
             customer_identifier, aws_account_id, license_arn, external_id, signup, \
             sync_requested_at, created_at, updated_at, changed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, $10, $11, $12)",
        )
        .bind(c.id.as_str())
        .bind(c.organization_id.as_str())
        .bind(c.integration_id.as_str())
        .bind(c.product_code.as_str())
        .bind(c.customer_identifier.clone())
        .bind(c.aws_account_id.clone())
        .bind(c.license_arn.clone())
        .bind(c.external_id.clone())
        .bind(rows::signup_json(c.signup.as_ref())?)
        .bind(to_unix_millis(c.created_at))
        .bind(to_unix_millis(c.updated_at))
        .bind(self.now_millis())
        .execute(&mut **self.work.tx())
        .await
        .map_err(|e| external_id_conflict(e, c))?;
        sqlx::query(
            "INSERT INTO subscriptions (id, organization_id, integration_id, customer_id, \
             product_code, license_arn, agreement_id, offer_id, state, free_trial, activated_at, \
             cancel_pending_at, final_metering_deadline, cancelled_at, state_notice_at, \
             created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
        )
        .bind(s.id.as_str())
        .bind(s.organization_id.as_str())
        .bind(s.integration_id.as_str())
        .bind(c.id.as_str())
        .bind(s.product_code.as_str())
        .bind(s.license_arn.clone())
        .bind(s.agreement_id.clone())
        .bind(s.offer_id.clone())
        .bind(s.state.as_str())
        .bind(rows::bit(s.free_trial))
        .bind(rows::millis(s.activated_at))
        .bind(rows::millis(s.cancel_pending_at))
        .bind(rows::millis(s.final_metering_deadline))
        .bind(rows::millis(s.cancelled_at))
        .bind(rows::millis(s.state_notice_at))
        .bind(to_unix_millis(s.created_at))
        .bind(to_unix_millis(s.updated_at))
        .execute(&mut **self.work.tx())
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn update_customer(&mut self, customer: &Customer) -> Result<(), Error> {
        self.own(&customer.organization_id, "customer")?;
        let now = self.now_millis();
        sqlx::query(
            "UPDATE customers SET customer_identifier = $3, aws_account_id = $4, license_arn = $5, \
             external_id = $6, signup = $7, updated_at = $8, changed_at = $9 \
             WHERE organization_id = $1 AND id = $2",
        )
        .bind(customer.organization_id.as_str())
        .bind(customer.id.as_str())
        .bind(customer.customer_identifier.clone())
        .bind(customer.aws_account_id.clone())
        .bind(customer.license_arn.clone())
        .bind(customer.external_id.clone())
        .bind(rows::signup_json(customer.signup.as_ref())?)
        .bind(to_unix_millis(customer.updated_at))
        .bind(now)
        .execute(&mut **self.work.tx())
        .await
        .map_err(|e| external_id_conflict(e, customer))?;
        Ok(())
    }

    async fn update_subscription(&mut self, subscription: &Subscription) -> Result<(), Error> {
        let s = subscription;
        self.own(&s.organization_id, "subscription")?;
        sqlx::query(
            "UPDATE subscriptions SET license_arn = $3, agreement_id = $4, offer_id = $5, \
             state = $6, free_trial = $7, activated_at = $8, cancel_pending_at = $9, \
             final_metering_deadline = $10, cancelled_at = $11, state_notice_at = $12, \
             updated_at = $13 \
             WHERE organization_id = $1 AND id = $2",
        )
        .bind(s.organization_id.as_str())
        .bind(s.id.as_str())
        .bind(s.license_arn.clone())
        .bind(s.agreement_id.clone())
        .bind(s.offer_id.clone())
        .bind(s.state.as_str())
        .bind(rows::bit(s.free_trial))
        .bind(rows::millis(s.activated_at))
        .bind(rows::millis(s.cancel_pending_at))
        .bind(rows::millis(s.final_metering_deadline))
        .bind(rows::millis(s.cancelled_at))
        .bind(rows::millis(s.state_notice_at))
        .bind(to_unix_millis(s.updated_at))
        .execute(&mut **self.work.tx())
        .await
        .map_err(db)?;
        self.touch(&s.customer_id).await
    }

    async fn mark_sync(&mut self, customer_id: &Id, needed: bool) -> Result<(), Error> {
        let mut args = Args::default();
        // The first request's instant is kept: the queue is served oldest request first.
        let set = if needed {
            format!(
                "COALESCE(sync_requested_at, {})",
                args.int(self.now_millis())
            )
        } else {
            "NULL".to_owned()
        };
        let sql = format!(
            "UPDATE customers SET sync_requested_at = {set} WHERE organization_id = {} AND id = {}",
            args.text(self.organization_id.as_str()),
            args.text(customer_id.as_str())
        );
        self.execute(args, sql).await?;
        Ok(())
    }

    async fn first_sight(
        &mut self,
        integration_id: &Id,
        message_id: &str,
        now: OffsetDateTime,
    ) -> Result<bool, Error> {
        let inserted = sqlx::query(
            "INSERT INTO processed_notices (integration_id, message_id, organization_id, processed_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (integration_id, message_id) DO NOTHING",
        )
        .bind(integration_id.as_str())
        .bind(message_id)
        .bind(self.organization_id.as_str())
        .bind(to_unix_millis(now))
        .execute(&mut **self.work.tx())
        .await
        .map_err(db)?
        .rows_affected();
        Ok(inserted == 1)
    }

    async fn claim_token(
        &mut self,
        organization_id: &Id,
        integration_id: &Id,
        token_hash: &str,
        customer_id: &Id,
        now: OffsetDateTime,
    ) -> Result<Id, Error> {
        sqlx::query(
            "INSERT INTO registration_tokens (token_hash, organization_id, integration_id, \
             customer_id, first_seen_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (token_hash) DO NOTHING",
        )
        .bind(token_hash)
        .bind(organization_id.as_str())
        .bind(integration_id.as_str())
        .bind(customer_id.as_str())
        .bind(to_unix_millis(now))
        .execute(&mut **self.work.tx())
        .await
        .map_err(db)?;
        // A token belongs to one buyer of one seller whatever the organisation: the integration
        // it first resolved in is read without the tenant filter (only compared by the caller).
        let first: String = sqlx::query_scalar(
            "SELECT integration_id FROM registration_tokens WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_one(&mut **self.work.tx())
        .await
        .map_err(db)?;
        Ok(Id::from_trusted(first))
    }

    async fn put_agreement(&mut self, agreement: &Agreement) -> Result<bool, Error> {
        let a = agreement;
        self.own(&a.organization_id, "agreement")?;
        let inserted = sqlx::query(
            "INSERT INTO agreements (organization_id, id, integration_id, customer_id, product_code, \
             offer_id, acceptor_account_id, status, start_at, end_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (organization_id, id) DO NOTHING",
        )
        .bind(a.organization_id.as_str())
        .bind(a.id.as_str())
        .bind(a.integration_id.as_str())
        .bind(a.customer_id.as_ref().map(Id::to_string))
        .bind(a.product_code.clone())
        .bind(a.offer_id.clone())
        .bind(a.acceptor_account_id.clone())
        .bind(a.status.as_str())
        .bind(rows::millis(a.start_at))
        .bind(rows::millis(a.end_at))
        .bind(to_unix_millis(a.updated_at))
        .execute(&mut **self.work.tx())
        .await
        .map_err(db)?
        .rows_affected()
            == 1;
        if inserted {
            return Ok(true);
        }
        sqlx::query(
            "UPDATE agreements SET integration_id = $3, customer_id = $4, product_code = $5, \
             offer_id = $6, acceptor_account_id = $7, status = $8, start_at = $9, end_at = $10, \
             updated_at = $11 WHERE organization_id = $1 AND id = $2",
        )
        .bind(a.organization_id.as_str())
        .bind(a.id.as_str())
        .bind(a.integration_id.as_str())
        .bind(a.customer_id.as_ref().map(Id::to_string))
        .bind(a.product_code.clone())
        .bind(a.offer_id.clone())
        .bind(a.acceptor_account_id.clone())
        .bind(a.status.as_str())
        .bind(rows::millis(a.start_at))
        .bind(rows::millis(a.end_at))
        .bind(to_unix_millis(a.updated_at))
        .execute(&mut **self.work.tx())
        .await
        .map_err(db)?;
        Ok(false)
    }

    async fn lock_agreement(
        &mut self,
        organization_id: &Id,
        id: &str,
    ) -> Result<Option<Agreement>, Error> {
        // An agreement seen for the first time by two notices at once is created once.
        self.lock(&format!("agreement:{organization_id}:{id}"))
            .await?;
        self.lock_owned(
            "agreements",
            rows::AGREEMENT_COLUMNS,
            organization_id,
            id,
            rows::agreement,
        )
        .await
    }

    async fn replace_entitlements(
        &mut self,
        customer: &Customer,
        entitlements: &[Entitlement],
    ) -> Result<(), Error> {
        self.own(&customer.organization_id, "customer")?;
        sqlx::query("DELETE FROM entitlements WHERE organization_id = $1 AND customer_id = $2")
            .bind(customer.organization_id.as_str())
            .bind(customer.id.as_str())
            .execute(&mut **self.work.tx())
            .await
            .map_err(db)?;
        for e in entitlements {
            let (kind, value) = rows::value_parts(&e.value);
            sqlx::query(
                "INSERT INTO entitlements (customer_id, dimension, organization_id, product_code, \
                 value_kind, value_text, expires_at, license_arn, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(customer.id.as_str())
            .bind(e.dimension.as_str())
            .bind(customer.organization_id.as_str())
            .bind(e.product_code.as_str())
            .bind(kind)
            .bind(value)
            .bind(rows::millis(e.expires_at))
            .bind(e.license_arn.clone())
            .bind(to_unix_millis(e.updated_at))
            .execute(&mut **self.work.tx())
            .await
            .map_err(db)?;
        }
        self.touch(&customer.id).await
    }

    async fn entitlements_of(&mut self, customer_id: &Id) -> Result<Vec<Entitlement>, Error> {
        let mut args = Args::default();
        let sql = format!(
            "SELECT {} FROM entitlements e WHERE e.organization_id = {} AND e.customer_id = {}",
            rows::ENTITLEMENT_COLUMNS,
            args.text(self.organization_id.as_str()),
            args.text(customer_id.as_str())
        );
        let found = self.fetch_all(args, sql).await?;
        let mut entitlements = map_all(&found, rows::entitlement)?;
        sort_entitlements(&mut entitlements);
        Ok(entitlements)
    }

    async fn replace_features(
        &mut self,
        customer: &Customer,
        features: &[Feature],
    ) -> Result<(), Error> {
        self.own(&customer.organization_id, "customer")?;
        sqlx::query(
            "DELETE FROM customer_features WHERE organization_id = $1 AND customer_id = $2",
        )
        .bind(customer.organization_id.as_str())
        .bind(customer.id.as_str())
        .execute(&mut **self.work.tx())
        .await
        .map_err(db)?;
        for f in features {
            sqlx::query(
                "INSERT INTO customer_features (customer_id, feature, organization_id, allowed, \
                 limit_value, unlimited, expires_at, plans) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(customer.id.as_str())
            .bind(f.name.as_str())
            .bind(customer.organization_id.as_str())
            .bind(rows::bit(f.allowed))
            .bind(f.limit)
            .bind(rows::bit(f.unlimited))
            .bind(rows::millis(f.expires_at))
            .bind(rows::plans_json(&f.plans)?)
            .execute(&mut **self.work.tx())
            .await
            .map_err(db)?;
        }
        self.touch(&customer.id).await
    }

    async fn features_of(&mut self, customer_id: &Id) -> Result<Vec<Feature>, Error> {
        let mut args = Args::default();
        let sql = format!(
            "SELECT {} FROM customer_features f WHERE f.organization_id = {} AND f.customer_id = {}",
            rows::FEATURE_COLUMNS,
            args.text(self.organization_id.as_str()),
            args.text(customer_id.as_str())
        );
        let found = self.fetch_all(args, sql).await?;
        let mut features = map_all(&found, rows::feature)?;
        sort_features(&mut features);
        Ok(features)
    }

    async fn plans_of(
        &mut self,
        organization_id: &Id,
        integration_id: &Id,
        product_code: &str,
    ) -> Result<Vec<Plan>, Error> {
        let mut args = Args::default();
        let sql = format!(
            "SELECT {} FROM plans WHERE organization_id = {} AND integration_id = {} \
             AND product_code = {} ORDER BY id",
            rows::PLAN_COLUMNS,
            args.text(organization_id.as_str()),
            args.text(integration_id.as_str()),
            args.text(product_code)
        );
        let found = self.fetch_all(args, sql).await?;
        let mut plans = map_all(&found, rows::plan)?;
        // Plans in one order every time: derived features list their plans in this order.
        plans.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(plans)
    }

    async fn customers_of(
        &mut self,
        organization_id: &Id,
        integration_id: &Id,
        product_code: &str,
    ) -> Result<Vec<CustomerRecord>, Error> {
        let mut args = Args::default();
        let condition = format!(
            "c.organization_id = {} AND c.integration_id = {} AND c.product_code = {}",
            args.text(organization_id.as_str()),
            args.text(integration_id.as_str()),
            args.text(product_code)
        );
        self.locked_records(args, &condition, "c.id").await
    }

    async fn insert_plan(&mut self, plan: &Plan) -> Result<(), Error> {
        self.own(&plan.organization_id, "plan")?;
        sqlx::query(
            "INSERT INTO plans (id, organization_id, integration_id, product_code, plan_key, name, \
             dimensions, features, version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(plan.id.as_str())
        .bind(plan.organization_id.as_str())
        .bind(plan.integration_id.as_str())
        .bind(plan.product_code.as_str())
        .bind(plan.key.as_str())
        .bind(plan.name.as_str())
        .bind(rows::strings_json(&plan.dimensions)?)
        .bind(rows::plan_features_json(&plan.features)?)
        .bind(plan.version)
        .bind(to_unix_millis(plan.created_at))
        .bind(to_unix_millis(plan.updated_at))
        .execute(&mut **self.work.tx())
        .await
        .map_err(|e| plan_key_conflict(e, plan))?;
        self.touch_product(plan).await
    }

    async fn lock_plan(&mut self, organization_id: &Id, id: &Id) -> Result<Option<Plan>, Error> {
        self.lock_owned(
            "plans",
            rows::PLAN_COLUMNS,
            organization_id,
            id.as_str(),
            rows::plan,
        )
        .await
    }

    async fn update_plan(&mut self, plan: &Plan) -> Result<(), Error> {
        self.own(&plan.organization_id, "plan")?;
        sqlx::query(
            "UPDATE plans SET plan_key = $3, name = $4, dimensions = $5, features = $6, \
             version = $7, updated_at = $8 WHERE organization_id = $1 AND id = $2",
        )
        .bind(plan.organization_id.as_str())
        .bind(plan.id.as_str())
        .bind(plan.key.as_str())
        .bind(plan.name.as_str())
        .bind(rows::strings_json(&plan.dimensions)?)
        .bind(rows::plan_features_json(&plan.features)?)
        .bind(plan.version)
        .bind(to_unix_millis(plan.updated_at))
        .execute(&mut **self.work.tx())
        .await
        .map_err(|e| plan_key_conflict(e, plan))?;
        Ok(())
    }

    async fn delete_plan(&mut self, plan: &Plan) -> Result<(), Error> {
        self.own(&plan.organization_id, "plan")?;
        sqlx::query("DELETE FROM plans WHERE organization_id = $1 AND id = $2")
            .bind(plan.organization_id.as_str())
            .bind(plan.id.as_str())
            .execute(&mut **self.work.tx())
            .await
            .map_err(db)?;
        self.touch_product(plan).await
    }

    async fn put_settings(&mut self, settings: &FulfilmentSettings) -> Result<(), Error> {
        let s = settings;
        self.own(&s.organization_id, "fulfilment settings")?;
        let written = sqlx::query(
            "INSERT INTO fulfilment_settings (integration_id, organization_id, signup_url, \
             sns_topic_arns, expiry_notice_days, handoff_secret, eventbridge_secret, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (integration_id) DO UPDATE SET signup_url = excluded.signup_url, \
             sns_topic_arns = excluded.sns_topic_arns, \
             expiry_notice_days = excluded.expiry_notice_days, \
             handoff_secret = excluded.handoff_secret, \
             eventbridge_secret = excluded.eventbridge_secret, updated_at = excluded.updated_at \
             WHERE fulfilment_settings.organization_id = excluded.organization_id",
        )
        .bind(s.integration_id.as_str())
        .bind(s.organization_id.as_str())
        .bind(s.signup_url.clone())
        .bind(rows::strings_json(&s.sns_topic_arns)?)
        .bind(rows::days_json(&s.expiry_notice_days)?)
        .bind(s.handoff_secret.clone())
        .bind(s.eventbridge_secret.clone())
        .bind(rows::millis(s.updated_at))
        .execute(&mut **self.work.tx())
        .await
        .map_err(db)?
        .rows_affected();
        if written == 0 {
            return Err(Error::Internal(format!(
                "fulfilment settings of integration {} belong to another organisation",
                s.integration_id
            )));
        }
        Ok(())
    }

    async fn lock_settings(
        &mut self,
        organization_id: &Id,
        integration_id: &Id,
    ) -> Result<Option<FulfilmentSettings>, Error> {
        // Settings never stored have no row to lock.
        self.lock(&format!("settings:{integration_id}")).await?;
        let mut args = Args::default();
        let sql = format!(
            "SELECT {} FROM fulfilment_settings WHERE organization_id = {} AND integration_id = {}{}",
            rows::SETTINGS_COLUMNS,
            args.text(organization_id.as_str()),
            args.text(integration_id.as_str()),
            self.backend_for_update()
        );
        let found = self.fetch_all(args, sql).await?;
        found.first().map(rows::settings).transpose()
    }

    async fn first_expiry_notice(
        &mut self,
        customer_id: &Id,
        dimension: &str,
        expires_at: OffsetDateTime,
        days: i32,
    ) -> Result<bool, Error> {
        let inserted = sqlx::query(
            "INSERT INTO expiry_notices (customer_id, dimension, organization_id, expires_at, days, \
             sent_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (customer_id, dimension, expires_at, days) DO NOTHING",
        )
        .bind(customer_id.as_str())
        .bind(dimension)
        .bind(self.organization_id.as_str())
        .bind(to_unix_millis(expires_at))
        .bind(i64::from(days))
        .bind(self.now_millis())
        .execute(&mut **self.work.tx())
        .await
        .map_err(db)?
        .rows_affected();
        Ok(inserted == 1)
    }

    fn emit(&mut self, event: EntitlementEvent) -> Result<(), Error> {
        let record = crate::events::record(&self.events, &event)?;
        self.work.emit(record);
        Ok(())
    }

    fn remembers_response(&self) -> bool {
        self.work.remembers_response()
    }

    async fn commit(self: Box<Self>, response: Vec<u8>) -> Result<(), Error> {
        let now = self.clock.now();
        // Changes without events (a customer's keys filled in, a link) also concern this
        // replica's check snapshot, which follows the waker.
        let waker = self.work.store().outbox_waker().clone();
        self.work.commit(|| response, now).await?;
        waker.wake();
        Ok(())
    }
}
