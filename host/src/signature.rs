//! The `WorkOS-Signature` scheme shared by webhooks and Actions.
//!
//! The header reads `t=<unix milliseconds>, v1=<hex>`, where `v1` is the
//! HMAC-SHA256 of `"<t>.<body>"` keyed with the secret's UTF-8 bytes. The
//! header is parsed leniently (any key order, spaces, unknown keys) and
//! checked strictly (exactly one numeric `t`, any matching `v1`, a timestamp
//! within the tolerance in both directions, constant-time comparison).

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The HTTP header WorkOS puts the signature in.
pub const SIGNATURE_HEADER: &str = "WorkOS-Signature";

type HmacSha256 = Hmac<Sha256>;

/// The reasons a signed request is rejected, one per check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The request carries no `WorkOS-Signature` header.
    #[error("missing WorkOS-Signature header")]
    MissingHeader,
    /// The header is not valid text or has no `t` or no `v1` element.
    #[error("malformed WorkOS-Signature header: {0}")]
    Malformed(String),
    /// The timestamp is older than the tolerance allows.
    #[error(
        "timestamp {timestamp_ms} is {age_ms} ms old, more than the {tolerance_ms} ms tolerance"
    )]
    Stale {
        /// The `t` value from the header.
        timestamp_ms: u64,
        /// How far `t` lies in the past.
        age_ms: u64,
        /// The configured tolerance.
        tolerance_ms: u64,
    },
    /// The timestamp lies further in the future than the tolerance allows.
    #[error(
        "timestamp {timestamp_ms} is {ahead_ms} ms in the future, more than the {tolerance_ms} ms tolerance"
    )]
    Future {
        /// The `t` value from the header.
        timestamp_ms: u64,
        /// How far `t` lies in the future.
        ahead_ms: u64,
        /// The configured tolerance.
        tolerance_ms: u64,
    },
    /// No `v1` value matches the body and secret.
    #[error("no v1 signature matches the request body; check that the sender uses the same secret")]
    Mismatch,
}

impl SignatureError {
    /// Returns a stable machine-readable code for API responses and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            SignatureError::MissingHeader => "missing_signature",
            SignatureError::Malformed(_) => "malformed_signature",
            SignatureError::Stale { .. } => "stale_timestamp",
            SignatureError::Future { .. } => "future_timestamp",
            SignatureError::Mismatch => "signature_mismatch",
        }
    }
}

/// A parsed `WorkOS-Signature` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeader {
    /// The `t` element: Unix time in milliseconds.
    pub timestamp_ms: u64,
    /// Every `v1` element, in the order they appeared.
    pub signatures: Vec<String>,
}

impl SignatureHeader {
    /// Parses a header value, accepting keys in any order and ignoring
    /// unknown keys, but requiring exactly one all-digit `t` and at least one `v1`.
    pub fn parse(value: &str) -> Result<Self, SignatureError> {
        let mut timestamp = None;
        let mut signatures = Vec::new();

        for element in value.split(',') {
            let Some((key, item)) = element.trim().split_once('=') else {
                continue;
            };
            match key.trim() {
                "t" => {
                    if timestamp.is_some() {
                        return Err(SignatureError::Malformed("more than one t element".into()));
                    }
                    timestamp = Some(parse_timestamp(item.trim())?);
                }
                "v1" => signatures.push(item.trim().to_owned()),
                _ => {}
            }
        }

        let timestamp_ms = timestamp
            .ok_or_else(|| SignatureError::Malformed("no t=<milliseconds> element".into()))?;
        if signatures.is_empty() {
            return Err(SignatureError::Malformed("no v1=<hex> element".into()));
        }
        Ok(Self {
            timestamp_ms,
            signatures,
        })
    }
}

fn parse_timestamp(text: &str) -> Result<u64, SignatureError> {
    let digits_only = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    if !digits_only {
        return Err(SignatureError::Malformed(format!(
            "t={text:?} is not Unix time in milliseconds"
        )));
    }
    text.parse()
        .map_err(|_| SignatureError::Malformed(format!("t={text:?} is out of range")))
}

