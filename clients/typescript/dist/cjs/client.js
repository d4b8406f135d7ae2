"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.HubClient = exports.Subscription = void 0;
const backoff_js_1 = require("./backoff.js");
const codes_js_1 = require("./codes.js");
const errors_js_1 = require("./errors.js");
/** A topic this client subscribes to, kept across reconnects. */
class Subscription {
    /** @internal */
    constructor(client, topic, handler, since) {
        this.settled = false;
        this.client = client;
        this.topic = topic;
        this.handler = handler;
        this.position = since;
        this.ready = new Promise((resolve, reject) => {
            this.settle = { resolve, reject };
        });
        // A refusal is also thrown from `ready`; do not report it unhandled twice.
        this.ready.catch(() => { });
    }
    /** Stops receiving; the hub is told when connected. */
    unsubscribe() {
        return this.client.unsubscribeTopic(this);
    }
    /** @internal */
    deliver(message) {
        if (message.offset !== undefined && this.position)
            this.position.offset = message.offset;
        return this.handler(message);
    }
    /** @internal */
    acknowledged(ack) {
        if (typeof ack.epoch === "string" && typeof ack.offset === "number") {
            const behind = this.position && this.position.epoch === ack.epoch && this.position.offset > ack.offset;
            if (!behind)
                this.position = { epoch: ack.epoch, offset: ack.offset };
        }
        if (!this.settled) {
            this.settled = true;
            this.settle.resolve();
        }
        return typeof ack.recovered === "boolean" ? ack.recovered : undefined;
    }
    /** @internal */
    refused(error) {
        if (!this.settled) {
            this.settled = true;
            this.settle.reject(error);
        }
    }
}
exports.Subscription = Subscription;
/**
 * A Signal Hub client. It keeps one WebSocket: it reconnects with full
 * jitter when the connection drops (after `retry_after_ms` on
 * `server_shutdown`; never after 1000 or 4500-4999), registers again,
 * resubscribes from where each subscription stood, sends again the calls
 * that carry a `msgId`, and queues new calls while down (bounded).
 */
