//! [`Members`]: a topic's member list, in address order, so that a page of
//! it costs O(log n + page) however many members there are, and its size
//! O(1).
//!
//! A member whose session drops (without `hub:disconnect`) lingers for the
//! node's `offline_grace_ms`: still listed, no `hub:leave` yet. A new
//! session of the same address joining within it takes the membership over
//! silently; otherwise the grace ends with one `hub:leave`. Several
//! sessions never hold one address, so a member is one address.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::ops::Bound;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::value::RawValue;

use super::Membership;
use crate::outbox::SessionId;
use crate::protocol::presence::{Member as WireMember, PRESENCE_PAGE_MAX_BYTES};

/// One address in the topic.
#[derive(Debug)]
struct Member {
    /// The session that holds the membership now.
    session: SessionId,
    info: Option<Arc<RawValue>>,
    /// Its session dropped; the grace window runs.
    lingering: bool,
}

/// A change others may hear of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    /// `address` joined (it was not a member).
    Joined(Arc<str>),
    /// `address` left (for good: its grace, if any, is over).
    Left(Arc<str>),
}

/// A topic's members. See the module docs.
#[derive(Debug)]
pub(crate) struct Members {
    by_address: BTreeMap<Arc<str>, Member>,
    /// Each subscribed session's address: a leave names only the session.
    by_session: HashMap<SessionId, Arc<str>>,
    /// Sessions that hear joins and leaves.
    listeners: HashSet<SessionId>,
    /// Dropped memberships by the end of their grace; the grace is one
    /// duration for all, so arrival order is deadline order.
    lingering: VecDeque<(Instant, Arc<str>, SessionId)>,
    grace: Duration,
}

impl Members {
    pub(crate) fn new(grace: Duration) -> Self {
        Self {
            by_address: BTreeMap::new(),
            by_session: HashMap::new(),
            listeners: HashSet::new(),
            lingering: VecDeque::new(),
            grace,
        }
    }

    /// How many addresses are members (lingering ones included).
    pub(crate) fn len(&self) -> usize {
        self.by_address.len()
    }

    /// Sessions that hear joins and leaves.
    pub(crate) fn listeners(&self) -> &HashSet<SessionId> {
        &self.listeners
    }

    /// Members whose session is live here (not lingering), with their info.
    pub(crate) fn live(&self) -> impl Iterator<Item = (&Arc<str>, Option<&Arc<RawValue>>)> {
        self.by_address
            .iter()
            .filter(|(_, m)| !m.lingering)
            .map(|(address, m)| (address, m.info.as_ref()))
    }

    /// The address `session` subscribed as.
    pub(crate) fn address_of(&self, session: SessionId) -> Option<&Arc<str>> {
        self.by_session.get(&session)
    }

    /// The info `address` joined with.
    pub(crate) fn info(&self, address: &str) -> Option<&Arc<RawValue>> {
        self.by_address.get(address)?.info.as_ref()
    }

    /// `session` subscribed as `who`. A change only when the address was
    /// not a member: a newer session of a member (a reconnect, lingering
    /// or not) takes its place unnoticed.
    pub(crate) fn join(&mut self, session: SessionId, who: Membership) -> Option<Change> {
        if who.listens {
            self.listeners.insert(session);
        }
        self.by_session.insert(session, who.address.clone());
        let member = Member {
            session,
            info: who.info,
            lingering: false,
        };
        match self.by_address.insert(who.address.clone(), member) {
            Some(_) => None,
            None => Some(Change::Joined(who.address)),
        }
    }

    /// `session` left: unsubscribed, or (`dropped`) its session ended
    /// without `hub:disconnect`, when its membership lingers for the grace.
    /// A change only when its address is no longer a member.
    pub(crate) fn leave(
        &mut self,
        session: SessionId,
        dropped: bool,
        now: Instant,
    ) -> Option<Change> {
        self.listeners.remove(&session);
        let address = self.by_session.remove(&session)?;
        let member = self.by_address.get_mut(&address)?;
        if member.session != session {
            // A newer session of the address holds the membership.
            return None;
        }
        if dropped && !self.grace.is_zero() {
            member.lingering = true;
            self.lingering
                .push_back((now + self.grace, address, session));
            return None;
        }
        self.by_address.remove(&address);
        Some(Change::Left(address))
    }

