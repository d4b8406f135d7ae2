"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.Calls = void 0;
const errors_js_1 = require("./errors.js");
/**
 * The calls the hub answers: numbered and sent while connected, queued
 * (at most `limit`) while not, settled by the answer with their id. When
 * the connection drops, those in flight with a `msg_id` go again first
 * after the reconnect; the others are refused (their outcome is unknown).
 */
class Calls {
    constructor(limit, sendFrame) {
        this.inFlight = new Map();
        this.offline = [];
        this.nextId = 0;
        this.limit = limit;
        this.sendFrame = sendFrame;
    }
    /** Calls waiting for a connection. */
    get queued() {
        return this.offline.length;
    }
    /** A fresh frame id. */
    id() {
        return String(++this.nextId);
    }
    /** Sends `frame` now when `connected`, else queues it; settles with its answer. */
    call(frame, connected) {
        return new Promise((resolve, reject) => {
            const call = { frame, resolve, reject, resendable: typeof frame.msg_id === "string" };
            if (connected)
                return this.transmit(call);
            if (this.offline.length >= this.limit) {
                return reject(new errors_js_1.HubError("offline_queue_full", `${this.limit} calls already wait for the connection`, "wait for the connection, or raise offlineQueue", true));
            }
            this.offline.push(call);
        });
    }
    /** The frame of the call in flight as `id` (to send again after `hub:rate_limited`). */
    frame(id) {
        return this.inFlight.get(id)?.frame;
    }
    /** Settles the call `id` with `answer`, or `error`; false if no call waits for it. */
    settle(id, answer, error) {
        const call = this.inFlight.get(id);
        if (!call)
            return false;
        this.inFlight.delete(id);
        if (error)
            call.reject(error);
        else
            call.resolve(answer);
        return true;
    }
    /** Connected: what waited goes out, in order (calls in flight when it dropped first). */
    connected() {
        for (const call of this.offline.splice(0))
            this.transmit(call);
    }
    /** The connection dropped: calls in flight with a `msg_id` wait to go again, the others are refused. */
    lost() {
        const resend = [];
        for (const call of this.inFlight.values()) {
            if (call.resendable)
                resend.push(call);
            else
                call.reject(new errors_js_1.HubError("connection_lost", "the connection dropped before the answer; the outcome is unknown", "send it again with a msgId", true));
        }
        this.inFlight.clear();
        this.offline.unshift(...resend);
    }
    /** Closed: every call is refused with `error`. */
    close(error) {
        for (const call of [...this.inFlight.values(), ...this.offline.splice(0)])
            call.reject(error);
        this.inFlight.clear();
    }
    transmit(call) {
        const id = this.id();
        call.frame.id = id;
        if (call.frame.ack !== false)
            this.inFlight.set(id, call);
        this.sendFrame(call.frame);
    }
}
exports.Calls = Calls;
//# sourceMappingURL=calls.js.map