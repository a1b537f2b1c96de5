//! The onboarding CloudFormation template: a least-privilege cross-account role trusting Souk
//! with the integration's ExternalId and, on request, the notification queue and the Seller Data
//! Feed bucket.

use super::model::Integration;
use super::validate::queue_arn;

/// AWS account that owns the Marketplace SNS topics (`aws-mp-subscription-notification-<code>`).
pub const DEFAULT_MARKETPLACE_TOPIC_ACCOUNT: &str = "287250355862";

/// IAM actions Souk calls, by API; the role policy grants exactly these.
pub const METERING_ACTIONS: &[&str] = &[
    "aws-marketplace:ResolveCustomer",
    "aws-marketplace:BatchMeterUsage",
];
/// Entitlement actions.
pub const ENTITLEMENT_ACTIONS: &[&str] = &["aws-marketplace:GetEntitlements"];
/// Catalog actions (private offers and product lookups).
pub const CATALOG_ACTIONS: &[&str] = &[
    "aws-marketplace:DescribeEntity",
    "aws-marketplace:ListEntities",
    "aws-marketplace:DescribeChangeSet",
    "aws-marketplace:ListChangeSets",
    "aws-marketplace:StartChangeSet",
    "aws-marketplace:CancelChangeSet",
];
/// Agreement actions.
pub const AGREEMENT_ACTIONS: &[&str] = &[
    "aws-marketplace:DescribeAgreement",
    "aws-marketplace:GetAgreementTerms",
    "aws-marketplace:SearchAgreements",
];
/// SQS actions on the notification queues.
pub const SQS_ACTIONS: &[&str] = &[
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
];

/// Settings of the Souk deployment that the template bakes in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateSettings {
    /// The principal the role trusts: Souk's IAM role/user ARN or account root ARN.
    pub souk_principal_arn: String,
    /// Owner account of the Marketplace SNS topics.
    pub marketplace_topic_account: String,
    /// Public HTTPS URL of Souk's SNS webhook, for `sns_https` integrations.
    pub sns_webhook_url: Option<String>,
}

/// What to include besides the role.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TemplateOptions {
    /// The notification queue and its SNS subscriptions or EventBridge rule.
    pub include_notifications: bool,
    /// The data feed bucket and KMS key.
    pub include_data_feed: bool,
}

/// A rendered template and how to deploy it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedTemplate {
    /// CloudFormation YAML.
    pub body: String,
    /// Suggested stack name.
    pub stack_name_hint: String,
    /// The deploy command line.
    pub launch_hint: String,
}

/// A YAML node. Strings are always double-quoted; `Raw` is written as is (intrinsic functions).
enum Y {
    Str(String),
    Raw(String),
    Map(Vec<(String, Y)>),
    List(Vec<Y>),
}

fn s(value: impl Into<String>) -> Y {
    Y::Str(value.into())
}

fn raw(value: impl Into<String>) -> Y {
    Y::Raw(value.into())
}

fn map<const N: usize>(entries: [(&str, Y); N]) -> Y {
    Y::Map(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

fn list(items: impl IntoIterator<Item = Y>) -> Y {
    Y::List(items.into_iter().collect())
}

fn strs(items: &[&str]) -> Y {
    list(items.iter().map(|a| s(*a)))
}

fn quote(value: &str) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "\"\"".into())
}

fn key(k: &str) -> String {
    if k.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        k.to_owned()
    } else {
        quote(k)
    }
}

fn scalar(node: &Y) -> Option<String> {
    match node {
        Y::Str(v) => Some(quote(v)),
        Y::Raw(v) => Some(v.clone()),
        Y::Map(m) if m.is_empty() => Some("{}".into()),
        Y::List(l) if l.is_empty() => Some("[]".into()),
        _ => None,
    }
}

