//! `souk offer resale …`: authorise a channel partner to resell a product from a YAML file (and
//! follow the authorisation until AWS released or refused it), list and show authorisations.

use serde_json::{Value, json};
use souk_proto::offer::{
    GetResaleAuthorizationRequest, ListResaleAuthorizationsRequest, OfferState,
    ResaleAuthorization, offer_terms,
};

use super::offers::{Followed, OfferClient, follow, offer_client, usage};
use super::output::{Table, emit, enum_name, time_json};
use super::resale_file::ResaleFile;
use super::{call, idempotency_key};
use crate::args::{ClientArgs, OutputFormat, ResaleCommand};
use crate::exit::{Failure, Kind};

/// Runs an `offer resale` subcommand.
pub async fn run(command: ResaleCommand) -> anyhow::Result<()> {
    match command {
        ResaleCommand::Create { file, wait, client } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| usage(format!("cannot read {}: {e}", file.display())))?;
            let request = ResaleFile::parse(&text)
                .and_then(|f| f.request(idempotency_key()))
                .map_err(usage)?;
            let mut offers = offer_client(&client).await?;
            let authorization = call(offers.create_resale_authorization(request))
                .await?
                .resale_authorization
                .unwrap_or_default();
            finish(&mut offers, authorization, wait, &client).await
        }
        ResaleCommand::Get { id, wait, client } => {
            let mut offers = offer_client(&client).await?;
            let authorization = get(&mut offers, &id).await?;
            finish(&mut offers, authorization, wait, &client).await
        }
        ResaleCommand::List {
            integration,
            product,
            reseller,
            page_size,
            page_token,
            client,
        } => {
            let mut offers = offer_client(&client).await?;
            let page = call(
                offers.list_resale_authorizations(ListResaleAuthorizationsRequest {
                    page_size: page_size.unwrap_or_default(),
                    page_token: page_token.unwrap_or_default(),
                    integration_id: integration.unwrap_or_default(),
                    product_id: product.unwrap_or_default(),
                    reseller_account_id: reseller.unwrap_or_default(),
                }),
            )
            .await?;
            let mut table = table();
            for authorization in &page.resale_authorizations {
                row(&mut table, authorization);
            }
            emit(
                client.output,
                &table,
                &json!({
                    "resale_authorizations":
                        page.resale_authorizations.iter().map(authorization_json).collect::<Vec<_>>(),
                    "next_page_token": page.next_page_token,
                }),
            );
            if !page.next_page_token.is_empty() {
                eprintln!("more: --page-token {}", page.next_page_token);
            }
            Ok(())
        }
    }
}

async fn get(offers: &mut OfferClient, id: &str) -> anyhow::Result<ResaleAuthorization> {
    Ok(call(
        offers.get_resale_authorization(GetResaleAuthorizationRequest {
            resale_authorization_id: id.to_owned(),
        }),
    )
    .await?
    .resale_authorization
    .unwrap_or_default())
}

impl Followed for ResaleAuthorization {
    fn souk_id(&self) -> &str {
        &self.id
    }

    fn lifecycle(&self) -> OfferState {
        self.state()
    }

    fn progress(&self) -> String {
        state_name(self)
    }

    async fn reload(&self, offers: &mut OfferClient) -> anyhow::Result<Self> {
        get(offers, &self.id).await
    }
}

/// Shows `authorization`; with `wait`, first follows it until AWS released or refused it.
/// Fails when AWS refused it.
async fn finish(
    offers: &mut OfferClient,
    authorization: ResaleAuthorization,
    wait: bool,
    client: &ClientArgs,
) -> anyhow::Result<()> {
    let authorization = follow(offers, authorization, wait).await?;
    let mut table = table();
    row(&mut table, &authorization);
    emit(client.output, &table, &authorization_json(&authorization));
    if client.output == OutputFormat::Table && !authorization.failure_message.is_empty() {
        println!("failure: {}", authorization.failure_message);
    }
    if authorization.state() == OfferState::Failed {
        return Err(Failure::new(
            Kind::Usage,
            format!(
                "AWS refused the resale authorisation: {}",
                authorization.failure_message
            ),
        )
        .into());
    }
    Ok(())
}

fn state_name(authorization: &ResaleAuthorization) -> String {
    enum_name(authorization.state().as_str_name(), "OFFER_STATE_")
}

/// `subscription`, `contract` or `contract_with_consumption` (what the file's `terms` says).
fn terms_name(authorization: &ResaleAuthorization) -> &'static str {
    match authorization.terms.as_ref().and_then(|t| t.kind.as_ref()) {
        Some(offer_terms::Kind::Subscription(_)) => "subscription",
        Some(offer_terms::Kind::Contract(_)) => "contract",
        Some(offer_terms::Kind::ContractWithConsumption(_)) => "contract_with_consumption",
        Some(_) => "other",
        None => "",
    }
}

/// The last day the partner may use it, `YYYY-MM-DD`; empty for no end.
fn expiry(authorization: &ResaleAuthorization) -> String {
    authorization
        .expiry_date
        .map(|d| format!("{:04}-{:02}-{:02}", d.year, d.month, d.day))
        .unwrap_or_default()
}

fn table() -> Table {
    Table::new(vec![
        "ID",
        "STATE",
        "TERMS",
        "PRODUCT",
        "RESELLER",
        "EXPIRES",
        "AWS RESALE AUTHORIZATION",
    ])
}

fn row(table: &mut Table, authorization: &ResaleAuthorization) {
    table.row(vec![
        authorization.id.clone(),
        state_name(authorization),
        terms_name(authorization).to_owned(),
        authorization.product_id.clone(),
        authorization.reseller_account_id.clone(),
        expiry(authorization),
        authorization.aws_resale_authorization_id.clone(),
    ]);
}

fn authorization_json(authorization: &ResaleAuthorization) -> Value {
    let expiry = expiry(authorization);
    json!({
        "id": authorization.id,
        "integration_id": authorization.integration_id,
        "state": state_name(authorization),
        "terms": terms_name(authorization),
        "name": authorization.name,
        "description": authorization.description,
        "product_id": authorization.product_id,
        "reseller_account_id": authorization.reseller_account_id,
        "currency_code": authorization.currency_code,
        "buyer_account_ids": authorization.buyer_account_ids,
        "expiry_date": if expiry.is_empty() { Value::Null } else { json!(expiry) },
        "one_time": authorization.one_time,
        "aws_resale_authorization_id": authorization.aws_resale_authorization_id,
        "failure_code": authorization.failure_code,
        "failure_message": authorization.failure_message,
        "create_time": time_json(authorization.create_time.as_ref()),
        "update_time": time_json(authorization.update_time.as_ref()),
    })
}
