//! The Redis ledger as the `InboxLedger` seam the inbox desk works over.

use super::*;

/// The ledger behind a shared handle: each call's future owns a handle.
impl InboxLedger for Arc<RedisLedger> {
    fn answer_appends_to(&self, sink: AppendSink) {
        let _ = self.sink.set(sink);
    }

    fn append(
        &self,
        to: &str,
        frame: Frame<'_>,
        receipt: Option<&ReceiptNote>,
        once: Option<&Once<'_>>,
        caps: Caps,
        ticket: u64,
    ) -> Option<AppendAnswer> {
        RedisLedger::append(self, to, frame, receipt, once, caps, ticket)
    }

    fn settle(&self, to: &str, once: &Once<'_>, status: DeliveryStatus) -> BoxFuture<'static, ()> {
        let (ledger, to) = (self.clone(), to.to_owned());
        let (sender, msg_id, fingerprint) = (
            once.sender.to_owned(),
            once.msg_id.to_owned(),
            once.fingerprint,
        );
        async move {
            let once = Once {
                sender: &sender,
                msg_id: &msg_id,
                fingerprint,
            };
            RedisLedger::settle(&ledger, &to, &once, status).await;
        }
        .boxed()
    }

    fn attach(
        &self,
        address: &str,
        retention: Duration,
        ttl: Duration,
        floor: u64,
    ) -> BoxFuture<'static, Result<Attached, HubError>> {
        let (ledger, address) = (self.clone(), address.to_owned());
        async move { RedisLedger::attach(&ledger, &address, retention, ttl, floor).await }.boxed()
    }

    fn touch(
        &self,
        held: Vec<(Arc<str>, u64)>,
        retention: Duration,
        ttl: Duration,
    ) -> BoxFuture<'static, ()> {
        let ledger = self.clone();
        async move { RedisLedger::touch(&ledger, held, retention, ttl).await }.boxed()
    }

    fn ack(
        &self,
        address: &str,
        upto: u64,
    ) -> BoxFuture<'static, Result<Vec<ReceiptNote>, HubError>> {
        let (ledger, address) = (self.clone(), address.to_owned());
        async move { RedisLedger::ack(&ledger, &address, upto).await }.boxed()
    }

    fn read(
        &self,
        address: &str,
        after: u64,
        max: usize,
    ) -> BoxFuture<'static, Result<Vec<Entry>, HubError>> {
        let (ledger, address) = (self.clone(), address.to_owned());
        async move { RedisLedger::read(&ledger, &address, after, max).await }.boxed()
    }

    fn claim(
        &self,
        sender: &str,
        msg_id: &str,
        fingerprint: [u64; 2],
        window: Duration,
    ) -> BoxFuture<'static, Result<ClaimedHere, HubError>> {
        RedisLedger::claim(self, sender, msg_id, &print(fingerprint), window).boxed()
    }

    fn settle_claim(
        &self,
        sender: &str,
        msg_id: &str,
        fingerprint: [u64; 2],
        outcome: Option<&Outcome>,
    ) -> BoxFuture<'static, ()> {
        let outcome = outcome.and_then(|o| serde_json::to_string(o).ok());
        RedisLedger::settle_claim(self, sender, msg_id, &print(fingerprint), outcome).boxed()
    }

    fn detach(
        &self,
        address: &str,
        floor: u64,
        retention: Duration,
        ttl: Duration,
    ) -> BoxFuture<'static, ()> {
        self.touch(vec![(address.into(), floor)], retention, ttl)
    }

    /// Redis expires inboxes and `msg_id`s by their keys' TTLs, and
    /// messages in the scripts that meet them.
    fn sweep(&self) -> BoxFuture<'static, Vec<(String, Vec<ReceiptNote>)>> {
        std::future::ready(Vec::new()).boxed()
    }

    /// Every stored message is in Redis already: nothing to write.
    fn close(&self) -> BoxFuture<'static, ()> {
        std::future::ready(()).boxed()
    }
}

/// A fingerprint as the claim keys keep it.
fn print(fingerprint: [u64; 2]) -> String {
    format!("{:016x}{:016x}", fingerprint[0], fingerprint[1])
}
