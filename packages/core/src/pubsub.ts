/**
 * Pub/sub for a server's connections: topics, subscriptions, and publishing a message to every
 * subscriber of a topic with the frame encoded once.
 *
 * A server frame is not masked, so the same bytes are right for every connection that encodes
 * messages the same way: one frame for all subscribers without extensions, one per set of
 * permessage-deflate parameters with no context takeover (compressed once for all of them), and
 * a per-connection encoding only for connections whose compressor keeps its window between
 * messages. The bytes are handed to each subscriber's transport as they are: no copy per
 * subscriber.
 *
 * A subscriber that does not keep up is never queued for without bound: past
 * {@link PubSubOptions.backlog} bytes waiting, it is closed with 1013 (Try Again Later) or, with
 * `slowSubscriber: "skip"`, misses the messages published while it is over.
 *
 * @module
 */
import { CloseCode } from "./close.ts";
import type { Endpoint } from "./endpoint.ts";
import { UsageError, WebSocketError } from "./errors.ts";
import { encodeFrame } from "./frame.ts";
import { Opcode } from "./opcode.ts";

/** What a server does with subscribers that do not keep up; see {@link Hub}. */
export interface PubSubOptions {
  /**
   * The most bytes a subscriber may have waiting (its `bufferedAmount` and messages still being
   * compressed) for a published message to be queued for it. Default 4 MiB.
   */
  readonly backlog?: number;
  /**
   * What happens to a subscriber over {@link backlog} when a message is published:
   * `"close"` (the default) fails its connection with 1013 (Try Again Later); `"skip"` leaves it
   * open and it misses that message.
   */
  readonly slowSubscriber?: "close" | "skip";
  /**
   * Carries publishes beyond this server, e.g. to the other processes of a cluster through
   * Redis (`@wsstream/redis`). The hub attaches to it when the server starts; without one,
   * `publish()` reaches this server's subscribers only.
   */
  readonly bridge?: PubSubBridge;
}

/**
 * What a hub offers the {@link PubSubBridge} it is attached to: delivery to this server's
 * subscribers only, for messages that came from elsewhere.
 */
export interface LocalHub {
  /**
   * Sends `payload` (UTF-8 text, or binary) to this server's subscribers of `topic`, framed
   * once, without handing it back to the bridge; returns how many it was queued for. Text must
   * be valid UTF-8: the bridge checks what it did not publish itself.
   */
  deliver(topic: string, payload: Uint8Array, binary: boolean): number;
  /** The topics with at least one subscriber on this server. */
  readonly topics: readonly string[];
}

/**
 * An extension point for pub/sub beyond one server. The hub calls {@link attach} once, when
 * it is made, and then tells the returned link what happens locally; the bridge calls
 * {@link LocalHub.deliver} with the messages published elsewhere. Nothing here may throw: a
 * bridge reports its own failures.
 */
export interface PubSubBridge {
  /** Attaches a server's hub; the link lives until the server closes. */
  attach(hub: LocalHub): PubSubBridgeLink;
}

/** What a hub tells its {@link PubSubBridge}. */
export interface PubSubBridgeLink {
  /** `topic` gained its first subscriber on this server. */
  subscribed(topic: string): void;
  /** `topic` lost its last subscriber on this server. */
  unsubscribed(topic: string): void;
  /**
   * A message was published on this server (and already delivered locally). `payload` may be the
   * publisher's own bytes: copy them if they are kept past the call.
   */
  published(topic: string, payload: Uint8Array, binary: boolean): void;
  /** The server closed: no more calls follow. */
  detach(): void;
}

/** The options of one `publish()`. */
export interface PublishOptions {
  /** A connection's `publish()`: deliver to the publisher too if it is subscribed. Default `false`. */
  readonly includeSelf?: boolean;
}

/** What `publish()` takes: text as a string, binary as bytes. */
export type PublishData = string | ArrayBuffer | ArrayBufferView;

const DEFAULT_BACKLOG = 4 * 1024 * 1024;
const encoder = new TextEncoder();
const noop = (): void => {};

