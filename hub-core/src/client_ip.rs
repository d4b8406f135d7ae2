//! The client's address when the hub sits behind proxies (nginx, a load
//! balancer, an ingress): every connection then comes from a proxy, and
//! the per-IP caps, the abuse cooldown and the logs would all see the
//! proxy. From a peer listed in `trusted_proxies`, the client is read from
//! the one header `client_ip_header` names, walking its hops from the
//! nearest: the first hop that is not a trusted proxy is the client. The
//! header is never read from any other peer, so a client cannot pick its
//! own address by sending one.
//!
//! A hop that is not an address (`unknown`, an obfuscated `_node`) ends
//! the walk: the client is then the nearest hop known, the last proxy.

use std::net::IpAddr;
#[cfg(feature = "server")]
use std::net::SocketAddr;

use ipnet::IpNet;

use serde::{Deserialize, Serialize};

/// The header that names the client behind a trusted proxy
/// (`client_ip_header`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientIpHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2`.
    #[default]
    XForwardedFor,
    /// `Forwarded: for=client, for=proxy1` (RFC 7239).
    Forwarded,
}

/// A `trusted_proxies` entry: an address (a one-address range) or a CIDR
/// range; `None` if it is neither.
pub(crate) fn parse_net(entry: &str) -> Option<IpNet> {
    let entry = entry.trim();
    entry
        .parse::<IpNet>()
        .ok()
        .or_else(|| entry.parse::<IpAddr>().ok().map(IpNet::from))
}

/// The proxies whose word on the client's address is taken.
#[cfg(feature = "server")]
#[derive(Debug, Clone, Default)]
pub(crate) struct TrustedProxies {
    nets: Vec<IpNet>,
    header: ClientIpHeader,
}

#[cfg(feature = "server")]
impl TrustedProxies {
    /// From the config (already validated: entries that do not parse are
    /// skipped).
    pub(crate) fn new(entries: &[String], header: ClientIpHeader) -> Self {
        Self {
            nets: entries.iter().filter_map(|e| parse_net(e)).collect(),
            header,
        }
    }

    /// No proxy is trusted: every peer is the client.
    pub(crate) fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// The client's address of a request from `peer` with `headers` (see
    /// [`Self::client`]).
    pub(crate) fn client_of(
        &self,
        peer: Option<SocketAddr>,
        headers: &actix_http::header::HeaderMap,
    ) -> Option<SocketAddr> {
        if self.is_empty() {
            return peer;
        }
        let values = headers
            .get_all(self.header_name())
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>();
        self.client(peer, values.into_iter())
    }

    /// The header to read: its lowercase name.
    pub(crate) fn header_name(&self) -> &'static str {
        match self.header {
            ClientIpHeader::XForwardedFor => "x-forwarded-for",
            ClientIpHeader::Forwarded => "forwarded",
        }
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.nets.iter().any(|net| net.contains(&ip))
    }

    /// The client's address: `peer` itself unless it is a trusted proxy,
    /// else the nearest untrusted hop of the header's `values` (each
    /// occurrence of the header, in the order received). A forwarded hop
    /// without a port gets port 0.
    pub(crate) fn client<'a>(
        &self,
        peer: Option<SocketAddr>,
        values: impl DoubleEndedIterator<Item = &'a str>,
    ) -> Option<SocketAddr> {
        let peer = peer?;
        if self.nets.is_empty() || !self.trusts(peer.ip()) {
            return Some(peer);
        }
        let mut client = peer;
        for value in values.rev() {
            for hop in value.rsplit(',') {
                let Some(hop) = self.hop(hop) else {
                    return Some(client);
                };
                client = hop;
                if !self.trusts(hop.ip()) {
                    return Some(client);
                }
            }
        }
        Some(client)
    }

    /// One hop of the header, if it names an address.
    fn hop(&self, hop: &str) -> Option<SocketAddr> {
        match self.header {
            ClientIpHeader::XForwardedFor => node(hop.trim()),
            ClientIpHeader::Forwarded => hop
                .split(';')
                .filter_map(|pair| pair.trim().split_once('='))
                .find(|(key, _)| key.eq_ignore_ascii_case("for"))
                .and_then(|(_, value)| node(value.trim().trim_matches('"'))),
        }
    }
}

