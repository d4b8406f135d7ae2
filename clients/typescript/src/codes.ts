/** Close codes of protocol v1 (docs/PROTOCOL.md, "Close codes"). */
export const CloseCodes = {
  normal: 1000,
  protocolError: 1002,
  invalidPayload: 1007,
  serverShutdown: 4000,
  heartbeatTimeout: 4001,
  slowConsumer: 4002,
  registrationExpired: 4003,
  messageTooLarge: 4004,
  connectTimeout: 4005,
  tooManyErrors: 4006,
  tokenExpired: 4007,
  disconnected: 4008,
  duplicateConnection: 4500,
  policy: 4501,
  kicked: 4502,
  revoked: 4503,
} as const;

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
export function reconnects(code: number): boolean {
  return !(
    code === CloseCodes.normal ||
    code === CloseCodes.protocolError ||
    code === CloseCodes.invalidPayload ||
    code === CloseCodes.duplicateConnection ||
    code === CloseCodes.policy ||
    code === CloseCodes.kicked ||
    code === CloseCodes.revoked ||
    (code >= 4500 && code < 5000)
  );
}

/** Error codes a connect may be refused with that retrying cannot fix. */
export const TERMINAL_CONNECT_ERRORS = new Set([
  "unauthorized",
  "invalid_field",
  "address_reserved",
  "forbidden",
]);
