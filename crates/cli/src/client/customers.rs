//! `souk customer …`, `souk subscription …` and `souk agreement …`: the buyers Souk knows and
//! what AWS told about them.

use serde_json::{Value, json};
use souk_proto::entitlement::{
    Agreement, AgreementStatus, Customer, GetAgreementRequest, GetCustomerRequest,
    GetSubscriptionRequest, LinkCustomerRequest, ListAgreementsRequest, ListCustomersRequest,
    ListSubscriptionsRequest, Subscription, SubscriptionState,
};

use super::call;
use super::entitlements::entitlement_client;
use super::idempotency_key;
use super::output::{Table, emit, enum_name, time, time_json};
use crate::args::{
    AgreementCommand, AgreementStatusArg, ClientArgs, CustomerCommand, OutputFormat,
    SubscriptionCommand, SubscriptionStateArg,
};

/// Runs a `customer` subcommand.
pub async fn run(command: CustomerCommand) -> anyhow::Result<()> {
    match command {
        CustomerCommand::List {
            integration,
            product,
            aws_account,
            customer_identifier,
            external_id,
            state,
            client,
        } => {
            let filter = ListCustomersRequest {
                page_size: 0,
                page_token: String::new(),
                integration_id: integration.unwrap_or_default(),
                product_code: product.unwrap_or_default(),
                aws_account_id: aws_account.unwrap_or_default(),
                customer_identifier: customer_identifier.unwrap_or_default(),
                external_id: external_id.unwrap_or_default(),
                state: state.map_or(0, |s| subscription_state(s) as i32),
            };
            list_customers(filter, &client).await
        }
        CustomerCommand::Get { id, client } => get_customer(id, &client).await,
        CustomerCommand::Link {
            id,
            external_id,
            unlink: _,
            client,
        } => link(id, external_id.unwrap_or_default(), &client).await,
    }
}

/// Runs a `subscription` subcommand.
pub async fn run_subscription(command: SubscriptionCommand) -> anyhow::Result<()> {
    match command {
        SubscriptionCommand::List {
            integration,
            state,
            customer,
            product,
            client,
        } => {
            let filter = ListSubscriptionsRequest {
                page_size: 0,
                page_token: String::new(),
                customer_id: customer.unwrap_or_default(),
                integration_id: integration.unwrap_or_default(),
                product_code: product.unwrap_or_default(),
                state: state.map_or(0, |s| subscription_state(s) as i32),
            };
            list_subscriptions(filter, &client).await
        }
        SubscriptionCommand::Get { id, client } => get_subscription(id, &client).await,
    }
}

/// Runs an `agreement` subcommand.
pub async fn run_agreement(command: AgreementCommand) -> anyhow::Result<()> {
    match command {
        AgreementCommand::List {
            integration,
            customer,
            offer,
            statuses,
            client,
        } => {
            let filter = ListAgreementsRequest {
                page_size: 0,
                page_token: String::new(),
                customer_id: customer.unwrap_or_default(),
                integration_id: integration.unwrap_or_default(),
                offer_id: offer.unwrap_or_default(),
                statuses: statuses
                    .into_iter()
                    .map(|s| agreement_status(s) as i32)
                    .collect(),
            };
            list_agreements(filter, &client).await
        }
        AgreementCommand::Get { id, client } => get_agreement(id, &client).await,
    }
}

async fn list_customers(filter: ListCustomersRequest, args: &ClientArgs) -> anyhow::Result<()> {
    let client = entitlement_client(args).await?;
    let all = super::all_pages(|page_token| {
        let mut client = client.clone();
        let request = ListCustomersRequest {
            page_token,
            ..filter.clone()
        };
        async move {
            let page = call(client.list_customers(request)).await?;
            Ok((page.customers, page.next_page_token))
        }
    })
    .await?;
    let mut table = customer_table();
    for customer in &all {
        customer_row(&mut table, customer);
    }
    emit(
        args.output,
        &table,
        &Value::Array(all.iter().map(customer_json).collect()),
    );
    Ok(())
}

