//! `souk`: one binary for every way to run Souk — `souk dev` (everything in one process on
//! SQLite), `souk serve <service>` (one service on PostgreSQL and NATS), `souk emulator` (the
//! local AWS Marketplace) — and the client commands that talk to a running Souk.

mod args;
mod client;
mod config;
mod emulator_control;
mod exit;
mod logging;
mod run;

use clap::Parser;

use anyhow::Context;
use args::{Cli, Command, OutputFormat};
use config::LogFormat;

fn main() -> std::process::ExitCode {
    // Clap exits 2 on a bad command line itself (`exit::Kind::Usage`).
    let cli = Cli::parse();
    let output = cli.command.output();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime");
    let result = match runtime {
        Ok(runtime) => runtime.block_on(dispatch(cli)),
        Err(error) => Err(error),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // Under `--output json` the error is the one JSON document on stdout, so a script
            // parsing stdout always gets JSON; people get text on stderr.
            match output {
                OutputFormat::Json if exit::already_reported(&error) => {}
                OutputFormat::Json => println!("{}", exit::render_json(&error)),
                OutputFormat::Table => eprintln!("{}", exit::render_text(&error)),
            }
            std::process::ExitCode::from(exit::kind_of(&error).code())
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Dev(args) => {
            let config = load_config(&cli.config, LogFormat::Text)?;
            run::dev::run(config, args).await
        }
        Command::Serve(args) => {
            let config = load_config(&cli.config, LogFormat::Json)?;
            run::serve::run(config, args).await
        }
        Command::Emulator(args) => {
            let config = load_config(&cli.config, LogFormat::Text)?;
            run::emulator::run(args, config.log_level.as_str()).await
        }
        Command::Bootstrap { org_name } => {
            let config = load_config(&cli.config, LogFormat::Json)?;
            run::serve::bootstrap(config, &org_name).await
        }
        Command::Org(command) => client::org::run(command).await,
        Command::Integration(command) => client::integration::run(command).await,
        Command::Key(command) => client::keys::run(command).await,
        Command::Customer(command) => client::customers::run(command).await,
        Command::Subscription(command) => client::customers::run_subscription(command).await,
        Command::Agreement(command) => client::customers::run_agreement(command).await,
        Command::Entitlement(command) => client::entitlements::run(command).await,
        Command::Plan(command) => client::plans::run(command).await,
        Command::Fulfilment(command) => client::fulfilment::run(command).await,
        Command::Sandbox(command) => client::sandbox::run(command).await,
        Command::Usage(command) => client::usage::run(command).await,
        Command::Meter(command) => client::meters::run(command).await,
        Command::Offer(command) => client::offers::run(command).await,
        Command::Report(command) => client::reports::run(command).await,
        Command::Events(command) => client::events::run(command).await,
    }
}

/// Loads the configuration and starts logging with it (in `default_format` unless configured:
/// text for `souk dev`, JSON lines for the production commands); errors name the bad setting.
fn load_config(
    file: &Option<std::path::PathBuf>,
    default_format: LogFormat,
) -> anyhow::Result<config::Config> {
    let config = config::Config::load(file.as_deref())
        .map_err(|error| exit::Failure::new(exit::Kind::Usage, format!("{error:#}")))?;
    logging::init(
        config.log_format.unwrap_or(default_format),
        &config.log_level,
    );
    Ok(config)
}
