/**
 * The control channel of the publish fan-out servers (bench/servers/publish-*.ts), on Node, Deno
 * and Bun: bench/servers/stdio-control.ts's line protocol (the port printed first, one JSON line
 * answering each command line on stdin; the parent side is bench/runtime-servers.ts) with
 * commands for bench/publish.ts:
 *
 * - `stats`: `{"open":N,"accepted":N,"subscribers":N}`, the connections open and accepted so far
 *   and the subscribers of topic `t` as the server counts them (`accepted - open` is how many
 *   were closed);
 * - `publish M SIZE BATCH`: publishes M binary messages of SIZE bytes to topic `t`, BATCH of them
 *   in a row and then back to the event loop (`setImmediate`) before the next batch, the same
 *   loop for every server; answers `{"published":M,"startedAt":T,"seconds":S}` once every
 *   message was handed to the server's publish call (not sent: the subscribers say when they got
 *   them). Each payload is new, made when published, and starts with the time it was published
 *   (float64, little-endian, milliseconds on the `performance.timeOrigin + performance.now()`
 *   clock) and its number in the run (uint32, little-endian); the rest is zeros.
 * - `exit`, or the end of stdin: the process exits.
 *
 * @module
 */
import process from "node:process";
import { setImmediate } from "node:timers";
import { ConnectionCount } from "./stdio-control.ts";

export { ConnectionCount };

/** The topic every subscriber joins. */
export const TOPIC = "t";

/** What a publish server gives the control channel. */
export interface PublishServer {
  readonly port: number;
  readonly count: ConnectionCount;
  /** Subscribers of {@link TOPIC} as the server counts them. */
  subscribers(): number;
  /** Sends `payload` to every subscriber of {@link TOPIC}, the server's own way. */
  publish(payload: Uint8Array): void;
  /** More commands, by name: each answers with the object it returns (publish-wsstream-node-redis.ts's `hop`). */
  readonly commands?: Record<string, () => object>;
}

const now = (): number => performance.timeOrigin + performance.now();
const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The publish loop: see the module's `publish` command. */
async function publishRun(server: PublishServer, messages: number, size: number, batch: number): Promise<object> {
  if (!(size >= 12)) throw new RangeError(`A payload holds a 12-byte stamp: size ${size}`);
  const startedAt = now();
  for (let i = 0; i < messages; i++) {
    const payload = new Uint8Array(size);
    const view = new DataView(payload.buffer);
    view.setFloat64(0, now(), true);
    view.setUint32(8, i, true);
    server.publish(payload);
    if ((i + 1) % batch === 0 && i + 1 < messages) await yieldToLoop();
  }
  return { published: messages, startedAt, seconds: (now() - startedAt) / 1000 };
}

/** Prints the port for the parent, then answers command lines from stdin (see the module). */
export function servePublishControl(server: PublishServer): void {
  console.log(JSON.stringify({ port: server.port }));
  let pending = "";
  let busy = Promise.resolve();
  const answer = async (line: string): Promise<void> => {
    const [command, ...args] = line.split(" ");
    if (command === "exit") process.exit(0);
    if (command === "stats") {
      const { open, accepted } = server.count;
      console.log(JSON.stringify({ open, accepted, subscribers: server.subscribers() }));
    } else if (command === "publish") {
      const [messages, size, batch] = args.map(Number) as [number, number, number];
      console.log(JSON.stringify(await publishRun(server, messages, size, Math.max(1, batch))));
    } else if (server.commands?.[command!] !== undefined) {
      console.log(JSON.stringify(server.commands[command!]!()));
    } else {
      console.log(JSON.stringify({ error: `Unknown command: ${line}` }));
    }
  };
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (text: string) => {
    pending += text;
    for (let end = pending.indexOf("\n"); end !== -1; end = pending.indexOf("\n")) {
      const line = pending.slice(0, end).trim();
      pending = pending.slice(end + 1);
      if (line === "") continue;
      // One command at a time, in order: a `stats` sent during a publish waits for it.
      busy = busy.then(() => answer(line)).catch((error: Error) => console.log(JSON.stringify({ error: error.message })));
    }
  });
  process.stdin.on("end", () => process.exit(0));
}
