//! `hub-server genconfig --starter`: a small configuration to start from,
//! with fresh random secrets: a JWT secret (clients sign in), an API key
//! (backends and the admin page), and a `chat` namespace with presence and
//! history. The README's first steps use it.

/// Random bytes as hex: `words` UUIDs v4 (122 random bits each, from the
/// operating system's generator).
fn random_hex(words: usize) -> String {
    (0..words)
        .map(|_| uuid::Uuid::new_v4().simple().to_string())
        .collect()
}

/// The starter configuration.
pub fn starter() -> String {
    let secret = random_hex(2);
    let key = random_hex(1);
    format!(
        r#"## Signal Hub starter configuration (hub-server genconfig --starter). Its secrets are
## fresh and random: keep this file private (chmod 600 hub.toml). Run the server with it:
##   hub-server -c hub.toml
## Every other key, with its default and what it does: hub-server genconfig.

## Where clients connect. "0.0.0.0:8080" serves other hosts (authentication is on).
bind = "127.0.0.1:8080"

## Clients sign in with a JSON Web Token (HS256) signed with this secret; its `sub` is
## the client's address. A development token for alice, valid an hour:
##   hub-server -c hub.toml token --sub alice --topic 'chat:*=subscribe,publish,presence,history'
jwt_hmac_secret = "{secret}"

## Backends (and the /admin page) use the server API with this key:
##   curl -H 'Authorization: Bearer {key}' localhost:8080/api/node
[[api_keys]]
name = "backend"
key = "{key}"
scopes = ["publish", "send", "broadcast", "disconnect", "read", "admin"]

## Topics chat:* (chat:lobby, ...): used as each token grants, with a member list
## (join and leave events) and the last 100 messages for a client that reconnects.
[namespaces.chat]
track_presence = true
join_leave = true
history_size = 100
max_payload_bytes = 4096
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_starter_has_its_own_secrets() {
        assert_ne!(starter(), starter());
        assert_eq!(random_hex(2).len(), 64);
    }
}
