//! A minimal S3-compatible read API over the generated data feed files, path style:
//! `GET /` (ListBuckets), `GET /<bucket>?list-type=2&prefix=…` (ListObjectsV2, also v1
//! without `list-type`), `GET|HEAD /<bucket>/<key>` (GetObject / HeadObject), with S3's XML
//! bodies and errors (`NoSuchBucket`, `NoSuchKey`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, StatusCode, header};

use crate::Emulator;
use crate::at::At;
use crate::support::md5;
use crate::wire::query::escape_text as escape;

const XMLNS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// Fallback for unmatched GET/HEAD requests.
pub fn handle(emu: &Emulator, method: &Method, path: &str, query: Option<&str>) -> Response {
    let request_id = uuid::Uuid::new_v4().simple().to_string();
    let head = method == Method::HEAD;
    let params: HashMap<String, String> = query
        .and_then(|q| serde_urlencoded::from_str(q).ok())
        .unwrap_or_default();
    let bucket_name = emu.world().feeds.settings.bucket.clone();
    let trimmed = path.trim_start_matches('/');
    let (bucket, key) = match trimmed.split_once('/') {
        Some((bucket, key)) => (percent_decode(bucket), percent_decode(key)),
        None => (percent_decode(trimmed), String::new()),
    };
    if bucket.is_empty() {
        return list_buckets(&bucket_name, &request_id);
    }
    if bucket != bucket_name {
        return error(
            StatusCode::NOT_FOUND,
            "NoSuchBucket",
            "The specified bucket does not exist",
            Some(&bucket),
            &request_id,
            head,
        );
    }
    let root = crate::feeds::output_dir(emu);
    if key.is_empty() {
        if head {
            return ok_response(StatusCode::OK, "application/xml", Vec::new(), &request_id);
        }
        return list_objects(&root, &bucket, &params, &request_id);
    }
    get_object(&root, &key, &request_id, head)
}

fn list_buckets(bucket: &str, request_id: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListAllMyBucketsResult xmlns=\"{XMLNS}\"><Owner><ID>souk</ID>\
         <DisplayName>souk</DisplayName></Owner><Buckets><Bucket><Name>{}</Name><CreationDate>2024-01-01T00:00:00.000Z\
         </CreationDate></Bucket></Buckets></ListAllMyBucketsResult>",
        escape(bucket)
    );
    ok_response(
        StatusCode::OK,
        "application/xml",
        body.into_bytes(),
        request_id,
    )
}

struct Object {
    key: String,
    size: u64,
    modified: At,
    etag: String,
}

fn list_objects(
    root: &Path,
    bucket: &str,
    params: &HashMap<String, String>,
    request_id: &str,
) -> Response {
    let v2 = params.get("list-type").is_some_and(|v| v == "2");
    let prefix = params.get("prefix").cloned().unwrap_or_default();
    let delimiter = params.get("delimiter").cloned().filter(|d| !d.is_empty());
    let max_keys = params
        .get("max-keys")
        .and_then(|m| m.parse::<usize>().ok())
        .unwrap_or(1000)
        .min(1000);
    let start_after = if v2 {
        params
            .get("continuation-token")
            .or_else(|| params.get("start-after"))
            .cloned()
            .unwrap_or_default()
    } else {
        params.get("marker").cloned().unwrap_or_default()
    };
    let url_encoded = params.get("encoding-type").is_some_and(|e| e == "url");
    let mut keys = Vec::new();
    collect(root, root, &mut keys);
    keys.sort();
    let mut contents = Vec::new();
    let mut prefixes: Vec<String> = Vec::new();
    let mut truncated = false;
    let mut last = String::new();
    for key in keys
        .into_iter()
        .filter(|k| k.starts_with(&prefix) && k.as_str() > start_after.as_str())
    {
        let common = delimiter.as_ref().and_then(|delimiter| {
            key[prefix.len()..]
                .find(delimiter.as_str())
                .map(|index| key[..prefix.len() + index + delimiter.len()].to_owned())
        });
        if common
            .as_ref()
            .is_some_and(|common| prefixes.contains(common))
        {
            last = key;
            continue;
        }
        if contents.len() + prefixes.len() >= max_keys {
            truncated = true;
            break;
        }
        match common {
            Some(common) => prefixes.push(common),
            None => contents.extend(stat(root, &key)),
        }
        last = key;
    }
    let encode = |text: &str| {
        if url_encoded {
            url_encode(text)
        } else {
            escape(text)
        }
    };
    let mut body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult xmlns=\"{XMLNS}\"><Name>{}</Name><Prefix>{}</Prefix>",
        escape(bucket),
        encode(&prefix)
    );
    if v2 {
        body.push_str(&format!(
            "<KeyCount>{}</KeyCount>",
            contents.len() + prefixes.len()
        ));
        if let Some(token) = params.get("continuation-token") {
            body.push_str(&format!(
                "<ContinuationToken>{}</ContinuationToken>",
                escape(token)
            ));
        }
        if truncated {
            body.push_str(&format!(
                "<NextContinuationToken>{}</NextContinuationToken>",
                escape(&last)
            ));
        }
    } else {
        body.push_str(&format!("<Marker>{}</Marker>", escape(&start_after)));
        if truncated {
            body.push_str(&format!("<NextMarker>{}</NextMarker>", escape(&last)));
        }
    }
    if let Some(delimiter) = &delimiter {
        body.push_str(&format!("<Delimiter>{}</Delimiter>", encode(delimiter)));
    }
    if url_encoded {
        body.push_str("<EncodingType>url</EncodingType>");
    }
    body.push_str(&format!(
        "<MaxKeys>{max_keys}</MaxKeys><IsTruncated>{truncated}</IsTruncated>"
    ));
    for object in &contents {
        body.push_str(&format!(
            "<Contents><Key>{}</Key><LastModified>{}</LastModified><ETag>&quot;{}&quot;</ETag><Size>{}</Size>\
             <StorageClass>STANDARD</StorageClass></Contents>",
            encode(&object.key),
            iso_millis(object.modified),
            object.etag,
            object.size
        ));
    }
    for common in &prefixes {
        body.push_str(&format!(
            "<CommonPrefixes><Prefix>{}</Prefix></CommonPrefixes>",
            encode(common)
        ));
    }
    body.push_str("</ListBucketResult>");
    ok_response(
        StatusCode::OK,
        "application/xml",
        body.into_bytes(),
        request_id,
    )
}

