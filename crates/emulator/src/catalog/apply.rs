//! Runs a change set's changes against a scratch copy of the catalog when its processing time
//! has elapsed: every change in order, then whole-offer consistency rules. Nothing is committed
//! unless every change passes (and the intent is APPLY).

use std::collections::BTreeMap;

use super::model::{CatalogProduct, Change, ErrorDetail, Offer, ResaleAuthorization};
use super::validate::{OFFER, RESALE, is_create};
use super::{offer, release, resale};
use crate::agreement::AgreementState;
use crate::at::At;

/// What the rules may look at.
#[derive(Debug)]
pub struct Ctx<'a> {
    /// The instant the change set is evaluated at (its finish time).
    pub now: At,
    /// The emulated seller.
    pub seller_account_id: &'a str,
    /// Products by id.
    pub products: &'a BTreeMap<String, CatalogProduct>,
    /// Agreements (for replacement offers).
    pub agreements: &'a AgreementState,
}

/// The entities a change set may modify.
#[derive(Debug, Clone, Default)]
pub struct Workspace {
    /// Offers by id.
    pub offers: BTreeMap<String, Offer>,
    /// Resale authorizations by id.
    pub resale: BTreeMap<String, ResaleAuthorization>,
}

/// Applies `changes` to `ws`. Returns `true` when every change passed; error details are
/// recorded on the changes themselves and new ids in `resolved_identifier`.
pub fn run(changes: &mut [Change], ws: &mut Workspace, ctx: &Ctx<'_>) -> bool {
    let mut created: BTreeMap<String, String> = BTreeMap::new();
    let mut touched_offers: Vec<(String, usize)> = Vec::new();
    for (index, change) in changes.iter_mut().enumerate() {
        let id = if is_create(&change.entity_type, &change.change_type) {
            let id = if change.entity_type == RESALE {
                crate::support::format::new_id("resaleauthz-", 13)
            } else {
                crate::support::format::new_id("offer-", 13)
            };
            if let Some(name) = &change.change_name {
                created.insert(name.clone(), id.clone());
            }
            id
        } else {
            let raw = change.identifier.clone().unwrap_or_default();
            let reference = raw
                .strip_prefix('$')
                .and_then(|r| r.strip_suffix(".Entity.Identifier"));
            match reference {
                Some(name) => created.get(name).cloned().unwrap_or(raw),
                None => raw.split('@').next().unwrap_or_default().to_owned(),
            }
        };
        let errors = if change.entity_type == OFFER {
            let errors = offer::apply(change, &id, ws, ctx);
            match touched_offers.iter_mut().find(|(o, _)| *o == id) {
                Some(entry) => entry.1 = index,
                None => touched_offers.push((id.clone(), index)),
            }
            errors
        } else {
            resale::apply(change, &id, ws, ctx)
        };
        change.resolved_identifier = Some(id);
        change.errors.extend(errors);
    }
    for (id, last) in touched_offers {
        let Some(o) = ws.offers.get(&id) else {
            continue;
        };
        let releasing = changes.iter().any(|c| {
            c.change_type == "ReleaseOffer" && c.resolved_identifier.as_deref() == Some(&id)
        });
        let errors: Vec<ErrorDetail> = release::consistency(o, ws, ctx, releasing);
        let target = changes
            .iter()
            .position(|c| {
                c.change_type == "ReleaseOffer" && c.resolved_identifier.as_deref() == Some(&id)
            })
            .unwrap_or(last);
        for e in errors {
            if !changes.iter().any(|c| c.errors.contains(&e)) {
                changes[target].errors.push(e);
            }
        }
    }
    changes.iter().all(|c| c.errors.is_empty())
}
