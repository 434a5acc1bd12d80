//! Verifying AuthKit access tokens: JWTs signed with RS256 by a key from the
//! WorkOS JWKS, whose `sub` is the user id.
//!
//! Only RS256 is accepted, so a token cannot choose `none` or an HMAC
//! algorithm keyed with the public key. `exp` is required and `nbf` is
//! checked when present, both with [`LEEWAY_SECS`] of clock skew. `iss` must
//! be one of the configured issuers. `aud` is not checked, because AuthKit
//! access tokens carry none.

mod jwks;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use jwks::{MAX_KEY_AGE, REFETCH_COOLDOWN};

use crate::timestamp::Timestamp;
use jwks::{HttpKeySource, KeyCache, KeyError};

/// Clock skew tolerated when checking `exp` and `nbf`, in seconds.
pub const LEEWAY_SECS: u64 = 30;

/// The reason an access token was rejected or could not be checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// No bearer token was sent.
    #[error("missing bearer token; send 'Authorization: Bearer <AuthKit access token>'")]
    Missing,
    /// The token is not a well-formed JWT with the claims AuthKit sets.
    #[error("malformed access token: {0}")]
    Malformed(String),
    /// The token's `alg` is not RS256.
    #[error("access tokens must be signed with RS256, not {0:?}")]
    UnsupportedAlgorithm(String),
    /// The JWKS has no key with the token's `kid`.
    #[error(
        "no signing key with kid {0:?} in the WorkOS JWKS; the token was not issued for this client"
    )]
    UnknownKey(String),
    /// The signature does not verify with the key named by `kid`.
    #[error("the access token's signature is invalid")]
    InvalidSignature,
    /// `exp` has passed.
    #[error("the access token has expired; refresh the session for a new one")]
    Expired,
    /// `nbf` is in the future.
    #[error("the access token is not valid yet: its nbf claim is in the future")]
    NotYetValid,
    /// `iss` is not one of the accepted issuers.
    #[error(
        "the access token's iss claim is not an accepted issuer; the server accepts the issuers set with --token-issuer"
    )]
    InvalidIssuer,
    /// The JWKS could not be fetched and the token's key is not cached.
    #[error(
        "cannot fetch the access token signing keys from {url}: {reason}; tokens signed with keys fetched earlier still work, retry later"
    )]
    KeysUnavailable {
        /// The JWKS URL.
        url: String,
        /// The fetch failure.
        reason: String,
    },
}

impl TokenError {
    /// Returns the code sent in the `error` field of the response.
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::Missing => "missing_token",
            TokenError::Malformed(_) => "invalid_token",
            TokenError::UnsupportedAlgorithm(_) => "unsupported_algorithm",
            TokenError::UnknownKey(_) => "unknown_key",
            TokenError::InvalidSignature => "invalid_signature",
            TokenError::Expired => "expired_token",
            TokenError::NotYetValid => "token_not_yet_valid",
            TokenError::InvalidIssuer => "invalid_issuer",
            TokenError::KeysUnavailable { .. } => "jwks_unavailable",
        }
    }

    /// Returns whether the server, not the token, is at fault, so the client
    /// should retry the same token later.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, TokenError::KeysUnavailable { .. })
    }
}

/// The session facts an access token carries, as `GET /me` returns them.
/// A claim the token lacks is `null`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionFacts {
    /// The session id (`sid`).
    pub id: Option<String>,
    /// The organization the session is signed in to (`org_id`).
    pub organization_id: Option<String>,
    /// The user's role in that organization.
    pub role: Option<String>,
    /// All of the user's roles, as the token carries them.
    pub roles: Option<Value>,
    /// The permissions of the user's roles, as the token carries them.
    pub permissions: Option<Value>,
    /// The organization's entitlements, as the token carries them.
    pub entitlements: Option<Value>,
    /// The feature flags enabled for the session, as the token carries them.
    pub feature_flags: Option<Value>,
    /// The administrator impersonating the user (`act`), if any.
    pub impersonator: Option<Value>,
    /// When the token expires (`exp`), as RFC 3339.
    pub expires_at: String,
}

/// A token that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedToken {
    /// The WorkOS user id (`sub`).
    pub subject: String,
    /// The session facts.
    pub session: SessionFacts,
}

/// The claims read from a verified token.
#[derive(Deserialize)]
struct Claims {
    sub: String,
    exp: f64,
    sid: Option<String>,
    org_id: Option<String>,
    role: Option<String>,
    roles: Option<Value>,
    permissions: Option<Value>,
    entitlements: Option<Value>,
    feature_flags: Option<Value>,
    act: Option<Value>,
}

/// The JOSE header fields checked before the signature.
#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
}

/// Checks access tokens against the JWKS and the accepted issuers.
pub struct AccessTokenVerifier {
    keys: KeyCache,
    validation: Validation,
}

impl AccessTokenVerifier {
    /// Creates a verifier that fetches keys from `jwks_url` when first needed
    /// and accepts tokens whose `iss` is one of `issuers`.
    pub fn new(jwks_url: String, issuers: &[String]) -> Self {
        Self::with_keys(
            KeyCache::new(Box::new(HttpKeySource::new(jwks_url))),
            issuers,
        )
    }

    fn with_keys(keys: KeyCache, issuers: &[String]) -> Self {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        validation.set_issuer(issuers);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        Self { keys, validation }
    }

    /// Returns the JWKS URL.
    pub fn jwks_url(&self) -> &str {
        self.keys.url()
    }

