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
    /// Customers: the AWS Marketplace buyers of your products.
    #[command(subcommand)]
    Customer(CustomerCommand),
    /// Customers' subscriptions to products, as AWS notifications describe them.
    #[command(subcommand)]
    Subscription(SubscriptionCommand),
    /// AWS Marketplace agreements (contracts created when a buyer accepts an offer).
    #[command(subcommand)]
    Agreement(AgreementCommand),
    /// Customers' contract entitlements and features; ask whether a customer may use a feature.
    #[command(subcommand)]
    Entitlement(EntitlementCommand),
    /// Plans: which AWS dimensions put a customer on a plan, and the features it grants.
    #[command(subcommand)]
    Plan(PlanCommand),
    /// How buyers of an integration are fulfilled and how its notifications are accepted.
    #[command(subcommand)]
    Fulfilment(FulfilmentCommand),
    /// Play the buyer and the clock on the local AWS Marketplace emulator (its control API).
    #[command(subcommand)]
    Sandbox(SandboxCommand),
    /// Send usage and follow its hourly records to AWS BatchMeterUsage.
    #[command(subcommand)]
    Usage(UsageCommand),
    /// Meters: how a product dimension's usage events become the hourly quantity.
    #[command(subcommand)]
    Meter(MeterCommand),
    /// Private offers through the AWS Marketplace Catalog API.
    #[command(subcommand)]
    Offer(OfferCommand),
    /// Revenue from the AWS Marketplace Seller Data Feeds, and reading those feeds now.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Your organisation's lifecycle events (integrations, subscriptions, offers…) as they
    /// happen.
    #[command(subcommand)]
    Events(EventsCommand),
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
            Self::Customer(command) => command.client(),
            Self::Subscription(command) => command.client(),
            Self::Agreement(command) => command.client(),
            Self::Entitlement(command) => command.client(),
            Self::Plan(command) => command.client(),
            Self::Fulfilment(command) => command.client(),
            Self::Usage(command) => command.client(),
            Self::Meter(command) => command.client(),
            Self::Offer(command) => command.client(),
            Self::Events(command) => command.client(),
            Self::Report(command) => return command.output(),
            Self::Sandbox(command) => return command.emulator().output,
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

/// Connection options shared by client commands, and their `--output` format: `F` is the
/// formats the command offers (`table` and `json` unless it offers more, as
/// [`RevenueFormat`]; every one has `table`, the default).
#[derive(Debug, Args, Clone)]
pub struct ClientArgs<F = OutputFormat>
where
    F: ValueEnum + Clone + Send + Sync + 'static,
{
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
    #[arg(long, short, value_enum, default_value = "table", global = true)]
    pub output: F,
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

/// Subscription states on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SubscriptionStateArg {
    /// AWS confirmed the subscription.
    Active,
    /// The buyer arrived but AWS has not confirmed the subscription yet.
    Pending,
    /// AWS reported the subscription failed.
    Failed,
    /// The buyer is cancelling; the final usage can still be sent.
    #[value(name = "cancel_pending", alias = "cancel-pending")]
    CancelPending,
    /// The subscription ended.
    Cancelled,
}

/// Agreement statuses on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AgreementStatusArg {
    /// In force.
    Active,
    /// Ended early by AWS or the seller.
    Terminated,
    /// Cancelled by the buyer.
    Cancelled,
    /// Reached its end date without renewal.
    Expired,
    /// Replaced by another agreement.
    Replaced,
    /// Renewed into another agreement.
    Renewed,
    /// Archived by AWS.
    Archived,
    /// Rolled back by AWS.
    #[value(name = "rolled_back", alias = "rolled-back")]
    RolledBack,
    /// Superseded by another agreement.
    Superseded,
}

