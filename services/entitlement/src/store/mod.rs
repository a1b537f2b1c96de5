//! The [`Store`](crate::domain::ports::Store) port on SQL: customers, subscriptions, agreements,
//! entitlements, derived features, plans and fulfilment settings. Every write is a
//! `souk_store::UnitOfWork` (change, outbox events and idempotency record in one transaction);
//! every query of a tenant's records names its organisation.

pub mod migrations;
mod rows;
mod transaction;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use souk_core::clock::to_unix_millis;
use souk_core::{Id, Idempotency, Page, PageRequest, SharedClock};
use souk_events::EventFactory;
use souk_store::row::map_all;
use souk_store::{Args, Backend, Store, tenant};
use sqlx::any::AnyRow;
use time::OffsetDateTime;

pub use migrations::migrations;

use crate::domain::Error;
use crate::domain::check::CustomerView;
use crate::domain::model::{
    Agreement, Customer, Entitlement, Feature, FulfilmentSettings, Subscription, SubscriptionState,
};
use crate::domain::plan::Plan;
use crate::domain::ports::{
    self, AgreementFilter, Begun, CustomerFilter, CustomerRecord, SubscriptionFilter,
};
use transaction::SqlTransaction;

fn db(err: sqlx::Error) -> Error {
    souk_store::map_sqlx_error(err).into()
}

/// ` FOR UPDATE` on PostgreSQL; nothing on SQLite, whose write transaction (`BEGIN IMMEDIATE`)
/// already excludes every other writer.
fn for_update(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => " FOR UPDATE",
        Backend::Sqlite => "",
    }
}

/// The `FROM` clause of a customer with its subscription.
const CUSTOMER_RECORD_FROM: &str = "customers c JOIN subscriptions s ON s.customer_id = c.id";

/// The state names `live_customers` leaves out.
const ENDED_STATES: [SubscriptionState; 2] =
    [SubscriptionState::Cancelled, SubscriptionState::Failed];

/// The entitlement service's tables.
#[derive(Debug, Clone)]
pub struct SqlStore {
    store: Store,
    events: EventFactory,
    clock: SharedClock,
}

impl SqlStore {
    /// Tables in `store` (migrated with [`migrations`]), events built by `events`, writes and
    /// idempotency records timed by `clock`.
    pub fn new(store: Store, events: EventFactory, clock: SharedClock) -> Self {
        Self {
            store,
            events,
            clock,
        }
    }

    async fn fetch<T>(
        &self,
        table: &str,
        columns: &str,
        organization_id: &Id,
        id: &str,
        map: fn(&AnyRow) -> Result<T, Error>,
    ) -> Result<Option<T>, Error> {
        let row = tenant::OwnedRow {
            table,
            columns,
            for_update: false,
        };
        tenant::fetch_owned(
            self.store.pool(),
            self.store.backend(),
            row,
            organization_id.as_str(),
            id,
            map,
        )
        .await
    }

    /// The page of `sql`'s rows after `page`'s cursor, in `id_column` order.
    async fn page<T>(
        &self,
        mut args: Args,
        mut sql: String,
        id_column: &str,
        page: &PageRequest,
        map: fn(&AnyRow) -> Result<T, Error>,
        key: impl Fn(&T) -> String,
    ) -> Result<Page<T>, Error> {
        if let Some(after) = &page.after {
            sql.push_str(&format!(" AND {id_column} > {}", args.text(after.as_str())));
        }
        sql.push_str(&format!(
            " ORDER BY {id_column} LIMIT {}",
            args.int(page.fetch_limit())
        ));
        let found = self.fetch_all(args, sql).await?;
        Ok(Page::from_rows(map_all(&found, map)?, page, key))
    }

    async fn fetch_all(&self, args: Args, sql: String) -> Result<Vec<AnyRow>, Error> {
        args.query(sql)
            .fetch_all(self.store.pool())
            .await
            .map_err(db)
    }
}

#[async_trait]
impl ports::Store for SqlStore {
    async fn begin(
        &self,
        organization_id: &Id,
        idempotency: Option<&Idempotency>,
    ) -> Result<Begun, Error> {
        Ok(
            match self
                .store
                .unit_of_work(organization_id.as_str(), idempotency)
                .await?
            {
                souk_store::Begun::Replayed(bytes) => Begun::Replayed(bytes),
                souk_store::Begun::Fresh(work) => Begun::Fresh(Box::new(SqlTransaction::new(
                    work,
                    organization_id.clone(),
                    self.events.clone(),
                    self.clock.clone(),
                ))),
            },
        )
    }

