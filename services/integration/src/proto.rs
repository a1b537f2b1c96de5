//! Domain values as `souk.integration.v1` messages: one set of builders for the gRPC replies
//! (`api/`) and the event payloads (`events/`).

use souk_core::access::Scope;
use souk_proto::common::{LicensingModel, ProductType as PbProductType};
use souk_proto::integration as pb;
use souk_service::convert::timestamp;

use crate::domain::{
    ApiKey, CheckStatus, Integration, IntegrationState, Licensing, Organization, PermissionCheck,
    Product, ProductType, VerificationReport,
};

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
