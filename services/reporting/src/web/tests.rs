#![allow(clippy::unwrap_used)]

use souk_core::Id;
use time::OffsetDateTime;

use super::auth::{Link, LinkError, LinkParams, LinkSigner};
use super::chart::{BarChart, Series};
use super::page::{Page, RangeForm, Section, Table, amount, error_page, escape};
use super::sections::GROSS_COLOUR;

fn chart(values: &[(&str, i64, i64)]) -> BarChart {
    BarChart {
        title: "Gross and net <per> month".into(),
        currency: "USD".into(),
        series: vec![
            Series {
                name: "gross".into(),
                colour: GROSS_COLOUR,
            },
            Series {
                name: "net".into(),
                colour: "#16a34a",
            },
        ],
        categories: values
            .iter()
            .map(|(label, gross, net)| ((*label).to_owned(), vec![*gross, *net]))
            .collect(),
    }
}

/// The `(y, height)` of every bar of `svg`, in order.
fn bars(svg: &str) -> Vec<(i64, i64)> {
    let attr = |rest: &str, name: &str| -> i64 {
        let start = rest.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
        rest[start..].split('"').next().unwrap().parse().unwrap()
    };
    svg.split("<rect class=\"bar\"")
        .skip(1)
        .map(|rest| (attr(rest, "y"), attr(rest, "height")))
        .collect()
}

#[test]
fn bars_are_proportional_to_their_amounts_and_titled() {
    let svg = chart(&[
        ("2026-10", 100_000_000, 50_000_000),
        ("2026-11", 200_000_000, 0),
    ])
    .svg();
    assert!(svg.starts_with("<svg class=\"chart\""), "{svg}");
    assert!(svg.ends_with("</svg>"));
    let bars = bars(&svg);
    assert_eq!(bars.len(), 4, "{svg}");
    let heights: Vec<i64> = bars.iter().map(|(_, h)| *h).collect();
    // 200 is the top of the axis (a round step of 50): the tallest bar fills the plot.
    assert_eq!(heights[2], 2 * heights[0]);
    assert_eq!(heights[0], 2 * heights[1]);
    assert_eq!(heights[3], 0);
    assert!(heights[2] > 150, "{heights:?}");
    // All stand on the zero line.
    let zero = bars[0].0 + bars[0].1;
    assert!(bars.iter().all(|(y, h)| y + h == zero), "{bars:?}");
    assert!(svg.contains(&format!("fill=\"{GROSS_COLOUR}\"")));
    assert!(
        svg.contains("<title>2026-11 gross: 200.00 USD</title>"),
        "{svg}"
    );
    assert!(svg.contains(">2026-10</text>"));
    assert!(svg.contains("gross (USD)"));
    // The title is escaped, in the accessible name too.
    assert!(svg.contains("aria-label=\"Gross and net &lt;per&gt; month\""));
    assert!(!svg.contains("<per>"));
}

#[test]
fn negative_amounts_hang_below_the_zero_line() {
    let svg = chart(&[("2026-11", 100_000_000, -50_000_000)]).svg();
    let bars = bars(&svg);
    let (gross, net) = (bars[0], bars[1]);
    let zero = gross.0 + gross.1;
    assert_eq!(net.0, zero, "the negative bar starts at zero: {bars:?}");
    // Twice as tall, to the pixel (each end is rounded down on its own).
    assert!((gross.1 - 2 * net.1).abs() <= 1, "{bars:?}");
    assert!(svg.contains("class=\"zero\""));
    assert!(svg.contains("-50.00 USD"));
}

#[test]
fn an_all_zero_chart_is_empty_and_draws_without_dividing_by_zero() {
    let empty = chart(&[("2026-11", 0, 0)]);
    assert!(empty.is_empty());
    assert!(chart(&[]).is_empty());
    let svg = empty.svg();
    assert!(bars(&svg).iter().all(|(_, h)| *h == 0));
    assert!(!chart(&[("2026-11", 1, 0)]).is_empty());
}

#[test]
fn the_axis_has_round_steps() {
    assert_eq!(super::chart::nice_step(0), 10_000);
    assert_eq!(super::chart::nice_step(1_000_000_000), 200_000_000);
    assert_eq!(super::chart::nice_step(824_500_000), 200_000_000);
    assert_eq!(super::chart::nice_step(30_000), 10_000);
    assert_eq!(
        super::chart::nice_step(i64::MAX),
        super::chart::nice_step(i64::MAX)
    );
}

