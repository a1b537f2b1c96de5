//! `souk offer …`: create a private offer from a YAML file (and follow it until AWS released
//! or refused it), list, show, cancel, extend, clone and import offers.

use std::time::Duration;

use serde_json::{Value, json};
use souk_proto::offer::offer_service_client::OfferServiceClient;
use souk_proto::offer::{
    CancelOfferRequest, CloneOfferRequest, Eula, EulaType, ExtendOfferRequest, GetOfferRequest,
    ImportOffersRequest, ListOffersRequest, Offer, OfferState,
};
use tonic::transport::Channel;

use super::offer_file::{OfferFile, date};
use super::output::{Table, emit, enum_name, time, time_json};
use super::{call, idempotency_key};
use crate::args::{ClientArgs, OfferCommand};
use crate::exit::{Failure, Kind};

/// An authenticated client of the offer service.
pub type OfferClient =
    OfferServiceClient<tonic::service::interceptor::InterceptedService<Channel, super::BearerAuth>>;

async fn offer_client(args: &ClientArgs) -> anyhow::Result<OfferClient> {
    let (channel, auth) = super::authenticated_channel(args).await?;
    Ok(OfferServiceClient::with_interceptor(channel, auth))
}

fn usage(message: String) -> anyhow::Error {
    Failure::new(Kind::Usage, message).into()
}

/// Runs an `offer` subcommand.
pub async fn run(command: OfferCommand) -> anyhow::Result<()> {
    match command {
        OfferCommand::Create { file, wait, client } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| usage(format!("cannot read {}: {e}", file.display())))?;
            let request = OfferFile::parse(&text)
                .and_then(|f| f.request(idempotency_key()))
                .map_err(usage)?;
            let mut offers = offer_client(&client).await?;
            let offer = call(offers.create_private_offer(request))
                .await?
                .offer
                .unwrap_or_default();
            finish(&mut offers, offer, wait, &client).await
        }
        OfferCommand::Get { id, wait, client } => {
            let mut offers = offer_client(&client).await?;
            let offer = get(&mut offers, &id).await?;
            finish(&mut offers, offer, wait, &client).await
        }
        OfferCommand::List {
            states,
            buyer,
            product,
            page_size,
            page_token,
            client,
        } => {
            let states = states
                .iter()
                .map(|s| {
                    OfferState::from_str_name(&format!("OFFER_STATE_{}", s.to_ascii_uppercase()))
                        .map(|s| s as i32)
                        .ok_or_else(|| usage(format!("--state {s:?} is not an offer state")))
                })
                .collect::<anyhow::Result<Vec<i32>>>()?;
            let mut offers = offer_client(&client).await?;
            let page = call(offers.list_offers(ListOffersRequest {
                page_size: page_size.unwrap_or_default(),
                page_token: page_token.unwrap_or_default(),
                buyer_account_id: buyer.unwrap_or_default(),
                product_id: product.unwrap_or_default(),
                states,
                ..ListOffersRequest::default()
            }))
            .await?;
            let mut table = table();
            for offer in &page.offers {
                row(&mut table, offer);
            }
            emit(
                client.output,
                &table,
                &json!({
                    "offers": page.offers.iter().map(offer_json).collect::<Vec<_>>(),
                    "next_page_token": page.next_page_token,
                }),
            );
            if !page.next_page_token.is_empty() {
                eprintln!("more: --page-token {}", page.next_page_token);
            }
            Ok(())
        }
        OfferCommand::Cancel { id, client } => {
            let mut offers = offer_client(&client).await?;
            let offer = call(offers.cancel_offer(CancelOfferRequest {
                offer_id: id,
                idempotency_key: idempotency_key(),
            }))
            .await?
            .offer
            .unwrap_or_default();
            show(&offer, &client);
            Ok(())
        }
        OfferCommand::Extend {
            id,
            expiry_date,
            client,
        } => {
            let expiry_date = date("--expiry-date", &expiry_date).map_err(usage)?;
            let mut offers = offer_client(&client).await?;
            let offer = call(offers.extend_offer(ExtendOfferRequest {
                offer_id: id,
                expiry_date: Some(expiry_date),
                idempotency_key: idempotency_key(),
            }))
            .await?
            .offer
            .unwrap_or_default();
            show(&offer, &client);
            Ok(())
        }
        OfferCommand::Import {
            integration,
            client,
        } => {
            let mut offers = offer_client(&client).await?;
            let answer = call(offers.import_offers(ImportOffersRequest {
                integration_id: integration,
                idempotency_key: idempotency_key(),
            }))
            .await?;
            let mut table = table();
            for offer in &answer.offers {
                row(&mut table, offer);
            }
            emit(
                client.output,
                &table,
                &json!({
                    "offers": answer.offers.iter().map(offer_json).collect::<Vec<_>>(),
                    "skipped": answer.skipped.iter().map(|s| json!({"aws_offer_id": s.aws_offer_id, "reason": s.reason})).collect::<Vec<_>>(),
                }),
            );
            for skipped in &answer.skipped {
                eprintln!("skipped {}: {}", skipped.aws_offer_id, skipped.reason);
            }
            Ok(())
        }
        OfferCommand::Clone {
            id,
            buyers,
            expiry_date,
            name,
            custom_eula_url,
            standard_eula,
            client,
        } => {
            let eula = match (custom_eula_url, standard_eula) {
                (Some(url), _) => Some(Eula {
                    r#type: EulaType::Custom as i32,
                    custom_url: url,
                    standard_version: String::new(),
                }),
                (None, Some(version)) => Some(Eula {
                    r#type: EulaType::Standard as i32,
                    standard_version: version,
                    custom_url: String::new(),
                }),
                (None, None) => None,
            };
            let expiry_date = expiry_date
                .map(|d| date("--expiry-date", &d))
                .transpose()
                .map_err(usage)?;
            let mut offers = offer_client(&client).await?;
            let offer = call(offers.clone_offer(CloneOfferRequest {
                offer_id: id,
                buyer_account_ids: buyers,
                eula,
                expiry_date,
                name: name.unwrap_or_default(),
                idempotency_key: idempotency_key(),
            }))
            .await?
            .offer
            .unwrap_or_default();
            show(&offer, &client);
            Ok(())
        }
    }
}