class HubClient {
    constructor(options) {
        this.stateNow = "closed";
        this.attempt = 0;
        this.everConnected = false;
        this.closing = false;
        this.nextId = 0;
        this.pending = new Map();
        this.offline = [];
        this.subscriptions = new Map();
        /** Topics the server subscribed this session to (`hub:subscribed`): their publications come as `publication` events. */
        this.serverTopics = new Set();
        this.replies = new Map();
        this.listeners = new Map();
        this.timers = {};
        this.lastHeard = 0;
        this.deadAfterMs = 30000;
        /** The highest stored-message `seq` handed to the application (skip repeats). */
        this.lastSeq = 0;
        this.ackChain = Promise.resolve();
        const WS = options.WebSocket ?? globalThis.WebSocket;
        if (!WS)
            throw new errors_js_1.HubError("invalid_field", "no WebSocket: pass options.WebSocket");
        this.options = {
            reconnectInitialMs: 100,
            reconnectMaxMs: 10000,
            offlineQueue: 1024,
            connectTimeoutMs: 10000,
            requestTimeoutMs: 10000,
            ...options,
            WebSocket: WS,
        };
    }
    /** `connecting`, `connected`, `reconnecting` or `closed`. */
    get state() {
        return this.stateNow;
    }
    /**
     * The address this connection registers: `address/device` with a
     * `device`, else `address`. Messages this client publishes or sends carry
     * it as `from`.
     */
    get connectionAddress() {
        const { address, device } = this.options;
        return device === undefined ? address : `${address}/${device}`;
    }
    /** The session's id (as the server logs it), once connected. */
    get sessionId() {
        return this.sessionIdNow;
    }
    /** Calls waiting for a connection. */
    get queued() {
        return this.offline.length;
    }
    /**
     * Connects; resolves once registered. Rejects when the first connect is
     * refused for good (`unauthorized`, ...); a refusal that may pass
     * (`shutting_down`, `registry_full`, a node down) is retried with backoff.
     */
    connect() {
        if (this.stateNow !== "closed")
            return Promise.resolve();
        this.closing = false;
        const connected = new Promise((resolve, reject) => {
            this.firstConnect = { resolve, reject };
        });
        void this.open();
        return connected;
    }
    /** Leaves: `hub:disconnect`, the address goes offline at once; no reconnect. */
    async close() {
        this.closing = true;
        clearTimeout(this.timers.retry);
        const ws = this.ws;
        if (!ws || this.stateNow !== "connected") {
            this.finish({ code: codes_js_1.CloseCodes.normal, reason: "normal", reconnect: false });
            ws?.close();
            return;
        }
        await new Promise((resolve) => {
            const done = () => resolve();
            ws.addEventListener("close", done);
            this.sendFrame({ type: "hub:disconnect", id: this.id() });
            // The server closes after its ack; a server that does not is not waited for.
            setTimeout(() => {
                ws.close();
                done();
            }, 2000);
        });
    }
    on(event, listener) {
        let set = this.listeners.get(event);
        if (!set)
            this.listeners.set(event, (set = new Set()));
        const entry = listener;
        set.add(entry);
        return () => set.delete(entry);
    }
    /**
     * Subscribes to `topic`; `handler` gets each publication. Kept across
     * reconnects: resubscribed from the last publication seen (with history,
     * nothing is missed, or the `resubscribed` event says `recovered: false`).
     */
    subscribe(topic, handler, since) {
        const existing = this.subscriptions.get(topic);
        if (existing)
            return existing;
        const subscription = new Subscription(this, topic, handler, since);
        this.subscriptions.set(topic, subscription);
        if (this.stateNow === "connected")
            this.sendSubscribe(subscription, false);
        return subscription;
    }
    /** @internal */
    async unsubscribeTopic(subscription) {
        if (this.subscriptions.get(subscription.topic) !== subscription)
            return;
        this.subscriptions.delete(subscription.topic);
        if (this.stateNow === "connected") {
            await this.call({ type: "hub:unsubscribe", topic: subscription.topic }).catch(() => { });
        }
    }
    /** Publishes to a topic; resolves once the topic has fanned it out. */
    async publish(topic, payload, msgId) {
        const answer = await this.call({ type: "hub:publish", topic, payload, ...(msgId ? { msg_id: msgId } : {}) });
        return typeof answer.offset === "number"
            ? { recipients: answer.recipients, offset: answer.offset }
            : { recipients: answer.recipients };
    }
    /**
     * Calls `method` (1 to 128 letters, digits or `_ . : / -`) on the
     * application's backend (the hub's RPC proxy) with `data`; resolves with
     * its answer (`null` when it gave none). Rejects with a `HubError`:
     * `refused` (the backend said no; its own code in `reason`),
     * `unavailable` (temporary), `no_backend`, `too_many_rpcs`.
     */
    async rpc(method, data) {
        const answer = await this.call({ type: "hub:rpc", method, ...(data === undefined ? {} : { data }) });
        return answer.data ?? null;
    }
    /** Sends a direct message; resolves `accepted` (in the recipient's queue) or `queued` (stored). */
    async send(to, payload, options = {}) {
        const frame = { type: "hub:send", to, payload };
        if (options.msgId)
            frame.msg_id = options.msgId;
        if (options.ack === false) {
            frame.ack = false;
            this.fireAndForget(frame);
            return undefined;
        }
        const answer = await this.call(frame);
        return answer.status;
    }
    /** Sends to a list of addresses or to everyone (`"*"`). */
    async broadcast(to, payload) {
        const answer = await this.call({ type: "hub:broadcast", to, payload });
        return { recipients: answer.recipients, notFound: answer.not_found ?? [] };
    }
    /**
     * Sends a request and waits for its reply: a direct message whose
     * `in_reply_to` is this request's `correlation_id`.
     */
    async request(to, payload, timeoutMs = this.options.requestTimeoutMs) {
        const correlationId = randomId();
        const reply = new Promise((resolve, reject) => {
            this.replies.set(correlationId, { resolve, reject });
        });
        const timer = setTimeout(() => {
            this.replies.get(correlationId)?.reject(new errors_js_1.HubError("timeout", `no reply from ${to} within ${timeoutMs} ms`, undefined, true));
            this.replies.delete(correlationId);
        }, timeoutMs);
        try {
            await this.call({ type: "hub:send", to, payload, correlation_id: correlationId });
            return await reply;
        }
        finally {
            clearTimeout(timer);
            this.replies.delete(correlationId);
        }
    }
    /** Answers a request (a message with a `correlation_id`). */
    async reply(request, payload) {
        if (!request.correlation_id)
            throw new errors_js_1.HubError("invalid_field", "this message is not a request (no correlation_id)");
        const answer = await this.call({ type: "hub:send", to: request.from, payload, in_reply_to: request.correlation_id });
        return answer.status;
    }
    // ---- the connection ----
    async open() {
        this.stateNow = this.everConnected ? "reconnecting" : "connecting";
        let token = this.options.token;
        if (this.options.getToken) {
            try {
                token = await this.options.getToken();
            }
            catch (e) {
                return this.lost({ code: 1006, reason: `getToken failed: ${String(e)}`, reconnect: true });
            }
        }
        if (this.closing)
            return;
        const ws = new this.options.WebSocket(this.options.url);
        this.ws = ws;
        this.farewell = undefined;
        this.timers.connect = setTimeout(() => this.abandon(ws, "connect timed out"), this.options.connectTimeoutMs);
        ws.onopen = () => {
            const connect = { type: "hub:connect", id: "connect", address: this.options.address, features: ["ack", "batch"] };
            if (this.options.device !== undefined)
                connect.device = this.options.device;
            if (token)
                connect.token = token;
            ws.send(JSON.stringify(connect));
        };
        ws.onmessage = (event) => {
            if (ws !== this.ws)
                return;
            this.lastHeard = Date.now();
            if (typeof event.data !== "string")
                return;
            for (const line of event.data.split("\n")) {
                if (!line)
                    continue;
                let frame;
                try {
                    frame = JSON.parse(line);
                }
                catch {
                    continue;
                }
                this.dispatch(frame);
            }
        };
        ws.onclose = (event) => {
            if (ws !== this.ws)
                return;
            const reason = event.reason || (event.code === 1006 ? "connection lost" : "closed");
            const reconnect = this.farewell?.reconnect ?? (0, codes_js_1.reconnects)(event.code);
            this.lost({ code: event.code, reason, reconnect });
        };
        ws.onerror = () => { };
    }
    /** Gives up on a socket that does not answer: treated as lost. */
    abandon(ws, why) {
        if (ws !== this.ws)
            return;
        ws.onclose = null;
        ws.onmessage = null;
        ws.close();
        this.lost({ code: 1006, reason: why, reconnect: true });
    }
    dispatch(frame) {
        const id = typeof frame.id === "string" ? frame.id : undefined;
        switch (frame.type) {
            case "hub:connected":
                return this.connected(frame);
            case "hub:message":
                return this.message(frame);
            case "hub:receipt":
                if (typeof frame.seq === "number")
                    this.acknowledge(frame.seq, undefined);
                return;
            case "hub:refresh":
                void this.refreshToken();
                return;
            case "hub:refresh_ack":
                this.emit("refreshed", {});
                return;
            case "hub:sub_refresh":
                void this.refreshTopicToken(String(frame.topic));
                return;
            case "hub:sub_refresh_ack":
                return;
            case "hub:subscribed": {
                const topic = String(frame.topic);
                this.serverTopics.add(topic);
                this.emit("subscribed", { topic });
                return;
            }
            case "hub:unsubscribed": {
                const topic = String(frame.topic);
                this.subscriptions.delete(topic);
                this.serverTopics.delete(topic);
                this.emit("unsubscribed", { topic, reason: String(frame.reason) });
                return;
            }
            case "hub:disconnect":
                this.farewell = {
                    reconnect: frame.reconnect === true,
                    ...(typeof frame.retry_after_ms === "number" ? { retryAfterMs: frame.retry_after_ms } : {}),
                };
                return;
            case "hub:subscribe_ack":
                return this.subscribed(frame);
            case "hub:rate_limited": {
                const call = id ? this.pending.get(id) : undefined;
                if (call)
                    setTimeout(() => this.ws && this.stateNow === "connected" && this.ws.send(JSON.stringify(call.frame)), Number(frame.retry_after_ms) || 100);
                return;
            }
            case "hub:error":
                if (id === "connect")
                    return this.connectRefused(frame);
                if (id?.startsWith("subref:")) {
                    this.emit("error", toError(frame));
                    return;
                }
                if (id?.startsWith("sub:") || id?.startsWith("resub:")) {
                    const topic = id.slice(id.indexOf(":") + 1);
                    this.subscriptions.get(topic)?.refused(toError(frame));
                    this.subscriptions.delete(topic);
                    return;
                }
                break;
            case "hub:delivery_ack":
                if (frame.status === "rejected") {
                    const call = id ? this.pending.get(id) : undefined;
                    if (call && id) {
                        this.pending.delete(id);
                        call.reject(new errors_js_1.HubError(String(frame.reason), `${String(frame.to)}: ${String(frame.reason)}`, undefined, true));
                    }
                    return;
                }
                break;
        }
        const call = id ? this.pending.get(id) : undefined;
        if (!call || !id)
            return;
        this.pending.delete(id);
        if (frame.type === "hub:error")
            call.reject(toError(frame));
        else
            call.resolve(frame);
    }
    connected(frame) {
        clearTimeout(this.timers.connect);
        const resumed = this.everConnected;
        this.everConnected = true;
        this.attempt = 0;
        // A new session: the server announces its own subscriptions again.
        this.serverTopics.clear();
        this.stateNow = "connected";
        this.sessionIdNow = String(frame.session_id);
        this.lastHeard = Date.now();
        this.deadAfterMs = Number(frame.heartbeat_timeout_ms) || 30000;
        const every = this.options.heartbeatIntervalMs ?? (Number(frame.heartbeat_interval_ms) || 20000);
        clearInterval(this.timers.heartbeat);
        this.timers.heartbeat = setInterval(() => this.heartbeat(), every);
        for (const subscription of this.subscriptions.values())
            this.sendSubscribe(subscription, resumed);
        // Calls with a msg_id that were in flight go first, then what waited.
        const waiting = this.offline.splice(0);
        for (const call of waiting)
            this.transmit(call);
        this.emit("connected", { sessionId: this.sessionIdNow, resumed });
        this.firstConnect?.resolve();
        this.firstConnect = undefined;
    }
    connectRefused(frame) {
        const error = toError(frame);
        const terminal = codes_js_1.TERMINAL_CONNECT_ERRORS.has(error.code);
        this.emit("error", error);
        if (terminal) {
            this.closing = true;
            const ws = this.ws;
            this.finish({ code: codes_js_1.CloseCodes.normal, reason: error.code, reconnect: false }, error);
            ws?.close();
        }
        else if (this.ws) {
            this.abandon(this.ws, error.code);
        }
    }
    heartbeat() {
        const ws = this.ws;
        if (!ws || this.stateNow !== "connected")
            return;
        if (Date.now() - this.lastHeard > this.deadAfterMs)
            return this.abandon(ws, "no answer within the heartbeat timeout");
        this.sendFrame({ type: "hub:ping" });
    }
    async refreshToken() {
        if (!this.options.getToken)
            return;
        try {
            const token = await this.options.getToken();
            this.sendFrame({ type: "hub:refresh", id: this.id(), token });
        }
        catch (e) {
            this.emit("error", new errors_js_1.HubError("unauthorized", `getToken failed: ${String(e)}`, undefined, true));
        }
    }
    /** The connection is gone: settle what was in flight, then reconnect or stop. */
    lost(why) {
        clearTimeout(this.timers.connect);
        clearInterval(this.timers.heartbeat);
        this.ws = undefined;
        this.sessionIdNow = undefined;
        const resend = [];
        for (const [id, call] of this.pending) {
            this.pending.delete(id);
            if (call.resendable)
                resend.push(call);
            else
                call.reject(new errors_js_1.HubError("connection_lost", "the connection dropped before the answer; the outcome is unknown", "send it again with a msgId", true));
        }
        this.offline.unshift(...resend);
        if (this.closing || !why.reconnect)
            return this.finish(why);
        this.stateNow = "reconnecting";
        this.emit("disconnected", why);
        const random = Math.random();
        const delay = this.farewell?.retryAfterMs !== undefined
            ? (0, backoff_js_1.jittered)(this.farewell.retryAfterMs, random)
            : (0, backoff_js_1.backoffDelay)(this.attempt++, this.options.reconnectInitialMs, this.options.reconnectMaxMs, random);
        this.timers.retry = setTimeout(() => void this.open(), delay);
    }
    /** Stops for good: every waiting call is refused. */
    finish(why, error) {
        clearTimeout(this.timers.connect);
        clearInterval(this.timers.heartbeat);
        clearTimeout(this.timers.retry);
        const wasClosed = this.stateNow === "closed";
        this.stateNow = "closed";
        this.ws = undefined;
        const closed = new errors_js_1.HubError("closed", `the client is closed (${why.code} ${why.reason})`);
        for (const call of [...this.pending.values(), ...this.offline.splice(0)])
            call.reject(closed);
        this.pending.clear();
        for (const reply of this.replies.values())
            reply.reject(closed);
        this.replies.clear();
        this.firstConnect?.reject(error ?? closed);
        this.firstConnect = undefined;
        if (!wasClosed)
            this.emit("disconnected", { ...why, reconnect: false });
    }
    // ---- frames ----
    message(frame) {
        const message = frame;
        if (typeof message.topic === "string") {
            const subscription = this.subscriptions.get(message.topic);
            if (subscription)
                this.handled(() => subscription.deliver(message), undefined);
            else if (this.serverTopics.has(message.topic))
                this.emit("publication", message);
            return;
        }
        const seq = message.seq;
        if (seq !== undefined && seq <= this.lastSeq) {
            // Handed over before a reconnect, its ack lost on the way: ack again only.
            this.acknowledge(seq, undefined);
            return;
        }
        if (seq !== undefined)
            this.lastSeq = seq;
        const waiter = message.in_reply_to ? this.replies.get(message.in_reply_to) : undefined;
        if (waiter) {
            waiter.resolve(message);
            if (seq !== undefined)
                this.acknowledge(seq, undefined);
            return;
        }
        this.handled(() => this.emit("message", message), seq);
    }
    /** Runs a handler; a stored message is acknowledged once it has run (or its promise settled). */
    handled(run, seq) {
        let result;
        try {
            result = run();
        }
        catch (e) {
            this.emit("error", new errors_js_1.HubError("internal", `a message handler threw: ${String(e)}`));
        }
        if (seq !== undefined)
            this.acknowledge(seq, result instanceof Promise ? result : undefined);
    }
    /** Acknowledges `seq` (cumulative) after `after`, in order, one `hub:ack` per turn. */
    acknowledge(seq, after) {
        this.ackChain = this.ackChain
            .then(() => after)
            .catch(() => { })
            .then(() => {
            if (this.ackDue === undefined) {
                queueMicrotask(() => {
                    const due = this.ackDue;
                    this.ackDue = undefined;
                    if (due !== undefined)
                        this.sendFrame({ type: "hub:ack", seq: due });
                });
            }
            this.ackDue = Math.max(this.ackDue ?? 0, seq);
        });
    }
    subscribed(frame) {
        const topic = String(frame.topic);
        const subscription = this.subscriptions.get(topic);
        if (!subscription)
            return;
        const recovered = subscription.acknowledged(frame);
        if (typeof frame.id === "string" && frame.id.startsWith("resub:"))
            this.emit("resubscribed", { topic, recovered });
    }
    sendSubscribe(subscription, again) {
        const frame = { type: "hub:subscribe", id: `${again ? "resub" : "sub"}:${subscription.topic}`, topic: subscription.topic };
        if (subscription.position)
            frame.since = { ...subscription.position };
        const getToken = this.options.getSubscriptionToken;
        if (!getToken)
            return this.sendFrame(frame);
        getToken(subscription.topic).then((token) => {
            if (this.subscriptions.get(subscription.topic) !== subscription || this.stateNow !== "connected")
                return;
            if (token !== undefined)
                frame.token = token;
            this.sendFrame(frame);
        }, (e) => {
            this.subscriptions.delete(subscription.topic);
            subscription.refused(new errors_js_1.HubError("unauthorized", `getSubscriptionToken failed: ${String(e)}`));
        });
    }
    /** The server asks for a fresh token for `topic` ahead of its expiry. */
    async refreshTopicToken(topic) {
        const getToken = this.options.getSubscriptionToken;
        if (!getToken || !this.subscriptions.has(topic))
            return;
        try {
            const token = await getToken(topic);
            if (token !== undefined)
                this.sendFrame({ type: "hub:sub_refresh", id: `subref:${topic}`, topic, token });
        }
        catch (e) {
            this.emit("error", new errors_js_1.HubError("unauthorized", `getSubscriptionToken failed: ${String(e)}`, undefined, true));
        }
    }
    /** A call answered by the hub: sent now, or queued while disconnected. */
    call(frame) {
        return new Promise((resolve, reject) => {
            const call = { frame, resolve, reject, resendable: typeof frame.msg_id === "string" };
            if (this.stateNow === "closed")
                return reject(new errors_js_1.HubError("closed", "the client is closed"));
            if (this.stateNow === "connected")
                return this.transmit(call);
            if (this.offline.length >= this.options.offlineQueue) {
                return reject(new errors_js_1.HubError("offline_queue_full", `${this.options.offlineQueue} calls already wait for the connection`, "wait for the connection, or raise offlineQueue", true));
            }
            this.offline.push(call);
        });
    }
    /** A send without ack: nothing answers it (but a refusal), so nobody waits. */
    fireAndForget(frame) {
        this.call(frame).catch(() => { });
    }
    transmit(call) {
        const id = this.id();
        call.frame.id = id;
        if (call.frame.ack !== false)
            this.pending.set(id, call);
        this.sendFrame(call.frame);
    }
    sendFrame(frame) {
        this.ws?.send(JSON.stringify(frame));
    }
    id() {
        return String(++this.nextId);
    }
    emit(event, value) {
        const set = this.listeners.get(event);
        if (!set)
            return;
        for (const listener of set) {
            try {
                listener(value);
            }
            catch {
                // A listener's failure is its own.
            }
        }
    }
}
exports.HubClient = HubClient;
function toError(frame) {
    const reason = typeof frame.reason === "string" ? frame.reason : undefined;
    return new errors_js_1.HubError(String(frame.code ?? "internal"), String(frame.message ?? ""), frame.hint, frame.temporary === true, reason);
}
function randomId() {
    const bytes = new Uint8Array(16);
    globalThis.crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
//# sourceMappingURL=client.js.map