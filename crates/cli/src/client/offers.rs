//! `souk offer …`: create a private or channel-partner offer from a YAML file (and follow it
//! until AWS released or refused it), list, show, cancel, extend, clone and import offers;
//! `souk offer resale …` is in resale.rs.

use std::time::Duration;

use serde_json::{Value, json};
use souk_proto::offer::offer_service_client::OfferServiceClient;
use souk_proto::offer::{
    CancelOfferRequest, CloneOfferRequest, Eula, EulaType, ExtendOfferRequest, GetOfferRequest,
    ImportOffersRequest, ListOffersRequest, Offer, OfferKind, OfferState,
};
use tonic::transport::Channel;

use super::offer_file::date;
use super::output::{Table, emit, enum_name, time, time_json};
use super::resale_file::{OfferRequest, offer_request};
use super::{call, idempotency_key};
use crate::args::{ClientArgs, OfferCommand};
use crate::exit::{Failure, Kind};

/// An authenticated client of the offer service.
pub type OfferClient =
    OfferServiceClient<tonic::service::interceptor::InterceptedService<Channel, super::BearerAuth>>;

/// A client of the offer service at the server `args` name.
pub async fn offer_client(args: &ClientArgs) -> anyhow::Result<OfferClient> {
    let (channel, auth) = super::authenticated_channel(args).await?;
    Ok(OfferServiceClient::with_interceptor(channel, auth))
}

/// A usage error (exit code 2) saying `message`.
pub fn usage(message: String) -> anyhow::Error {
    Failure::new(Kind::Usage, message).into()
}

/// Runs an `offer` subcommand.
pub async fn run(command: OfferCommand) -> anyhow::Result<()> {
    match command {
        OfferCommand::Create { file, wait, client } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| usage(format!("cannot read {}: {e}", file.display())))?;
            let request = offer_request(&text, idempotency_key()).map_err(usage)?;
            let mut offers = offer_client(&client).await?;
            let offer = match request {
                OfferRequest::Private(request) => {
                    call(offers.create_private_offer(*request)).await?.offer
                }
                OfferRequest::ChannelPartner(request) => {
                    call(offers.create_channel_partner_offer(*request))
                        .await?
                        .offer
                }
            }
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
            kinds,
            expiring_before,
            page_size,
            page_token,
            client,
        } => {
            let states = states
                .iter()
                .map(|s| offer_state(s).map(|s| s as i32))
                .collect::<anyhow::Result<Vec<i32>>>()?;
            let kinds = kinds
                .iter()
                .map(|k| offer_kind(k).map(|k| k as i32))
                .collect::<anyhow::Result<Vec<i32>>>()?;
            let expiring_before = expiring_before
                .map(|raw| instant("--expiring-before", &raw))
                .transpose()
                .map_err(usage)?;
            let mut offers = offer_client(&client).await?;
            let page = call(offers.list_offers(ListOffersRequest {
                page_size: page_size.unwrap_or_default(),
                page_token: page_token.unwrap_or_default(),
                buyer_account_id: buyer.unwrap_or_default(),
                product_id: product.unwrap_or_default(),
                states,
                kinds,
                expiring_before,
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
        OfferCommand::Resale(command) => super::resale::run(command).await,
    }
}

/// `--state <name>`: an offer state by its lowercase name.
fn offer_state(name: &str) -> anyhow::Result<OfferState> {
    OfferState::from_str_name(&format!("OFFER_STATE_{}", name.to_ascii_uppercase()))
        .filter(|s| *s != OfferState::Unspecified)
        .ok_or_else(|| {
            usage(format!(
                "--state {name:?} is not an offer state (draft, submitted, released, accepted, expired, cancelled, failed)"
            ))
        })
}

/// `--kind <name>`: an offer kind by its lowercase name.
fn offer_kind(name: &str) -> anyhow::Result<OfferKind> {
    OfferKind::from_str_name(&format!("OFFER_KIND_{}", name.to_ascii_uppercase()))
        .filter(|k| *k != OfferKind::Unspecified)
        .ok_or_else(|| {
            usage(format!(
                "--kind {name:?} is not an offer kind (subscription, contract, contract_with_consumption, replacement, professional_services, ami, container, free_trial, channel_partner)"
            ))
        })
}

/// A `YYYY-MM-DD` day (its start, 00:00 UTC) or an RFC 3339 instant.
pub(crate) fn instant(flag: &str, raw: &str) -> Result<prost_types::Timestamp, String> {
    use time::format_description::well_known::Rfc3339;
    let at = if raw.len() == 10 {
        let day = date(flag, raw)?;
        u8::try_from(day.month)
            .ok()
            .and_then(|m| time::Month::try_from(m).ok())
            .zip(u8::try_from(day.day).ok())
            .and_then(|(month, d)| time::Date::from_calendar_date(day.year, month, d).ok())
            .map(|d| d.midnight().assume_utc())
            .ok_or_else(|| format!("{flag}: {raw:?} is not a day of the calendar"))?
    } else {
        time::OffsetDateTime::parse(raw, &Rfc3339).map_err(|_| {
            format!(
                "{flag}: {raw:?} is neither a YYYY-MM-DD date nor an RFC 3339 instant (2027-01-31T12:00:00Z)"
            )
        })?
    };
    Ok(prost_types::Timestamp {
        seconds: at.unix_timestamp(),
        nanos: i32::try_from(at.nanosecond()).unwrap_or_default(),
    })
}

async fn get(offers: &mut OfferClient, id: &str) -> anyhow::Result<Offer> {
    Ok(call(offers.get_offer(GetOfferRequest {
        offer_id: id.to_owned(),
    }))
    .await?
    .offer
    .unwrap_or_default())
}

/// Something AWS makes through a Catalog change set (an offer, a resale authorisation), which
/// `--wait` follows.
pub trait Followed: Sized {
    /// Its Souk id.
    fn souk_id(&self) -> &str;
    /// Its lifecycle state.
    fn lifecycle(&self) -> OfferState;
    /// Its state for people, with what else is worth knowing (the change set).
    fn progress(&self) -> String;
    /// It as the service now knows it.
    async fn reload(&self, offers: &mut OfferClient) -> anyhow::Result<Self>;
}

impl Followed for Offer {
    fn souk_id(&self) -> &str {
        &self.id
    }

    fn lifecycle(&self) -> OfferState {
        self.state()
    }

    fn progress(&self) -> String {
        if self.change_set_id.is_empty() {
            state_name(self)
        } else {
            format!("{} (change set {})", state_name(self), self.change_set_id)
        }
    }

    async fn reload(&self, offers: &mut OfferClient) -> anyhow::Result<Self> {
        get(offers, &self.id).await
    }
}

/// With `wait`, follows `item` (each state change on stderr) until it left the draft and
/// submitted states, at most 30 minutes (AWS takes minutes); `item` as it then is.
pub async fn follow<T: Followed>(
    offers: &mut OfferClient,
    mut item: T,
    wait: bool,
) -> anyhow::Result<T> {
    if !wait {
        return Ok(item);
    }
    let mut last = item.progress();
    eprintln!("{}: {last}", item.souk_id());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1800);
    while matches!(item.lifecycle(), OfferState::Draft | OfferState::Submitted)
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_secs(2)).await;
        item = item.reload(offers).await?;
        let now = item.progress();
        if now != last {
            eprintln!("{}: {now}", item.souk_id());
            last = now;
        }
    }
    Ok(item)
}

