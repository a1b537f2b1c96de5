//! What the offer and reporting end-to-end tests share: gRPC channels, the emulator's control
//! API and clock, the CLI against a server, waiting for an offer's state, and a distributed
//! deployment (PostgreSQL, NATS, a separate `souk emulator` and `souk serve <service>`
//! processes sharing one environment).

use std::time::Duration;

use serde_json::Value;
use souk_e2e::{SoukProcess, http_get, http_request, souk};
use souk_proto::common::Date;
use souk_proto::offer as pb;
use souk_proto::offer::offer_service_client::OfferServiceClient;
use souk_testkit::db::TestDb;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// An authenticated offer service client.
pub type Offers = OfferServiceClient<InterceptedService<Channel, souk_e2e::Auth>>;

/// A channel to `grpc`.
pub async fn channel(grpc: &str) -> Channel {
    Channel::from_shared(grpc.to_owned())
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// A call of the emulator's control API that must succeed; its JSON answer.
pub async fn control(emulator: &str, method: &str, path: &str, body: Value) -> Value {
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let (status, text) = http_request(method, emulator, path, &body).await.unwrap();
    assert!((200..300).contains(&status), "{path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// The emulator's day `days` from now (its clock is the services' clock).
pub async fn day(emulator: &str, days: i64) -> Date {
    let (_, text) = http_get(emulator, "/_souk/clock").await.unwrap();
    let clock: Value = serde_json::from_str(&text).unwrap();
    let seconds = clock["epoch_seconds"].as_i64().unwrap();
    let at = time::OffsetDateTime::from_unix_timestamp(seconds + days * 86_400).unwrap();
    Date {
        year: at.year(),
        month: i32::from(u8::from(at.month())),
        day: i32::from(at.day()),
    }
}

/// `souk <args> --server <grpc> --api-key <key>`, which must succeed.
pub async fn souk_ok(args: &[&str], grpc: &str, key: &str) -> souk_e2e::CliOutput {
    let mut all = args.to_vec();
    all.extend(["--server", grpc, "--api-key", key]);
    let out = souk(&all, &[]).await.unwrap();
    assert!(out.success, "souk {args:?}: {out:?}");
    out
}

/// Offer `id` once it reached `wanted` (within 30 s; a failed offer fails the test at once).
pub async fn wait_for(offers: &mut Offers, id: &str, wanted: pb::OfferState) -> pb::Offer {
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
        if wanted != pb::OfferState::Failed {
            assert_ne!(offer.state, pb::OfferState::Failed as i32, "{offer:?}");
        }
        last = Some(offer);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("offer {id} never reached {wanted:?}: {last:?}");
}

/// A distributed deployment: a fresh PostgreSQL database, NATS, a separate emulator whose
/// clock the services follow, and an organisation bootstrapped with an admin key.
pub struct Distributed {
    /// The database, dropped with the deployment.
    _db: TestDb,
    /// The emulator process, stopped with the deployment.
    _emulator: SoukProcess,
    /// Its URL.
    pub emulator_url: String,
    /// The organisation's admin API key.
    pub key: String,
    env: Vec<(&'static str, String)>,
}

impl Distributed {
    /// Starts the emulator and bootstraps organisation `org` with `extra` settings (and AWS
    /// credentials named after `org`) shared by every service started later.
    pub async fn start(org: &str, extra: &[(&'static str, &'static str)]) -> Self {
        let db = TestDb::postgres().await.unwrap();
        let emulator = SoukProcess::start(&["emulator", "--listen", "127.0.0.1:0"], &[])
            .await
            .unwrap();
        let emulator_url = emulator.endpoint("emulator").to_owned();
        let mut env: Vec<(&'static str, String)> = vec![
            ("SOUK_DATABASE_URL", db.url().to_owned()),
            ("SOUK_NATS_URL", souk_testkit::nats::url()),
            ("SOUK_AWS_ENDPOINT_URL", emulator_url.clone()),
            ("SOUK_CLOCK_SOURCE", "emulator".to_owned()),
            (
                "AWS_ACCESS_KEY_ID",
                format!("AKIDSOUK{}", org.to_uppercase()),
            ),
            ("AWS_SECRET_ACCESS_KEY", format!("{org}-secret")),
        ];
        env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let boot = souk(&["bootstrap", "--org-name", org], &pairs)
            .await
            .unwrap();
        assert!(boot.success, "{boot:?}");
        let key = boot
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("admin API key (shown once): "))
            .unwrap()
            .to_owned();
        Self {
            _db: db,
            _emulator: emulator,
            emulator_url,
            key,
            env,
        }
    }

    /// `souk serve <service>` on free ports with the deployment's settings.
    pub async fn serve(&self, service: &str) -> SoukProcess {
        let pairs: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        SoukProcess::start(
            &[
                "serve",
                service,
                "--grpc-addr",
                "127.0.0.1:0",
                "--http-addr",
                "127.0.0.1:0",
            ],
            &pairs,
        )
        .await
        .unwrap()
    }
}

/// `souk dev --emulate-aws` in a temporary data directory, with the environment its client
/// commands need.
pub struct Dev {
    /// The running `souk dev`.
    pub process: SoukProcess,
    dir: tempfile::TempDir,
    data_dir: String,
}

impl Dev {
    /// Starts it with the extra environment `envs`.
    pub async fn start(envs: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("souk").to_str().unwrap().to_owned();
        let process = souk_e2e::start_dev(&data_dir, true, envs).await;
        Self {
            process,
            dir,
            data_dir,
        }
    }

    /// A scratch directory beside the data directory.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The in-process emulator's URL.
    pub fn emulator(&self) -> &str {
        self.process.endpoint("emulator")
    }

    /// The HTTP port's URL.
    pub fn http(&self) -> &str {
        self.process.endpoint("http")
    }

    /// The gRPC port's URL.
    pub fn grpc(&self) -> &str {
        self.process.endpoint("grpc")
    }

    /// The admin API key `souk dev` wrote to its data directory.
    pub fn key(&self) -> String {
        std::fs::read_to_string(std::path::Path::new(&self.data_dir).join("api-key"))
            .unwrap()
            .trim()
            .to_owned()
    }

    /// The environment of a client command: the server, the data directory (the API key) and
    /// the emulator.
    pub fn env(&self) -> [(&str, &str); 3] {
        [
            ("SOUK_SERVER", self.process.endpoint("grpc")),
            ("SOUK_DATA_DIR", self.data_dir.as_str()),
            ("SOUK_EMULATOR_URL", self.emulator()),
        ]
    }

    /// `souk <args> --output json`, which must succeed.
    pub async fn cli(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["--output", "json"]);
        let output = souk(&all, &self.env()).await.unwrap();
        assert!(output.success, "souk {args:?}: {output:?}");
        output.json().unwrap()
    }
}
