//! JSON answers for requests hyper refuses before they reach the API.
//!
//! hyper's HTTP/1 server answers a request head it cannot parse by itself, with an
//! empty body, and closes the connection: `414` for a URI over 65,534 bytes, `431` for
//! more than 100 headers or a head over its buffer, `400` for raw non-ASCII bytes in the
//! request target, two different or unparsable `Content-Length`s, a garbage request
//! line, a bad header line. Those answers are always exactly
//! `HTTP/1.x STATUS REASON\r\n[connection: close\r\n]content-length: 0\r\ndate: …\r\n\r\n`
//! and are the last bytes hyper writes on the connection. [`find_refusal`] recognizes
//! them at the end of a write (the connection's IO wrapper, `super::conn`, asks only
//! for writes that end in a blank line, so ordinary responses cost a four-byte
//! compare), and [`json_refusal`] builds the replacement: the same status with the API's
//! error body (`{"error":{"code":…,"message":…}}`, `content-type: application/json`),
//! the message naming the problem, diagnosed by [`diagnose`] from the bytes the client
//! sent.

use std::sync::LazyLock;

use axum::http::StatusCode;

use super::error::{ErrorBody, ErrorDetail};
use super::limits::{MAX_HEADER_BYTES, MAX_HEADERS, MAX_URI_BYTES};

/// Length of an HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`).
const DATE_LEN: usize = 29;
const HEAD_END: &[u8] = b"\r\n\r\n";

/// Every head hyper writes for a parse error, up to its date: (status, version, head).
static REFUSALS: LazyLock<Vec<(StatusCode, &'static str, Vec<u8>)>> = LazyLock::new(|| {
    let mut heads = Vec::new();
    for status in [
        StatusCode::BAD_REQUEST,
        StatusCode::URI_TOO_LONG,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
    ] {
        for version in ["HTTP/1.1", "HTTP/1.0"] {
            for connection in ["connection: close\r\n", ""] {
                let head = format!(
                    "{version} {} {}\r\n{connection}content-length: 0\r\ndate: ",
                    status.as_str(),
                    status.canonical_reason().unwrap_or("")
                );
                heads.push((status, version, head.into_bytes()));
            }
        }
    }
    heads
});

/// hyper's refusal found at the end of a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Where it starts in the written bytes (what comes before is an earlier response).
    pub start: usize,
    pub status: StatusCode,
    pub version: &'static str,
    pub date: String,
}

/// hyper's own error response, when `written` ends with one.
pub fn find_refusal(written: &[u8]) -> Option<Refusal> {
    if !written.ends_with(HEAD_END) {
        return None;
    }
    REFUSALS.iter().find_map(|(status, version, head)| {
        let total = head.len() + DATE_LEN + HEAD_END.len();
        let start = written.len().checked_sub(total)?;
        let tail = &written[start..];
        let date = &tail[head.len()..head.len() + DATE_LEN];
        (tail.starts_with(head) && date.ends_with(b" GMT")).then(|| Refusal {
            start,
            status: *status,
            version,
            date: String::from_utf8_lossy(date).into_owned(),
        })
    })
}

/// The complete JSON response replacing `refusal`, diagnosed from `received` (the bytes
/// the client sent since the last response, possibly cut short).
pub fn json_refusal(refusal: &Refusal, received: &[u8]) -> Vec<u8> {
    let (code, message) = match refusal.status {
        StatusCode::URI_TOO_LONG => (
            "uri_too_long",
            format!(
                "request URI longer than {MAX_URI_BYTES} bytes; send long searches as POST /v1/search with a JSON body"
            ),
        ),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => {
            ("headers_too_large", headers_message(received))
        }
        _ => diagnose(received),
    };
    let body = ErrorBody {
        error: ErrorDetail {
            code: code.to_string(),
            message,
            problems: None,
        },
    };
    let json = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
    let mut response = format!(
        "{} {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\ndate: {}\r\n\r\n",
        refusal.version,
        refusal.status.as_str(),
        refusal.status.canonical_reason().unwrap_or(""),
        json.len(),
        refusal.date
    )
    .into_bytes();
    response.extend_from_slice(&json);
    response
}

