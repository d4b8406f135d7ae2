/** A topic this client subscribes to, kept across reconnects. */
export class Subscription {
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
//# sourceMappingURL=subscription.js.map