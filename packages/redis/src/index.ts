/**
 * Cross-process pub/sub for wsstream servers through Redis pub/sub: pass {@link redisBridge} as a
 * server's `pubsub.bridge` and a message published in any process reaches every subscriber in
 * every process connected to the same Redis.
 *
 * Each process holds two Redis connections ([ioredis](https://github.com/redis/ioredis)): one
 * that publishes and one that subscribes, with one `SUBSCRIBE` per topic that has at least one
 * local subscriber, whatever the number of connections following it. A message on Redis is one
 * kind byte (text or binary), the publishing process's 16-byte id (so a process skips its own
 * echo; it already delivered locally), then the payload as it was published.
 *
 * @module
 */
import type { LocalHub, PubSubBridge, PubSubBridgeLink } from "@wsstream/core";
import { Redis, type RedisOptions } from "ioredis";

/** Options of {@link redisBridge}. */
export interface RedisBridgeOptions {
  /** The Redis server, as a `redis://` (or `rediss://`) URL. Default `redis://127.0.0.1:6379`. */
  readonly url?: string;
  /**
   * ioredis options for both connections (`retryStrategy`, `tls`, `password`, ...). The bridge
   * sets `enableOfflineQueue: false` on the publishing connection (a publish during an outage is
   * not held back to arrive late and out of order) and `maxRetriesPerRequest: null` on the
   * subscribing one (subscriptions wait for the reconnect).
   */
  readonly redis?: RedisOptions;
  /** Prepended to each topic to make its Redis channel. Default `"wsstream:"`. */
  readonly prefix?: string;
  /**
   * Told of Redis failures: the first error of each outage on each connection, a publish that
   * could not reach Redis (once per outage), a malformed message on a channel. The servers keep
   * running and delivering locally; the connections reconnect and resubscribe by themselves.
   * Default: `console.error`.
   */
  readonly onError?: (error: Error) => void;
}

/** What a {@link RedisBridge} has done since it was made. */
export interface RedisBridgeStats {
  /** Local publishes sent to Redis. */
  readonly published: number;
  /** Messages from other processes delivered to this process's hubs. */
  readonly received: number;
  /** Local publishes that could not reach Redis (delivered locally only). */
  readonly lost: number;
  /** Topics this process is subscribed to on Redis. */
  readonly topics: number;
}

/** A {@link PubSubBridge} over Redis; see {@link redisBridge}. */
export interface RedisBridge extends PubSubBridge {
  /** This process's id in the messages it publishes (32 hex digits). */
  readonly instanceId: string;
  /** `"ready"` when both Redis connections are up, `"connecting"` before and during an outage, `"closed"` after {@link close}. */
  readonly status: "connecting" | "ready" | "closed";
  /** A snapshot of the counts. */
  readonly stats: RedisBridgeStats;
  /** Resolves once both connections are ready (at once if they are); rejects once closed. */
  ready(): Promise<void>;
  /**
   * Closes both Redis connections. Servers attached keep delivering locally. Call it after
   * closing them.
   */
  close(): Promise<void>;
}

const KIND_TEXT = 0;
const KIND_BINARY = 1;
const ID_LENGTH = 16;
const HEADER_LENGTH = 1 + ID_LENGTH;
const utf8 = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/**
 * Makes a bridge to Redis for one process; it connects at once. Pass it to every server of the
 * process as `pubsub.bridge`.
 *
 * @example
 * ```ts
 * import { serve } from "@wsstream/node";
 * import { redisBridge } from "@wsstream/redis";
 *
 * const bridge = redisBridge({ url: process.env.REDIS_URL });
 * const server = await serve({
 *   port: 8080,
 *   api: "websocket",
 *   pubsub: { bridge },
 *   handler: (ws) => ws.subscribe("room"),
 * });
 * server.publish("room", "hello"); // every subscriber of "room", in every process
 * ```
 */
