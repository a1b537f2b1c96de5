//! `souk integration …`.

use serde_json::{Value, json};
use souk_proto::common::{LicensingModel, ProductType};
use souk_proto::integration::{
    CheckStatus, CreateIntegrationRequest, DeleteIntegrationRequest, GetIntegrationRequest,
    GetOnboardingTemplateRequest, Integration, ListIntegrationsRequest, NotificationConfig,
    PermissionCheck, Product, UpdateIntegrationRequest, VerifyIntegrationRequest,
};

use super::output::{Table, emit, enum_name, time, time_json};
use super::{call, idempotency_key, integration_client};
use crate::args::{
    ClientArgs, CreateIntegrationArgs, IntegrationCommand, OutputFormat, UpdateIntegrationArgs,
};
use crate::exit::{Failure, Kind};

/// Runs an `integration` subcommand.
pub async fn run(command: IntegrationCommand) -> anyhow::Result<()> {
    match command {
        IntegrationCommand::Create(args) => create(args).await,
        IntegrationCommand::Update(args) => update(args).await,
        IntegrationCommand::List { client } => list(&client).await,
        IntegrationCommand::Get { id, client } => get(id, &client).await,
        IntegrationCommand::Verify { id, client } => verify(id, &client).await,
        IntegrationCommand::Template {
            id,
            notifications,
            data_feed,
            client,
        } => template(id, notifications, data_feed, &client).await,
        IntegrationCommand::Delete { id, client } => delete(id, &client).await,
    }
}

async fn create(args: CreateIntegrationArgs) -> anyhow::Result<()> {
    let mut client = integration_client(&args.client).await?;
    let products = args.product_codes.into_iter().map(saas_product).collect();
    let request = CreateIntegrationRequest {
        name: args.name,
        role_arn: args.role_arn,
        region: args.region,
        products,
        notifications: Some(NotificationConfig {
            sqs_queue_urls: args.sqs_queue_urls,
            sns_https: false,
            eventbridge: args.eventbridge,
        }),
        data_feed_bucket: args.data_feed_bucket,
        idempotency_key: idempotency_key(),
    };
    let integration = call(client.create_integration(request)).await?.integration;
    print_integration(args.client.output, &integration.unwrap_or_default());
    Ok(())
}

fn saas_product(product_code: String) -> Product {
    Product {
        product_code,
        product_id: None,
        r#type: ProductType::Saas as i32,
        licensing: LicensingModel::ProductCode as i32,
    }
}

/// Sends UpdateIntegration with the fields given. Products and notifications are replaced as a
/// whole by the RPC, so the ones not named on the command line are read first and kept.
async fn update(args: UpdateIntegrationArgs) -> anyhow::Result<()> {
    let mut client = integration_client(&args.client).await?;
    let mut paths = Vec::new();
    let mut request = UpdateIntegrationRequest {
        integration_id: args.id.clone(),
        idempotency_key: idempotency_key(),
        ..UpdateIntegrationRequest::default()
    };
    if let Some(name) = args.name {
        request.name = name;
        paths.push("name");
    }
    if let Some(role_arn) = args.role_arn {
        request.role_arn = role_arn;
        paths.push("role_arn");
    }
    if let Some(region) = args.region {
        request.region = region;
        paths.push("region");
    }
    if let Some(bucket) = args.data_feed_bucket {
        request.data_feed_bucket = bucket;
        paths.push("data_feed_bucket");
    }
    let products_given = args.clear_products || !args.product_codes.is_empty();
    let notifications_given = args.clear_sqs_queue_urls
        || !args.sqs_queue_urls.is_empty()
        || args.eventbridge.is_some()
        || args.sns_https.is_some();
    if products_given || notifications_given {
        let current = call(client.get_integration(GetIntegrationRequest {
            integration_id: args.id.clone(),
        }))
        .await?
        .integration
        .unwrap_or_default();
        if products_given {
            request.products = args
                .product_codes
                .into_iter()
                .map(|code| {
                    current
                        .products
                        .iter()
                        .find(|p| p.product_code == code)
                        .cloned()
                        .unwrap_or_else(|| saas_product(code))
                })
                .collect();
            paths.push("products");
        }
        if notifications_given {
            let mut notifications = current.notifications.unwrap_or_default();
            if args.clear_sqs_queue_urls || !args.sqs_queue_urls.is_empty() {
                notifications.sqs_queue_urls = args.sqs_queue_urls;
            }
            if let Some(eventbridge) = args.eventbridge {
                notifications.eventbridge = eventbridge;
            }
            if let Some(sns_https) = args.sns_https {
                notifications.sns_https = sns_https;
            }
            request.notifications = Some(notifications);
            paths.push("notifications");
        }
    }
    if paths.is_empty() {
        return Err(Failure::new(
            Kind::Usage,
            "nothing to update: give at least one of --name, --role-arn, --region, \
             --product-code/--clear-products, --sqs-queue-url/--clear-sqs-queue-urls, \
             --eventbridge, --sns-https, --data-feed-bucket",
        )
        .into());
    }
    request.update_mask = Some(prost_types::FieldMask {
        paths: paths.into_iter().map(str::to_owned).collect(),
    });
    let integration = call(client.update_integration(request)).await?.integration;
    print_integration(args.client.output, &integration.unwrap_or_default());
    Ok(())
}

