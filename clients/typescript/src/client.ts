import { backoffDelay, jittered } from "./backoff.js";
import { CloseCodes, TERMINAL_CONNECT_ERRORS, reconnects } from "./codes.js";
import { Acks } from "./acks.js";
import { Calls } from "./calls.js";
import { Emitter, type Listener } from "./emitter.js";
import { HubError } from "./errors.js";
import { type Frame, toError } from "./frame.js";
import type { Subscription } from "./subscription.js";
import { Topics } from "./topics.js";
import type {
  ClientEvents,
  ClientOptions,
  ClientState,
  Message,
  Position,
  PublishResult,
  SendOptions,
  SendStatus,
  WebSocketConstructor,
  WebSocketLike,
} from "./types.js";

/**
 * A Signal Hub client. It keeps one WebSocket: it reconnects with full
 * jitter when the connection drops (after `retry_after_ms` on
 * `server_shutdown`; never after 1000 or 4500-4999), registers again,
 * resubscribes from where each subscription stood, sends again the calls
 * that carry a `msgId`, and queues new calls while down (bounded).
 */
export class HubClient {
  private readonly options: Required<Omit<ClientOptions, "token" | "getToken" | "getSubscriptionToken" | "heartbeatIntervalMs" | "device">> &
    Pick<ClientOptions, "token" | "getToken" | "getSubscriptionToken" | "heartbeatIntervalMs" | "device">;
  private ws: WebSocketLike | undefined;
  private stateNow: ClientState = "closed";
  private attempt = 0;
  private everConnected = false;
  private closing = false;
  private sessionIdNow: string | undefined;
  private readonly calls: Calls;
  private readonly acks = new Acks((frame) => this.sendFrame(frame));
  private readonly events = new Emitter();
  private readonly topics: Topics;
  private readonly replies = new Map<string, { resolve: (m: Message) => void; reject: (e: HubError) => void }>();
  private timers: { heartbeat?: ReturnType<typeof setInterval>; connect?: ReturnType<typeof setTimeout>; retry?: ReturnType<typeof setTimeout> } = {};
  private lastHeard = 0;
  private deadAfterMs = 30_000;
  /** What the server's `hub:disconnect` said before it closed. */
  private farewell: { reconnect: boolean; retryAfterMs?: number } | undefined;
  private firstConnect: { resolve: () => void; reject: (e: HubError) => void } | undefined;

