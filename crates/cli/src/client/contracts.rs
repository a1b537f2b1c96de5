//! `souk report partners` (the channel-partner shares of each CPPO agreement) and `souk report
//! contracts` (contracts with their total value, renewal date, ARR and MRR), as a table, JSON
//! or RFC 4180 CSV. Amounts travel as integer micros and are printed as exact decimals.

use serde_json::{Value, json};
use souk_proto::reporting::{
    ChannelPartnerShare, Contract, GetChannelPartnerReportRequest, GetContractReportRequest,
    GetContractReportResponse, ReportFilter,
};

use super::call;
use super::offers::{instant, usage};
use super::output::{Table, csv, time, time_json};
use super::reports::{amount, range, reporting_client};
use crate::args::{ContractsArgs, PartnersArgs, ReportFilterArgs, RevenueFormat};

fn filter(args: &ReportFilterArgs) -> Option<ReportFilter> {
    let filter = ReportFilter {
        product_ids: args.products.clone(),
        product_codes: args.product_codes.clone(),
        customer_aws_account_ids: args.customers.clone(),
        offer_ids: args.offers.clone(),
        agreement_ids: args.agreements.clone(),
        reseller_aws_account_ids: args.resellers.clone(),
    };
    (filter != ReportFilter::default()).then_some(filter)
}

/// Runs `souk report partners`.
pub async fn partners(request: PartnersArgs) -> anyhow::Result<()> {
    let client = &request.client;
    let (start_time, end_time) = range(request.from, request.to)?;
    let mut reporting = reporting_client(client).await?;
    let report = call(
        reporting.get_channel_partner_report(GetChannelPartnerReportRequest {
            integration_id: request.integration,
            start_time,
            end_time,
            filter: filter(&request.filter),
        }),
    )
    .await?;
    match client.output {
        RevenueFormat::Table => print!("{}", partners_table(&report.rows).render()),
        RevenueFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&partners_json(&report.rows)).unwrap_or_default()
        ),
        RevenueFormat::Csv => print!("{}", partners_csv(&report.rows)),
    }
    Ok(())
}

/// Runs `souk report contracts`.
pub async fn contracts(request: ContractsArgs) -> anyhow::Result<()> {
    let client = &request.client;
    let at_time = request
        .at
        .map(|raw| instant("--at", &raw))
        .transpose()
        .map_err(usage)?;
    let mut reporting = reporting_client(client).await?;
    let report = call(reporting.get_contract_report(GetContractReportRequest {
        integration_id: request.integration,
        at_time,
        include_inactive: request.all,
        filter: filter(&request.filter),
    }))
    .await?;
    match client.output {
        RevenueFormat::Table => print!("{}", contracts_tables(&report)),
        RevenueFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&contracts_json(&report)).unwrap_or_default()
        ),
        RevenueFormat::Csv => print!("{}", contracts_csv(&report.contracts)),
    }
    Ok(())
}

/// A product code, else the catalog product id.
fn product(code: &str, id: &str) -> String {
    if code.is_empty() { id } else { code }.to_owned()
}

fn partner_amounts(row: &ChannelPartnerShare) -> [i64; 4] {
    [
        row.buyer_price_micros,
        row.reseller_share_micros,
        row.isv_share_micros,
        row.aws_share_micros,
    ]
}

/// One row per agreement and currency.
fn partners_table(rows: &[ChannelPartnerShare]) -> Table {
    let mut table = Table::new(vec![
        "AGREEMENT",
        "PRODUCT",
        "RESELLER",
        "CUSTOMER",
        "CURRENCY",
        "BUYER PRICE",
        "RESELLER SHARE",
        "ISV SHARE",
        "AWS SHARE",
    ]);
    for row in rows {
        let mut cells = vec![
            row.agreement_id.clone(),
            product(&row.product_code, &row.product_id),
            row.reseller_aws_account_id.clone(),
            row.customer_aws_account_id.clone(),
            row.currency_code.clone(),
        ];
        cells.extend(partner_amounts(row).into_iter().map(amount));
        table.row(cells);
    }
    table
}

fn partners_json(rows: &[ChannelPartnerShare]) -> Value {
    json!({
        "rows": rows.iter().map(|row| json!({
            "agreement_id": row.agreement_id,
            "offer_id": row.offer_id,
            "product_id": row.product_id,
            "product_code": row.product_code,
            "reseller_aws_account_id": row.reseller_aws_account_id,
            "customer_aws_account_id": row.customer_aws_account_id,
            "currency_code": row.currency_code,
            "buyer_price_micros": row.buyer_price_micros,
            "reseller_share_micros": row.reseller_share_micros,
            "isv_share_micros": row.isv_share_micros,
            "aws_share_micros": row.aws_share_micros,
        })).collect::<Vec<_>>(),
    })
}