async fn list(args: &ClientArgs) -> anyhow::Result<()> {
    let client = integration_client(args).await?;
    let all = super::all_pages(|page_token| {
        let mut client = client.clone();
        async move {
            let page = call(client.list_integrations(ListIntegrationsRequest {
                page_size: 0,
                page_token,
            }))
            .await?;
            Ok((page.integrations, page.next_page_token))
        }
    })
    .await?;
    let mut table = table();
    for integration in &all {
        row(&mut table, integration);
    }
    emit(
        args.output,
        &table,
        &Value::Array(all.iter().map(integration_json).collect()),
    );
    Ok(())
}

async fn get(id: String, args: &ClientArgs) -> anyhow::Result<()> {
    let mut client = integration_client(args).await?;
    let request = GetIntegrationRequest { integration_id: id };
    let integration = call(client.get_integration(request)).await?.integration;
    print_integration(args.output, &integration.unwrap_or_default());
    Ok(())
}

async fn verify(id: String, args: &ClientArgs) -> anyhow::Result<()> {
    let mut client = integration_client(args).await?;
    let request = VerifyIntegrationRequest {
        integration_id: id,
        idempotency_key: idempotency_key(),
    };
    let response = call(client.verify_integration(request)).await?;
    let report = response.report.unwrap_or_default();
    let mut table = Table::new(vec!["ACTION", "API", "STATUS", "DETAIL", "REMEDY"]);
    for check in &report.checks {
        table.row(vec![
            check.action.clone(),
            check.api.clone(),
            status_name(check),
            check.detail.clone(),
            check.remedy.clone(),
        ]);
    }
    let failed_checks = report
        .checks
        .iter()
        .filter(|c| c.status() != CheckStatus::Ok)
        .count();
    let verified = report.role_assumed && failed_checks == 0;
    let value = json!({
        "verified": verified,
        "verify_time": time_json(report.verify_time.as_ref()),
        "role_assumed": report.role_assumed,
        "role_error": report.role_error,
        "checks": report.checks.iter().map(|c| json!({
            "action": c.action, "api": c.api, "status": status_name(c), "detail": c.detail, "remedy": c.remedy,
        })).collect::<Vec<_>>(),
    });
    if args.output == OutputFormat::Table {
        if report.role_assumed {
            println!("role assumed: yes");
        } else {
            println!("role assumed: no — {}", report.role_error);
        }
    }
    emit(args.output, &table, &value);
    if verified {
        return Ok(());
    }
    let reason = if report.role_assumed {
        format!("{failed_checks} permission check(s) did not pass")
    } else {
        format!("the role could not be assumed: {}", report.role_error)
    };
    Err(Failure {
        reported: true,
        ..Failure::new(Kind::VerifyFailed, format!("verification failed: {reason}"))
    }
    .into())
}

