//! The HTML pages a buyer's browser gets from the fulfilment endpoint: Souk's hosted sign-up
//! form, its confirmation, and one page per refusal telling the buyer what to do. Each is small
//! and self-contained (inline CSS, no script, nothing fetched), so a Content-Security-Policy
//! allowing nothing else holds; whatever is interpolated is escaped. docs/fulfilment.md lists
//! the refusals; keep the two in step.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use souk_core::FieldViolation;
pub use souk_service::html::{CONTENT_SECURITY_POLICY, escape, html, protect};

/// Seconds a buyer is asked to wait when AWS or the store is unavailable.
const RETRY_AFTER_SECONDS: &str = "30";

/// Why Souk cannot go on with the buyer, each with its page and status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not a POST: a browser opened the address directly.
    NotAPost,
    /// No registration token (or a body that is no form).
    MissingToken,
    /// AWS does not know the token, or it cannot be one.
    UnknownToken,
    /// AWS says the token expired.
    ExpiredToken,
    /// The token was first used with another integration.
    TokenUsedElsewhere,
    /// The token is for a product the integration does not sell.
    WrongProduct,
    /// No such integration (or a malformed id).
    NoSuchPage,
    /// The body is over the limit.
    TooLarge,
    /// The hosted form's page token is forged, damaged or for another integration.
    FormInvalid,
    /// The hosted form's page token is older than an hour.
    FormExpired,
    /// AWS refused the seller's role (access denied, unexpected refusal).
    SellerSetup,
    /// AWS or the store is unavailable: retry.
    Unavailable,
    /// A bug; the log has the detail.
    Internal,
}

