//! The revenue page over HTTP (`GET /reports`, `POST /reports/links`): refused without an API
//! key or a valid link (401, as an HTML page), shown with a read key or a link the key asked
//! for, and showing the figures the emulator's ledgers give.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::Value;
use souk_auth::{Authenticator, Scope};
use souk_testkit::spawn::MemoryKeyStore;
use std::sync::Arc;
use tower::ServiceExt as _;

use super::harness::{BUYER, Harness, both};

/// What the page answered.
struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

/// The page's router with its own keys: a read key and a metering key of the harness's
/// organisation, a read key of another.
struct Page {
    router: axum::Router,
    reader: String,
    metering: String,
    stranger: String,
}

impl Page {
    fn of(h: &Harness) -> Self {
        let keys = MemoryKeyStore::default();
        let router = h.app.http(Authenticator::new(Arc::new(keys.clone())));
        Self {
            router,
            reader: keys.add_key_for(&h.org, &[Scope::ReadOnly]),
            metering: keys.add_key_for(&h.org, &[Scope::Metering]),
            stranger: keys.add_key(&[Scope::Full]),
        }
    }

    async fn call(&self, method: &str, uri: &str, key: Option<&str>) -> Answer {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(key) = key {
            request = request.header(header::AUTHORIZATION, format!("Bearer {key}"));
        }
        let response = self
            .router
            .clone()
            .oneshot(request.body(Body::empty()).expect("request"))
            .await
            .expect("the router answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        Answer {
            status,
            headers,
            body: String::from_utf8(bytes.to_vec()).expect("UTF-8"),
        }
    }

    /// `POST /reports/links?<query>` with `key`.
    async fn ask_link(&self, query: &str, key: Option<&str>) -> Answer {
        self.call("POST", &format!("/reports/links?{query}"), key)
            .await
    }

