import { type Listener } from "./emitter.js";
import type { Subscription } from "./subscription.js";
import type { ClientEvents, ClientOptions, ClientState, Message, Position, PublishResult, SendOptions, SendStatus } from "./types.js";
/**
 * A Signal Hub client. It keeps one WebSocket: it reconnects with full
 * jitter when the connection drops (after `retry_after_ms` on
 * `server_shutdown`; never after 1000 or 4500-4999), registers again,
 * resubscribes from where each subscription stood, sends again the calls
 * that carry a `msgId`, and queues new calls while down (bounded).
 */
export declare class HubClient {
    private readonly options;
    private ws;
    private stateNow;
    private attempt;
    private everConnected;
    private closing;
    private sessionIdNow;
    private readonly calls;
    private readonly acks;
    private readonly events;
    private readonly topics;
    private readonly replies;
    private timers;
    private lastHeard;
    private deadAfterMs;
    /** What the server's `hub:disconnect` said before it closed. */
    private farewell;
    private firstConnect;
    constructor(options: ClientOptions);
    /** `connecting`, `connected`, `reconnecting` or `closed`. */
    get state(): ClientState;
    /**
     * The address this connection registers: `address/device` with a
     * `device`, else `address`. Messages this client publishes or sends carry
     * it as `from`.
     */
    get connectionAddress(): string;
    /** The session's id (as the server logs it), once connected. */
    get sessionId(): string | undefined;
    /** Calls waiting for a connection. */
    get queued(): number;
    /**
     * Connects; resolves once registered. Rejects when the first connect is
     * refused for good (`unauthorized`, ...); a refusal that may pass
     * (`shutting_down`, `registry_full`, a node down) is retried with backoff.
     */
    connect(): Promise<void>;
    /** Leaves: `hub:disconnect`, the address goes offline at once; no reconnect. */
    close(): Promise<void>;
    /** Listens to `event`; the returned function stops listening. */
    on<K extends keyof ClientEvents>(event: K, listener: Listener<K>): () => void;
    /**
     * Subscribes to `topic`; `handler` gets each publication. Kept across
     * reconnects: resubscribed from the last publication seen (with history,
     * nothing is missed, or the `resubscribed` event says `recovered: false`).
     */
    subscribe(topic: string, handler: (message: Message) => unknown, since?: Position): Subscription;
    /** Publishes to a topic; resolves once the topic has fanned it out. */
    publish(topic: string, payload: unknown, msgId?: string): Promise<PublishResult>;
    /**
     * Calls `method` (1 to 128 letters, digits or `_ . : / -`) on the
     * application's backend (the hub's RPC proxy) with `data`; resolves with
     * its answer (`null` when it gave none). Rejects with a `HubError`:
     * `refused` (the backend said no; its own code in `reason`),
     * `unavailable` (temporary), `no_backend`, `too_many_rpcs`.
     */
    rpc(method: string, data?: unknown): Promise<unknown>;
    /** Sends a direct message; resolves `accepted` (in the recipient's queue) or `queued` (stored). */
    send(to: string, payload: unknown, options?: SendOptions): Promise<SendStatus | undefined>;
    /** Sends to a list of addresses or to everyone (`"*"`). */
    broadcast(to: string[] | "*", payload: unknown): Promise<{
        recipients: number;
        notFound: string[];
    }>;
    /**
     * Sends a request and waits for its reply: a direct message whose
     * `in_reply_to` is this request's `correlation_id`.
     */
    request(to: string, payload: unknown, timeoutMs?: number): Promise<Message>;
    /** Answers a request (a message with a `correlation_id`). */
    reply(request: Message, payload: unknown): Promise<SendStatus>;
    private open;
    /** Gives up on a socket that does not answer: treated as lost. */
    private abandon;
    private dispatch;
    private connected;
    private connectRefused;
    private heartbeat;
    private refreshToken;
    /** The connection is gone: settle what was in flight, then reconnect or stop. */
    private lost;
    /** Stops for good: every waiting call is refused. */
    private finish;
    private message;
    /** Runs a handler; a stored message is acknowledged once it has run (or its promise settled). */
    private handled;
    /** A call answered by the hub: sent now, or queued while disconnected. */
    private call;
    /** A send without ack: nothing answers it (but a refusal), so nobody waits. */
    private fireAndForget;
    private sendFrame;
    private id;
    private emit;
}
//# sourceMappingURL=client.d.ts.map