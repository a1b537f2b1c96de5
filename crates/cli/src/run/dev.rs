//! `souk dev`: every service in one process on SQLite files, the in-process event bus, and with
//! `--emulate-aws` the AWS Marketplace emulator in-process with a demo seller integration.

use std::sync::Arc;

use souk_events::InProcessBus;

use super::assembly::{Databases, Runtime, assemble, role_assumer};
use super::{demo, http, servers, shutdown};
use crate::args::{DevArgs, ServiceName};
use crate::client::DEV_KEY_FILE;
use crate::config::Config;

const ALL_SERVICES: [ServiceName; 5] = [
    ServiceName::Integration,
    ServiceName::Entitlement,
    ServiceName::Metering,
    ServiceName::Offer,
    ServiceName::Reporting,
];

/// Runs `souk dev` until Ctrl-C / SIGTERM.
pub async fn run(mut config: Config, args: DevArgs) -> anyhow::Result<()> {
    if let Some(addr) = args.grpc_addr {
        config.grpc_addr = addr;
    }
    if let Some(addr) = args.http_addr {
        config.http_addr = addr;
    }
    // Owner-only and locked before anything else: a second `souk dev` fails here, clearly.
    let data_dir = super::data_dir::DataDir::open(&args.data_dir)?;

    // TLS files are read and checked before anything is bound or written.
    let tls = config.tls()?;
    // Bind every port first: a busy port fails start-up before anything is written.
    let (grpc_listener, grpc_addr) = souk_service::server::bind(config.grpc_addr).await?;
    let http_listener = http::bind(config.http_addr).await?;
    let http_addr = http_listener.local_addr()?;
    let (trigger, shutdown) = shutdown::channel();

    let mut tasks = servers::Tasks::new();
    let emulator = if args.emulate_aws {
        let running =
            demo::start_emulator(args.emulator_addr, shutdown.clone(), &mut tasks).await?;
        config.aws_endpoint_url = Some(running.url.clone());
        if config.souk_principal_arn.is_empty() {
            config.souk_principal_arn = demo::souk_principal_arn();
        }
        Some(running)
    } else {
        None
    };

    if let Some(running) = &emulator {
        // The emulator signs SNS messages with its own certificate, served by itself.
        config.entitlement.sns_certificate_url_prefix = Some(format!("{}/_souk/sns/", running.url));
    }
    let scheme = if tls.is_some() { "https" } else { "http" };
    let runtime = Runtime {
        clock: super::clock::clock_of(
            emulator.as_ref().map(|e| &e.emulator),
            config.clock_source,
            config.aws_endpoint_url.as_deref(),
        )
        .await?,
        http_url: format!("{scheme}://{http_addr}"),
    };
    let databases = Databases::SqliteDir(args.data_dir.clone());
    let assumer = role_assumer(&config, args.emulate_aws).await;
    let bus = InProcessBus::default();
    let mut assembly = assemble(
        &config,
        &databases,
        &ALL_SERVICES,
        Some(Arc::new(bus)),
        assumer,
        &runtime,
    )
    .await?;

    data_dir.restrict_files()?;
    let first_key = assembly
        .integration
        .integrations()
        .bootstrap_first_organization("default")
        .await
        .map_err(|error| anyhow::anyhow!("cannot create the default organisation: {error}"))?
        .map(|created| created.first_key.secret.expose().to_owned());
    if let Some(secret) = &first_key {
        data_dir.write_private(DEV_KEY_FILE, &format!("{secret}\n"))?;
    }
    if let Some(running) = &emulator {
        demo::seed(
            &assembly.integration,
            assembly.entitlement.as_ref(),
            assembly.metering.as_ref(),
            running,
            &runtime.http_url,
        )
        .await?;
    }

    let servers = servers::start(
        &mut assembly,
        grpc_listener,
        http_listener,
        (trigger, shutdown),
        tls.clone(),
        tasks,
    )
    .await?;
    print_banner(
        &args,
        tls.is_some(),
        grpc_addr,
        http_addr,
        emulator.as_ref().map(|e| e.url.as_str()),
        first_key.as_deref(),
    );

    let stopped = servers.run_until_stopped().await;
    assembly.shutdown().await;
    stopped?;
    println!("souk dev stopped");
    Ok(())
}

fn print_banner(
    args: &DevArgs,
    tls: bool,
    grpc_addr: std::net::SocketAddr,
    http_addr: std::net::SocketAddr,
    emulator_url: Option<&str>,
    first_key: Option<&str>,
) {
    println!("souk dev is running (Ctrl-C to stop)");
    let scheme = if tls { "https" } else { "http" };
    println!("  grpc      {scheme}://{grpc_addr}");
    println!("  http      {scheme}://{http_addr}");
    if let Some(url) = emulator_url {
        println!("  emulator  {url}");
    }
    println!("  data      {}", args.data_dir.display());
    match first_key {
        Some(secret) => {
            println!("first start: created organisation \"default\"");
            println!(
                "  admin API key (shown once; saved to {}): {secret}",
                args.data_dir.join(DEV_KEY_FILE).display()
            );
        }
        None => println!(
            "  api key   {} (from the first start)",
            args.data_dir.join(DEV_KEY_FILE).display()
        ),
    }
    println!("ready");
}
