"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.Topics = void 0;
const errors_js_1 = require("./errors.js");
const frame_js_1 = require("./frame.js");
const subscription_js_1 = require("./subscription.js");
/**
 * The topics a client hears: its own subscriptions, kept across reconnects
 * and subscribed again from where each stood (with a subscription token
 * when the application gives them), and the topics the server subscribed
 * the session to (`hub:subscribed`), whose publications come as
 * `publication` events.
 */
class Topics {
    constructor(link) {
        this.mine = new Map();
        this.server = new Set();
        this.link = link;
    }
    /** Subscribes to `topic` (or returns the subscription it has). */
    subscribe(topic, handler, since) {
        const existing = this.mine.get(topic);
        if (existing)
            return existing;
        const subscription = new subscription_js_1.Subscription(this, topic, handler, since);
        this.mine.set(topic, subscription);
        if (this.link.connected())
            this.send(subscription, false);
        return subscription;
    }
    /** @internal */
    async unsubscribeTopic(subscription) {
        if (this.mine.get(subscription.topic) !== subscription)
            return;
        this.mine.delete(subscription.topic);
        if (this.link.connected())
            await this.link.unsubscribe(subscription.topic);
    }
    /** A new session: the server announces its subscriptions again; ours are asked again. */
    connected(resumed) {
        this.server.clear();
        for (const subscription of this.mine.values())
            this.send(subscription, resumed);
    }
    /** The subscription a publication to `topic` goes to. */
    subscription(topic) {
        return this.mine.get(topic);
    }
    /** Whether the server subscribed this session to `topic`. */
    byServer(topic) {
        return this.server.has(topic);
    }
    /** The frames about topics; false for any other. */
    dispatch(frame) {
        const topic = String(frame.topic);
        const id = typeof frame.id === "string" ? frame.id : "";
        switch (frame.type) {
            case "hub:subscribe_ack": {
                const recovered = this.mine.get(topic)?.acknowledged(frame);
                if (this.mine.has(topic) && id.startsWith("resub:"))
                    this.link.events.emit("resubscribed", { topic, recovered });
                return true;
            }
            case "hub:subscribed":
                this.server.add(topic);
                this.link.events.emit("subscribed", { topic });
                return true;
            case "hub:unsubscribed":
                this.mine.delete(topic);
                this.server.delete(topic);
                this.link.events.emit("unsubscribed", { topic, reason: String(frame.reason) });
                return true;
            case "hub:sub_refresh":
                void this.refreshToken(topic);
                return true;
            case "hub:sub_refresh_ack":
                return true;
            case "hub:error":
                if (id.startsWith("subref:")) {
                    this.link.events.emit("error", (0, frame_js_1.toError)(frame));
                    return true;
                }
                if (id.startsWith("sub:") || id.startsWith("resub:")) {
                    const refused = id.slice(id.indexOf(":") + 1);
                    this.mine.get(refused)?.refused((0, frame_js_1.toError)(frame));
                    this.mine.delete(refused);
                    return true;
                }
                return false;
            default:
                return false;
        }
    }
    send(subscription, again) {
        const frame = { type: "hub:subscribe", id: `${again ? "resub" : "sub"}:${subscription.topic}`, topic: subscription.topic };
        if (subscription.position)
            frame.since = { ...subscription.position };
        const getToken = this.link.getSubscriptionToken;
        if (!getToken)
            return this.link.sendFrame(frame);
        getToken(subscription.topic).then((token) => {
            if (this.mine.get(subscription.topic) !== subscription || !this.link.connected())
                return;
            if (token !== undefined)
                frame.token = token;
            this.link.sendFrame(frame);
        }, (e) => {
            this.mine.delete(subscription.topic);
            subscription.refused(new errors_js_1.HubError("unauthorized", `getSubscriptionToken failed: ${String(e)}`));
        });
    }
    /** The server asks for a fresh token for `topic` ahead of its expiry. */
    async refreshToken(topic) {
        const getToken = this.link.getSubscriptionToken;
        if (!getToken || !this.mine.has(topic))
            return;
        try {
            const token = await getToken(topic);
            if (token !== undefined)
                this.link.sendFrame({ type: "hub:sub_refresh", id: `subref:${topic}`, topic, token });
        }
        catch (e) {
            this.link.events.emit("error", new errors_js_1.HubError("unauthorized", `getSubscriptionToken failed: ${String(e)}`, undefined, true));
        }
    }
}
exports.Topics = Topics;
//# sourceMappingURL=topics.js.map