async fn get_customer(id: String, args: &ClientArgs) -> anyhow::Result<()> {
    let mut client = entitlement_client(args).await?;
    let request = GetCustomerRequest { customer_id: id };
    let customer = call(client.get_customer(request)).await?.customer;
    print_customer(args.output, &customer.unwrap_or_default());
    Ok(())
}

/// Links (or, with an empty `external_id`, unlinks) a customer.
async fn link(id: String, external_id: String, args: &ClientArgs) -> anyhow::Result<()> {
    let mut client = entitlement_client(args).await?;
    let request = LinkCustomerRequest {
        customer_id: id,
        external_id,
        idempotency_key: idempotency_key(),
    };
    let customer = call(client.link_customer(request)).await?.customer;
    print_customer(args.output, &customer.unwrap_or_default());
    Ok(())
}

async fn list_subscriptions(
    filter: ListSubscriptionsRequest,
    args: &ClientArgs,
) -> anyhow::Result<()> {
    let client = entitlement_client(args).await?;
    let all = super::all_pages(|page_token| {
        let mut client = client.clone();
        let request = ListSubscriptionsRequest {
            page_token,
            ..filter.clone()
        };
        async move {
            let page = call(client.list_subscriptions(request)).await?;
            Ok((page.subscriptions, page.next_page_token))
        }
    })
    .await?;
    let mut table = subscription_table();
    for subscription in &all {
        subscription_row(&mut table, subscription);
    }
    emit(
        args.output,
        &table,
        &Value::Array(all.iter().map(subscription_json).collect()),
    );
    Ok(())
}

async fn get_subscription(id: String, args: &ClientArgs) -> anyhow::Result<()> {
    let mut client = entitlement_client(args).await?;
    let request = GetSubscriptionRequest {
        subscription_id: id,
    };
    let subscription = call(client.get_subscription(request))
        .await?
        .subscription
        .unwrap_or_default();
    let mut table = subscription_table();
    subscription_row(&mut table, &subscription);
    emit(args.output, &table, &subscription_json(&subscription));
    Ok(())
}

async fn list_agreements(filter: ListAgreementsRequest, args: &ClientArgs) -> anyhow::Result<()> {
    let client = entitlement_client(args).await?;
    let all = super::all_pages(|page_token| {
        let mut client = client.clone();
        let request = ListAgreementsRequest {
            page_token,
            ..filter.clone()
        };
        async move {
            let page = call(client.list_agreements(request)).await?;
            Ok((page.agreements, page.next_page_token))
        }
    })
    .await?;
    let mut table = agreement_table();
    for agreement in &all {
        agreement_row(&mut table, agreement);
    }
    emit(
        args.output,
        &table,
        &Value::Array(all.iter().map(agreement_json).collect()),
    );
    Ok(())
}

async fn get_agreement(id: String, args: &ClientArgs) -> anyhow::Result<()> {
    let mut client = entitlement_client(args).await?;
    let request = GetAgreementRequest { agreement_id: id };
    let agreement = call(client.get_agreement(request))
        .await?
        .agreement
        .unwrap_or_default();
    let mut table = agreement_table();
    agreement_row(&mut table, &agreement);
    emit(args.output, &table, &agreement_json(&agreement));
    Ok(())
}

fn subscription_state(arg: SubscriptionStateArg) -> SubscriptionState {
    match arg {
        SubscriptionStateArg::Active => SubscriptionState::Active,
        SubscriptionStateArg::Pending => SubscriptionState::Pending,
        SubscriptionStateArg::Failed => SubscriptionState::Failed,
        SubscriptionStateArg::CancelPending => SubscriptionState::CancelPending,
        SubscriptionStateArg::Cancelled => SubscriptionState::Cancelled,
    }
}