fn emit(node: &Y, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match node {
        Y::Map(entries) => {
            for (k, v) in entries {
                match scalar(v) {
                    Some(text) => out.push_str(&format!("{pad}{}: {text}\n", key(k))),
                    None => {
                        out.push_str(&format!("{pad}{}:\n", key(k)));
                        emit(v, indent + 2, out);
                    }
                }
            }
        }
        Y::List(items) => {
            for item in items {
                match scalar(item) {
                    Some(text) => out.push_str(&format!("{pad}- {text}\n")),
                    None => {
                        let mut nested = String::new();
                        emit(item, indent + 2, &mut nested);
                        // Put the first line of the nested block after the dash.
                        out.push_str(&pad);
                        out.push_str("- ");
                        out.push_str(&nested[indent + 2..]);
                    }
                }
            }
        }
        other => {
            if let Some(text) = scalar(other) {
                out.push_str(&format!("{pad}{text}\n"));
            }
        }
    }
}

/// `Metadata` that suppresses checkov findings which do not apply, each with its reason, so a
/// seller's IaC scanner shows why rather than a failure.
fn checkov_skips(skips: &[(&str, &str)]) -> Y {
    let skips = skips
        .iter()
        .map(|(id, comment)| map([("id", s(*id)), ("comment", s(*comment))]));
    map([("checkov", map([("skip", list(skips))]))])
}

fn statement(sid: &str, actions: &[&str], resource: Y) -> Y {
    map([
        ("Sid", s(sid)),
        ("Effect", s("Allow")),
        ("Action", strs(actions)),
        ("Resource", resource),
    ])
}

fn topic_arn(kind: &str, product_code: &str) -> Y {
    raw(format!(
        "!Sub {}",
        quote(&format!(
            "arn:${{AWS::Partition}}:sns:us-east-1:${{MarketplaceTopicAccount}}:aws-mp-{kind}-notification-{product_code}"
        ))
    ))
}

/// A short, stable suffix of the integration id for resource names.
fn short_id(integration: &Integration) -> String {
    let id = integration.id.as_str();
    let tail: String = id
        .chars()
        .rev()
        .take(8)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    tail
}

/// Why the notification queues are encrypted with SSE-SQS, not a customer-managed KMS key.
const SQS_MANAGED_ENCRYPTION: (&str, &str) = (
    "CKV_AWS_27",
    "Encrypted at rest with SSE-SQS (SqsManagedSseEnabled); a customer-managed KMS key would need key-policy grants for the Marketplace SNS topics and EventBridge.",
);

