/**
 * @signal-hub/client: the browser (and Node) client of Signal Hub.
 *
 * ```ts
 * import { HubClient } from "@signal-hub/client";
 * const hub = new HubClient({ url: "wss://hub.example.com/ws", address: "alice", getToken });
 * await hub.connect();
 * hub.subscribe("chat:lobby", (m) => console.log(m.from, m.payload));
 * await hub.publish("chat:lobby", { text: "hi" });
 * ```
 */
export { HubClient } from "./client.js";
export { Subscription } from "./subscription.js";
export { HubError } from "./errors.js";
export { CloseCodes, reconnects } from "./codes.js";
export { backoffDelay, jittered } from "./backoff.js";
//# sourceMappingURL=index.js.map