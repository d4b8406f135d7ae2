import type { HubError } from "./errors.js";

/** What the application sets when it creates a client. */
export interface ClientOptions {
  /** The hub's WebSocket URL, e.g. `wss://hub.example.com/ws`. */
  url: string;
  /** The address to register under (with `device`: the user's). */
  address: string;
  /**
   * Which of the user's connections this client is (a tab, a device): the
   * session registers `address/device` beside the user's other tabs and
   * devices instead of replacing them, and a send to `address` reaches
   * them all. Kept across reconnects, so a reconnect replaces this tab's own
   * stale session. At most 64 bytes, no `/`. Default: none (the address
   * itself, one connection).
   */
  device?: string;
  /** A fixed token sent with every `hub:connect`. */
  token?: string;
  /**
   * Asked for a fresh token before every (re)connect and whenever the
   * server asks (`hub:refresh`, sent ahead of the token's expiry); overrides
   * `token`.
   */
  getToken?: () => Promise<string>;
  /**
   * Asked for a topic's subscription token (a JWT the application mints for
   * that one topic: a private room) at every subscribe and resubscribe, and
   * whenever the server asks for a fresh one (`hub:sub_refresh`). Resolve
   * `undefined` for a topic the connection's grants open.
   */
  getSubscriptionToken?: (topic: string) => Promise<string | undefined>;
  /** Reconnect backoff: first ceiling and cap, full jitter. Defaults 100 and 10000 ms. */
  reconnectInitialMs?: number;
  reconnectMaxMs?: number;
  /**
   * Calls (publish, send, request, broadcast) that may wait while the client
   * is disconnected; one more is refused at once with `offline_queue_full`.
   * Default 1024.
   */
  offlineQueue?: number;
  /** Ping at this interval instead of the server's announced one. */
  heartbeatIntervalMs?: number;
  /** How long one connect attempt may take. Default 10000 ms. */
  connectTimeoutMs?: number;
  /** How long `request` waits for a reply by default. Default 10000 ms. */
  requestTimeoutMs?: number;
  /** The WebSocket constructor (the global one in a browser; `ws` in Node). */
  WebSocket?: WebSocketConstructor;
}

/**
 * What the client uses of a WebSocket. The browser's `WebSocket` and the
 * `ws` package's both fit; declared here so that these types compile
 * without the DOM lib (a Node project) and without `@types/ws`.
 */
export interface WebSocketLike {
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "close", listener: () => void): void;
  /* eslint-disable @typescript-eslint/no-explicit-any -- each implementation has its own event types */
  onopen: ((event: any) => void) | null;
  onmessage: ((event: any) => void) | null;
  onclose: ((event: any) => void) | null;
  onerror: ((event: any) => void) | null;
  /* eslint-enable @typescript-eslint/no-explicit-any */
}

/** A WebSocket constructor: `new WS(url)`. */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** A message the hub delivered: a publication or a direct message. */
export interface Message {
  /** The topic, for a publication. */
  topic?: string;
  /** The sender's address. */
  from: string;
  payload: unknown;
  /** A stored direct message's number in this address's inbox. */
  seq?: number;
  /** A publication's number in its topic (namespaces with history). */
  offset?: number;
  /** Set on a request: answer it with `client.reply(message, payload)`. */
  correlation_id?: string;
  /** Set on a reply: the `correlation_id` of the request it answers. */
  in_reply_to?: string;
}

/** Where a topic's stream stands (namespaces with history). */
export interface Position {
  epoch: string;
  offset: number;
}

export interface PublishResult {
  /** Subscribers on the publisher's node whose queues took it. */
  recipients: number;
  /** Its offset, in a namespace with history. */
  offset?: number;
}

export interface SendOptions {
  /** Ask for an answer (`accepted` / `queued`); default true. */
  ack?: boolean;
  /** The same on a retry: the hub answers a repeat without a second effect. */
  msgId?: string;
}

export type SendStatus = "accepted" | "queued";

/** Why the client is not connected, as its events say it. */
export interface Disconnection {
  /** The WebSocket close code (1006: lost without a close frame). */
  code: number;
  reason: string;
  /** Whether the client will reconnect by itself. */
  reconnect: boolean;
}

export type ClientState = "connecting" | "connected" | "reconnecting" | "closed";

export interface ClientEvents {
  /** Registered (again): `resumed` is false on the first connect. */
  connected: { sessionId: string; resumed: boolean };
  /** The connection ended; `reconnect` says whether another attempt follows. */
  disconnected: Disconnection;
  /** A direct message (publications go to their subscription's handler). */
  message: Message;
  /** A subscription came back after a reconnect: `recovered` = nothing was missed. */
  resubscribed: { topic: string; recovered: boolean | undefined };
  /** A fresh token was accepted without reconnecting. */
  refreshed: Record<string, never>;
  /** The server subscribed this client to a topic (its token's `channels`, or the server API). */
  subscribed: { topic: string };
  /** A publication to a topic the server subscribed this client to. */
  publication: Message;
  /** The hub ended a subscription (`reason` `token_expired`: its token ran out unrenewed; `server`: the server API); it is gone. */
  unsubscribed: { topic: string; reason: string };
  /** Something the application may want to log. */
  error: HubError;
}