    /// Verifies a token and returns its user id and session facts.
    pub async fn verify(&self, token: &str) -> Result<VerifiedToken, TokenError> {
        let header = read_header(token)?;
        if header.alg != "RS256" {
            return Err(TokenError::UnsupportedAlgorithm(header.alg));
        }
        let kid = header
            .kid
            .ok_or_else(|| TokenError::Malformed("the header has no kid".into()))?;

        let key = self.keys.key(&kid).await.map_err(|error| match error {
            KeyError::Unknown => TokenError::UnknownKey(kid.clone()),
            KeyError::Unavailable { url, reason } => TokenError::KeysUnavailable { url, reason },
        })?;

        let claims = jsonwebtoken::decode::<Claims>(token, &key, &self.validation)
            .map_err(|error| classify(&error))?
            .claims;
        Ok(verified(claims))
    }
}

fn read_header(token: &str) -> Result<Header, TokenError> {
    let malformed = |reason: &str| TokenError::Malformed(reason.to_owned());

    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(malformed(
            "a JWT has three base64url parts separated by dots",
        ));
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(parts[0])
        .map_err(|_| malformed("the header is not base64url"))?;
    serde_json::from_slice(&bytes)
        .map_err(|_| malformed("the header is not a JSON object with an alg string"))
}

fn classify(error: &jsonwebtoken::errors::Error) -> TokenError {
    match error.kind() {
        ErrorKind::InvalidSignature => TokenError::InvalidSignature,
        ErrorKind::ExpiredSignature => TokenError::Expired,
        ErrorKind::ImmatureSignature => TokenError::NotYetValid,
        ErrorKind::InvalidIssuer => TokenError::InvalidIssuer,
        ErrorKind::InvalidAlgorithm | ErrorKind::UnsupportedAlgorithm => {
            TokenError::UnsupportedAlgorithm("a non-RS256 algorithm".into())
        }
        ErrorKind::MissingRequiredClaim(claim) => {
            TokenError::Malformed(format!("the {claim} claim is missing"))
        }
        ErrorKind::InvalidClaimFormat(claim) => {
            TokenError::Malformed(format!("the {claim} claim has the wrong type"))
        }
        ErrorKind::Json(error) => TokenError::Malformed(format!("invalid claims: {error}")),
        ErrorKind::Base64(_) | ErrorKind::Utf8(_) | ErrorKind::InvalidToken => {
            TokenError::Malformed("a part is not valid base64url".into())
        }
        other => TokenError::Malformed(format!("{other:?}")),
    }
}

fn verified(claims: Claims) -> VerifiedToken {
    // `exp` passed validation, so it is a finite number near now.
    let expires_at = Timestamp::from_unix_nanos((claims.exp * 1e9) as i64).to_rfc3339();
    VerifiedToken {
        subject: claims.sub,
        session: SessionFacts {
            id: claims.sid,
            organization_id: claims.org_id,
            role: claims.role,
            roles: claims.roles,
            permissions: claims.permissions,
            entitlements: claims.entitlements,
            feature_flags: claims.feature_flags,
            impersonator: claims.act,
            expires_at,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(value: &str) -> String {
        URL_SAFE_NO_PAD.encode(value)
    }

    #[test]
    fn header_needs_three_parts() {
        for token in ["", "abc", "a.b", "a.b.c.d"] {
            assert!(
                matches!(read_header(token), Err(TokenError::Malformed(_))),
                "{token:?}"
            );
        }
    }

    #[test]
    fn header_must_be_json() {
        let token = format!("{}.e30.sig", encode("not json"));
        assert!(matches!(read_header(&token), Err(TokenError::Malformed(_))));
        assert!(matches!(
            read_header("!!!.e30.sig"),
            Err(TokenError::Malformed(_))
        ));
    }

    #[tokio::test]
    async fn other_algorithms_rejected_before_key_lookup() {
        // The algorithm check comes before the key lookup, so the JWKS URL
        // is never requested.
        let verifier = AccessTokenVerifier::new("http://127.0.0.1:9/jwks".into(), &[]);
        for alg in ["none", "HS256", "RS384", "PS256", "ES256"] {
            let token = format!(
                "{}.{}.",
                encode(&format!(r#"{{"alg":"{alg}","kid":"k"}}"#)),
                encode(r#"{"sub":"user_1"}"#)
            );
            let error = verifier.verify(&token).await.unwrap_err();
            assert_eq!(error, TokenError::UnsupportedAlgorithm(alg.into()), "{alg}");
            assert_eq!(error.code(), "unsupported_algorithm");
        }
    }

    #[tokio::test]
    async fn missing_kid_rejected() {
        let verifier = AccessTokenVerifier::new("http://127.0.0.1:9/jwks".into(), &[]);
        let token = format!("{}.e30.c2ln", encode(r#"{"alg":"RS256"}"#));

        let error = verifier.verify(&token).await.unwrap_err();

        assert_eq!(error.code(), "invalid_token");
    }

    #[test]
    fn absent_claims_become_null() {
        let claims: Claims =
            serde_json::from_str(r#"{"sub":"user_1","exp":1798761600,"sid":"session_1"}"#).unwrap();

        let token = verified(claims);

        assert_eq!(token.subject, "user_1");
        let session = serde_json::to_value(&token.session).unwrap();
        assert_eq!(session["id"], "session_1");
        assert_eq!(session["organization_id"], Value::Null);
        assert_eq!(session["impersonator"], Value::Null);
        assert_eq!(session["expires_at"], "2027-01-01T00:00:00.000Z");
        assert_eq!(session.as_object().unwrap().len(), 9);
    }
}