async fn template(
    id: String,
    notifications: bool,
    data_feed: bool,
    args: &ClientArgs,
) -> anyhow::Result<()> {
    let mut client = integration_client(args).await?;
    let request = GetOnboardingTemplateRequest {
        integration_id: id,
        include_notifications: notifications,
        include_data_feed: data_feed,
    };
    let response = call(client.get_onboarding_template(request)).await?;
    match args.output {
        OutputFormat::Table => print!("{}", response.template_body),
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "template_body": response.template_body,
                "stack_name_hint": response.stack_name_hint,
                "launch_hint": response.launch_hint,
            }))?
        ),
    }
    if !response.launch_hint.is_empty() {
        eprintln!("{}", response.launch_hint);
    }
    Ok(())
}

async fn delete(id: String, args: &ClientArgs) -> anyhow::Result<()> {
    let mut client = integration_client(args).await?;
    let request = DeleteIntegrationRequest {
        integration_id: id.clone(),
        idempotency_key: idempotency_key(),
    };
    call(client.delete_integration(request)).await?;
    match args.output {
        OutputFormat::Table => println!("deleted {id}"),
        OutputFormat::Json => println!("{}", json!({ "deleted": id })),
    }
    Ok(())
}

fn status_name(check: &PermissionCheck) -> String {
    enum_name(
        CheckStatus::try_from(check.status)
            .unwrap_or_default()
            .as_str_name(),
        "CHECK_STATUS_",
    )
}

fn table() -> Table {
    Table::new(vec![
        "ID", "NAME", "ACCOUNT", "REGION", "PRODUCTS", "STATE", "CREATED",
    ])
}

fn row(table: &mut Table, integration: &Integration) {
    table.row(vec![
        integration.id.clone(),
        integration.name.clone(),
        integration.aws_account_id.clone(),
        integration.region.clone(),
        integration
            .products
            .iter()
            .map(|p| p.product_code.as_str())
            .collect::<Vec<_>>()
            .join(","),
        enum_name(integration.state().as_str_name(), "INTEGRATION_STATE_"),
        time(integration.create_time.as_ref()),
    ]);
}

/// One integration, as a table or JSON.
fn print_integration(output: OutputFormat, integration: &Integration) {
    emit(output, &one(integration), &integration_json(integration));
}

fn one(integration: &Integration) -> Table {
    let mut table = table();
    row(&mut table, integration);
    table
}

fn integration_json(integration: &Integration) -> Value {
    let notifications = integration.notifications.clone().unwrap_or_default();
    json!({
        "id": integration.id,
        "organization_id": integration.organization_id,
        "name": integration.name,
        "role_arn": integration.role_arn,
        "aws_account_id": integration.aws_account_id,
        "external_id": integration.external_id,
        "region": integration.region,
        "products": integration.products.iter().map(|p| json!({
            "product_code": p.product_code,
            "product_id": p.product_id,
            "type": enum_name(p.r#type().as_str_name(), "PRODUCT_TYPE_"),
            "licensing": enum_name(p.licensing().as_str_name(), "LICENSING_MODEL_"),
        })).collect::<Vec<_>>(),
        "notifications": {
            "sqs_queue_urls": notifications.sqs_queue_urls,
            "sns_https": notifications.sns_https,
            "eventbridge": notifications.eventbridge,
        },
        "data_feed_bucket": integration.data_feed_bucket,
        "state": enum_name(integration.state().as_str_name(), "INTEGRATION_STATE_"),
        "create_time": time_json(integration.create_time.as_ref()),
        "update_time": time_json(integration.update_time.as_ref()),
    })
}
