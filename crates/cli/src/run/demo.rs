//! `souk dev --emulate-aws`: the emulator in-process, a demo SaaS product in it, and a demo
//! seller integration in Souk whose role the emulator's STS trusts with the integration's
//! ExternalId, so `souk integration verify` works out of the box.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use anyhow::Context;
use serde_json::json;
use souk_emulator::market::{Dimension, DimensionKind, NewProduct, ProductKind};
use souk_emulator::sqs::queue::Queue;
use souk_emulator::{Emulator, EmulatorConfig};
use souk_entitlement::EntitlementApp;
use souk_integration::IntegrationApp;
use souk_integration::domain::DemoIntegration;

use super::shutdown::Shutdown;
use crate::emulator_control::EmulatorClient;

/// Product code of the demo SaaS product.
pub const DEMO_PRODUCT_CODE: &str = "souk-demo-saas";
/// Catalog id of the demo SaaS product.
pub const DEMO_PRODUCT_ID: &str = "prod-soukdemo00001";
/// The demo seller's role in the emulated seller account.
pub const DEMO_ROLE_ARN: &str = "arn:aws:iam::111122223333:role/SoukDemoRole";

/// The in-process emulator of `souk dev`.
pub struct DevEmulator {
    /// Endpoint URL for every AWS client.
    pub url: String,
    /// The emulator, for seeding.
    pub emulator: Emulator,
}

/// The principal seller roles trust in the emulated world: the emulator's default caller
/// account, which Souk's static dev credentials map to.
pub fn souk_principal_arn() -> String {
    format!(
        "arn:aws:iam::{}:root",
        EmulatorConfig::default().caller_account_id
    )
}

/// Binds `addr` and serves the emulator until `shutdown`.
pub async fn start_emulator(
    addr: SocketAddr,
    shutdown: Shutdown,
    tasks: &mut super::servers::Tasks,
) -> anyhow::Result<DevEmulator> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|error| anyhow::anyhow!("cannot listen for the emulator on {addr}: {error}"))?;
    let url = format!("http://{}", listener.local_addr()?);
    let emulator = Emulator::new(EmulatorConfig::default());
    souk_emulator::notify::set_public_url(&emulator, &url);
    let server = emulator.clone();
    tasks.spawn(async move {
        server
            .serve(listener, shutdown.wait())
            .await
            .map_err(anyhow::Error::from)
    });
    Ok(DevEmulator { url, emulator })
}

/// Name of the demo seller's notification queue in the emulator.
pub const DEMO_QUEUE: &str = "souk-demo-notifications";

/// Creates the demo integration in Souk (once) and the demo product in the emulator, lets the
/// emulator's STS trust Souk with the integration's ExternalId, and wires the buyer side: the
/// product's fulfilment URL is Souk's page, and its notifications reach Souk both through an SQS
/// queue Souk polls and through Souk's SNS endpoint (every start: the in-process emulator
/// starts empty).
pub async fn seed(
    integration: &IntegrationApp,
    entitlement: Option<&EntitlementApp>,
    metering: Option<&souk_metering::MeteringApp>,
    running: &DevEmulator,
    http_url: &str,
) -> anyhow::Result<()> {
    let seller = EmulatorConfig::default().seller_account_id;
    // Only the last two path segments of a queue URL matter to the emulator, so the AWS form
    // stays valid whatever port the emulator listens on.
    let queue_url = format!("https://sqs.us-east-1.amazonaws.com/{seller}/{DEMO_QUEUE}");
    let demo = integration
        .integrations()
        .ensure_demo_integration(DemoIntegration {
            name: "demo".into(),
            role_arn: DEMO_ROLE_ARN.into(),
            region: "us-east-1".into(),
            product_code: DEMO_PRODUCT_CODE.into(),
            product_id: Some(DEMO_PRODUCT_ID.into()),
            sqs_queue_url: Some(queue_url.clone()),
        })
        .await
        .context("cannot create the demo integration")?;
    let base = http_url.trim_end_matches('/');
    let product = NewProduct {
        product_code: Some(DEMO_PRODUCT_CODE.to_owned()),
        product_id: Some(DEMO_PRODUCT_ID.to_owned()),
        kind: Some(ProductKind::Saas),
        title: Some("Souk demo SaaS".to_owned()),
        dimensions: vec![
            Dimension {
                name: "users".into(),
                kind: DimensionKind::Metered,
                description: "active users per hour".into(),
            },
            Dimension {
                name: "seats".into(),
                kind: DimensionKind::Entitled,
                description: "contracted seats".into(),
            },
        ],
        concurrent_agreements: false,
        fulfillment_url: Some(format!("{base}/aws/fulfilment/{}", demo.id)),
    };
    {
        let mut world = running.emulator.world();
        souk_emulator::market::create_product(&mut world, product).map_err(|error| {
            anyhow::anyhow!("cannot create the demo product in the emulator: {error:?}")
        })?;
        world.sts.put_role(
            DEMO_ROLE_ARN,
            vec![EmulatorConfig::default().caller_account_id],
            Some(demo.external_id.clone()),
            43_200,
        );
        let now = running.emulator.clock().now_at();
        let queue = Queue::new(&seller, DEMO_QUEUE, BTreeMap::new(), now)
            .map_err(|error| anyhow::anyhow!("cannot create the demo queue: {error:?}"))?;
        world
            .sqs
            .queues
            .entry(format!("{seller}/{DEMO_QUEUE}"))
            .or_insert(queue);
    }
    if entitlement.is_some() {
        let control = EmulatorClient::new(&running.url)?;
        for body in [
            json!({"type": "sns", "protocol": "sqs", "endpoint": queue_url, "product_code": DEMO_PRODUCT_CODE}),
            json!({"type": "sns", "protocol": "http", "endpoint": format!("{base}/aws/sns/{}", demo.id), "product_code": DEMO_PRODUCT_CODE}),
        ] {
            control
                .call(
                    http::Method::POST,
                    "/_souk/notifications/subscriptions",
                    Some(&body),
                )
                .await
                .context("cannot subscribe Souk to the demo product's notifications")?;
        }
    }
    if let Some(metering) = metering {
        let metering = metering.metering();
        // A SUM meter on the metered dimension, unless the seller changed the product's meters.
        if metering
            .list_meters(&demo.organization_id, Some(DEMO_PRODUCT_CODE))
            .is_empty()
        {
            metering
                .put_meter(
                    &demo.organization_id,
                    souk_metering::domain::MeterSpec {
                        product_code: DEMO_PRODUCT_CODE.into(),
                        dimension: "users".into(),
                        feature: None,
                        aggregation: souk_metering::domain::model::Aggregation::Sum,
                        attribute: None,
                        zero_fill: false,
                    },
                )
                .await
                .map_err(|error| anyhow::anyhow!("cannot create the demo meter: {error}"))?;
        }
    }
    tracing::info!(integration_id = %demo.id, "demo integration ready");
    Ok(())
}
