//! Members and errors the newer AWS models declare, as the official SDK clients see them.

use crate::common::*;

#[tokio::test]
async fn resolve_customer_returns_the_agreement_id_in_metadata() {
    let env = env().await;
    seed(&env.emu.url).await;
    let sub = subscribe(&env.emu.url, PRODUCT, BUYER).await;
    let token = sub["registration_token"].as_str().unwrap_or_default();
    let out = env
        .metering
        .resolve_customer()
        .registration_token(token)
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    let agreement = sub["subscription"]["agreement_id"]
        .as_str()
        .unwrap_or_default();
    assert!(!agreement.is_empty(), "{sub}");
    assert_eq!(
        out.metadata().and_then(|m| m.agreement_id()),
        Some(agreement)
    );
}