    /// Ends every grace window that ran out by `now`; returns the leaves.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<Change> {
        let mut left = Vec::new();
        while let Some((deadline, _, _)) = self.lingering.front() {
            if *deadline > now {
                break;
            }
            let Some((_, address, session)) = self.lingering.pop_front() else {
                break;
            };
            let ended = self
                .by_address
                .get(&address)
                .is_some_and(|m| m.lingering && m.session == session);
            if ended {
                self.by_address.remove(&address);
                left.push(Change::Left(address));
            }
        }
        left
    }

    /// When the next grace window ends.
    pub(crate) fn next_expiry(&self) -> Option<Instant> {
        self.lingering.front().map(|(deadline, _, _)| *deadline)
    }

    /// Whether a grace window is running (the topic must not retire).
    pub(crate) fn lingering(&self) -> bool {
        !self.lingering.is_empty()
    }

    /// Up to `limit` members after `after`, in address order, stopping
    /// short of [`PRESENCE_PAGE_MAX_BYTES`]; with the `after` of the next
    /// page when more follow.
    pub(crate) fn page(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> (Vec<WireMember<'_>>, Option<Arc<str>>) {
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        let mut range = self
            .by_address
            .range::<str, _>((start, Bound::Unbounded))
            .peekable();
        let mut page = Vec::new();
        let mut bytes = 0;
        while let Some((address, member)) = range.peek() {
            let size = address.len() + member.info.as_ref().map_or(0, |i| i.get().len()) + 32;
            if page.len() == limit || (!page.is_empty() && bytes + size > PRESENCE_PAGE_MAX_BYTES) {
                break;
            }
            bytes += size;
            page.push(WireMember {
                address: std::borrow::Cow::Borrowed(&**address),
                info: member.info.as_deref().map(std::borrow::Cow::Borrowed),
            });
            range.next();
        }
        let next = match range.peek() {
            Some(_) => page.last().map(|m| Arc::from(&*m.address)),
            None => None,
        };
        (page, next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRACE: Duration = Duration::from_secs(5);

    fn who(address: &str, listens: bool) -> Membership {
        Membership {
            address: address.into(),
            info: None,
            listens,
        }
    }

    fn joined(a: &str) -> Option<Change> {
        Some(Change::Joined(a.into()))
    }

    fn left(a: &str) -> Option<Change> {
        Some(Change::Left(a.into()))
    }

    #[test]
    fn a_member_joins_once_and_leaves_once() {
        let mut m = Members::new(GRACE);
        let now = Instant::now();
        assert_eq!(m.join(SessionId(1), who("a", true)), joined("a"));
        assert!(m.listeners().contains(&SessionId(1)));
        assert_eq!(m.len(), 1);
        assert_eq!(m.leave(SessionId(1), false, now), left("a"));
        assert_eq!(m.leave(SessionId(1), false, now), None, "once");
        assert_eq!((m.len(), m.listeners().len()), (0, 0));
    }

    #[test]
    fn a_dropped_member_lingers_and_a_reconnect_in_time_is_unnoticed() {
        let mut m = Members::new(GRACE);
        let now = Instant::now();
        m.join(SessionId(1), who("a", false));
        assert_eq!(m.leave(SessionId(1), true, now), None, "it lingers");
        assert_eq!(m.len(), 1, "still listed");
        assert!(m.lingering());
        assert_eq!(m.join(SessionId(2), who("a", false)), None, "taken over");
        assert_eq!(m.expire(now + GRACE), vec![], "the old grace ends nothing");
        assert_eq!(m.len(), 1);
        assert_eq!(m.leave(SessionId(2), true, now + GRACE), None);
        assert_eq!(m.next_expiry(), Some(now + GRACE * 2));
        assert_eq!(m.expire(now + GRACE * 2), vec![Change::Left("a".into())]);
        assert_eq!(m.len(), 0);
    }

    #[test]
    fn an_evicted_session_leaving_late_does_not_remove_its_successor() {
        let mut m = Members::new(Duration::ZERO);
        let now = Instant::now();
        m.join(SessionId(1), who("a", false));
        assert_eq!(m.join(SessionId(2), who("a", false)), None);
        assert_eq!(m.leave(SessionId(1), true, now), None);
        assert_eq!(m.len(), 1);
        assert_eq!(
            m.leave(SessionId(2), true, now),
            left("a"),
            "no grace: at once"
        );
    }

    #[test]
    fn pages_follow_address_order_and_say_where_to_go_on() {
        let mut m = Members::new(GRACE);
        for (i, a) in ["d", "b", "a", "c", "e"].into_iter().enumerate() {
            m.join(SessionId(i as u64), who(a, false));
        }
        let names = |page: &[WireMember<'_>]| -> Vec<String> {
            page.iter().map(|w| w.address.to_string()).collect()
        };
        let (page, next) = m.page(None, 2);
        assert_eq!(
            (names(&page), next.as_deref()),
            (vec!["a".into(), "b".into()], Some("b"))
        );
        let (page, next) = m.page(Some("b"), 2);
        assert_eq!(
            (names(&page), next.as_deref()),
            (vec!["c".into(), "d".into()], Some("d"))
        );
        let (page, next) = m.page(Some("d"), 2);
        assert_eq!((names(&page), next), (vec!["e".into()], None));
        let (page, next) = m.page(Some("zz"), 2);
        assert!(page.is_empty() && next.is_none());
    }

    #[test]
    fn a_page_stops_before_its_byte_bound() {
        let mut m = Members::new(GRACE);
        let info: Arc<RawValue> = RawValue::from_string(format!("\"{}\"", "x".repeat(4000)))
            .unwrap()
            .into();
        for i in 0..40 {
            let mut w = who(&format!("m{i:02}"), false);
            w.info = Some(info.clone());
            m.join(SessionId(i), w);
        }
        let (page, next) = m.page(None, 1000);
        assert!(page.len() < 40 && page.len() >= 15, "{}", page.len());
        assert!(next.is_some());
    }
}
