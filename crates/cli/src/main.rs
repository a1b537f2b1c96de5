//! `souk`: one binary for every way to run Souk — `souk dev` (everything in one process on
//! SQLite), `souk serve <service>` (one service on PostgreSQL and NATS), `souk emulator` (the
//! local AWS Marketplace) — and the client commands that talk to a running Souk.

mod args;
mod client;
mod config;
mod logging;
mod run;

use clap::Parser;

use args::{Cli, Command};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Dev(args) => {
            let config = load_config(&cli.config)?;
            run::dev::run(config, args).await
        }
        Command::Serve(args) => {
            let config = load_config(&cli.config)?;
            run::serve::run(config, args).await
        }
        Command::Emulator(args) => {
            let config = load_config(&cli.config)?;
            run::emulator::run(args, config.log_level.as_str()).await
        }
        Command::Bootstrap { org_name } => {
            let config = load_config(&cli.config)?;
            run::serve::bootstrap(config, &org_name).await
        }
        Command::Org(command) => client::org::run(command).await,
        Command::Integration(command) => client::integration::run(command).await,
        Command::Key(command) => client::keys::run(command).await,
    }
}

/// Loads the configuration and starts logging with it; errors name the bad setting.
fn load_config(file: &Option<std::path::PathBuf>) -> anyhow::Result<config::Config> {
    let config = config::Config::load(file.as_deref())?;
    logging::init(config.log_format, &config.log_level);
    Ok(config)
}
