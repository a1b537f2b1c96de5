//! The tonic `EntitlementService`: authorise, convert, call one use case, convert back.
//! CheckEntitlement and BatchCheckEntitlements answer from the replica's snapshot.

use prost::Message;
use souk_core::PageRequest;
use souk_core::access::{Caller, Permission};
use souk_proto::entitlement as pb;
use souk_proto::entitlement::entitlement_service_server::EntitlementService;
use souk_service::convert::page;
use souk_service::{authorize, idempotency, reply};
use tonic::{Request, Response, Status};

use super::convert;
use crate::domain::Entitlements;
use crate::domain::check::CheckReason;
use crate::domain::fulfilment::UpdatedSettings;
use crate::domain::model::FulfilmentSettings;
use crate::domain::plans::{ImportedListing, PlanChange};
use crate::proto;
use crate::snapshot::{Checked, Snapshot, Source};

/// The gRPC adapter of the entitlement service.
#[derive(Debug, Clone)]
pub struct EntitlementApi {
    entitlements: Entitlements,
    snapshot: Snapshot,
    public_url: String,
}

impl EntitlementApi {
    /// The adapter over the use cases and the replica's snapshot; `public_url` is the HTTP
    /// port's public base URL (for the fulfilment and notification URLs it reports).
    pub fn new(entitlements: Entitlements, snapshot: Snapshot, public_url: String) -> Self {
        Self {
            entitlements,
            snapshot,
            public_url,
        }
    }

    fn settings(&self, settings: &FulfilmentSettings) -> pb::FulfilmentSettings {
        let id = settings.integration_id.as_str();
        let base = self.public_url.trim_end_matches('/');
        pb::FulfilmentSettings {
            integration_id: id.to_owned(),
            signup_url: settings.signup_url.clone().unwrap_or_default(),
            sns_topic_arns: settings.sns_topic_arns.clone(),
            expiry_notice_days: settings.expiry_notice_days.clone(),
            handoff_secret_set: settings.handoff_secret.is_some(),
            eventbridge_secret_set: settings.eventbridge_secret.is_some(),
            fulfilment_url: format!("{base}/aws/fulfilment/{id}"),
            sns_endpoint_url: format!("{base}/aws/sns/{id}"),
            eventbridge_endpoint_url: format!("{base}/aws/eventbridge/{id}"),
            update_time: settings.updated_at.map(souk_service::convert::timestamp),
        }
    }
}

/// The RPC's name for idempotency records and page tokens.
macro_rules! rpc {
    ($method:literal) => {
        concat!("souk.entitlement.v1.EntitlementService/", $method)
    };
}

fn reason(reason: CheckReason) -> pb::CheckReason {
    match reason {
        CheckReason::Entitled => pb::CheckReason::Entitled,
        CheckReason::Subscribed => pb::CheckReason::Subscribed,
        CheckReason::NotSubscribed => pb::CheckReason::NotSubscribed,
        CheckReason::NoEntitlement => pb::CheckReason::NoEntitlement,
        CheckReason::Expired => pb::CheckReason::Expired,
        CheckReason::LimitExceeded => pb::CheckReason::LimitExceeded,
        CheckReason::UnknownCustomer => pb::CheckReason::UnknownCustomer,
        CheckReason::StaleDefault => pb::CheckReason::StaleDefault,
    }
}

fn checked(feature: &str, checked: Checked) -> pb::CheckEntitlementResponse {
    let o = checked.outcome;
    pb::CheckEntitlementResponse {
        allowed: o.allowed,
        limit: o.limit,
        unlimited: o.unlimited,
        source: match checked.source {
            Source::Live => pb::CheckSource::Live,
            Source::Stale => pb::CheckSource::Stale,
            Source::Default => pb::CheckSource::Default,
        } as i32,
        expire_time: o.expires_at.map(souk_service::convert::timestamp),
        reason: reason(o.reason) as i32,
        subscription_state: o
            .state
            .map_or(pb::SubscriptionState::Unspecified, proto::state)
            as i32,
        customer_id: o.customer_id.map(|id| id.to_string()).unwrap_or_default(),
        feature: feature.to_owned(),
    }
}

