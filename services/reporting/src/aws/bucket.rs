//! [`AwsFeedBucket`]: ListObjectsV2 over every page and GetObject of whole objects, with S3's
//! errors in the domain's terms ([`CallError::Retry`] for what may pass, [`CallError::Refused`]
//! with what to fix otherwise).
//!
//! The S3 client is the integration's from `souk_auth::AwsClients` (the integration's region,
//! path-style, the assumer's endpoint override, standard retries with backoff and the assumer's
//! timeouts), so throttling (`SlowDown`), 5xx and transport failures are retried by the SDK
//! first: a [`CallError::Retry`] means they were still failing after that.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::DateTime;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use souk_auth::{AwsClients, AwsError, IntegrationRole, RoleAssumer};
use time::OffsetDateTime;

use super::IntegrationFeeds;
use crate::domain::ports::{Acting, CallError, FeedBucket, FeedObject};

/// Keys per ListObjectsV2 page (S3's maximum).
pub const PAGE_SIZE: i32 = 1000;
/// At most this many pages are listed (a million keys); a bucket with more is refused.
pub const MAX_PAGES: usize = 1000;
/// Time limit of reading one object's body, once S3 answered.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(600);

/// The integrations' data feed buckets through their roles.
#[derive(Clone)]
pub struct AwsFeedBucket {
    assumer: RoleAssumer,
    feeds: Arc<dyn IntegrationFeeds>,
    page_size: i32,
    body_timeout: Duration,
}

impl fmt::Debug for AwsFeedBucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsFeedBucket")
            .field("assumer", &self.assumer)
            .field("page_size", &self.page_size)
            .field("body_timeout", &self.body_timeout)
            .finish_non_exhaustive()
    }
}

/// The S3 client and bucket of one call.
struct Source {
    clients: Arc<AwsClients>,
    role: IntegrationRole,
    bucket: String,
}

impl AwsFeedBucket {
    /// Reads the buckets `feeds` names through `assumer`.
    pub fn new(assumer: RoleAssumer, feeds: Arc<dyn IntegrationFeeds>) -> Self {
        Self {
            assumer,
            feeds,
            page_size: PAGE_SIZE,
            body_timeout: BODY_TIMEOUT,
        }
    }

    /// Lists `page_size` keys per request (1..=1000; tests use small pages to exercise
    /// pagination).
    pub fn with_page_size(mut self, page_size: i32) -> Self {
        self.page_size = page_size.clamp(1, PAGE_SIZE);
        self
    }

    /// Gives up reading one object's body after `timeout`.
    pub fn with_body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    async fn source(&self, acting: &Acting) -> Result<Source, CallError> {
        let source = match self
            .feeds
            .feed_source(&acting.organization_id, &acting.integration_id)
            .await
        {
            Ok(Some(source)) if !source.bucket.trim().is_empty() => source,
            Ok(_) => {
                return Err(CallError::Refused {
                    code: "NoDataFeedBucket".into(),
                    message: format!(
                        "no data feed bucket is configured for integration {}: set data_feed_bucket \
                         on the integration to the S3 bucket AWS Marketplace delivers its Seller \
                         Data Feeds to",
                        acting.integration_id
                    ),
                });
            }
            Err(error) => {
                return Err(CallError::Retry(format!(
                    "the data feed bucket of integration {} is unknown: {error}",
                    acting.integration_id
                )));
            }
        };
        if source.role.role_arn.trim().is_empty() {
            return Err(CallError::Refused {
                code: "NoRole".into(),
                message: format!(
                    "integration {} has no AWS role to read its data feed bucket with (set its \
                     role_arn)",
                    acting.integration_id
                ),
            });
        }
        let clients = self
            .assumer
            .clients(&source.role)
            .await
            .map_err(|error| match error {
                AwsError::Unreachable { message } => CallError::Retry(format!(
                    "assuming the role of integration {}: {message}",
                    acting.integration_id
                )),
                refused => CallError::Refused {
                    code: "AssumeRoleFailed".into(),
                    message: format!(
                        "assuming the role of integration {} ({}): {refused}; check the role's \
                         trust policy and ExternalId",
                        acting.integration_id, source.role.role_arn
                    ),
                },
            })?;
        Ok(Source {
            clients,
            role: source.role,
            bucket: source.bucket.trim().to_owned(),
        })
    }

