import type { Emitter } from "./emitter.js";
import { type Frame } from "./frame.js";
import { Subscription } from "./subscription.js";
import type { Message, Position } from "./types.js";
/** What the topics need of their client. */
export interface TopicsLink {
    sendFrame(frame: Frame): void;
    /** Whether a session is connected now. */
    connected(): boolean;
    /** `hub:unsubscribe`, answered (or refused) once connected. */
    unsubscribe(topic: string): Promise<void>;
    getSubscriptionToken?: (topic: string) => Promise<string | undefined>;
    events: Emitter;
}
/**
 * The topics a client hears: its own subscriptions, kept across reconnects
 * and subscribed again from where each stood (with a subscription token
 * when the application gives them), and the topics the server subscribed
 * the session to (`hub:subscribed`), whose publications come as
 * `publication` events.
 */
export declare class Topics {
    private readonly mine;
    private readonly server;
    private readonly link;
    constructor(link: TopicsLink);
    /** Subscribes to `topic` (or returns the subscription it has). */
    subscribe(topic: string, handler: (message: Message) => unknown, since?: Position): Subscription;
    /** @internal */
    unsubscribeTopic(subscription: Subscription): Promise<void>;
    /** A new session: the server announces its subscriptions again; ours are asked again. */
    connected(resumed: boolean): void;
    /** The subscription a publication to `topic` goes to. */
    subscription(topic: string): Subscription | undefined;
    /** Whether the server subscribed this session to `topic`. */
    byServer(topic: string): boolean;
    /** The frames about topics; false for any other. */
    dispatch(frame: Frame): boolean;
    private send;
    /** The server asks for a fresh token for `topic` ahead of its expiry. */
    private refreshToken;
}
//# sourceMappingURL=topics.d.ts.map