//! `souk serve <service>`: one service against PostgreSQL (its own schema) and NATS JetStream,
//! and `souk bootstrap`, which creates the first organisation of a fresh deployment.

use std::sync::Arc;

use anyhow::Context;
use souk_events::{JetStreamPublisher, StreamSettings};

use super::assembly::{Assembly, Databases, Runtime, assemble, role_assumer};
use super::{http, servers, shutdown};
use crate::args::{ServeArgs, ServiceName};
use crate::config::{Config, redact_url};

/// Runs one service until SIGTERM / Ctrl-C.
pub async fn run(mut config: Config, args: ServeArgs) -> anyhow::Result<()> {
    if let Some(addr) = args.grpc_addr {
        config.grpc_addr = addr;
    }
    if let Some(addr) = args.http_addr {
        config.http_addr = addr;
    }
    let database_url = config.require_database_url()?.to_owned();
    // TLS files are read and checked before anything is bound.
    let tls = config.tls()?;
    let (grpc_listener, grpc_addr) = souk_service::server::bind(config.grpc_addr).await?;
    let http_listener = http::bind(config.http_addr).await?;
    let http_addr = http_listener.local_addr()?;

    let nats = connect_nats(&config.nats_url).await?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let runtime = Runtime {
        clock: super::clock::clock_of(
            None,
            config.clock_source,
            config.aws_endpoint_url.as_deref(),
        )
        .await?,
        http_url: format!("{scheme}://{http_addr}"),
    };
    let publisher = JetStreamPublisher::start(nats.clone(), StreamSettings::default())
        .await
        .map_err(|error| anyhow::anyhow!("cannot set up the JetStream streams: {error}"))?;
    let databases = Databases::Postgres(database_url);
    let assumer = role_assumer(&config, false).await;
    let mut assembly = assemble(
        &config,
        &databases,
        &[args.service],
        Some(Arc::new(publisher)),
        assumer,
        &runtime,
    )
    .await?;
    follow_other_replicas(&nats, &assembly).await?;

    let servers = servers::start(
        &mut assembly,
        grpc_listener,
        http_listener,
        shutdown::channel(),
        tls.clone(),
        tokio::task::JoinSet::new(),
    )
    .await?;
    tracing::info!(service = args.service.as_str(), %grpc_addr, %http_addr, "serving");
    println!("souk serve {} is running", args.service.as_str());
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("  grpc      {scheme}://{grpc_addr}");
    println!("  http      {scheme}://{http_addr}");
    super::hints::bootstrap_if_empty(assembly.integration.integrations()).await;
    println!("ready");

    let stopped = servers.run_until_stopped().await;
    assembly.shutdown().await;
    stopped
}
/// Creates organisation `name` with an admin API key when the deployment has no organisation,
/// and prints the key (stdout only, never the log).
pub async fn bootstrap(config: Config, name: &str) -> anyhow::Result<()> {
    let databases = Databases::Postgres(config.require_database_url()?.to_owned());
    let assumer = role_assumer(&config, false).await;
    let runtime = Runtime {
        clock: std::sync::Arc::new(souk_core::SystemClock),
        http_url: String::new(),
    };
    // No relay: the new key's event stays in the outbox until `souk serve integration` publishes it.
    let assembly = assemble(
        &config,
        &databases,
        &[ServiceName::Integration],
        None,
        assumer,
        &runtime,
    )
    .await?;
    let created = assembly
        .integration
        .integrations()
        .bootstrap_first_organization(name)
        .await
        .map_err(|error| anyhow::anyhow!("cannot create the organisation: {error}"))?;
    assembly.shutdown().await;
    match created {
        Some(created) => {
            let organization = &created.organization;
            println!(
                "created organisation {:?} ({})",
                organization.name, organization.id
            );
            println!(
                "admin API key (shown once): {}",
                created.first_key.secret.expose()
            );
            Ok(())
        }
        None => anyhow::bail!(
            "the deployment already has an organisation; create keys with `souk key create`"
        ),
    }
}

async fn connect_nats(url: &str) -> anyhow::Result<async_nats::Client> {
    let options =
        async_nats::ConnectOptions::new().connection_timeout(std::time::Duration::from_secs(5));
    tokio::time::timeout(std::time::Duration::from_secs(10), options.connect(url))
        .await
        .map_err(|_| anyhow::anyhow!("timed out connecting to NATS at {}", redact_url(url)))?
        .with_context(|| format!("cannot connect to NATS at {}", redact_url(url)))
}

/// Entitlement replicas (and metering replicas, which follow the entitlement snapshot for their
/// subscribers) learn of changes from the bus: every subscription and entitlement event
/// published by any replica makes this one's snapshot catch up at once
/// (a plain NATS subscription: each replica needs every event, and a missed one is caught up by
/// the snapshot's periodic read).
async fn follow_other_replicas(
    nats: &async_nats::Client,
    assembly: &Assembly,
) -> anyhow::Result<()> {
    let refresh: Vec<_> = assembly
        .backgrounds
        .iter()
        .map(souk_entitlement::Background::snapshot_trigger)
        .chain(
            assembly
                .followers
                .iter()
                .map(|(follower, _)| follower.trigger()),
        )
        .collect();
    if refresh.is_empty() {
        return Ok(());
    }
    for filter in ["souk.*.subscription.>", "souk.*.entitlement.>"] {
        let mut subscriber = nats
            .subscribe(filter)
            .await
            .with_context(|| format!("cannot subscribe to {filter} on NATS"))?;
        let refresh = refresh.clone();
        tokio::spawn(async move {
            use futures::StreamExt;
            while subscriber.next().await.is_some() {
                for trigger in &refresh {
                    trigger.notify_one();
                }
            }
        });
    }
    Ok(())
}