    /// Maps a failed call, dropping the role's cached credentials when S3 rejected them.
    fn failed<E>(&self, source: &Source, what: &str, error: &SdkError<E, HttpResponse>) -> CallError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let mapped = call_error(what, &source.bucket, error);
        if let CallError::Retry(_) = &mapped
            && response_of(error).is_some_and(|r| credentials_rejected(&r.code))
        {
            self.assumer.forget(&source.role);
        }
        mapped
    }
}

#[async_trait]
impl FeedBucket for AwsFeedBucket {
    async fn list(&self, acting: &Acting) -> Result<Vec<FeedObject>, CallError> {
        let source = self.source(acting).await?;
        let mut objects = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let output = source
                .clients
                .s3
                .list_objects_v2()
                .bucket(&source.bucket)
                .max_keys(self.page_size)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| self.failed(&source, "listing", &e))?;
            objects.extend(output.contents().iter().filter_map(|object| {
                Some(FeedObject {
                    key: object.key()?.to_owned(),
                    etag: unquote(object.e_tag().unwrap_or_default()),
                    size: u64::try_from(object.size().unwrap_or_default()).unwrap_or_default(),
                    last_modified: object.last_modified().and_then(offset_date_time),
                })
            }));
            match output.next_continuation_token() {
                Some(next) if output.is_truncated() == Some(true) && !next.is_empty() => {
                    token = Some(next.to_owned());
                }
                _ => return Ok(objects),
            }
        }
        Err(CallError::Refused {
            code: "TooManyObjects".into(),
            message: format!(
                "s3://{} holds more than {} pages of objects; point data_feed_bucket at a \
                 bucket that holds only the Seller Data Feeds",
                source.bucket, MAX_PAGES
            ),
        })
    }

    async fn get(&self, acting: &Acting, object: &FeedObject) -> Result<Vec<u8>, CallError> {
        let source = self.source(acting).await?;
        let what = format!("reading {}", object.key);
        let output = source
            .clients
            .s3
            .get_object()
            .bucket(&source.bucket)
            .key(&object.key)
            .send()
            .await
            .map_err(|e| self.failed(&source, &what, &e))?;
        let etag = output.e_tag().map(unquote);
        let body = tokio::time::timeout(self.body_timeout, output.body.collect())
            .await
            .map_err(|_| {
                CallError::Retry(format!(
                    "s3://{}/{}: reading the body took longer than {:?}",
                    source.bucket, object.key, self.body_timeout
                ))
            })?
            .map_err(|e| {
                CallError::Retry(format!(
                    "s3://{}/{}: reading the body failed: {}",
                    source.bucket,
                    object.key,
                    DisplayErrorContext(&e)
                ))
            })?
            .into_bytes()
            .to_vec();
        checked_body(&source.bucket, object, etag.as_deref(), body)
    }
}

/// `body` if it is the whole listed object: its length must be the listed size, and its ETag (when
/// S3 answered one) the listed one; otherwise [`CallError::Retry`] (the transfer was cut or the
/// object was replaced since it was listed: list again and read the new one), never part of a file.
pub(crate) fn checked_body(
    bucket: &str,
    object: &FeedObject,
    etag: Option<&str>,
    body: Vec<u8>,
) -> Result<Vec<u8>, CallError> {
    let read = u64::try_from(body.len()).unwrap_or(u64::MAX);
    if read != object.size {
        return Err(CallError::Retry(format!(
            "s3://{bucket}/{}: read {read} bytes but the object was listed with {} (truncated \
             transfer or replaced object); not ingested",
            object.key, object.size
        )));
    }
    if let Some(etag) = etag.filter(|e| !e.is_empty() && !object.etag.is_empty())
        && etag != object.etag
    {
        return Err(CallError::Retry(format!(
            "s3://{bucket}/{}: the object changed since it was listed (ETag {etag}, listed {}); \
             not ingested",
            object.key, object.etag
        )));
    }
    Ok(body)
}

/// An ETag without its quotes (`"abc"` → `abc`).
fn unquote(etag: &str) -> String {
    etag.trim().trim_matches('"').to_owned()
}

fn offset_date_time(at: &DateTime) -> Option<OffsetDateTime> {
    let nanos = i128::from(at.secs()) * 1_000_000_000 + i128::from(at.subsec_nanos());
    OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
}

/// An S3 error response: status, code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) code: String,
    pub(crate) message: String,
}

