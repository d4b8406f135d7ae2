//! Who may connect: the JWT authenticator built from the configuration, the
//! rule that keeps an unauthenticated server off public addresses, and the
//! development tokens of `hub-server token`.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hub_core::auth::jwt::{Algorithm, JwtAuth};
use hub_core::permissions::{Grants, GrantsClaim, Right};
use serde::Serialize;

use crate::ServerConfig;

/// The authenticator `config` asks for: `None` when no key is configured.
///
/// # Errors
/// Several keys at once, an unreadable key, or algorithms that do not fit it.
pub fn authenticator(config: &ServerConfig) -> Result<Option<JwtAuth>, String> {
    let given = [
        !config.jwt_hmac_secret.is_empty(),
        !config.jwt_public_key_file.is_empty(),
        !config.jwt_jwks_file.is_empty(),
        !config.jwt_jwks_url.is_empty(),
    ];
    if given.iter().filter(|g| **g).count() > 1 {
        return Err(
            "set one of jwt_hmac_secret, jwt_public_key_file, jwt_jwks_file, \
             jwt_jwks_url, not several"
                .into(),
        );
    }
    let algorithms = algorithms(config)?;
    let auth = if !config.jwt_hmac_secret.is_empty() {
        JwtAuth::hmac(config.jwt_hmac_secret.as_bytes(), &algorithms)
    } else if !config.jwt_public_key_file.is_empty() {
        let pem = read(&config.jwt_public_key_file)?;
        JwtAuth::public_pem(pem.as_bytes(), &algorithms)
    } else if !config.jwt_jwks_file.is_empty() {
        JwtAuth::jwks(&read(&config.jwt_jwks_file)?, &algorithms)
    } else if !config.jwt_jwks_url.is_empty() {
        JwtAuth::jwks_source(
            crate::jwks::HttpKeySet::new(&config.jwt_jwks_url)?,
            &algorithms,
            Duration::from_millis(config.jwt_jwks_refetch_interval_ms),
            Duration::from_millis(config.jwt_jwks_max_age_ms),
        )
    } else {
        return Ok(None);
    };
    let mut auth = auth
        .map_err(|e| e.to_string())?
        .leeway(Duration::from_millis(config.jwt_leeway_ms));
    if !config.jwt_issuer.is_empty() {
        auth = auth.issuer(&config.jwt_issuer);
    }
    if !config.jwt_audience.is_empty() {
        auth = auth.audience(&config.jwt_audience);
    }
    Ok(Some(auth))
}

fn algorithms(config: &ServerConfig) -> Result<Vec<Algorithm>, String> {
    if config.jwt_algorithms.is_empty() {
        return if config.jwt_hmac_secret.is_empty() {
            Ok(Vec::new())
        } else {
            Ok(vec![Algorithm::HS256])
        };
    }
    config
        .jwt_algorithms
        .iter()
        .map(|name| {
            name.parse::<Algorithm>()
                .map_err(|_| format!("`jwt_algorithms`: unknown algorithm `{name}`"))
        })
        .collect()
}

fn read(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))
}

/// Refuses to serve without authentication on an address other than
/// loopback, unless `insecure` says so explicitly.
///
/// # Errors
/// What to set, when the server would be open to the network.
pub fn check_exposure(
    config: &ServerConfig,
    authenticated: bool,
    bind: SocketAddr,
) -> Result<(), String> {
    if authenticated || config.insecure || bind.ip().is_loopback() {
        return Ok(());
    }
    Err(format!(
        "refusing to listen on {bind} without authentication: anyone who reaches it could \
         connect under any address. Set jwt_hmac_secret (or jwt_public_key_file, jwt_jwks_file, connect_proxy_url, \
         jwt_jwks_url), \
         or bind to 127.0.0.1, or set insecure = true to run open on purpose"
    ))
}

#[derive(Serialize)]
struct DevClaims<'a> {
    sub: &'a str,
    iat: u64,
    exp: u64,
    #[serde(skip_serializing_if = "str::is_empty")]
    iss: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    aud: &'a str,
    #[serde(skip_serializing_if = "is_empty")]
    grants: &'a GrantsClaim,
    #[serde(flatten)]
    more: &'a MoreClaims,
}

/// Claims of a development token beyond its subject, expiry and grants.
#[derive(Debug, Default, Clone, Serialize)]
pub struct MoreClaims {
    /// `jti`: the token's id, by which it can be revoked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// `channels`: topics the server subscribes the session to.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<String>,
    /// `topic`: makes it a subscription token for this topic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// `rights`: a subscription token's rights beside `subscribe`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rights: Vec<String>,
}

impl MoreClaims {
    /// Checks what the server would refuse: rights that are not a topic's,
    /// rights without a topic, a subscription token with grants.
    ///
    /// # Errors
    /// Names the flag at fault.
    pub fn check(&self, grants: &GrantsClaim) -> Result<(), String> {
        if self.topic.is_none() && !self.rights.is_empty() {
            return Err("--rights goes with --subscription (a subscription token)".into());
        }
        if self.topic.is_some() && (!grants.topics.is_empty() || !grants.addresses.is_empty()) {
            return Err(
                "a subscription token carries --rights on its topic, not --topic/--address grants"
                    .into(),
            );
        }
        for right in &self.rights {
            if !Right::from_name(right).is_some_and(Right::on_topics) {
                return Err(format!(
                    "--rights: `{right}` is not a topic's right (publish, presence, history)"
                ));
            }
        }
        Ok(())
    }
}

