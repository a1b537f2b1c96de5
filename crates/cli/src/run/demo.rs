//! `souk dev --emulate-aws`: the emulator in-process, a demo SaaS product in it, and a demo
//! seller integration in Souk whose role the emulator's STS trusts with the integration's
//! ExternalId, so `souk integration verify` works out of the box.

use std::net::SocketAddr;

use anyhow::Context;
use souk_emulator::market::{Dimension, DimensionKind, NewProduct, ProductKind};
use souk_emulator::{Emulator, EmulatorConfig};
use souk_integration::IntegrationApp;
use souk_integration::domain::DemoIntegration;

use super::shutdown::Shutdown;

/// Product code of the demo SaaS product.
pub const DEMO_PRODUCT_CODE: &str = "souk-demo-saas";
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

/// Creates the demo product in the emulator and the demo integration in Souk (once), and lets
/// the emulator's STS trust Souk with the integration's ExternalId (every start: the in-process
/// emulator starts empty).
pub async fn seed(integration: &IntegrationApp, running: &DevEmulator) -> anyhow::Result<()> {
    let product = NewProduct {
        product_code: Some(DEMO_PRODUCT_CODE.to_owned()),
        product_id: Some("prod-soukdemo00001".to_owned()),
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
        fulfillment_url: Some("http://127.0.0.1:8080/fulfillment".into()),
    };
    {
        let mut world = running.emulator.world();
        souk_emulator::market::create_product(&mut world, product).map_err(|error| {
            anyhow::anyhow!("cannot create the demo product in the emulator: {error:?}")
        })?;
    }
    let demo = integration
        .integrations()
        .ensure_demo_integration(DemoIntegration {
            name: "demo".into(),
            role_arn: DEMO_ROLE_ARN.into(),
            region: "us-east-1".into(),
            product_code: DEMO_PRODUCT_CODE.into(),
        })
        .await
        .context("cannot create the demo integration")?;
    let trusted = EmulatorConfig::default().caller_account_id;
    running.emulator.world().sts.put_role(
        DEMO_ROLE_ARN,
        vec![trusted],
        Some(demo.external_id.clone()),
        43_200,
    );
    tracing::info!(integration_id = %demo.id, "demo integration ready");
    Ok(())
}