/// Renders the onboarding template of `integration`.
pub fn render(
    integration: &Integration,
    options: TemplateOptions,
    settings: &TemplateSettings,
) -> RenderedTemplate {
    let notifications = &integration.notifications;
    let with_queue = options.include_notifications;
    let with_eventbridge = with_queue && notifications.eventbridge;
    let with_sns_queue =
        with_queue && !notifications.eventbridge && !integration.products.is_empty();
    let with_sns_https =
        with_queue && notifications.sns_https && settings.sns_webhook_url.is_some();
    let with_topics = with_sns_queue || with_sns_https;
    let with_bucket = options.include_data_feed;

    let mut parameters = vec![
        (
            "SoukPrincipalArn".to_owned(),
            map([
                ("Type", s("String")),
                ("Default", s(&settings.souk_principal_arn)),
                (
                    "Description",
                    s(
                        "The Souk principal (IAM role, user or account root ARN) allowed to assume the role.",
                    ),
                ),
            ]),
        ),
        (
            "ExternalId".to_owned(),
            map([
                ("Type", s("String")),
                ("Default", s(&integration.external_id)),
                ("AllowedPattern", s("^[\\w+=,.@:/-]{2,1224}$")),
                (
                    "Description",
                    s(
                        "The ExternalId Souk presents for this integration (confused-deputy protection). Do not change it.",
                    ),
                ),
            ]),
        ),
        (
            "RoleName".to_owned(),
            map([
                ("Type", s("String")),
                (
                    "Default",
                    s(format!("SoukMarketplaceAccess-{}", short_id(integration))),
                ),
                ("AllowedPattern", s("^[\\w+=,.@-]{1,64}$")),
                ("Description", s("Name of the IAM role Souk assumes.")),
            ]),
        ),
    ];
    if with_topics {
        parameters.push((
            "MarketplaceTopicAccount".to_owned(),
            map([
                ("Type", s("String")),
                ("Default", s(&settings.marketplace_topic_account)),
                ("AllowedPattern", s("^[0-9]{12}$")),
                (
                    "Description",
                    s("The AWS-owned account of the AWS Marketplace SNS topics."),
                ),
            ]),
        ));
        parameters.push((
            "SubscribeEntitlementTopics".to_owned(),
            map([
                ("Type", s("String")),
                ("Default", s("true")),
                ("AllowedValues", strs(&["true", "false"])),
                ("Description", s("Also subscribe to aws-mp-entitlement-notification topics (contract products only).")),
            ]),
        ));
    }

    // The role and its least-privilege policy.
    let mut statements = vec![
        statement("MarketplaceMetering", METERING_ACTIONS, s("*")),
        statement("MarketplaceEntitlement", ENTITLEMENT_ACTIONS, s("*")),
        statement("MarketplaceCatalog", CATALOG_ACTIONS, s("*")),
        statement("MarketplaceAgreement", AGREEMENT_ACTIONS, s("*")),
    ];
    let mut queue_resources: Vec<Y> = Vec::new();
    if with_queue {
        queue_resources.push(raw("!GetAtt NotificationQueue.Arn"));
    }
    for url in &notifications.sqs_queue_urls {
        if let Some(arn) = queue_arn(url) {
            queue_resources.push(s(arn));
        }
    }
    if !queue_resources.is_empty() {
        statements.push(statement(
            "NotificationQueue",
            SQS_ACTIONS,
            list(queue_resources),
        ));
    }
    if with_bucket {
        statements.push(statement(
            "DataFeedRead",
            &["s3:GetObject", "s3:ListBucket"],
            list([
                raw("!GetAtt DataFeedBucket.Arn"),
                raw("!Sub \"${DataFeedBucket.Arn}/*\""),
            ]),
        ));
        statements.push(statement(
            "DataFeedDecrypt",
            &["kms:Decrypt"],
            raw("!GetAtt DataFeedKey.Arn"),
        ));
    } else if !integration.data_feed_bucket.is_empty() {
        let bucket = &integration.data_feed_bucket;
        statements.push(statement(
            "DataFeedRead",
            &["s3:GetObject", "s3:ListBucket"],
            list([
                raw(format!(
                    "!Sub {}",
                    quote(&format!("arn:${{AWS::Partition}}:s3:::{bucket}"))
                )),
                raw(format!(
                    "!Sub {}",
                    quote(&format!("arn:${{AWS::Partition}}:s3:::{bucket}/*"))
                )),
            ]),
        ));
        statements.push(map([
            ("Sid", s("DataFeedDecrypt")),
            ("Effect", s("Allow")),
            ("Action", strs(&["kms:Decrypt"])),
            ("Resource", s("*")),
            (
                "Condition",
                map([(
                    "StringLike",
                    map([("kms:ViaService", s("s3.*.amazonaws.com"))]),
                )]),
            ),
        ]));
    }

    let trust = map([
        ("Version", s("2012-10-17")),
        (
            "Statement",
            list([map([
                ("Sid", s("TrustSoukWithExternalId")),
                ("Effect", s("Allow")),
                ("Principal", map([("AWS", raw("!Ref SoukPrincipalArn"))])),
                ("Action", s("sts:AssumeRole")),
                (
                    "Condition",
                    map([(
                        "StringEquals",
                        map([("sts:ExternalId", raw("!Ref ExternalId"))]),
                    )]),
                ),
            ])]),
        ),
    ]);
    let mut resources = vec![(
        "SoukRole".to_owned(),
        map([
            ("Type", s("AWS::IAM::Role")),
            (
                "Metadata",
                checkov_skips(&[(
                    "CKV_AWS_111",
                    "The AWS Marketplace actions support no resource-level permissions (Resource must be *); the policy grants exactly the actions Souk calls, SQS actions only on the notification queues.",
                )]),
            ),
            (
                "Properties",
                map([
                    ("RoleName", raw("!Ref RoleName")),
                    (
                        "Description",
                        s(format!("Souk access for integration {}", integration.id)),
                    ),
                    ("MaxSessionDuration", raw("3600")),
                    ("AssumeRolePolicyDocument", trust),
                    (
                        "Policies",
                        list([map([
                            ("PolicyName", s("SoukMarketplaceAccess")),
                            (
                                "PolicyDocument",
                                map([
                                    ("Version", s("2012-10-17")),
                                    ("Statement", Y::List(statements)),
                                ]),
                            ),
                        ])]),
                    ),
                ]),
            ),
        ]),
    )];

    let mut conditions = Vec::new();
    let mut rules = Vec::new();
    let mut outputs = vec![(
        "RoleArn".to_owned(),
        map([
            (
                "Description",
                s("ARN of the role; give it to Souk (UpdateIntegration role_arn)."),
            ),
            ("Value", raw("!GetAtt SoukRole.Arn")),
        ]),
    )];

    if with_queue {
        resources.push((
            "NotificationDeadLetterQueue".to_owned(),
            map([
                ("Type", s("AWS::SQS::Queue")),
                ("Metadata", checkov_skips(&[SQS_MANAGED_ENCRYPTION])),
                (
                    "Properties",
                    map([
                        ("MessageRetentionPeriod", raw("1209600")),
                        ("SqsManagedSseEnabled", raw("true")),
                    ]),
                ),
            ]),
        ));
        resources.push((
            "NotificationQueue".to_owned(),
            map([
                ("Type", s("AWS::SQS::Queue")),
                ("Metadata", checkov_skips(&[SQS_MANAGED_ENCRYPTION])),
                (
                    "Properties",
                    map([
                        ("MessageRetentionPeriod", raw("1209600")),
                        ("VisibilityTimeout", raw("60")),
                        ("SqsManagedSseEnabled", raw("true")),
                        (
                            "RedrivePolicy",
                            map([
                                (
                                    "deadLetterTargetArn",
                                    raw("!GetAtt NotificationDeadLetterQueue.Arn"),
                                ),
                                ("maxReceiveCount", raw("10")),
                            ]),
                        ),
                    ]),
                ),
            ]),
        ));
        outputs.push((
            "QueueUrl".to_owned(),
            map([
                (
                    "Description",
                    s("URL of the notification queue Souk polls."),
                ),
                ("Value", raw("!Ref NotificationQueue")),
            ]),
        ));

        let mut queue_statements = Vec::new();
        if with_sns_queue {
            let mut subscription_topics = Vec::new();
            let mut entitlement_topics = Vec::new();
            for product in &integration.products {
                subscription_topics.push(topic_arn("subscription", &product.product_code));
                entitlement_topics.push(topic_arn("entitlement", &product.product_code));
            }
            let mut all_topics = subscription_topics;
            all_topics.extend(entitlement_topics);
            queue_statements.push(map([
                ("Sid", s("MarketplaceTopics")),
                ("Effect", s("Allow")),
                ("Principal", map([("Service", s("sns.amazonaws.com"))])),
                ("Action", s("sqs:SendMessage")),
                ("Resource", raw("!GetAtt NotificationQueue.Arn")),
                (
                    "Condition",
                    map([("ArnEquals", map([("aws:SourceArn", Y::List(all_topics))]))]),
                ),
            ]));
        }
        if with_eventbridge {
            queue_statements.push(map([
                ("Sid", s("MarketplaceEvents")),
                ("Effect", s("Allow")),
                ("Principal", map([("Service", s("events.amazonaws.com"))])),
                ("Action", s("sqs:SendMessage")),
                ("Resource", raw("!GetAtt NotificationQueue.Arn")),
                (
                    "Condition",
                    map([(
                        "ArnEquals",
                        map([("aws:SourceArn", raw("!GetAtt MarketplaceEventsRule.Arn"))]),
                    )]),
                ),
            ]));
            resources.push((
                "MarketplaceEventsRule".to_owned(),
                map([
                    ("Type", s("AWS::Events::Rule")),
                    (
                        "Properties",
                        map([
                            ("Description", s("Forwards AWS Marketplace agreement, licence and catalog events to Souk's queue")),
                            ("State", s("ENABLED")),
                            ("EventPattern", map([("source", strs(&["aws.agreement-marketplace", "aws.marketplacecatalog"]))])),
                            (
                                "Targets",
                                list([map([("Id", s("SoukNotificationQueue")), ("Arn", raw("!GetAtt NotificationQueue.Arn"))])]),
                            ),
                        ]),
                    ),
                ]),
            ));
            rules.push((
                "MarketplaceEventsRegion".to_owned(),
                map([(
                    "Assertions",
                    list([map([
                        ("Assert", raw("!Equals [!Ref \"AWS::Region\", \"us-east-1\"]")),
                        ("AssertDescription", s("AWS Marketplace sends EventBridge events in us-east-1 only: deploy this stack in us-east-1.")),
                    ])]),
                )]),
            ));
        }
        if !queue_statements.is_empty() {
            resources.push((
                "NotificationQueuePolicy".to_owned(),
                map([
                    ("Type", s("AWS::SQS::QueuePolicy")),
                    (
                        "Properties",
                        map([
                            ("Queues", list([raw("!Ref NotificationQueue")])),
                            (
                                "PolicyDocument",
                                map([
                                    ("Version", s("2012-10-17")),
                                    ("Statement", Y::List(queue_statements)),
                                ]),
                            ),
                        ]),
                    ),
                ]),
            ));
        }
        if with_topics {
            conditions.push((
                "SubscribeEntitlement".to_owned(),
                raw("!Equals [!Ref SubscribeEntitlementTopics, \"true\"]"),
            ));
        }
        for (index, product) in integration.products.iter().enumerate() {
            for (kind, prefix) in [
                ("subscription", "Subscription"),
                ("entitlement", "Entitlement"),
            ] {
                let mut subscribe =
                    |name: String, protocol: &str, endpoint: Y, extra: Option<(&str, Y)>| {
                        let mut properties = vec![
                            (
                                "TopicArn".to_owned(),
                                topic_arn(kind, &product.product_code),
                            ),
                            ("Protocol".to_owned(), s(protocol)),
                            ("Endpoint".to_owned(), endpoint),
                            ("Region".to_owned(), s("us-east-1")),
                        ];
                        if let Some((k, v)) = extra {
                            properties.push((k.to_owned(), v));
                        }
                        let mut resource = vec![("Type".to_owned(), s("AWS::SNS::Subscription"))];
                        if kind == "entitlement" {
                            resource.push(("Condition".to_owned(), s("SubscribeEntitlement")));
                        }
                        if protocol == "sqs" {
                            resource.push(("DependsOn".to_owned(), s("NotificationQueuePolicy")));
                        }
                        resource.push(("Properties".to_owned(), Y::Map(properties)));
                        resources.push((name, Y::Map(resource)));
                    };
                if with_sns_queue {
                    subscribe(
                        format!("{prefix}TopicToQueue{index}"),
                        "sqs",
                        raw("!GetAtt NotificationQueue.Arn"),
                        None,
                    );
                }
                if with_sns_https && let Some(url) = &settings.sns_webhook_url {
                    subscribe(format!("{prefix}TopicToSouk{index}"), "https", s(url), None);
                }
            }
        }
    }

    if with_bucket {
        let source_conditions = || {
            map([
                (
                    "StringEquals",
                    map([("aws:SourceAccount", raw("!Ref \"AWS::AccountId\""))]),
                ),
                (
                    "ArnLike",
                    map([(
                        "aws:SourceArn",
                        raw(
                            "!Sub \"arn:${AWS::Partition}:marketplace::${AWS::AccountId}:AWSMarketplace/SellerDataSubscription/DataFeeds_V1\"",
                        ),
                    )]),
                ),
            ])
        };
        resources.push((
            "DataFeedKey".to_owned(),
            map([
                ("Type", s("AWS::KMS::Key")),
                ("DeletionPolicy", s("Retain")),
                ("UpdateReplacePolicy", s("Retain")),
                (
                    "Properties",
                    map([
                        ("Description", s(format!("Encrypts the AWS Marketplace Seller Data Feeds of Souk integration {}", integration.id))),
                        ("EnableKeyRotation", raw("true")),
                        (
                            "KeyPolicy",
                            map([
                                ("Version", s("2012-10-17")),
                                (
                                    "Statement",
                                    list([
                                        map([
                                            ("Sid", s("AccountAdministration")),
                                            ("Effect", s("Allow")),
                                            ("Principal", map([("AWS", raw("!Sub \"arn:${AWS::Partition}:iam::${AWS::AccountId}:root\""))])),
                                            ("Action", s("kms:*")),
                                            ("Resource", s("*")),
                                        ]),
                                        map([
                                            ("Sid", s("MarketplaceReportsEncrypt")),
                                            ("Effect", s("Allow")),
                                            ("Principal", map([("Service", s("reports.marketplace.amazonaws.com"))])),
                                            ("Action", strs(&["kms:GenerateDataKey", "kms:Encrypt", "kms:Decrypt"])),
                                            ("Resource", s("*")),
                                            ("Condition", source_conditions()),
                                        ]),
                                    ]),
                                ),
                            ]),
                        ),
                    ]),
                ),
            ]),
        ));
        let mut bucket_properties = Vec::new();
        if !integration.data_feed_bucket.is_empty() {
            bucket_properties.push(("BucketName".to_owned(), s(&integration.data_feed_bucket)));
        }
        bucket_properties.push((
            "BucketEncryption".to_owned(),
            map([(
                "ServerSideEncryptionConfiguration",
                list([map([
                    (
                        "ServerSideEncryptionByDefault",
                        map([
                            ("SSEAlgorithm", s("aws:kms")),
                            ("KMSMasterKeyID", raw("!GetAtt DataFeedKey.Arn")),
                        ]),
                    ),
                    ("BucketKeyEnabled", raw("true")),
                ])]),
            )]),
        ));
        bucket_properties.push((
            "PublicAccessBlockConfiguration".to_owned(),
            map([
                ("BlockPublicAcls", raw("true")),
                ("BlockPublicPolicy", raw("true")),
                ("IgnorePublicAcls", raw("true")),
                ("RestrictPublicBuckets", raw("true")),
            ]),
        ));
        bucket_properties.push((
            "VersioningConfiguration".to_owned(),
            map([("Status", s("Enabled"))]),
        ));
        resources.push((
            "DataFeedBucket".to_owned(),
            map([
                ("Type", s("AWS::S3::Bucket")),
                (
                    "Metadata",
                    checkov_skips(&[(
                        "CKV_AWS_18",
                        "Only AWS Marketplace writes Seller Data Feeds here and only the Souk role reads them; access logging needs a second bucket the seller chooses (CloudTrail S3 data events cover access where required).",
                    )]),
                ),
                ("DeletionPolicy", s("Retain")),
                ("UpdateReplacePolicy", s("Retain")),
                ("Properties", Y::Map(bucket_properties)),
            ]),
        ));
        let bucket_resources = || {
            list([
                raw("!GetAtt DataFeedBucket.Arn"),
                raw("!Sub \"${DataFeedBucket.Arn}/*\""),
            ])
        };
        resources.push((
            "DataFeedBucketPolicy".to_owned(),
            map([
                ("Type", s("AWS::S3::BucketPolicy")),
                (
                    "Properties",
                    map([
                        ("Bucket", raw("!Ref DataFeedBucket")),
                        (
                            "PolicyDocument",
                            map([
                                ("Version", s("2012-10-17")),
                                (
                                    "Statement",
                                    list([
                                        map([
                                            ("Sid", s("MarketplaceReportsDelivery")),
                                            ("Effect", s("Allow")),
                                            (
                                                "Principal",
                                                map([(
                                                    "Service",
                                                    s("reports.marketplace.amazonaws.com"),
                                                )]),
                                            ),
                                            (
                                                "Action",
                                                strs(&[
                                                    "s3:ListBucket",
                                                    "s3:GetObject",
                                                    "s3:PutObject",
                                                    "s3:GetEncryptionConfiguration",
                                                    "s3:GetBucketAcl",
                                                    "s3:PutObjectAcl",
                                                ]),
                                            ),
                                            ("Resource", bucket_resources()),
                                            ("Condition", source_conditions()),
                                        ]),
                                        map([
                                            ("Sid", s("DenyInsecureTransport")),
                                            ("Effect", s("Deny")),
                                            ("Principal", s("*")),
                                            ("Action", s("s3:*")),
                                            ("Resource", bucket_resources()),
                                            (
                                                "Condition",
                                                map([(
                                                    "Bool",
                                                    map([("aws:SecureTransport", s("false"))]),
                                                )]),
                                            ),
                                        ]),
                                    ]),
                                ),
                            ]),
                        ),
                    ]),
                ),
            ]),
        ));
        outputs.push((
            "BucketName".to_owned(),
            map([
                ("Description", s("Bucket receiving the Seller Data Feeds.")),
                ("Value", raw("!Ref DataFeedBucket")),
            ]),
        ));
    }
    outputs.push((
        "ExternalId".to_owned(),
        map([
            ("Description", s("The ExternalId Souk presents.")),
            ("Value", raw("!Ref ExternalId")),
        ]),
    ));

    let mut root = vec![
        ("AWSTemplateFormatVersion".to_owned(), s("2010-09-09")),
        (
            "Description".to_owned(),
            s(format!(
                "Souk onboarding for integration {} ({}): a least-privilege cross-account role for AWS Marketplace{}{}.",
                integration.id,
                integration.name,
                if with_queue {
                    ", the notification queue"
                } else {
                    ""
                },
                if with_bucket {
                    ", the Seller Data Feed bucket"
                } else {
                    ""
                },
            )),
        ),
        ("Parameters".to_owned(), Y::Map(parameters)),
    ];
    if !conditions.is_empty() {
        root.push(("Conditions".to_owned(), Y::Map(conditions)));
    }
    if !rules.is_empty() {
        root.push(("Rules".to_owned(), Y::Map(rules)));
    }
    root.push(("Resources".to_owned(), Y::Map(resources)));
    root.push(("Outputs".to_owned(), Y::Map(outputs)));

    let mut body = String::new();
    emit(&Y::Map(root), 0, &mut body);
    let stack_name_hint = format!("souk-{}", integration.id.as_str().replace('_', "-"));
    let region = if with_eventbridge {
        "us-east-1"
    } else {
        integration.region.as_str()
    };
    let launch_hint = format!(
        "aws cloudformation deploy --template-file souk-onboarding.yaml --stack-name {stack_name_hint} \
         --capabilities CAPABILITY_NAMED_IAM --region {region}"
    );
    RenderedTemplate {
        body,
        stack_name_hint,
        launch_hint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::{Licensing, NewIntegration, Notifications, Product, ProductType};

    fn integration() -> Integration {
        NewIntegration {
            name: "Acme \"prod\"".into(),
            role_arn: String::new(),
            region: "eu-west-1".into(),
            products: vec![Product {
                product_code: "abc123".into(),
                product_id: None,
                product_type: ProductType::Saas,
                licensing: Licensing::ProductCode,
            }],
            notifications: Notifications::default(),
            data_feed_bucket: String::new(),
        }
        .into_integration(
            souk_core::Id::generate("org"),
            "souk-ext-id-123".into(),
            time::OffsetDateTime::UNIX_EPOCH,
        )
    }

    fn settings() -> TemplateSettings {
        TemplateSettings {
            souk_principal_arn: "arn:aws:iam::111122223333:root".into(),
            marketplace_topic_account: DEFAULT_MARKETPLACE_TOPIC_ACCOUNT.into(),
            sns_webhook_url: None,
        }
    }

    #[test]
    fn role_trusts_souk_with_the_external_id() {
        let rendered = render(&integration(), TemplateOptions::default(), &settings());
        assert!(
            rendered
                .body
                .contains("\"sts:ExternalId\": !Ref ExternalId")
        );
        assert!(rendered.body.contains("Default: \"souk-ext-id-123\""));
        assert!(
            rendered
                .body
                .contains("\"aws-marketplace:GetEntitlements\"")
        );
        assert!(!rendered.body.contains("NotificationQueue"));
        assert!(rendered.launch_hint.contains("CAPABILITY_NAMED_IAM"));
    }

    #[test]
    fn notifications_subscribe_the_queue_to_the_product_topics() {
        let options = TemplateOptions {
            include_notifications: true,
            include_data_feed: true,
        };
        let body = render(&integration(), options, &settings()).body;
        assert!(body.contains("aws-mp-subscription-notification-abc123"));
        assert!(body.contains("Protocol: \"sqs\""));
        assert!(body.contains("reports.marketplace.amazonaws.com"));
        assert!(body.contains("QueueUrl:"));
        assert!(body.contains("BucketName:"));
    }
}
