//! Proto requests to validated domain values, collecting every field violation so that one
//! reply names every bad field. Replies are built by `crate::proto`.

use std::collections::HashSet;

use souk_core::access::{Caller, Scope};
use souk_core::error::Violations;
use souk_core::{Id, PageRequest};
use souk_proto::common::{LicensingModel, ProductType as PbProductType};
use souk_proto::integration as pb;
use souk_service::convert::{finish, id};
use time::OffsetDateTime;

use crate::domain::validate;
use crate::domain::{
    DEFAULT_REGION, Error, IntegrationPatch, Licensing, NewApiKey, NewIntegration, Notifications,
    Product, ProductType,
};

/// A required `int_…` id.
pub fn integration_id(raw: &str) -> Result<Id, Error> {
    Ok(souk_service::convert::required_id(
        "integration_id",
        "int",
        raw,
    )?)
}

/// An id plus an idempotency key (VerifyIntegration, DeleteIntegration, RevokeApiKey).
pub fn id_and_key(
    field: &str,
    prefix: &str,
    raw: &str,
    idempotency_key: &str,
) -> Result<Id, Error> {
    let mut v = Violations::new();
    let id = id(&mut v, field, prefix, raw);
    v.check(
        "idempotency_key",
        validate::idempotency_key(idempotency_key),
    );
    Ok(finish(v, id)?)
}

/// The integration a VerifyIntegration or DeleteIntegration names, and its idempotency key.
pub fn integration_target(integration_id: &str, idempotency_key: &str) -> Result<Id, Error> {
    id_and_key("integration_id", "int", integration_id, idempotency_key)
}

/// An optional `org_…` id (empty: the caller's).
pub fn organization_id(raw: &str) -> Result<Option<Id>, Error> {
    if raw.is_empty() {
        return Ok(None);
    }
    let mut v = Violations::new();
    let id = id(&mut v, "organization_id", "org", raw);
    Ok(finish(v, Some(id))?)
}

/// CreateOrganization: the name.
pub fn create_organization(req: &pb::CreateOrganizationRequest) -> Result<String, Error> {
    let mut v = Violations::new();
    v.check("name", validate::name(&req.name));
    v.check(
        "idempotency_key",
        validate::idempotency_key(&req.idempotency_key),
    );
    Ok(finish(v, req.name.trim().to_owned())?)
}

/// Page size and token of `list` for `caller` (no filters).
pub fn page(
    list: &str,
    caller: &Caller,
    page_size: i32,
    page_token: &str,
) -> Result<PageRequest, Error> {
    Ok(souk_service::convert::page(
        list,
        caller,
        &[],
        page_size,
        page_token,
    )?)
}

fn region(v: &mut Violations, field: &str, raw: &str) -> String {
    if raw.is_empty() {
        return DEFAULT_REGION.to_owned();
    }
    v.check(field, souk_core::validate::region(raw));
    raw.to_owned()
}