/// Shows `offer`; with `wait`, first follows it until AWS released or refused it. Fails when
/// AWS refused it.
async fn finish(
    offers: &mut OfferClient,
    offer: Offer,
    wait: bool,
    client: &ClientArgs,
) -> anyhow::Result<()> {
    let offer = follow(offers, offer, wait).await?;
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
        "resale_authorization_id": offer.resale_authorization_id,
        "markup_percentage": offer.markup_percentage,
        "create_time": time_json(offer.create_time.as_ref()),
        "update_time": time_json(offer.update_time.as_ref()),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use prost_types::Timestamp;

    use super::*;

    #[test]
    fn list_kinds_and_states_are_lowercase_names() {
        assert_eq!(
            offer_kind("channel_partner").unwrap(),
            OfferKind::ChannelPartner
        );
        assert_eq!(offer_kind("Contract").unwrap(), OfferKind::Contract);
        assert_eq!(
            offer_kind("lease").unwrap_err().to_string(),
            "--kind \"lease\" is not an offer kind (subscription, contract, contract_with_consumption, replacement, professional_services, ami, container, free_trial, channel_partner)"
        );
        assert!(offer_kind("unspecified").is_err());
        assert_eq!(offer_state("released").unwrap(), OfferState::Released);
        assert_eq!(
            offer_state("unspecified").unwrap_err().to_string(),
            "--state \"unspecified\" is not an offer state (draft, submitted, released, accepted, expired, cancelled, failed)"
        );
    }

    #[test]
    fn expiring_before_is_a_day_start_or_an_instant() {
        let flag = "--expiring-before";
        assert_eq!(
            instant(flag, "2027-02-01").unwrap(),
            Timestamp {
                seconds: 1_801_440_000,
                nanos: 0
            }
        );
        assert_eq!(
            instant(flag, "2027-01-31T14:30:00.5+02:00").unwrap(),
            Timestamp {
                seconds: 1_801_398_600,
                nanos: 500_000_000
            }
        );
        assert_eq!(
            instant(flag, "2027-02-30").unwrap_err(),
            "--expiring-before: \"2027-02-30\" is not a day of the calendar"
        );
        assert_eq!(
            instant(flag, "2027-1-31").unwrap_err(),
            "--expiring-before: \"2027-1-31\" is neither a YYYY-MM-DD date nor an RFC 3339 instant (2027-01-31T12:00:00Z)"
        );
        assert_eq!(
            instant(flag, "next week").unwrap_err(),
            "--expiring-before: \"next week\" is neither a YYYY-MM-DD date nor an RFC 3339 instant (2027-01-31T12:00:00Z)"
        );
    }
}
