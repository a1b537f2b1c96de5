//! What AWS does wrong does not hurt: throttling, 5xx and a lost answer from the Catalog and
//! Agreement APIs are retried (the lost StartChangeSet answer with the same
//! ClientRequestToken, so one change set exists), and a process restarted while a change set
//! runs resumes tracking it and starts nothing new.

use serde_json::json;
use souk_proto::offer as pb;

use super::harness::{BUYER, both};
use super::requests::saas_contract;

fn state(offer: &pb::Offer) -> pb::OfferState {
    pb::OfferState::try_from(offer.state).unwrap_or_default()
}

both!(
    throttling_5xx_and_lost_answers_are_retried_without_duplicates,
    |h| {
        for (operation, service, kind, count) in [
            ("StartChangeSet", "catalog", "throttle", 1),
            ("StartChangeSet", "catalog", "server_error", 1),
            ("StartChangeSet", "catalog", "drop", 1),
            ("DescribeChangeSet", "catalog", "throttle", 2),
            ("DescribeChangeSet", "catalog", "server_error", 1),
            ("SearchAgreements", "agreement", "server_error", 1),
        ] {
            h.control(
                "POST",
                "/_souk/faults",
                json!({"operation": operation, "service": service, "kind": kind, "count": count}),
            )
            .await;
        }
        let mut request = saas_contract(h.now(), "USD");
        request.integration_id = h.integration_id.to_string();
        let created = h.create(&h.key, request).await.unwrap();
        let released = h.settle(&created.id).await;
        assert_eq!(state(&released), pb::OfferState::Released, "{released:?}");
        assert_eq!(h.change_sets().await, 1);
        h.control(
            "POST",
            &format!("/_souk/offers/{}/accept", released.aws_offer_id),
            json!({"buyer_account_id": BUYER}),
        )
        .await;
        for _ in 0..5 {
            h.track(120).await;
        }
        assert_eq!(
            state(&h.get(&h.key, &created.id).await.unwrap()),
            pb::OfferState::Accepted
        );
    }
);

both!(a_restart_while_the_change_set_runs_resumes_it, |h| {
    let mut request = saas_contract(h.now(), "USD");
    request.integration_id = h.integration_id.to_string();
    let created = h.create(&h.key, request).await.unwrap();
    h.track(0).await;
    let submitted = h.get(&h.key, &created.id).await.unwrap();
    assert_eq!(state(&submitted), pb::OfferState::Submitted);
    // The first process is gone; a new one over the same store takes over.
    let again = h.restarted().await;
    for _ in 0..10 {
        h.advance(10).await;
        again.track_now().await.unwrap();
    }
    let released = h.get(&h.key, &created.id).await.unwrap();
    assert_eq!(state(&released), pb::OfferState::Released);
    assert_eq!(released.change_set_id, submitted.change_set_id);
    assert_eq!(h.change_sets().await, 1);
});
