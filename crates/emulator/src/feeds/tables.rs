//! The entity feeds (docs/aws/data-feeds.md, entity tables): account, address, product, offer, offer_product,
//! offer_target, legacy_id_mapping, tax_item and agreement, from the market, catalog and
//! agreement state. The emulator keeps no addresses, tax data or legacy ids, so address,
//! tax_item and legacy_id_mapping carry their header only.

use std::collections::BTreeMap;

use super::csv::Table;
use super::ids::{account_id, event_id};
use super::iso;
use crate::at::At;
use crate::state::World;

const HISTORY: [&str; 4] = ["valid_from", "insert_date", "update_date", "delete_date"];

fn columns(extra: &[&'static str]) -> Vec<&'static str> {
    HISTORY
        .iter()
        .copied()
        .chain(extra.iter().copied())
        .collect()
}

fn history(at: At) -> Vec<(&'static str, String)> {
    let at = iso(at);
    vec![
        ("valid_from", at.clone()),
        ("insert_date", at.clone()),
        ("update_date", at),
    ]
}

fn row(at: At, values: Vec<(&'static str, String)>) -> Vec<(&'static str, String)> {
    let mut all = history(at);
    all.extend(values);
    all
}

/// Every entity table.
pub fn entity_tables(world: &World, seller: &str, aws_account: &str, now: At) -> Vec<Table> {
    vec![
        accounts(world, seller, aws_account, now),
        header_only(
            "address",
            &[
                "address_id",
                "aws_account_id",
                "email_domain",
                "company_name",
                "country",
                "state_or_region",
                "city",
                "postal_code",
                "address_line_1",
                "address_line_2",
                "address_line_3",
            ],
            true,
        ),
        products(world, seller, now),
        offers(world, seller),
        offer_products(world),
        offer_targets(world),
        header_only(
            "legacy_id_mapping",
            &["mapping_type", "legacy_id", "new_id"],
            false,
        ),
        header_only(
            "tax_item",
            &[
                "tax_item_id",
                "invoice_id",
                "line_item_id",
                "customer_bill_id",
                "tax_liable_party",
                "transaction_type_code",
                "product_id",
                "product_tax_code",
                "invoice_date",
                "taxed_customer_account_id",
                "taxed_customer_country",
                "taxed_customer_state_or_region",
                "taxed_customer_city",
                "taxed_customer_postal_code",
                "tax_location_code_taxed_jurisdiction",
                "tax_type_code",
                "jurisdiction_level",
                "taxed_jurisdiction",
                "display_price_taxability_type",
                "taxable_amount",
                "nontaxable_amount",
                "tax_jurisdiction_rate",
                "tax_amount",
                "tax_currency",
                "tax_calculation_reason_code",
                "date_used_for_tax_calculation",
                "customer_exemption_certificate_id",
                "customer_exemption_certificate_id_domain",
                "customer_exemption_certificate_level",
                "customer_exemption_code",
                "customer_exemption_domain",
                "transaction_reference_id",
            ],
            false,
        ),
        agreements(world),
    ]
}

fn header_only(name: &'static str, extra: &[&'static str], with_valid_to: bool) -> Table {
    let mut all = vec!["valid_from"];
    if with_valid_to {
        all.push("valid_to");
    }
    all.extend(["insert_date", "update_date", "delete_date"]);
    all.extend(extra.iter().copied());
    Table::new(name, &all)
}

fn accounts(world: &World, seller: &str, aws_account: &str, now: At) -> Table {
    let mut table = Table::new(
        "account",
        &columns(&[
            "account_id",
            "aws_account_id",
            "encrypted_account_id",
            "mailing_address_id",
            "tax_address_id",
            "tax_registration_number",
            "tax_legal_name",
        ]),
    );
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    ids.insert(seller.to_owned(), String::new());
    ids.insert(aws_account.to_owned(), String::new());
    for customer in world.market.customers.values() {
        ids.insert(
            customer.aws_account_id.clone(),
            customer.customer_identifier.clone(),
        );
    }
    for agreement in world.agreements.agreements.values() {
        for party in [
            &agreement.acceptor_account_id,
            &agreement.proposer_account_id,
            &agreement.manufacturer_account_id,
        ] {
            ids.entry(party.clone()).or_default();
        }
    }
    for invoice in &world.agreements.invoices {
        ids.entry(invoice.buyer_account_id.clone()).or_default();
    }
    for entry in world.metering.ledger.values() {
        ids.entry(entry.customer_aws_account_id.clone())
            .or_insert_with(|| entry.customer_identifier.clone());
    }
    for (aws_account_id, encrypted) in ids.into_iter().filter(|(id, _)| !id.is_empty()) {
        table.push(&row(
            now,
            vec![
                ("account_id", account_id(&aws_account_id)),
                ("aws_account_id", aws_account_id),
                ("encrypted_account_id", encrypted),
            ],
        ));
    }
    table
}

fn products(world: &World, seller: &str, now: At) -> Table {
    let mut table = Table::new(
        "product",
        &columns(&[
            "product_id",
            "manufacturer_account_id",
            "product_code",
            "title",
        ]),
    );
    let mut seen = std::collections::BTreeSet::new();
    for product in world.market.products.values() {
        seen.insert(product.product_id.clone());
        table.push(&row(
            now,
            vec![
                ("product_id", product.product_id.clone()),
                ("manufacturer_account_id", account_id(seller)),
                ("product_code", product.product_code.clone()),
                ("title", product.title.clone()),
            ],
        ));
    }
    for product in world
        .catalog
        .products
        .values()
        .filter(|p| !seen.contains(&p.id))
    {
        table.push(&row(
            product.last_modified,
            vec![
                ("product_id", product.id.clone()),
                (
                    "manufacturer_account_id",
                    account_id(&product.seller_account_id),
                ),
                ("product_code", product.product_code.clone()),
                ("title", product.title.clone()),
            ],
        ));
    }
    table
}

fn offers(world: &World, seller: &str) -> Table {
    let mut table = Table::new(
        "offer",
        &columns(&[
            "offer_id",
            "offer_revision",
            "name",
            "expiration_date",
            "opportunity_name",
            "opportunity_description",
            "seller_account_id",
            "opportunity_id",
        ]),
    );
    for offer in world.catalog.offers.values() {
        let expiration = offer
            .availability_end_date
            .map(|d| iso(crate::support::format::start_of(d)))
            .unwrap_or_else(|| "9999-01-01T00:00:00Z".to_owned());
        table.push(&row(
            offer.last_modified,
            vec![
                ("offer_id", offer.id.clone()),
                ("offer_revision", offer.revision.to_string()),
                ("name", offer.name.clone().unwrap_or_default()),
                ("expiration_date", expiration),
                ("seller_account_id", account_id(seller)),
            ],
        ));
    }
    table
}

fn offer_products(world: &World) -> Table {
    let mut table = Table::new(
        "offer_product",
        &columns(&["offer_id", "offer_revision", "product_id"]),
    );
    for offer in world.catalog.offers.values() {
        table.push(&row(
            offer.last_modified,
            vec![
                ("offer_id", offer.id.clone()),
                ("offer_revision", offer.revision.to_string()),
                ("product_id", offer.product_id.clone()),
            ],
        ));
    }
    table
}

fn offer_targets(world: &World) -> Table {
    let mut table = Table::new(
        "offer_target",
        &columns(&[
            "offer_target_id",
            "offer_id",
            "offer_revision",
            "target_type",
            "polarity",
            "value",
        ]),
    );
    for offer in world.catalog.offers.values() {
        for buyer in &offer.targeting.buyer_accounts {
            table.push(&row(
                offer.last_modified,
                vec![
                    (
                        "offer_target_id",
                        event_id(&format!("target|{}|{}|{buyer}", offer.id, offer.revision)),
                    ),
                    ("offer_id", offer.id.clone()),
                    ("offer_revision", offer.revision.to_string()),
                    ("target_type", "BuyerAccounts".to_owned()),
                    ("polarity", "PositiveTargeting".to_owned()),
                    ("value", buyer.clone()),
                ],
            ));
        }
    }
    table
}

fn agreements(world: &World) -> Table {
    let mut table = Table::new(
        "agreement",
        &columns(&[
            "agreement_id",
            "proposer_account_id",
            "acceptor_account_id",
            "offer_id",
            "offer_revision_at_acceptance",
            "start_time",
            "end_time",
            "acceptance_time",
            "intent",
            "preceding_agreement_id",
            "status",
            "status_reason_code",
            "currency_code",
            "estimated_agreement_value",
        ]),
    );
    for agreement in world.agreements.agreements.values() {
        let revision = world
            .catalog
            .offers
            .get(&agreement.offer_id)
            .map(|o| o.revision.to_string())
            .unwrap_or_default();
        table.push(&row(
            agreement.updated_at,
            vec![
                ("agreement_id", agreement.id.clone()),
                (
                    "proposer_account_id",
                    account_id(&agreement.proposer_account_id),
                ),
                (
                    "acceptor_account_id",
                    account_id(&agreement.acceptor_account_id),
                ),
                ("offer_id", agreement.offer_id.clone()),
                ("offer_revision_at_acceptance", revision),
                ("start_time", iso(agreement.start_time)),
                ("end_time", agreement.end_time.map(iso).unwrap_or_default()),
                ("acceptance_time", iso(agreement.acceptance_time)),
                ("intent", agreement.intent.clone()),
                (
                    "preceding_agreement_id",
                    agreement.previous_agreement_id.clone().unwrap_or_default(),
                ),
                ("status", agreement.status.as_str().to_owned()),
                ("currency_code", agreement.currency_code.clone()),
                (
                    "estimated_agreement_value",
                    super::money::format_micros(agreement.agreement_value_micros),
                ),
            ],
        ));
    }
    table
}
