//! The use cases of the offer service: create (checked, stored as a draft that the tracker
//! submits), read, list, cancel, extend and clone. Mutations take the request's idempotency
//! and an `encode` of the response to remember: a retry gets [`Outcome::Replayed`] with the
//! first call's response.

use std::collections::HashMap;
use std::sync::Arc;

use souk_core::{Id, Idempotency, Outcome, Page, PageRequest, SharedClock};
use time::{Date, OffsetDateTime};
use tokio::sync::Notify;

use super::change_set::update_availability;
use super::error::Error;
use super::event::OfferEvent;
use super::model::{Eula, Offer, OfferDraft, OfferState};
use super::ports::{
    Acting, Begun, CallError, Catalog, ChangeSetRequest, OfferFilter, Store, Transaction,
};
use super::resale::{
    Authorization, ChannelPartnerOfferDraft, ResaleAuthorization, ResaleAuthorizationDraft,
    ResaleEvent, ResaleFilter, validate_channel_partner_offer,
};
use super::validate;

/// Starts a write; a replay ends the use case at once with the stored response.
macro_rules! begin {
    ($store:expr, $org:expr, $idem:expr) => {
        match $store.begin($org, $idem).await? {
            Begun::Fresh(tx) => tx,
            Begun::Replayed(bytes) => return Ok(Outcome::Replayed(bytes)),
        }
    };
}

/// Commits `tx`, remembering `encode(&value)` for an idempotent request.
async fn commit<T>(
    tx: Box<dyn Transaction>,
    value: T,
    encode: impl FnOnce(&T) -> Vec<u8>,
) -> Result<Outcome<T>, Error> {
    let response = if tx.remembers_response() {
        encode(&value)
    } else {
        Vec::new()
    };
    tx.commit(response).await?;
    Ok(Outcome::Done(value))
}

/// What CloneOffer changes in the copy (`None`: keep the source's).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CloneChanges {
    /// New buyers.
    pub buyer_account_ids: Option<Vec<String>>,
    /// Another licence agreement.
    pub eula: Option<Eula>,
    /// Another expiry date.
    pub expiry_date: Option<Date>,
    /// Another name.
    pub name: Option<String>,
}

/// What ImportOffers did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// The offers Souk did not know, now followed like its own.
    pub imported: Vec<Offer>,
    /// AWS offer ids left out, each with why.
    pub skipped: Vec<(String, String)>,
    /// The resale authorisations Souk did not know, now listed like its own.
    pub resale_authorizations: Vec<ResaleAuthorization>,
}

/// The use cases, over their ports.
#[derive(Clone)]
pub struct Offers {
    store: Arc<dyn Store>,
    catalog: Arc<dyn Catalog>,
    clock: SharedClock,
    /// Wakes the tracker when a draft is stored, so its change set starts at once.
    wake: Arc<Notify>,
}

impl std::fmt::Debug for Offers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Offers").finish_non_exhaustive()
    }
}

impl Offers {
    /// The use cases over `store` and `catalog`; `wake` is notified when an offer is due now.
    pub fn new(
        store: Arc<dyn Store>,
        catalog: Arc<dyn Catalog>,
        clock: SharedClock,
        wake: Arc<Notify>,
    ) -> Self {
        Self {
            store,
            catalog,
            clock,
            wake,
        }
    }

    /// The current instant.
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// A new draft offer of `integration_id`, checked against every rule AWS would apply.
    pub async fn create(
        &self,
        organization_id: &Id,
        integration_id: &Id,
        draft: OfferDraft,
        idempotency: Option<&Idempotency>,
        encode: impl FnOnce(&Offer) -> Vec<u8>,
    ) -> Result<Outcome<Offer>, Error> {
        let now = self.clock.now();
        validate::draft(&draft, now)?;
        let mut tx = begin!(self.store, organization_id, idempotency);
        let offer = new_offer(organization_id, integration_id, draft, None, now);
        tx.insert_offer(&offer).await?;
        tx.emit(OfferEvent::Created(offer.clone()))?;
        let outcome = commit(tx, offer, encode).await?;
        if let Outcome::Done(offer) = &outcome {
            tracing::info!(offer_id = %offer.id, kind = offer.kind().as_str(), "offer created");
            self.wake.notify_one();
        }
        Ok(outcome)
    }