fn agreement_status(arg: AgreementStatusArg) -> AgreementStatus {
    match arg {
        AgreementStatusArg::Active => AgreementStatus::Active,
        AgreementStatusArg::Terminated => AgreementStatus::Terminated,
        AgreementStatusArg::Cancelled => AgreementStatus::Cancelled,
        AgreementStatusArg::Expired => AgreementStatus::Expired,
        AgreementStatusArg::Replaced => AgreementStatus::Replaced,
        AgreementStatusArg::Renewed => AgreementStatus::Renewed,
        AgreementStatusArg::Archived => AgreementStatus::Archived,
        AgreementStatusArg::RolledBack => AgreementStatus::RolledBack,
        AgreementStatusArg::Superseded => AgreementStatus::Superseded,
    }
}

/// A subscription state's short name (`cancel_pending`); empty when unspecified.
pub(super) fn state_name(state: SubscriptionState) -> String {
    if state == SubscriptionState::Unspecified {
        return String::new();
    }
    enum_name(state.as_str_name(), "SUBSCRIPTION_STATE_")
}

fn customer_table() -> Table {
    Table::new(vec![
        "ID",
        "INTEGRATION",
        "PRODUCT",
        "AWS ACCOUNT",
        "EXTERNAL ID",
        "STATE",
        "CREATED",
    ])
}

fn customer_row(table: &mut Table, customer: &Customer) {
    table.row(vec![
        customer.id.clone(),
        customer.integration_id.clone(),
        customer.product_code.clone(),
        customer.aws_account_id.clone(),
        customer.external_id.clone(),
        state_name(customer.subscription_state()),
        time(customer.create_time.as_ref()),
    ]);
}

/// One customer, as a table or JSON.
fn print_customer(output: OutputFormat, customer: &Customer) {
    let mut table = customer_table();
    customer_row(&mut table, customer);
    emit(output, &table, &customer_json(customer));
}

fn customer_json(customer: &Customer) -> Value {
    let signup = customer.signup.as_ref().map_or(Value::Null, |s| {
        json!({
            "company": s.company,
            "contact_name": s.contact_name,
            "email": s.email,
            "submit_time": time_json(s.submit_time.as_ref()),
        })
    });
    json!({
        "id": customer.id,
        "integration_id": customer.integration_id,
        "product_code": customer.product_code,
        "customer_identifier": customer.customer_identifier,
        "aws_account_id": customer.aws_account_id,
        "external_id": customer.external_id,
        "subscription_state": state_name(customer.subscription_state()),
        "license_arn": customer.license_arn,
        "signup": signup,
        "create_time": time_json(customer.create_time.as_ref()),
        "update_time": time_json(customer.update_time.as_ref()),
    })
}

fn subscription_table() -> Table {
    Table::new(vec![
        "ID",
        "CUSTOMER",
        "PRODUCT",
        "STATE",
        "AGREEMENT",
        "TRIAL",
        "ACTIVATED",
        "METERING UNTIL",
        "ENDED",
    ])
}

fn subscription_row(table: &mut Table, subscription: &Subscription) {
    table.row(vec![
        subscription.id.clone(),
        subscription.customer_id.clone(),
        subscription.product_code.clone(),
        state_name(subscription.state()),
        subscription.agreement_id.clone(),
        if subscription.free_trial { "yes" } else { "" }.to_owned(),
        time(subscription.activate_time.as_ref()),
        time(subscription.final_metering_deadline.as_ref()),
        time(subscription.cancel_time.as_ref()),
    ]);
}

