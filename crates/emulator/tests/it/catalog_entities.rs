//! DescribeEntity / ListEntities / BatchDescribeEntities over products, offers and resale
//! authorizations: OfferFilters, legacy FilterList, sorting and pagination.

use aws_sdk_marketplacecatalog::types::{
    EntityTypeFilters, EntityTypeSort, Filter, OfferFilters, OfferNameFilter, OfferSort,
    OfferSortBy, OfferStateFilter, OfferStateString, SaaSProductFilters,
    SaaSProductVisibilityFilter, SaaSProductVisibilityString, SortOrder,
};
use serde_json::json;

use crate::support::catalog::*;

#[tokio::test]
async fn products_are_entities() {
    let cat = setup().await;
    let ami = catalog_product(&cat, json!({ "title": "Image", "kind": "ami" })).await;
    let doc = entity(&cat, &cat.saas).await;
    assert_eq!(doc["ProductCode"], crate::support::PRODUCT);
    assert!(doc["Dimensions"].as_array().is_some_and(|d| {
        d.iter()
            .any(|x| x["Key"] == "seats" && x["Types"] == json!(["Entitled"]))
    }));
    let described = describe_entity(&cat, &ami)
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    assert_eq!(described.entity_type(), Some("AmiProduct@1.0"));

    let saas = cat
        .catalog
        .list_entities()
        .catalog(CATALOG)
        .entity_type("SaaSProduct")
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    let ids: Vec<&str> = saas
        .entity_summary_list()
        .iter()
        .filter_map(|e| e.entity_id())
        .collect();
    assert!(
        ids.contains(&cat.saas.as_str())
            && ids.contains(&cat.concurrent.as_str())
            && !ids.contains(&ami.as_str()),
        "{ids:?}"
    );
    let summary = saas.entity_summary_list()[0]
        .saa_s_product_summary()
        .cloned();
    assert!(summary.is_some_and(|s| s.visibility() == Some(&SaaSProductVisibilityString::Public)));

    let filtered = cat
        .catalog
        .list_entities()
        .catalog(CATALOG)
        .entity_type("SaaSProduct")
        .entity_type_filters(EntityTypeFilters::SaaSProductFilters(
            SaaSProductFilters::builder()
                .visibility(
                    SaaSProductVisibilityFilter::builder()
                        .value_list(SaaSProductVisibilityString::Restricted)
                        .build(),
                )
                .build(),
        ))
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    assert!(filtered.entity_summary_list().is_empty());
}

#[tokio::test]
async fn list_offers_with_filters_sort_and_pages() {
    let cat = setup().await;
    let released = released_offer(&cat, contract_offer(&cat.saas, &cat.date(30), false)).await;
    let mut draft_list = vec![create_offer(&cat.saas), info("Another draft")];
    draft_list[1] = offer_change("UpdateInformation", json!({ "Name": "Zeta draft" }));
    let draft = created_id(&apply_ok(&cat, json!(draft_list)).await);

    let by_state = |state: OfferStateString| {
        list_offers(&cat)
            .entity_type_filters(EntityTypeFilters::OfferFilters(
                OfferFilters::builder()
                    .state(OfferStateFilter::builder().value_list(state).build())
                    .build(),
            ))
            .send()
    };
    let out = by_state(OfferStateString::Released)
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    assert_eq!(out.entity_summary_list().len(), 1);
    let item = &out.entity_summary_list()[0];
    assert_eq!(item.entity_id(), Some(released.as_str()));
    let summary = item
        .offer_summary()
        .cloned()
        .unwrap_or_else(|| panic!("no OfferSummary"));
    assert_eq!(summary.state(), Some(&OfferStateString::Released));
    assert_eq!(summary.buyer_accounts(), [crate::support::BUYER.to_owned()]);
    assert_eq!(summary.product_id(), Some(cat.saas.as_str()));
    assert!(summary.release_date().is_some() && summary.availability_end_date().is_some());
    assert!(
        item.entity_arn()
            .is_some_and(|a| a.contains(":AWSMarketplace/Offer/"))
    );
    let out = by_state(OfferStateString::Draft)
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    assert_eq!(
        out.entity_summary_list()[0].entity_id(),
        Some(draft.as_str())
    );

    let by_name = list_offers(&cat)
        .entity_type_filters(EntityTypeFilters::OfferFilters(
            OfferFilters::builder()
                .name(OfferNameFilter::builder().wild_card_value("zeta").build())
                .build(),
        ))
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    assert_eq!(by_name.entity_summary_list().len(), 1);

    let sorted = |order: SortOrder, token: Option<String>| {
        list_offers(&cat)
            .entity_type_sort(EntityTypeSort::OfferSort(
                OfferSort::builder()
                    .sort_by(OfferSortBy::Name)
                    .sort_order(order)
                    .build(),
            ))
            .max_results(1)
            .set_next_token(token)
            .send()
    };
    let first = sorted(SortOrder::Ascending, None)
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    assert_eq!(
        first.entity_summary_list()[0].name(),
        Some("Contract offer")
    );
    let second = sorted(SortOrder::Ascending, first.next_token().map(str::to_owned))
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    assert_eq!(second.entity_summary_list()[0].name(), Some("Zeta draft"));
    assert!(second.next_token().is_none());
    let desc = sorted(SortOrder::Descending, None)
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    assert_eq!(desc.entity_summary_list()[0].name(), Some("Zeta draft"));

    let legacy = list_offers(&cat)
        .filter_list(
            Filter::builder()
                .name("EntityId")
                .value_list(&released)
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    assert_eq!(legacy.entity_summary_list().len(), 1);

    let mismatched = cat
        .catalog
        .list_entities()
        .catalog(CATALOG)
        .entity_type("SaaSProduct")
        .entity_type_filters(EntityTypeFilters::OfferFilters(
            OfferFilters::builder().build(),
        ))
        .send()
        .await;
    assert!(crate::service_error!(mismatched, 422).is_validation_exception());
}

#[tokio::test]
async fn batch_describe_entities_returns_documents() {
    let cat = setup().await;
    let offer = released_offer(&cat, contract_offer(&cat.saas, &cat.date(30), true)).await;
    let req = aws_sdk_marketplacecatalog::types::EntityRequest::builder()
        .catalog(CATALOG)
        .entity_id(&offer)
        .build();
    let out = cat
        .catalog
        .batch_describe_entities()
        .entity_request_list(req.unwrap_or_else(|err| panic!("{err}")))
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    let detail = out
        .entity_details()
        .and_then(|d| d.get(&offer))
        .cloned()
        .unwrap_or_else(|| panic!("no detail"));
    assert_eq!(detail.entity_type(), Some("Offer@1.0"));
    assert_eq!(
        detail.details_document().map(from_doc).unwrap_or_default()["State"],
        "Released"
    );
    assert!(out.errors().is_none_or(|e| e.is_empty()));
}
