//! A minimal HTTP/1.1 client for deliveries to `http://` endpoints (one request per connection,
//! bounded by a timeout). HTTPS endpoints are not supported by the emulator.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long one delivery attempt may take.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Largest response read back (the body is only kept for diagnostics).
const MAX_RESPONSE: usize = 64 * 1024;

/// POSTs `body` to `url` with `headers`; returns the response status.
pub async fn post(url: &str, headers: &[(String, String)], body: &str) -> Result<u16, String> {
    tokio::time::timeout(TIMEOUT, request("POST", url, headers, body))
        .await
        .map_err(|_| format!("timed out after {}s", TIMEOUT.as_secs()))?
        .map(|(status, _)| status)
}

/// GETs `url`; returns the status and body.
pub async fn get(url: &str) -> Result<(u16, Vec<u8>), String> {
    tokio::time::timeout(TIMEOUT, request("GET", url, &[], ""))
        .await
        .map_err(|_| "timed out".to_owned())?
}

async fn request(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: &str,
) -> Result<(u16, Vec<u8>), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("unsupported endpoint {url}: only http:// is supported"))?;
    let (authority, path) = match rest.find('/') {
        Some(index) => (&rest[..index], &rest[index..]),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err(format!("endpoint {url} has no host"));
    }
    let address = if authority.contains(':') && !authority.ends_with(']') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let mut stream = TcpStream::connect(&address)
        .await
        .map_err(|e| format!("connect {address}: {e}"))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        if name.contains(['\r', '\n']) || value.contains(['\r', '\n']) {
            continue;
        }
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .await
        .map_err(|e| format!("write: {e}"))?;
    stream
        .write_all(body.as_bytes())
        .await
        .map_err(|e| format!("write: {e}"))?;
    stream.flush().await.map_err(|e| format!("write: {e}"))?;
    let mut response = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let read = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if read == 0 || response.len() >= MAX_RESPONSE {
            break;
        }
        response.extend_from_slice(&chunk[..read]);
        if let Some((status, body)) = complete_response(&response) {
            return Ok((status, body));
        }
    }
    complete_response(&response)
        .or_else(|| parse_status(&response).map(|status| (status, Vec::new())))
        .ok_or_else(|| "malformed HTTP response".to_owned())
}

fn parse_status(response: &[u8]) -> Option<u16> {
    let line_end = response.windows(2).position(|w| w == b"\r\n")?;
    let line = std::str::from_utf8(&response[..line_end]).ok()?;
    let mut parts = line.split(' ');
    let version = parts.next()?;
    if !version.starts_with("HTTP/") {
        return None;
    }
    parts.next()?.parse().ok()
}

/// A response is complete when its headers and `Content-Length` bytes of body have arrived.
fn complete_response(response: &[u8]) -> Option<(u16, Vec<u8>)> {
    let status = parse_status(response)?;
    let header_end = response.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let headers = std::str::from_utf8(&response[..header_end]).ok()?;
    let length = headers.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())
            .flatten()
    });
    let body = &response[header_end..];
    match length {
        Some(length) if body.len() >= length => Some((status, body[..length].to_vec())),
        Some(_) => None,
        None if status == 204 || status == 304 => Some((status, Vec::new())),
        None => None,
    }
}