fn subscription_json(subscription: &Subscription) -> Value {
    json!({
        "id": subscription.id,
        "customer_id": subscription.customer_id,
        "integration_id": subscription.integration_id,
        "product_code": subscription.product_code,
        "license_arn": subscription.license_arn,
        "agreement_id": subscription.agreement_id,
        "offer_id": subscription.offer_id,
        "state": state_name(subscription.state()),
        "free_trial": subscription.free_trial,
        "activate_time": time_json(subscription.activate_time.as_ref()),
        "cancel_pending_time": time_json(subscription.cancel_pending_time.as_ref()),
        "final_metering_deadline": time_json(subscription.final_metering_deadline.as_ref()),
        "cancel_time": time_json(subscription.cancel_time.as_ref()),
        "create_time": time_json(subscription.create_time.as_ref()),
        "update_time": time_json(subscription.update_time.as_ref()),
    })
}

fn agreement_table() -> Table {
    Table::new(vec![
        "ID", "CUSTOMER", "PRODUCT", "OFFER", "STATUS", "INTENT", "START", "END",
    ])
}

fn agreement_row(table: &mut Table, agreement: &Agreement) {
    table.row(vec![
        agreement.id.clone(),
        agreement.customer_id.clone(),
        agreement.product_code.clone(),
        agreement.offer_id.clone(),
        enum_name(agreement.status().as_str_name(), "AGREEMENT_STATUS_"),
        enum_name(agreement.intent().as_str_name(), "AGREEMENT_INTENT_"),
        time(agreement.start_time.as_ref()),
        time(agreement.end_time.as_ref()),
    ]);
}

fn agreement_json(agreement: &Agreement) -> Value {
    let estimated_value = agreement.estimated_value.as_ref().map_or(
        Value::Null,
        |m| json!({ "amount_micros": m.amount_micros, "currency_code": m.currency_code }),
    );
    json!({
        "id": agreement.id,
        "integration_id": agreement.integration_id,
        "customer_id": agreement.customer_id,
        "product_code": agreement.product_code,
        "offer_id": agreement.offer_id,
        "resale_authorization_id": agreement.resale_authorization_id,
        "acceptor_account_id": agreement.acceptor_account_id,
        "proposer_account_id": agreement.proposer_account_id,
        "intent": enum_name(agreement.intent().as_str_name(), "AGREEMENT_INTENT_"),
        "status": enum_name(agreement.status().as_str_name(), "AGREEMENT_STATUS_"),
        "previous_agreement_id": agreement.previous_agreement_id,
        "acceptance_time": time_json(agreement.acceptance_time.as_ref()),
        "start_time": time_json(agreement.start_time.as_ref()),
        "end_time": time_json(agreement.end_time.as_ref()),
        "auto_renewal_enabled": agreement.auto_renewal_enabled,
        "estimated_value": estimated_value,
        "update_time": time_json(agreement.update_time.as_ref()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_types::Timestamp;

    #[test]
    fn customers_print_their_state_and_link() {
        let customer = Customer {
            id: "cus_1".into(),
            integration_id: "int_1".into(),
            product_code: "prod".into(),
            aws_account_id: "111122223333".into(),
            external_id: "acct-7".into(),
            subscription_state: SubscriptionState::CancelPending as i32,
            create_time: Some(Timestamp {
                seconds: 0,
                nanos: 0,
            }),
            ..Customer::default()
        };
        let mut table = customer_table();
        customer_row(&mut table, &customer);
        assert_eq!(
            table.render().lines().nth(1),
            Some(
                "cus_1  int_1        prod     111122223333  acct-7       cancel_pending  \
                 1970-01-01T00:00:00Z"
            )
        );
        let value = customer_json(&customer);
        assert_eq!(value["subscription_state"], "cancel_pending");
        assert_eq!(value["signup"], Value::Null);
        assert_eq!(value["update_time"], Value::Null);
    }

    #[test]
    fn state_filters_map_to_the_contract() {
        assert_eq!(
            subscription_state(SubscriptionStateArg::CancelPending),
            SubscriptionState::CancelPending
        );
        assert_eq!(
            agreement_status(AgreementStatusArg::RolledBack),
            AgreementStatus::RolledBack
        );
        assert_eq!(state_name(SubscriptionState::Unspecified), "");
    }
}