    /// A new resale authorisation of `integration_id` for a channel partner, checked against
    /// every rule AWS would apply; the tracker submits it.
    pub async fn create_resale_authorization(
        &self,
        organization_id: &Id,
        integration_id: &Id,
        draft: ResaleAuthorizationDraft,
        idempotency: Option<&Idempotency>,
        encode: impl FnOnce(&ResaleAuthorization) -> Vec<u8>,
    ) -> Result<Outcome<ResaleAuthorization>, Error> {
        let now = self.clock.now();
        // The seller's own account is known to AWS only: AWS refuses a partner that is the
        // seller (INVALID_RESELLER_ACCOUNT_ID), and the authorisation fails then.
        super::resale::validate_authorization(&draft, None, now)?;
        let mut tx = begin!(self.store, organization_id, idempotency);
        let ra = ResaleAuthorization::new(organization_id, integration_id, draft, now);
        tx.insert_resale_authorization(&ra).await?;
        tx.emit_resale(ResaleEvent::Created(ra.clone()))?;
        let outcome = commit(tx, ra, encode).await?;
        if let Outcome::Done(ra) = &outcome {
            tracing::info!(resale_authorization_id = %ra.id, "resale authorization created");
            self.wake.notify_one();
        }
        Ok(outcome)
    }

    /// A channel partner's new offer made from a resale authorisation the partner's
    /// integration received, checked against the authorisation as AWS shows it now (active,
    /// not used up, buyers and dates within it) and every rule AWS would apply; the tracker
    /// submits it.
    pub async fn create_channel_partner_offer(
        &self,
        organization_id: &Id,
        integration_id: &Id,
        draft: ChannelPartnerOfferDraft,
        idempotency: Option<&Idempotency>,
        encode: impl FnOnce(&Offer) -> Vec<u8>,
    ) -> Result<Outcome<Offer>, Error> {
        if let Some(bytes) = self.replayed(organization_id, idempotency).await? {
            return Ok(Outcome::Replayed(bytes));
        }
        let acting = Acting {
            organization_id: organization_id.clone(),
            integration_id: integration_id.clone(),
        };
        let draft = self.channel_partner_draft(&acting, draft).await?;
        let mut tx = begin!(self.store, organization_id, idempotency);
        let offer = new_offer(organization_id, integration_id, draft, None, self.now());
        tx.insert_offer(&offer).await?;
        tx.emit(OfferEvent::Created(offer.clone()))?;
        let outcome = commit(tx, offer, encode).await?;
        if let Outcome::Done(offer) = &outcome {
            tracing::info!(offer_id = %offer.id, "channel-partner offer created");
            self.wake.notify_one();
        }
        Ok(outcome)
    }

    /// `draft` checked against its resale authorisation, as the partner's integration sees it
    /// in AWS, and made into an offer draft.
    async fn channel_partner_draft(
        &self,
        acting: &Acting,
        draft: ChannelPartnerOfferDraft,
    ) -> Result<OfferDraft, Error> {
        let ra_id = draft.resale_authorization_id.clone();
        let details = match self.catalog.describe_offer(acting, &ra_id).await {
            Ok(details) => details,
            Err(CallError::Refused { code, message }) => {
                return Err(souk_core::Error::invalid_field(
                    "resale_authorization_id",
                    format!(
                        "AWS shows no resale authorisation {ra_id} to this integration's account ({code}: {message}): check the id and that it was granted to this account"
                    ),
                )
                .into());
            }
            Err(error) => return Err(aws_error("describe the resale authorization")(error)),
        };
        let granted =
            super::import::resale_terms_from_details(&ra_id, &details).map_err(|reason| {
                Error::FailedPrecondition(format!(
                    "resale authorization {ra_id} cannot be read: {reason}"
                ))
            })?;
        let offers_made = self
            .catalog
            .count_offers_from(acting, &ra_id)
            .await
            .map_err(aws_error("count the offers of the resale authorization"))?;
        let authorization = Authorization {
            draft: &granted,
            active: super::import::resale_authorization_is_active(&details),
            offers_made,
        };
        validate_channel_partner_offer(&draft, &authorization, self.now())?;
        Ok(draft.into_offer(granted))
    }