fn headers_message(received: &[u8]) -> String {
    let lines = received.iter().filter(|b| **b == b'\n').count();
    let limits =
        format!("send at most {MAX_HEADERS} headers of at most {MAX_HEADER_BYTES} bytes in all");
    if lines > MAX_HEADERS {
        format!("more than {MAX_HEADERS} headers; {limits}")
    } else {
        format!("request headers larger than {MAX_HEADER_BYTES} bytes; {limits}")
    }
}

/// Said when the bytes at hand do not show the problem (a head cut short, say).
const UNDIAGNOSED: &str = "the request could not be parsed as HTTP/1.1: check the request line (`GET /path?query HTTP/1.1`, with bytes outside ASCII percent-encoded), the header lines (`Name: value`) and Content-Length (one whole number)";

/// `(code, message)` for a request hyper refused with `400`: the first request head in
/// `received` with a problem, past the well-formed ones (pipelined requests).
pub fn diagnose(received: &[u8]) -> (&'static str, String) {
    let mut rest = received;
    while !rest.is_empty() {
        let mut headers = [httparse::EMPTY_HEADER; 128];
        let mut request = httparse::Request::new(&mut headers);
        let parsed = match request.parse(rest) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => break,
            Err(e) => return parse_problem(e, rest),
        };
        if let Some(problem) = head_problem(&request) {
            return problem;
        }
        match body_length(&request).and_then(|len| rest.get(parsed + len..)) {
            Some(next) => rest = next,
            None => break,
        }
    }
    ("malformed_request", UNDIAGNOSED.to_string())
}

/// What httparse's error means for a head starting at `head`.
fn parse_problem(error: httparse::Error, head: &[u8]) -> (&'static str, String) {
    let line = first_line(head);
    match error {
        httparse::Error::Token if starts_with_method(line) => target_problem(line),
        httparse::Error::Token | httparse::Error::NewLine | httparse::Error::Status => (
            "bad_request_line",
            format!(
                "the request line \"{}\" is not `METHOD /path HTTP/1.1`",
                quoted(line)
            ),
        ),
        httparse::Error::Version => (
            "bad_request_line",
            format!(
                "the request line \"{}\" does not end with HTTP/1.1 or HTTP/1.0",
                quoted(line)
            ),
        ),
        httparse::Error::HeaderName | httparse::Error::HeaderValue => (
            "bad_header",
            "a header line is malformed: each must be `Name: value`, the name a token without spaces, the value without control characters".to_string(),
        ),
        httparse::Error::TooManyHeaders => ("headers_too_large", headers_message(head)),
    }
}

fn first_line(head: &[u8]) -> &[u8] {
    let start = head
        .iter()
        .position(|b| !matches!(b, b'\r' | b'\n'))
        .unwrap_or(head.len());
    let head = &head[start..];
    let end = head
        .iter()
        .position(|b| *b == b'\r' || *b == b'\n')
        .unwrap_or(head.len());
    &head[..end]
}

fn starts_with_method(line: &[u8]) -> bool {
    line.iter()
        .position(|b| *b == b' ')
        .is_some_and(|end| end > 0 && line[..end].iter().all(u8::is_ascii_uppercase))
}

/// The problem with the request target of `line` (`METHOD TARGET VERSION`).
fn target_problem(line: &[u8]) -> (&'static str, String) {
    let target = line.split(|b| *b == b' ').nth(1).unwrap_or(&[]);
    if let Some(problem) = raw_byte_problem(target) {
        return problem;
    }
    (
        "bad_request_line",
        format!(
            "the request line \"{}\" is not `METHOD /path HTTP/1.1` (one space on each side of the path; spaces in it percent-encoded as %20)",
            quoted(line)
        ),
    )
}

