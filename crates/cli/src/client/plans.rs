//! `souk plan …`: plans, their features, and importing them from the AWS Marketplace listing.

use serde_json::{Value, json};
use souk_proto::entitlement::{
    CreatePlanRequest, DeletePlanRequest, FeatureKind, GetPlanRequest, ImportListingRequest,
    ListPlansRequest, ListingProduct, Plan, PlanFeature, RemoveFeatureRequest, SetFeatureRequest,
    UpdatePlanRequest,
};

use super::entitlements::entitlement_client;
use super::output::{Table, emit, enum_name, time, time_json};
use super::{call, idempotency_key};
use crate::args::{
    ClientArgs, CreatePlanArgs, FeatureGrant, FeatureSpec, OutputFormat, PlanCommand,
    UpdatePlanArgs,
};
use crate::exit::{Failure, Kind};

/// Runs a `plan` subcommand.
pub async fn run(command: PlanCommand) -> anyhow::Result<()> {
    match command {
        PlanCommand::Create(args) => create(args).await,
        PlanCommand::List {
            integration,
            product,
            client,
        } => {
            let filter = ListPlansRequest {
                page_size: 0,
                page_token: String::new(),
                integration_id: integration.unwrap_or_default(),
                product_code: product.unwrap_or_default(),
            };
            list(filter, &client).await
        }
        PlanCommand::Get { id, client } => get(id, &client).await,
        PlanCommand::Update(args) => update(args).await,
        PlanCommand::Delete { id, client } => delete(id, &client).await,
        PlanCommand::SetFeature {
            id,
            feature,
            client,
        } => set_feature(id, feature, &client).await,
        PlanCommand::RemoveFeature { id, name, client } => remove_feature(id, name, &client).await,
        PlanCommand::Import {
            integration,
            client,
        } => import(integration, &client).await,
    }
}

async fn create(args: CreatePlanArgs) -> anyhow::Result<()> {
    let mut client = entitlement_client(&args.client).await?;
    let request = CreatePlanRequest {
        integration_id: args.integration,
        product_code: args.product,
        key: args.key,
        name: args.name.unwrap_or_default(),
        dimensions: args.dimensions,
        features: args.features.into_iter().map(plan_feature).collect(),
        idempotency_key: idempotency_key(),
    };
    let plan = call(client.create_plan(request))
        .await?
        .plan
        .unwrap_or_default();
    emit(args.client.output, &one(&plan), &plan_json(&plan));
    Ok(())
}

async fn list(filter: ListPlansRequest, args: &ClientArgs) -> anyhow::Result<()> {
    let client = entitlement_client(args).await?;
    let all = super::all_pages(|page_token| {
        let mut client = client.clone();
        let request = ListPlansRequest {
            page_token,
            ..filter.clone()
        };
        async move {
            let page = call(client.list_plans(request)).await?;
            Ok((page.plans, page.next_page_token))
        }
    })
    .await?;
    let mut table = table();
    for plan in &all {
        row(&mut table, plan);
    }
    emit(
        args.output,
        &table,
        &Value::Array(all.iter().map(plan_json).collect()),
    );
    Ok(())
}

async fn get(id: String, args: &ClientArgs) -> anyhow::Result<()> {
    let mut client = entitlement_client(args).await?;
    let plan = call(client.get_plan(GetPlanRequest { plan_id: id }))
        .await?
        .plan
        .unwrap_or_default();
    emit(args.output, &one(&plan), &plan_json(&plan));
    Ok(())
}

/// Sends UpdatePlan: the name when given; dimensions and features replaced when any is given or
/// `--clear-…` is.
async fn update(args: UpdatePlanArgs) -> anyhow::Result<()> {
    let replace_dimensions = args.clear_dimensions || !args.dimensions.is_empty();
    let replace_features = args.clear_features || !args.features.is_empty();
    let name = args.name.unwrap_or_default();
    if name.is_empty() && !replace_dimensions && !replace_features {
        return Err(Failure::new(
            Kind::Usage,
            "nothing to update: give at least one of --name, --dimension/--clear-dimensions, \
             --feature/--clear-features",
        )
        .into());
    }
    let mut client = entitlement_client(&args.client).await?;
    let request = UpdatePlanRequest {
        plan_id: args.id,
        name,
        dimensions: args.dimensions,
        replace_dimensions,
        features: args.features.into_iter().map(plan_feature).collect(),
        replace_features,
        expected_version: args.expected_version.unwrap_or_default(),
        idempotency_key: idempotency_key(),
    };
    let response = call(client.update_plan(request)).await?;
    print_changed(
        args.client.output,
        &response.plan.unwrap_or_default(),
        response.customers_changed,
    );
    Ok(())
}

