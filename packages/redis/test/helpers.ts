/**
 * The shared helpers of the Redis tests: a real `redis-server` on a free loopback port, server
 * processes (test/fixtures/server.ts) connected to it, `ws` clients with an inbox, and bounded
 * waits.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { WebSocket } from "ws";

export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** Rejects after `ms` with a message naming `what`. */
export async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `condition` every 10 ms for at most `ms`. */
export async function eventually(ms: number, what: string, condition: () => boolean): Promise<void> {
  await within(ms, what, (async () => {
    while (!condition()) await sleep(10);
  })());
}

/** A loopback port nobody listens on (just freed). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === "object" && address !== null ? address.port : 0;
}

/** A child process with its output collected and a bounded stop. */
export interface Child {
  readonly process: ChildProcess;
  readonly output: () => string;
  /** Resolves with the first line that matches (waiting at most `ms`). */
  line(pattern: RegExp, ms: number): Promise<RegExpExecArray>;
  /** Sends `signal` and waits (at most `ms`) for the exit; then SIGKILLs the process group. */
  stop(signal?: NodeJS.Signals, ms?: number): Promise<void>;
  readonly exited: Promise<number | string>;
}

export function start(command: string, args: string[], env: Record<string, string> = {}): Child {
  const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let output = "";
  const lines: string[] = [];
  let listeners: (() => void)[] = [];
  let pending = "";
  const onData = (text: string): void => {
    output += text;
    pending += text;
    const parts = pending.split("\n");
    pending = parts.pop()!;
    lines.push(...parts);
    for (const listener of listeners) listener();
  };
  child.stdout!.setEncoding("utf8").on("data", onData);
  child.stderr!.setEncoding("utf8").on("data", (text: string) => (output += text));
  let exitCode: number | string | undefined;
  const exited = new Promise<number | string>((resolve) => {
    child.once("exit", (code, signal) => resolve((exitCode = code ?? signal ?? -1)));
    // A missing binary (redis-server not installed: scripts/ensure-redis.sh installs it).
    child.once("error", (error) => {
      output += `${command}: ${error.message}\n`;
      resolve((exitCode = "spawn error"));
    });
  });
  const killGroup = (): void => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // Gone already.
    }
  };
  return {
    process: child,
    output: () => output,
    exited,
    line: (pattern, ms) => within(ms, `a line matching ${pattern} from ${command} ${args.join(" ")}:\n${output}`, new Promise((resolve, reject) => {
      let seen = 0;
      const check = (): void => {
        for (; seen < lines.length; seen++) {
          const found = pattern.exec(lines[seen]!);
          if (found !== null) {
            listeners = listeners.filter((listener) => listener !== check);
            resolve(found);
            return;
          }
        }
      };
      listeners.push(check);
      check();
      void exited.then((code) => reject(new Error(`${command} exited (${code}) before printing ${pattern}:\n${output}`)));
    })),
    stop: async (signal = "SIGTERM", ms = 10_000) => {
      if (exitCode === undefined) {
        child.kill(signal);
        await within(ms, `${command} to exit after ${signal}`, exited).catch(() => {});
      }
      killGroup();
    },
  };
}

/** A real redis-server on `port` (a free one by default), without persistence. */
export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** Kills it (SIGKILL: an outage, not a shutdown). */
  kill(): Promise<void>;
  /** Starts it again on the same port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  let child: Child;
  const launch = async (): Promise<void> => {
    child = start("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
    await child.line(/Ready to accept connections/, 10_000);
  };
  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill: async () => {
      await child.stop("SIGKILL", 5000);
    },
    restart: launch,
    stop: async () => {
      await child.stop("SIGTERM", 5000);
    },
  };
}

/** A test server process (test/fixtures/server.ts) on the given Redis. */
export interface ServerProcess extends Child {
  readonly port: number;
  readonly pid: number;
}

export async function startServer(redisUrl: string, runtime: "node" | "bun" | "deno" = "node"): Promise<ServerProcess> {
  const file = "packages/redis/test/fixtures/server.ts";
  const [command, args] = runtime === "node"
    ? [process.execPath, ["--conditions=wsstream-source", "--import", "tsx", file]]
    : runtime === "bun"
    ? [`${ROOT}node_modules/.bin/bun`, ["--conditions=wsstream-source", file]]
    : [`${ROOT}node_modules/.bin/deno`, ["run", "-A", "--conditions=wsstream-source", file]];
  const child = start(command, args, { REDIS_URL: redisUrl });
  try {
    const ready = await child.line(/^ready (\d+) (\d+)$/, 20_000);
    return { ...child, port: Number(ready[1]), pid: Number(ready[2]) };
  } catch (error) {
    await child.stop("SIGKILL");
    throw error;
  }
}

/** A `ws` client of a test server, subscribed to `topics`, with what it received. */
export interface Client {
  readonly socket: WebSocket;
  readonly received: { data: string; binary: boolean }[];
  readonly closed: Promise<number>;
  /** Asks its server to publish (`server.publish`) `count` messages `${prefix}${i}` to `topic`. */
  publish(topic: string, prefix: string, count?: number, binary?: boolean): void;
  /** The messages received that start with `prefix`, in order. */
  texts(prefix: string): string[];
}

export async function connect(port: number, topics: string[]): Promise<Client> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/?topics=${encodeURIComponent(topics.join(","))}`);
  const received: { data: string; binary: boolean }[] = [];
  const closed = new Promise<number>((resolve) => socket.once("close", (code) => resolve(code)));
  socket.on("message", (data, binary) => received.push({ data: String(data), binary }));
  socket.on("error", () => {});
  await within(5000, "a client to open", new Promise((resolve, reject) => {
    socket.once("open", resolve);
    socket.once("error", reject);
  }));
  // The server says "subscribed" once it did.
  await eventually(5000, "the subscription", () => received.some((message) => message.data === "subscribed"));
  return {
    socket,
    received,
    closed,
    publish: (topic, prefix, count = 1, binary = false) => socket.send(JSON.stringify({ topic, prefix, count, binary })),
    texts: (prefix) => received.filter((message) => message.data.startsWith(prefix)).map((message) => message.data),
  };
}