/// RFC 4180 CSV (CRLF line ends) with a header row, amounts as exact decimals.
fn partners_csv(rows: &[ChannelPartnerShare]) -> String {
    const HEADER: &[&str] = &[
        "agreement_id",
        "offer_id",
        "product_id",
        "product_code",
        "reseller_aws_account_id",
        "customer_aws_account_id",
        "currency_code",
        "buyer_price",
        "reseller_share",
        "isv_share",
        "aws_share",
    ];
    csv(
        HEADER,
        rows.iter().map(|row| {
            let mut fields = vec![
                row.agreement_id.clone(),
                row.offer_id.clone(),
                row.product_id.clone(),
                row.product_code.clone(),
                row.reseller_aws_account_id.clone(),
                row.customer_aws_account_id.clone(),
                row.currency_code.clone(),
            ];
            fields.extend(partner_amounts(row).into_iter().map(amount));
            fields
        }),
    )
}

/// The contracts, then the totals per currency.
fn contracts_tables(report: &GetContractReportResponse) -> String {
    let mut contracts = Table::new(vec![
        "AGREEMENT",
        "PRODUCT",
        "CUSTOMER",
        "RESELLER",
        "STATUS",
        "START",
        "END",
        "RENEWAL",
        "CURRENCY",
        "TCV",
        "ARR",
        "MRR",
    ]);
    for c in &report.contracts {
        contracts.row(vec![
            c.agreement_id.clone(),
            product(&c.product_code, &c.product_id),
            c.customer_aws_account_id.clone(),
            c.reseller_aws_account_id.clone(),
            c.status.clone(),
            time(c.start_time.as_ref()),
            time(c.end_time.as_ref()),
            time(c.renewal_time.as_ref()),
            c.currency_code.clone(),
            amount(c.total_contract_value_micros),
            amount(c.arr_micros),
            amount(c.mrr_micros),
        ]);
    }
    let mut totals = Table::new(vec!["CURRENCY", "CONTRACTS", "TCV", "ARR", "MRR"]);
    for t in &report.totals {
        totals.row(vec![
            t.currency_code.clone(),
            t.contracts.to_string(),
            amount(t.total_contract_value_micros),
            amount(t.arr_micros),
            amount(t.mrr_micros),
        ]);
    }
    format!("{}\n{}", contracts.render(), totals.render())
}

fn contracts_json(report: &GetContractReportResponse) -> Value {
    json!({
        "contracts": report.contracts.iter().map(|c| json!({
            "agreement_id": c.agreement_id,
            "offer_id": c.offer_id,
            "product_id": c.product_id,
            "product_code": c.product_code,
            "customer_aws_account_id": c.customer_aws_account_id,
            "reseller_aws_account_id": c.reseller_aws_account_id,
            "status": c.status,
            "start_time": time_json(c.start_time.as_ref()),
            "end_time": time_json(c.end_time.as_ref()),
            "renewal_time": time_json(c.renewal_time.as_ref()),
            "currency_code": c.currency_code,
            "total_contract_value_micros": c.total_contract_value_micros,
            "arr_micros": c.arr_micros,
            "mrr_micros": c.mrr_micros,
        })).collect::<Vec<_>>(),
        "totals": report.totals.iter().map(|t| json!({
            "currency_code": t.currency_code,
            "contracts": t.contracts,
            "total_contract_value_micros": t.total_contract_value_micros,
            "arr_micros": t.arr_micros,
            "mrr_micros": t.mrr_micros,
        })).collect::<Vec<_>>(),
    })
}

