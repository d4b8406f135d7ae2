//! Keys for checking tokens: a key set's (JWKS) keys by `kid`, and the
//! family of a key and of an algorithm, so that an algorithm is only ever
//! checked with a key of its own family (no "algorithm confusion").

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey};

use super::remote_keys::KeySet;
use super::AuthRejection;

pub(super) fn kid_of(header: &jsonwebtoken::Header) -> Result<&str, AuthRejection> {
    header
        .kid
        .as_deref()
        .ok_or_else(|| AuthRejection::new("the token names no key (kid)"))
}

pub(super) fn find_key<'a>(keys: &'a KeySet, kid: &str) -> Result<&'a DecodingKey, AuthRejection> {
    keys.iter()
        .find(|(id, _)| id == kid)
        .map(|(_, key)| key)
        .ok_or_else(|| AuthRejection::new("the token's key (kid) is unknown"))
}

/// Reads a JSON Web Key Set; every key must have a `kid`.
pub(super) fn parse_jwks(text: &str) -> Result<KeySet, String> {
    let set: JwkSet = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut keys = Vec::with_capacity(set.keys.len());
    for jwk in &set.keys {
        let kid = jwk
            .common
            .key_id
            .clone()
            .ok_or_else(|| "a key without kid".to_owned())?;
        let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
        keys.push((kid, key));
    }
    Ok(keys)
}

/// A key family, for matching algorithms with keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Family {
    Hmac,
    Rsa,
    Ec,
    Ed,
}

impl Family {
    pub(super) fn name(self) -> &'static str {
        match self {
            Self::Hmac => "an HMAC secret",
            Self::Rsa => "an RSA key",
            Self::Ec => "an EC key",
            Self::Ed => "an Ed25519 key",
        }
    }
}

pub(super) fn family_of(algorithm: &Algorithm) -> Family {
    use jsonwebtoken::AlgorithmFamily as F;
    match algorithm.family() {
        F::Hmac => Family::Hmac,
        F::Rsa => Family::Rsa,
        F::Ec => Family::Ec,
        F::Ed => Family::Ed,
    }
}

pub(super) fn key_family(key: &DecodingKey) -> Family {
    use jsonwebtoken::AlgorithmFamily as F;
    match key.family() {
        F::Hmac => Family::Hmac,
        F::Rsa => Family::Rsa,
        F::Ec => Family::Ec,
        F::Ed => Family::Ed,
    }
}
