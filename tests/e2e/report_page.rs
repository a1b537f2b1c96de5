//! The revenue page in a browser: `souk dev --emulate-aws` sells two contracts (USD and EUR,
//! part of the USD refunded, everything disbursed; see reporting.rs), `souk report ingest` reads
//! the feeds, `souk report page` prints a signed link, and headless Chromium opens it. The
//! screenshot must show the gross revenue bars (their colour counted in the decoded PNG) and
//! the DOM the figures derived from the emulator's billing events. Without the link, or with
//! an altered one, the page answers 401.
//!
//! Chromium comes from scripts/test-tools.sh (Debian's `chromium`).

use std::collections::BTreeMap;
use std::path::Path;

use souk_e2e::http_get;

use crate::browser::{chromium, headless};
use crate::common::{Dev, souk_ok};
use crate::reporting::{FAST, decimal, sell_and_settle};

/// The gross bars' colour on the page (`#2563eb`).
const GROSS: [u8; 3] = [0x25, 0x63, 0xeb];
/// The disbursement bars' colour (`#d97706`).
const DISBURSED: [u8; 3] = [0xd9, 0x77, 0x06];

/// Runs headless Chromium on `url` at the page's size with `output` (`--screenshot=…` or
/// `--dump-dom`); its stdout.
async fn chromium_run(url: &str, output: &str, profile: &Path) -> String {
    let args = [
        "--hide-scrollbars",
        "--force-color-profile=srgb",
        "--window-size=1200,1600",
        output,
    ];
    headless(url, profile, &args).await
}

/// How many pixels of the RGB(A) PNG `file` are `colour` (each channel within 3), and its size.
fn count_colour(file: &Path, colour: [u8; 3]) -> (usize, (u32, u32)) {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(file).expect("the screenshot exists"),
    ));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().expect("a size")];
    let frame = reader.next_frame(&mut pixels).expect("a frame");
    let channels = match frame.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("unexpected colour type {other:?}"),
    };
    assert_eq!(frame.bit_depth, png::BitDepth::Eight);
    let near = |a: u8, b: u8| a.abs_diff(b) <= 3;
    let count = pixels[..frame.buffer_size()]
        .chunks_exact(channels)
        .filter(|p| near(p[0], colour[0]) && near(p[1], colour[1]) && near(p[2], colour[2]))
        .count();
    (count, (frame.width, frame.height))
}

/// The cells of the totals table's row of `currency` in `dom`.
fn totals_row(dom: &str, currency: &str) -> Vec<String> {
    let totals = dom
        .split("<section id=\"totals\">")
        .nth(1)
        .and_then(|rest| rest.split("</section>").next())
        .unwrap_or_else(|| panic!("no totals section: {dom}"));
    let row = totals
        .split("<tr>")
        .find(|row| row.starts_with(&format!("<td>{currency}</td>")))
        .unwrap_or_else(|| panic!("no {currency} row: {totals}"));
    row.split("<td")
        .skip(1)
        .filter_map(|cell| {
            let (_, rest) = cell.split_once('>')?;
            Some(rest.split_once("</td>")?.0.to_owned())
        })
        .collect()
}

