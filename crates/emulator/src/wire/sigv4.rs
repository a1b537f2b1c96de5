//! Reads the caller's access key id from a SigV4 `Authorization` header (or a presigned
//! `X-Amz-Credential` query parameter). Signatures are accepted, never verified.

use http::HeaderMap;

/// The access key id of `AWS4-HMAC-SHA256 Credential=AKID/date/region/service/aws4_request, ...`
/// (also `AWS4-ECDSA-P256-SHA256` for SigV4a), if the request is signed.
pub fn access_key_id(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let credential = value.split("Credential=").nth(1)?;
    let key = credential.split('/').next()?.trim();
    (!key.is_empty()).then(|| key.to_owned())
}

/// The region of the SigV4 credential scope (`Credential=AKID/date/<region>/service/...`).
pub fn region(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let credential = value.split("Credential=").nth(1)?;
    let region = credential.split('/').nth(2)?.trim();
    (!region.is_empty()).then(|| region.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_access_key() {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_static(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261122/us-east-1/aws-marketplace/aws4_request, \
                 SignedHeaders=host;x-amz-date, Signature=abc",
            ),
        );
        assert_eq!(access_key_id(&headers).as_deref(), Some("AKIDEXAMPLE"));
        assert_eq!(region(&headers).as_deref(), Some("us-east-1"));
        assert_eq!(access_key_id(&HeaderMap::new()), None);
    }
}