/// Verifies a `WorkOS-Signature` header against the raw body bytes.
///
/// `now_ms` is the current Unix time in milliseconds; the request is rejected
/// when `|now - t|` exceeds `tolerance`. Returns the header's timestamp.
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secret: &str,
    tolerance: Duration,
    now_ms: u64,
) -> Result<u64, SignatureError> {
    let header = SignatureHeader::parse(header.ok_or(SignatureError::MissingHeader)?)?;

    let tolerance_ms = u64::try_from(tolerance.as_millis()).unwrap_or(u64::MAX);
    let timestamp_ms = header.timestamp_ms;
    if now_ms > timestamp_ms && now_ms - timestamp_ms > tolerance_ms {
        return Err(SignatureError::Stale {
            timestamp_ms,
            age_ms: now_ms - timestamp_ms,
            tolerance_ms,
        });
    }
    if timestamp_ms > now_ms && timestamp_ms - now_ms > tolerance_ms {
        return Err(SignatureError::Future {
            timestamp_ms,
            ahead_ms: timestamp_ms - now_ms,
            tolerance_ms,
        });
    }

    let mac = keyed_mac(secret, timestamp_ms, body);
    let matches = header.signatures.iter().any(|candidate| {
        // Text that is not 64 lowercase hex digits fails fast; the comparison
        // of well-formed candidates is constant-time.
        is_lowercase_sha256_hex(candidate)
            && hex::decode(candidate).is_ok_and(|bytes| mac.clone().verify_slice(&bytes).is_ok())
    });
    if matches {
        Ok(timestamp_ms)
    } else {
        Err(SignatureError::Mismatch)
    }
}

fn is_lowercase_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Computes the lowercase hex `v1` value for a timestamp and body.
pub fn compute(secret: &str, timestamp_ms: u64, body: &[u8]) -> String {
    hex::encode(
        keyed_mac(secret, timestamp_ms, body)
            .finalize()
            .into_bytes(),
    )
}

/// Builds a complete `WorkOS-Signature` header value, as WorkOS sends it.
pub fn header_value(secret: &str, timestamp_ms: u64, body: &[u8]) -> String {
    format!(
        "t={timestamp_ms}, v1={}",
        compute(secret, timestamp_ms, body)
    )
}