    /// A link made with the read key, `expires_in` seconds long.
    async fn link(&self, integration_id: &str, expires_in: u64) -> String {
        let answer = self
            .ask_link(
                &format!("integration_id={integration_id}&expires_in={expires_in}"),
                Some(&self.reader),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let value: Value = serde_json::from_str(&answer.body).expect("JSON");
        value["path"].as_str().expect("path").to_owned()
    }
}

/// The cells of the totals table's row of `currency`.
fn totals_row(html: &str, currency: &str) -> Vec<String> {
    let totals = html
        .split("<section id=\"totals\">")
        .nth(1)
        .and_then(|rest| rest.split("</section>").next())
        .unwrap_or_else(|| panic!("no totals section: {html}"));
    let row = totals
        .split("<tr>")
        .find(|row| row.starts_with(&format!("<td>{currency}</td>")))
        .unwrap_or_else(|| panic!("no {currency} row: {totals}"));
    row.split("<td")
        .skip(1)
        .map(|cell| {
            cell.split_once('>')
                .and_then(|(_, rest)| rest.split_once("</td>"))
                .map(|(text, _)| text.to_owned())
                .unwrap_or_default()
        })
        .collect()
}

/// The page's figures are the emulator's: 3 seats at 100 USD and 2 at 80.50 EUR, a 3 % listing
/// fee, all of it disbursed.
fn assert_figures(html: &str) {
    assert_eq!(
        totals_row(html, "USD"),
        [
            "USD", "300.00", "9.00", "0.00", "291.00", "291.00", "0.00", "0.00"
        ],
        "currency, gross, listing fee, refunds, net, disbursed, tax, outstanding"
    );
    assert_eq!(
        totals_row(html, "EUR"),
        [
            "EUR", "161.00", "4.83", "0.00", "156.17", "156.17", "0.00", "0.00"
        ]
    );
    for id in [
        "revenue-usd",
        "disbursements-usd",
        "customers-usd",
        "revenue-eur",
        "disbursements-eur",
        "customers-eur",
    ] {
        assert!(html.contains(&format!("<section id=\"{id}\">")), "{id}");
    }
    // Charts with bars of the gross colour, titled with their amounts; the buyer tops the list.
    assert!(html.contains("<svg class=\"chart\""));
    assert!(html.contains("fill=\"#2563eb\""));
    assert!(html.contains("fill=\"#d97706\""), "a disbursement bar");
    assert!(html.contains("gross: 300.00 USD</title>"), "{html}");
    assert!(html.contains(&format!("<td>{BUYER}</td><td class=\"num\">300.00</td>")));
    assert!(!html.contains("<script"), "no script");
}

both!(
    the_page_needs_a_read_key_or_a_valid_link_and_shows_the_figures,
    |h| {
        h.sell("USD", "100.00", 3).await;
        h.sell("EUR", "80.50", 2).await;
        h.disburse().await;
        h.generate_and_ingest().await;
        let page = Page::of(&h);
        let integration = h.emu.integration_id.to_string();
        let path = format!("/reports?integration_id={integration}");

        // Nobody: a page saying how to get in.
        let nobody = page.call("GET", &path, None).await;
        assert_eq!(nobody.status, StatusCode::UNAUTHORIZED);
        assert!(nobody.body.contains("Not signed in"), "{}", nobody.body);
        assert!(nobody.body.contains("souk report page"), "{}", nobody.body);
        assert!(nobody.headers.contains_key(header::WWW_AUTHENTICATE));
        assert_eq!(
            nobody.headers[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        let junk = page.call("GET", &path, Some("souk_notakey")).await;
        assert_eq!(junk.status, StatusCode::UNAUTHORIZED);
        let no_read = page.call("GET", &path, Some(&page.metering)).await;
        assert_eq!(no_read.status, StatusCode::FORBIDDEN, "{}", no_read.body);

        // A read key: the page.
        let shown = page.call("GET", &path, Some(&page.reader)).await;
        assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
        assert_eq!(shown.headers[header::CACHE_CONTROL], "no-store");
        assert_eq!(shown.headers[header::REFERRER_POLICY], "no-referrer");
        assert_figures(&shown.body);

        // Another organisation's key finds no such integration; a missing or bad id is a clear page.
        let stranger = page.call("GET", &path, Some(&page.stranger)).await;
        assert_eq!(stranger.status, StatusCode::NOT_FOUND, "{}", stranger.body);
        assert!(stranger.body.contains("Unknown integration"));
        assert!(!stranger.body.contains("300.00"));
        let missing = page.call("GET", "/reports", Some(&page.reader)).await;
        assert_eq!(missing.status, StatusCode::BAD_REQUEST);
        assert!(missing.body.contains("integration_id"), "{}", missing.body);
        let dates = page
            .call(
                "GET",
                &format!("{path}&start=2026-13-01"),
                Some(&page.reader),
            )
            .await;
        assert_eq!(dates.status, StatusCode::BAD_REQUEST);
        assert!(
            dates
                .body
                .contains("start: &quot;2026-13-01&quot; is not a day"),
            "{}",
            dates.body
        );

        // A range with no sales in it: no bars.
        let before = page
            .call("GET", &format!("{path}&end=2000-01-01"), Some(&page.reader))
            .await;
        assert_eq!(before.status, StatusCode::OK, "{}", before.body);
        assert!(before.body.contains("No billing events"), "{}", before.body);

        // Links: asked for with the read key only.
        let refused = page
            .ask_link(&format!("integration_id={integration}"), None)
            .await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        for (id, key) in [
            (souk_core::Id::generate("int").to_string(), &page.reader),
            (integration.clone(), &page.stranger),
        ] {
            let unknown = page
                .ask_link(&format!("integration_id={id}"), Some(key))
                .await;
            assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.body);
        }
        let link = page.link(&integration, 3600).await;
        assert!(
            link.starts_with(&format!("/reports?integration_id={integration}&org=")),
            "{link}"
        );
        assert!(!link.contains(&page.reader), "the key is not in the link");
        let opened = page.call("GET", &link, None).await;
        assert_eq!(opened.status, StatusCode::OK, "{}", opened.body);
        assert_figures(&opened.body);
        // The range form keeps the link, so the viewer can change the dates.
        assert!(opened.body.contains("name=\"signature\""));

        // Altered or forged: refused.
        let (head, signature) = link.rsplit_once("&signature=").expect("signed");
        let flipped = if signature.starts_with('A') { "B" } else { "A" };
        let forged = format!("{head}&signature={flipped}{}", &signature[1..]);
        let answer = page.call("GET", &forged, None).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
        assert!(answer.body.contains("Link not valid"), "{}", answer.body);
        let other = link.replace(&integration, &souk_core::Id::generate("int").to_string());
        let answer = page.call("GET", &other, None).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
        // (A link signed under another secret is refused the same way: web/tests.rs.)

        // Expired: refused once the clock passes its end.
        let short = page.link(&integration, 60).await;
        assert_eq!(page.call("GET", &short, None).await.status, StatusCode::OK);
        h.advance(serde_json::json!({"seconds": 61})).await;
        let expired = page.call("GET", &short, None).await;
        assert_eq!(expired.status, StatusCode::UNAUTHORIZED, "{}", expired.body);
        assert!(expired.body.contains("Link expired"), "{}", expired.body);
        assert_eq!(
            page.call("GET", &link, None).await.status,
            StatusCode::OK,
            "the hour-long link still works"
        );

        // Lifetimes beyond a day are refused.
        let long = page
            .ask_link(
                &format!("integration_id={integration}&expires_in=90000"),
                Some(&page.reader),
            )
            .await;
        assert_eq!(long.status, StatusCode::BAD_REQUEST, "{}", long.body);
    }
);
