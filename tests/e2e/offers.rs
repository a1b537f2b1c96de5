//! Private offers from request to accepted agreement, as processes: an offer of every kind
//! (subscription, contract, contract with consumption, professional services, AMI, container,
//! free trial, and a replacement of the contract's agreement) is created over gRPC, released by
//! the emulator, accepted by a buyer through the emulator's control API with the agreement the
//! offer asked for (product, currency, value, quantities), and seen accepted in Souk; in
//! standalone mode (`souk dev --emulate-aws`, SQLite, where `souk offer create -f` also makes one
//! offer from every YAML example, `souk offer resale create -f` a resale authorisation from its
//! example and `souk offer list --kind` filters them) and in distributed mode (`souk serve
//! integration` and `souk serve offer` on PostgreSQL and NATS beside a separate `souk emulator`).
//! In standalone mode a channel partner's integration making a channel-partner offer from that
//! authorisation with `souk offer create -f`, accepted by a buyer, is a test of its own; in
//! distributed mode the journey makes one over gRPC.

use std::time::Duration;

use serde_json::{Value, json};
use souk_e2e::{Auth, auth, souk, start_dev};
use souk_proto::common::{Date, Money};
use souk_proto::integration as ipb;
use souk_proto::integration::integration_service_client::IntegrationServiceClient;
use souk_proto::offer as pb;
use souk_proto::offer::offer_service_client::OfferServiceClient;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::common::{Distributed, channel, day, souk_ok, wait_for};

const SELLER: &str = "111122223333";
const BUYER: &str = "444455556666";
/// The channel partner of docs/examples/offers/resale-authorization.yaml.
const PARTNER: &str = "777788889999";
const PRODUCT_ID: &str = "prod-soukoffere2e01";

/// Tracker pacing for a test: look often.
const FAST: [(&str, &str); 3] = [
    ("SOUK_OFFER__FIRST_POLL", "500ms"),
    ("SOUK_OFFER__MAX_POLL", "1s"),
    ("SOUK_OFFER__ACCEPTANCE_POLL", "1s"),
];

/// A POST to the emulator's control API that must succeed.
async fn control(emulator: &str, path: &str, body: Value) -> Value {
    crate::common::control(emulator, "POST", path, body).await
}

fn usd(micros: i64) -> Option<Money> {
    Some(Money {
        amount_micros: micros,
        currency_code: "USD".into(),
    })
}

/// `YYYY-MM-DD` of a contract date.
fn iso(d: &Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
}

/// The offer kinds `souk offer create -f` takes (crates/cli/src/client/offer_file.rs).
const FILE_KINDS: [&str; 8] = [
    "subscription",
    "contract",
    "contract_with_consumption",
    "replacement",
    "professional_services",
    "ami",
    "container",
    "free_trial",
];

/// The text of example `name` under docs/examples/offers/.
fn example(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs/examples/offers")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `text` with `from` replaced by `to`, which must occur in it.
fn moved(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from:?} is not in {text}");
    text.replace(from, to)
}

/// An example's `kind:`.
fn file_kind(text: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix("kind:"))
        .map(|k| k.trim().trim_matches('"').to_owned())
        .unwrap_or_default()
}

/// `souk <command> -f <dir>/<name> --wait --output json` with `text` as the file, which must
/// succeed.
async fn create_from_file(
    command: &[&str],
    dir: &std::path::Path,
    name: &str,
    text: String,
    grpc: &str,
    key: &str,
) -> souk_e2e::CliOutput {
    let file = dir.join(name);
    std::fs::write(&file, text).unwrap();
    let mut args = command.to_vec();
    args.extend(["-f", file.to_str().unwrap(), "--wait", "--output", "json"]);
    souk_ok(&args, grpc, key).await
}

/// `souk offer create -f` of example `name` (its text moved): the offer, released.
async fn create_example(
    dir: &std::path::Path,
    name: &str,
    text: String,
    grpc: &str,
    key: &str,
) -> Value {
    let offer = create_from_file(&["offer", "create"], dir, name, text, grpc, key)
        .await
        .json()
        .unwrap();
    assert_eq!(offer["state"], "released", "{name}: {offer}");
    assert!(
        offer["aws_offer_id"]
            .as_str()
            .unwrap()
            .starts_with("offer-"),
        "{name}: {offer}"
    );
    offer
}