fn get_object(root: &Path, key: &str, request_id: &str, head: bool) -> Response {
    let not_found = || {
        error(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
            Some(key),
            request_id,
            head,
        )
    };
    let Some(path) = resolve(root, key) else {
        return not_found();
    };
    let Ok(bytes) = std::fs::read(&path) else {
        return not_found();
    };
    let modified = At::from(
        std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .map(time::OffsetDateTime::from)
            .unwrap_or_else(|_| time::OffsetDateTime::now_utc()),
    );
    let etag = md5::hex_digest(&bytes);
    let length = bytes.len();
    let content_type = if key.ends_with(".csv") {
        "text/csv"
    } else {
        "application/octet-stream"
    };
    let mut response = ok_response(
        StatusCode::OK,
        content_type,
        if head { Vec::new() } else { bytes },
        request_id,
    );
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    if let Ok(value) = HeaderValue::from_str(&format!("\"{etag}\"")) {
        headers.insert(header::ETAG, value);
    }
    if let Ok(value) = HeaderValue::from_str(&http_date(modified)) {
        headers.insert(header::LAST_MODIFIED, value);
    }
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    response
}

/// The file for `key` under `root`, refusing anything that could leave it.
fn resolve(root: &Path, key: &str) -> Option<PathBuf> {
    let mut path = root.to_path_buf();
    for segment in key.split('/') {
        if segment.is_empty()
            || segment == "."
            || segment == ".."
            || segment.contains('\\')
            || segment.contains('\0')
        {
            return None;
        }
        path.push(segment);
    }
    path.is_file().then_some(path)
}

fn collect(root: &Path, dir: &Path, keys: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, keys);
        } else if let Ok(relative) = path.strip_prefix(root) {
            let key: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            keys.push(key.join("/"));
        }
    }
}

fn stat(root: &Path, key: &str) -> Option<Object> {
    let path = resolve(root, key)?;
    let bytes = std::fs::read(&path).ok()?;
    let modified = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .ok()
        .map(|t| At::from(time::OffsetDateTime::from(t)))?;
    Some(Object {
        key: key.to_owned(),
        size: bytes.len() as u64,
        modified,
        etag: md5::hex_digest(&bytes),
    })
}

fn ok_response(
    status: StatusCode,
    content_type: &'static str,
    body: Vec<u8>,
    request_id: &str,
) -> Response {
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("x-amz-request-id", value);
    }
    response
}

fn error(
    status: StatusCode,
    code: &str,
    message: &str,
    resource: Option<&str>,
    request_id: &str,
    head: bool,
) -> Response {
    let resource = resource
        .map(|r| format!("<Resource>{}</Resource>", escape(r)))
        .unwrap_or_default();
    let body = if head {
        Vec::new()
    } else {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{message}</Message>{resource}\
             <RequestId>{request_id}</RequestId></Error>"
        )
        .into_bytes()
    };
    ok_response(status, "application/xml", body, request_id)
}

fn iso_millis(at: At) -> String {
    crate::support::format::iso_millis(at)
}

fn http_date(at: At) -> String {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    at.to_offset_datetime().format(&format).unwrap_or_default()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        if let Some(byte) = escaped {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn url_encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