#[tokio::test]
async fn the_revenue_page_shows_charts_and_figures_in_a_browser() {
    chromium();
    let dev = Dev::start(&FAST).await;
    let (grpc, http, key) = (dev.grpc().to_owned(), dev.http().to_owned(), dev.key());
    let (integration, expected): (String, BTreeMap<String, [i64; 6]>) =
        sell_and_settle(&grpc, &grpc, dev.emulator(), &key).await;
    souk_ok(
        &["report", "ingest", "--integration", integration.as_str()],
        &grpc,
        &key,
    )
    .await;

    // The link: one line on stdout; JSON with its expiry.
    let page = ["report", "page", "--integration", integration.as_str()];
    let printed = souk_ok(&[&page[..], &["--http-url", &http]].concat(), &grpc, &key).await;
    let url = printed.stdout.trim().to_owned();
    assert_eq!(printed.stdout.lines().count(), 1, "{printed:?}");
    assert!(
        url.starts_with(&format!("{http}/reports?integration_id={integration}&")),
        "{url}"
    );
    assert!(!url.contains(&key), "the key is not in the link");
    assert!(printed.stderr.contains("works until"), "{printed:?}");
    let json = souk_ok(
        &[
            &page[..],
            &["--http-url", &http, "--expires-in", "30m", "-o", "json"],
        ]
        .concat(),
        &grpc,
        &key,
    )
    .await
    .json()
    .unwrap();
    assert!(
        json["url"].as_str().unwrap().contains("&signature="),
        "{json}"
    );
    assert!(
        json["expire_time"].as_str().unwrap().ends_with('Z'),
        "{json}"
    );

    // An integration the key cannot report on: exit 5 (not found), no link.
    let unknown = souk_e2e::souk(
        &[
            "report",
            "page",
            "--integration",
            "int_0123456789abcdef0123456789abcdef",
            "--http-url",
            &http,
            "--api-key",
            &key,
        ],
        &[],
    )
    .await
    .unwrap();
    assert_eq!(unknown.code, Some(5), "{unknown:?}");
    assert!(unknown.stdout.is_empty(), "{unknown:?}");

    // Without the link or with an altered one: 401.
    let path = url.strip_prefix(&http).unwrap();
    let (status, body) = http_get(&http, &format!("/reports?integration_id={integration}"))
        .await
        .unwrap();
    assert_eq!(status, 401, "{body}");
    let altered = path.replace("&expires=", "&expires=9");
    let (status, body) = http_get(&http, &altered).await.unwrap();
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("Link not valid"), "{body}");
    let (status, _) = http_get(&http, path).await.unwrap();
    assert_eq!(status, 200);

    // The browser: the figures in the DOM…
    let profile = dev.dir().join("profile");
    let dom = chromium_run(&url, "--dump-dom", &profile).await;
    for (currency, figures) in &expected {
        let [gross, fee, refunds, net, disbursed, tax] = figures.map(decimal);
        assert_eq!(
            totals_row(&dom, currency),
            [
                currency.as_str(),
                gross.as_str(),
                fee.as_str(),
                refunds.as_str(),
                net.as_str(),
                disbursed.as_str(),
                tax.as_str(),
                "0.00"
            ],
            "currency, gross, listing fee, refunds, net, disbursed, tax, outstanding"
        );
        let id = currency.to_ascii_lowercase();
        for section in ["revenue", "disbursements", "customers"] {
            assert!(
                dom.contains(&format!("<section id=\"{section}-{id}\">")),
                "{section}-{id}: {dom}"
            );
        }
        assert!(
            dom.contains(&format!("gross: {gross} {currency}</title>")),
            "{dom}"
        );
    }
    assert!(dom.contains("<td>444455556666</td>"), "the buyer: {dom}");
    // The reconciliation status: no usage was metered, so nothing differs.
    assert!(
        dom.contains("<section id=\"reconciliation\">") && dom.contains("matches what AWS billed"),
        "the reconciliation: {dom}"
    );

    // …and the charts on the screen.
    let shot = dev.dir().join("page.png");
    chromium_run(&url, &format!("--screenshot={}", shot.display()), &profile).await;
    let (gross, size) = count_colour(&shot, GROSS);
    assert_eq!(size, (1200, 1600), "the window's size");
    assert!(
        gross > 2_000,
        "the gross bars cover {gross} pixels of the screenshot ({})",
        shot.display()
    );
    let (disbursed, _) = count_colour(&shot, DISBURSED);
    assert!(
        disbursed > 500,
        "the disbursement bars cover {disbursed} pixels"
    );
    dev.process.terminate().await.unwrap();
}
