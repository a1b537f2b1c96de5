//! `souk key …`.

use serde_json::{Value, json};
use souk_proto::integration::{
    ApiKey, CreateApiKeyRequest, ListApiKeysRequest, RevokeApiKeyRequest, Scope,
};

use super::output::{Table, emit, enum_name, time, time_json};
use super::{call, idempotency_key, integration_client};
use crate::args::{ClientArgs, KeyCommand, OutputFormat, ScopeArg};

/// Runs a `key` subcommand.
pub async fn run(command: KeyCommand) -> anyhow::Result<()> {
    match command {
        KeyCommand::Create {
            name,
            scopes,
            client,
        } => create(name, scopes, &client).await,
        KeyCommand::List { client } => list(&client).await,
        KeyCommand::Revoke { id, client } => revoke(id, &client).await,
    }
}

async fn create(name: String, scopes: Vec<ScopeArg>, args: &ClientArgs) -> anyhow::Result<()> {
    let mut client = integration_client(args).await?;
    let scopes = if scopes.is_empty() {
        vec![ScopeArg::Full]
    } else {
        scopes
    };
    let request = CreateApiKeyRequest {
        name,
        scopes: scopes.into_iter().map(|s| scope(s) as i32).collect(),
        expire_time: None,
        idempotency_key: idempotency_key(),
    };
    let response = call(client.create_api_key(request)).await?;
    let key = response.api_key.unwrap_or_default();
    let mut value = key_json(&key);
    value["secret"] = json!(response.secret);
    emit(args.output, &one(&key), &value);
    if args.output == OutputFormat::Table {
        println!("\nsecret (shown once): {}", response.secret);
    }
    Ok(())
}

async fn list(args: &ClientArgs) -> anyhow::Result<()> {
    let client = integration_client(args).await?;
    let keys = super::all_pages(|page_token| {
        let mut client = client.clone();
        async move {
            let page = call(client.list_api_keys(ListApiKeysRequest {
                page_size: 0,
                page_token,
            }))
            .await?;
            Ok((page.api_keys, page.next_page_token))
        }
    })
    .await?;
    let mut table = table();
    for key in &keys {
        row(&mut table, key);
    }
    emit(
        args.output,
        &table,
        &Value::Array(keys.iter().map(key_json).collect()),
    );
    Ok(())
}

async fn revoke(id: String, args: &ClientArgs) -> anyhow::Result<()> {
    let mut client = integration_client(args).await?;
    let request = RevokeApiKeyRequest {
        api_key_id: id,
        idempotency_key: idempotency_key(),
    };
    let key = call(client.revoke_api_key(request))
        .await?
        .api_key
        .unwrap_or_default();
    emit(args.output, &one(&key), &key_json(&key));
    Ok(())
}

fn scope(arg: ScopeArg) -> Scope {
    match arg {
        ScopeArg::Admin => Scope::Admin,
        ScopeArg::Full => Scope::Full,
        ScopeArg::ReadOnly => Scope::ReadOnly,
        ScopeArg::Metering => Scope::Metering,
    }
}

fn scope_names(key: &ApiKey) -> Vec<String> {
    key.scopes()
        .map(|s| enum_name(s.as_str_name(), "SCOPE_"))
        .collect()
}

fn table() -> Table {
    Table::new(vec!["ID", "NAME", "PREFIX", "SCOPES", "CREATED", "REVOKED"])
}

fn row(table: &mut Table, key: &ApiKey) {
    table.row(vec![
        key.id.clone(),
        key.name.clone(),
        key.prefix.clone(),
        scope_names(key).join(","),
        time(key.create_time.as_ref()),
        time(key.revoke_time.as_ref()),
    ]);
}

fn one(key: &ApiKey) -> Table {
    let mut table = table();
    row(&mut table, key);
    table
}

fn key_json(key: &ApiKey) -> Value {
    json!({
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "scopes": scope_names(key),
        "create_time": time_json(key.create_time.as_ref()),
        "last_used_time": time_json(key.last_used_time.as_ref()),
        "revoke_time": time_json(key.revoke_time.as_ref()),
        "expire_time": time_json(key.expire_time.as_ref()),
    })
}