fn is_empty(grants: &&GrantsClaim) -> bool {
    grants.topics.is_empty() && grants.addresses.is_empty()
}

/// Reads `--topic` and `--address` grants, each `PATTERN=RIGHT,RIGHT`
/// (`chat:*=subscribe,publish`, `bot-*=send`), and checks them as the
/// server will.
///
/// # Errors
/// No `=`, an unknown right, or a grant the server would refuse.
pub fn parse_grants(topics: &[String], addresses: &[String]) -> Result<GrantsClaim, String> {
    let mut claim = GrantsClaim::default();
    let kinds = [
        (topics, &mut claim.topics),
        (addresses, &mut claim.addresses),
    ];
    for (items, into) in kinds {
        for item in items {
            let (pattern, rights) = item
                .rsplit_once('=')
                .ok_or_else(|| format!("`{item}`: expected PATTERN=RIGHT[,RIGHT...]"))?;
            let rights = rights
                .split(',')
                .map(|name| {
                    Right::from_name(name.trim()).ok_or_else(|| {
                        let known: Vec<_> = Right::ALL.iter().map(|r| r.as_str()).collect();
                        format!("`{name}` is not a right ({})", known.join(", "))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            into.entry(pattern.to_owned()).or_default().extend(rights);
        }
    }
    Grants::from_claim(&claim).map_err(|e| e.to_string())?;
    Ok(claim)
}

/// A token for `sub`, valid for `ttl`, carrying `grants`, signed with the
/// configured HMAC secret (first configured HMAC algorithm, else HS256).
///
/// # Errors
/// No HMAC secret is configured.
pub fn mint(
    config: &ServerConfig,
    sub: &str,
    ttl: Duration,
    grants: &GrantsClaim,
) -> Result<String, String> {
    mint_with(config, sub, ttl, grants, &MoreClaims::default())
}

/// As [`mint`], with `more` claims (a `jti`, `channels`, or a
/// subscription token's `topic` and `rights`).
///
/// # Errors
/// As [`mint`], or `more` does not hold together ([`MoreClaims::check`]).
pub fn mint_with(
    config: &ServerConfig,
    sub: &str,
    ttl: Duration,
    grants: &GrantsClaim,
    more: &MoreClaims,
) -> Result<String, String> {
    more.check(grants)?;
    if config.jwt_hmac_secret.is_empty() {
        return Err(
            "hub-server token needs jwt_hmac_secret (e.g. --set jwt_hmac_secret=...)".into(),
        );
    }
    let algorithm = algorithms(config)?
        .into_iter()
        .next()
        .unwrap_or(Algorithm::HS256);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs();
    let claims = DevClaims {
        sub,
        iat: now,
        exp: now + ttl.as_secs().max(1),
        iss: &config.jwt_issuer,
        aud: &config.jwt_audience,
        grants,
        more,
    };
    let key = jsonwebtoken::EncodingKey::from_secret(config.jwt_hmac_secret.as_bytes());
    jsonwebtoken::encode(&jsonwebtoken::Header::new(algorithm), &claims, &key)
        .map_err(|e| e.to_string())
}

/// Reads a duration like `90s`, `15m`, `1h`, `7d` (a bare number is seconds).
///
/// # Errors
/// Not a number with one of those units.
pub fn parse_ttl(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = text
        .find(|c: char| !c.is_ascii_digit())
        .map_or((text, "s"), |at| text.split_at(at));
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 90s, 15m, 1h or 7d"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(format!("`{text}`: the unit is s, m, h or d")),
    };
    Ok(Duration::from_secs(n * seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_read_from_flags() {
        let claim = parse_grants(
            &["chat:*=subscribe,publish".into(), "news=subscribe".into()],
            &["bot-*=send".into()],
        )
        .unwrap();
        assert_eq!(
            claim.topics["chat:*"],
            vec![Right::Subscribe, Right::Publish]
        );
        assert_eq!(claim.addresses["bot-*"], vec![Right::Send]);
        assert!(parse_grants(&["chat".into()], &[])
            .unwrap_err()
            .contains("PATTERN"));
        assert!(parse_grants(&["t=admin".into()], &[])
            .unwrap_err()
            .contains("admin"));
        assert!(parse_grants(&[], &["a=publish".into()])
            .unwrap_err()
            .contains("publish"));
    }

    #[test]
    fn ttls_read_with_their_units() {
        assert_eq!(parse_ttl("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_ttl("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_ttl("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_ttl("7d").unwrap(), Duration::from_secs(7 * 86_400));
        assert!(parse_ttl("1y").is_err());
        assert!(parse_ttl("soon").is_err());
    }

    #[test]
    fn only_loopback_may_run_open_unless_insecure_is_set() {
        let mut config = ServerConfig::default();
        let public: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert!(check_exposure(&config, false, local).is_ok());
        let e = check_exposure(&config, false, public).unwrap_err();
        assert!(
            e.contains("jwt_hmac_secret") && e.contains("insecure"),
            "{e}"
        );
        assert!(check_exposure(&config, true, public).is_ok());
        config.insecure = true;
        assert!(check_exposure(&config, false, public).is_ok());
    }
}