async fn get(offers: &mut OfferClient, id: &str) -> anyhow::Result<Offer> {
    Ok(call(offers.get_offer(GetOfferRequest {
        offer_id: id.to_owned(),
    }))
    .await?
    .offer
    .unwrap_or_default())
}

/// Whether AWS still has to answer for `offer`.
fn pending(offer: &Offer) -> bool {
    matches!(offer.state(), OfferState::Draft | OfferState::Submitted)
}

/// Shows `offer`; with `wait`, first follows it (progress on stderr) until it left the draft
/// and submitted states, at most 30 minutes (AWS takes minutes).
async fn finish(
    offers: &mut OfferClient,
    mut offer: Offer,
    wait: bool,
    client: &ClientArgs,
) -> anyhow::Result<()> {
    if wait {
        let mut last = offer.state;
        eprintln!("{}: {}", offer.id, state_name(&offer));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(1800);
        while pending(&offer) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_secs(2)).await;
            offer = get(offers, &offer.id).await?;
            if offer.state != last {
                last = offer.state;
                let change_set = if offer.change_set_id.is_empty() {
                    String::new()
                } else {
                    format!(" (change set {})", offer.change_set_id)
                };
                eprintln!("{}: {}{change_set}", offer.id, state_name(&offer));
            }
        }
    }
    show(&offer, client);
    if offer.state() == OfferState::Failed {
        return Err(Failure::new(
            Kind::Usage,
            format!("AWS refused the offer: {}", offer.failure_message),
        )
        .into());
    }
    Ok(())
}

fn state_name(offer: &Offer) -> String {
    enum_name(offer.state().as_str_name(), "OFFER_STATE_")
}

fn kind_name(offer: &Offer) -> String {
    enum_name(offer.kind().as_str_name(), "OFFER_KIND_")
}

fn show(offer: &Offer, client: &ClientArgs) {
    let mut table = table();
    row(&mut table, offer);
    emit(client.output, &table, &offer_json(offer));
    if client.output == crate::args::OutputFormat::Table && !offer.failure_message.is_empty() {
        println!("failure: {}", offer.failure_message);
    }
}

fn table() -> Table {
    Table::new(vec![
        "ID",
        "KIND",
        "STATE",
        "PRODUCT",
        "BUYERS",
        "EXPIRES",
        "AWS OFFER",
        "AGREEMENT",
    ])
}

fn row(table: &mut Table, offer: &Offer) {
    table.row(vec![
        offer.id.clone(),
        kind_name(offer),
        state_name(offer),
        offer.product_id.clone(),
        offer.buyer_account_ids.join(","),
        time(offer.expiry_time.as_ref()),
        offer.aws_offer_id.clone(),
        offer.agreement_id.clone(),
    ]);
}

fn offer_json(offer: &Offer) -> Value {
    json!({
        "id": offer.id,
        "integration_id": offer.integration_id,
        "kind": kind_name(offer),
        "state": state_name(offer),
        "name": offer.name,
        "product_id": offer.product_id,
        "currency_code": offer.currency_code,
        "buyer_account_ids": offer.buyer_account_ids,
        "expiry_time": time_json(offer.expiry_time.as_ref()),
        "aws_offer_id": offer.aws_offer_id,
        "change_set_id": offer.change_set_id,
        "agreement_id": offer.agreement_id,
        "failure_code": offer.failure_code,
        "failure_message": offer.failure_message,
        "cloned_from_offer_id": offer.cloned_from_offer_id,
        "create_time": time_json(offer.create_time.as_ref()),
        "update_time": time_json(offer.update_time.as_ref()),
    })
}
