/**
 * A chat room: a `node:http` server that serves one page at `/` (and `@wsstream/browser`, the
 * page's `WebSocketStream`, at `/wsstream/`) and upgrades `/chat` with `upgradeHandler()`. Every
 * member subscribes to the room's topic, and every text message a member sends is published to
 * it: framed once and sent to every member, the sender included. A member that does not keep up
 * is closed with 1013. Run it with `pnpm demo` and open the printed URL in two tabs.
 *
 * `PORT` (default 8080, 0 picks a free one) and `HOST` (default 127.0.0.1) choose where it
 * listens; once ready it prints `chat on http://HOST:PORT` with the port actually bound.
 *
 * Several processes behind one port: `CHAT_WORKERS=N` runs N workers with `clusterServe()`
 * (node:cluster shares the port), and `REDIS_URL=redis://...` joins their rooms through Redis
 * (`@wsstream/redis`) so members on different workers see each other's messages. Each worker
 * names itself in the handshake's `X-Chat-Worker` header (its pid). SIGHUP to the primary
 * restarts the workers one at a time.
 *
 * @module
 */
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { clusterServe, upgradeHandler, type WebSocketStreamBase } from "@wsstream/node";
import { type RedisBridge, redisBridge } from "@wsstream/redis";
import { browserModule } from "./browser-module.ts";

/** Messages over this many bytes close the sender's connection with 1009. */
const MAX_MESSAGE_BYTES = 4096;

const port = Number(process.env.PORT ?? 8080);
const hostname = process.env.HOST ?? "127.0.0.1";
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`PORT must be an integer from 0 to 65535: ${process.env.PORT}`);
  process.exit(2);
}
const workers = process.env.CHAT_WORKERS === undefined ? 0 : Number(process.env.CHAT_WORKERS);
if (!Number.isInteger(workers) || workers < 0) {
  console.error(`CHAT_WORKERS must be a whole number: ${process.env.CHAT_WORKERS}`);
  process.exit(2);
}
const redisUrl = process.env.REDIS_URL;

const page = await readFile(new URL("./index.html", import.meta.url));

/**
 * What the room does with a member that does not read: once 1 MiB waits to be sent to it, the
 * next message closes it with 1013 (Try Again Later) rather than queueing for it without bound.
 */
const SLOW_MEMBER_BACKLOG = 1024 * 1024;

/**
 * Runs one connection: subscribes it to the room and publishes what it sends to every member,
 * itself included (framed once for all). Its subscription ends when it closes.
 */
async function join(ws: WebSocketStreamBase): Promise<void> {
  const { readable } = await ws.opened;
  ws.subscribe("room");
  const reader = readable.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (typeof value !== "string") {
        ws.close({ closeCode: 1003, reason: "text messages only" });
        break;
      }
      ws.publish("room", value, { includeSelf: true });
    }
  } catch {
    // The connection failed (a message over the limit, a protocol error, a reset): it is closed.
  } finally {
    reader.releaseLock();
  }
}

/**
 * The upgrade hook. A browser always sends `Origin`, and lets any page open a WebSocket to any
 * server: only this page's own origin may join. Clients that are not browsers send none.
 */
function sameOrigin(request: Request): Response | { headers: HeadersInit } | undefined {
  const origin = request.headers.get("origin");
  if (origin === null) return workerHeader();
  let host: string | undefined;
  try {
    host = new URL(origin).host;
  } catch {
    // `Origin: null` (a sandboxed page, a file) or garbage.
  }
  if (host === new URL(request.url).host) return workerHeader();
  return new Response("Cross-origin WebSocket connections are not allowed\n", { status: 403 });
}

/** In a cluster, the worker that accepted names itself (for the curious, and the tests). */
function workerHeader(): { headers: HeadersInit } | undefined {
  return workers > 0 ? { headers: { "X-Chat-Worker": String(process.pid) } } : undefined;
}