/// A byte a request target may not hold raw (outside ASCII, or a control character):
/// hyper refuses some, the API ([`super::limits`]) the ones hyper lets through.
pub fn raw_byte_problem(target: &[u8]) -> Option<(&'static str, String)> {
    if let Some(byte) = target.iter().find(|b| !b.is_ascii()) {
        return Some((
            "bad_request_target",
            format!(
                "the path or query holds the raw byte 0x{byte:02X}, which is not ASCII; percent-encode it (%{byte:02X}), as UTF-8 text"
            ),
        ));
    }
    let byte = target.iter().find(|b| b.is_ascii_control())?;
    Some((
        "bad_request_target",
        format!(
            "the path or query holds the control character 0x{byte:02X}; percent-encode it (%{byte:02X})"
        ),
    ))
}

/// A problem hyper finds in a head httparse accepts.
fn head_problem(request: &httparse::Request) -> Option<(&'static str, String)> {
    let target = request.path.unwrap_or("");
    if target
        .bytes()
        .any(|b| !b.is_ascii() || b.is_ascii_control())
    {
        return Some(target_problem(
            format!("{} {target}", request.method.unwrap_or("")).as_bytes(),
        ));
    }
    if let Err(e) = axum::http::Uri::try_from(target) {
        return Some((
            "bad_request_target",
            format!(
                "the request target \"{}\" is not a valid URI ({e})",
                quoted(target.as_bytes())
            ),
        ));
    }
    if axum::http::Method::from_bytes(request.method.unwrap_or("").as_bytes()).is_err() {
        return Some((
            "bad_request_line",
            "the method is not a valid token".to_string(),
        ));
    }
    length_problem(request).or_else(|| encoding_problem(request))
}

/// Values of the headers named `name`.
fn header_values<'a>(request: &'a httparse::Request, name: &str) -> Vec<&'a [u8]> {
    request
        .headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value)
        .collect()
}