async fn delete(id: String, args: &ClientArgs) -> anyhow::Result<()> {
    let mut client = entitlement_client(args).await?;
    let request = DeletePlanRequest {
        plan_id: id.clone(),
        idempotency_key: idempotency_key(),
    };
    let changed = call(client.delete_plan(request)).await?.customers_changed;
    match args.output {
        OutputFormat::Table => {
            println!("deleted {id} (customers whose features changed: {changed})");
        }
        OutputFormat::Json => {
            println!("{}", json!({ "deleted": id, "customers_changed": changed }));
        }
    }
    Ok(())
}

async fn set_feature(id: String, feature: FeatureSpec, args: &ClientArgs) -> anyhow::Result<()> {
    let mut client = entitlement_client(args).await?;
    let request = SetFeatureRequest {
        plan_id: id,
        feature: Some(plan_feature(feature)),
        idempotency_key: idempotency_key(),
    };
    let response = call(client.set_feature(request)).await?;
    print_changed(
        args.output,
        &response.plan.unwrap_or_default(),
        response.customers_changed,
    );
    Ok(())
}

async fn remove_feature(id: String, name: String, args: &ClientArgs) -> anyhow::Result<()> {
    let mut client = entitlement_client(args).await?;
    let request = RemoveFeatureRequest {
        plan_id: id,
        feature: name,
        idempotency_key: idempotency_key(),
    };
    let response = call(client.remove_feature(request)).await?;
    print_changed(
        args.output,
        &response.plan.unwrap_or_default(),
        response.customers_changed,
    );
    Ok(())
}

async fn import(integration_id: String, args: &ClientArgs) -> anyhow::Result<()> {
    let mut client = entitlement_client(args).await?;
    let request = ImportListingRequest {
        integration_id,
        idempotency_key: idempotency_key(),
    };
    let response = call(client.import_listing(request)).await?;
    match args.output {
        OutputFormat::Table => {
            print!("{}", products_table(&response.products).render());
            if response.plans_created.is_empty() {
                println!("\nno plan created: every dimension already has one");
            } else {
                let mut plans = table();
                for plan in &response.plans_created {
                    row(&mut plans, plan);
                }
                println!("\nplans created:");
                print!("{}", plans.render());
            }
        }
        OutputFormat::Json => {
            let value = json!({
                "products": response.products.iter().map(product_json).collect::<Vec<_>>(),
                "plans_created": response.plans_created.iter().map(plan_json).collect::<Vec<_>>(),
            });
            println!("{}", serde_json::to_string_pretty(&value)?);
        }
    }
    Ok(())
}

/// The plan after a change, and how many customers' features it changed.
fn print_changed(output: OutputFormat, plan: &Plan, customers_changed: i32) {
    let mut value = plan_json(plan);
    value["customers_changed"] = json!(customers_changed);
    emit(output, &one(plan), &value);
    if output == OutputFormat::Table {
        println!("\ncustomers whose features changed: {customers_changed}");
    }
}

/// The wire form of a `--feature` spec.
fn plan_feature(spec: FeatureSpec) -> PlanFeature {
    let (kind, limit, dimension) = match spec.grant {
        FeatureGrant::Boolean => (FeatureKind::Boolean, 0, String::new()),
        FeatureGrant::Limit(limit) => (FeatureKind::Limit, limit, String::new()),
        FeatureGrant::Unlimited => (FeatureKind::Unlimited, 0, String::new()),
        FeatureGrant::Dimension(dimension) => (FeatureKind::DimensionQuantity, 0, dimension),
    };
    PlanFeature {
        feature: spec.name,
        kind: kind as i32,
        limit,
        dimension,
    }
}

/// A feature written back as its `--feature` spec: `sso`, `api=100`, `storage=unlimited`,
/// `users=dimension:seats`.
fn feature_spec_text(feature: &PlanFeature) -> String {
    let name = &feature.feature;
    match feature.kind() {
        FeatureKind::Boolean => name.clone(),
        FeatureKind::Limit => format!("{name}={}", feature.limit),
        FeatureKind::Unlimited => format!("{name}=unlimited"),
        FeatureKind::DimensionQuantity => format!("{name}=dimension:{}", feature.dimension),
        FeatureKind::Unspecified => format!("{name}=?"),
    }
}

