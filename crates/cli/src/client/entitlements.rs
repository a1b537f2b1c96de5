//! `souk entitlement …`: contract entitlements, features, checks and syncs; and the
//! authenticated client of the entitlement service the other entitlement commands share.

use serde_json::{Value, json};
use souk_proto::entitlement::entitlement_service_client::EntitlementServiceClient;
use souk_proto::entitlement::entitlement_value::Kind as ValueKind;
use souk_proto::entitlement::{
    CheckEntitlementRequest, CheckEntitlementResponse, CustomerFeature, Entitlement,
    EntitlementValue, ListEntitlementsRequest, ListFeaturesRequest, SyncEntitlementsRequest,
};
use tonic::transport::Channel;

use super::customers::state_name;
use super::output::{Table, emit, enum_name, time, time_json};
use super::{BearerAuth, call, idempotency_key};
use crate::args::{ClientArgs, EntitlementCommand};

/// An authenticated client of the entitlement service.
pub type EntitlementClient =
    EntitlementServiceClient<tonic::service::interceptor::InterceptedService<Channel, BearerAuth>>;

/// Connects to the server named in `args` with the resolved API key (as
/// [`super::integration_client`] does for the integration service).
pub async fn entitlement_client(args: &ClientArgs) -> anyhow::Result<EntitlementClient> {
    let (channel, auth) = super::authenticated_channel(args).await?;
    Ok(EntitlementServiceClient::with_interceptor(channel, auth))
}

/// Runs an `entitlement` subcommand.
pub async fn run(command: EntitlementCommand) -> anyhow::Result<()> {
    match command {
        EntitlementCommand::List {
            customer,
            dimension,
            client,
        } => list(customer, dimension.unwrap_or_default(), &client).await,
        EntitlementCommand::Sync {
            integration,
            customer,
            client,
        } => sync(integration, customer.unwrap_or_default(), &client).await,
        EntitlementCommand::Check {
            customer,
            feature,
            quantity,
            client,
        } => check(customer, feature, quantity, &client).await,
        EntitlementCommand::Features { customer, client } => features(customer, &client).await,
    }
}

async fn list(customer_id: String, dimension: String, args: &ClientArgs) -> anyhow::Result<()> {
    let client = entitlement_client(args).await?;
    let all = super::all_pages(|page_token| {
        let mut client = client.clone();
        let (customer_id, dimension) = (customer_id.clone(), dimension.clone());
        async move {
            let page = call(client.list_entitlements(ListEntitlementsRequest {
                page_size: 0,
                page_token,
                customer_id,
                dimension,
            }))
            .await?;
            Ok((page.entitlements, page.next_page_token))
        }
    })
    .await?;
    let mut table = Table::new(vec!["DIMENSION", "VALUE", "PRODUCT", "EXPIRES", "UPDATED"]);
    for entitlement in &all {
        table.row(vec![
            entitlement.dimension.clone(),
            value_text(entitlement.value.as_ref()),
            entitlement.product_code.clone(),
            time(entitlement.expire_time.as_ref()),
            time(entitlement.update_time.as_ref()),
        ]);
    }
    emit(
        args.output,
        &table,
        &Value::Array(all.iter().map(entitlement_json).collect()),
    );
    Ok(())
}

async fn sync(
    integration_id: String,
    customer_id: String,
    args: &ClientArgs,
) -> anyhow::Result<()> {
    let mut client = entitlement_client(args).await?;
    let request = SyncEntitlementsRequest {
        integration_id: integration_id.clone(),
        customer_id: customer_id.clone(),
        idempotency_key: idempotency_key(),
    };
    let response = call(client.sync_entitlements(request)).await?;
    let mut table = Table::new(vec!["INTEGRATION", "CUSTOMERS SYNCED", "CUSTOMERS CHANGED"]);
    table.row(vec![
        integration_id.clone(),
        response.customers_synced.to_string(),
        response.customers_changed.to_string(),
    ]);
    let value = json!({
        "integration_id": integration_id,
        "customer_id": customer_id,
        "customers_synced": response.customers_synced,
        "customers_changed": response.customers_changed,
    });
    emit(args.output, &table, &value);
    Ok(())
}

/// Prints the answer whether allowed or not: a refusal is an answer, and the command succeeds.
async fn check(
    customer: String,
    feature: String,
    quantity: Option<i64>,
    args: &ClientArgs,
) -> anyhow::Result<()> {
    let mut client = entitlement_client(args).await?;
    let request = CheckEntitlementRequest {
        customer,
        feature,
        quantity,
    };
    let answer = call(client.check_entitlement(request)).await?;
    emit(args.output, &check_table(&answer), &check_json(&answer));
    Ok(())
}

async fn features(customer_id: String, args: &ClientArgs) -> anyhow::Result<()> {
    let mut client = entitlement_client(args).await?;
    let request = ListFeaturesRequest { customer_id };
    let features = call(client.list_features(request)).await?.features;
    let mut table = Table::new(vec!["FEATURE", "ALLOWED", "LIMIT", "EXPIRES", "PLANS"]);
    for feature in &features {
        table.row(vec![
            feature.feature.clone(),
            yes_no(feature.allowed),
            limit_text(feature.limit, feature.unlimited),
            time(feature.expire_time.as_ref()),
            feature.plans.join(","),
        ]);
    }
    emit(
        args.output,
        &table,
        &Value::Array(features.iter().map(feature_json).collect()),
    );
    Ok(())
}