#[cfg(feature = "server")]
/// An address as a proxy writes it: `1.2.3.4`, `1.2.3.4:5678`, `::1`,
/// `[::1]` or `[::1]:5678`.
fn node(text: &str) -> Option<SocketAddr> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Some(SocketAddr::new(canonical(addr.ip()), addr.port()));
    }
    let bare = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    bare.parse::<IpAddr>()
        .ok()
        .map(|ip| SocketAddr::new(canonical(ip), 0))
}

#[cfg(feature = "server")]
/// An IPv4 client seen on a dual-stack socket (`::ffff:1.2.3.4`) as the
/// IPv4 address it is, so that one client has one key and one range.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(all(test, feature = "server"))]
mod tests {
    use super::*;

    fn proxies(header: ClientIpHeader) -> TrustedProxies {
        TrustedProxies::new(&["10.0.0.0/8".into(), "::1".into()], header)
    }

    fn client(p: &TrustedProxies, peer: &str, values: &[&str]) -> String {
        let peer = peer.parse().unwrap();
        p.client(Some(peer), values.iter().copied())
            .unwrap()
            .to_string()
    }

    #[test]
    fn entries_are_addresses_or_ranges() {
        assert!(parse_net("10.0.0.0/8").is_some());
        assert!(parse_net("192.168.1.7").is_some());
        assert!(parse_net("fd00::/8").is_some());
        assert!(parse_net(" ::1 ").is_some());
        assert!(parse_net("10.0.0.0/33").is_none());
        assert!(parse_net("nginx").is_none());
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_sends() {
        let p = proxies(ClientIpHeader::XForwardedFor);
        assert_eq!(client(&p, "1.2.3.4:5", &["9.9.9.9"]), "1.2.3.4:5");
    }

    #[test]
    fn the_nearest_untrusted_hop_is_the_client() {
        let p = proxies(ClientIpHeader::XForwardedFor);
        // The client forged the first entry; the proxy appended the truth.
        let xff = ["6.6.6.6, 1.2.3.4, 10.1.1.1", "10.2.2.2"];
        assert_eq!(client(&p, "10.0.0.9:80", &xff), "1.2.3.4:0");
        assert_eq!(
            client(&p, "[::1]:80", &["[2001:db8::7]:99"]),
            "[2001:db8::7]:99"
        );
        // Only proxies: the farthest one.
        assert_eq!(client(&p, "10.0.0.9:80", &["10.3.3.3"]), "10.3.3.3:0");
        // No header: the proxy itself.
        assert_eq!(client(&p, "10.0.0.9:80", &[]), "10.0.0.9:80");
    }

    #[test]
    fn a_hop_that_is_not_an_address_stops_the_walk() {
        let p = proxies(ClientIpHeader::XForwardedFor);
        assert_eq!(
            client(&p, "10.0.0.9:80", &["1.2.3.4, unknown"]),
            "10.0.0.9:80"
        );
        assert_eq!(
            client(&p, "10.0.0.9:80", &["1.2.3.4, 10.0.0.1, x"]),
            "10.0.0.9:80"
        );
    }

    #[test]
    fn forwarded_names_the_client_in_for() {
        let p = proxies(ClientIpHeader::Forwarded);
        let header = [r#"for=6.6.6.6, for="[2001:db8::1]:4711";proto=https, For=10.1.1.1;by=x"#];
        assert_eq!(client(&p, "10.0.0.9:80", &header), "[2001:db8::1]:4711");
        assert_eq!(client(&p, "10.0.0.9:80", &["for=_hidden"]), "10.0.0.9:80");
    }

    #[test]
    fn a_mapped_ipv4_peer_is_its_ipv4_address() {
        let p = TrustedProxies::new(&["127.0.0.1".into()], ClientIpHeader::XForwardedFor);
        assert_eq!(
            client(&p, "[::ffff:127.0.0.1]:80", &["1.2.3.4"]),
            "1.2.3.4:0"
        );
    }
}
