/** Close codes of protocol v1 (docs/PROTOCOL.md, "Close codes"). */
export declare const CloseCodes: {
    readonly normal: 1000;
    readonly protocolError: 1002;
    readonly invalidPayload: 1007;
    readonly serverShutdown: 4000;
    readonly heartbeatTimeout: 4001;
    readonly slowConsumer: 4002;
    readonly registrationExpired: 4003;
    readonly messageTooLarge: 4004;
    readonly connectTimeout: 4005;
    readonly tooManyErrors: 4006;
    readonly tokenExpired: 4007;
    readonly disconnected: 4008;
    readonly duplicateConnection: 4500;
    readonly policy: 4501;
    readonly kicked: 4502;
    readonly revoked: 4503;
};
/**
 * Whether a close with this code is followed by a reconnect. The terminal
 * ones: the client asked (1000), another connection took the address
 * (4500: two clients must not evict each other in a loop), the client broke
 * WebSocket framing (1002) or sent text that is not UTF-8 (1007), the
 * reserved 4501, the server asked it to stay away (4502), its token or
 * user was revoked (4503) — and any other code of 4500-4999, as the
 * protocol's rule says, so a newer server's terminal code is terminal here
 * too. Anything else, including a connection lost without a close frame
 * (1006), is retried with backoff.
 */
export declare function reconnects(code: number): boolean;
/** Error codes a connect may be refused with that retrying cannot fix. */
export declare const TERMINAL_CONNECT_ERRORS: Set<string>;
//# sourceMappingURL=codes.d.ts.map