  constructor(options: ClientOptions) {
    const WS = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WS) throw new HubError("invalid_field", "no WebSocket: pass options.WebSocket");
    this.options = {
      reconnectInitialMs: 100,
      reconnectMaxMs: 10_000,
      offlineQueue: 1024,
      connectTimeoutMs: 10_000,
      requestTimeoutMs: 10_000,
      ...options,
      WebSocket: WS,
    };
    this.calls = new Calls(this.options.offlineQueue, (frame) => this.sendFrame(frame));
    this.topics = new Topics({
      sendFrame: (frame) => this.sendFrame(frame),
      connected: () => this.stateNow === "connected",
      unsubscribe: (topic) => this.call({ type: "hub:unsubscribe", topic }).then(() => {}, () => {}),
      getSubscriptionToken: this.options.getSubscriptionToken,
      events: this.events,
    });
  }

  /** `connecting`, `connected`, `reconnecting` or `closed`. */
  get state(): ClientState {
    return this.stateNow;
  }

  /**
   * The address this connection registers: `address/device` with a
   * `device`, else `address`. Messages this client publishes or sends carry
   * it as `from`.
   */
  get connectionAddress(): string {
    const { address, device } = this.options;
    return device === undefined ? address : `${address}/${device}`;
  }

  /** The session's id (as the server logs it), once connected. */
  get sessionId(): string | undefined {
    return this.sessionIdNow;
  }

  /** Calls waiting for a connection. */
  get queued(): number {
    return this.calls.queued;
  }

  /**
   * Connects; resolves once registered. Rejects when the first connect is
   * refused for good (`unauthorized`, ...); a refusal that may pass
   * (`shutting_down`, `registry_full`, a node down) is retried with backoff.
   */
  connect(): Promise<void> {
    if (this.stateNow !== "closed") return Promise.resolve();
    this.closing = false;
    const connected = new Promise<void>((resolve, reject) => {
      this.firstConnect = { resolve, reject };
    });
    void this.open();
    return connected;
  }

  /** Leaves: `hub:disconnect`, the address goes offline at once; no reconnect. */
  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.timers.retry);
    const ws = this.ws;
    if (!ws || this.stateNow !== "connected") {
      this.finish({ code: CloseCodes.normal, reason: "normal", reconnect: false });
      ws?.close();
      return;
    }
    await new Promise<void>((resolve) => {
      const done = () => resolve();
      ws.addEventListener("close", done);
      this.sendFrame({ type: "hub:disconnect", id: this.id() });
      // The server closes after its ack; a server that does not is not waited for.
      setTimeout(() => {
        ws.close();
        done();
      }, 2_000);
    });
  }

  /** Listens to `event`; the returned function stops listening. */
  on<K extends keyof ClientEvents>(event: K, listener: Listener<K>): () => void {
    return this.events.on(event, listener);
  }

  /**
   * Subscribes to `topic`; `handler` gets each publication. Kept across
   * reconnects: resubscribed from the last publication seen (with history,
   * nothing is missed, or the `resubscribed` event says `recovered: false`).
   */
  subscribe(topic: string, handler: (message: Message) => unknown, since?: Position): Subscription {
    return this.topics.subscribe(topic, handler, since);
  }

  /** Publishes to a topic; resolves once the topic has fanned it out. */
  async publish(topic: string, payload: unknown, msgId?: string): Promise<PublishResult> {
    const answer = await this.call({ type: "hub:publish", topic, payload, ...(msgId ? { msg_id: msgId } : {}) });
    return typeof answer.offset === "number"
      ? { recipients: answer.recipients as number, offset: answer.offset }
      : { recipients: answer.recipients as number };
  }

  /**
   * Calls `method` (1 to 128 letters, digits or `_ . : / -`) on the
   * application's backend (the hub's RPC proxy) with `data`; resolves with
   * its answer (`null` when it gave none). Rejects with a `HubError`:
   * `refused` (the backend said no; its own code in `reason`),
   * `unavailable` (temporary), `no_backend`, `too_many_rpcs`.
   */
  async rpc(method: string, data?: unknown): Promise<unknown> {
    const answer = await this.call({ type: "hub:rpc", method, ...(data === undefined ? {} : { data }) });
    return answer.data ?? null;
  }

  /** Sends a direct message; resolves `accepted` (in the recipient's queue) or `queued` (stored). */
  async send(to: string, payload: unknown, options: SendOptions = {}): Promise<SendStatus | undefined> {
    const frame: Frame = { type: "hub:send", to, payload };
    if (options.msgId) frame.msg_id = options.msgId;
    if (options.ack === false) {
      frame.ack = false;
      this.fireAndForget(frame);
      return undefined;
    }
    const answer = await this.call(frame);
    return answer.status as SendStatus;
  }

  /** Sends to a list of addresses or to everyone (`"*"`). */
  async broadcast(to: string[] | "*", payload: unknown): Promise<{ recipients: number; notFound: string[] }> {
    const answer = await this.call({ type: "hub:broadcast", to, payload });
    return { recipients: answer.recipients as number, notFound: (answer.not_found as string[]) ?? [] };
  }

  /**
   * Sends a request and waits for its reply: a direct message whose
   * `in_reply_to` is this request's `correlation_id`.
   */
  async request(to: string, payload: unknown, timeoutMs = this.options.requestTimeoutMs): Promise<Message> {
    const correlationId = randomId();
    const reply = new Promise<Message>((resolve, reject) => {
      this.replies.set(correlationId, { resolve, reject });
    });
    const timer = setTimeout(() => {
      this.replies.get(correlationId)?.reject(new HubError("timeout", `no reply from ${to} within ${timeoutMs} ms`, undefined, true));
      this.replies.delete(correlationId);
    }, timeoutMs);
    try {
      await this.call({ type: "hub:send", to, payload, correlation_id: correlationId });
      return await reply;
    } finally {
      clearTimeout(timer);
      this.replies.delete(correlationId);
    }
  }

  /** Answers a request (a message with a `correlation_id`). */
  async reply(request: Message, payload: unknown): Promise<SendStatus> {
    if (!request.correlation_id) throw new HubError("invalid_field", "this message is not a request (no correlation_id)");
    const answer = await this.call({ type: "hub:send", to: request.from, payload, in_reply_to: request.correlation_id });
    return answer.status as SendStatus;
  }

  // ---- the connection ----

  private async open(): Promise<void> {
    this.stateNow = this.everConnected ? "reconnecting" : "connecting";
    let token = this.options.token;
    if (this.options.getToken) {
      try {
        token = await this.options.getToken();
      } catch (e) {
        return this.lost({ code: 1006, reason: `getToken failed: ${String(e)}`, reconnect: true });
      }
    }
    if (this.closing) return;
    const ws = new this.options.WebSocket(this.options.url);
    this.ws = ws;
    this.farewell = undefined;
    this.timers.connect = setTimeout(() => this.abandon(ws, "connect timed out"), this.options.connectTimeoutMs);
    ws.onopen = () => {
      const connect: Frame = { type: "hub:connect", id: "connect", address: this.options.address, features: ["ack", "batch"] };
      if (this.options.device !== undefined) connect.device = this.options.device;
      if (token) connect.token = token;
      ws.send(JSON.stringify(connect));
    };
    ws.onmessage = (event: MessageEvent) => {
      if (ws !== this.ws) return;
      this.lastHeard = Date.now();
      if (typeof event.data !== "string") return;
      for (const line of event.data.split("\n")) {
        if (!line) continue;
        let frame: Frame;
        try {
          frame = JSON.parse(line) as Frame;
        } catch {
          continue;
        }
        this.dispatch(frame);
      }
    };
    ws.onclose = (event: CloseEvent) => {
      if (ws !== this.ws) return;
      const reason = event.reason || (event.code === 1006 ? "connection lost" : "closed");
      const reconnect = this.farewell?.reconnect ?? reconnects(event.code);
      this.lost({ code: event.code, reason, reconnect });
    };
    ws.onerror = () => {};
  }

  /** Gives up on a socket that does not answer: treated as lost. */
  private abandon(ws: WebSocketLike, why: string): void {
    if (ws !== this.ws) return;
    ws.onclose = null;
    ws.onmessage = null;
    ws.close();
    this.lost({ code: 1006, reason: why, reconnect: true });
  }

  private dispatch(frame: Frame): void {
    if (this.topics.dispatch(frame)) return;
    const id = typeof frame.id === "string" ? frame.id : undefined;
    switch (frame.type) {
      case "hub:connected":
        return this.connected(frame);
      case "hub:message":
        return this.message(frame);
      case "hub:receipt":
        if (typeof frame.seq === "number") this.acks.acknowledge(frame.seq, undefined);
        return;
      case "hub:refresh":
        void this.refreshToken();
        return;
      case "hub:refresh_ack":
        this.emit("refreshed", {});
        return;
      case "hub:disconnect":
        this.farewell = {
          reconnect: frame.reconnect === true,
          ...(typeof frame.retry_after_ms === "number" ? { retryAfterMs: frame.retry_after_ms } : {}),
        };
        return;
      case "hub:rate_limited": {
        const again = id ? this.calls.frame(id) : undefined;
        if (again) setTimeout(() => this.stateNow === "connected" && this.sendFrame(again), Number(frame.retry_after_ms) || 100);
        return;
      }
      case "hub:error":
        if (id === "connect") return this.connectRefused(frame);
        break;
      case "hub:delivery_ack":
        if (frame.status === "rejected" && id) {
          this.calls.settle(id, frame, new HubError(String(frame.reason), `${String(frame.to)}: ${String(frame.reason)}`, undefined, true));
          return;
        }
        break;
    }
    if (id) this.calls.settle(id, frame, frame.type === "hub:error" ? toError(frame) : undefined);
  }

  private connected(frame: Frame): void {
    clearTimeout(this.timers.connect);
    const resumed = this.everConnected;
    this.everConnected = true;
    this.attempt = 0;
    this.stateNow = "connected";
    this.sessionIdNow = String(frame.session_id);
    this.lastHeard = Date.now();
    this.deadAfterMs = Number(frame.heartbeat_timeout_ms) || 30_000;
    const every = this.options.heartbeatIntervalMs ?? (Number(frame.heartbeat_interval_ms) || 20_000);
    clearInterval(this.timers.heartbeat);
    this.timers.heartbeat = setInterval(() => this.heartbeat(), every);
    this.topics.connected(resumed);
    // Calls with a msg_id that were in flight go first, then what waited.
    this.calls.connected();
    this.emit("connected", { sessionId: this.sessionIdNow, resumed });
    this.firstConnect?.resolve();
    this.firstConnect = undefined;
  }

  private connectRefused(frame: Frame): void {
    const error = toError(frame);
    const terminal = TERMINAL_CONNECT_ERRORS.has(error.code);
    this.emit("error", error);
    if (terminal) {
      this.closing = true;
      const ws = this.ws;
      this.finish({ code: CloseCodes.normal, reason: error.code, reconnect: false }, error);
      ws?.close();
    } else if (this.ws) {
      this.abandon(this.ws, error.code);
    }
  }

  private heartbeat(): void {
    const ws = this.ws;
    if (!ws || this.stateNow !== "connected") return;
    if (Date.now() - this.lastHeard > this.deadAfterMs) return this.abandon(ws, "no answer within the heartbeat timeout");
    this.sendFrame({ type: "hub:ping" });
  }

  private async refreshToken(): Promise<void> {
    if (!this.options.getToken) return;
    try {
      const token = await this.options.getToken();
      this.sendFrame({ type: "hub:refresh", id: this.id(), token });
    } catch (e) {
      this.emit("error", new HubError("unauthorized", `getToken failed: ${String(e)}`, undefined, true));
    }
  }

  /** The connection is gone: settle what was in flight, then reconnect or stop. */
  private lost(why: { code: number; reason: string; reconnect: boolean }): void {
    clearTimeout(this.timers.connect);
    clearInterval(this.timers.heartbeat);
    this.ws = undefined;
    this.sessionIdNow = undefined;
    this.calls.lost();
    if (this.closing || !why.reconnect) return this.finish(why);
    this.stateNow = "reconnecting";
    this.emit("disconnected", why);
    const random = Math.random();
    const delay = this.farewell?.retryAfterMs !== undefined
      ? jittered(this.farewell.retryAfterMs, random)
      : backoffDelay(this.attempt++, this.options.reconnectInitialMs, this.options.reconnectMaxMs, random);
    this.timers.retry = setTimeout(() => void this.open(), delay);
  }

  /** Stops for good: every waiting call is refused. */
  private finish(why: { code: number; reason: string; reconnect: boolean }, error?: HubError): void {
    clearTimeout(this.timers.connect);
    clearInterval(this.timers.heartbeat);
    clearTimeout(this.timers.retry);
    const wasClosed = this.stateNow === "closed";
    this.stateNow = "closed";
    this.ws = undefined;
    const closed = new HubError("closed", `the client is closed (${why.code} ${why.reason})`);
    this.calls.close(closed);
    for (const reply of this.replies.values()) reply.reject(closed);
    this.replies.clear();
    this.firstConnect?.reject(error ?? closed);
    this.firstConnect = undefined;
    if (!wasClosed) this.emit("disconnected", { ...why, reconnect: false });
  }

  // ---- frames ----

  private message(frame: Frame): void {
    const message = frame as unknown as Message;
    if (typeof message.topic === "string") {
      const subscription = this.topics.subscription(message.topic);
      if (subscription) this.handled(() => subscription.deliver(message), undefined);
      else if (this.topics.byServer(message.topic)) this.emit("publication", message);
      return;
    }
    const seq = message.seq;
    // Handed over before a reconnect, its ack lost on the way: acknowledged again only.
    if (seq !== undefined && this.acks.repeated(seq)) return;
    const waiter = message.in_reply_to ? this.replies.get(message.in_reply_to) : undefined;
    if (waiter) {
      waiter.resolve(message);
      if (seq !== undefined) this.acks.acknowledge(seq, undefined);
      return;
    }
    this.handled(() => this.emit("message", message), seq);
  }

  /** Runs a handler; a stored message is acknowledged once it has run (or its promise settled). */
  private handled(run: () => unknown, seq: number | undefined): void {
    let result: unknown;
    try {
      result = run();
    } catch (e) {
      this.emit("error", new HubError("internal", `a message handler threw: ${String(e)}`));
    }
    if (seq !== undefined) this.acks.acknowledge(seq, result instanceof Promise ? result : undefined);
  }

  /** A call answered by the hub: sent now, or queued while disconnected. */
  private call(frame: Frame): Promise<Frame> {
    if (this.stateNow === "closed") return Promise.reject(new HubError("closed", "the client is closed"));
    return this.calls.call(frame, this.stateNow === "connected");
  }

  /** A send without ack: nothing answers it (but a refusal), so nobody waits. */
  private fireAndForget(frame: Frame): void {
    this.call(frame).catch(() => {});
  }

  private sendFrame(frame: Frame): void {
    this.ws?.send(JSON.stringify(frame));
  }

  private id(): string {
    return this.calls.id();
  }

  private emit<K extends keyof ClientEvents>(event: K, value: ClientEvents[K]): void {
    this.events.emit(event, value);
  }
}

function randomId(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