fn products(v: &mut Violations, field: &str, list: &[pb::Product]) -> Vec<Product> {
    if list.len() > validate::MAX_PRODUCTS {
        v.add(
            field,
            format!("must list at most {} products", validate::MAX_PRODUCTS),
        );
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (index, p) in list.iter().enumerate() {
        let at = format!("{field}[{index}]");
        let code_field = format!("{at}.product_code");
        match validate::product_code(&p.product_code) {
            Err(reason) => v.add(&code_field, reason),
            Ok(()) if !seen.insert(p.product_code.clone()) => {
                v.add(&code_field, "duplicate product code")
            }
            Ok(()) => {}
        }
        if let Some(product_id) = &p.product_id {
            v.check(
                &format!("{at}.product_id"),
                validate::product_id(product_id),
            );
        }
        let product_type = match PbProductType::try_from(p.r#type) {
            Ok(PbProductType::Saas) => Some(ProductType::Saas),
            Ok(PbProductType::Ami) => Some(ProductType::Ami),
            Ok(PbProductType::Container) => Some(ProductType::Container),
            Ok(PbProductType::ProfessionalServices) => Some(ProductType::ProfessionalServices),
            Ok(PbProductType::Data) => Some(ProductType::Data),
            Ok(PbProductType::Unspecified) => {
                v.add(format!("{at}.type"), "must be set");
                None
            }
            Err(_) => {
                v.add(
                    format!("{at}.type"),
                    format!("unknown product type {}", p.r#type),
                );
                None
            }
        };
        let licensing = match LicensingModel::try_from(p.licensing) {
            Ok(LicensingModel::ProductCode) => Some(Licensing::ProductCode),
            Ok(LicensingModel::LicenseArn) => Some(Licensing::LicenseArn),
            Ok(LicensingModel::Unspecified) => {
                v.add(format!("{at}.licensing"), "must be set");
                None
            }
            Err(_) => {
                v.add(
                    format!("{at}.licensing"),
                    format!("unknown licensing model {}", p.licensing),
                );
                None
            }
        };
        if let (Some(product_type), Some(licensing)) = (product_type, licensing) {
            out.push(Product {
                product_code: p.product_code.clone(),
                product_id: p.product_id.clone(),
                product_type,
                licensing,
            });
        }
    }
    out
}

fn notifications(
    v: &mut Violations,
    field: &str,
    config: Option<&pb::NotificationConfig>,
) -> Notifications {
    let Some(config) = config else {
        return Notifications::default();
    };
    let urls_field = format!("{field}.sqs_queue_urls");
    if config.sqs_queue_urls.len() > validate::MAX_QUEUES {
        v.add(
            &urls_field,
            format!("must list at most {} queues", validate::MAX_QUEUES),
        );
    }
    let mut seen = HashSet::new();
    for (index, url) in config.sqs_queue_urls.iter().enumerate() {
        let at = format!("{urls_field}[{index}]");
        match validate::sqs_queue_url(url) {
            Err(reason) => v.add(&at, reason),
            Ok(()) if !seen.insert(url.as_str()) => v.add(&at, "duplicate queue URL"),
            Ok(()) => {}
        }
    }
    Notifications {
        sqs_queue_urls: config.sqs_queue_urls.clone(),
        sns_https: config.sns_https,
        eventbridge: config.eventbridge,
    }
}

fn bucket(v: &mut Violations, field: &str, raw: &str) -> String {
    if !raw.is_empty() {
        v.check(field, validate::bucket_name(raw));
    }
    raw.to_owned()
}

/// CreateIntegration.
pub fn create_integration(req: &pb::CreateIntegrationRequest) -> Result<NewIntegration, Error> {
    let mut v = Violations::new();
    v.check("name", validate::name(&req.name));
    v.check("role_arn", validate::role_arn(&req.role_arn, true));
    let region = region(&mut v, "region", &req.region);
    let products = products(&mut v, "products", &req.products);
    let notifications = notifications(&mut v, "notifications", req.notifications.as_ref());
    let data_feed_bucket = bucket(&mut v, "data_feed_bucket", &req.data_feed_bucket);
    v.check(
        "idempotency_key",
        validate::idempotency_key(&req.idempotency_key),
    );
    Ok(finish(
        v,
        NewIntegration {
            name: req.name.trim().to_owned(),
            role_arn: req.role_arn.clone(),
            region,
            products,
            notifications,
            data_feed_bucket,
        },
    )?)
}

/// The update-mask paths UpdateIntegration accepts.
pub const UPDATABLE_PATHS: &[&str] = &[
    "name",
    "role_arn",
    "region",
    "products",
    "notifications",
    "data_feed_bucket",
];

/// UpdateIntegration: the id and the patch of the masked fields.
pub fn update_integration(
    req: &pb::UpdateIntegrationRequest,
) -> Result<(Id, IntegrationPatch), Error> {
    let mut v = Violations::new();
    let integration_id = id(&mut v, "integration_id", "int", &req.integration_id);
    let mut patch = IntegrationPatch::default();
    let paths = req
        .update_mask
        .as_ref()
        .map(|m| m.paths.as_slice())
        .unwrap_or_default();
    if paths.is_empty() {
        v.add(
            "update_mask",
            format!("must name at least one of: {}", UPDATABLE_PATHS.join(", ")),
        );
    }
    let mut seen = HashSet::new();
    for path in paths {
        if !seen.insert(path.as_str()) {
            continue;
        }
        match path.as_str() {
            "name" => {
                v.check("name", validate::name(&req.name));
                patch.name = Some(req.name.trim().to_owned());
            }
            "role_arn" => {
                v.check("role_arn", validate::role_arn(&req.role_arn, true));
                patch.role_arn = Some(req.role_arn.clone());
            }
            "region" => patch.region = Some(region(&mut v, "region", &req.region)),
            "products" => patch.products = Some(products(&mut v, "products", &req.products)),
            "notifications" => {
                patch.notifications = Some(notifications(
                    &mut v,
                    "notifications",
                    req.notifications.as_ref(),
                ));
            }
            "data_feed_bucket" => {
                patch.data_feed_bucket =
                    Some(bucket(&mut v, "data_feed_bucket", &req.data_feed_bucket))
            }
            other => {
                v.add(
                    "update_mask",
                    format!(
                        "unknown path \"{other}\"; allowed: {}",
                        UPDATABLE_PATHS.join(", ")
                    ),
                );
                continue;
            }
        }
        patch.paths.push(path.clone());
    }
    v.check(
        "idempotency_key",
        validate::idempotency_key(&req.idempotency_key),
    );
    Ok(finish(v, (integration_id, patch))?)
}

/// GetOnboardingTemplate: the id.
pub fn onboarding_template(req: &pb::GetOnboardingTemplateRequest) -> Result<Id, Error> {
    integration_id(&req.integration_id)
}

/// CreateApiKey, judged at `now`.
pub fn create_api_key(
    req: &pb::CreateApiKeyRequest,
    now: OffsetDateTime,
) -> Result<NewApiKey, Error> {
    let mut v = Violations::new();
    v.check("name", validate::name(&req.name));
    let mut scopes = Vec::new();
    if req.scopes.is_empty() {
        v.add("scopes", "must list at least one scope");
    }
    for (index, raw) in req.scopes.iter().enumerate() {
        let field = format!("scopes[{index}]");
        let parsed = match pb::Scope::try_from(*raw) {
            Ok(pb::Scope::Admin) => Some(Scope::Admin),
            Ok(pb::Scope::Full) => Some(Scope::Full),
            Ok(pb::Scope::ReadOnly) => Some(Scope::ReadOnly),
            Ok(pb::Scope::Metering) => Some(Scope::Metering),
            Ok(pb::Scope::Unspecified) => {
                v.add(&field, "must not be SCOPE_UNSPECIFIED");
                None
            }
            Err(_) => {
                v.add(&field, format!("unknown scope {raw}"));
                None
            }
        };
        if let Some(scope) = parsed
            && !scopes.contains(&scope)
        {
            scopes.push(scope);
        }
    }
    let mut expires_at = None;
    if let Some(ts) = &req.expire_time {
        match souk_service::convert::instant(ts) {
            Ok(at) if at > now => expires_at = Some(at),
            Ok(_) => v.add("expire_time", "must be in the future"),
            Err(reason) => v.add("expire_time", reason),
        }
    }
    v.check(
        "idempotency_key",
        validate::idempotency_key(&req.idempotency_key),
    );
    Ok(finish(
        v,
        NewApiKey {
            name: req.name.trim().to_owned(),
            scopes,
            expires_at,
        },
    )?)
}
