//! Proto messages to validated domain values (collecting every field violation) and back.

use std::collections::HashSet;

use souk_auth::Scope;
use souk_core::error::Violations;
use souk_core::{Id, PageRequest};
use souk_proto::common::{LicensingModel, ProductType as PbProductType};
use souk_proto::integration as pb;
use time::OffsetDateTime;

use crate::domain::validate;
use crate::domain::{
    ApiKey, CheckStatus, DEFAULT_REGION, Error, Integration, IntegrationPatch, IntegrationState,
    Licensing, NewApiKey, NewIntegration, Notifications, Organization, PermissionCheck, Product,
    ProductType, VerificationReport,
};

// ----- domain -> proto -----

/// An instant as a protobuf timestamp.
pub fn timestamp(at: OffsetDateTime) -> prost_types::Timestamp {
    souk_events::envelope::to_timestamp(at)
}

/// Organisation.
pub fn organization(o: &Organization) -> pb::Organization {
    pb::Organization {
        id: o.id.to_string(),
        name: o.name.clone(),
        create_time: Some(timestamp(o.created_at)),
    }
}

/// Integration state.
pub fn state(s: IntegrationState) -> pb::IntegrationState {
    match s {
        IntegrationState::PendingVerification => pb::IntegrationState::PendingVerification,
        IntegrationState::Verified => pb::IntegrationState::Verified,
        IntegrationState::VerificationFailed => pb::IntegrationState::VerificationFailed,
    }
}

fn product(p: &Product) -> pb::Product {
    pb::Product {
        product_code: p.product_code.clone(),
        product_id: p.product_id.clone(),
        r#type: match p.product_type {
            ProductType::Saas => PbProductType::Saas,
            ProductType::Ami => PbProductType::Ami,
            ProductType::Container => PbProductType::Container,
            ProductType::ProfessionalServices => PbProductType::ProfessionalServices,
            ProductType::Data => PbProductType::Data,
        }
        .into(),
        licensing: match p.licensing {
            Licensing::ProductCode => LicensingModel::ProductCode,
            Licensing::LicenseArn => LicensingModel::LicenseArn,
        }
        .into(),
    }
}

fn check(c: &PermissionCheck) -> pb::PermissionCheck {
    pb::PermissionCheck {
        action: c.action.clone(),
        api: c.api.clone(),
        status: match c.status {
            CheckStatus::Ok => pb::CheckStatus::Ok,
            CheckStatus::Denied => pb::CheckStatus::Denied,
            CheckStatus::Unreachable => pb::CheckStatus::Unreachable,
        }
        .into(),
        detail: c.detail.clone(),
        remedy: c.remedy.clone(),
    }
}

/// Verification report.
pub fn report(r: &VerificationReport) -> pb::VerificationReport {
    pb::VerificationReport {
        verify_time: Some(timestamp(r.verified_at)),
        role_assumed: r.role_assumed,
        role_error: r.role_error.clone(),
        checks: r.checks.iter().map(check).collect(),
    }
}

/// Integration.
pub fn integration(i: &Integration) -> pb::Integration {
    pb::Integration {
        id: i.id.to_string(),
        organization_id: i.organization_id.to_string(),
        name: i.name.clone(),
        role_arn: i.role_arn.clone(),
        aws_account_id: i.aws_account_id.clone(),
        external_id: i.external_id.clone(),
        region: i.region.clone(),
        products: i.products.iter().map(product).collect(),
        notifications: Some(pb::NotificationConfig {
            sqs_queue_urls: i.notifications.sqs_queue_urls.clone(),
            sns_https: i.notifications.sns_https,
            eventbridge: i.notifications.eventbridge,
        }),
        data_feed_bucket: i.data_feed_bucket.clone(),
        state: state(i.state).into(),
        last_verification: i.last_verification.as_ref().map(report),
        create_time: Some(timestamp(i.created_at)),
        update_time: Some(timestamp(i.updated_at)),
    }
}

/// Scope.
pub fn scope(s: Scope) -> pb::Scope {
    match s {
        Scope::Admin => pb::Scope::Admin,
        Scope::Full => pb::Scope::Full,
        Scope::ReadOnly => pb::Scope::ReadOnly,
        Scope::Metering => pb::Scope::Metering,
    }
}

/// API key metadata.
pub fn api_key(k: &ApiKey) -> pb::ApiKey {
    pb::ApiKey {
        id: k.id.to_string(),
        name: k.name.clone(),
        prefix: k.prefix.clone(),
        scopes: k.scopes.iter().map(|s| scope(*s).into()).collect(),
        create_time: Some(timestamp(k.created_at)),
        last_used_time: k.last_used_at.map(timestamp),
        revoke_time: k.revoked_at.map(timestamp),
        expire_time: k.expires_at.map(timestamp),
    }
}

// ----- proto -> domain -----

fn finish<T>(violations: Violations, value: T) -> Result<T, Error> {
    violations.finish().map_err(Error::from)?;
    Ok(value)
}

/// Parses an id with `prefix` in `field`, recording a violation.
fn id(v: &mut Violations, field: &str, prefix: &str, raw: &str) -> Id {
    match Id::parse(prefix, raw) {
        Ok(id) => id,
        Err(reason) => {
            v.add(field, reason);
            Id::from_trusted(String::new())
        }
    }
}

/// A required `int_…` id.
pub fn integration_id(raw: &str) -> Result<Id, Error> {
    let mut v = Violations::new();
    let id = id(&mut v, "integration_id", "int", raw);
    finish(v, id)
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
    finish(v, id)
}

/// An optional `org_…` id (empty: the caller's).
pub fn organization_id(raw: &str) -> Result<Option<Id>, Error> {
    if raw.is_empty() {
        return Ok(None);
    }
    let mut v = Violations::new();
    let id = id(&mut v, "organization_id", "org", raw);
    finish(v, Some(id))
}

/// CreateOrganization: the name.
pub fn create_organization(req: &pb::CreateOrganizationRequest) -> Result<String, Error> {
    let mut v = Violations::new();
    v.check("name", validate::name(&req.name));
    v.check(
        "idempotency_key",
        validate::idempotency_key(&req.idempotency_key),
    );
    finish(v, req.name.trim().to_owned())
}

/// Page size and token.
pub fn page(page_size: i32, page_token: &str) -> Result<PageRequest, Error> {
    PageRequest::parse(page_size, page_token)
        .map_err(|(field, reason)| Error::invalid(field, reason))
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
    finish(
        v,
        NewIntegration {
            name: req.name.trim().to_owned(),
            role_arn: req.role_arn.clone(),
            region,
            products,
            notifications,
            data_feed_bucket,
        },
    )
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
    finish(v, (integration_id, patch))
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
        match souk_events::envelope::from_timestamp(ts) {
            Ok(at) if at > now => expires_at = Some(at),
            Ok(_) => v.add("expire_time", "must be in the future"),
            Err(_) => v.add("expire_time", "is not a valid timestamp"),
        }
    }
    v.check(
        "idempotency_key",
        validate::idempotency_key(&req.idempotency_key),
    );
    finish(
        v,
        NewApiKey {
            name: req.name.trim().to_owned(),
            scopes,
            expires_at,
        },
    )
}