fn plan_change<M>(build: fn(Option<pb::Plan>, i32) -> M) -> impl Fn(&PlanChange) -> M {
    move |change| {
        build(
            Some(proto::plan(&change.plan)),
            i32::try_from(change.customers_changed).unwrap_or(i32::MAX),
        )
    }
}

fn list_page(
    list: &str,
    caller: &Caller,
    filters: &[&str],
    page_size: i32,
    page_token: &str,
) -> Result<PageRequest, Status> {
    page(list, caller, filters, page_size, page_token)
        .map_err(|e| crate::domain::Error::from(e).into())
}

#[tonic::async_trait]
impl EntitlementService for EntitlementApi {
    async fn resolve_customer(
        &self,
        request: Request<pb::ResolveCustomerRequest>,
    ) -> Result<Response<pb::ResolveCustomerResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Write)?;
        let (integration_id, offer_type) = convert::resolve_customer(&req)?;
        let idem = idempotency(rpc!("ResolveCustomer"), &req, |r| &mut r.idempotency_key);
        let build = |r: &crate::domain::fulfilment::Resolved| pb::ResolveCustomerResponse {
            customer: Some(proto::customer(&r.customer, Some(r.subscription.state))),
            subscription: Some(proto::subscription(&r.subscription)),
            created: r.created,
        };
        let outcome = self
            .entitlements
            .resolve_customer(
                Some(&caller.organization_id),
                &integration_id,
                &req.registration_token,
                offer_type,
                idem,
                |r| build(r).encode_to_vec(),
            )
            .await?;
        reply(outcome, |r| build(&r))
    }

    async fn get_customer(
        &self,
        request: Request<pb::GetCustomerRequest>,
    ) -> Result<Response<pb::GetCustomerResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Read)?;
        let id = convert::required("customer_id", "cus", &req.customer_id)?;
        let (customer, state) = self
            .entitlements
            .get_customer(&caller.organization_id, &id)
            .await?;
        Ok(Response::new(pb::GetCustomerResponse {
            customer: Some(proto::customer(&customer, state)),
        }))
    }

    async fn list_customers(
        &self,
        request: Request<pb::ListCustomersRequest>,
    ) -> Result<Response<pb::ListCustomersResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Read)?;
        let filter = convert::customer_filter(&req)?;
        let state = req.state.to_string();
        let page = list_page(
            rpc!("ListCustomers"),
            &caller,
            &[
                &req.integration_id,
                &req.product_code,
                &req.aws_account_id,
                &req.customer_identifier,
                &req.external_id,
                &state,
            ],
            req.page_size,
            &req.page_token,
        )?;
        let found = self
            .entitlements
            .list_customers(&caller.organization_id, &filter, &page)
            .await?;
        Ok(Response::new(pb::ListCustomersResponse {
            customers: found
                .items
                .iter()
                .map(|(c, s)| proto::customer(c, *s))
                .collect(),
            next_page_token: found.next_page_token,
        }))
    }

    async fn link_customer(
        &self,
        request: Request<pb::LinkCustomerRequest>,
    ) -> Result<Response<pb::LinkCustomerResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Write)?;
        let (customer_id, external_id) = convert::link_customer(&req)?;
        let idem = idempotency(rpc!("LinkCustomer"), &req, |r| &mut r.idempotency_key);
        let org = caller.organization_id.clone();
        let entitlements = self.entitlements.clone();
        let build = move |c: &crate::domain::model::Customer| pb::LinkCustomerResponse {
            customer: Some(proto::customer(c, None)),
        };
        let outcome = entitlements
            .link_customer(&org, &customer_id, external_id, idem, |c| {
                build(c).encode_to_vec()
            })
            .await?;
        let state = self
            .entitlements
            .get_customer(&org, &customer_id)
            .await
            .ok()
            .and_then(|(_, s)| s);
        reply(outcome, |c| pb::LinkCustomerResponse {
            customer: Some(proto::customer(&c, state)),
        })
    }

    async fn get_subscription(
        &self,
        request: Request<pb::GetSubscriptionRequest>,
    ) -> Result<Response<pb::GetSubscriptionResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Read)?;
        let id = convert::required("subscription_id", "sub", &req.subscription_id)?;
        let subscription = self
            .entitlements
            .get_subscription(&caller.organization_id, &id)
            .await?;
        Ok(Response::new(pb::GetSubscriptionResponse {
            subscription: Some(proto::subscription(&subscription)),
        }))
    }

    async fn list_subscriptions(
        &self,
        request: Request<pb::ListSubscriptionsRequest>,
    ) -> Result<Response<pb::ListSubscriptionsResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Read)?;
        let filter = convert::subscription_filter(&req)?;
        let state = req.state.to_string();
        let page = list_page(
            rpc!("ListSubscriptions"),
            &caller,
            &[
                &req.customer_id,
                &req.integration_id,
                &req.product_code,
                &state,
            ],
            req.page_size,
            &req.page_token,
        )?;
        let found = self
            .entitlements
            .list_subscriptions(&caller.organization_id, &filter, &page)
            .await?;
        Ok(Response::new(pb::ListSubscriptionsResponse {
            subscriptions: found.items.iter().map(proto::subscription).collect(),
            next_page_token: found.next_page_token,
        }))
    }

    async fn list_agreements(
        &self,
        request: Request<pb::ListAgreementsRequest>,
    ) -> Result<Response<pb::ListAgreementsResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Read)?;
        let filter = convert::agreement_filter(&req)?;
        let statuses = filter.statuses.join(",");
        let page = list_page(
            rpc!("ListAgreements"),
            &caller,
            &[
                &req.customer_id,
                &req.integration_id,
                &req.offer_id,
                &statuses,
            ],
            req.page_size,
            &req.page_token,
        )?;
        let found = self
            .entitlements
            .list_agreements(&caller.organization_id, &filter, &page)
            .await?;
        Ok(Response::new(pb::ListAgreementsResponse {
            agreements: found.items.iter().map(proto::agreement).collect(),
            next_page_token: found.next_page_token,
        }))
    }

    async fn get_agreement(
        &self,
        request: Request<pb::GetAgreementRequest>,
    ) -> Result<Response<pb::GetAgreementResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Read)?;
        let id = convert::agreement_id(&req.agreement_id)?;
        let agreement = self
            .entitlements
            .get_agreement(&caller.organization_id, &id)
            .await?;
        Ok(Response::new(pb::GetAgreementResponse {
            agreement: Some(proto::agreement(&agreement)),
        }))
    }

    async fn list_entitlements(
        &self,
        request: Request<pb::ListEntitlementsRequest>,
    ) -> Result<Response<pb::ListEntitlementsResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Read)?;
        let customer = convert::required("customer_id", "cus", &req.customer_id)?;
        // A customer has one entitlement per dimension of one product: a handful, never
        // paged; the page fields are validated so a client's paging loop ends.
        list_page(
            rpc!("ListEntitlements"),
            &caller,
            &[&req.customer_id, &req.dimension],
            req.page_size,
            &req.page_token,
        )?;
        let dimension = (!req.dimension.is_empty()).then_some(req.dimension.as_str());
        let entitlements = self
            .entitlements
            .list_entitlements(&caller.organization_id, &customer, dimension)
            .await?;
        Ok(Response::new(pb::ListEntitlementsResponse {
            entitlements: entitlements.iter().map(proto::entitlement).collect(),
            next_page_token: String::new(),
        }))
    }

    async fn sync_entitlements(
        &self,
        request: Request<pb::SyncEntitlementsRequest>,
    ) -> Result<Response<pb::SyncEntitlementsResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Write)?;
        let (integration, customer) = convert::sync(&req)?;
        let report = self
            .entitlements
            .sync_entitlements(&caller.organization_id, &integration, customer.as_ref())
            .await?;
        Ok(Response::new(pb::SyncEntitlementsResponse {
            customers_synced: i32::try_from(report.synced).unwrap_or(i32::MAX),
            customers_changed: i32::try_from(report.changed).unwrap_or(i32::MAX),
        }))
    }

    async fn list_features(
        &self,
        request: Request<pb::ListFeaturesRequest>,
    ) -> Result<Response<pb::ListFeaturesResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Read)?;
        let customer = convert::required("customer_id", "cus", &req.customer_id)?;
        let features = self
            .entitlements
            .list_features(&caller.organization_id, &customer)
            .await?;
        Ok(Response::new(pb::ListFeaturesResponse {
            features: features.iter().map(proto::feature).collect(),
        }))
    }

    async fn check_entitlement(
        &self,
        request: Request<pb::CheckEntitlementRequest>,
    ) -> Result<Response<pb::CheckEntitlementResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Read)?;
        convert::check(&req)?;
        let answer = self.snapshot.check(
            &caller.organization_id,
            &req.customer,
            &req.feature,
            req.quantity,
        );
        Ok(Response::new(checked(&req.feature, answer)))
    }

    async fn batch_check_entitlements(
        &self,
        request: Request<pb::BatchCheckEntitlementsRequest>,
    ) -> Result<Response<pb::BatchCheckEntitlementsResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Read)?;
        convert::batch_check(&req)?;
        let results = req
            .features
            .iter()
            .map(|feature| {
                checked(
                    feature,
                    self.snapshot
                        .check(&caller.organization_id, &req.customer, feature, None),
                )
            })
            .collect();
        Ok(Response::new(pb::BatchCheckEntitlementsResponse {
            results,
        }))
    }

    async fn create_plan(
        &self,
        request: Request<pb::CreatePlanRequest>,
    ) -> Result<Response<pb::CreatePlanResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Write)?;
        let plan = convert::create_plan(&req)?;
        let idem = idempotency(rpc!("CreatePlan"), &req, |r| &mut r.idempotency_key);
        let build = plan_change(|plan, _| pb::CreatePlanResponse { plan });
        let outcome = self
            .entitlements
            .create_plan(&caller.organization_id, plan, idem, |c| {
                build(c).encode_to_vec()
            })
            .await?;
        reply(outcome, |c| build(&c))
    }

    async fn get_plan(
        &self,
        request: Request<pb::GetPlanRequest>,
    ) -> Result<Response<pb::GetPlanResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Read)?;
        let id = convert::required("plan_id", "plan", &req.plan_id)?;
        let plan = self
            .entitlements
            .get_plan(&caller.organization_id, &id)
            .await?;
        Ok(Response::new(pb::GetPlanResponse {
            plan: Some(proto::plan(&plan)),
        }))
    }

    async fn list_plans(
        &self,
        request: Request<pb::ListPlansRequest>,
    ) -> Result<Response<pb::ListPlansResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Read)?;
        let (integration, product) = convert::plan_filter(&req)?;
        let page = list_page(
            rpc!("ListPlans"),
            &caller,
            &[&req.integration_id, &req.product_code],
            req.page_size,
            &req.page_token,
        )?;
        let found = self
            .entitlements
            .list_plans(
                &caller.organization_id,
                integration.as_ref(),
                product.as_deref(),
                &page,
            )
            .await?;
        Ok(Response::new(pb::ListPlansResponse {
            plans: found.items.iter().map(proto::plan).collect(),
            next_page_token: found.next_page_token,
        }))
    }

    async fn update_plan(
        &self,
        request: Request<pb::UpdatePlanRequest>,
    ) -> Result<Response<pb::UpdatePlanResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Write)?;
        let (plan_id, patch) = convert::update_plan(&req)?;
        let idem = idempotency(rpc!("UpdatePlan"), &req, |r| &mut r.idempotency_key);
        let build = plan_change(|plan, customers_changed| pb::UpdatePlanResponse {
            plan,
            customers_changed,
        });
        let outcome = self
            .entitlements
            .update_plan(&caller.organization_id, &plan_id, patch, idem, |c| {
                build(c).encode_to_vec()
            })
            .await?;
        reply(outcome, |c| build(&c))
    }

    async fn delete_plan(
        &self,
        request: Request<pb::DeletePlanRequest>,
    ) -> Result<Response<pb::DeletePlanResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Write)?;
        let plan_id = convert::id_and_key("plan_id", "plan", &req.plan_id, &req.idempotency_key)?;
        let idem = idempotency(rpc!("DeletePlan"), &req, |r| &mut r.idempotency_key);
        let build =
            plan_change(|_, customers_changed| pb::DeletePlanResponse { customers_changed });
        let outcome = self
            .entitlements
            .delete_plan(&caller.organization_id, &plan_id, idem, |c| {
                build(c).encode_to_vec()
            })
            .await?;
        reply(outcome, |c| build(&c))
    }

    async fn set_feature(
        &self,
        request: Request<pb::SetFeatureRequest>,
    ) -> Result<Response<pb::SetFeatureResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Write)?;
        let (plan_id, feature) = convert::set_feature(&req)?;
        let idem = idempotency(rpc!("SetFeature"), &req, |r| &mut r.idempotency_key);
        let build = plan_change(|plan, customers_changed| pb::SetFeatureResponse {
            plan,
            customers_changed,
        });
        let outcome = self
            .entitlements
            .set_feature(&caller.organization_id, &plan_id, feature, idem, |c| {
                build(c).encode_to_vec()
            })
            .await?;
        reply(outcome, |c| build(&c))
    }

    async fn remove_feature(
        &self,
        request: Request<pb::RemoveFeatureRequest>,
    ) -> Result<Response<pb::RemoveFeatureResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Write)?;
        let plan_id = convert::id_and_key("plan_id", "plan", &req.plan_id, &req.idempotency_key)?;
        let idem = idempotency(rpc!("RemoveFeature"), &req, |r| &mut r.idempotency_key);
        let build = plan_change(|plan, customers_changed| pb::RemoveFeatureResponse {
            plan,
            customers_changed,
        });
        let outcome = self
            .entitlements
            .remove_feature(
                &caller.organization_id,
                &plan_id,
                req.feature.clone(),
                idem,
                |c| build(c).encode_to_vec(),
            )
            .await?;
        reply(outcome, |c| build(&c))
    }

    async fn import_listing(
        &self,
        request: Request<pb::ImportListingRequest>,
    ) -> Result<Response<pb::ImportListingResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Write)?;
        let integration = convert::id_and_key(
            "integration_id",
            "int",
            &req.integration_id,
            &req.idempotency_key,
        )?;
        let idem = idempotency(rpc!("ImportListing"), &req, |r| &mut r.idempotency_key);
        let build = |l: &ImportedListing| pb::ImportListingResponse {
            products: l
                .products
                .iter()
                .map(|p| pb::ListingProduct {
                    product_code: p.product_code.clone(),
                    product_id: p.product_id.clone(),
                    title: p.title.clone(),
                    dimensions: p
                        .dimensions
                        .iter()
                        .map(|d| pb::ListingDimension {
                            key: d.key.clone(),
                            name: d.name.clone(),
                            types: d.types.clone(),
                        })
                        .collect(),
                })
                .collect(),
            plans_created: l.plans_created.iter().map(proto::plan).collect(),
        };
        let outcome = self
            .entitlements
            .import_listing(&caller.organization_id, &integration, idem, |l| {
                build(l).encode_to_vec()
            })
            .await?;
        reply(outcome, |l| build(&l))
    }

    async fn get_fulfilment_settings(
        &self,
        request: Request<pb::GetFulfilmentSettingsRequest>,
    ) -> Result<Response<pb::GetFulfilmentSettingsResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Read)?;
        let integration = convert::required("integration_id", "int", &req.integration_id)?;
        let (_, settings) = self
            .entitlements
            .fulfilment_settings(Some(&caller.organization_id), &integration)
            .await?;
        Ok(Response::new(pb::GetFulfilmentSettingsResponse {
            settings: Some(self.settings(&settings)),
        }))
    }

    async fn update_fulfilment_settings(
        &self,
        request: Request<pb::UpdateFulfilmentSettingsRequest>,
    ) -> Result<Response<pb::UpdateFulfilmentSettingsResponse>, Status> {
        // Secrets are handed out: admin only.
        let (caller, req) = authorize(request, Permission::Admin)?;
        let (integration, patch) = convert::settings_patch(&req)?;
        let idem = idempotency(rpc!("UpdateFulfilmentSettings"), &req, |r| {
            &mut r.idempotency_key
        });
        let build =
            |u: &UpdatedSettings, with_secrets: bool| pb::UpdateFulfilmentSettingsResponse {
                settings: Some(self.settings(&u.settings)),
                handoff_secret: u
                    .handoff_secret
                    .clone()
                    .filter(|_| with_secrets)
                    .unwrap_or_default(),
                eventbridge_secret: u
                    .eventbridge_secret
                    .clone()
                    .filter(|_| with_secrets)
                    .unwrap_or_default(),
            };
        let outcome = self
            .entitlements
            .update_fulfilment_settings(&caller.organization_id, &integration, patch, idem, |u| {
                build(u, false).encode_to_vec()
            })
            .await?;
        reply(outcome, |u| build(&u, true))
    }
}
