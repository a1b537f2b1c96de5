//! `souk meter …`: how a product dimension's usage events become the hourly quantity.

use serde_json::{Value, json};
use souk_proto::metering::{Aggregation, ListMetersRequest, Meter, PutMeterRequest};

use super::call;
use super::output::{Table, emit, enum_name, time, time_json};
use super::usage::metering_client;
use crate::args::{AggregationArg, ClientArgs, MeterCommand, PutMeterArgs};

/// Runs a `meter` subcommand.
pub async fn run(command: MeterCommand) -> anyhow::Result<()> {
    match command {
        MeterCommand::Put(args) => put(args).await,
        MeterCommand::List { product, client } => list(product.unwrap_or_default(), &client).await,
    }
}

async fn put(args: PutMeterArgs) -> anyhow::Result<()> {
    let mut client = metering_client(&args.client).await?;
    let meter = Meter {
        product_code: args.product,
        dimension: args.dimension,
        feature: args.feature.unwrap_or_default(),
        aggregation: aggregation(args.aggregation) as i32,
        attribute: args.attribute.unwrap_or_default(),
        zero_fill: args.zero_fill,
        update_time: None,
    };
    let stored = call(client.put_meter(PutMeterRequest { meter: Some(meter) }))
        .await?
        .meter
        .unwrap_or_default();
    let mut table = table();
    row(&mut table, &stored);
    emit(args.client.output, &table, &meter_json(&stored));
    Ok(())
}

async fn list(product_code: String, args: &ClientArgs) -> anyhow::Result<()> {
    let mut client = metering_client(args).await?;
    let meters = call(client.list_meters(ListMetersRequest { product_code }))
        .await?
        .meters;
    let mut table = table();
    for meter in &meters {
        row(&mut table, meter);
    }
    emit(
        args.output,
        &table,
        &Value::Array(meters.iter().map(meter_json).collect()),
    );
    Ok(())
}

/// The wire form of `--aggregation`.
pub fn aggregation(arg: AggregationArg) -> Aggregation {
    match arg {
        AggregationArg::Sum => Aggregation::Sum,
        AggregationArg::Count => Aggregation::Count,
        AggregationArg::Max => Aggregation::Max,
        AggregationArg::Latest => Aggregation::Latest,
        AggregationArg::UniqueCount => Aggregation::UniqueCount,
    }
}

/// `sum`, `unique_count`, ….
fn aggregation_name(meter: &Meter) -> String {
    enum_name(meter.aggregation().as_str_name(), "AGGREGATION_")
}

fn table() -> Table {
    Table::new(vec![
        "PRODUCT",
        "DIMENSION",
        "FEATURE",
        "AGGREGATION",
        "ATTRIBUTE",
        "ZERO FILL",
        "UPDATED",
    ])
}

fn row(table: &mut Table, meter: &Meter) {
    table.row(vec![
        meter.product_code.clone(),
        meter.dimension.clone(),
        meter.feature.clone(),
        aggregation_name(meter),
        meter.attribute.clone(),
        if meter.zero_fill { "yes" } else { "no" }.to_owned(),
        time(meter.update_time.as_ref()),
    ]);
}

fn meter_json(meter: &Meter) -> Value {
    json!({
        "product_code": meter.product_code,
        "dimension": meter.dimension,
        "feature": meter.feature,
        "aggregation": aggregation_name(meter),
        "attribute": meter.attribute,
        "zero_fill": meter.zero_fill,
        "update_time": time_json(meter.update_time.as_ref()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meters_print_their_aggregation_by_name() {
        let meter = Meter {
            product_code: "prod".into(),
            dimension: "users".into(),
            aggregation: aggregation(AggregationArg::UniqueCount) as i32,
            attribute: "user".into(),
            zero_fill: true,
            ..Meter::default()
        };
        assert_eq!(meter_json(&meter)["aggregation"], "unique_count");
        let mut table = table();
        row(&mut table, &meter);
        assert_eq!(
            table.render().lines().nth(1),
            Some("prod     users               unique_count  user       yes")
        );
    }
}