/// The buyer accepts the released `offer` of example `name`, and `souk offer get` shows it
/// accepted with that agreement; the agreement's id.
async fn accept_example(
    name: &str,
    kind: &str,
    offer: &Value,
    grpc: &str,
    emulator: &str,
    key: &str,
) -> String {
    let quantities = match kind {
        "contract_with_consumption" | "replacement" | "channel_partner" => {
            json!([{"dimension_key": "seats", "quantity": 5}])
        }
        "professional_services" => json!([{"dimension_key": "audit", "quantity": 1}]),
        "container" => json!([{"dimension_key": "pods", "quantity": 3}]),
        _ => json!([]),
    };
    let agreement = control(
        emulator,
        &format!(
            "/_souk/offers/{}/accept",
            offer["aws_offer_id"].as_str().unwrap()
        ),
        json!({"buyer_account_id": BUYER, "quantities": quantities}),
    )
    .await;
    let agreement_id = agreement["id"].as_str().unwrap().to_owned();
    let offer_id = offer["id"].as_str().unwrap();
    let mut last = Value::Null;
    for _ in 0..60 {
        last = souk_ok(&["offer", "get", offer_id, "--output", "json"], grpc, key)
            .await
            .json()
            .unwrap();
        if last["state"] == "accepted" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(last["state"], "accepted", "{name}: {last}");
    assert_eq!(
        last["agreement_id"],
        agreement_id.as_str(),
        "{name}: {last}"
    );
    agreement_id
}

/// `souk offer create -f <example> --wait --output json` for every example in
/// docs/examples/offers/ (its ids and dates moved onto this integration, these products and
/// this clock; the replacement replacing the agreement of the contract example): each is
/// released, accepted by the buyer through the emulator's control API and seen accepted with
/// `souk offer get`. Resale authorisations and channel-partner offers are not offers that
/// `souk offer create -f` makes: their examples are skipped.
async fn cli_creates_the_examples(grpc: &str, emulator: &str, key: &str, integration_id: &str) {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples/offers");
    let dir = tempfile::tempdir().unwrap();
    let (first, expiry, second, end) = (
        iso(&day(emulator, 1).await),
        iso(&day(emulator, 30).await),
        iso(&day(emulator, 60).await),
        iso(&day(emulator, 400).await),
    );
    let mut files: Vec<(String, String)> = std::fs::read_dir(&examples)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p.file_name().unwrap().to_str().unwrap().to_owned(), text)
        })
        .collect();
    files.retain(|(name, text)| {
        let kind = file_kind(text);
        let partner = ["resale", "cppo", "channel", "partner"]
            .iter()
            .any(|w| kind.contains(w) || name.contains(w));
        if partner {
            eprintln!("skipping {name}: kind {kind:?} is made in the channel-partner steps");
        }
        !partner
    });
    // The replacement needs the contract example's agreement: it goes last.
    files.sort_by_key(|(name, text)| (file_kind(text) == "replacement", name.clone()));
    let mut kinds_seen = std::collections::BTreeSet::new();
    for (name, text) in &files {
        let kind = file_kind(text);
        assert!(
            FILE_KINDS.contains(&kind.as_str()),
            "{name}: kind {kind:?} is not one `souk offer create -f` takes"
        );
        kinds_seen.insert(kind);
    }
    let moved = |text: &str| {
        text.replace("int_0193a1b2c3d4e5f60718293a4b5c6d7e", integration_id)
            .replace("prod-abcdefghijklm", EXAMPLES_SAAS_ID)
            .replace("2027-01-15", &first)
            .replace("2027-01-31", &expiry)
            .replace("2027-07-15", &second)
            .replace("2028-01-31", &end)
    };
    let (replacements, others): (Vec<_>, Vec<_>) = files
        .iter()
        .partition(|(_, text)| file_kind(text) == "replacement");
    // Every example but the replacements created at once (each `--wait`s on its change set).
    let created = futures::future::join_all(
        others
            .iter()
            .map(|(name, text)| create_example(dir.path(), name, moved(text), grpc, key)),
    )
    .await;
    let mut contract_agreement: Option<String> = None;
    for ((name, text), offer) in others.iter().zip(created) {
        let agreement = accept_example(name, &file_kind(text), &offer, grpc, emulator, key).await;
        if file_kind(text) == "contract" {
            contract_agreement = Some(agreement);
        }
    }
    // The replacements replace the contract example's agreement.
    for (name, text) in &replacements {
        let agreement = contract_agreement
            .as_deref()
            .expect("a contract example to replace");
        let text = moved(text).replace("agmt-1234567890abcdef", agreement);
        let offer = create_example(dir.path(), name, text, grpc, key).await;
        accept_example(name, "replacement", &offer, grpc, emulator, key).await;
    }
    assert_eq!(
        kinds_seen,
        FILE_KINDS.iter().map(|k| (*k).to_owned()).collect(),
        "an example of every kind"
    );
    let listed = souk_ok(&["offer", "list", "--state", "accepted"], grpc, key).await;
    assert!(listed.stdout.starts_with("ID"), "{}", listed.stdout);
    // The header, the 8 offers made over gRPC and one per example.
    assert_eq!(
        listed.stdout.lines().count(),
        1 + 8 + files.len(),
        "{}",
        listed.stdout
    );
    // The contract made over gRPC and the contract example, nothing else.
    let contracts = souk_ok(
        &["offer", "list", "--kind", "contract", "--output", "json"],
        grpc,
        key,
    )
    .await
    .json()
    .unwrap();
    let contracts = contracts["offers"].as_array().unwrap();
    assert_eq!(contracts.len(), 2, "{contracts:?}");
    assert!(
        contracts.iter().all(|o| o["kind"] == "contract"),
        "{contracts:?}"
    );
    // The offers expire on day 30 (the free trials never): all but the free trials before day
    // 31, none before day 1 (a day is its start; an instant as RFC 3339).
    let expiring = |before: String| async move {
        let listed = souk_ok(
            &[
                "offer",
                "list",
                "--expiring-before",
                &before,
                "--output",
                "json",
            ],
            grpc,
            key,
        )
        .await
        .json()
        .unwrap();
        listed["offers"].as_array().unwrap().clone()
    };
    let soon = expiring(iso(&day(emulator, 31).await)).await;
    assert!(!soon.is_empty());
    assert!(soon.iter().all(|o| o["kind"] != "free_trial"), "{soon:?}");
    assert!(expiring(iso(&day(emulator, 1).await)).await.is_empty());
    let instant = format!("{}T00:00:00Z", iso(&day(emulator, 31).await));
    assert_eq!(expiring(instant).await.len(), soon.len());
    let mut all = vec!["offer", "list", "--kind", "lease"];
    all.extend(["--server", grpc, "--api-key", key]);
    let bad = souk(&all, &[]).await.unwrap();
    assert_eq!(bad.code, Some(2), "{bad:?}");
    assert!(
        bad.stderr.contains("--kind \"lease\" is not an offer kind"),
        "{bad:?}"
    );
}

