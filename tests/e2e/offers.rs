//! A private offer from request to accepted agreement, as processes: a SaaS contract offer is
//! created over gRPC, released by the emulator, accepted by a buyer through the emulator's
//! control API, and seen accepted in Souk; in standalone mode (`souk dev --emulate-aws`, SQLite)
//! and in distributed mode (`souk serve integration` and `souk serve offer` on PostgreSQL and
//! NATS beside a separate `souk emulator`).

use std::time::Duration;

use serde_json::{Value, json};
use souk_e2e::{Auth, SoukProcess, auth, http_request, souk, start_dev};
use souk_proto::common::{Date, Money};
use souk_proto::integration as ipb;
use souk_proto::integration::integration_service_client::IntegrationServiceClient;
use souk_proto::offer as pb;
use souk_proto::offer::offer_service_client::OfferServiceClient;
use souk_testkit::db::TestDb;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

const SELLER: &str = "111122223333";
const BUYER: &str = "444455556666";
const PRODUCT_ID: &str = "prod-soukoffere2e01";

/// Tracker pacing for a test: look often.
const FAST: [(&str, &str); 3] = [
    ("SOUK_OFFER__FIRST_POLL", "500ms"),
    ("SOUK_OFFER__MAX_POLL", "1s"),
    ("SOUK_OFFER__ACCEPTANCE_POLL", "1s"),
];

async fn channel(grpc: &str) -> Channel {
    Channel::from_shared(grpc.to_owned())
        .unwrap()
        .connect()
        .await
        .unwrap()
}

