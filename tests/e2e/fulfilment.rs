//! The fulfilment page as a buyer's browser meets it: `souk dev --emulate-aws`, a subscription
//! made through the emulator's control API, and headless Chromium posting exactly the form the
//! emulator says AWS Marketplace would make it post. Souk answers with its hosted sign-up page,
//! or with a redirect carrying a signed hand-off to the seller's own sign-up URL. The refusals
//! are checked with plain HTTP: each is a page telling the buyer what to do.
//!
//! Chromium comes from scripts/test-tools.sh (Debian's `chromium`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use souk_e2e::http_request;
use souk_entitlement::domain::handoff;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::browser::{chromium, headless};
use crate::common::Dev;

/// Sentences the buyer must read on the refusal pages (docs/fulfilment.md lists them).
const FROM_AWS: &str = "Please open this page from the AWS Marketplace";
const CLICK_AGAIN: &str = "return to AWS Marketplace and click Set up your account again";

/// Loads `page` (HTML) in headless Chromium from a local file and returns the DOM it ends on
/// once the page's own navigation settled.
async fn browse(page: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("page.html");
    std::fs::write(&file, page).unwrap();
    let url = format!("file://{}", file.display());
    headless(&url, &dir.path().join("profile"), &["--dump-dom"]).await
}

/// A page that posts `fields` to `action` as soon as it loads, as the AWS Marketplace page does.
fn auto_submit(method: &str, action: &str, fields: &[(String, String)]) -> String {
    let inputs: String = fields
        .iter()
        .map(|(name, value)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(name),
                escape(value)
            )
        })
        .collect();
    format!(
        "<!doctype html><html><body><form id=\"f\" method=\"{}\" action=\"{}\" \
         enctype=\"application/x-www-form-urlencoded\">{inputs}</form>\
         <script>document.getElementById('f').submit()</script></body></html>",
        escape(method),
        escape(action)
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The `value` of the input named `name` in `dom`.
fn input_value(dom: &str, name: &str) -> String {
    let start = dom
        .find(&format!("name=\"{name}\""))
        .unwrap_or_else(|| panic!("no input {name} in {dom}"));
    let rest = &dom[start..];
    let value = rest.split_once("value=\"").unwrap().1;
    value.split_once('"').unwrap().0.to_owned()
}

/// `POST <emulator><path>` with a JSON body; the JSON answer.
async fn control(emulator: &str, path: &str, body: Value) -> Value {
    let (status, text) = http_request("POST", emulator, path, &body.to_string())
        .await
        .unwrap();
    assert!((200..300).contains(&status), "{path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// The buyer `account` subscribes to the demo product: the form its browser is to post.
pub(crate) async fn subscribe(emulator: &str, account: &str) -> Value {
    let answer = control(
        emulator,
        "/_souk/subscribe",
        json!({"product_code": "souk-demo-saas", "customer_aws_account_id": account}),
    )
    .await;
    answer["fulfillment"].clone()
}

/// The page the AWS Marketplace would show the buyer's browser for `form`.
fn marketplace_page(form: &Value) -> String {
    let fields: Vec<(String, String)> = form["fields"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(form["content_type"], "application/x-www-form-urlencoded");
    auto_submit(
        form["method"].as_str().unwrap(),
        form["url"].as_str().unwrap(),
        &fields,
    )
}

/// An HTTP answer: status, headers (names lowercase) and body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// A refusal page: `status`, the buyer-facing `sentence`, the page headers, no debug text.
    fn assert_refusal(&self, status: u16, sentence: &str) {
        assert_eq!(self.status, status, "{self:?}");
        assert!(self.body.contains(sentence), "{sentence:?} not in {self:?}");
        for debug in ["panicked", "Error {", "internal:", "not found", "int_"] {
            assert!(!self.body.contains(debug), "{debug:?} in {self:?}");
        }
        assert_eq!(self.header("content-type"), "text/html; charset=utf-8");
        assert_eq!(self.header("cache-control"), "no-store");
        assert_eq!(self.header("referrer-policy"), "no-referrer");
        assert_eq!(self.header("x-content-type-options"), "nosniff");
        assert!(
            self.header("content-security-policy")
                .starts_with("default-src 'none'"),
            "{self:?}"
        );
    }
}

/// `method url` with a form-urlencoded `body`, over a plain connection.
pub(crate) async fn send(method: &str, url: &str, body: &str) -> Answer {
    let rest = url.strip_prefix("http://").unwrap();
    let (authority, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = tokio::net::TcpStream::connect(authority).await.unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    // The server may answer (413) before reading the whole body, then close.
    let _ = stream.read_to_end(&mut response).await;
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// The form body AWS posts for `token`.
fn token_body(token: &str) -> String {
    format!(
        "x-amzn-marketplace-token={}",
        token
            .replace('%', "%25")
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D")
    )
}

impl Dev {
    async fn demo_integration(&self) -> String {
        let list = self.cli(&["integration", "list"]).await;
        list[0]["id"].as_str().unwrap().to_owned()
    }

    /// The customer of AWS account `account`.
    async fn customer(&self, account: &str) -> Value {
        let list = self
            .cli(&["customer", "list", "--aws-account", account])
            .await;
        assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
        list[0].clone()
    }

    /// A second seller integration selling `product` with its own role, trusted by the
    /// emulator's STS: the id.
    async fn another_integration(&self, name: &str, product: &str) -> String {
        let role = format!("arn:aws:iam::111122223333:role/{name}");
        let created = self
            .cli(&[
                "integration",
                "create",
                "--name",
                name,
                "--role-arn",
                &role,
                "--product-code",
                product,
            ])
            .await;
        control(
            self.emulator(),
            "/_souk/sts/roles",
            json!({"role_arn": role, "external_id": created["external_id"]}),
        )
        .await;
        created["id"].as_str().unwrap().to_owned()
    }
}

fn now() -> i64 {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    i64::try_from(seconds).unwrap()
}

#[tokio::test]
async fn a_buyer_signs_up_on_the_hosted_page_in_a_browser() {
    chromium();
    let dev = Dev::start(&[]).await;
    let form = subscribe(dev.emulator(), "111122223333").await;
    let fulfilment_url = form["url"].as_str().unwrap().to_owned();
    assert!(
        fulfilment_url.starts_with(&format!("{}/aws/fulfilment/int_", dev.http())),
        "{form}"
    );

    // The browser arrives from AWS Marketplace and gets the hosted sign-up page.
    let dom = browse(&marketplace_page(&form)).await;
    assert!(dom.contains("<h1>Set up your account</h1>"), "{dom}");
    assert!(dom.contains("<strong>souk-demo-saas</strong>"), "{dom}");
    let page_token = input_value(&dom, "page_token");
    assert!(page_token.starts_with("cus_"), "{page_token}");

    // A bad e-mail: the form again, with the error and what was typed.
    let signup_url = format!("{fulfilment_url}/signup");
    let typed = |email: &str| {
        vec![
            ("page_token".to_owned(), page_token.clone()),
            ("company".to_owned(), "Acme <Widgets> & Co".to_owned()),
            ("contact_name".to_owned(), "Ada Lovelace".to_owned()),
            ("email".to_owned(), email.to_owned()),
        ]
    };
    let dom = browse(&auto_submit("POST", &signup_url, &typed("ada-at-example"))).await;
    assert!(dom.contains("E-mail must be an e-mail address"), "{dom}");
    assert!(
        dom.contains("value=\"Acme &lt;Widgets&gt; &amp; Co\""),
        "the company is kept, escaped: {dom}"
    );
    assert_eq!(input_value(&dom, "page_token"), page_token);

    // Corrected: the buyer is all set, and the seller sees the details.
    let dom = browse(&auto_submit("POST", &signup_url, &typed("ada@example.com"))).await;
    assert!(dom.contains("all set"), "{dom}");
    assert!(dom.contains("ada@example.com"), "{dom}");
    let customer = dev.customer("111122223333").await;
    assert_eq!(customer["product_code"], "souk-demo-saas");
    assert_eq!(customer["signup"]["company"], "Acme <Widgets> & Co");
    assert_eq!(customer["signup"]["contact_name"], "Ada Lovelace");
    assert_eq!(customer["signup"]["email"], "ada@example.com");
    assert!(customer["signup"]["submit_time"].is_string(), "{customer}");
    assert_eq!(
        page_token.split('.').next().unwrap(),
        customer["id"].as_str().unwrap(),
        "the page token names the customer"
    );

    // The token cannot be turned to another customer.
    let other = page_token.replacen("cus_", "cus_0", 1);
    let answer = send(
        "POST",
        &signup_url,
        &format!("page_token={other}&company=X&contact_name=Y&email=z%40example.com"),
    )
    .await;
    answer.assert_refusal(400, "This sign-up form is not valid");
    dev.process.terminate().await.unwrap();
}

/// A seller's sign-up page: records the request lines it gets, answers a small page.
async fn seller_server() -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let text = String::from_utf8_lossy(&request);
            let _ = sender.send(text.lines().next().unwrap_or_default().to_owned());
            let page = "<!doctype html><html><body><h1>Welcome from the seller</h1></body></html>";
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{page}",
                page.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
        }
    });
    (base, receiver)
}

#[tokio::test]
async fn a_seller_sign_up_url_gets_a_signed_hand_off_in_a_browser() {
    chromium();
    let dev = Dev::start(&[]).await;
    let integration = dev.demo_integration().await;

    // A buyer used the hosted page before the seller set a sign-up URL: the secret it created
    // is still shown to the seller, once.
    let early = subscribe(dev.emulator(), "222233334444").await;
    let answer = send(
        "POST",
        early["url"].as_str().unwrap(),
        early["body"].as_str().unwrap(),
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(answer.body.contains("Set up your account"), "{answer:?}");

    let (seller, mut requests) = seller_server().await;
    let signup_url = format!("{seller}/welcome?plan=pro");
    let updated = dev
        .cli(&[
            "fulfilment",
            "update",
            "--integration",
            &integration,
            "--signup-url",
            &signup_url,
        ])
        .await;
    let secret = updated["handoff_secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("souk_hs_"), "{updated}");
    let again = dev
        .cli(&[
            "fulfilment",
            "update",
            "--integration",
            &integration,
            "--signup-url",
            &signup_url,
        ])
        .await;
    assert!(again.get("handoff_secret").is_none(), "shown once: {again}");

    // A new buyer's browser lands on the seller's page with a hand-off that verifies.
    let form = subscribe(dev.emulator(), "333344445555").await;
    let dom = browse(&marketplace_page(&form)).await;
    assert!(dom.contains("Welcome from the seller"), "{dom}");
    let request_line = loop {
        let line = tokio::time::timeout(Duration::from_secs(10), requests.recv())
            .await
            .expect("the seller's page got no request")
            .unwrap();
        if line.starts_with("GET /welcome") {
            break line;
        }
    };
    let target = request_line.split_whitespace().nth(1).unwrap();
    let query = target.split_once('?').unwrap().1;
    let params = handoff::query_pairs(query);
    assert_eq!(
        params[0],
        ("plan".to_owned(), "pro".to_owned()),
        "the URL's own query is kept: {params:?}"
    );
    let verified = handoff::verify(&secret, &params, now(), handoff::MAX_AGE)
        .unwrap_or_else(|e| panic!("{e}: {params:?}"));
    assert_eq!(verified.aws_account_id, "333344445555");
    assert_eq!(verified.product_code, "souk-demo-saas");
    assert_eq!(
        verified.customer_id,
        dev.customer("333344445555").await["id"].as_str().unwrap()
    );
    assert!((now() - verified.timestamp).abs() < 60, "{verified:?}");

    // Tampered, stale or under another secret, it does not.
    let mut tampered = params.clone();
    for (key, value) in &mut tampered {
        if key == "souk_aws_account_id" {
            *value = "999988887777".into();
        }
    }
    assert_eq!(
        handoff::verify(&secret, &tampered, now(), handoff::MAX_AGE),
        Err(handoff::HandoffError::BadSignature)
    );
    assert_eq!(
        handoff::verify(&secret, &params, now() + 301, handoff::MAX_AGE),
        Err(handoff::HandoffError::Expired)
    );
    assert_eq!(
        handoff::verify("souk_hs_wrong", &params, now(), handoff::MAX_AGE),
        Err(handoff::HandoffError::BadSignature)
    );
    dev.process.terminate().await.unwrap();
}

#[tokio::test]
async fn refusals_are_pages_telling_the_buyer_what_to_do() {
    let dev = Dev::start(&[]).await;
    let integration = dev.demo_integration().await;
    let page = format!("{}/aws/fulfilment/{integration}", dev.http());

    // Opened directly, or without a token: the buyer must come from AWS Marketplace.
    let answer = send("GET", &page, "").await;
    answer.assert_refusal(
        405,
        "AWS Marketplace sends buyers to this address with a form POST",
    );
    assert_eq!(answer.header("allow"), "POST");
    send("POST", &page, "").await.assert_refusal(400, FROM_AWS);
    send("POST", &page, "x-amzn-marketplace-token=")
        .await
        .assert_refusal(400, FROM_AWS);

    // A token AWS does not know.
    send("POST", &page, "x-amzn-marketplace-token=no-such-token")
        .await
        .assert_refusal(400, CLICK_AGAIN);

    // No such integration, or not an integration id at all.
    let form = subscribe(dev.emulator(), "444455556666").await;
    let token = form["fields"]["x-amzn-marketplace-token"].as_str().unwrap();
    for path in [
        "/aws/fulfilment/int_00000000000000000000000000000000",
        "/aws/fulfilment/not-an-id",
    ] {
        send("POST", &format!("{}{path}", dev.http()), &token_body(token))
            .await
            .assert_refusal(404, "This sign-up page does not exist");
    }

    // Too large.
    let big = format!("x-amzn-marketplace-token={}", "a".repeat(20 * 1024));
    send("POST", &page, &big)
        .await
        .assert_refusal(413, "The form sent more data than this page accepts");

    // The token, used with the demo seller, is then posted to another seller account selling
    // the same product.
    let answer = send("POST", &page, &token_body(token)).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let second = dev
        .another_integration("SecondSeller", "souk-demo-saas")
        .await;
    let second_page = format!("{}/aws/fulfilment/{second}", dev.http());
    send("POST", &second_page, &token_body(token))
        .await
        .assert_refusal(
            409,
            "It was already used to set up an account with another seller",
        );

    // A seller account that does not sell the token's product.
    let third = dev
        .another_integration("ThirdSeller", "another-product")
        .await;
    send(
        "POST",
        &format!("{}/aws/fulfilment/{third}", dev.http()),
        &token_body(token),
    )
    .await
    .assert_refusal(409, "This sign-up page is not set up for your product");

    // AWS failing: try again later.
    let fresh = subscribe(dev.emulator(), "555566667777").await;
    let fresh_token = fresh["fields"]["x-amzn-marketplace-token"]
        .as_str()
        .unwrap();
    control(
        dev.emulator(),
        "/_souk/faults",
        json!({"operation": "ResolveCustomer", "kind": "server_error", "count": 20}),
    )
    .await;
    let answer = send("POST", &page, &token_body(fresh_token)).await;
    answer.assert_refusal(503, "Please wait a minute and reload this page");
    assert_eq!(answer.header("retry-after"), "30");
    let (status, _) = http_request("DELETE", dev.emulator(), "/_souk/faults", "")
        .await
        .unwrap();
    assert!((200..300).contains(&status));

    // An expired token (AWS's registration tokens live for hours; the emulator's 4 h).
    control(dev.emulator(), "/_souk/clock/advance", json!({"hours": 5})).await;
    send("POST", &page, &token_body(fresh_token))
        .await
        .assert_refusal(410, CLICK_AGAIN);
    dev.process.terminate().await.unwrap();
}
