import type { HubError } from "./errors.js";
import type { Frame } from "./frame.js";
import type { Message, Position } from "./types.js";
/** A topic this client subscribes to, kept across reconnects. */
export declare class Subscription {
    readonly topic: string;
    /** Where this subscription stands: the last publication seen (history namespaces). */
    position: Position | undefined;
    /** Settles with the first `hub:subscribe_ack` (or its refusal). */
    readonly ready: Promise<void>;
    private readonly handler;
    private readonly client;
    private settle;
    private settled;
    /** @internal */
    constructor(client: {
        unsubscribeTopic(subscription: Subscription): Promise<void>;
    }, topic: string, handler: (message: Message) => unknown, since?: Position);
    /** Stops receiving; the hub is told when connected. */
    unsubscribe(): Promise<void>;
    /** @internal */
    deliver(message: Message): unknown;
    /** @internal */
    acknowledged(ack: Frame): boolean | undefined;
    /** @internal */
    refused(error: HubError): void;
}
//# sourceMappingURL=subscription.d.ts.map