//! Cross-service end-to-end tests: the real `souk` binary as a child process against real
//! PostgreSQL, NATS JetStream and the emulator. This library holds the process helpers.
//!
//! The binary is `target/<profile>/souk` next to the test executable (scripts/test.sh builds it
//! first), or the path in `SOUK_BIN`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

/// The `souk` binary under test.
pub fn souk_bin() -> anyhow::Result<PathBuf> {
    if let Ok(path) = std::env::var("SOUK_BIN") {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe()?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .context("unexpected test executable location")?;
    let bin = profile_dir.join("souk");
    if !bin.exists() {
        bail!(
            "{} does not exist: build it first with `cargo build -p souk` (scripts/test.sh does)",
            bin.display()
        );
    }
    Ok(bin)
}

/// A running `souk dev` or `souk serve` process; killed when dropped.
pub struct SoukProcess {
    child: Child,
    /// The addresses from the start-up banner (`grpc`, `http`, `emulator`), as URLs.
    pub endpoints: HashMap<String, String>,
    /// Every banner line up to `ready`.
    pub banner: Vec<String>,
    stdout: Option<tokio::io::Lines<BufReader<tokio::process::ChildStdout>>>,
}

impl SoukProcess {
    /// Starts `souk <args>` with `envs` and waits (60 s at most) for its `ready` line.
    pub async fn start(args: &[&str], envs: &[(&str, &str)]) -> anyhow::Result<Self> {
        let mut command = Command::new(souk_bin()?);
        command
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        command.env("SOUK_LOG_LEVEL", "warn");
        for (key, value) in envs {
            command.env(key, value);
        }
        let mut child = command.spawn().context("cannot start souk")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let mut banner = Vec::new();
        let mut endpoints = HashMap::new();
        let wait = async {
            while let Some(line) = lines.next_line().await? {
                if line == "ready" {
                    return Ok(());
                }
                let mut words = line.split_whitespace();
                if let (Some(name @ ("grpc" | "http" | "emulator")), Some(url)) =
                    (words.next(), words.next())
                {
                    endpoints.insert(name.to_owned(), url.to_owned());
                }
                banner.push(line);
            }
            bail!("souk exited before it was ready; output: {banner:?}")
        };
        tokio::time::timeout(Duration::from_secs(60), wait)
            .await
            .context("souk was not ready within 60 s")??;
        Ok(Self {
            child,
            endpoints,
            banner,
            stdout: Some(lines),
        })
    }

    /// The URL of endpoint `name` from the banner.
    pub fn endpoint(&self, name: &str) -> &str {
        self.endpoints.get(name).map_or("", String::as_str)
    }

    /// Sends SIGTERM and returns the exit status and the rest of stdout.
    pub async fn terminate(mut self) -> anyhow::Result<(std::process::ExitStatus, String)> {
        let pid = self.child.id().context("process already exited")?;
        let status = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await?;
        if !status.success() {
            bail!("kill -TERM {pid} failed");
        }
        let mut rest = String::new();
        if let Some(lines) = self.stdout.take() {
            lines.into_inner().read_to_string(&mut rest).await?;
        }
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .context("souk did not stop within 30 s of SIGTERM")??;
        Ok((status, rest))
    }
}

/// `souk dev` on ports chosen by the system with its data in `data_dir`, and with `emulate` the
/// emulator in-process (`--emulate-aws`); panics when it does not start.
pub async fn start_dev(data_dir: &str, emulate: bool, envs: &[(&str, &str)]) -> SoukProcess {
    let mut args = vec![
        "dev",
        "--data-dir",
        data_dir,
        "--grpc-addr",
        "127.0.0.1:0",
        "--http-addr",
        "127.0.0.1:0",
    ];
    if emulate {
        args.extend(["--emulate-aws", "--emulator-addr", "127.0.0.1:0"]);
    }
    match SoukProcess::start(&args, envs).await {
        Ok(process) => process,
        Err(error) => panic!("souk dev did not start: {error:#}"),
    }
}

/// The result of one client command.
#[derive(Debug)]
pub struct CliOutput {
    /// Whether it exited 0.
    pub success: bool,
    /// Its exit code (`None` when a signal ended it).
    pub code: Option<i32>,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

impl CliOutput {
    /// Parses stdout as JSON.
    pub fn json(&self) -> anyhow::Result<serde_json::Value> {
        serde_json::from_str(&self.stdout).with_context(|| {
            format!(
                "stdout is not JSON: {}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }
}

/// Runs `souk <args>` to completion (60 s at most).
pub async fn souk(args: &[&str], envs: &[(&str, &str)]) -> anyhow::Result<CliOutput> {
    let mut command = Command::new(souk_bin()?);
    command.args(args).kill_on_drop(true);
    for (key, value) in envs {
        command.env(key, value);
    }
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .context("souk command took more than 60 s")??;
    Ok(CliOutput {
        success: output.status.success(),
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

/// A plain HTTP/1.1 GET returning the status code and body.
pub async fn http_get(base_url: &str, path: &str) -> anyhow::Result<(u16, String)> {
    http_request("GET", base_url, path, "").await
}

/// A plain HTTP/1.1 request with a JSON body (empty for none), returning status and body.
pub async fn http_request(
    method: &str,
    base_url: &str,
    path: &str,
    json: &str,
) -> anyhow::Result<(u16, String)> {
    let authority = base_url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(authority).await?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{json}",
        json.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("not an HTTP response: {response:?}"))?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// The gRPC health status of `service` (empty for the whole server).
pub async fn grpc_health(grpc_url: &str, service: &str) -> anyhow::Result<i32> {
    let channel = tonic::transport::Endpoint::from_shared(grpc_url.to_owned())?
        .connect()
        .await?;
    let mut client = tonic_health::pb::health_client::HealthClient::new(channel);
    let response = client
        .check(tonic_health::pb::HealthCheckRequest {
            service: service.to_owned(),
        })
        .await?;
    Ok(response.into_inner().status)
}

/// Adds an API key (`authorization: Bearer …`) to every request of a gRPC client.
#[derive(Clone)]
pub struct Auth(tonic::metadata::MetadataValue<tonic::metadata::Ascii>);

impl tonic::service::Interceptor for Auth {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

/// The interceptor for API key `key` (a secret is ASCII).
pub fn auth(key: &str) -> Auth {
    Auth(
        format!("Bearer {key}")
            .parse()
            .expect("an API key is printable ASCII"),
    )
}