/// `souk offer resale create -f docs/examples/offers/resale-authorization.yaml --wait` (moved
/// onto this integration, the examples' product and this clock): released, with its AWS id,
/// and listed by `souk offer resale list`; the authorisation as JSON.
async fn cli_creates_the_resale_authorization(
    grpc: &str,
    emulator: &str,
    key: &str,
    integration_id: &str,
) -> Value {
    let text = example("resale-authorization.yaml");
    let text = moved(
        &text,
        "int_0193a1b2c3d4e5f60718293a4b5c6d7e",
        integration_id,
    );
    let text = moved(&text, "prod-abcdefghijklm", EXAMPLES_SAAS_ID);
    let text = moved(&text, "2027-06-30", &iso(&day(emulator, 90).await));
    let dir = tempfile::tempdir().unwrap();
    let out = create_from_file(
        &["offer", "resale", "create"],
        dir.path(),
        "resale-authorization.yaml",
        text,
        grpc,
        key,
    )
    .await;
    let authorization = out.json().unwrap();
    let file = dir.path().join("resale-authorization.yaml");
    assert_eq!(authorization["state"], "released", "{authorization}");
    assert_eq!(authorization["terms"], "contract", "{authorization}");
    assert_eq!(authorization["reseller_account_id"], PARTNER);
    let aws_id = authorization["aws_resale_authorization_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(aws_id.starts_with("resaleauthz-"), "{authorization}");
    assert!(out.stderr.contains(": released"), "{}", out.stderr);
    let id = authorization["id"].as_str().unwrap();
    let listed = souk_ok(&["offer", "resale", "list", "--output", "json"], grpc, key)
        .await
        .json()
        .unwrap();
    assert!(
        listed["resale_authorizations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == id && a["state"] == "released"),
        "{listed}"
    );
    let filtered = souk_ok(
        &[
            "offer",
            "resale",
            "list",
            "--integration",
            integration_id,
            "--product",
            EXAMPLES_SAAS_ID,
            "--reseller",
            PARTNER,
        ],
        grpc,
        key,
    )
    .await;
    assert!(filtered.stdout.starts_with("ID"), "{}", filtered.stdout);
    assert!(filtered.stdout.contains(id), "{}", filtered.stdout);
    let other = souk_ok(
        &["offer", "resale", "list", "--reseller", "999988887777"],
        grpc,
        key,
    )
    .await;
    assert_eq!(other.stdout.lines().count(), 1, "{}", other.stdout);
    // By its AWS id too.
    let shown = souk_ok(
        &["offer", "resale", "get", &aws_id, "--output", "json"],
        grpc,
        key,
    )
    .await
    .json()
    .unwrap();
    assert_eq!(shown["id"], id, "{shown}");
    // A product AWS does not know: the change set fails, and so does `--wait`, with AWS's reason.
    std::fs::write(
        &file,
        std::fs::read_to_string(&file)
            .unwrap()
            .replace(EXAMPLES_SAAS_ID, "prod-soukunknown0001"),
    )
    .unwrap();
    let mut all = vec![
        "offer",
        "resale",
        "create",
        "-f",
        file.to_str().unwrap(),
        "--wait",
    ];
    all.extend(["--server", grpc, "--api-key", key]);
    let failed = souk(&all, &[]).await.unwrap();
    assert_eq!(failed.code, Some(2), "{failed:?}");
    assert!(failed.stdout.contains("failed"), "{failed:?}");
    assert!(
        failed
            .stderr
            .contains("AWS refused the resale authorisation: "),
        "{failed:?}"
    );
    authorization
}

/// The SaaS product of the YAML examples (one public free trial per product: not the gRPC one's).
const EXAMPLES_SAAS_ID: &str = "prod-soukoffere2e02";
const AMI_ID: &str = "prod-amiproduct0001";
const CONTAINER_ID: &str = "prod-container00001";
const SERVICES_ID: &str = "prod-services00001";

fn money(micros: i64, currency: &str) -> Option<Money> {
    Some(Money {
        amount_micros: micros,
        currency_code: currency.into(),
    })
}

fn dimension(key: &str, micros: i64, quantity: i64, currency: &str) -> pb::ContractDimension {
    pb::ContractDimension {
        dimension_key: key.into(),
        unit_price: money(micros, currency),
        quantity,
    }
}

fn price(key: &str, micros: i64) -> pb::DimensionPrice {
    pb::DimensionPrice {
        dimension_key: key.into(),
        price: usd(micros),
    }
}

/// One kind: its request, the buyer's acceptance, and what the agreement must hold.
struct Kind {
    name: &'static str,
    request: pb::CreatePrivateOfferRequest,
    accept: Value,
    product_id: &'static str,
    currency: &'static str,
    value_micros: i64,
    quantities: Value,
    /// The agreement's pricing, payment and validity terms (as the offer's change set wrote
    /// them: legal and support terms aside).
    terms: Value,
}

/// An offer request of `kind` on `product` with `terms`, for the buyer, expiring on `expiry`.
fn request(
    integration_id: &str,
    product: &str,
    kind: pb::OfferKind,
    terms: pb::offer_terms::Kind,
    expiry: &Date,
) -> pb::CreatePrivateOfferRequest {
    pb::CreatePrivateOfferRequest {
        integration_id: integration_id.to_owned(),
        product_id: product.into(),
        name: format!("e2e {kind:?}"),
        description: "e2e offer".into(),
        kind: kind as i32,
        terms: Some(pb::OfferTerms { kind: Some(terms) }),
        currency_code: "USD".into(),
        buyer_account_ids: vec![BUYER.into()],
        expiry_date: Some(*expiry),
        idempotency_key: format!("e2e-{kind:?}"),
        ..Default::default()
    }
}

/// Every kind but the replacement (made from the contract's agreement), contract first.
async fn every_kind(emulator: &str, integration_id: &str) -> Vec<Kind> {
    let expiry = day(emulator, 30).await;
    let (first, second) = (day(emulator, 1).await, day(emulator, 60).await);
    let mut contract = request(
        integration_id,
        PRODUCT_ID,
        pb::OfferKind::Contract,
        pb::offer_terms::Kind::Contract(pb::ContractTerms {
            duration_months: 12,
            dimensions: vec![dimension("seats", 100_000_000, 20, "USD")],
            ..pb::ContractTerms::default()
        }),
        &expiry,
    );
    contract.payment_schedule = vec![
        pb::PaymentInstallment {
            charge_date: Some(first),
            amount: usd(1_200_000_000),
        },
        pb::PaymentInstallment {
            charge_date: Some(second),
            amount: usd(800_000_000),
        },
    ];
    let subscription = request(
        integration_id,
        PRODUCT_ID,
        pb::OfferKind::Subscription,
        pb::offer_terms::Kind::Subscription(pb::SubscriptionTerms {
            usage_prices: vec![price("api_calls", 2_000)],
        }),
        &expiry,
    );
    let consumption = request(
        integration_id,
        PRODUCT_ID,
        pb::OfferKind::ContractWithConsumption,
        pb::offer_terms::Kind::ContractWithConsumption(pb::ContractWithConsumptionTerms {
            contract: Some(pb::ContractTerms {
                duration_months: 12,
                dimensions: vec![dimension("seats", 50_000_000, 0, "USD")],
                allow_quantity_change: true,
                ..pb::ContractTerms::default()
            }),
            usage_prices: vec![price("api_calls", 1_000)],
        }),
        &expiry,
    );
    let mut services = request(
        integration_id,
        SERVICES_ID,
        pb::OfferKind::ProfessionalServices,
        pb::offer_terms::Kind::ProfessionalServices(pb::ProfessionalServicesTerms {
            duration_months: 3,
            dimensions: vec![
                dimension("workshop", 5_000_000_000, 1, "EUR"),
                dimension("audit", 9_000_000_000, 1, "EUR"),
            ],
        }),
        &expiry,
    );
    services.currency_code = "EUR".into();
    let ami = request(
        integration_id,
        AMI_ID,
        pb::OfferKind::Ami,
        pb::offer_terms::Kind::Ami(pb::AmiTerms {
            pricing_model: pb::SoftwarePricingModel::Hourly as i32,
            hourly_prices: vec![price("m5.large", 125_000)],
            ..pb::AmiTerms::default()
        }),
        &expiry,
    );
    let mut container = request(
        integration_id,
        CONTAINER_ID,
        pb::OfferKind::Container,
        pb::offer_terms::Kind::Container(pb::ContainerTerms {
            pricing_model: pb::SoftwarePricingModel::Contract as i32,
            contract_dimensions: vec![dimension("pods", 300_000_000, 0, "GBP")],
            duration_months: 12,
            ..pb::ContainerTerms::default()
        }),
        &expiry,
    );
    container.currency_code = "GBP".into();
    let mut trial = request(
        integration_id,
        PRODUCT_ID,
        pb::OfferKind::FreeTrial,
        pb::offer_terms::Kind::FreeTrial(pb::FreeTrialTerms {
            duration_days: 14,
            grants: vec![pb::FreeTrialGrant {
                dimension_key: "api_calls".into(),
                max_quantity: Some(100_000),
            }],
        }),
        &expiry,
    );
    trial.buyer_account_ids.clear();
    trial.expiry_date = None;
    let buyer = |quantities: Value| json!({"buyer_account_id": BUYER, "quantities": quantities});
    vec![
        Kind {
            name: "contract",
            request: contract,
            accept: buyer(json!([])),
            product_id: PRODUCT_ID,
            currency: "USD",
            value_micros: 2_000_000_000,
            // Paid by installments: the 20 seats are the fixed term's grant, nothing chosen.
            quantities: json!([]),
            terms: json!([
                {"Type": "FixedUpfrontPricingTerm", "CurrencyCode": "USD", "Price": "0",
                 "Grants": [{"DimensionKey": "seats", "MaxQuantity": 20}]},
                {"Type": "ValidityTerm", "AgreementDuration": "P12M"},
                {"Type": "PaymentScheduleTerm", "CurrencyCode": "USD", "Schedule": [
                    {"ChargeDate": iso(&first), "ChargeAmount": "1200.00"},
                    {"ChargeDate": iso(&second), "ChargeAmount": "800.00"}]},
            ]),
        },
        Kind {
            name: "subscription",
            request: subscription,
            accept: buyer(json!([])),
            product_id: PRODUCT_ID,
            currency: "USD",
            value_micros: 0,
            quantities: json!([]),
            terms: json!([
                {"Type": "UsageBasedPricingTerm", "CurrencyCode": "USD",
                 "RateCards": [{"RateCard": [{"DimensionKey": "api_calls", "Price": "0.002"}]}]},
            ]),
        },
        Kind {
            name: "contract with consumption",
            request: consumption,
            accept: buyer(json!([{"dimension_key": "seats", "quantity": 5}])),
            product_id: PRODUCT_ID,
            currency: "USD",
            value_micros: 250_000_000,
            quantities: json!([{"dimension_key": "seats", "quantity": 5}]),
            terms: json!([
                {"Type": "ConfigurableUpfrontPricingTerm", "CurrencyCode": "USD", "RateCards": [{
                    "Selector": {"Type": "Duration", "Value": "P12M"},
                    "Constraints": {"MultipleDimensionSelection": "Disallowed", "QuantityConfiguration": "Allowed"},
                    "RateCard": [{"DimensionKey": "seats", "Price": "50"}]}]},
                {"Type": "UsageBasedPricingTerm", "CurrencyCode": "USD",
                 "RateCards": [{"RateCard": [{"DimensionKey": "api_calls", "Price": "0.001"}]}]},
                {"Type": "ValidityTerm", "AgreementDuration": "P12M"},
            ]),
        },
        Kind {
            name: "professional services",
            request: services,
            accept: buyer(json!([{"dimension_key": "audit", "quantity": 1}])),
            product_id: SERVICES_ID,
            currency: "EUR",
            value_micros: 9_000_000_000,
            quantities: json!([{"dimension_key": "audit", "quantity": 1}]),
            terms: json!([
                {"Type": "ConfigurableUpfrontPricingTerm", "CurrencyCode": "EUR", "RateCards": [{
                    "Selector": {"Type": "Duration", "Value": "P3M"},
                    "Constraints": {"MultipleDimensionSelection": "Disallowed", "QuantityConfiguration": "Disallowed"},
                    "RateCard": [{"DimensionKey": "workshop", "Price": "5000"}, {"DimensionKey": "audit", "Price": "9000"}]}]},
                {"Type": "ValidityTerm", "AgreementDuration": "P3M"},
            ]),
        },
        Kind {
            name: "ami hourly",
            request: ami,
            accept: buyer(json!([])),
            product_id: AMI_ID,
            currency: "USD",
            value_micros: 0,
            quantities: json!([]),
            terms: json!([
                {"Type": "UsageBasedPricingTerm", "CurrencyCode": "USD",
                 "RateCards": [{"RateCard": [{"DimensionKey": "m5.large", "Price": "0.125"}]}]},
            ]),
        },
        Kind {
            name: "container contract",
            request: container,
            accept: buyer(json!([{"dimension_key": "pods", "quantity": 3}])),
            product_id: CONTAINER_ID,
            currency: "GBP",
            value_micros: 900_000_000,
            quantities: json!([{"dimension_key": "pods", "quantity": 3}]),
            terms: json!([
                {"Type": "ConfigurableUpfrontPricingTerm", "CurrencyCode": "GBP", "RateCards": [{
                    "Selector": {"Type": "Duration", "Value": "P12M"},
                    "Constraints": {"MultipleDimensionSelection": "Allowed", "QuantityConfiguration": "Allowed"},
                    "RateCard": [{"DimensionKey": "pods", "Price": "300"}]}]},
                {"Type": "ValidityTerm", "AgreementDuration": "P12M"},
            ]),
        },
        Kind {
            name: "free trial",
            request: trial,
            accept: buyer(json!([])),
            product_id: PRODUCT_ID,
            currency: "USD",
            value_micros: 0,
            quantities: json!([]),
            terms: json!([
                {"Type": "FreeTrialPricingTerm", "Duration": "P14D",
                 "Grants": [{"DimensionKey": "api_calls", "MaxQuantity": 100_000}]},
            ]),
        },
    ]
}

/// An upsell of `agreement_id` to seats at 90 USD, ending on day 400.
async fn replacement(emulator: &str, integration_id: &str, agreement_id: &str) -> Kind {
    let mut upsell = request(
        integration_id,
        PRODUCT_ID,
        pb::OfferKind::Replacement,
        pb::offer_terms::Kind::Replacement(pb::ReplacementTerms {
            agreement_id: agreement_id.to_owned(),
            reason: pb::ReplacementReason::Upsell as i32,
            contract: Some(pb::ContractTerms {
                dimensions: vec![dimension("seats", 90_000_000, 0, "USD")],
                ..pb::ContractTerms::default()
            }),
            usage_prices: vec![],
        }),
        &day(emulator, 30).await,
    );
    upsell.buyer_account_ids.clear();
    let end = day(emulator, 400).await;
    upsell.validity = Some(pb::Validity {
        agreement_start_date: None,
        agreement_end_date: Some(end),
    });
    Kind {
        name: "replacement",
        request: upsell,
        accept: json!({"buyer_account_id": BUYER, "quantities": [{"dimension_key": "seats", "quantity": 30}]}),
        product_id: PRODUCT_ID,
        currency: "USD",
        value_micros: 2_700_000_000,
        quantities: json!([{"dimension_key": "seats", "quantity": 30}]),
        terms: json!([
            // From acceptance (at the latest the expiry, day 30) to the end date, day 400.
            {"Type": "ConfigurableUpfrontPricingTerm", "CurrencyCode": "USD", "RateCards": [{
                "Selector": {"Type": "Duration", "Value": "P370D"},
                "Constraints": {"MultipleDimensionSelection": "Disallowed", "QuantityConfiguration": "Disallowed"},
                "RateCard": [{"DimensionKey": "seats", "Price": "90"}]}]},
            {"Type": "ValidityTerm", "AgreementEndDate": iso(&end)},
        ]),
    }
}

/// Creates `kind` over gRPC; the Souk offer id.
async fn create(
    offers: &mut OfferServiceClient<InterceptedService<Channel, Auth>>,
    kind: &Kind,
) -> String {
    let name = kind.name;
    offers
        .create_private_offer(kind.request.clone())
        .await
        .unwrap_or_else(|e| panic!("{name}: {e:?}"))
        .into_inner()
        .offer
        .unwrap()
        .id
}

/// Sees offer `id` of `kind` released, has the buyer accept it, checks the agreement against
/// what was asked and sees the offer accepted; the agreement's id.
async fn accepted(
    offers: &mut OfferServiceClient<InterceptedService<Channel, Auth>>,
    emulator: &str,
    id: &str,
    kind: Kind,
) -> String {
    let name = kind.name;
    let released = wait_for(offers, id, pb::OfferState::Released).await;
    assert!(
        released.aws_offer_id.starts_with("offer-"),
        "{name}: {released:?}"
    );
    let agreement = control(
        emulator,
        &format!("/_souk/offers/{}/accept", released.aws_offer_id),
        kind.accept,
    )
    .await;
    let terms: Vec<Value> = agreement["terms"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| !matches!(t["Type"].as_str(), Some("LegalTerm" | "SupportTerm")))
        .cloned()
        .collect();
    assert_eq!(
        (
            &agreement["offer_id"],
            &agreement["product_id"],
            &agreement["acceptor_account_id"],
            &agreement["currency_code"],
            &agreement["agreement_value_micros"],
            &agreement["quantities"],
            &Value::Array(terms),
        ),
        (
            &json!(released.aws_offer_id),
            &json!(kind.product_id),
            &json!(BUYER),
            &json!(kind.currency),
            &json!(kind.value_micros),
            &kind.quantities,
            &kind.terms,
        ),
        "{name}: {agreement}"
    );
    let accepted = wait_for(offers, id, pb::OfferState::Accepted).await;
    let agreement_id = agreement["id"].as_str().unwrap().to_owned();
    assert_eq!(accepted.agreement_id, agreement_id, "{name}");
    agreement_id
}

/// Creates an integration for AWS account `account` (the emulator takes the seller account from
/// the role ARN) and trusts its role in the emulator.
async fn register(
    integration_grpc: &str,
    emulator: &str,
    key: &str,
    account: &str,
    role: &str,
) -> ipb::Integration {
    let mut integrations =
        IntegrationServiceClient::with_interceptor(channel(integration_grpc).await, auth(key));
    let integration = integrations
        .create_integration(ipb::CreateIntegrationRequest {
            name: format!("offers-{}", rand::random::<u32>()),
            role_arn: format!("arn:aws:iam::{account}:role/{role}"),
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
    integration
}

/// Lists the products the offers are for in the emulator.
async fn add_products(emulator: &str) {
    let products = [
        (
            PRODUCT_ID,
            "soukoffere2e",
            "saas",
            json!([{"name": "seats", "type": "entitled"}, {"name": "api_calls", "type": "metered"}]),
        ),
        (
            EXAMPLES_SAAS_ID,
            "soukoffere2eyaml",
            "saas",
            json!([{"name": "seats", "type": "entitled"}, {"name": "api_calls", "type": "metered"}]),
        ),
        (
            AMI_ID,
            "soukoffere2eami",
            "ami",
            json!([{"name": "m5.large", "type": "metered"}, {"name": "m5.xlarge", "type": "metered"}]),
        ),
        (
            CONTAINER_ID,
            "soukoffere2ecnt",
            "container",
            json!([{"name": "pods", "type": "metered"}]),
        ),
        (
            SERVICES_ID,
            "soukoffere2eps",
            "professional_services",
            json!([{"name": "workshop", "type": "entitled"}, {"name": "audit", "type": "entitled"}]),
        ),
    ];
    for (id, code, kind, dimensions) in products {
        control(
            emulator,
            "/_souk/products",
            json!({"product_id": id, "product_code": code, "kind": kind, "dimensions": dimensions}),
        )
        .await;
    }
}

/// Creates the integration, trusts its role in the emulator, lists the products, then
/// makes an offer of every kind over gRPC (the replacement from the contract's agreement), each
/// released, accepted by the buyer and seen accepted with the agreement asked; with `cli`, also
/// creates offers from every YAML example with `souk offer create`.
async fn offer_journey(
    integration_grpc: &str,
    offer_grpc: &str,
    emulator: &str,
    key: &str,
    cli: bool,
) {
    let integration = register(integration_grpc, emulator, key, SELLER, "SoukOffers").await;
    add_products(emulator).await;

    let mut offers = OfferServiceClient::with_interceptor(channel(offer_grpc).await, auth(key));
    // All created first (AWS works on their change sets side by side), then each followed.
    let mut created = Vec::new();
    for kind in every_kind(emulator, &integration.id).await {
        created.push((create(&mut offers, &kind).await, kind));
    }
    let mut contract_agreement = None;
    for (id, kind) in created {
        let name = kind.name;
        let agreement = accepted(&mut offers, emulator, &id, kind).await;
        if name == "contract" {
            contract_agreement = Some(agreement);
        }
    }
    let contract_agreement = contract_agreement.unwrap();
    let upsell = replacement(emulator, &integration.id, &contract_agreement).await;
    let id = create(&mut offers, &upsell).await;
    accepted(&mut offers, emulator, &id, upsell).await;
    if cli {
        cli_creates_the_examples(offer_grpc, emulator, key, &integration.id).await;
        cli_creates_the_resale_authorization(offer_grpc, emulator, key, &integration.id).await;
    } else {
        // Standalone mode makes its channel-partner offer with the CLI, in a test of its own.
        channel_partner(
            &mut offers,
            integration_grpc,
            emulator,
            key,
            &integration.id,
        )
        .await;
    }
}

/// The seller authorises the partner over gRPC (20 seats at 100 USD for 12 months, for the
/// buyer); the partner's own integration makes a channel-partner offer from it with a 10 %
/// markup: released, accepted by the buyer with the authorisation's terms at the marked-up
/// value, and seen accepted.
async fn channel_partner(
    offers: &mut OfferServiceClient<InterceptedService<Channel, Auth>>,
    integration_grpc: &str,
    emulator: &str,
    key: &str,
    seller_id: &str,
) {
    let partner = register(integration_grpc, emulator, key, PARTNER, "SoukPartner").await;
    let granted = offers
        .create_resale_authorization(pb::CreateResaleAuthorizationRequest {
            integration_id: seller_id.to_owned(),
            product_id: PRODUCT_ID.into(),
            name: "e2e partner".into(),
            description: "e2e resale".into(),
            reseller_account_id: PARTNER.into(),
            terms: Some(pb::OfferTerms {
                kind: Some(pb::offer_terms::Kind::Contract(pb::ContractTerms {
                    duration_months: 12,
                    dimensions: vec![dimension("seats", 100_000_000, 20, "USD")],
                    ..pb::ContractTerms::default()
                })),
            }),
            currency_code: "USD".into(),
            buyer_account_ids: vec![BUYER.into()],
            expiry_date: Some(day(emulator, 90).await),
            one_time: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .resale_authorization
        .unwrap();
    let mut aws_id = String::new();
    for _ in 0..120 {
        let ra = offers
            .get_resale_authorization(pb::GetResaleAuthorizationRequest {
                resale_authorization_id: granted.id.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .resale_authorization
            .unwrap();
        assert_ne!(ra.state, pb::OfferState::Failed as i32, "{ra:?}");
        if ra.state == pb::OfferState::Released as i32 {
            aws_id = ra.aws_resale_authorization_id;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        aws_id.starts_with("resaleauthz-"),
        "{granted:?} never released"
    );
    let offer = offers
        .create_channel_partner_offer(pb::CreateChannelPartnerOfferRequest {
            integration_id: partner.id.clone(),
            resale_authorization_id: aws_id.clone(),
            name: "e2e channel partner".into(),
            description: "e2e partner offer".into(),
            markup_percentage: "10".into(),
            buyer_account_ids: vec![BUYER.into()],
            expiry_date: Some(day(emulator, 30).await),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .offer
        .unwrap();
    assert_eq!(
        offer.kind,
        pb::OfferKind::ChannelPartner as i32,
        "{offer:?}"
    );
    assert_eq!(offer.resale_authorization_id, aws_id);
    let kind = Kind {
        name: "channel partner",
        request: pb::CreatePrivateOfferRequest::default(),
        accept: json!({"buyer_account_id": BUYER, "quantities": [{"dimension_key": "seats", "quantity": 20}]}),
        product_id: PRODUCT_ID,
        currency: "USD",
        value_micros: 2_200_000_000,
        quantities: json!([{"dimension_key": "seats", "quantity": 20}]),
        terms: json!([
            {"Type": "ConfigurableUpfrontPricingTerm", "CurrencyCode": "USD", "RateCards": [{
                "Selector": {"Type": "Duration", "Value": "P12M"},
                "Constraints": {"MultipleDimensionSelection": "Disallowed", "QuantityConfiguration": "Disallowed"},
                "RateCard": [{"DimensionKey": "seats", "Price": "100"}]}]},
            {"Type": "ValidityTerm", "AgreementDuration": "P12M"},
        ]),
    };
    accepted(offers, emulator, &offer.id, kind).await;
}

#[tokio::test]
async fn every_kind_of_offer_is_accepted_in_standalone_mode() {
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

/// The seller authorises the partner with the resale authorisation example; the partner's own
/// integration (its AWS account is the authorisation's reseller) makes the channel-partner
/// offer example from it with `souk offer create -f --wait`: released, accepted by the buyer
/// through the emulator's control API and seen accepted, and listed by `--kind channel_partner`.
#[tokio::test]
async fn a_channel_partner_offer_is_accepted_in_standalone_mode() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("souk");
    let dev = start_dev(data_dir.to_str().unwrap(), true, &FAST).await;
    let grpc = dev.endpoint("grpc").to_owned();
    let emulator = dev.endpoint("emulator").to_owned();
    let key = std::fs::read_to_string(data_dir.join("api-key"))
        .unwrap()
        .trim()
        .to_owned();
    let seller = register(&grpc, &emulator, &key, SELLER, "SoukOffers").await;
    add_products(&emulator).await;
    let authorization =
        cli_creates_the_resale_authorization(&grpc, &emulator, &key, &seller.id).await;
    let partner = register(&grpc, &emulator, &key, PARTNER, "SoukPartner").await;
    let aws_id = authorization["aws_resale_authorization_id"]
        .as_str()
        .unwrap();
    let text = example("channel-partner.yaml");
    let text = moved(&text, "int_0193a1b2c3d4e5f60718293a4b5cf00d", &partner.id);
    let text = moved(&text, "resaleauthz-abcdefghijklm", aws_id);
    let text = moved(&text, "2027-01-31", &iso(&day(&emulator, 30).await));
    let files = tempfile::tempdir().unwrap();
    let offer = create_example(files.path(), "channel-partner.yaml", text, &grpc, &key).await;
    assert_eq!(offer["kind"], "channel_partner", "{offer}");
    assert_eq!(offer["integration_id"], partner.id.as_str(), "{offer}");
    assert_eq!(offer["resale_authorization_id"], aws_id, "{offer}");
    assert_eq!(offer["markup_percentage"], "12.5", "{offer}");
    accept_example(
        "channel-partner.yaml",
        "channel_partner",
        &offer,
        &grpc,
        &emulator,
        &key,
    )
    .await;
    let listed = souk_ok(
        &[
            "offer",
            "list",
            "--kind",
            "channel_partner",
            "--output",
            "json",
        ],
        &grpc,
        &key,
    )
    .await
    .json()
    .unwrap();
    let listed = listed["offers"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["id"], offer["id"], "{listed:?}");
    assert_eq!(listed[0]["state"], "accepted", "{listed:?}");
}

#[tokio::test]
async fn every_kind_of_offer_is_accepted_in_distributed_mode() {
    let deployment = Distributed::start("offers", &FAST).await;
    let (emulator_url, key) = (&deployment.emulator_url, &deployment.key);
    let serve = |service: &'static str| deployment.serve(service);
    let integration = serve("integration").await;
    let offer = serve("offer").await;
    offer_journey(
        integration.endpoint("grpc"),
        offer.endpoint("grpc"),
        emulator_url,
        key,
        false,
    )
    .await;
}
