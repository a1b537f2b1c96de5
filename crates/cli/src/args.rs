//! Command-line arguments.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Souk: a self-hosted AWS Marketplace control plane for SaaS sellers.
#[derive(Debug, Parser)]
#[command(name = "souk", version, about, propagate_version = true)]
pub struct Cli {
    /// Configuration file (TOML); `SOUK_*` environment variables override it.
    #[arg(long, global = true, env = "SOUK_CONFIG")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every service in one process on SQLite with the in-process event bus.
    Dev(DevArgs),
    /// Run one service against PostgreSQL (SOUK_DATABASE_URL) and NATS (SOUK_NATS_URL).
    Serve(ServeArgs),
    /// Run the local AWS Marketplace emulator.
    Emulator(EmulatorArgs),
    /// Create the first organisation and its admin API key in a fresh PostgreSQL deployment.
    Bootstrap {
        /// Name of the organisation.
        #[arg(long, default_value = "default")]
        org_name: String,
    },
    /// Manage organisations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Manage seller integrations (AWS seller accounts).
    #[command(subcommand)]
    Integration(IntegrationCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Key(KeyCommand),
}

impl Command {
    /// The `--output` format of a client command; `table` (text) for the others.
    pub fn output(&self) -> OutputFormat {
        let client = match self {
            Self::Org(OrgCommand::Create { client, .. } | OrgCommand::Get { client, .. }) => client,
            Self::Integration(command) => match command {
                IntegrationCommand::Create(args) => &args.client,
                IntegrationCommand::Update(args) => &args.client,
                IntegrationCommand::List { client }
                | IntegrationCommand::Get { client, .. }
                | IntegrationCommand::Verify { client, .. }
                | IntegrationCommand::Template { client, .. }
                | IntegrationCommand::Delete { client, .. } => client,
            },
            Self::Key(
                KeyCommand::Create { client, .. }
                | KeyCommand::List { client }
                | KeyCommand::Revoke { client, .. },
            ) => client,
            Self::Dev(_) | Self::Serve(_) | Self::Emulator(_) | Self::Bootstrap { .. } => {
                return OutputFormat::Table;
            }
        };
        client.output
    }
}

/// `souk dev`.
#[derive(Debug, Args)]
pub struct DevArgs {
    /// Where the SQLite files and the first API key live.
    #[arg(long, env = "SOUK_DATA_DIR", default_value = "./.souk")]
    pub data_dir: PathBuf,
    /// gRPC listen address (every service on one port).
    #[arg(long, env = "SOUK_GRPC_ADDR")]
    pub grpc_addr: Option<SocketAddr>,
    /// HTTP listen address (health, metrics, fulfilment page, webhooks).
    #[arg(long, env = "SOUK_HTTP_ADDR")]
    pub http_addr: Option<SocketAddr>,
    /// Run the AWS Marketplace emulator in-process and point a demo seller integration at it.
    #[arg(long)]
    pub emulate_aws: bool,
    /// Emulator listen address (with --emulate-aws).
    #[arg(long, env = "SOUK_EMULATOR_ADDR", default_value = "127.0.0.1:4566")]
    pub emulator_addr: SocketAddr,
}

/// The services `souk serve` can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ServiceName {
    /// Organisations, seller integrations, API keys.
    Integration,
    /// Fulfilment, customers, subscriptions, entitlements.
    Entitlement,
    /// Usage metering.
    Metering,
    /// Private offers.
    Offer,
    /// Data feeds and reports.
    Reporting,
}

impl ServiceName {
    /// The lowercase name, used for the PostgreSQL schema and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Integration => "integration",
            Self::Entitlement => "entitlement",
            Self::Metering => "metering",
            Self::Offer => "offer",
            Self::Reporting => "reporting",
        }
    }
}

/// `souk serve <service>`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The service to run.
    #[arg(value_enum)]
    pub service: ServiceName,
    /// gRPC listen address.
    #[arg(long, env = "SOUK_GRPC_ADDR")]
    pub grpc_addr: Option<SocketAddr>,
    /// HTTP listen address (health, metrics).
    #[arg(long, env = "SOUK_HTTP_ADDR")]
    pub http_addr: Option<SocketAddr>,
}

/// `souk emulator`.
#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// Listen address.
    #[arg(long, env = "SOUK_EMULATOR_ADDR", default_value = "127.0.0.1:4566")]
    pub listen: SocketAddr,
    /// Persist the emulator's state to this file so it survives restarts.
    #[arg(long)]
    pub state_file: Option<PathBuf>,
    /// How far in the past BatchMeterUsage accepts records, in hours (AWS: 6).
    #[arg(long, default_value_t = 6)]
    pub metering_window_hours: u64,
}

/// How client commands print results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum OutputFormat {
    /// Human-readable tables.
    #[default]
    Table,
    /// One JSON document.
    Json,
}