export function redisBridge(options: RedisBridgeOptions = {}): RedisBridge {
  const prefix = options.prefix ?? "wsstream:";
  if (typeof prefix !== "string") throw new TypeError(`prefix must be a string: ${String(prefix)}`);
  const onError = options.onError ?? ((error: Error) => console.error("@wsstream/redis:", error));
  if (typeof onError !== "function") throw new TypeError("onError must be a function");
  const url = options.url ?? "redis://127.0.0.1:6379";
  const id = crypto.getRandomValues(new Uint8Array(ID_LENGTH));
  const instanceId = Array.from(id, (byte) => byte.toString(16).padStart(2, "0")).join("");
  const prefixBytes = encoder.encode(prefix);

  const report = (error: unknown): void => {
    try {
      onError(error instanceof Error ? error : new Error(String(error)));
    } catch {
      // The callback's own failure must not stop the bridge.
    }
  };

  const publisher = new Redis(url, { ...options.redis, enableOfflineQueue: false, lazyConnect: false });
  const subscriber = new Redis(url, { ...options.redis, maxRetriesPerRequest: null, autoResubscribe: true, lazyConnect: false });

  // Each topic subscribed on Redis, with the hubs here that follow it.
  const topics = new Map<string, Set<LocalHub>>();
  const hubs = new Set<LocalHub>();
  let closed = false;
  let published = 0;
  let received = 0;
  let lost = 0;
  // One report per outage: set on the first failure, cleared when the connection is ready again.
  let publisherDown = false;
  let subscriberDown = false;
  let publishLostReported = false;
  let waiters: { resolve: () => void; reject: (error: Error) => void }[] = [];

  const isReady = (): boolean => publisher.status === "ready" && subscriber.status === "ready";
  const settle = (): void => {
    if (!isReady() && !closed) return;
    const pending = waiters;
    waiters = [];
    for (const waiter of pending) {
      if (closed) waiter.reject(new Error("The Redis bridge is closed"));
      else waiter.resolve();
    }
  };

  publisher.on("error", (error: Error) => {
    if (publisherDown || closed) return;
    publisherDown = true;
    report(new Error(`Redis (publishing connection): ${error.message}`, { cause: error }));
  });
  subscriber.on("error", (error: Error) => {
    if (subscriberDown || closed) return;
    subscriberDown = true;
    report(new Error(`Redis (subscribing connection): ${error.message}`, { cause: error }));
  });
  publisher.on("ready", () => {
    publisherDown = false;
    publishLostReported = false;
    settle();
  });
  subscriber.on("ready", () => {
    subscriberDown = false;
    settle();
  });

  subscriber.on("messageBuffer", (channel: Uint8Array, message: Uint8Array) => {
    if (closed) return;
    if (message.length < HEADER_LENGTH || (message[0] !== KIND_TEXT && message[0] !== KIND_BINARY)) {
      report(new Error(`Ignored a message that is not from @wsstream/redis on channel: ${String(channel)}`));
      return;
    }
    if (sameId(message)) return; // Our own echo: already delivered here.
    const topic = topicOf(channel);
    const following = topic === undefined ? undefined : topics.get(topic);
    if (following === undefined) return;
    const binary = message[0] === KIND_BINARY;
    const payload = message.subarray(HEADER_LENGTH);
    if (!binary) {
      try {
        utf8.decode(payload);
      } catch {
        report(new Error(`Ignored a text message that is not valid UTF-8 on topic: ${topic}`));
        return;
      }
    }
    received++;
    for (const hub of following) hub.deliver(topic!, payload, binary);
  });

  function sameId(message: Uint8Array): boolean {
    for (let i = 0; i < ID_LENGTH; i++) if (message[1 + i] !== id[i]) return false;
    return true;
  }

  function topicOf(channel: Uint8Array): string | undefined {
    if (channel.length < prefixBytes.length) return undefined;
    for (let i = 0; i < prefixBytes.length; i++) if (channel[i] !== prefixBytes[i]) return undefined;
    try {
      return utf8.decode(channel.subarray(prefixBytes.length));
    } catch {
      return undefined;
    }
  }

  function follow(hub: LocalHub, topic: string): void {
    let following = topics.get(topic);
    if (following === undefined) {
      topics.set(topic, (following = new Set()));
      // Queued while Redis is down, sent on reconnect; ioredis resubscribes every channel then.
      subscriber.subscribe(prefix + topic).catch(report);
    }
    following.add(hub);
  }

  function unfollow(hub: LocalHub, topic: string): void {
    const following = topics.get(topic);
    if (following === undefined || !following.delete(hub) || following.size > 0) return;
    topics.delete(topic);
    subscriber.unsubscribe(prefix + topic).catch(report);
  }

  function publish(from: LocalHub, topic: string, payload: Uint8Array, binary: boolean): void {
    // Other servers of this process get it directly: our echo from Redis is skipped.
    const following = topics.get(topic);
    if (following !== undefined) for (const hub of following) if (hub !== from) hub.deliver(topic, payload, binary);
    if (publisher.status !== "ready") {
      lostOne(new Error(`Redis is not connected (${publisher.status}): publishes reach this process only until it is`));
      return;
    }
    const message = new Uint8Array(HEADER_LENGTH + payload.length);
    message[0] = binary ? KIND_BINARY : KIND_TEXT;
    message.set(id, 1);
    message.set(payload, HEADER_LENGTH);
    published++;
    publisher.publish(prefix + topic, Buffer.from(message.buffer, message.byteOffset, message.byteLength)).catch((error: unknown) => {
      published--;
      lostOne(error instanceof Error ? error : new Error(String(error)));
    });
  }

  function lostOne(error: Error): void {
    lost++;
    if (publishLostReported || closed) return;
    publishLostReported = true;
    report(error);
  }

  return {
    instanceId,
    get status() {
      if (closed) return "closed";
      return isReady() ? "ready" : "connecting";
    },
    get stats() {
      return { published, received, lost, topics: topics.size };
    },
    ready() {
      if (closed) return Promise.reject(new Error("The Redis bridge is closed"));
      if (isReady()) return Promise.resolve();
      return new Promise<void>((resolve, reject) => waiters.push({ resolve, reject }));
    },
    attach(hub: LocalHub): PubSubBridgeLink {
      hubs.add(hub);
      for (const topic of hub.topics) follow(hub, topic);
      let attached = true;
      return {
        subscribed: (topic) => {
          if (attached && !closed) follow(hub, topic);
        },
        unsubscribed: (topic) => {
          if (attached && !closed) unfollow(hub, topic);
        },
        published: (topic, payload, binary) => {
          if (attached && !closed) publish(hub, topic, payload, binary);
        },
        detach: () => {
          if (!attached) return;
          attached = false;
          hubs.delete(hub);
          if (closed) return;
          for (const topic of [...topics.keys()]) unfollow(hub, topic);
        },
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      settle();
      topics.clear();
      hubs.clear();
      await Promise.all([quit(publisher), quit(subscriber)]);
    },
  };
}

async function quit(client: Redis): Promise<void> {
  if (client.status === "ready") {
    try {
      await client.quit();
      return;
    } catch {
      // Fall through: drop the connection.
    }
  }
  client.disconnect();
}
