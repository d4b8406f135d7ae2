import type { HubError } from "./errors.js";
import type { Frame } from "./frame.js";
import type { Message, Position } from "./types.js";

/** A topic this client subscribes to, kept across reconnects. */
export class Subscription {
  readonly topic: string;
  /** Where this subscription stands: the last publication seen (history namespaces). */
  position: Position | undefined;
  /** Settles with the first `hub:subscribe_ack` (or its refusal). */
  readonly ready: Promise<void>;
  private readonly handler: (message: Message) => unknown;
  private readonly client: { unsubscribeTopic(subscription: Subscription): Promise<void> };
  private settle!: { resolve: () => void; reject: (e: HubError) => void };
  private settled = false;

  /** @internal */
  constructor(client: { unsubscribeTopic(subscription: Subscription): Promise<void> }, topic: string, handler: (message: Message) => unknown, since?: Position) {
    this.client = client;
    this.topic = topic;
    this.handler = handler;
    this.position = since;
    this.ready = new Promise((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    // A refusal is also thrown from `ready`; do not report it unhandled twice.
    this.ready.catch(() => {});
  }

  /** Stops receiving; the hub is told when connected. */
  unsubscribe(): Promise<void> {
    return this.client.unsubscribeTopic(this);
  }

  /** @internal */
  deliver(message: Message): unknown {
    if (message.offset !== undefined && this.position) this.position.offset = message.offset;
    return this.handler(message);
  }

  /** @internal */
  acknowledged(ack: Frame): boolean | undefined {
    if (typeof ack.epoch === "string" && typeof ack.offset === "number") {
      const behind = this.position && this.position.epoch === ack.epoch && this.position.offset > ack.offset;
      if (!behind) this.position = { epoch: ack.epoch, offset: ack.offset };
    }
    if (!this.settled) {
      this.settled = true;
      this.settle.resolve();
    }
    return typeof ack.recovered === "boolean" ? ack.recovered : undefined;
  }

  /** @internal */
  refused(error: HubError): void {
    if (!this.settled) {
      this.settled = true;
      this.settle.reject(error);
    }
  }
}