/// `souk customer …`.
#[derive(Debug, Subcommand)]
pub enum CustomerCommand {
    /// List customers, oldest first (filters combine).
    List {
        /// Only customers of this integration (`int_…`).
        #[arg(long, value_name = "INT_ID")]
        integration: Option<String>,
        /// Only customers of this product code.
        #[arg(long, value_name = "CODE")]
        product: Option<String>,
        /// Only the customer with this 12-digit AWS account id.
        #[arg(long, value_name = "ACCOUNT_ID")]
        aws_account: Option<String>,
        /// Only the customer with this legacy AWS CustomerIdentifier.
        #[arg(long, value_name = "ID")]
        customer_identifier: Option<String>,
        /// Only the customer linked to this id of yours (`souk customer link`).
        #[arg(long, value_name = "ID")]
        external_id: Option<String>,
        /// Only customers whose subscription is in this state.
        #[arg(long, value_enum)]
        state: Option<SubscriptionStateArg>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Show one customer.
    Get {
        /// Customer id (`cus_…`).
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Attach your own account id to a customer, so checks and usage can name the customer by
    /// it; `--unlink` removes it.
    Link {
        /// Customer id (`cus_…`).
        id: String,
        /// Your account id for this customer (not a `cus_…` id nor a 12-digit AWS account id).
        #[arg(required_unless_present = "unlink", conflicts_with = "unlink")]
        external_id: Option<String>,
        /// Remove the link.
        #[arg(long)]
        unlink: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
}

impl CustomerCommand {
    /// The connection options.
    pub fn client(&self) -> &ClientArgs {
        match self {
            Self::List { client, .. } | Self::Get { client, .. } | Self::Link { client, .. } => {
                client
            }
        }
    }
}

/// `souk subscription …`.
#[derive(Debug, Subcommand)]
pub enum SubscriptionCommand {
    /// List subscriptions, oldest first (filters combine).
    List {
        /// Only subscriptions of this integration (`int_…`).
        #[arg(long, value_name = "INT_ID")]
        integration: Option<String>,
        /// Only subscriptions in this state.
        #[arg(long, value_enum)]
        state: Option<SubscriptionStateArg>,
        /// Only subscriptions of this customer (`cus_…`).
        #[arg(long, value_name = "CUS_ID")]
        customer: Option<String>,
        /// Only subscriptions to this product code.
        #[arg(long, value_name = "CODE")]
        product: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Show one subscription.
    Get {
        /// Subscription id (`sub_…`).
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
}

impl SubscriptionCommand {
    /// The connection options.
    pub fn client(&self) -> &ClientArgs {
        match self {
            Self::List { client, .. } | Self::Get { client, .. } => client,
        }
    }
}

/// `souk agreement …`.
#[derive(Debug, Subcommand)]
pub enum AgreementCommand {
    /// List agreements, oldest first (filters combine).
    List {
        /// Only agreements of this integration (`int_…`).
        #[arg(long, value_name = "INT_ID")]
        integration: Option<String>,
        /// Only agreements of this customer (`cus_…`).
        #[arg(long, value_name = "CUS_ID")]
        customer: Option<String>,
        /// Only agreements from this AWS offer (`offer-…`).
        #[arg(long, value_name = "OFFER_ID")]
        offer: Option<String>,
        /// Only agreements in one of these statuses (repeatable).
        #[arg(long = "status", value_enum)]
        statuses: Vec<AgreementStatusArg>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Show one agreement.
    Get {
        /// AWS agreement id (`agmt-…`).
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
}

impl AgreementCommand {
    /// The connection options.
    pub fn client(&self) -> &ClientArgs {
        match self {
            Self::List { client, .. } | Self::Get { client, .. } => client,
        }
    }
}

/// `souk entitlement …`.
#[derive(Debug, Subcommand)]
pub enum EntitlementCommand {
    /// List a customer's contract entitlements (one per dimension), as last read from AWS.
    List {
        /// Customer id (`cus_…`).
        customer: String,
        /// Only this dimension.
        #[arg(long)]
        dimension: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Read the customers' entitlements from AWS now and report how many changed.
    Sync {
        /// The integration whose customers to read (`int_…`).
        #[arg(long, value_name = "INT_ID")]
        integration: String,
        /// Only this customer (`cus_…`); default every customer not cancelled.
        #[arg(long, value_name = "CUS_ID")]
        customer: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Ask whether a customer may use a feature now, and up to what limit. A refusal is an
    /// answer: the command still exits 0.
    Check {
        /// The customer: a `cus_…` id, a 12-digit AWS account id or your linked id.
        customer: String,
        /// Your feature name (an AWS dimension key when the product has no plans).
        feature: String,
        /// Quantity you want to use; refused when above the limit.
        #[arg(long)]
        quantity: Option<i64>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// List the features a customer has now (from its subscription, entitlements and plans).
    Features {
        /// Customer id (`cus_…`).
        customer: String,
        #[command(flatten)]
        client: ClientArgs,
    },
}

impl EntitlementCommand {
    /// The connection options.
    pub fn client(&self) -> &ClientArgs {
        match self {
            Self::List { client, .. }
            | Self::Sync { client, .. }
            | Self::Check { client, .. }
            | Self::Features { client, .. } => client,
        }
    }
}

/// How a plan grants one feature, as written on the command line (`--feature`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeatureGrant {
    /// `name`: on, without a limit.
    Boolean,
    /// `name=100`: up to a limit.
    Limit(i64),
    /// `name=unlimited`.
    Unlimited,
    /// `name=dimension:seats`: up to the customer's contract quantity of an AWS dimension.
    Dimension(String),
}

/// One feature of a plan: `name`, `name=100`, `name=unlimited` or `name=dimension:seats`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureSpec {
    /// The feature name.
    pub name: String,
    /// How it is granted.
    pub grant: FeatureGrant,
}

/// Parses a `--feature` value (see [`FeatureSpec`]).
pub fn parse_feature_spec(text: &str) -> Result<FeatureSpec, String> {
    const FORMS: &str = "use NAME, NAME=100, NAME=unlimited or NAME=dimension:KEY";
    let (name, value) = match text.split_once('=') {
        Some((name, value)) => (name.trim(), Some(value.trim())),
        None => (text.trim(), None),
    };
    if name.is_empty() {
        return Err(format!("the feature name is empty ({FORMS})"));
    }
    let grant = match value {
        None => FeatureGrant::Boolean,
        Some("unlimited") => FeatureGrant::Unlimited,
        Some(value) => match value.strip_prefix("dimension:") {
            Some("") => return Err(format!("the dimension is empty ({FORMS})")),
            Some(dimension) => FeatureGrant::Dimension(dimension.to_owned()),
            None => match value.parse::<i64>() {
                Ok(limit) if limit >= 0 => FeatureGrant::Limit(limit),
                _ => {
                    return Err(format!(
                        "{value:?} is not a limit (a whole number, 0 or more), `unlimited` or \
                         `dimension:KEY` ({FORMS})"
                    ));
                }
            },
        },
    };
    Ok(FeatureSpec {
        name: name.to_owned(),
        grant,
    })
}

/// `souk plan …`.
#[derive(Debug, Subcommand)]
pub enum PlanCommand {
    /// Create a plan for one product of an integration.
    Create(CreatePlanArgs),
    /// List plans, oldest first.
    List {
        /// Only plans of this integration (`int_…`).
        #[arg(long, value_name = "INT_ID")]
        integration: Option<String>,
        /// Only plans of this product code.
        #[arg(long, value_name = "CODE")]
        product: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Show one plan.
    Get {
        /// Plan id (`plan_…`).
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Change a plan's name, dimensions or features (a new version); every affected
    /// customer's features are derived again.
    Update(UpdatePlanArgs),
    /// Delete a plan; its customers' features are derived again.
    Delete {
        /// Plan id (`plan_…`).
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Add or replace one feature of a plan.
    SetFeature {
        /// Plan id (`plan_…`).
        id: String,
        /// The feature: NAME (on), NAME=100 (limit), NAME=unlimited or NAME=dimension:KEY
        /// (the customer's contract quantity of AWS dimension KEY).
        #[arg(value_parser = parse_feature_spec, value_name = "SPEC")]
        feature: FeatureSpec,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Remove one feature from a plan.
    RemoveFeature {
        /// Plan id (`plan_…`).
        id: String,
        /// The feature name.
        name: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Read an integration's products and dimensions from the AWS Marketplace Catalog and
    /// create one plan per dimension that has none yet.
    Import {
        /// Integration id (`int_…`).
        #[arg(long, value_name = "INT_ID")]
        integration: String,
        #[command(flatten)]
        client: ClientArgs,
    },
}

impl PlanCommand {
    /// The connection options.
    pub fn client(&self) -> &ClientArgs {
        match self {
            Self::Create(args) => &args.client,
            Self::Update(args) => &args.client,
            Self::List { client, .. }
            | Self::Get { client, .. }
            | Self::Delete { client, .. }
            | Self::SetFeature { client, .. }
            | Self::RemoveFeature { client, .. }
            | Self::Import { client, .. } => client,
        }
    }
}

/// `souk plan create`.
#[derive(Debug, Args)]
pub struct CreatePlanArgs {
    /// Integration id (`int_…`).
    #[arg(long, value_name = "INT_ID")]
    pub integration: String,
    /// Product code of one of the integration's products.
    #[arg(long, value_name = "CODE")]
    pub product: String,
    /// Plan key: lowercase letters, digits, `_` and `-`; unique per product.
    #[arg(long)]
    pub key: String,
    /// Display name (default: the key).
    #[arg(long)]
    pub name: Option<String>,
    /// AWS dimension key that puts a customer on the plan (repeatable; none: every active
    /// subscriber).
    #[arg(long = "dimension", value_name = "KEY")]
    pub dimensions: Vec<String>,
    /// A feature the plan grants (repeatable): NAME (on), NAME=100 (limit), NAME=unlimited or
    /// NAME=dimension:KEY (the customer's contract quantity of AWS dimension KEY).
    #[arg(long = "feature", value_parser = parse_feature_spec, value_name = "SPEC")]
    pub features: Vec<FeatureSpec>,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `souk plan update`: the name changes when given; dimensions and features are replaced as a
/// whole when any is given (or cleared with `--clear-…`).
#[derive(Debug, Args)]
pub struct UpdatePlanArgs {
    /// Plan id (`plan_…`).
    pub id: String,
    /// New display name.
    #[arg(long)]
    pub name: Option<String>,
    /// Replace the dimensions with these (repeatable).
    #[arg(
        long = "dimension",
        value_name = "KEY",
        conflicts_with = "clear_dimensions"
    )]
    pub dimensions: Vec<String>,
    /// Remove every dimension (every active subscriber is then on the plan).
    #[arg(long)]
    pub clear_dimensions: bool,
    /// Replace the features with these (repeatable; SPEC as in `plan create`).
    #[arg(
        long = "feature",
        value_parser = parse_feature_spec,
        value_name = "SPEC",
        conflicts_with = "clear_features"
    )]
    pub features: Vec<FeatureSpec>,
    /// Remove every feature.
    #[arg(long)]
    pub clear_features: bool,
    /// Apply only if the plan is at this version (exit 7 otherwise).
    #[arg(long, value_name = "N")]
    pub expected_version: Option<i64>,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `souk fulfilment …`.
#[derive(Debug, Subcommand)]
pub enum FulfilmentCommand {
    /// Show an integration's fulfilment settings and the URLs to give AWS.
    Get {
        /// Integration id (`int_…`).
        #[arg(long, value_name = "INT_ID")]
        integration: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Change an integration's fulfilment settings: only the options given change. Generated
    /// secrets are printed once.
    Update(UpdateFulfilmentArgs),
}

impl FulfilmentCommand {
    /// The connection options.
    pub fn client(&self) -> &ClientArgs {
        match self {
            Self::Get { client, .. } => client,
            Self::Update(args) => &args.client,
        }
    }
}

/// `souk fulfilment update`.
#[derive(Debug, Args)]
pub struct UpdateFulfilmentArgs {
    /// Integration id (`int_…`).
    #[arg(long, value_name = "INT_ID")]
    pub integration: String,
    /// Where to send the buyer after the fulfilment POST, with a signed hand-off (https, or http
    /// on loopback).
    #[arg(long, value_name = "URL", conflicts_with = "clear_signup_url")]
    pub signup_url: Option<String>,
    /// Remove the sign-up URL: buyers see Souk's hosted sign-up page.
    #[arg(long)]
    pub clear_signup_url: bool,
    /// Replace the accepted SNS topic ARNs with these (repeatable).
    #[arg(
        long = "sns-topic",
        value_name = "ARN",
        conflicts_with = "clear_sns_topics"
    )]
    pub sns_topics: Vec<String>,
    /// Accept the AWS Marketplace topics of the integration's products again (the default).
    #[arg(long)]
    pub clear_sns_topics: bool,
    /// Days before an entitlement expires on which to notify, comma-separated (e.g. 30,7,1).
    #[arg(long, value_delimiter = ',', value_name = "DAYS")]
    pub expiry_notice_days: Vec<i32>,
    /// Generate a new hand-off secret (the old one stops verifying at once).
    #[arg(long)]
    pub rotate_handoff_secret: bool,
    /// Generate a new EventBridge shared secret.
    #[arg(long)]
    pub rotate_eventbridge_secret: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `souk usage …`.
#[derive(Debug, Subcommand)]
pub enum UsageCommand {
    /// Record one usage event; prints whether it was recorded now or before (a duplicate) and
    /// the hour it counts towards.
    Record(RecordUsageArgs),
    /// Upload usage events from a CSV file (`-` for stdin) with the header
    /// idempotency_key,customer,dimension,quantity,timestamp and an optional tags column
    /// ("k=v;k2=v2"). Uploading a file again is safe: events already recorded are duplicates.
    Upload {
        /// The CSV file, or `-` for stdin.
        file: PathBuf,
        /// Events per chunk (one durable write each), 1 to 1000.
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=1000))]
        chunk: u32,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// List hourly records (one per customer, dimension and hour), newest hour first.
    List {
        /// Only this customer: a `cus_…` id, your linked id or a 12-digit AWS account id.
        #[arg(long)]
        customer: Option<String>,
        /// Only this dimension (AWS key or feature name).
        #[arg(long)]
        dimension: Option<String>,
        /// Only records in these statuses (repeatable or comma-separated).
        #[arg(long = "status", value_enum, value_delimiter = ',')]
        statuses: Vec<RecordStatusArg>,
        /// Records per page, 1 to 1000 (default 50).
        #[arg(long, value_name = "N")]
        page_size: Option<i32>,
        /// The next-page token a previous list printed.
        #[arg(long, value_name = "TOKEN")]
        page_token: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Count the hourly records per status, by integration and product, with the oldest hour
    /// not sent yet.
    Summary {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Send held records (AWS answered CustomerNotSubscribed) again; every held record when no
    /// id is given.
    Retry {
        /// Record ids (`hrec_…`).
        #[arg(value_name = "RECORD_ID")]
        ids: Vec<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
}

impl UsageCommand {
    /// The connection options.
    pub fn client(&self) -> &ClientArgs {
        match self {
            Self::Record(args) => &args.client,
            Self::Upload { client, .. }
            | Self::List { client, .. }
            | Self::Summary { client }
            | Self::Retry { client, .. } => client,
        }
    }
}

/// `souk usage record`.
#[derive(Debug, Args)]
pub struct RecordUsageArgs {
    /// The customer: a `cus_…` id, your linked id or a 12-digit AWS account id.
    #[arg(long)]
    pub customer: String,
    /// The AWS dimension key, or the feature name of its meter.
    #[arg(long)]
    pub dimension: String,
    /// Quantity, 0 to 2147483647 (the server explains anything else).
    #[arg(long, allow_negative_numbers = true)]
    pub quantity: i64,
    /// When the usage happened (RFC 3339, e.g. 2026-06-01T12:30:00Z); default now.
    #[arg(long, value_parser = parse_rfc3339, value_name = "TIME")]
    pub timestamp: Option<time::OffsetDateTime>,
    /// Idempotency key of the event; default a fresh UUID. Send the same key again to retry
    /// safely.
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// A cost-allocation tag of the whole quantity (repeatable).
    #[arg(long = "tag", value_parser = parse_tag, value_name = "KEY=VALUE")]
    pub tags: Vec<(String, String)>,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Hourly record statuses on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RecordStatusArg {
    /// The hour is open: events still count towards it.
    Open,
    /// Sealed; waits to be sent, or is being retried.
    Pending,
    /// AWS accepted it.
    Sent,
    /// AWS answered CustomerNotSubscribed; `souk usage retry` sends it again.
    Held,
    /// Refused for good.
    Failed,
    /// Its quantity was carried into a later hour.
    Carried,
}

/// `souk events …`.
#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Print the events as they are committed, one line each (one JSON object per line with
    /// `-o json`), until Ctrl-C or --count events. Starts with new events only unless
    /// --from-start or --cursor says otherwise.
    Tail(TailArgs),
}

impl EventsCommand {
    /// The connection options.
    pub fn client(&self) -> &ClientArgs {
        match self {
            Self::Tail(args) => &args.client,
        }
    }
}

/// `souk events tail`.
#[derive(Debug, Args)]
pub struct TailArgs {
    /// Only events whose type starts with this prefix, e.g. `subscription.` or
    /// `offer.accepted` (repeatable).
    #[arg(long = "type", value_name = "PREFIX")]
    pub types: Vec<String>,
    /// Start from the oldest event Souk holds instead of new events only.
    #[arg(long, conflicts_with = "cursor")]
    pub from_start: bool,
    /// Resume after the event of this cursor (each event's `cursor` under `-o json`; the table
    /// output prints the last one when it stops).
    #[arg(long, value_name = "CURSOR")]
    pub cursor: Option<String>,
    /// Stop after N events.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `souk offer …`.
#[derive(Debug, Subcommand)]
pub enum OfferCommand {
    /// Create a private offer from a YAML file (docs/offers.md, the offer file; examples in
    /// docs/examples/offers/).
    Create {
        /// The offer file.
        #[arg(long, short = 'f', value_name = "FILE")]
        file: PathBuf,
        /// Wait until AWS released or refused it, showing its progress.
        #[arg(long)]
        wait: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// List offers, newest first.
    List {
        /// Only offers in these states (draft, submitted, released, accepted, expired,
        /// cancelled, failed).
        #[arg(long = "state", value_name = "STATE")]
        states: Vec<String>,
        /// Only offers targeting this buyer account.
        #[arg(long, value_name = "ACCOUNT")]
        buyer: Option<String>,
        /// Only offers of this product (`prod-…`).
        #[arg(long, value_name = "PRODUCT_ID")]
        product: Option<String>,
        /// Only offers of these kinds (subscription, contract, contract_with_consumption,
        /// replacement, professional_services, ami, container, free_trial, channel_partner).
        #[arg(long = "kind", value_name = "KIND")]
        kinds: Vec<String>,
        /// Only offers buyers can accept until before this day (`YYYY-MM-DD`: before its
        /// start, 00:00 UTC) or instant (RFC 3339, for example `2027-01-31T12:00:00Z`).
        #[arg(long, value_name = "DATE")]
        expiring_before: Option<String>,
        #[arg(long)]
        page_size: Option<i32>,
        #[arg(long)]
        page_token: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Show one offer.
    Get {
        /// Souk offer id (`ofr_…`).
        id: String,
        /// Wait until AWS released or refused it, showing its progress.
        #[arg(long)]
        wait: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// End an offer now: nobody can accept it any more.
    Cancel {
        /// Souk offer id (`ofr_…`).
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Move a released offer's expiry date later.
    Extend {
        /// Souk offer id (`ofr_…`).
        id: String,
        /// The new last day to accept (`YYYY-MM-DD`).
        #[arg(long, value_name = "DATE")]
        expiry_date: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Import the released offers an integration's seller account made outside Souk.
    Import {
        /// The integration (`int_…`).
        #[arg(long, value_name = "INTEGRATION_ID")]
        integration: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Make a new offer from an existing one with changes, and submit it.
    Clone {
        /// Souk offer id (`ofr_…`) to copy.
        id: String,
        /// The new offer's buyers (repeat the option); default: the source's.
        #[arg(long = "buyer", value_name = "ACCOUNT")]
        buyers: Vec<String>,
        /// The new offer's expiry date (`YYYY-MM-DD`).
        #[arg(long, value_name = "DATE")]
        expiry_date: Option<String>,
        /// The new offer's name.
        #[arg(long)]
        name: Option<String>,
        /// A custom EULA document (https URL) for the new offer.
        #[arg(long, value_name = "URL", conflicts_with = "standard_eula")]
        custom_eula_url: Option<String>,
        /// The Standard Contract for AWS Marketplace in this version for the new offer.
        #[arg(long, value_name = "VERSION")]
        standard_eula: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Resale authorisations: let a channel partner resell a product (the seller's side of
    /// channel-partner private offers).
    #[command(subcommand)]
    Resale(ResaleCommand),
}

impl OfferCommand {
    /// The connection options.
    pub fn client(&self) -> &ClientArgs {
        match self {
            Self::Create { client, .. }
            | Self::List { client, .. }
            | Self::Get { client, .. }
            | Self::Cancel { client, .. }
            | Self::Extend { client, .. }
            | Self::Import { client, .. }
            | Self::Clone { client, .. } => client,
            Self::Resale(command) => command.client(),
        }
    }
}

/// `souk report …`.
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Read an integration's Seller Data Feed bucket now and show what was read.
    ///
    /// Reads the new and changed files (Souk also reads them on its own) and shows files, rows
    /// and rejected rows per feed, the totals, and the malformed rows parked. Reading the same
    /// files again changes nothing.
    Ingest {
        /// The integration (`int_…`); its data feed bucket must be set.
        #[arg(long, value_name = "INTEGRATION_ID")]
        integration: String,
        /// Read every file again, changed or not (rows already stored stay as they are).
        #[arg(long)]
        full_resync: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Billed revenue, AWS fees, refunds, net revenue, disbursements and tax of an integration.
    ///
    /// One row per currency and group asked for; amounts are exact and never converted.
    Revenue {
        /// The integration (`int_…`, one seller account).
        #[arg(long, value_name = "INTEGRATION_ID")]
        integration: String,
        /// Count from this day (`YYYY-MM-DD`: from 00:00 UTC) or instant (RFC 3339, for
        /// example `2027-01-31T12:00:00Z`); default: from the first billing event.
        #[arg(long, value_name = "DATE")]
        from: Option<String>,
        /// Count until before this day (`YYYY-MM-DD`: before 00:00 UTC, so exclusive) or
        /// instant (RFC 3339); default: now.
        #[arg(long, value_name = "DATE")]
        to: Option<String>,
        /// Group the rows by these, comma-separated or repeated (month, product, customer,
        /// offer); rows are always per currency.
        #[arg(
            long = "group-by",
            value_enum,
            value_delimiter = ',',
            value_name = "GROUP"
        )]
        group_by: Vec<RevenueGroupArg>,
        #[command(flatten)]
        filter: ReportFilterArgs,
        #[command(flatten)]
        client: ClientArgs<RevenueFormat>,
    },
    /// What AWS paid out (each payout with the invoices it settles) and what it still owes,
    /// with its age, per currency.
    Disbursements {
        /// The integration (`int_…`, one seller account).
        #[arg(long, value_name = "INTEGRATION_ID")]
        integration: String,
        /// Payouts from this day (`YYYY-MM-DD`: from 00:00 UTC) or instant (RFC 3339).
        #[arg(long, value_name = "DATE")]
        from: Option<String>,
        /// Payouts until before this day or instant (exclusive).
        #[arg(long, value_name = "DATE")]
        to: Option<String>,
        /// With a filter: the payouts that settle matching invoices, each for that part.
        #[command(flatten)]
        filter: ReportFilterArgs,
        #[command(flatten)]
        client: ClientArgs<RevenueFormat>,
    },
    /// The billing events of an integration's `billing_event` feed, newest invoice first.
    ///
    /// Pages through the server's answers until --limit events are printed; amounts are exact
    /// decimals (`-o json`: integer micros).
    BillingEvents(BillingEventsArgs),
    /// Usage recorded through Souk per period, customer, product and dimension, and how much
    /// of it AWS accepted, refused or is still to receive.
    Usage(UsageReportArgs),
    /// Compare the usage Souk shipped with the usage AWS billed, per month, buyer, product and
    /// dimension, with the likely cause of every difference.
    ///
    /// Whole months; by default the last 12. Matched rows are left out unless --all.
    Reconcile(ReconcileArgs),
    /// Print a signed link to the integration's revenue page, to open in a browser.
    ///
    /// The page (served on the HTTP port) charts revenue and disbursements per month and
    /// currency and lists the top customers and the totals. The link works without an API key
    /// until it expires: share it only with who may see the revenue.
    Page(ReportPageArgs),
    /// Channel-partner (CPPO) sales: per agreement and currency, the buyer price and the
    /// reseller's, the software vendor's and AWS's shares.
    ///
    /// A feed shows only its owner's side: see docs/reporting.md for what stays 0.
    Partners(PartnersArgs),
    /// Contracts (agreements with a start and an end) with their total contract value, renewal
    /// date, ARR and MRR, and the totals per currency.
    Contracts(ContractsArgs),
}

impl ReportCommand {
    /// The `--output` format errors are printed in (`csv` prints them as text on stderr).
    pub fn output(&self) -> OutputFormat {
        match self {
            Self::Ingest { client, .. } | Self::Page(ReportPageArgs { client, .. }) => {
                client.output
            }
            Self::Revenue { client, .. } | Self::Disbursements { client, .. } => {
                client.output.into()
            }
            Self::BillingEvents(BillingEventsArgs { client, .. })
            | Self::Partners(PartnersArgs { client, .. })
            | Self::Contracts(ContractsArgs { client, .. })
            | Self::Usage(UsageReportArgs { client, .. })
            | Self::Reconcile(ReconcileArgs { client, .. }) => client.output.into(),
        }
    }
}

/// The arguments of `souk report billing-events`.
#[derive(Debug, Clone, Args)]
pub struct BillingEventsArgs {
    /// The integration (`int_…`, one seller account).
    #[arg(long, value_name = "INTEGRATION_ID")]
    pub integration: String,
    /// Events invoiced (payouts: paid) from this day on (`YYYY-MM-DD`, from 00:00 UTC).
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// Events invoiced before this day (`YYYY-MM-DD`, exclusive).
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// Only this action; repeat for several.
    #[arg(long = "action", value_enum, value_name = "ACTION")]
    pub actions: Vec<BillingActionArg>,
    /// Only this transaction type (for example SELLER_REV_SHARE); repeat for several.
    #[arg(long = "type", value_name = "TRANSACTION_TYPE")]
    pub types: Vec<String>,
    /// Only events of this buyer (12-digit AWS account id).
    #[arg(long, value_name = "AWS_ACCOUNT_ID")]
    pub customer: Option<String>,
    /// Only events of this product (`prod-…`).
    #[arg(long, value_name = "PRODUCT_ID")]
    pub product: Option<String>,
    /// Print at most this many events (0: all).
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub limit: u64,
    #[command(flatten)]
    pub client: ClientArgs<RevenueFormat>,
}

/// The arguments of `souk report usage`.
#[derive(Debug, Clone, Args)]
pub struct UsageReportArgs {
    /// First day (`YYYY-MM-DD`, from 00:00 UTC).
    #[arg(long, value_name = "DATE")]
    pub from: String,
    /// Day before which the report stops (`YYYY-MM-DD`, exclusive).
    #[arg(long, value_name = "DATE")]
    pub to: String,
    /// Row per day or per month.
    #[arg(long, value_enum, default_value_t = GranularityArg::Month)]
    pub by: GranularityArg,
    /// Only usage shipped through this integration (`int_…`).
    #[arg(long, value_name = "INTEGRATION_ID")]
    pub integration: Option<String>,
    /// Only this customer (`cus_…`).
    #[arg(long, value_name = "CUSTOMER_ID")]
    pub customer: Option<String>,
    /// Only this product code.
    #[arg(long = "product-code", value_name = "CODE")]
    pub product_code: Option<String>,
    /// Only this dimension.
    #[arg(long, value_name = "DIMENSION")]
    pub dimension: Option<String>,
    #[command(flatten)]
    pub client: ClientArgs<RevenueFormat>,
}

/// The arguments of `souk report reconcile`.
#[derive(Debug, Clone, Args)]
pub struct ReconcileArgs {
    /// The integration (`int_…`, one seller account).
    #[arg(long, value_name = "INTEGRATION_ID")]
    pub integration: String,
    /// From the month of this day (`YYYY-MM-DD`) or instant (RFC 3339).
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// Until before this day or instant (its month included when it is not the 1st).
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// Only this product code; repeat for several.
    #[arg(long = "product-code", value_name = "CODE")]
    pub product_codes: Vec<String>,
    /// Only this buyer (12-digit AWS account id); repeat for several.
    #[arg(long = "customer", value_name = "AWS_ACCOUNT_ID")]
    pub customers: Vec<String>,
    /// List the rows that match too.
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub client: ClientArgs<RevenueFormat>,
}

/// The arguments of `souk report page`.
#[derive(Debug, Clone, Args)]
pub struct ReportPageArgs {
    /// The integration (`int_…`, one seller account).
    #[arg(long, value_name = "INTEGRATION_ID")]
    pub integration: String,
    /// First day shown (`YYYY-MM-DD`, from 00:00 UTC); default: the first billing event.
    #[arg(long, value_name = "DATE")]
    pub start: Option<String>,
    /// Day before which the page stops (`YYYY-MM-DD`, exclusive); default: now.
    #[arg(long, value_name = "DATE")]
    pub end: Option<String>,
    /// How long the link works (e.g. 15m, 1h, 8h; at most 24h).
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
    pub expires_in: u64,
    /// The base URL of the server's HTTP port, where the page is served.
    #[arg(
        long,
        env = "SOUK_HTTP_URL",
        default_value = "http://127.0.0.1:8080",
        value_name = "URL"
    )]
    pub http_url: String,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// The arguments of `souk report partners`.
#[derive(Debug, Clone, Args)]
pub struct PartnersArgs {
    /// The integration (`int_…`, one seller account: the vendor's or the reseller's).
    #[arg(long, value_name = "INTEGRATION_ID")]
    pub integration: String,
    /// Invoices from this day (`YYYY-MM-DD`: from 00:00 UTC) or instant (RFC 3339).
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// Invoices until before this day or instant (exclusive).
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    #[command(flatten)]
    pub filter: ReportFilterArgs,
    #[command(flatten)]
    pub client: ClientArgs<RevenueFormat>,
}

/// The arguments of `souk report contracts`.
#[derive(Debug, Clone, Args)]
pub struct ContractsArgs {
    /// The integration (`int_…`, one seller account).
    #[arg(long, value_name = "INTEGRATION_ID")]
    pub integration: String,
    /// The contracts active at this day (`YYYY-MM-DD`: 00:00 UTC) or instant (RFC 3339);
    /// default: now.
    #[arg(long, value_name = "DATE")]
    pub at: Option<String>,
    /// List the contracts that ended or have not started then too.
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub filter: ReportFilterArgs,
    #[command(flatten)]
    pub client: ClientArgs<RevenueFormat>,
}

/// Which billing events a report counts (`souk report revenue`, `disbursements`, ...): each
/// flag repeatable (any of its values), the flags combined (all of them).
#[derive(Debug, Clone, Default, Args)]
pub struct ReportFilterArgs {
    /// Only this product (`prod-…`).
    #[arg(long = "product", value_name = "PRODUCT_ID")]
    pub products: Vec<String>,
    /// Only this product code.
    #[arg(long = "product-code", value_name = "CODE")]
    pub product_codes: Vec<String>,
    /// Only this buyer (12-digit AWS account id).
    #[arg(long = "customer", value_name = "AWS_ACCOUNT_ID")]
    pub customers: Vec<String>,
    /// Only this offer (`offer-…`).
    #[arg(long = "offer", value_name = "OFFER_ID")]
    pub offers: Vec<String>,
    /// Only this agreement (`agmt-…`).
    #[arg(long = "agreement", value_name = "AGREEMENT_ID")]
    pub agreements: Vec<String>,
    /// Only the sales of this channel partner (12-digit AWS account id).
    #[arg(long = "reseller", value_name = "AWS_ACCOUNT_ID")]
    pub resellers: Vec<String>,
}

/// The rows of `souk report usage --by`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GranularityArg {
    /// One row per UTC day.
    Day,
    /// One row per calendar month (UTC).
    Month,
}

/// A billing event's action, for `souk report billing-events --action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BillingActionArg {
    /// The buyer was invoiced.
    Invoiced,
    /// An invoice was forgiven.
    Forgiven,
    /// Money was paid out to the seller.
    Disbursed,
}

/// How `souk report revenue` prints its rows: the formats of every client command, and CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum RevenueFormat {
    /// Human-readable tables, amounts as decimals.
    #[default]
    Table,
    /// One JSON document, amounts in integer micros.
    Json,
    /// RFC 4180 CSV with a header row, amounts as decimals.
    Csv,
}

impl From<RevenueFormat> for OutputFormat {
    /// JSON stays JSON; a failure under `csv` is reported as text on stderr (stdout is data).
    fn from(format: RevenueFormat) -> Self {
        match format {
            RevenueFormat::Json => Self::Json,
            RevenueFormat::Table | RevenueFormat::Csv => Self::Table,
        }
    }
}

/// `souk report revenue --group-by` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RevenueGroupArg {
    /// By calendar month (UTC).
    Month,
    /// By product.
    Product,
    /// By the buyer's AWS account.
    Customer,
    /// By offer.
    Offer,
}

/// `souk offer resale …`.
#[derive(Debug, Subcommand)]
pub enum ResaleCommand {
    /// Authorise a channel partner to resell a product, from a YAML file (docs/offers.md, the
    /// resale authorisation file; example in docs/examples/offers/resale-authorization.yaml).
    Create {
        /// The resale authorisation file.
        #[arg(long, short = 'f', value_name = "FILE")]
        file: PathBuf,
        /// Wait until AWS released or refused it, showing its progress.
        #[arg(long)]
        wait: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// List resale authorisations, newest first.
    List {
        /// Only those of this integration (`int_…`).
        #[arg(long, value_name = "INTEGRATION_ID")]
        integration: Option<String>,
        /// Only those for this product (`prod-…`).
        #[arg(long, value_name = "PRODUCT_ID")]
        product: Option<String>,
        /// Only those granted to this channel partner account.
        #[arg(long, value_name = "ACCOUNT")]
        reseller: Option<String>,
        #[arg(long)]
        page_size: Option<i32>,
        #[arg(long)]
        page_token: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Show one resale authorisation.
    Get {
        /// Souk id (`rsa_…`) or AWS id (`resaleauthz-…`).
        id: String,
        /// Wait until AWS released or refused it, showing its progress.
        #[arg(long)]
        wait: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
}

impl ResaleCommand {
    /// The connection options.
    pub fn client(&self) -> &ClientArgs {
        match self {
            Self::Create { client, .. } | Self::List { client, .. } | Self::Get { client, .. } => {
                client
            }
        }
    }
}

/// `souk meter …`.
#[derive(Debug, Subcommand)]
pub enum MeterCommand {
    /// Create or replace the meter of a product dimension.
    Put(PutMeterArgs),
    /// List the meters, by product and dimension.
    List {
        /// Only meters of this product code.
        #[arg(long, value_name = "CODE")]
        product: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
}

impl MeterCommand {
    /// The connection options.
    pub fn client(&self) -> &ClientArgs {
        match self {
            Self::Put(args) => &args.client,
            Self::List { client, .. } => client,
        }
    }
}

/// `souk meter put`.
#[derive(Debug, Args)]
pub struct PutMeterArgs {
    /// Product code.
    #[arg(long, value_name = "CODE")]
    pub product: String,
    /// The AWS dimension key.
    #[arg(long, value_name = "KEY")]
    pub dimension: String,
    /// Your name for the dimension, accepted in usage events in place of the key.
    #[arg(long, value_name = "NAME")]
    pub feature: Option<String>,
    /// How an hour's events become its quantity.
    #[arg(long, value_enum, default_value_t = AggregationArg::Sum)]
    pub aggregation: AggregationArg,
    /// For unique-count: the event attribute whose distinct values are counted.
    #[arg(long, value_name = "NAME")]
    pub attribute: Option<String>,
    /// Ship a zero record for every hour an active subscriber has no usage.
    #[arg(long)]
    pub zero_fill: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Meter aggregations on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AggregationArg {
    /// The sum of the quantities.
    Sum,
    /// The number of events.
    Count,
    /// The largest quantity.
    Max,
    /// The quantity of the latest event.
    Latest,
    /// The number of distinct values of --attribute.
    #[value(name = "unique-count", alias = "unique_count")]
    UniqueCount,
}

/// Parses an RFC 3339 instant (`2026-06-01T12:30:00Z`).
pub fn parse_rfc3339(text: &str) -> Result<time::OffsetDateTime, String> {
    time::OffsetDateTime::parse(text.trim(), &time::format_description::well_known::Rfc3339)
        .map_err(|_| format!("{text:?} is not an RFC 3339 time (e.g. 2026-06-01T12:30:00Z)"))
}

/// Parses a `KEY=VALUE` tag.
pub fn parse_tag(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_owned(), value.trim().to_owned()))
        }
        _ => Err(format!("{text:?} is not a tag: expected KEY=VALUE")),
    }
}

/// Options of `souk sandbox` commands: where the emulator is and how to print.
#[derive(Debug, Args, Clone)]
pub struct EmulatorClientArgs {
    /// The emulator's base URL (`souk dev --emulate-aws` and `souk emulator` listen on
    /// 127.0.0.1:4566).
    #[arg(
        long,
        env = "SOUK_EMULATOR_URL",
        default_value = "http://127.0.0.1:4566",
        global = true
    )]
    pub emulator_url: String,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t, global = true)]
    pub output: OutputFormat,
}

/// `souk sandbox …`.
#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Subscribe a buyer account to a product, as if it accepted the offer on AWS; prints the
    /// fulfilment request the buyer's browser would make (nothing is opened).
    Subscribe {
        /// Product code.
        #[arg(long, value_name = "CODE")]
        product: String,
        /// The buyer's 12-digit AWS account id.
        #[arg(long, value_name = "ACCOUNT_ID")]
        account: String,
        /// The offer accepted (`offer-…`).
        #[arg(long, value_name = "OFFER_ID")]
        offer_id: Option<String>,
        /// The offer has a free-trial term.
        #[arg(long)]
        free_trial: bool,
        #[command(flatten)]
        emulator: EmulatorClientArgs,
    },
    /// Unsubscribe a buyer: unsubscribe-pending now, unsubscribe-success one hour later on the
    /// emulator clock.
    Unsubscribe {
        /// Product code.
        #[arg(long, value_name = "CODE")]
        product: String,
        /// The buyer's 12-digit AWS account id.
        #[arg(long, value_name = "ACCOUNT_ID")]
        account: String,
        #[command(flatten)]
        emulator: EmulatorClientArgs,
    },
    /// Replace a buyer's contract entitlements (AWS then sends entitlement-updated).
    SetEntitlements(SetEntitlementsArgs),
    /// Move the emulator clock forward (90s, 15m, 2h, 3d, 1h30m) and apply what fell due.
    AdvanceClock {
        /// How far: whole numbers with units s, m, h, d, e.g. 2h or 1h30m.
        #[arg(value_parser = parse_duration, value_name = "DURATION")]
        by: u64,
        #[command(flatten)]
        emulator: EmulatorClientArgs,
    },
    /// Show the emulator's current time.
    Clock {
        #[command(flatten)]
        emulator: EmulatorClientArgs,
    },
    /// Show what the emulator billed: one metering record per customer, dimension and hour.
    Ledger {
        /// Only this product.
        #[arg(long)]
        product: Option<String>,
        /// Only this buyer account.
        #[arg(long)]
        account: Option<String>,
        /// Only this dimension.
        #[arg(long)]
        dimension: Option<String>,
        #[command(flatten)]
        emulator: EmulatorClientArgs,
    },
}

impl SandboxCommand {
    /// The emulator options.
    pub fn emulator(&self) -> &EmulatorClientArgs {
        match self {
            Self::SetEntitlements(args) => &args.emulator,
            Self::Subscribe { emulator, .. }
            | Self::Unsubscribe { emulator, .. }
            | Self::AdvanceClock { emulator, .. }
            | Self::Clock { emulator }
            | Self::Ledger { emulator, .. } => emulator,
        }
    }
}

/// `souk sandbox set-entitlements`.
#[derive(Debug, Args)]
pub struct SetEntitlementsArgs {
    /// Product code.
    #[arg(long, value_name = "CODE")]
    pub product: String,
    /// The buyer's 12-digit AWS account id.
    #[arg(long, value_name = "ACCOUNT_ID")]
    pub account: String,
    /// DIMENSION=VALUE (repeatable): an integer (seats=10), true/false, a decimal (ratio=1.5) or
    /// text (tier=gold; quote it to force text: code='"10"'). None removes every entitlement.
    #[arg(long = "value", value_parser = parse_dimension_value, value_name = "DIMENSION=VALUE")]
    pub values: Vec<DimensionValue>,
    /// When the contract ends (RFC 3339, e.g. 2027-01-01T00:00:00Z, or epoch seconds).
    #[arg(long, value_parser = parse_instant, value_name = "TIME")]
    pub expiration: Option<serde_json::Value>,
    #[command(flatten)]
    pub emulator: EmulatorClientArgs,
}

/// One `--value` of `sandbox set-entitlements`: a dimension and its typed JSON value.
#[derive(Debug, Clone, PartialEq)]
pub struct DimensionValue {
    /// The dimension key.
    pub dimension: String,
    /// An integer, boolean, (finite) number or string.
    pub value: serde_json::Value,
}

/// Parses `DIMENSION=VALUE`: integer, then `true`/`false`, then decimal, else text; a value in
/// double quotes is always text.
pub fn parse_dimension_value(text: &str) -> Result<DimensionValue, String> {
    use serde_json::Value;
    let Some((dimension, raw)) = text.split_once('=') else {
        return Err("expected DIMENSION=VALUE, e.g. seats=10".to_owned());
    };
    let dimension = dimension.trim();
    if dimension.is_empty() {
        return Err("the dimension is empty (expected DIMENSION=VALUE)".to_owned());
    }
    let value = if let Some(quoted) = raw
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
    {
        Value::from(quoted)
    } else if let Ok(integer) = raw.parse::<i64>() {
        Value::from(integer)
    } else if let Ok(boolean) = raw.parse::<bool>() {
        Value::from(boolean)
    } else if let Some(number) = raw
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
    {
        Value::Number(number)
    } else {
        Value::from(raw)
    };
    Ok(DimensionValue {
        dimension: dimension.to_owned(),
        value,
    })
}

/// Parses an instant for the emulator: RFC 3339 (kept as text) or epoch seconds (a number).
pub fn parse_instant(text: &str) -> Result<serde_json::Value, String> {
    if let Ok(seconds) = text.parse::<i64>() {
        return Ok(seconds.into());
    }
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(|_| text.into())
        .map_err(|_| {
            format!("{text:?} is neither RFC 3339 (2027-01-01T00:00:00Z) nor epoch seconds")
        })
}

/// Parses a duration such as `90s`, `15m`, `2h`, `3d` or `1h30m` into seconds.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let invalid = || format!("{text:?} is not a duration: use e.g. 90s, 15m, 2h, 3d or 1h30m");
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: u64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(invalid()),
        };
        let amount: u64 = digits.parse().map_err(|_| invalid())?;
        digits.clear();
        total = amount
            .checked_mul(unit)
            .and_then(|seconds| total.checked_add(seconds))
            .ok_or_else(|| format!("{text:?} is too long a duration"))?;
    }
    if !digits.is_empty() || text.trim().is_empty() {
        return Err(invalid());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn feature_specs() {
        let spec = |text| parse_feature_spec(text).map(|s| (s.name, s.grant));
        assert_eq!(spec("sso"), Ok(("sso".into(), FeatureGrant::Boolean)));
        assert_eq!(
            spec("api=100"),
            Ok(("api".into(), FeatureGrant::Limit(100)))
        );
        assert_eq!(spec("api=0"), Ok(("api".into(), FeatureGrant::Limit(0))));
        assert_eq!(
            spec("storage=unlimited"),
            Ok(("storage".into(), FeatureGrant::Unlimited))
        );
        assert_eq!(
            spec("users=dimension:seats"),
            Ok(("users".into(), FeatureGrant::Dimension("seats".into())))
        );
        assert_eq!(
            spec("a:b.c=5"),
            Ok(("a:b.c".into(), FeatureGrant::Limit(5)))
        );
        assert!(spec("api=-1").is_err());
        assert!(spec("api=lots").is_err());
        assert!(spec("=5").is_err());
        assert!(spec("users=dimension:").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(90));
        assert_eq!(parse_duration("15m"), Ok(900));
        assert_eq!(parse_duration("2h"), Ok(7200));
        assert_eq!(parse_duration("3d"), Ok(259_200));
        assert_eq!(parse_duration("1h30m"), Ok(5400));
        assert_eq!(parse_duration("1d2h3m4s"), Ok(93_784));
        for bad in [
            "",
            "90",
            "h",
            "2x",
            "1h30",
            "-1h",
            "1.5h",
            "99999999999999999999d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn dimension_values_are_typed() {
        use serde_json::json;
        let value = |text| parse_dimension_value(text).map(|v| (v.dimension, v.value));
        assert_eq!(value("seats=10"), Ok(("seats".into(), json!(10))));
        assert_eq!(value("premium=true"), Ok(("premium".into(), json!(true))));
        assert_eq!(value("ratio=1.5"), Ok(("ratio".into(), json!(1.5))));
        assert_eq!(value("tier=gold"), Ok(("tier".into(), json!("gold"))));
        assert_eq!(value("code=\"10\""), Ok(("code".into(), json!("10"))));
        assert_eq!(value("note=a=b"), Ok(("note".into(), json!("a=b"))));
        assert_eq!(value("odd=nan"), Ok(("odd".into(), json!("nan"))));
        assert!(value("seats").is_err());
        assert!(value("=10").is_err());
    }

    #[test]
    fn instants() {
        assert_eq!(
            parse_instant("2027-01-01T00:00:00Z"),
            Ok(serde_json::json!("2027-01-01T00:00:00Z"))
        );
        assert_eq!(
            parse_instant("1798761600"),
            Ok(serde_json::json!(1_798_761_600))
        );
        assert!(parse_instant("2027-01-01").is_err());
    }

    #[test]
    fn new_commands_parse() {
        let parse = |line: &str| Cli::try_parse_from(line.split_whitespace());
        let cli = parse("souk customer list --state cancel_pending --output json").unwrap();
        assert_eq!(cli.command.output(), OutputFormat::Json);
        assert!(parse("souk customer link cus_1").is_err());
        assert!(parse("souk customer link cus_1 acct-7 --unlink").is_err());
        assert!(parse("souk customer link cus_1 --unlink").is_ok());
        assert!(
            parse("souk plan create --integration int_1 --product p --key pro --feature sso --feature api=10")
                .is_ok()
        );
        assert!(parse("souk plan set-feature plan_1 api=many").is_err());
        assert!(parse("souk plan update plan_1 --feature a --clear-features").is_err());
        let Command::Fulfilment(FulfilmentCommand::Update(update)) =
            parse("souk fulfilment update --integration int_1 --expiry-notice-days 30,7,1")
                .unwrap()
                .command
        else {
            panic!("not fulfilment update");
        };
        assert_eq!(update.expiry_notice_days, [30, 7, 1]);
        assert!(
            parse("souk fulfilment update --integration int_1 --signup-url https://x --clear-signup-url")
                .is_err()
        );
        let cli = parse("souk sandbox advance-clock 1h30m -o json").unwrap();
        assert_eq!(cli.command.output(), OutputFormat::Json);
        let Command::Sandbox(SandboxCommand::AdvanceClock { by, emulator }) = cli.command else {
            panic!("not advance-clock");
        };
        assert_eq!(by, 5400);
        assert!(emulator.emulator_url.starts_with("http://"));
    }

    #[test]
    fn usage_and_meter_commands_parse() {
        let parse = |line: &str| Cli::try_parse_from(line.split_whitespace());
        let cli = parse(
            "souk usage record --customer cus_1 --dimension api --quantity 3 \
             --timestamp 2026-06-01T12:30:00Z --tag team=a --tag env=prod -o json",
        )
        .unwrap();
        assert_eq!(cli.command.output(), OutputFormat::Json);
        let Command::Usage(UsageCommand::Record(record)) = cli.command else {
            panic!("not usage record");
        };
        assert_eq!(record.tags.len(), 2);
        assert!(record.timestamp.is_some());
        assert!(
            parse(
                "souk usage record --customer c --dimension d --quantity 1 --timestamp 2026-06-01"
            )
            .is_err()
        );
        assert!(
            parse("souk usage record --customer c --dimension d --quantity 1 --tag x").is_err()
        );
        let Command::Usage(UsageCommand::List { statuses, .. }) =
            parse("souk usage list --status pending,held --status failed")
                .unwrap()
                .command
        else {
            panic!("not usage list");
        };
        assert_eq!(
            statuses,
            [
                RecordStatusArg::Pending,
                RecordStatusArg::Held,
                RecordStatusArg::Failed
            ]
        );
        assert!(parse("souk usage upload - --chunk 1000").is_ok());
        assert!(parse("souk usage upload usage.csv --chunk 0").is_err());
        assert!(parse("souk usage retry hrec_1 hrec_2").is_ok());
        assert!(parse("souk usage summary").is_ok());
        assert!(
            parse("souk meter put --product p --dimension users --aggregation unique-count --attribute user --zero-fill")
                .is_ok()
        );
        assert!(parse("souk meter put --product p --dimension d --aggregation avg").is_err());
        assert!(parse("souk meter list --product p").is_ok());
    }

    #[test]
    fn report_commands_parse() {
        let parse = |line: &str| Cli::try_parse_from(line.split_whitespace());
        let cli = parse("souk report ingest --integration int_1 --full-resync -o json").unwrap();
        assert_eq!(cli.command.output(), OutputFormat::Json);
        let Command::Report(ReportCommand::Ingest { full_resync, .. }) = cli.command else {
            panic!("not report ingest");
        };
        assert!(full_resync);
        assert!(parse("souk report ingest").is_err());
        assert!(parse("souk report ingest --integration int_1 --output csv").is_err());

        let cli = parse(
            "souk report revenue --integration int_1 --from 2026-01-01 --to 2026-07-01 \
             --group-by month,product --group-by customer --output csv",
        )
        .unwrap();
        // Failures under csv are text on stderr: stdout is data.
        assert_eq!(cli.command.output(), OutputFormat::Table);
        let Command::Report(ReportCommand::Revenue {
            group_by, client, ..
        }) = cli.command
        else {
            panic!("not report revenue");
        };
        assert_eq!(
            group_by,
            [
                RevenueGroupArg::Month,
                RevenueGroupArg::Product,
                RevenueGroupArg::Customer
            ]
        );
        assert_eq!(client.output, RevenueFormat::Csv);
        let cli = parse("souk report revenue --integration int_1").unwrap();
        assert_eq!(cli.command.output(), OutputFormat::Table);
        let cli = parse("souk report revenue --integration int_1 -o json").unwrap();
        assert_eq!(cli.command.output(), OutputFormat::Json);

        let error =
            parse("souk report revenue --integration int_1 --group-by month,week").unwrap_err();
        assert_eq!(error.exit_code(), 2);
        let text = error.to_string();
        assert!(text.contains("'week'"), "{text}");
        assert!(
            text.contains("[possible values: month, product, customer, offer]"),
            "{text}"
        );
        let error = parse("souk report revenue --integration int_1 -o yaml").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("[possible values: table, json, csv]")
        );
        // csv is for `report revenue` only: other commands still refuse it.
        assert!(parse("souk offer list -o csv").is_err());
    }

    #[test]
    fn report_filters_repeat_and_billing_events_take_their_flags() {
        let parse = |line: &str| Cli::try_parse_from(line.split_whitespace());
        let cli = parse(
            "souk report revenue --integration int_1 --product prod-a --product prod-b \
             --customer 444455556666 --reseller 777788889999 --product-code code \
             --offer offer-1 --agreement agmt-1",
        )
        .unwrap();
        let Command::Report(ReportCommand::Revenue { filter, .. }) = cli.command else {
            panic!("not report revenue");
        };
        assert_eq!(filter.products, ["prod-a", "prod-b"]);
        assert_eq!(filter.customers, ["444455556666"]);
        assert_eq!(filter.resellers, ["777788889999"]);
        assert_eq!(filter.product_codes, ["code"]);
        assert_eq!(filter.offers, ["offer-1"]);
        assert_eq!(filter.agreements, ["agmt-1"]);
        let cli =
            parse("souk report disbursements --integration int_1 --customer 444455556666").unwrap();
        let Command::Report(ReportCommand::Disbursements { filter, .. }) = cli.command else {
            panic!("not report disbursements");
        };
        assert_eq!(filter.customers, ["444455556666"]);

        let cli = parse(
            "souk report billing-events --integration int_1 --from 2026-11-01 --to 2026-12-01 \
             --action invoiced --action disbursed --type SELLER_REV_SHARE --customer 444455556666 \
             --product prod-a --limit 7 -o csv",
        )
        .unwrap();
        assert_eq!(cli.command.output(), OutputFormat::Table);
        let Command::Report(ReportCommand::BillingEvents(BillingEventsArgs {
            actions,
            types,
            limit,
            from,
            client,
            ..
        })) = cli.command
        else {
            panic!("not report billing-events");
        };
        assert_eq!(
            actions,
            [BillingActionArg::Invoiced, BillingActionArg::Disbursed]
        );
        assert_eq!(types, ["SELLER_REV_SHARE"]);
        assert_eq!(limit, 7);
        assert_eq!(from.as_deref(), Some("2026-11-01"));
        assert_eq!(client.output, RevenueFormat::Csv);
        assert!(parse("souk report billing-events --integration int_1 --action refunded").is_err());
    }
}