impl Refusal {
    /// The status of the refusal.
    pub fn status(self) -> StatusCode {
        match self {
            Self::NotAPost => StatusCode::METHOD_NOT_ALLOWED,
            Self::MissingToken | Self::UnknownToken | Self::FormInvalid => StatusCode::BAD_REQUEST,
            // 410, not 400: the link was genuine and is gone for good, so resending this same
            // request can never work; only a new link from AWS Marketplace can.
            Self::ExpiredToken | Self::FormExpired => StatusCode::GONE,
            // The request is fine but conflicts with how the token or the integration is set up.
            Self::TokenUsedElsewhere | Self::WrongProduct => StatusCode::CONFLICT,
            Self::NoSuchPage => StatusCode::NOT_FOUND,
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            // Souk is a gateway to AWS here, and AWS refused the seller's call.
            Self::SellerSetup => StatusCode::BAD_GATEWAY,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The page's heading and paragraphs.
    fn text(self) -> (&'static str, &'static [&'static str]) {
        const AGAIN: &str = "Please return to AWS Marketplace and click Set up your account again.";
        match self {
            Self::NotAPost => (
                "Open this page from AWS Marketplace",
                &[
                    "AWS Marketplace sends buyers to this address with a form POST after they \
                     subscribe, so it cannot be opened directly.",
                    "To set up your account, go to AWS Marketplace, open your subscription to \
                     the product and click Set up your account.",
                ],
            ),
            Self::MissingToken => (
                "Open this page from AWS Marketplace",
                &[
                    "This page needs the sign-up details AWS Marketplace sends when you click \
                     Set up your account, and none came with this request.",
                    "Please open this page from the AWS Marketplace: open your subscription to \
                     the product and click Set up your account.",
                ],
            ),
            Self::UnknownToken => (
                "We could not confirm your subscription",
                &[
                    "AWS Marketplace did not recognise the sign-up link that brought you here.",
                    AGAIN,
                ],
            ),
            Self::ExpiredToken => (
                "This sign-up link has expired",
                &[
                    "Sign-up links from AWS Marketplace are valid for a limited time only.",
                    AGAIN,
                ],
            ),
            Self::TokenUsedElsewhere => (
                "This sign-up link was already used",
                &[
                    "It was already used to set up an account with another seller.",
                    "Please return to AWS Marketplace and click Set up your account again; if \
                     this page appears again, contact the seller of the product.",
                ],
            ),
            Self::WrongProduct => (
                "This sign-up page is not set up for your product",
                &[
                    "The seller has not connected the product you subscribed to with this \
                     sign-up page.",
                    "Please contact the seller of the product.",
                ],
            ),
            Self::NoSuchPage => (
                "This sign-up page does not exist",
                &[
                    "The address is not one of the seller's sign-up pages: it may be mistyped, \
                     or the seller may have removed it.",
                    "Please return to AWS Marketplace and click Set up your account again; if \
                     this page appears again, contact the seller of the product.",
                ],
            ),
            Self::TooLarge => (
                "This request is too large",
                &["The form sent more data than this page accepts.", AGAIN],
            ),
            Self::FormInvalid => (
                "This sign-up form is not valid",
                &[
                    "The form was not issued by this page, or it was changed on the way.",
                    "Please return to AWS Marketplace and click Set up your account again to \
                     get a new form.",
                ],
            ),
            Self::FormExpired => (
                "This sign-up form has expired",
                &[
                    "The sign-up form can be sent within one hour of opening it.",
                    "Please return to AWS Marketplace and click Set up your account again to \
                     get a new form.",
                ],
            ),
            Self::SellerSetup => (
                "Sign-up is not available right now",
                &[
                    "The seller's connection to AWS Marketplace is not working, so your \
                     subscription cannot be confirmed.",
                    "Please try again later, or contact the seller of the product.",
                ],
            ),
            Self::Unavailable => (
                "We cannot confirm your subscription right now",
                &[
                    "AWS Marketplace or this service is busy or briefly unavailable.",
                    "Please wait a minute and reload this page, or return to AWS Marketplace \
                     and click Set up your account again.",
                ],
            ),
            Self::Internal => (
                "Something went wrong on our side",
                &[
                    "The problem has been logged for the seller to look into.",
                    "Please try again in a few minutes; if it keeps happening, contact the \
                     seller of the product.",
                ],
            ),
        }
    }

    /// The refusal as a response.
    pub fn response(self) -> Response {
        let (title, paragraphs) = self.text();
        let mut body = format!("<h1>{}</h1>", escape(title));
        for paragraph in paragraphs {
            body.push_str(&format!("<p>{}</p>", escape(paragraph)));
        }
        let mut response = html(self.status(), layout(title, &body));
        let headers = response.headers_mut();
        match self {
            Self::NotAPost => {
                headers.insert(header::ALLOW, HeaderValue::from_static("POST"));
            }
            Self::Unavailable => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from_static(RETRY_AFTER_SECONDS),
                );
            }
            _ => {}
        }
        response
    }
}

/// What the hosted sign-up form shows.
#[derive(Debug, Clone, Copy)]
pub struct SignupForm<'a> {
    /// Where the form posts (relative, so Souk may sit behind a path prefix).
    pub action: &'a str,
    /// The signed page token naming the customer.
    pub page_token: &'a str,
    /// The product bought, shown on the first rendering.
    pub product_code: Option<&'a str>,
    /// Values typed so far.
    pub company: &'a str,
    /// Values typed so far.
    pub contact_name: &'a str,
    /// Values typed so far.
    pub email: &'a str,
    /// What is wrong with them.
    pub errors: &'a [FieldViolation],
}

/// The hosted sign-up page.
pub fn signup_form(form: &SignupForm<'_>) -> String {
    let title = "Set up your account";
    let intro = match form.product_code {
        Some(product) => format!(
            "<p>Thank you for subscribing to <strong>{}</strong> through AWS Marketplace. Tell \
             us who you are and we will set up your account.</p>",
            escape(product)
        ),
        None => "<p>Please correct the fields marked below.</p>".to_owned(),
    };
    let fields = [
        (
            "company",
            "Company",
            "text",
            "organization",
            form.company,
            200,
        ),
        (
            "contact_name",
            "Your name",
            "text",
            "name",
            form.contact_name,
            200,
        ),
        ("email", "E-mail", "email", "email", form.email, 254),
    ];
    let mut inputs = String::new();
    for (name, label, kind, autocomplete, value, max) in fields {
        let error = form.errors.iter().find(|v| v.field == name);
        inputs.push_str(&format!(
            "<label for=\"{name}\">{label}</label><input id=\"{name}\" name=\"{name}\" \
             type=\"{kind}\" autocomplete=\"{autocomplete}\" maxlength=\"{max}\" required \
             value=\"{}\"{}>",
            escape(value),
            if error.is_some() {
                format!(" aria-invalid=\"true\" aria-describedby=\"{name}-error\"")
            } else {
                String::new()
            },
        ));
        if let Some(error) = error {
            inputs.push_str(&format!(
                "<p class=\"error\" id=\"{name}-error\">{label} {}</p>",
                escape(&error.reason)
            ));
        }
    }
    let body = format!(
        "<h1>{title}</h1>{intro}<form method=\"post\" action=\"{}\">\
         <input type=\"hidden\" name=\"page_token\" value=\"{}\">{inputs}\
         <button type=\"submit\">Create my account</button></form>",
        escape(form.action),
        escape(form.page_token),
    );
    layout(title, &body)
}