/** One server's topics and their subscribers. */
export class Hub {
  readonly #topics = new Map<string, Set<Endpoint>>();
  // Each subscribed connection's topics, to leave them all when it ends.
  readonly #subscriptions = new Map<Endpoint, Set<string>>();
  readonly #backlog: number;
  readonly #skip: boolean;
  #published = 0;
  #delivered = 0;
  #dropped = 0;
  // Set only with a bridge: the hot path without one pays a single comparison.
  #link: PubSubBridgeLink | undefined;

  constructor(options: PubSubOptions = {}) {
    const backlog = options.backlog ?? DEFAULT_BACKLOG;
    if (!(backlog >= 0)) throw new RangeError(`backlog must be a number of bytes, 0 or more: ${backlog}`);
    const policy = options.slowSubscriber ?? "close";
    if (policy !== "close" && policy !== "skip") throw new RangeError(`slowSubscriber must be "close" or "skip": ${String(policy)}`);
    this.#backlog = backlog;
    this.#skip = policy === "skip";
    const bridge = options.bridge;
    if (bridge !== undefined) {
      if (typeof bridge?.attach !== "function") throw new TypeError("pubsub.bridge must have an attach() method");
      const hub = this;
      const local: LocalHub = {
        deliver: (topic, payload, binary) => {
          checkTopic(topic);
          if (!(payload instanceof Uint8Array)) throw new TypeError("Cannot deliver: the payload must be a Uint8Array");
          return this.#deliver(topic, binary === true, payload, undefined);
        },
        get topics() {
          return hub.topics;
        },
      };
      this.#link = bridge.attach(local);
    }
  }

  /** Detaches the bridge, if any; the server closed. Publishing after this is local only. */
  close(): void {
    const link = this.#link;
    this.#link = undefined;
    link?.detach();
  }