/// Connection options shared by client commands.
#[derive(Debug, Args, Clone)]
pub struct ClientArgs {
    /// The Souk gRPC endpoint.
    #[arg(
        long,
        env = "SOUK_SERVER",
        default_value = "http://127.0.0.1:50051",
        global = true
    )]
    pub server: String,
    /// API key (`souk_…`); defaults to the key `souk dev` saved in its data directory.
    #[arg(long, env = "SOUK_API_KEY", hide_env_values = true, global = true)]
    pub api_key: Option<String>,
    /// Extra CA certificate (PEM) to trust for an `https://` server, besides the system's.
    #[arg(long, env = "SOUK_CA_CERT", global = true)]
    pub ca_cert: Option<PathBuf>,
    /// Client certificate (PEM) for a server that requires one (mTLS).
    #[arg(long, env = "SOUK_CLIENT_CERT", global = true)]
    pub client_cert: Option<PathBuf>,
    /// Private key (PEM) of --client-cert.
    #[arg(long, env = "SOUK_CLIENT_KEY", global = true)]
    pub client_key: Option<PathBuf>,
    /// Where `souk dev` saved its first API key (used when --api-key is not given).
    #[arg(long, env = "SOUK_DATA_DIR", default_value = "./.souk", global = true)]
    pub data_dir: PathBuf,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t, global = true)]
    pub output: OutputFormat,
}

/// `souk org …`.
#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organisation (needs an admin key) and print its first API key.
    Create {
        /// Display name.
        name: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Show an organisation (your own by default).
    Get {
        /// Organisation id (`org_…`).
        id: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
}

/// `souk integration …`.
#[derive(Debug, Subcommand)]
pub enum IntegrationCommand {
    /// Register an AWS seller account (the role ARN can be set later with `update`).
    Create(CreateIntegrationArgs),
    /// Change an integration: only the fields given change. A new role or region sends it back
    /// to pending verification.
    Update(UpdateIntegrationArgs),
    /// List integrations.
    List {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Show one integration.
    Get {
        /// Integration id (`int_…`).
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Assume the integration's role and try one harmless call per API.
    Verify {
        /// Integration id (`int_…`).
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Print the CloudFormation template that creates the integration's role.
    Template {
        /// Integration id (`int_…`).
        id: String,
        /// Also create the SQS queue and SNS subscriptions / EventBridge rule.
        #[arg(long)]
        notifications: bool,
        /// Also create the Seller Data Feed bucket and KMS key.
        #[arg(long)]
        data_feed: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Delete an integration.
    Delete {
        /// Integration id (`int_…`).
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
}

/// `souk integration create`.
#[derive(Debug, Args)]
pub struct CreateIntegrationArgs {
    /// Display name.
    #[arg(long)]
    pub name: String,
    /// The IAM role Souk assumes in the seller account; may be left out and set later with
    /// `souk integration update --role-arn` once the onboarding stack created it.
    #[arg(long, default_value = "")]
    pub role_arn: String,
    /// AWS region of the seller's products.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// A SaaS product code (repeatable).
    #[arg(long = "product-code")]
    pub product_codes: Vec<String>,
    /// SQS queue URL receiving the marketplace notifications (repeatable).
    #[arg(long = "sqs-queue-url")]
    pub sqs_queue_urls: Vec<String>,
    /// Notifications arrive through an EventBridge rule.
    #[arg(long)]
    pub eventbridge: bool,
    /// S3 bucket receiving the Seller Data Feeds.
    #[arg(long, default_value = "")]
    pub data_feed_bucket: String,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `souk integration update`: each option names one field of UpdateIntegration; only the
/// fields given are sent (in the update mask).
#[derive(Debug, Args)]
pub struct UpdateIntegrationArgs {
    /// Integration id (`int_…`).
    pub id: String,
    /// New display name.
    #[arg(long)]
    pub name: Option<String>,
    /// New IAM role ARN; `--role-arn ""` clears it.
    #[arg(long)]
    pub role_arn: Option<String>,
    /// New AWS region.
    #[arg(long)]
    pub region: Option<String>,
    /// Replace the products with these SaaS product codes (repeatable; details of codes the
    /// integration already has are kept).
    #[arg(long = "product-code", conflicts_with = "clear_products")]
    pub product_codes: Vec<String>,
    /// Remove every product.
    #[arg(long)]
    pub clear_products: bool,
    /// Replace the SQS queue URLs with these (repeatable).
    #[arg(long = "sqs-queue-url", conflicts_with = "clear_sqs_queue_urls")]
    pub sqs_queue_urls: Vec<String>,
    /// Remove every SQS queue URL.
    #[arg(long)]
    pub clear_sqs_queue_urls: bool,
    /// Whether notifications arrive through an EventBridge rule.
    #[arg(long, value_name = "true|false")]
    pub eventbridge: Option<bool>,
    /// Whether notifications are delivered by SNS over HTTPS.
    #[arg(long, value_name = "true|false")]
    pub sns_https: Option<bool>,
    /// New Seller Data Feed bucket; `--data-feed-bucket ""` stops using data feeds.
    #[arg(long)]
    pub data_feed_bucket: Option<String>,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `souk key …`.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create an API key; the secret is printed once.
    Create {
        /// Display name.
        name: String,
        /// Scopes: admin, full, read-only, metering (repeatable; default full).
        #[arg(long = "scope", value_enum)]
        scopes: Vec<ScopeArg>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// List API keys.
    List {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Revoke an API key.
    Revoke {
        /// Key id (`key_…`).
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
}

/// API key scopes on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScopeArg {
    /// Everything, including creating organisations.
    Admin,
    /// Read and write the organisation's data.
    Full,
    /// Read only.
    ReadOnly,
    /// Send usage and read metering data.
    Metering,
}
