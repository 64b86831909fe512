/**
 * Publish fan-out across processes (bench/cluster-publish.ts): publish-wsstream-node.ts's server
 * with `pubsub: { bridge }`, a `redisBridge()` from @wsstream/redis to `--redis URL`, so a
 * publish in any of the benchmark's server processes reaches the subscribers of all of them.
 *
 * Besides publish-control.ts's commands it answers `hop`: the Redis hop of the messages that
 * came from another process since the last `hop`, `{"count":N,"p50":MS,"p99":MS}`, each the time
 * from the stamp the publisher wrote into the payload (publish-control.ts) to the message's
 * arrival at this process's hub, before any subscriber is written to.
 *
 * Run: node --import tsx --conditions=wsstream-source bench/servers/publish-wsstream-node-redis.ts --redis redis://127.0.0.1:6379
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { LocalHub, PubSubBridge } from "@wsstream/core";
import { serve } from "@wsstream/node";
import { redisBridge } from "@wsstream/redis";
import { ConnectionCount, servePublishControl, TOPIC } from "./publish-control.ts";

const { values } = parseArgs({ options: { port: { type: "string", default: "0" }, redis: { type: "string" } } });

const now = (): number => performance.timeOrigin + performance.now();
const redis = redisBridge({ url: values.redis, onError: (error) => console.error(`redis: ${error.message}`) });
await redis.ready();

// The hop: a hub that notes each message's arrival from Redis, then delivers it.
let hops: number[] = [];
const bridge: PubSubBridge = {
  attach: (hub) => {
    const timed: LocalHub = {
      get topics() {
        return hub.topics;
      },
      deliver: (topic, payload, binary) => {
        if (payload.length >= 8) hops.push(now() - new DataView(payload.buffer, payload.byteOffset, 8).getFloat64(0, true));
        return hub.deliver(topic, payload, binary);
      },
    };
    return redis.attach(timed);
  },
};

const count = new ConnectionCount();
const server = await serve({
  port: Number(values.port),
  api: "websocket",
  pubsub: { bridge },
  handler: (ws) => {
    ws.onclose = count.opened();
    ws.subscribe(TOPIC);
  },
});
servePublishControl({
  port: server.port,
  count,
  subscribers: () => server.subscriberCount(TOPIC),
  publish: (payload) => void server.publish(TOPIC, payload),
  commands: {
    hop: () => {
      const sorted = hops.sort((a, b) => a - b);
      hops = [];
      const at = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
      return { count: sorted.length, p50: at(0.5), p99: at(0.99) };
    },
  },
});