/// A Content-Length as hyper reads it: digits only, fitting in 64 bits.
fn parse_length(value: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(value).ok()?.trim();
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

fn length_problem(request: &httparse::Request) -> Option<(&'static str, String)> {
    let values = header_values(request, "content-length");
    let mut lengths = Vec::with_capacity(values.len());
    for value in &values {
        match parse_length(value) {
            Some(length) => lengths.push(length),
            None => {
                return Some((
                    "bad_content_length",
                    format!(
                        "Content-Length \"{}\" is not a whole number of bytes below 2^64",
                        quoted(value)
                    ),
                ));
            }
        }
    }
    let first = *lengths.first()?;
    let other = lengths.iter().find(|l| **l != first)?;
    Some((
        "bad_content_length",
        format!("two Content-Length headers with different values ({first} and {other}); send one"),
    ))
}

fn encoding_problem(request: &httparse::Request) -> Option<(&'static str, String)> {
    let values = header_values(request, "transfer-encoding");
    let last = values.last()?;
    if request.version == Some(0) {
        return Some((
            "bad_transfer_encoding",
            "Transfer-Encoding is not allowed in an HTTP/1.0 request".to_string(),
        ));
    }
    let chunked_last = String::from_utf8_lossy(last)
        .rsplit(',')
        .next()
        .is_some_and(|coding| coding.trim().eq_ignore_ascii_case("chunked"));
    (!chunked_last).then(|| {
        (
            "bad_transfer_encoding",
            "Transfer-Encoding must end with chunked".to_string(),
        )
    })
}

/// Body bytes after a well-formed head (none for chunked bodies: not followed).
fn body_length(request: &httparse::Request) -> Option<usize> {
    if !header_values(request, "transfer-encoding").is_empty() {
        return None;
    }
    match header_values(request, "content-length").first() {
        Some(value) => parse_length(value).and_then(|l| usize::try_from(l).ok()),
        None => Some(0),
    }
}

/// Longest piece of the client's bytes a message quotes.
const QUOTED_BYTES: usize = 80;

/// Client bytes for a message: at most [`QUOTED_BYTES`], non-ASCII shown escaped.
fn quoted(bytes: &[u8]) -> String {
    let shown: String = bytes[..bytes.len().min(QUOTED_BYTES)]
        .escape_ascii()
        .to_string()
        .replace('"', "'");
    if bytes.len() > QUOTED_BYTES {
        format!("{shown}...")
    } else {
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATE: &str = "Sun, 22 Nov 2026 03:39:29 GMT";

    fn hyper_head(status: &str) -> String {
        format!(
            "HTTP/1.1 {status}\r\nconnection: close\r\ncontent-length: 0\r\ndate: {DATE}\r\n\r\n"
        )
    }

    #[test]
    fn hyper_refusals_are_found_and_nothing_else() {
        let found = find_refusal(hyper_head("414 URI Too Long").as_bytes()).unwrap();
        assert_eq!((found.start, found.status), (0, StatusCode::URI_TOO_LONG));
        assert_eq!(found.date, DATE);
        let earlier = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";
        let both = format!("{earlier}{}", hyper_head("400 Bad Request"));
        let found = find_refusal(both.as_bytes()).unwrap();
        assert_eq!(
            (found.start, found.status),
            (earlier.len(), StatusCode::BAD_REQUEST)
        );
        for other in [
            earlier.to_string(),
            format!("HTTP/1.1 204 No Content\r\ndate: {DATE}\r\n\r\n"),
            hyper_head("404 Not Found"),
            format!(
                "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 0\r\ndate: {DATE}\r\n\r\n"
            ),
        ] {
            assert_eq!(find_refusal(other.as_bytes()), None, "{other}");
        }
    }

    #[test]
    fn the_replacement_is_json_with_the_same_status() {
        let refusal =
            find_refusal(hyper_head("431 Request Header Fields Too Large").as_bytes()).unwrap();
        let sent = format!("GET / HTTP/1.1\r\n{}\r\n", "x-a: b\r\n".repeat(100));
        let response = String::from_utf8(json_refusal(&refusal, sent.as_bytes())).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 431 "), "{head}");
        assert!(
            head.contains("content-type: application/json\r\n"),
            "{head}"
        );
        assert!(
            head.contains(&format!("content-length: {}\r\n", body.len())),
            "{head}"
        );
        assert!(head.contains("connection: close"), "{head}");
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["error"]["code"], "headers_too_large");
        assert!(
            json["error"]["message"]
                .as_str()
                .unwrap()
                .contains("more than 64 headers")
        );
    }

    #[test]
    fn bad_requests_are_diagnosed() {
        let says = |sent: &[u8]| diagnose(sent);
        assert_eq!(
            says(b"GET /v1/search?q=\xff HTTP/1.1\r\nHost: x\r\n\r\n").0,
            "bad_request_target"
        );
        assert!(says(b"GET /a\xc3\xa9 HTTP/1.1\r\n\r\n").1.contains("0xC3"));
        let (code, message) =
            says(b"POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}");
        assert_eq!(code, "bad_content_length");
        assert!(message.contains("two Content-Length headers"), "{message}");
        let (code, message) =
            says(b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n");
        assert_eq!(code, "bad_content_length");
        assert!(message.contains("99999999999999999999999"), "{message}");
        assert_eq!(says(b"HELLO THERE\r\n\r\n").0, "bad_request_line");
        assert_eq!(says(b"GET / HTTP/2.0\r\n\r\n").0, "bad_request_line");
        assert_eq!(
            says(b"GET / HTTP/1.1\r\nbad header\r\n\r\n").0,
            "bad_header"
        );
        // A good pipelined request first: the second one is the problem.
        let (code, _) = says(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /\xff HTTP/1.1\r\n\r\n");
        assert_eq!(code, "bad_request_target");
        assert_eq!(says(b"GET / HTTP/1.1\r\nHost: x").0, "malformed_request");
    }
}