    /// Resale authorisation `id` (Souk's `rsa_...` or AWS's `resaleauthz-...`) of
    /// `organization_id`.
    pub async fn get_resale_authorization(
        &self,
        organization_id: &Id,
        id: &str,
    ) -> Result<ResaleAuthorization, Error> {
        let found = if id.starts_with("resaleauthz-") {
            self.store
                .resale_authorization_by_aws_id(organization_id, id)
                .await?
        } else {
            self.store
                .get_resale_authorization(organization_id, &Id::from_trusted(id.to_owned()))
                .await?
        };
        found.ok_or_else(|| Error::NotFound(format!("resale authorization {id}")))
    }

    /// One page of the organisation's resale authorisations.
    pub async fn list_resale_authorizations(
        &self,
        organization_id: &Id,
        filter: &ResaleFilter,
        page: &PageRequest,
    ) -> Result<Page<ResaleAuthorization>, Error> {
        self.store
            .list_resale_authorizations(organization_id, filter, page)
            .await
    }

    /// Offer `id` of `organization_id`.
    pub async fn get(&self, organization_id: &Id, id: &Id) -> Result<Offer, Error> {
        self.store
            .get_offer(organization_id, id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("offer {id}")))
    }

    /// One page of the organisation's offers.
    pub async fn list(
        &self,
        organization_id: &Id,
        filter: &OfferFilter,
        page: &PageRequest,
    ) -> Result<Page<Offer>, Error> {
        self.store.list_offers(organization_id, filter, page).await
    }

    /// A replay of an earlier identical request, if there is one.
    async fn replayed(
        &self,
        organization_id: &Id,
        idempotency: Option<&Idempotency>,
    ) -> Result<Option<Vec<u8>>, Error> {
        match idempotency {
            Some(idem) => self.store.replay(organization_id, idem).await,
            None => Ok(None),
        }
    }

    /// Ends offer `id` now. A draft is never sent; a released offer's availability ends
    /// yesterday in AWS (so nobody can accept it any more).
    pub async fn cancel(
        &self,
        organization_id: &Id,
        id: &Id,
        idempotency: Option<&Idempotency>,
        encode: impl FnOnce(&Offer) -> Vec<u8>,
    ) -> Result<Outcome<Offer>, Error> {
        if let Some(bytes) = self.replayed(organization_id, idempotency).await? {
            return Ok(Outcome::Replayed(bytes));
        }
        let offer = self.get(organization_id, id).await?;
        let now = self.clock.now();
        let change_set = match offer.state {
            OfferState::Draft => None,
            OfferState::Released => {
                let yesterday = now.date().previous_day().unwrap_or(now.date());
                Some(self.availability(&offer, yesterday, "cancel").await?)
            }
            OfferState::Submitted => {
                return Err(Error::FailedPrecondition(format!(
                    "offer {id} is being submitted to AWS: cancel it once it is released"
                )));
            }
            state => {
                return Err(Error::FailedPrecondition(format!(
                    "offer {id} is already {}",
                    state.as_str()
                )));
            }
        };
        let mut tx = begin!(self.store, organization_id, idempotency);
        let mut locked = self.locked(&mut tx, organization_id, id).await?;
        if locked.state != offer.state {
            return Err(Error::Aborted(format!(
                "offer {id} changed meanwhile (now {}); try again",
                locked.state.as_str()
            )));
        }
        // A draft the tracker has claimed may be reaching AWS right now: cancelling it here
        // could leave a live offer in AWS. The claim moved its next check into the future; a
        // claim after this commit fails, since the check is cleared below.
        if locked.state == OfferState::Draft && locked.next_check_at.is_some_and(|at| at > now) {
            return Err(Error::FailedPrecondition(format!(
                "offer {id} is being submitted to AWS: cancel it once it is released"
            )));
        }
        locked.state = OfferState::Cancelled;
        if let Some(change_set) = change_set {
            locked.change_set_id = Some(change_set);
        }
        locked.next_check_at = None;
        locked.updated_at = now;
        tx.update_offer(&locked).await?;
        tx.emit(OfferEvent::Cancelled(locked.clone()))?;
        let outcome = commit(tx, locked, encode).await?;
        if matches!(outcome, Outcome::Done(_)) {
            tracing::info!(offer_id = %id, "offer cancelled");
        }
        Ok(outcome)
    }

    /// Moves a released offer's expiry to `expiry_date`.
    pub async fn extend(
        &self,
        organization_id: &Id,
        id: &Id,
        expiry_date: Date,
        idempotency: Option<&Idempotency>,
        encode: impl FnOnce(&Offer) -> Vec<u8>,
    ) -> Result<Outcome<Offer>, Error> {
        if let Some(bytes) = self.replayed(organization_id, idempotency).await? {
            return Ok(Outcome::Replayed(bytes));
        }
        let offer = self.get(organization_id, id).await?;
        if offer.state != OfferState::Released {
            return Err(Error::FailedPrecondition(format!(
                "offer {id} is {}: only a released offer can be extended",
                offer.state.as_str()
            )));
        }
        let now = self.clock.now();
        validate::extension(&offer.draft, expiry_date, now)?;
        let change_set = self.availability(&offer, expiry_date, "extend").await?;
        let mut tx = begin!(self.store, organization_id, idempotency);
        let mut locked = self.locked(&mut tx, organization_id, id).await?;
        if locked.state != OfferState::Released {
            return Err(Error::Aborted(format!(
                "offer {id} changed meanwhile (now {}); try again",
                locked.state.as_str()
            )));
        }
        locked.draft.expiry_date = Some(expiry_date);
        locked.change_set_id = Some(change_set);
        locked.updated_at = now;
        tx.update_offer(&locked).await?;
        commit(tx, locked, encode).await
    }

    /// A new draft made from offer `id`'s terms with `changes`, checked like a new offer.
    pub async fn clone_offer(
        &self,
        organization_id: &Id,
        id: &Id,
        changes: CloneChanges,
        idempotency: Option<&Idempotency>,
        encode: impl FnOnce(&Offer) -> Vec<u8>,
    ) -> Result<Outcome<Offer>, Error> {
        let source = self.get(organization_id, id).await?;
        let mut draft = source.draft.clone();
        if draft.resale.is_some() && changes.eula.is_some() {
            return Err(souk_core::Error::invalid_field(
                "eula",
                "a channel-partner offer takes the resale authorisation's EULA: ask the seller for an authorisation with the EULA you need",
            )
            .into());
        }
        if let Some(buyers) = changes.buyer_account_ids {
            draft.buyer_account_ids = buyers;
        }
        if let Some(eula) = changes.eula {
            draft.eula = eula;
        }
        if let Some(expiry) = changes.expiry_date {
            draft.expiry_date = Some(expiry);
        }
        if let Some(name) = changes.name {
            draft.name = name;
        }
        let now = self.clock.now();
        let draft = match draft.resale.take() {
            // A partner's offer is checked against its authorisation as AWS shows it now.
            Some(resale) => {
                let acting = Acting::of(&source);
                let again = ChannelPartnerOfferDraft {
                    resale_authorization_id: resale.resale_authorization_id,
                    name: draft.name,
                    description: draft.description,
                    markup_percentage: resale.markup_percentage,
                    buyer_account_ids: draft.buyer_account_ids,
                    expiry_date: draft.expiry_date,
                    validity: draft.validity,
                    replace_agreement_id: resale.replace_agreement_id,
                    notification_emails: draft.notification_emails,
                };
                self.channel_partner_draft(&acting, again).await?
            }
            None => {
                validate::draft(&draft, now)?;
                draft
            }
        };
        let mut tx = begin!(self.store, organization_id, idempotency);
        let offer = new_offer(
            organization_id,
            &source.integration_id,
            draft,
            Some(source.id.clone()),
            now,
        );
        tx.insert_offer(&offer).await?;
        tx.emit(OfferEvent::Created(offer.clone()))?;
        let outcome = commit(tx, offer, encode).await?;
        if let Outcome::Done(offer) = &outcome {
            tracing::info!(offer_id = %offer.id, source = %id, "offer cloned");
            self.wake.notify_one();
        }
        Ok(outcome)
    }

    /// Brings the released offers the integration's seller account made outside Souk into
    /// Souk (ListEntities, then DescribeEntity of each offer Souk does not know): they are
    /// listed and tracked to acceptance or expiry like Souk's own. Offers Souk knows are left
    /// as they are, so importing again imports only what is new.
    pub async fn import(
        &self,
        organization_id: &Id,
        integration_id: &Id,
        idempotency: Option<&Idempotency>,
        encode: impl FnOnce(&ImportReport) -> Vec<u8>,
    ) -> Result<Outcome<ImportReport>, Error> {
        if let Some(bytes) = self.replayed(organization_id, idempotency).await? {
            return Ok(Outcome::Replayed(bytes));
        }
        let acting = Acting {
            organization_id: organization_id.clone(),
            integration_id: integration_id.clone(),
        };
        let aws = aws_error("list the offers");
        let ids = self.catalog.list_offer_ids(&acting).await.map_err(&aws)?;
        let mut found = Vec::new();
        let mut skipped = Vec::new();
        // Each product's type, asked once per import.
        let mut product_types: HashMap<String, String> = HashMap::new();
        for id in ids {
            if self
                .store
                .offer_by_aws_id(organization_id, &id)
                .await?
                .is_some()
            {
                continue;
            }
            let Some(details) = self.describe(&acting, &id, &mut skipped, &aws).await? else {
                continue;
            };
            let product_id = details
                .get("ProductId")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let product_type = match product_types.get(&product_id) {
                Some(known) => known.clone(),
                None => {
                    let asked = match self.catalog.product_type(&acting, &product_id).await {
                        Ok(asked) => asked,
                        // A product AWS does not describe to the seller: its offers read as
                        // SaaS ones.
                        Err(CallError::Refused { .. }) => String::new(),
                        Err(error) => return Err(aws(error)),
                    };
                    product_types.insert(product_id, asked.clone());
                    asked
                }
            };
            match super::import::offer_from_details(&id, &details, &product_type) {
                Ok(offer) => found.push(offer),
                Err(reason) => skipped.push((id, reason)),
            }
        }
        let mut found_resale = Vec::new();
        let resale_ids = self
            .catalog
            .list_resale_authorization_ids(&acting)
            .await
            .map_err(&aws)?;
        for id in resale_ids {
            if self
                .store
                .resale_authorization_by_aws_id(organization_id, &id)
                .await?
                .is_some()
            {
                continue;
            }
            let Some(details) = self.describe(&acting, &id, &mut skipped, &aws).await? else {
                continue;
            };
            match super::import::resale_authorization_from_details(&id, &details) {
                Ok(draft) => found_resale.push((id, draft)),
                Err(reason) => skipped.push((id, reason)),
            }
        }
        let now = self.clock.now();
        let mut tx = begin!(self.store, organization_id, idempotency);
        let mut resale_authorizations = Vec::new();
        for (aws_id, draft) in found_resale {
            let mut ra = ResaleAuthorization::new(organization_id, integration_id, draft, now);
            ra.aws_id = Some(aws_id);
            ra.state = OfferState::Released;
            // Released: nothing left to track.
            ra.next_check_at = None;
            tx.insert_resale_authorization(&ra).await?;
            tx.emit_resale(ResaleEvent::Created(ra.clone()))?;
            resale_authorizations.push(ra);
        }
        let mut imported = Vec::new();
        for f in found {
            let mut offer = new_offer(organization_id, integration_id, f.draft, None, now);
            offer.aws_offer_id = Some(f.aws_offer_id);
            if offer.draft.expiry_time().is_some_and(|expiry| expiry < now) {
                offer.state = OfferState::Expired;
                offer.next_check_at = None;
            } else {
                offer.state = OfferState::Released;
            }
            tx.insert_offer(&offer).await?;
            tx.emit(OfferEvent::Created(offer.clone()))?;
            imported.push(offer);
        }
        let report = ImportReport {
            imported,
            skipped,
            resale_authorizations,
        };
        let outcome = commit(tx, report, encode).await?;
        if let Outcome::Done(report) = &outcome {
            tracing::info!(
                imported = report.imported.len(),
                resale_authorizations = report.resale_authorizations.len(),
                skipped = report.skipped.len(),
                "offers imported"
            );
            self.wake.notify_one();
        }
        Ok(outcome)
    }

    async fn locked(
        &self,
        tx: &mut Box<dyn Transaction>,
        organization_id: &Id,
        id: &Id,
    ) -> Result<Offer, Error> {
        tx.lock_offer(organization_id, id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("offer {id}")))
    }

    /// Starts the change set moving a released offer's AvailabilityEndDate to `day`; the token
    /// makes a retry of the same request start nothing new.
    async fn availability(&self, offer: &Offer, day: Date, purpose: &str) -> Result<String, Error> {
        let Some(aws_offer_id) = offer.aws_offer_id.as_deref() else {
            return Err(Error::FailedPrecondition(format!(
                "offer {} has no AWS offer id",
                offer.id
            )));
        };
        let request = ChangeSetRequest {
            name: format!("souk {purpose} {}", offer.id),
            client_request_token: format!(
                "{}-{purpose}-{}",
                offer.id.as_str(),
                super::dates::iso(day)
            ),
            changes: vec![update_availability(aws_offer_id, day)],
        };
        self.catalog
            .start_change_set(&Acting::of(offer), &request)
            .await
            .map_err(aws_error(format!("change offer {aws_offer_id}")))
    }

    /// The DetailsDocument of AWS entity `id` (an offer or resale authorisation); `None` when
    /// AWS refuses to describe it, with the reason in `skipped`: an import takes what it can.
    async fn describe(
        &self,
        acting: &Acting,
        id: &str,
        skipped: &mut Vec<(String, String)>,
        aws: impl Fn(CallError) -> Error,
    ) -> Result<Option<serde_json::Value>, Error> {
        match self.catalog.describe_offer(acting, id).await {
            Ok(details) => Ok(Some(details)),
            Err(CallError::Refused { code, message }) => {
                skipped.push((id.to_owned(), format!("{code}: {message}")));
                Ok(None)
            }
            Err(error) => Err(aws(error)),
        }
    }
}

