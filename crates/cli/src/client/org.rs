//! `souk org …`.

use serde_json::json;
use souk_proto::integration::{CreateOrganizationRequest, GetOrganizationRequest, Organization};

use super::output::{Table, emit, time, time_json};
use super::{call, idempotency_key, integration_client};
use crate::args::{ClientArgs, OrgCommand};

/// Runs an `org` subcommand.
pub async fn run(command: OrgCommand) -> anyhow::Result<()> {
    match command {
        OrgCommand::Create { name, client } => create(name, &client).await,
        OrgCommand::Get { id, client } => get(id, &client).await,
    }
}

async fn create(name: String, args: &ClientArgs) -> anyhow::Result<()> {
    let mut client = integration_client(args).await?;
    let request = CreateOrganizationRequest {
        name,
        idempotency_key: idempotency_key(),
    };
    let response = call(client.create_organization(request)).await?;
    let org = response.organization.unwrap_or_default();
    let mut table = table();
    row(&mut table, &org);
    let mut value = org_json(&org);
    value["api_key_secret"] = json!(response.api_key_secret);
    emit(args.output, &table, &value);
    if args.output == crate::args::OutputFormat::Table {
        println!(
            "\nAPI key for the new organisation (shown once): {}",
            response.api_key_secret
        );
    }
    Ok(())
}

async fn get(id: Option<String>, args: &ClientArgs) -> anyhow::Result<()> {
    let mut client = integration_client(args).await?;
    let request = GetOrganizationRequest {
        organization_id: id.unwrap_or_default(),
    };
    let org = call(client.get_organization(request))
        .await?
        .organization
        .unwrap_or_default();
    let mut table = table();
    row(&mut table, &org);
    emit(args.output, &table, &org_json(&org));
    Ok(())
}

fn table() -> Table {
    Table::new(vec!["ID", "NAME", "CREATED"])
}

fn row(table: &mut Table, org: &Organization) {
    table.row(vec![
        org.id.clone(),
        org.name.clone(),
        time(org.create_time.as_ref()),
    ]);
}

fn org_json(org: &Organization) -> serde_json::Value {
    json!({ "id": org.id, "name": org.name, "create_time": time_json(org.create_time.as_ref()) })
}