/// RFC 4180 CSV of the contracts (CRLF line ends) with a header row, amounts as exact
/// decimals, instants in RFC 3339.
fn contracts_csv(contracts: &[Contract]) -> String {
    const HEADER: &[&str] = &[
        "agreement_id",
        "offer_id",
        "product_id",
        "product_code",
        "customer_aws_account_id",
        "reseller_aws_account_id",
        "status",
        "start_time",
        "end_time",
        "renewal_time",
        "currency_code",
        "total_contract_value",
        "arr",
        "mrr",
    ];
    csv(
        HEADER,
        contracts.iter().map(|c| {
            let mut fields = vec![
                c.agreement_id.clone(),
                c.offer_id.clone(),
                c.product_id.clone(),
                c.product_code.clone(),
                c.customer_aws_account_id.clone(),
                c.reseller_aws_account_id.clone(),
                c.status.clone(),
                time(c.start_time.as_ref()),
                time(c.end_time.as_ref()),
                time(c.renewal_time.as_ref()),
                c.currency_code.clone(),
            ];
            fields.extend(
                [c.total_contract_value_micros, c.arr_micros, c.mrr_micros]
                    .into_iter()
                    .map(amount),
            );
            fields
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_and_contracts_print_as_exact_decimals_in_every_format() {
        let share = ChannelPartnerShare {
            agreement_id: "agmt-1".into(),
            offer_id: "offer-1".into(),
            product_id: "prod-a".into(),
            product_code: "code, a".into(),
            reseller_aws_account_id: "777788889999".into(),
            customer_aws_account_id: "444455556666".into(),
            currency_code: "EUR".into(),
            buyer_price_micros: 2_200_000_000,
            reseller_share_micros: 2_134_000_000,
            isv_share_micros: 0,
            aws_share_micros: 66_000_000,
        };
        let table = partners_table(std::slice::from_ref(&share)).render();
        assert!(table.contains("2200.00"), "{table}");
        assert!(table.contains("2134.00"), "{table}");
        let csv = partners_csv(std::slice::from_ref(&share));
        assert_eq!(
            csv.lines().nth(1),
            Some(
                "agmt-1,offer-1,prod-a,\"code, a\",777788889999,444455556666,EUR,2200.00,2134.00,0.00,66.00"
            )
        );
        assert_eq!(
            partners_json(&[share])["rows"][0]["aws_share_micros"],
            66_000_000
        );

        let at = |seconds| Some(prost_types::Timestamp { seconds, nanos: 0 });
        let contract = Contract {
            agreement_id: "agmt-2".into(),
            status: "ACTIVE".into(),
            start_time: at(1_793_491_200),
            end_time: at(1_825_027_200),
            renewal_time: at(1_825_027_200),
            currency_code: "USD".into(),
            total_contract_value_micros: 300_000_000,
            arr_micros: 300_000_000,
            mrr_micros: 25_000_000,
            ..Contract::default()
        };
        let report = GetContractReportResponse {
            contracts: vec![contract.clone()],
            totals: vec![souk_proto::reporting::ContractTotal {
                currency_code: "USD".into(),
                contracts: 1,
                total_contract_value_micros: 300_000_000,
                arr_micros: 300_000_000,
                mrr_micros: 25_000_000,
            }],
        };
        let tables = contracts_tables(&report);
        assert!(tables.contains("25.00"), "{tables}");
        assert!(tables.contains("CONTRACTS"), "{tables}");
        let csv = contracts_csv(&[contract]);
        let line = csv.lines().nth(1).unwrap_or_default();
        assert!(line.starts_with("agmt-2,,,,,,ACTIVE,"), "{line}");
        assert!(line.ends_with(",USD,300.00,300.00,25.00"), "{line}");
        assert_eq!(contracts_json(&report)["totals"][0]["contracts"], 1);
    }

    #[test]
    fn partners_and_contracts_take_their_flags() {
        use clap::Parser as _;

        use crate::args::{Cli, Command, ReportCommand};
        let parse = |line: &str| Cli::try_parse_from(line.split_whitespace());
        let cli = parse(
            "souk report partners --integration int_1 --from 2026-11-01 --to 2026-12-01 \
             --reseller 777788889999 --agreement agmt-1 -o csv",
        )
        .expect("parses");
        let Command::Report(ReportCommand::Partners(PartnersArgs {
            from,
            filter,
            client,
            ..
        })) = cli.command
        else {
            panic!("not report partners");
        };
        assert_eq!(from.as_deref(), Some("2026-11-01"));
        assert_eq!(filter.resellers, ["777788889999"]);
        assert_eq!(filter.agreements, ["agmt-1"]);
        assert_eq!(client.output, RevenueFormat::Csv);
        let cli = parse("souk report contracts --integration int_1 --at 2027-01-01 --all -o json")
            .expect("parses");
        let Command::Report(ReportCommand::Contracts(ContractsArgs {
            at, all, client, ..
        })) = cli.command
        else {
            panic!("not report contracts");
        };
        assert_eq!(at.as_deref(), Some("2027-01-01"));
        assert!(all);
        assert_eq!(client.output, RevenueFormat::Json);
        assert!(
            parse("souk report contracts").is_err(),
            "--integration is required"
        );
        assert!(
            parse("souk report contracts --integration int_1 --all yes").is_err(),
            "--all takes no value"
        );
        assert_eq!(
            super::filter(&ReportFilterArgs::default()),
            None,
            "no filter is sent without flags"
        );
    }
}
