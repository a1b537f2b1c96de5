//! ListBillingEvents: the stored billing events newest first, in pages that neither repeat nor
//! skip a row, filtered, each as the emulator wrote it; bad input named field by field.

use std::collections::BTreeSet;

use souk_proto::reporting as pb;
use tonic::Code;

use super::filters::{BUYER2, PRODUCT2, second_product};
use super::harness::{BUYER, Harness, PRODUCT, authed, both, expect_code, violations};

fn request(h: &Harness) -> pb::ListBillingEventsRequest {
    pb::ListBillingEventsRequest {
        integration_id: h.emu.integration_id.to_string(),
        ..Default::default()
    }
}

async fn list(
    h: &Harness,
    key: &str,
    req: pb::ListBillingEventsRequest,
) -> Result<pb::ListBillingEventsResponse, tonic::Status> {
    Ok(h.client()
        .list_billing_events(authed(key, req))
        .await?
        .into_inner())
}

/// Every page of `req`, each page's events.
async fn pages(h: &Harness, req: pb::ListBillingEventsRequest) -> Vec<Vec<pb::BillingEvent>> {
    let mut pages = Vec::new();
    let mut token = String::new();
    loop {
        let page = list(
            h,
            &h.reader,
            pb::ListBillingEventsRequest {
                page_token: token,
                ..req.clone()
            },
        )
        .await
        .expect("a page");
        pages.push(page.billing_events);
        token = page.next_page_token;
        if token.is_empty() {
            return pages;
        }
        assert!(pages.len() < 100, "paging does not end");
    }
}

fn millis(e: &pb::BillingEvent) -> i64 {
    let t = e.invoice_time.unwrap_or_default();
    t.seconds * 1000 + i64::from(t.nanos) / 1_000_000
}

both!(events_page_newest_first_without_repeats_or_gaps, |h| {
    second_product(&h).await;
    h.sell("USD", "100.00", 3).await;
    h.sell_to(BUYER2, PRODUCT2, "USD", "40.00", 1).await;
    h.sell("USD", "12.34", 1).await;
    h.disburse().await;
    h.generate_and_ingest().await;
    let emulated = h.billing_events().await;
    // 3 sales of 2 rows, each settled by a DISBURSED row, and one payout.
    assert_eq!(emulated.len(), 13, "{emulated:?}");
    let want: BTreeSet<String> = emulated
        .iter()
        .map(|e| e["billing_event_id"].as_str().expect("id").to_owned())
        .collect();

    let pages = pages(
        &h,
        pb::ListBillingEventsRequest {
            page_size: 5,
            ..request(&h)
        },
    )
    .await;
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        [5, 5, 3],
        "three pages"
    );
    let listed: Vec<&pb::BillingEvent> = pages.iter().flatten().collect();
    let ids: BTreeSet<String> = listed.iter().map(|e| e.billing_event_id.clone()).collect();
    assert_eq!(ids.len(), listed.len(), "no event twice");
    assert_eq!(ids, want, "every event once");
    // Newest invoice first (the payout, with no invoice, by when it was paid).
    let invoiced: Vec<i64> = listed
        .iter()
        .filter(|e| e.invoice_time.is_some())
        .map(|e| millis(e))
        .collect();
    assert!(invoiced.windows(2).all(|w| w[0] >= w[1]), "{invoiced:?}");

    // Each event as the emulator wrote it, accounts as AWS account ids.
    let sale = listed
        .iter()
        .find(|e| {
            e.transaction_type == "SELLER_REV_SHARE"
                && e.product_id == PRODUCT2
                && e.action == pb::BillingAction::Invoiced as i32
        })
        .expect("the sale of product 2");
    let emulator_sale = emulated
        .iter()
        .find(|e| e["billing_event_id"] == sale.billing_event_id.as_str())
        .expect("in the emulator");
    let money = sale.amount.clone().expect("amount");
    assert_eq!(
        (money.currency_code.as_str(), money.amount_micros),
        ("USD", 40_000_000)
    );
    assert_eq!(sale.end_user_account_id, BUYER2);
    assert_eq!(sale.from_account_id, BUYER2);
    assert_eq!(sale.to_account_id, "111122223333");
    assert_eq!(sale.integration_id, h.emu.integration_id.to_string());
    assert_eq!(
        sale.invoice_id,
        emulator_sale["invoice_id"].as_str().unwrap_or_default()
    );
    assert_eq!(
        sale.transaction_reference_id,
        emulator_sale["transaction_reference_id"]
            .as_str()
            .unwrap_or_default()
    );
    assert!(sale.balance_impacting);

    // Filters: the payout alone, a customer's rows, a product's, an action, a period.
    let payout = pages_flat(
        &h,
        pb::ListBillingEventsRequest {
            transaction_types: vec!["DISBURSEMENT".into()],
            ..request(&h)
        },
    )
    .await;
    assert_eq!(payout.len(), 1, "{payout:?}");
    let disbursed: i64 = emulated
        .iter()
        .filter(|e| e["transaction_type"] == "DISBURSEMENT")
        .map(|e| e["amount_micros"].as_i64().expect("amount"))
        .sum();
    assert_eq!(
        payout[0].amount.clone().expect("amount").amount_micros,
        disbursed
    );
    assert!(!payout[0].bank_trace_id.is_empty());
    let customer = pages_flat(
        &h,
        pb::ListBillingEventsRequest {
            customer_aws_account_id: BUYER2.into(),
            page_size: 1,
            ..request(&h)
        },
    )
    .await;
    assert_eq!(
        customer.len(),
        4,
        "the sale, its fee, and their settlements"
    );
    assert!(customer.iter().all(|e| e.end_user_account_id == BUYER2));
    let product = pages_flat(
        &h,
        pb::ListBillingEventsRequest {
            product_id: PRODUCT.into(),
            actions: vec![pb::BillingAction::Invoiced as i32],
            ..request(&h)
        },
    )
    .await;
    assert_eq!(product.len(), 4, "{product:?}");
    let net: i64 = product
        .iter()
        .map(|e| e.amount.clone().expect("amount").amount_micros)
        .sum();
    let sold = 300_000_000 + 12_340_000;
    assert!(net < sold && net > sold * 9 / 10, "{net}");
    assert_eq!(BUYER, product[0].end_user_account_id, "the harness's buyer");
    let today = h.now().date();
    let day = |d: time::Date| souk_proto::common::Date {
        year: d.year(),
        month: i32::from(u8::from(d.month())),
        day: i32::from(d.day()),
    };
    let range = |start: time::Date, end: time::Date| souk_proto::common::DateRange {
        start_date: Some(day(start)),
        end_date: Some(day(end)),
    };
    let tomorrow = today.next_day().expect("tomorrow");
    let yesterday = today.previous_day().expect("yesterday");
    let in_period = |start: time::Date, end: time::Date| {
        pages_flat(
            &h,
            pb::ListBillingEventsRequest {
                period: Some(range(start, end)),
                ..request(&h)
            },
        )
    };
    let in_range = in_period(yesterday, tomorrow).await;
    assert_eq!(in_range.len(), 13);
    let before = in_period(yesterday, today).await;
    assert!(before.is_empty(), "{before:?}");
});