  /** Messages published, deliveries queued, and deliveries not made to slow subscribers. */
  get counts(): { readonly published: number; readonly delivered: number; readonly dropped: number } {
    return { published: this.#published, delivered: this.#delivered, dropped: this.#dropped };
  }

  /**
   * Subscribes `endpoint` to `topic`; returns `false` if it already was. Throws `UsageError` when
   * the connection has ended. Its subscriptions end with it.
   */
  subscribe(endpoint: Endpoint, topic: string): boolean {
    checkTopic(topic);
    if (endpoint.readyState > 1) throw new UsageError("WS_ERR_INVALID_STATE", `Cannot subscribe to ${JSON.stringify(topic)}: the connection is closing or closed`);
    let topics = this.#subscriptions.get(endpoint);
    if (topics === undefined) {
      topics = new Set();
      this.#subscriptions.set(endpoint, topics);
      endpoint.onEnd(() => this.#leaveAll(endpoint));
    }
    if (topics.has(topic)) return false;
    topics.add(topic);
    let subscribers = this.#topics.get(topic);
    if (subscribers === undefined) {
      this.#topics.set(topic, (subscribers = new Set()));
      this.#link?.subscribed(topic);
    }
    subscribers.add(endpoint);
    return true;
  }

  /** Unsubscribes `endpoint` from `topic`; returns `false` if it was not subscribed. */
  unsubscribe(endpoint: Endpoint, topic: string): boolean {
    checkTopic(topic);
    const topics = this.#subscriptions.get(endpoint);
    if (topics === undefined || !topics.delete(topic)) return false;
    if (topics.size === 0) this.#subscriptions.delete(endpoint);
    this.#leave(endpoint, topic);
    return true;
  }

  /** Whether `endpoint` is subscribed to `topic`. */
  isSubscribed(endpoint: Endpoint, topic: string): boolean {
    return this.#subscriptions.get(endpoint)?.has(topic) ?? false;
  }

  /** The topics `endpoint` is subscribed to, in the order it subscribed. */
  topicsOf(endpoint: Endpoint): string[] {
    const topics = this.#subscriptions.get(endpoint);
    return topics === undefined ? [] : [...topics];
  }

  /** How many connections are subscribed to `topic`. */
  subscriberCount(topic: string): number {
    return this.#topics.get(topic)?.size ?? 0;
  }

  /** The topics with at least one subscriber. */
  get topics(): string[] {
    return [...this.#topics.keys()];
  }

  /**
   * Sends `data` to every open subscriber of `topic` (but `except`), framed once per encoding.
   * Returns how many subscribers it was queued for. Throws `TypeError` for data that is not
   * text or bytes (a `Blob` must be read first).
   */
  publish(topic: string, data: PublishData, except?: Endpoint): number {
    checkTopic(topic);
    const binary = typeof data !== "string";
    const payload = toBytes(data);
    this.#published++;
    const sent = this.#deliver(topic, binary, payload, except);
    this.#link?.published(topic, payload, binary);
    return sent;
  }

  #deliver(topic: string, binary: boolean, payload: Uint8Array, except: Endpoint | undefined): number {
    const subscribers = this.#topics.get(topic);
    if (subscribers === undefined) return 0;
    const opcode = binary ? Opcode.BINARY : Opcode.TEXT;
    let plain: Uint8Array | undefined;
    // One encoding per shared key: the frame, or the promise of it while compressing.
    let shared: Map<string, Uint8Array | Promise<Uint8Array>> | undefined;
    let sent = 0;
    for (const endpoint of subscribers) {
      if (endpoint === except || !endpoint.canSend) continue;
      if (endpoint.backlog + payload.length > this.#backlog) {
        this.#dropped++;
        if (!this.#skip) {
          endpoint.fail(CloseCode.TRY_AGAIN_LATER, "subscriber too slow", new WebSocketError(
            `Closed: over the pub/sub backlog of ${this.#backlog} bytes`,
            { closeCode: CloseCode.TRY_AGAIN_LATER, reason: "subscriber too slow" },
          ));
        }
        continue;
      }
      const key = endpoint.sharedEncodingKey;
      if (key === "") {
        endpoint.sendFrame((plain ??= encodeFrame({ fin: true, opcode, payload }, false)), payload.length);
      } else if (key === undefined) {
        // Its compressor keeps context between messages: only it can encode for itself.
        endpoint.send(payload, binary);
      } else {
        shared ??= new Map();
        let frame = shared.get(key);
        if (frame === undefined) {
          const encoding = endpoint.encodeShared(payload, binary).then(({ data: encoded, rsv }) => encodeFrame({ fin: true, opcode, payload: encoded, rsv }, false));
          // Each subscriber's send awaits it in its own order and fails its connection (1011) if
          // it rejects; until then the rejection is not unhandled.
          encoding.catch(noop);
          shared.set(key, (frame = encoding));
        }
        endpoint.sendFrame(frame, payload.length);
      }
      sent++;
    }
    this.#delivered += sent;
    return sent;
  }

  #leave(endpoint: Endpoint, topic: string): void {
    const subscribers = this.#topics.get(topic);
    if (subscribers === undefined) return;
    subscribers.delete(endpoint);
    if (subscribers.size === 0) {
      this.#topics.delete(topic);
      this.#link?.unsubscribed(topic);
    }
  }

  #leaveAll(endpoint: Endpoint): void {
    const topics = this.#subscriptions.get(endpoint);
    if (topics === undefined) return;
    this.#subscriptions.delete(endpoint);
    for (const topic of topics) this.#leave(endpoint, topic);
  }
}

/** The hub of a server connection; throws `UsageError` on a client (`what` names the call). */
export function hubOf(endpoint: Endpoint, what: string): Hub {
  const hub = endpoint.hub;
  if (hub === undefined) throw new UsageError("WS_ERR_INVALID_STATE", `Cannot ${what}: pub/sub is for connections accepted by a server`);
  return hub;
}

function checkTopic(topic: string): void {
  if (typeof topic !== "string") throw new TypeError(`A topic must be a string: ${String(topic)}`);
}

function toBytes(data: PublishData): Uint8Array {
  if (typeof data === "string") return encoder.encode(data);
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw new TypeError("Cannot publish: a message must be a string, an ArrayBuffer or a typed array");
}