async fn control(emulator: &str, path: &str, body: Value) -> Value {
    let (status, text) = http_request("POST", emulator, path, &body.to_string())
        .await
        .unwrap();
    assert!((200..300).contains(&status), "{path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// The emulator's day `days` from now (its clock is the services' clock).
async fn day(emulator: &str, days: i64) -> Date {
    let (_, text) = souk_e2e::http_get(emulator, "/_souk/clock").await.unwrap();
    let clock: Value = serde_json::from_str(&text).unwrap();
    let seconds = clock["epoch_seconds"].as_i64().unwrap();
    let at = time::OffsetDateTime::from_unix_timestamp(seconds + days * 86_400).unwrap();
    Date {
        year: at.year(),
        month: i32::from(u8::from(at.month())),
        day: i32::from(at.day()),
    }
}

fn usd(micros: i64) -> Option<Money> {
    Some(Money {
        amount_micros: micros,
        currency_code: "USD".into(),
    })
}

async fn wait_for(
    offers: &mut OfferServiceClient<InterceptedService<Channel, Auth>>,
    id: &str,
    wanted: pb::OfferState,
) -> pb::Offer {
    let mut last = None;
    for _ in 0..120 {
        let offer = offers
            .get_offer(pb::GetOfferRequest {
                offer_id: id.to_owned(),
            })
            .await
            .unwrap()
            .into_inner()
            .offer
            .unwrap();
        if offer.state == wanted as i32 {
            return offer;
        }
        last = Some(offer);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("offer {id} never reached {wanted:?}: {last:?}");
}

/// `YYYY-MM-DD` of a contract date.
fn iso(d: &Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
}

/// `souk offer create -f <example> --wait --output json` for each example whose ids and dates
/// are moved onto this integration, product and clock: each ends released.
async fn cli_creates_the_examples(grpc: &str, emulator: &str, key: &str, integration_id: &str) {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples/offers");
    let dir = tempfile::tempdir().unwrap();
    let (first, expiry, second) = (
        iso(&day(emulator, 1).await),
        iso(&day(emulator, 30).await),
        iso(&day(emulator, 60).await),
    );
    for name in ["contract.yaml", "subscription.yaml", "free-trial.yaml"] {
        let text = std::fs::read_to_string(examples.join(name))
            .unwrap()
            .replace("int_0193a1b2c3d4e5f60718293a4b5c6d7e", integration_id)
            .replace("prod-abcdefghijklm", PRODUCT_ID)
            .replace("2027-01-15", &first)
            .replace("2027-01-31", &expiry)
            .replace("2027-07-15", &second);
        let file = dir.path().join(name);
        std::fs::write(&file, text).unwrap();
        let out = souk(
            &[
                "offer",
                "create",
                "-f",
                file.to_str().unwrap(),
                "--wait",
                "--output",
                "json",
                "--server",
                grpc,
                "--api-key",
                key,
            ],
            &[],
        )
        .await
        .unwrap();
        assert!(out.success, "{name}: {out:?}");
        let offer = out.json().unwrap();
        assert_eq!(offer["state"], "released", "{name}: {offer}");
        assert!(
            offer["aws_offer_id"]
                .as_str()
                .unwrap()
                .starts_with("offer-")
        );
    }
    let listed = souk(
        &[
            "offer",
            "list",
            "--state",
            "released",
            "--server",
            grpc,
            "--api-key",
            key,
        ],
        &[],
    )
    .await
    .unwrap();
    assert!(listed.success, "{listed:?}");
    assert!(listed.stdout.starts_with("ID"), "{}", listed.stdout);
    assert_eq!(listed.stdout.lines().count(), 4, "{}", listed.stdout);
}

/// Creates the integration, trusts its role in the emulator, lists the product, then makes a
/// SaaS contract offer, sees it released, has the buyer accept it and sees it accepted; with
/// `cli`, also creates offers from the YAML examples with `souk offer create`.
async fn offer_journey(
    integration_grpc: &str,
    offer_grpc: &str,
    emulator: &str,
    key: &str,
    cli: bool,
) {
    let mut integrations =
        IntegrationServiceClient::with_interceptor(channel(integration_grpc).await, auth(key));
    let integration = integrations
        .create_integration(ipb::CreateIntegrationRequest {
            name: format!("offers-{}", rand::random::<u32>()),
            role_arn: format!("arn:aws:iam::{SELLER}:role/SoukOffers"),
            region: "us-east-1".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .integration
        .unwrap();
    control(
        emulator,
        "/_souk/sts/roles",
        json!({"role_arn": integration.role_arn, "trusted_account": "*", "external_id": integration.external_id}),
    )
    .await;
    control(
        emulator,
        "/_souk/products",
        json!({"product_id": PRODUCT_ID, "product_code": "soukoffere2e", "kind": "saas",
               "dimensions": [{"name": "seats", "type": "entitled"}, {"name": "api_calls", "type": "metered"}]}),
    )
    .await;

    let mut offers = OfferServiceClient::with_interceptor(channel(offer_grpc).await, auth(key));
    let request = pb::CreatePrivateOfferRequest {
        integration_id: integration.id.clone(),
        product_id: PRODUCT_ID.into(),
        name: "Acme annual".into(),
        description: "e2e contract".into(),
        kind: pb::OfferKind::Contract as i32,
        terms: Some(pb::OfferTerms {
            kind: Some(pb::offer_terms::Kind::Contract(pb::ContractTerms {
                duration_months: 12,
                dimensions: vec![pb::ContractDimension {
                    dimension_key: "seats".into(),
                    unit_price: usd(100_000_000),
                    quantity: 20,
                }],
                ..pb::ContractTerms::default()
            })),
        }),
        currency_code: "USD".into(),
        payment_schedule: vec![
            pb::PaymentInstallment {
                charge_date: Some(day(emulator, 1).await),
                amount: usd(1_200_000_000),
            },
            pb::PaymentInstallment {
                charge_date: Some(day(emulator, 60).await),
                amount: usd(800_000_000),
            },
        ],
        buyer_account_ids: vec![BUYER.into()],
        expiry_date: Some(day(emulator, 30).await),
        idempotency_key: "e2e-offer-1".into(),
        ..Default::default()
    };
    let created = offers
        .create_private_offer(request)
        .await
        .unwrap()
        .into_inner()
        .offer
        .unwrap();
    let released = wait_for(&mut offers, &created.id, pb::OfferState::Released).await;
    assert!(released.aws_offer_id.starts_with("offer-"), "{released:?}");

    let agreement = control(
        emulator,
        &format!("/_souk/offers/{}/accept", released.aws_offer_id),
        json!({"buyer_account_id": BUYER}),
    )
    .await;
    let accepted = wait_for(&mut offers, &created.id, pb::OfferState::Accepted).await;
    assert_eq!(accepted.agreement_id, agreement["id"].as_str().unwrap());
    assert_eq!(agreement["currency_code"], "USD");
    if cli {
        cli_creates_the_examples(offer_grpc, emulator, key, &integration.id).await;
    }
}

#[tokio::test]
async fn a_contract_offer_is_accepted_in_standalone_mode() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("souk");
    let data_dir = data_dir.to_str().unwrap();
    let dev = start_dev(data_dir, true, &FAST).await;
    let grpc = dev.endpoint("grpc").to_owned();
    let emulator = dev.endpoint("emulator").to_owned();
    let key = std::fs::read_to_string(dir.path().join("souk/api-key"))
        .unwrap()
        .trim()
        .to_owned();
    offer_journey(&grpc, &grpc, &emulator, &key, true).await;
}

#[tokio::test]
async fn a_contract_offer_is_accepted_in_distributed_mode() {
    let db = TestDb::postgres().await.unwrap();
    let url = db.url().to_owned();
    let nats = souk_testkit::nats::url();
    let emulator = SoukProcess::start(&["emulator", "--listen", "127.0.0.1:0"], &[])
        .await
        .unwrap();
    let emulator_url = emulator.endpoint("emulator").to_owned();
    let mut env = vec![
        ("SOUK_DATABASE_URL", url.as_str()),
        ("SOUK_NATS_URL", nats.as_str()),
        ("SOUK_AWS_ENDPOINT_URL", emulator_url.as_str()),
        ("SOUK_CLOCK_SOURCE", "emulator"),
        ("AWS_ACCESS_KEY_ID", "AKIDSOUKOFFERS"),
        ("AWS_SECRET_ACCESS_KEY", "offers-secret"),
    ];
    env.extend(FAST);
    let boot = souk(&["bootstrap", "--org-name", "offers"], &env)
        .await
        .unwrap();
    assert!(boot.success, "{boot:?}");
    let key = boot
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("admin API key (shown once): "))
        .unwrap()
        .to_owned();
    let serve = |service: &'static str| {
        let env = env.clone();
        async move {
            SoukProcess::start(
                &[
                    "serve",
                    service,
                    "--grpc-addr",
                    "127.0.0.1:0",
                    "--http-addr",
                    "127.0.0.1:0",
                ],
                &env,
            )
            .await
            .unwrap()
        }
    };
    let integration = serve("integration").await;
    let offer = serve("offer").await;
    offer_journey(
        integration.endpoint("grpc"),
        offer.endpoint("grpc"),
        &emulator_url,
        &key,
        false,
    )
    .await;
}