async fn pages_flat(h: &Harness, req: pb::ListBillingEventsRequest) -> Vec<pb::BillingEvent> {
    pages(h, req).await.into_iter().flatten().collect()
}

both!(
    bad_requests_are_named_and_other_organisations_see_nothing,
    |h| {
        h.sell("USD", "100.00", 1).await;
        h.generate_and_ingest().await;

        let bad = |req: pb::ListBillingEventsRequest| list(&h, &h.reader, req);
        assert_eq!(
            violations(
                bad(pb::ListBillingEventsRequest {
                    customer_aws_account_id: "4444-5555".into(),
                    ..request(&h)
                })
                .await
            ),
            vec![(
                "customer_aws_account_id".to_owned(),
                "must be a 12-digit AWS account id".to_owned()
            )]
        );
        assert_eq!(
            violations(
                bad(pb::ListBillingEventsRequest {
                    page_size: 5000,
                    ..request(&h)
                })
                .await
            ),
            vec![(
                "page_size".to_owned(),
                "must be at most 1000 (0 means 50)".to_owned()
            )]
        );
        let not_a_token = "is not a token of this list: send the next_page_token of the previous \
                       page, with the same filters";
        assert_eq!(
            violations(
                bad(pb::ListBillingEventsRequest {
                    page_token: "garbage!".into(),
                    ..request(&h)
                })
                .await
            ),
            vec![("page_token".to_owned(), not_a_token.to_owned())]
        );
        // A token is good for the filters it came with only.
        let first = list(
            &h,
            &h.reader,
            pb::ListBillingEventsRequest {
                page_size: 1,
                ..request(&h)
            },
        )
        .await
        .expect("a page");
        assert!(!first.next_page_token.is_empty());
        assert_eq!(
            violations(
                bad(pb::ListBillingEventsRequest {
                    page_size: 1,
                    page_token: first.next_page_token.clone(),
                    product_id: PRODUCT.into(),
                    ..request(&h)
                })
                .await
            ),
            vec![("page_token".to_owned(), not_a_token.to_owned())]
        );
        assert_eq!(
            violations(
                bad(pb::ListBillingEventsRequest {
                    integration_id: String::new(),
                    actions: vec![0],
                    transaction_types: vec![String::new()],
                    ..request(&h)
                })
                .await
            ),
            vec![
                ("integration_id".to_owned(), "must not be empty".to_owned()),
                (
                    "actions[0]".to_owned(),
                    "must be INVOICED, FORGIVEN or DISBURSED".to_owned()
                ),
                (
                    "transaction_types[0]".to_owned(),
                    "must not be empty".to_owned()
                ),
            ]
        );

        // Another organisation's key finds no such integration, as in the channel-partner
        // and contract reports.
        expect_code(list(&h, &h.other_key, request(&h)).await, Code::NotFound);
    }
);