    async fn get_customer(&self, organization_id: &Id, id: &Id) -> Result<Option<Customer>, Error> {
        self.fetch(
            "customers c",
            rows::CUSTOMER_COLUMNS,
            organization_id,
            id.as_str(),
            rows::customer,
        )
        .await
    }

    async fn subscription_of(
        &self,
        organization_id: &Id,
        customer_id: &Id,
    ) -> Result<Option<Subscription>, Error> {
        let sql = format!(
            "SELECT {} FROM subscriptions s WHERE s.organization_id = $1 AND s.customer_id = $2",
            rows::SUBSCRIPTION_COLUMNS
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(organization_id.as_str())
            .bind(customer_id.as_str())
            .fetch_optional(self.store.pool())
            .await
            .map_err(db)?;
        row.as_ref().map(rows::subscription).transpose()
    }

    async fn list_customers(
        &self,
        organization_id: &Id,
        filter: &CustomerFilter,
        page: &PageRequest,
    ) -> Result<Page<(Customer, Option<SubscriptionState>)>, Error> {
        let mut args = Args::default();
        let mut sql = format!(
            "SELECT {}, s.state AS s_state FROM customers c \
             LEFT JOIN subscriptions s ON s.customer_id = c.id WHERE c.organization_id = {}",
            rows::CUSTOMER_COLUMNS,
            args.text(organization_id.as_str())
        );
        let text_filters = [
            (
                "c.integration_id",
                filter.integration_id.as_ref().map(Id::as_str),
            ),
            ("c.product_code", filter.product_code.as_deref()),
            ("c.aws_account_id", filter.aws_account_id.as_deref()),
            (
                "c.customer_identifier",
                filter.customer_identifier.as_deref(),
            ),
            ("c.external_id", filter.external_id.as_deref()),
            ("s.state", filter.state.map(SubscriptionState::as_str)),
        ];
        for (column, value) in text_filters {
            if let Some(value) = value {
                sql.push_str(&format!(" AND {column} = {}", args.text(value)));
            }
        }
        if let Some(after) = &page.after {
            sql.push_str(&format!(" AND c.id > {}", args.text(after.as_str())));
        }
        sql.push_str(&format!(
            " ORDER BY c.id LIMIT {}",
            args.int(page.fetch_limit())
        ));
        let found = self.fetch_all(args, sql).await?;
        let items = found
            .iter()
            .map(|row| Ok((rows::customer(row)?, rows::optional_state(row)?)))
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(Page::from_rows(items, page, |(c, _)| c.id.to_string()))
    }

    async fn get_subscription(
        &self,
        organization_id: &Id,
        id: &Id,
    ) -> Result<Option<Subscription>, Error> {
        self.fetch(
            "subscriptions s",
            rows::SUBSCRIPTION_COLUMNS,
            organization_id,
            id.as_str(),
            rows::subscription,
        )
        .await
    }

    async fn list_subscriptions(
        &self,
        organization_id: &Id,
        filter: &SubscriptionFilter,
        page: &PageRequest,
    ) -> Result<Page<Subscription>, Error> {
        let mut args = Args::default();
        let mut sql = format!(
            "SELECT {} FROM subscriptions s WHERE s.organization_id = {}",
            rows::SUBSCRIPTION_COLUMNS,
            args.text(organization_id.as_str())
        );
        let text_filters = [
            ("s.customer_id", filter.customer_id.as_ref().map(Id::as_str)),
            (
                "s.integration_id",
                filter.integration_id.as_ref().map(Id::as_str),
            ),
            ("s.product_code", filter.product_code.as_deref()),
            ("s.state", filter.state.map(SubscriptionState::as_str)),
        ];
        for (column, value) in text_filters {
            if let Some(value) = value {
                sql.push_str(&format!(" AND {column} = {}", args.text(value)));
            }
        }
        self.page(args, sql, "s.id", page, rows::subscription, |s| {
            s.id.to_string()
        })
        .await
    }

    async fn get_agreement(
        &self,
        organization_id: &Id,
        id: &str,
    ) -> Result<Option<Agreement>, Error> {
        self.fetch(
            "agreements",
            rows::AGREEMENT_COLUMNS,
            organization_id,
            id,
            rows::agreement,
        )
        .await
    }

    async fn list_agreements(
        &self,
        organization_id: &Id,
        filter: &AgreementFilter,
        page: &PageRequest,
    ) -> Result<Page<Agreement>, Error> {
        let mut args = Args::default();
        let mut sql = format!(
            "SELECT {} FROM agreements WHERE organization_id = {}",
            rows::AGREEMENT_COLUMNS,
            args.text(organization_id.as_str())
        );
        let text_filters = [
            ("customer_id", filter.customer_id.as_ref().map(Id::as_str)),
            (
                "integration_id",
                filter.integration_id.as_ref().map(Id::as_str),
            ),
            ("offer_id", filter.offer_id.as_deref()),
        ];
        for (column, value) in text_filters {
            if let Some(value) = value {
                sql.push_str(&format!(" AND {column} = {}", args.text(value)));
            }
        }
        if !filter.statuses.is_empty() {
            let any_of: Vec<String> = filter
                .statuses
                .iter()
                .map(|status| args.text(status.as_str()))
                .collect();
            sql.push_str(&format!(" AND status IN ({})", any_of.join(", ")));
        }
        self.page(args, sql, "id", page, rows::agreement, |a| a.id.clone())
            .await
    }

    async fn entitlements_of(
        &self,
        organization_id: &Id,
        customer_id: &Id,
    ) -> Result<Vec<Entitlement>, Error> {
        let sql = format!(
            "SELECT {} FROM entitlements e WHERE e.organization_id = $1 AND e.customer_id = $2",
            rows::ENTITLEMENT_COLUMNS
        );
        let found = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(organization_id.as_str())
            .bind(customer_id.as_str())
            .fetch_all(self.store.pool())
            .await
            .map_err(db)?;
        let mut entitlements = map_all(&found, rows::entitlement)?;
        sort_entitlements(&mut entitlements);
        Ok(entitlements)
    }

    async fn features_of(
        &self,
        organization_id: &Id,
        customer_id: &Id,
    ) -> Result<Vec<Feature>, Error> {
        let sql = format!(
            "SELECT {} FROM customer_features f WHERE f.organization_id = $1 AND f.customer_id = $2",
            rows::FEATURE_COLUMNS
        );
        let found = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(organization_id.as_str())
            .bind(customer_id.as_str())
            .fetch_all(self.store.pool())
            .await
            .map_err(db)?;
        let mut features = map_all(&found, rows::feature)?;
        sort_features(&mut features);
        Ok(features)
    }

    async fn get_plan(&self, organization_id: &Id, id: &Id) -> Result<Option<Plan>, Error> {
        self.fetch(
            "plans",
            rows::PLAN_COLUMNS,
            organization_id,
            id.as_str(),
            rows::plan,
        )
        .await
    }

    async fn list_plans(
        &self,
        organization_id: &Id,
        integration_id: Option<&Id>,
        product_code: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Plan>, Error> {
        let mut args = Args::default();
        let mut sql = format!(
            "SELECT {} FROM plans WHERE organization_id = {}",
            rows::PLAN_COLUMNS,
            args.text(organization_id.as_str())
        );
        if let Some(integration_id) = integration_id {
            sql.push_str(&format!(
                " AND integration_id = {}",
                args.text(integration_id.as_str())
            ));
        }
        if let Some(product_code) = product_code {
            sql.push_str(&format!(" AND product_code = {}", args.text(product_code)));
        }
        self.page(args, sql, "id", page, rows::plan, |p| p.id.to_string())
            .await
    }

    async fn settings(
        &self,
        organization_id: &Id,
        integration_id: &Id,
    ) -> Result<Option<FulfilmentSettings>, Error> {
        let sql = format!(
            "SELECT {} FROM fulfilment_settings WHERE organization_id = $1 AND integration_id = $2",
            rows::SETTINGS_COLUMNS
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(organization_id.as_str())
            .bind(integration_id.as_str())
            .fetch_optional(self.store.pool())
            .await
            .map_err(db)?;
        row.as_ref().map(rows::settings).transpose()
    }

    async fn live_customers(
        &self,
        organization_id: &Id,
        integration_id: &Id,
    ) -> Result<Vec<CustomerRecord>, Error> {
        let sql = format!(
            "SELECT {}, {} FROM {CUSTOMER_RECORD_FROM} \
             WHERE c.organization_id = $1 AND c.integration_id = $2 AND s.state NOT IN ($3, $4) \
             ORDER BY c.id",
            rows::CUSTOMER_COLUMNS,
            rows::SUBSCRIPTION_COLUMNS
        );
        let found = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(organization_id.as_str())
            .bind(integration_id.as_str())
            .bind(ENDED_STATES[0].as_str())
            .bind(ENDED_STATES[1].as_str())
            .fetch_all(self.store.pool())
            .await
            .map_err(db)?;
        map_all(&found, rows::customer_record)
    }

    async fn customers_to_sync(&self, limit: i64) -> Result<Vec<CustomerRecord>, Error> {
        let sql = format!(
            "SELECT {}, {} FROM {CUSTOMER_RECORD_FROM} WHERE c.sync_requested_at IS NOT NULL \
             ORDER BY c.sync_requested_at, c.id LIMIT $1",
            rows::CUSTOMER_COLUMNS,
            rows::SUBSCRIPTION_COLUMNS
        );
        let found = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(limit.max(0))
            .fetch_all(self.store.pool())
            .await
            .map_err(db)?;
        map_all(&found, rows::customer_record)
    }

    async fn entitlements_expiring_between(
        &self,
        from: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Vec<(CustomerRecord, Entitlement)>, Error> {
        let sql = format!(
            "SELECT {}, {}, {} FROM entitlements e \
             JOIN customers c ON c.id = e.customer_id \
             JOIN subscriptions s ON s.customer_id = c.id \
             WHERE e.expires_at > $1 AND e.expires_at < $2 \
             ORDER BY e.expires_at, c.id, e.dimension",
            rows::CUSTOMER_COLUMNS,
            rows::SUBSCRIPTION_COLUMNS,
            rows::ENTITLEMENT_COLUMNS
        );
        let found = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(to_unix_millis(from))
            .bind(to_unix_millis(until))
            .fetch_all(self.store.pool())
            .await
            .map_err(db)?;
        found
            .iter()
            .map(|row| Ok((rows::customer_record(row)?, rows::entitlement(row)?)))
            .collect()
    }

    async fn customer_views(
        &self,
        since: Option<OffsetDateTime>,
    ) -> Result<Vec<CustomerView>, Error> {
        // Three statements in one read transaction (one snapshot on both backends): the
        // customers with their state, their features, and the products that have plans.
        let mut tx = self.store.begin().await?;
        if self.store.backend() == Backend::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        let since = since.map(to_unix_millis);
        let changed = if since.is_some() {
            " WHERE c.changed_at >= $1"
        } else {
            ""
        };
        let customers_sql = format!(
            "SELECT {} FROM customers c LEFT JOIN subscriptions s ON s.customer_id = c.id{changed} \
             ORDER BY c.id",
            rows::VIEW_COLUMNS
        );
        let features_sql = if since.is_some() {
            format!(
                "SELECT {} FROM customer_features f JOIN customers c ON c.id = f.customer_id{changed}",
                rows::FEATURE_COLUMNS
            )
        } else {
            format!("SELECT {} FROM customer_features f", rows::FEATURE_COLUMNS)
        };
        let with_since = |sql: String| {
            let query = sqlx::query(sqlx::AssertSqlSafe(sql));
            match since {
                Some(millis) => query.bind(millis),
                None => query,
            }
        };
        let customers = with_since(customers_sql)
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
        let feature_rows = with_since(features_sql)
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
        let plan_rows =
            sqlx::query("SELECT DISTINCT organization_id, integration_id, product_code FROM plans")
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?;
        tx.commit().await.map_err(db)?;

        let mut features: HashMap<Id, HashMap<String, Feature>> = HashMap::new();
        for row in &feature_rows {
            let feature = rows::feature(row)?;
            features
                .entry(rows::feature_customer(row)?)
                .or_default()
                .insert(feature.name.clone(), feature);
        }
        let planned: HashSet<(String, String, String)> = map_all(&plan_rows, rows::plan_product)?
            .into_iter()
            .collect();
        customers
            .iter()
            .map(|row| {
                let view = rows::view_row(row)?;
                let product = (
                    view.organization_id.as_str().to_owned(),
                    view.integration_id,
                    view.product_code,
                );
                Ok(CustomerView {
                    features: features.remove(&view.customer_id).unwrap_or_default(),
                    has_plans: planned.contains(&product),
                    customer_id: view.customer_id,
                    organization_id: view.organization_id,
                    aws_account_id: view.aws_account_id,
                    external_id: view.external_id,
                    state: view.state,
                    subscription: view.subscription,
                })
            })
            .collect()
    }
}

/// By dimension, in Rust's order (a PostgreSQL collation may order text differently), so a
/// read compares equal to what the domain derived.
fn sort_entitlements(entitlements: &mut [Entitlement]) {
    entitlements.sort_by(|a, b| a.dimension.cmp(&b.dimension));
}

/// By name, in Rust's order (as `derive_features` produces them).
fn sort_features(features: &mut [Feature]) {
    features.sort_by(|a, b| a.name.cmp(&b.name));
}