fn table() -> Table {
    Table::new(vec![
        "ID",
        "PRODUCT",
        "KEY",
        "NAME",
        "DIMENSIONS",
        "FEATURES",
        "VERSION",
        "UPDATED",
    ])
}

fn row(table: &mut Table, plan: &Plan) {
    table.row(vec![
        plan.id.clone(),
        plan.product_code.clone(),
        plan.key.clone(),
        plan.name.clone(),
        plan.dimensions.join(","),
        plan.features
            .iter()
            .map(feature_spec_text)
            .collect::<Vec<_>>()
            .join(","),
        plan.version.to_string(),
        time(plan.update_time.as_ref()),
    ]);
}

fn one(plan: &Plan) -> Table {
    let mut table = table();
    row(&mut table, plan);
    table
}

fn plan_json(plan: &Plan) -> Value {
    json!({
        "id": plan.id,
        "integration_id": plan.integration_id,
        "product_code": plan.product_code,
        "key": plan.key,
        "name": plan.name,
        "dimensions": plan.dimensions,
        "features": plan.features.iter().map(feature_json).collect::<Vec<_>>(),
        "version": plan.version,
        "create_time": time_json(plan.create_time.as_ref()),
        "update_time": time_json(plan.update_time.as_ref()),
    })
}

fn feature_json(feature: &PlanFeature) -> Value {
    let mut value = json!({
        "feature": feature.feature,
        "kind": enum_name(feature.kind().as_str_name(), "FEATURE_KIND_"),
    });
    match feature.kind() {
        FeatureKind::Limit => value["limit"] = json!(feature.limit),
        FeatureKind::DimensionQuantity => value["dimension"] = json!(feature.dimension),
        FeatureKind::Boolean | FeatureKind::Unlimited | FeatureKind::Unspecified => {}
    }
    value
}

fn products_table(products: &[ListingProduct]) -> Table {
    let mut table = Table::new(vec!["PRODUCT", "PRODUCT ID", "TITLE", "DIMENSIONS"]);
    for product in products {
        table.row(vec![
            product.product_code.clone(),
            product.product_id.clone(),
            product.title.clone(),
            product
                .dimensions
                .iter()
                .map(|d| d.key.as_str())
                .collect::<Vec<_>>()
                .join(","),
        ]);
    }
    table
}

fn product_json(product: &ListingProduct) -> Value {
    json!({
        "product_code": product.product_code,
        "product_id": product.product_id,
        "title": product.title,
        "dimensions": product.dimensions.iter().map(|d| json!({
            "key": d.key, "name": d.name, "types": d.types,
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::parse_feature_spec;

    #[test]
    fn feature_specs_round_trip_through_the_wire_form() {
        for text in [
            "sso",
            "api=100",
            "storage=unlimited",
            "users=dimension:seats",
        ] {
            let spec = parse_feature_spec(text).unwrap();
            assert_eq!(feature_spec_text(&plan_feature(spec)), text);
        }
        let wire = plan_feature(parse_feature_spec("users=dimension:seats").unwrap());
        assert_eq!(wire.kind(), FeatureKind::DimensionQuantity);
        assert_eq!(wire.dimension, "seats");
        assert_eq!(
            feature_json(&plan_feature(parse_feature_spec("api=5").unwrap())),
            json!({ "feature": "api", "kind": "limit", "limit": 5 })
        );
    }

    #[test]
    fn plans_list_their_features_as_specs() {
        let plan = Plan {
            id: "plan_1".into(),
            product_code: "prod".into(),
            key: "pro".into(),
            name: "Pro".into(),
            dimensions: vec!["pro_tier".into()],
            features: vec![
                plan_feature(parse_feature_spec("sso").unwrap()),
                plan_feature(parse_feature_spec("api=100").unwrap()),
            ],
            version: 3,
            ..Plan::default()
        };
        assert_eq!(
            one(&plan).render().lines().nth(1),
            Some("plan_1  prod     pro  Pro   pro_tier    sso,api=100  3")
        );
        assert_eq!(plan_json(&plan)["features"][0]["kind"], "boolean");
    }
}
