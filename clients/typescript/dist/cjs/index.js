"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.jittered = exports.backoffDelay = exports.reconnects = exports.CloseCodes = exports.HubError = exports.Subscription = exports.HubClient = void 0;
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
var client_js_1 = require("./client.js");
Object.defineProperty(exports, "HubClient", { enumerable: true, get: function () { return client_js_1.HubClient; } });
var subscription_js_1 = require("./subscription.js");
Object.defineProperty(exports, "Subscription", { enumerable: true, get: function () { return subscription_js_1.Subscription; } });
var errors_js_1 = require("./errors.js");
Object.defineProperty(exports, "HubError", { enumerable: true, get: function () { return errors_js_1.HubError; } });
var codes_js_1 = require("./codes.js");
Object.defineProperty(exports, "CloseCodes", { enumerable: true, get: function () { return codes_js_1.CloseCodes; } });
Object.defineProperty(exports, "reconnects", { enumerable: true, get: function () { return codes_js_1.reconnects; } });
var backoff_js_1 = require("./backoff.js");
Object.defineProperty(exports, "backoffDelay", { enumerable: true, get: function () { return backoff_js_1.backoffDelay; } });
Object.defineProperty(exports, "jittered", { enumerable: true, get: function () { return backoff_js_1.jittered; } });
//# sourceMappingURL=index.js.map