//! The tonic `OfferService`: authorise, convert, call one use case, convert back. Every call
//! acts for the organisation of the caller's API key; another organisation's offer is not
//! found.

use prost::Message;
use souk_core::access::Permission;
use souk_core::error::Violations;
use souk_proto::offer as pb;
use souk_proto::offer::offer_service_server::OfferService;
use souk_service::convert::{finish, page};
use souk_service::{authorize, idempotency, reply};
use tonic::{Request, Response, Status};

use super::convert;
use crate::domain::{CloneChanges, Error, ImportReport, Offers};
use crate::proto;

/// The gRPC adapter of the offer service.
#[derive(Debug, Clone)]
pub struct OfferApi {
    offers: Offers,
}

impl OfferApi {
    /// The adapter over the use cases.
    pub fn new(offers: Offers) -> Self {
        Self { offers }
    }
}

/// The RPC's name for idempotency records and page tokens.
macro_rules! rpc {
    ($method:literal) => {
        concat!("souk.offer.v1.OfferService/", $method)
    };
}

#[tonic::async_trait]
impl OfferService for OfferApi {
    async fn create_private_offer(
        &self,
        request: Request<pb::CreatePrivateOfferRequest>,
    ) -> Result<Response<pb::CreatePrivateOfferResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Write)?;
        let (integration_id, draft) = convert::create(&req).map_err(Error::from)?;
        let idem = idempotency(rpc!("CreatePrivateOffer"), &req, |r| &mut r.idempotency_key);
        let outcome = self
            .offers
            .create(
                &caller.organization_id,
                &integration_id,
                draft,
                idem.as_ref(),
                |offer| {
                    pb::CreatePrivateOfferResponse {
                        offer: Some(proto::offer(offer)),
                    }
                    .encode_to_vec()
                },
            )
            .await?;
        reply(outcome, |offer| pb::CreatePrivateOfferResponse {
            offer: Some(proto::offer(&offer)),
        })
    }

    async fn get_offer(
        &self,
        request: Request<pb::GetOfferRequest>,
    ) -> Result<Response<pb::GetOfferResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Read)?;
        let mut v = Violations::new();
        let id = convert::offer_id(&mut v, &req.offer_id);
        finish(v, ()).map_err(Error::from)?;
        let offer = self.offers.get(&caller.organization_id, &id).await?;
        Ok(Response::new(pb::GetOfferResponse {
            offer: Some(proto::offer(&offer)),
        }))
    }

    async fn list_offers(
        &self,
        request: Request<pb::ListOffersRequest>,
    ) -> Result<Response<pb::ListOffersResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Read)?;
        let filter = convert::filter(&req).map_err(Error::from)?;
        let states: String = req.states.iter().map(|s| format!("{s},")).collect();
        let kinds: String = req.kinds.iter().map(|k| format!("{k},")).collect();
        let before = req
            .expiring_before
            .as_ref()
            .map(|t| format!("{}.{}", t.seconds, t.nanos))
            .unwrap_or_default();
        let page = page(
            rpc!("ListOffers"),
            &caller,
            &[
                &req.integration_id,
                &req.product_id,
                &req.buyer_account_id,
                &states,
                &kinds,
                &before,
            ],
            req.page_size,
            &req.page_token,
        )
        .map_err(Error::from)?;
        let found = self
            .offers
            .list(&caller.organization_id, &filter, &page)
            .await?;
        Ok(Response::new(pb::ListOffersResponse {
            offers: found.items.iter().map(proto::offer).collect(),
            next_page_token: found.next_page_token,
        }))
    }

    async fn cancel_offer(
        &self,
        request: Request<pb::CancelOfferRequest>,
    ) -> Result<Response<pb::CancelOfferResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Write)?;
        let mut v = Violations::new();
        let id = convert::offer_id(&mut v, &req.offer_id);
        convert::idempotency_key(&mut v, &req.idempotency_key);
        finish(v, ()).map_err(Error::from)?;
        let idem = idempotency(rpc!("CancelOffer"), &req, |r| &mut r.idempotency_key);
        let outcome = self
            .offers
            .cancel(&caller.organization_id, &id, idem.as_ref(), |offer| {
                pb::CancelOfferResponse {
                    offer: Some(proto::offer(offer)),
                }
                .encode_to_vec()
            })
            .await?;
        reply(outcome, |offer| pb::CancelOfferResponse {
            offer: Some(proto::offer(&offer)),
        })
    }

    async fn extend_offer(
        &self,
        request: Request<pb::ExtendOfferRequest>,
    ) -> Result<Response<pb::ExtendOfferResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Write)?;
        let mut v = Violations::new();
        let id = convert::offer_id(&mut v, &req.offer_id);
        convert::idempotency_key(&mut v, &req.idempotency_key);
        let expiry = match req.expiry_date.as_ref() {
            Some(d) => convert::date(&mut v, "expiry_date", d),
            None => {
                v.add("expiry_date", "is required: the new last day to accept");
                None
            }
        };
        let expiry = finish(v, expiry).map_err(Error::from)?;
        let Some(expiry) = expiry else {
            return Err(Error::invalid("expiry_date", "is required").into());
        };
        let idem = idempotency(rpc!("ExtendOffer"), &req, |r| &mut r.idempotency_key);
        let outcome = self
            .offers
            .extend(
                &caller.organization_id,
                &id,
                expiry,
                idem.as_ref(),
                |offer| {
                    pb::ExtendOfferResponse {
                        offer: Some(proto::offer(offer)),
                    }
                    .encode_to_vec()
                },
            )
            .await?;
        reply(outcome, |offer| pb::ExtendOfferResponse {
            offer: Some(proto::offer(&offer)),
        })
    }

    async fn clone_offer(
        &self,
        request: Request<pb::CloneOfferRequest>,
    ) -> Result<Response<pb::CloneOfferResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Write)?;
        let mut v = Violations::new();
        let id = convert::offer_id(&mut v, &req.offer_id);
        convert::idempotency_key(&mut v, &req.idempotency_key);
        let changes = CloneChanges {
            buyer_account_ids: (!req.buyer_account_ids.is_empty())
                .then(|| req.buyer_account_ids.clone()),
            eula: req
                .eula
                .as_ref()
                .map(|e| convert::eula(&mut v, "eula", Some(e))),
            expiry_date: req
                .expiry_date
                .as_ref()
                .and_then(|d| convert::date(&mut v, "expiry_date", d)),
            name: (!req.name.is_empty()).then(|| req.name.clone()),
        };
        finish(v, ()).map_err(Error::from)?;
        let idem = idempotency(rpc!("CloneOffer"), &req, |r| &mut r.idempotency_key);
        let outcome = self
            .offers
            .clone_offer(
                &caller.organization_id,
                &id,
                changes,
                idem.as_ref(),
                |offer| {
                    pb::CloneOfferResponse {
                        offer: Some(proto::offer(offer)),
                    }
                    .encode_to_vec()
                },
            )
            .await?;
        reply(outcome, |offer| pb::CloneOfferResponse {
            offer: Some(proto::offer(&offer)),
        })
    }

    async fn import_offers(
        &self,
        request: Request<pb::ImportOffersRequest>,
    ) -> Result<Response<pb::ImportOffersResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Write)?;
        let mut v = Violations::new();
        let integration_id =
            souk_service::convert::id(&mut v, "integration_id", "int", &req.integration_id);
        convert::idempotency_key(&mut v, &req.idempotency_key);
        finish(v, ()).map_err(Error::from)?;
        let idem = idempotency(rpc!("ImportOffers"), &req, |r| &mut r.idempotency_key);
        let response = |report: &ImportReport| pb::ImportOffersResponse {
            offers: report.imported.iter().map(proto::offer).collect(),
            skipped: report
                .skipped
                .iter()
                .map(|(aws_offer_id, reason)| pb::SkippedOffer {
                    aws_offer_id: aws_offer_id.clone(),
                    reason: reason.clone(),
                })
                .collect(),
            resale_authorizations: report
                .resale_authorizations
                .iter()
                .map(proto::resale_authorization)
                .collect(),
        };
        let outcome = self
            .offers
            .import(
                &caller.organization_id,
                &integration_id,
                idem.as_ref(),
                |r| response(r).encode_to_vec(),
            )
            .await?;
        reply(outcome, |report| response(&report))
    }

    async fn create_resale_authorization(
        &self,
        request: Request<pb::CreateResaleAuthorizationRequest>,
    ) -> Result<Response<pb::CreateResaleAuthorizationResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Write)?;
        let (integration_id, draft) =
            convert::create_resale_authorization(&req).map_err(Error::from)?;
        let idem = idempotency(rpc!("CreateResaleAuthorization"), &req, |r| {
            &mut r.idempotency_key
        });
        let outcome = self
            .offers
            .create_resale_authorization(
                &caller.organization_id,
                &integration_id,
                draft,
                idem.as_ref(),
                |ra| {
                    pb::CreateResaleAuthorizationResponse {
                        resale_authorization: Some(proto::resale_authorization(ra)),
                    }
                    .encode_to_vec()
                },
            )
            .await?;
        reply(outcome, |ra| pb::CreateResaleAuthorizationResponse {
            resale_authorization: Some(proto::resale_authorization(&ra)),
        })
    }

    async fn get_resale_authorization(
        &self,
        request: Request<pb::GetResaleAuthorizationRequest>,
    ) -> Result<Response<pb::GetResaleAuthorizationResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Read)?;
        let mut v = Violations::new();
        convert::resale_authorization_id(&mut v, &req.resale_authorization_id);
        finish(v, ()).map_err(Error::from)?;
        let ra = self
            .offers
            .get_resale_authorization(&caller.organization_id, &req.resale_authorization_id)
            .await?;
        Ok(Response::new(pb::GetResaleAuthorizationResponse {
            resale_authorization: Some(proto::resale_authorization(&ra)),
        }))
    }

    async fn list_resale_authorizations(
        &self,
        request: Request<pb::ListResaleAuthorizationsRequest>,
    ) -> Result<Response<pb::ListResaleAuthorizationsResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Read)?;
        let filter = convert::resale_filter(&req).map_err(Error::from)?;
        let page = page(
            rpc!("ListResaleAuthorizations"),
            &caller,
            &[
                &req.integration_id,
                &req.product_id,
                &req.reseller_account_id,
            ],
            req.page_size,
            &req.page_token,
        )
        .map_err(Error::from)?;
        let found = self
            .offers
            .list_resale_authorizations(&caller.organization_id, &filter, &page)
            .await?;
        Ok(Response::new(pb::ListResaleAuthorizationsResponse {
            resale_authorizations: found
                .items
                .iter()
                .map(proto::resale_authorization)
                .collect(),
            next_page_token: found.next_page_token,
        }))
    }

    async fn create_channel_partner_offer(
        &self,
        request: Request<pb::CreateChannelPartnerOfferRequest>,
    ) -> Result<Response<pb::CreateChannelPartnerOfferResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Write)?;
        let (integration_id, draft) =
            convert::create_channel_partner_offer(&req).map_err(Error::from)?;
        let idem = idempotency(rpc!("CreateChannelPartnerOffer"), &req, |r| {
            &mut r.idempotency_key
        });
        let outcome = self
            .offers
            .create_channel_partner_offer(
                &caller.organization_id,
                &integration_id,
                draft,
                idem.as_ref(),
                |offer| {
                    pb::CreateChannelPartnerOfferResponse {
                        offer: Some(proto::offer(offer)),
                    }
                    .encode_to_vec()
                },
            )
            .await?;
        reply(outcome, |offer| pb::CreateChannelPartnerOfferResponse {
            offer: Some(proto::offer(&offer)),
        })
    }
}