fn check_table(answer: &CheckEntitlementResponse) -> Table {
    let mut table = Table::new(vec![
        "CUSTOMER",
        "FEATURE",
        "ALLOWED",
        "LIMIT",
        "SOURCE",
        "REASON",
        "SUBSCRIPTION",
        "EXPIRES",
    ]);
    table.row(vec![
        answer.customer_id.clone(),
        answer.feature.clone(),
        yes_no(answer.allowed),
        limit_text(answer.limit, answer.unlimited),
        enum_name(answer.source().as_str_name(), "CHECK_SOURCE_"),
        enum_name(answer.reason().as_str_name(), "CHECK_REASON_"),
        state_name(answer.subscription_state()),
        time(answer.expire_time.as_ref()),
    ]);
    table
}

fn check_json(answer: &CheckEntitlementResponse) -> Value {
    json!({
        "customer_id": answer.customer_id,
        "feature": answer.feature,
        "allowed": answer.allowed,
        "limit": answer.limit,
        "unlimited": answer.unlimited,
        "source": enum_name(answer.source().as_str_name(), "CHECK_SOURCE_"),
        "reason": enum_name(answer.reason().as_str_name(), "CHECK_REASON_"),
        "subscription_state": state_name(answer.subscription_state()),
        "expire_time": time_json(answer.expire_time.as_ref()),
    })
}

fn yes_no(allowed: bool) -> String {
    if allowed { "yes" } else { "no" }.to_owned()
}

/// `unlimited`, the limit, or empty when there is neither (an on/off feature, a refusal).
fn limit_text(limit: Option<i64>, unlimited: bool) -> String {
    match (unlimited, limit) {
        (true, _) => "unlimited".to_owned(),
        (false, Some(limit)) => limit.to_string(),
        (false, None) => String::new(),
    }
}

/// An entitlement value as text: `10`, `true`, `gold`, `2.5`; empty when unset.
fn value_text(value: Option<&EntitlementValue>) -> String {
    match value.and_then(|v| v.kind.as_ref()) {
        Some(ValueKind::IntegerValue(v)) => v.to_string(),
        Some(ValueKind::BooleanValue(v)) => v.to_string(),
        Some(ValueKind::StringValue(v) | ValueKind::DecimalValue(v)) => v.clone(),
        None => String::new(),
    }
}

/// An entitlement value as JSON, named by its kind: `{"integer_value": 10}`; `null` when unset.
fn value_json(value: Option<&EntitlementValue>) -> Value {
    match value.and_then(|v| v.kind.as_ref()) {
        Some(ValueKind::IntegerValue(v)) => json!({ "integer_value": v }),
        Some(ValueKind::BooleanValue(v)) => json!({ "boolean_value": v }),
        Some(ValueKind::StringValue(v)) => json!({ "string_value": v }),
        Some(ValueKind::DecimalValue(v)) => json!({ "decimal_value": v }),
        None => Value::Null,
    }
}

fn entitlement_json(entitlement: &Entitlement) -> Value {
    json!({
        "customer_id": entitlement.customer_id,
        "product_code": entitlement.product_code,
        "dimension": entitlement.dimension,
        "value": value_json(entitlement.value.as_ref()),
        "expire_time": time_json(entitlement.expire_time.as_ref()),
        "license_arn": entitlement.license_arn,
        "update_time": time_json(entitlement.update_time.as_ref()),
    })
}

fn feature_json(feature: &CustomerFeature) -> Value {
    json!({
        "feature": feature.feature,
        "allowed": feature.allowed,
        "limit": feature.limit,
        "unlimited": feature.unlimited,
        "expire_time": time_json(feature.expire_time.as_ref()),
        "plans": feature.plans,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use souk_proto::entitlement::{CheckReason, CheckSource, SubscriptionState};

    #[test]
    fn values_print_by_kind() {
        let value = |kind| EntitlementValue { kind: Some(kind) };
        assert_eq!(value_text(Some(&value(ValueKind::IntegerValue(10)))), "10");
        assert_eq!(
            value_text(Some(&value(ValueKind::DecimalValue("2.5".into())))),
            "2.5"
        );
        assert_eq!(value_text(None), "");
        assert_eq!(
            value_json(Some(&value(ValueKind::BooleanValue(true)))),
            json!({ "boolean_value": true })
        );
        assert_eq!(value_json(None), Value::Null);
    }

    #[test]
    fn a_refusal_prints_its_reason() {
        let answer = CheckEntitlementResponse {
            allowed: false,
            limit: Some(10),
            unlimited: false,
            source: CheckSource::Live as i32,
            expire_time: None,
            reason: CheckReason::LimitExceeded as i32,
            subscription_state: SubscriptionState::CancelPending as i32,
            customer_id: "cus_1".into(),
            feature: "seats".into(),
        };
        assert_eq!(
            check_table(&answer).render(),
            "CUSTOMER  FEATURE  ALLOWED  LIMIT  SOURCE  REASON          SUBSCRIPTION    EXPIRES\n\
             cus_1     seats    no       10     live    limit_exceeded  cancel_pending\n"
        );
        let value = check_json(&answer);
        assert_eq!(value["allowed"], false);
        assert_eq!(value["limit"], 10);
        assert_eq!(value["reason"], "limit_exceeded");
        assert_eq!(value["expire_time"], Value::Null);
        let unknown = check_json(&CheckEntitlementResponse::default());
        assert_eq!(unknown["subscription_state"], "");
        assert_eq!(limit_text(None, true), "unlimited");
        assert_eq!(limit_text(None, false), "");
    }
}
