//! EventBridge `aws.agreement-marketplace` events for agreements (docs/aws/notifications.md, agreement and licence events). When the proposer is
//! not the manufacturer (CPPO) both the `- Proposer` and `- Manufacturer` variants are sent.

use serde_json::{Value, json};

use super::model::Agreement;
use crate::World;
use crate::at::At;
use crate::notify::Notification;

fn resource(agreement: &Agreement) -> String {
    format!("arn:aws:aws-marketplace::aws:agreement:{}", agreement.id)
}

fn base(agreement: &Agreement, agreement_detail: Value) -> Value {
    json!({
        "requestId": uuid::Uuid::new_v4().to_string(),
        "catalog": "AWSMarketplace",
        "agreement": agreement_detail,
        "resaleAuthorization": agreement.resale_authorization_id.as_ref().map(|id| json!({ "id": id })),
        "acceptor": { "accountId": agreement.acceptor_account_id },
        "proposer": { "accountId": agreement.proposer_account_id },
        "offer": { "id": agreement.offer_id },
    })
}

fn emit(world: &mut World, agreement: &Agreement, name: &str, detail: Value) {
    let mut variants = vec![format!("{name} - Proposer")];
    if agreement.proposer_account_id != agreement.manufacturer_account_id {
        variants.push(format!("{name} - Manufacturer"));
    }
    for detail_type in variants {
        world.notify.emit(Notification::EventBridge {
            source: "aws.agreement-marketplace".to_owned(),
            detail_type,
            resources: vec![resource(agreement)],
            detail: detail.clone(),
        });
    }
}

fn rfc3339(at: At) -> String {
    crate::support::format::iso_seconds(at)
}

/// `Purchase Agreement Created` (intent NEW, RENEW or REPLACE).
pub fn created(world: &mut World, agreement: &Agreement) {
    let mut detail = json!({
        "id": agreement.id,
        "intent": agreement.intent,
        "status": agreement.status.as_str(),
        "acceptanceTime": rfc3339(agreement.acceptance_time),
        "startTime": rfc3339(agreement.start_time),
        "endTime": agreement.end_time.map(rfc3339),
    });
    if let Some(previous) = &agreement.previous_agreement_id {
        detail["previousAgreementId"] = json!(previous);
    }
    let detail = base(agreement, detail);
    emit(world, agreement, "Purchase Agreement Created", detail);
}

/// `Purchase Agreement Amended` (intent AMEND).
pub fn amended(world: &mut World, agreement: &Agreement) {
    let detail = base(
        agreement,
        json!({
            "id": agreement.id,
            "intent": "AMEND",
            "status": agreement.status.as_str(),
            "acceptanceTime": rfc3339(agreement.acceptance_time),
            "startTime": rfc3339(agreement.start_time),
            "endTime": agreement.end_time.map(rfc3339),
            "autoRenewalEnabled": agreement.auto_renew,
        }),
    );
    emit(world, agreement, "Purchase Agreement Amended", detail);
}

/// `Purchase Agreement Ended` (starts the one-hour final metering window).
pub fn ended(world: &mut World, agreement: &Agreement) {
    let detail = base(
        agreement,
        json!({ "id": agreement.id, "status": agreement.status.as_str() }),
    );
    emit(world, agreement, "Purchase Agreement Ended", detail);
}

/// `License Updated - Manufacturer`.
pub fn license_updated(world: &mut World, agreement: &Agreement, license_arn: Option<&str>) {
    let mut detail = base(agreement, json!({ "id": agreement.id }));
    detail["product"] = json!({ "code": agreement.product_code, "id": agreement.product_id });
    detail["license"] = json!({ "arn": license_arn });
    world.notify.emit(Notification::EventBridge {
        source: "aws.agreement-marketplace".to_owned(),
        detail_type: "License Updated - Manufacturer".to_owned(),
        resources: vec![resource(agreement)],
        detail,
    });
}