#[test]
fn escaping_covers_markup_and_both_quotes() {
    assert_eq!(
        escape("<script>alert('x')</script> & \"y\""),
        "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;y&quot;"
    );
    assert_eq!(escape("plain 123"), "plain 123");
}

#[test]
fn data_in_tables_sections_forms_and_error_pages_is_escaped() {
    let evil = "<img src=x onerror=alert(1)>\"'&";
    let table = Table {
        columns: vec![evil.into(), "Gross".into()],
        text_columns: 1,
        rows: vec![vec![evil.into(), "1.00".into()]],
    };
    let page = Page {
        integration_id: evil.into(),
        range: evil.into(),
        freshness: Some(evil.into()),
        form: RangeForm {
            start: evil.into(),
            end: String::new(),
            hidden: vec![(evil.into(), evil.into())],
        },
        sections: vec![Section {
            id: evil.into(),
            title: evil.into(),
            body: table.html(),
        }],
    }
    .render();
    assert!(!page.contains("<img"), "{page}");
    assert!(!page.contains("\"'&\""), "{page}");
    assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;"));
    assert!(!page.contains("<script"), "no script at all");
    let error = error_page(evil, evil, evil);
    assert!(!error.contains("<img"), "{error}");
}

#[test]
fn amounts_are_exact_decimals() {
    assert_eq!(amount(1_234_500_000), "1234.50");
    assert_eq!(amount(37_035_000), "37.035");
    assert_eq!(amount(1_000), "0.001");
    assert_eq!(amount(-500_000), "-0.50");
    assert_eq!(amount(0), "0.00");
}

fn link(expires: i64) -> Link {
    Link {
        organization_id: Id::generate("org"),
        integration_id: Id::generate("int"),
        key_id: Id::generate("key"),
        expires,
    }
}

/// The parameters of `query` (`a=b&c=d`), as the page reads them.
fn params(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

fn verify(
    signer: &LinkSigner,
    params: &[(String, String)],
    now: OffsetDateTime,
) -> Result<Link, LinkError> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    signer.verify(
        &LinkParams {
            integration_id: get("integration_id"),
            org: get("org"),
            key_id: get("key_id"),
            expires: get("expires"),
            signature: get("signature"),
        },
        now,
    )
}

#[test]
fn a_link_verifies_until_it_expires_and_not_when_altered_or_signed_elsewhere() {
    let signer = LinkSigner::new(b"0123456789abcdef0123456789abcdef");
    let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
    let made = link(now.unix_timestamp() + 3600);
    let query = signer.query(&made, Some("2026-01-01"), None);
    assert!(query.ends_with("&start=2026-01-01"), "{query}");
    let good = params(&query);
    assert_eq!(verify(&signer, &good, now), Ok(made.clone()));

    let at_expiry = now + time::Duration::seconds(3600);
    assert!(matches!(
        verify(&signer, &good, at_expiry),
        Err(LinkError::Expired(at)) if at == "2027-01-15T09:00:00Z"
    ));

    // Another integration, a later expiry, another organisation: the signature no longer fits.
    for (name, value) in [
        ("integration_id", Id::generate("int").to_string()),
        ("expires", (made.expires + 86_400).to_string()),
        ("org", Id::generate("org").to_string()),
    ] {
        let altered: Vec<(String, String)> = good
            .iter()
            .map(|(k, v)| (k.clone(), if k == name { value.clone() } else { v.clone() }))
            .collect();
        assert_eq!(
            verify(&signer, &altered, now),
            Err(LinkError::BadSignature),
            "{name}"
        );
    }
    let elsewhere = LinkSigner::random();
    assert_eq!(verify(&elsewhere, &good, now), Err(LinkError::BadSignature));
    let unsigned: Vec<_> = good
        .iter()
        .filter(|(k, _)| k != "signature")
        .cloned()
        .collect();
    assert_eq!(
        verify(&signer, &unsigned, now),
        Err(LinkError::Malformed("signature"))
    );
    let garbled: Vec<_> = good
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                if k == "expires" {
                    "soon".into()
                } else {
                    v.clone()
                },
            )
        })
        .collect();
    assert_eq!(
        verify(&signer, &garbled, now),
        Err(LinkError::Malformed("expires"))
    );
    // The signature is never in the message.
    let signature = good
        .iter()
        .find(|(k, _)| k == "signature")
        .unwrap()
        .1
        .clone();
    for error in [
        LinkError::BadSignature,
        LinkError::Expired("x".into()),
        LinkError::Malformed("signature"),
    ] {
        assert!(!error.to_string().contains(&signature));
    }
}