/// The error response of `error`, if S3 answered one. The code comes from the SDK's error
/// metadata; when the SDK could not read it (a body not in S3's `<Error>` shape) it is taken from
/// the body's first `<Code>`; a body-less 404 (HEAD) is `NotFound`.
fn response_of<E>(error: &SdkError<E, HttpResponse>) -> Option<Response>
where
    E: ProvideErrorMetadata,
{
    let SdkError::ServiceError(service) = error else {
        return None;
    };
    let status = service.raw().status().as_u16();
    let body = service
        .raw()
        .body()
        .bytes()
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    let code = service
        .err()
        .code()
        .map(str::to_owned)
        .or_else(|| element(&body, "Code"))
        .unwrap_or_else(|| if status == 404 { "NotFound" } else { "Unknown" }.to_owned());
    let message = service
        .err()
        .message()
        .map(str::to_owned)
        .or_else(|| element(&body, "Message"))
        .unwrap_or_else(|| format!("http status {status}"));
    Some(Response {
        status,
        code,
        message,
    })
}

/// The text of the first `<name>` element of an XML body.
fn element(body: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find(&format!("</{name}>"))? + start;
    Some(body[start..end].trim().to_owned()).filter(|text| !text.is_empty())
}

/// Codes of credentials S3 no longer accepts: assume the role again next time.
fn credentials_rejected(code: &str) -> bool {
    matches!(
        code,
        "ExpiredToken" | "ExpiredTokenException" | "InvalidToken" | "TokenRefreshRequired"
    )
}

/// The domain error of a failed S3 call about `bucket` (`what`: `listing`, `reading <key>`).
pub(crate) fn call_error<E>(
    what: &str,
    bucket: &str,
    error: &SdkError<E, HttpResponse>,
) -> CallError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if let Some(response) = response_of(error) {
        return classify(what, bucket, response);
    }
    let context = DisplayErrorContext(error);
    match error {
        SdkError::TimeoutError(_) => {
            CallError::Retry(format!("s3://{bucket}: {what} timed out (after retries)"))
        }
        SdkError::DispatchFailure(_) => CallError::Retry(format!(
            "s3://{bucket}: {what}: connection failed (after retries): {context}"
        )),
        SdkError::ResponseError(_) => CallError::Retry(format!(
            "s3://{bucket}: {what}: unreadable response (after retries): {context}"
        )),
        _ => CallError::Refused {
            code: "InvalidRequest".into(),
            message: format!("s3://{bucket}: {what}: the request could not be made: {context}"),
        },
    }
}