/// A failed AWS call as the error of a use case that tried to `what` (e.g. "list the offers").
fn aws_error(what: impl std::fmt::Display) -> impl Fn(CallError) -> Error {
    move |error| match error {
        CallError::Retry(message) => {
            Error::Unavailable(format!("AWS is unavailable, try again: {message}"))
        }
        CallError::Refused { code, message } => {
            Error::FailedPrecondition(format!("AWS refused to {what}: {code}: {message}"))
        }
    }
}

/// A new draft, due for submission now.
fn new_offer(
    organization_id: &Id,
    integration_id: &Id,
    draft: OfferDraft,
    cloned_from: Option<Id>,
    now: OffsetDateTime,
) -> Offer {
    let id = Id::generate("ofr");
    Offer {
        // The token is the offer's own id: a StartChangeSet retried after a crash is the same.
        client_request_token: id.to_string(),
        id,
        organization_id: organization_id.clone(),
        integration_id: integration_id.clone(),
        draft,
        state: OfferState::Draft,
        aws_offer_id: None,
        change_set_id: None,
        failure_code: None,
        failure_message: None,
        agreement_id: None,
        cloned_from,
        created_at: now,
        updated_at: now,
        next_check_at: Some(now),
        check_failures: 0,
        reminders_sent: 0,
    }
}