/// The confirmation after a sign-up.
pub fn all_set(contact_name: &str, email: &str) -> String {
    let title = "You're all set";
    let body = format!(
        "<h1>{}</h1><p>Thank you, {}. We have your details and will write to <strong>{}</strong> \
         to finish setting up your account.</p><p class=\"muted\">You can close this page.</p>",
        escape(title),
        escape(contact_name),
        escape(email),
    );
    layout(title, &body)
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;\
background:#f3f4f6;color:#1f2430;margin:0;padding:2rem 1rem;line-height:1.5}\
main{max-width:32rem;margin:0 auto;background:#fff;border-radius:8px;padding:2rem;\
box-shadow:0 1px 3px rgba(0,0,0,.15)}h1{font-size:1.4rem;margin-top:0}\
label{display:block;margin-top:1rem;font-weight:600}\
input{box-sizing:border-box;width:100%;padding:.5rem;margin-top:.25rem;border:1px solid #9aa3b2;\
border-radius:4px;font:inherit}input[aria-invalid=true]{border-color:#b3261e}\
.error{color:#b3261e;font-size:.9rem;margin:.25rem 0 0}\
button{margin-top:1.5rem;padding:.6rem 1.2rem;border:0;border-radius:4px;background:#232f3e;\
color:#fff;font:inherit;cursor:pointer}.muted{color:#5b6475;font-size:.9rem}";

fn layout(title: &str, body: &str) -> String {
    souk_service::html::document(title, STYLE, body)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const EVERY_REFUSAL: [Refusal; 13] = [
        Refusal::NotAPost,
        Refusal::MissingToken,
        Refusal::UnknownToken,
        Refusal::ExpiredToken,
        Refusal::TokenUsedElsewhere,
        Refusal::WrongProduct,
        Refusal::NoSuchPage,
        Refusal::TooLarge,
        Refusal::FormInvalid,
        Refusal::FormExpired,
        Refusal::SellerSetup,
        Refusal::Unavailable,
        Refusal::Internal,
    ];

    #[test]
    fn typed_values_cannot_break_out_of_the_page() {
        let errors = [FieldViolation::new("email", "must be an <e-mail> address")];
        let page = signup_form(&SignupForm {
            action: "signup",
            page_token: "cus_1.2.abc",
            product_code: Some("<script>alert(1)</script>"),
            company: "Acme \"Corp\" & <Sons>",
            contact_name: "O'Brien",
            email: "x\"><script>",
            errors: &errors,
        });
        assert!(!page.contains("<script>"), "{page}");
        assert!(page.contains("value=\"Acme &quot;Corp&quot; &amp; &lt;Sons&gt;\""));
        assert!(page.contains("value=\"O&#39;Brien\""));
        assert!(page.contains("E-mail must be an &lt;e-mail&gt; address"));
        assert!(page.contains("aria-invalid=\"true\" aria-describedby=\"email-error\""));
        assert!(page.contains("<input type=\"hidden\" name=\"page_token\" value=\"cus_1.2.abc\">"));
        assert!(all_set("<b>", "a@b.c").contains("Thank you, &lt;b&gt;."));
    }

    #[test]
    fn every_refusal_is_a_protected_page_with_its_status() {
        for refusal in EVERY_REFUSAL {
            let response = refusal.response();
            assert_eq!(response.status(), refusal.status());
            assert!(
                response.status().is_client_error() || response.status().is_server_error(),
                "{refusal:?}"
            );
            let headers = response.headers();
            assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
            assert_eq!(headers[header::CACHE_CONTROL], "no-store");
            assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
            assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
            assert_eq!(
                headers[header::CONTENT_SECURITY_POLICY],
                CONTENT_SECURITY_POLICY
            );
        }
        assert_eq!(
            Refusal::NotAPost.response().headers()[header::ALLOW],
            "POST"
        );
        assert_eq!(
            Refusal::Unavailable.response().headers()[header::RETRY_AFTER],
            "30"
        );
    }
}