/// The domain error of an S3 error response.
pub(crate) fn classify(what: &str, bucket: &str, response: Response) -> CallError {
    let Response {
        status,
        code,
        message,
    } = response;
    let transient = status >= 500
        || status == 429
        || code == "SlowDown"
        || code.starts_with("Throttl")
        || matches!(
            code.as_str(),
            "RequestLimitExceeded"
                | "RequestThrottled"
                | "ServiceUnavailable"
                | "InternalError"
                | "RequestTimeout"
                | "RequestTimeTooSkewed"
                | "PreconditionFailed"
        )
        || credentials_rejected(&code);
    if transient {
        return CallError::Retry(format!(
            "s3://{bucket}: {what}: {code} (http {status}) still failing after retries: {message}"
        ));
    }
    let hint = match code.as_str() {
        "NoSuchBucket" => format!(
            "the data feed bucket {bucket} does not exist; set data_feed_bucket on the \
             integration to the bucket AWS Marketplace delivers its Seller Data Feeds to"
        ),
        "NoSuchKey" | "NotFound" => format!(
            "{what}: the object is no longer in s3://{bucket} (deleted since it was listed)"
        ),
        "PermanentRedirect"
        | "AuthorizationHeaderMalformed"
        | "IllegalLocationConstraintException" => {
            format!(
                "s3://{bucket} is not in the integration's region; the data feed bucket must be in \
                 the integration's region"
            )
        }
        _ if status == 403 || code.starts_with("AccessDenied") => format!(
            "{what} s3://{bucket}: the integration's role may not read the bucket; allow \
             s3:ListBucket on arn:aws:s3:::{bucket} and s3:GetObject on arn:aws:s3:::{bucket}/* \
             (and kms:Decrypt on the bucket's key if it is SSE-KMS encrypted) in its policy"
        ),
        _ => format!("s3://{bucket}: {what}"),
    };
    let code = if code == "NotFound" {
        "NoSuchKey".to_owned()
    } else {
        code
    };
    CallError::Refused {
        code,
        message: format!("{hint} (http {status}: {message})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(size: u64) -> FeedObject {
        FeedObject {
            key: "billing_event_v1/year=2026/month=11/data.csv".into(),
            etag: "abc".into(),
            size,
            last_modified: None,
        }
    }

    fn response(status: u16, code: &str) -> Response {
        Response {
            status,
            code: code.into(),
            message: "m".into(),
        }
    }

    fn refused_code(error: CallError) -> String {
        match error {
            CallError::Refused { code, .. } => code,
            CallError::Retry(message) => panic!("expected Refused, got Retry({message})"),
        }
    }

    #[test]
    fn a_body_of_the_listed_size_and_etag_is_whole() {
        assert_eq!(
            checked_body("b", &object(3), Some("abc"), b"a,b".to_vec()),
            Ok(b"a,b".to_vec())
        );
        assert_eq!(
            checked_body("b", &object(3), None, b"a,b".to_vec()),
            Ok(b"a,b".to_vec())
        );
    }

    #[test]
    fn a_truncated_or_longer_body_is_retried_never_returned() {
        for body in [b"a,".to_vec(), Vec::new(), b"a,b,c".to_vec()] {
            let error = checked_body("b", &object(3), Some("abc"), body).unwrap_err();
            assert!(
                matches!(&error, CallError::Retry(m) if m.contains("listed with 3")),
                "{error:?}"
            );
        }
    }

    #[test]
    fn a_replaced_object_is_retried() {
        let error = checked_body("b", &object(3), Some("def"), b"a,b".to_vec()).unwrap_err();
        assert!(matches!(error, CallError::Retry(m) if m.contains("changed")));
    }

    #[test]
    fn etags_lose_their_quotes() {
        assert_eq!(
            unquote("\"9b2cf535f27731c974343645a3985328\""),
            "9b2cf535f27731c974343645a3985328"
        );
        assert_eq!(unquote("abc-2"), "abc-2");
    }

    #[test]
    fn throttling_5xx_and_expired_credentials_are_retried() {
        for (status, code) in [
            (503, "SlowDown"),
            (400, "Throttling"),
            (400, "ThrottlingException"),
            (500, "InternalError"),
            (500, "Unknown"),
            (502, "Unknown"),
            (503, "ServiceUnavailable"),
            (429, "TooManyRequests"),
            (400, "RequestTimeout"),
            (400, "ExpiredToken"),
        ] {
            assert!(
                matches!(
                    classify("listing", "b", response(status, code)),
                    CallError::Retry(_)
                ),
                "{status} {code}"
            );
        }
    }

    #[test]
    fn missing_buckets_objects_and_access_are_refused_with_a_hint() {
        let error = classify("listing", "feeds", response(404, "NoSuchBucket"));
        assert!(
            matches!(&error, CallError::Refused { message, .. } if message.contains("data_feed_bucket"))
        );
        assert_eq!(refused_code(error), "NoSuchBucket");
        assert_eq!(
            refused_code(classify("reading k", "feeds", response(404, "NoSuchKey"))),
            "NoSuchKey"
        );
        assert_eq!(
            refused_code(classify("reading k", "feeds", response(404, "NotFound"))),
            "NoSuchKey"
        );
        let denied = classify("listing", "feeds", response(403, "AccessDenied"));
        assert!(
            matches!(&denied, CallError::Refused { message, .. } if message.contains("s3:GetObject"))
        );
        assert_eq!(refused_code(denied), "AccessDenied");
    }

    #[test]
    fn codes_are_read_from_wrapped_error_bodies() {
        let body = "<ErrorResponse>\n  <Error>\n    <Type>Sender</Type>\n    <Code>Throttling</Code>\n    \
                    <Message>Rate exceeded</Message>\n  </Error>\n</ErrorResponse>";
        assert_eq!(element(body, "Code").as_deref(), Some("Throttling"));
        assert_eq!(element(body, "Message").as_deref(), Some("Rate exceeded"));
        assert_eq!(element("<Error></Error>", "Code"), None);
    }

    #[test]
    fn last_modified_keeps_subseconds() {
        let at = DateTime::from_secs_and_nanos(1_764_547_200, 250_000_000);
        let converted = offset_date_time(&at).expect("in range");
        assert_eq!(converted.unix_timestamp(), 1_764_547_200);
        assert_eq!(converted.millisecond(), 250);
    }
}