function onRequest(request: IncomingMessage, response: ServerResponse): void {
  const { pathname } = new URL(request.url ?? "/", "http://localhost");
  if (pathname === "/" && (request.method === "GET" || request.method === "HEAD")) {
    response.writeHead(200, {
      "Content-Type": "text/html; charset=utf-8",
      "Content-Length": page.length,
      "Cache-Control": "no-store",
    });
    response.end(request.method === "HEAD" ? undefined : page);
  } else if (pathname.startsWith("/wsstream/") && request.method === "GET") {
    // The page's WebSocketStream: @wsstream/browser, from its sources.
    browserModule(pathname.slice("/wsstream/".length)).then((code) => {
      if (code === undefined) response.writeHead(404, { "Content-Type": "text/plain" }).end("Not Found\n");
      else response.writeHead(200, { "Content-Type": "text/javascript; charset=utf-8", "Cache-Control": "no-store" }).end(code);
    }, () => response.writeHead(500).end());
  } else if (pathname === "/chat") {
    response.writeHead(426, { Upgrade: "websocket", "Content-Type": "text/plain" }).end("Connect with a WebSocket\n");
  } else {
    response.writeHead(404, { "Content-Type": "text/plain" }).end("Not Found\n");
  }
}

/** Starts one chat server (the whole program, or one worker of a cluster); resolves once it listens. */
async function startChat(): Promise<{ port: number; close(): Promise<void> }> {
  // With Redis, a message published here also reaches the members on the other workers.
  const bridge: RedisBridge | undefined = redisUrl === undefined ? undefined : redisBridge({ url: redisUrl });
  const chat = upgradeHandler({
    path: "/chat",
    maxMessageSize: MAX_MESSAGE_BYTES,
    // Browsers and proxies drop idle connections: ping every 30 s.
    keepalive: { interval: 30_000, timeout: 10_000 },
    pubsub: { backlog: SLOW_MEMBER_BACKLOG, slowSubscriber: "close", bridge },
    upgrade: sameOrigin,
    handler: join,
  });
  const server = createServer(onRequest);
  server.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    chat.handleUpgrade(request, socket, head).catch(() => socket.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, hostname, () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === "object" && address !== null ? address.port : port,
    close: async () => {
      server.close();
      server.closeAllConnections();
      // Closes every member with 1001; each close is bounded by the close timeout, so this ends.
      const { connections, clean } = await chat.close();
      await bridge?.close();
      console.log(`closed ${connections} connections, ${clean} cleanly`);
    },
  };
}

const host = hostname.includes(":") ? `[${hostname}]` : hostname;
let stopping = false;
if (workers === 0) {
  const chat = await startChat();
  console.log(`chat on http://${host}:${chat.port}`);
  const stop = async (signal: NodeJS.Signals): Promise<void> => {
    if (stopping) process.exit(signal === "SIGINT" ? 130 : 143);
    stopping = true;
    await chat.close();
    process.exit(0);
  };
  process.on("SIGINT", (signal) => void stop(signal));
  process.on("SIGTERM", (signal) => void stop(signal));
} else {
  const node = await clusterServe({ workers, start: startChat });
  if (node.role === "primary") {
    console.log(`chat on http://${host}:${node.port} (${workers} workers${redisUrl === undefined ? ", no REDIS_URL: each worker is its own room" : ", rooms joined through Redis"})`);
    process.on("SIGHUP", () => void node.restart().then(() => console.log(`restarted: workers ${node.workers.join(", ")}`)));
    const stop = async (signal: NodeJS.Signals): Promise<void> => {
      if (stopping) process.exit(signal === "SIGINT" ? 130 : 143);
      stopping = true;
      await node.close();
      process.exit(0);
    };
    process.on("SIGINT", (signal) => void stop(signal));
    process.on("SIGTERM", (signal) => void stop(signal));
  } else {
    // The primary stops the workers (Ctrl-C reaches every process of the group).
    process.on("SIGINT", () => {});
    process.on("SIGTERM", () => {});
  }
}