fn keyed_mac(secret: &str, timestamp_ms: u64, body: &[u8]) -> HmacSha256 {
    let mut mac =
        HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(timestamp_ms.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTOR_SECRET: &str = "whsec_test";
    const VECTOR_TIMESTAMP: u64 = 1_767_225_600_000;
    const VECTOR_BODY: &str = r#"{"id":"event_01TEST","event":"user.created","data":{"object":"user","id":"user_01TEST","email":"ada@example.com","email_verified":true,"first_name":"Ada","last_name":"L","profile_picture_url":null,"last_sign_in_at":null,"external_id":null,"metadata":{},"created_at":"2026-01-01T00:00:00.000Z","updated_at":"2026-01-01T00:00:00.000Z"},"created_at":"2026-01-01T00:00:00.123Z"}"#;
    const VECTOR_V1: &str = "73d2fa01d2fb2e9f2d25140b56e0e78fe3505c55fddade0b01f0cfa1fea3cc11";
    const TOLERANCE: Duration = Duration::from_secs(180);

    fn header(v1: &str) -> String {
        format!("t={VECTOR_TIMESTAMP}, v1={v1}")
    }

    #[test]
    fn known_answer_vector() {
        assert_eq!(
            compute(VECTOR_SECRET, VECTOR_TIMESTAMP, VECTOR_BODY.as_bytes()),
            VECTOR_V1
        );
        let verified = verify(
            Some(&header(VECTOR_V1)),
            VECTOR_BODY.as_bytes(),
            VECTOR_SECRET,
            TOLERANCE,
            VECTOR_TIMESTAMP,
        );
        assert_eq!(verified, Ok(VECTOR_TIMESTAMP));
    }

    #[test]
    fn lenient_header_layout() {
        let forms = [
            format!("v1={VECTOR_V1},t={VECTOR_TIMESTAMP}"),
            format!("  t = {VECTOR_TIMESTAMP} ,  v1 = {VECTOR_V1}  "),
            format!("t={VECTOR_TIMESTAMP}, v0=abc, v1={VECTOR_V1}, extra"),
            format!(
                "t={VECTOR_TIMESTAMP}, v1={}, v1={VECTOR_V1}",
                "0".repeat(64)
            ),
        ];
        for form in forms {
            let verified = verify(
                Some(&form),
                VECTOR_BODY.as_bytes(),
                VECTOR_SECRET,
                TOLERANCE,
                VECTOR_TIMESTAMP,
            );
            assert_eq!(verified, Ok(VECTOR_TIMESTAMP), "header {form:?}");
        }
    }

    #[test]
    fn malformed_headers_rejected() {
        let forms = [
            format!("v1={VECTOR_V1}"),
            format!("t={VECTOR_TIMESTAMP}"),
            format!("t=, v1={VECTOR_V1}"),
            format!("t=-5, v1={VECTOR_V1}"),
            format!("t=1.5e12, v1={VECTOR_V1}"),
            format!("t=99999999999999999999999, v1={VECTOR_V1}"),
            format!("t={VECTOR_TIMESTAMP}, t={VECTOR_TIMESTAMP}, v1={VECTOR_V1}"),
            String::new(),
        ];
        for form in forms {
            let result = verify(
                Some(&form),
                VECTOR_BODY.as_bytes(),
                VECTOR_SECRET,
                TOLERANCE,
                VECTOR_TIMESTAMP,
            );
            assert!(
                matches!(result, Err(SignatureError::Malformed(_))),
                "header {form:?} gave {result:?}"
            );
        }
    }

    #[test]
    fn missing_header_rejected() {
        let result = verify(
            None,
            VECTOR_BODY.as_bytes(),
            VECTOR_SECRET,
            TOLERANCE,
            VECTOR_TIMESTAMP,
        );
        assert_eq!(result, Err(SignatureError::MissingHeader));
    }

    #[test]
    fn wrong_secret_body_or_case_rejected() {
        let mismatches = [
            (header(VECTOR_V1), "other_secret", VECTOR_BODY.to_owned()),
            (header(VECTOR_V1), VECTOR_SECRET, format!("{VECTOR_BODY} ")),
            (
                header(&VECTOR_V1[..63]),
                VECTOR_SECRET,
                VECTOR_BODY.to_owned(),
            ),
            (header("not-hex"), VECTOR_SECRET, VECTOR_BODY.to_owned()),
            (
                header(&VECTOR_V1.to_uppercase()),
                VECTOR_SECRET,
                VECTOR_BODY.to_owned(),
            ),
        ];
        for (form, secret, body) in mismatches {
            let result = verify(
                Some(&form),
                body.as_bytes(),
                secret,
                TOLERANCE,
                VECTOR_TIMESTAMP,
            );
            assert_eq!(result, Err(SignatureError::Mismatch), "header {form:?}");
        }
    }

    #[test]
    fn tolerance_applies_both_directions() {
        let at = |now_ms| {
            verify(
                Some(&header(VECTOR_V1)),
                VECTOR_BODY.as_bytes(),
                VECTOR_SECRET,
                TOLERANCE,
                now_ms,
            )
        };

        assert_eq!(at(VECTOR_TIMESTAMP + 180_000), Ok(VECTOR_TIMESTAMP));
        assert_eq!(at(VECTOR_TIMESTAMP - 180_000), Ok(VECTOR_TIMESTAMP));
        assert!(matches!(
            at(VECTOR_TIMESTAMP + 180_001),
            Err(SignatureError::Stale {
                age_ms: 180_001,
                ..
            })
        ));
        assert!(matches!(
            at(VECTOR_TIMESTAMP - 180_001),
            Err(SignatureError::Future {
                ahead_ms: 180_001,
                ..
            })
        ));
    }

    #[test]
    fn header_value_round_trips() {
        let value = header_value("s3cret", 42, b"{}");
        let parsed = SignatureHeader::parse(&value).unwrap();
        assert_eq!(parsed.timestamp_ms, 42);
        assert_eq!(verify(Some(&value), b"{}", "s3cret", TOLERANCE, 42), Ok(42));
    }
}
