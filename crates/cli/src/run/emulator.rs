//! `souk emulator`: the local AWS Marketplace on one HTTP listener.

use std::time::Duration;

use souk_emulator::{Emulator, EmulatorConfig};

use super::shutdown;
use crate::args::EmulatorArgs;

/// Runs the emulator until Ctrl-C / SIGTERM.
pub async fn run(args: EmulatorArgs, _log_level: &str) -> anyhow::Result<()> {
    if args.metering_window_hours == 0 {
        anyhow::bail!("--metering-window-hours must be at least 1");
    }
    let config = EmulatorConfig {
        metering_window: Duration::from_secs(args.metering_window_hours * 3600),
        state_file: args.state_file.clone(),
        ..EmulatorConfig::default()
    };
    let emulator = Emulator::load(config).map_err(|error| match &args.state_file {
        Some(path) => anyhow::anyhow!(
            "cannot load the emulator state from {}: {error}",
            path.display()
        ),
        None => anyhow::anyhow!("cannot start the emulator: {error}"),
    })?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|error| anyhow::anyhow!("cannot listen on {}: {error}", args.listen))?;
    let addr = listener.local_addr()?;
    souk_emulator::notify::set_public_url(&emulator, &format!("http://{addr}"));
    println!("souk emulator is running (control API under /_souk/, see docs/emulator.md)");
    println!("  emulator  http://{addr}");
    if let Some(path) = &args.state_file {
        println!("  state file {}", path.display());
    }
    println!("ready");
    emulator.serve(listener, shutdown::os_signal()).await?;
    println!("souk emulator stopped");
    Ok(())
}
