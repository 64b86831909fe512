// WebSockets over HTTP/2 (RFC 8441) with real peers we did not write: Chromium (Debian's
// `chromium`, driven by playwright-core as in packages/browser/test) opening a WebSocket from a
// page our server served over HTTPS + HTTP/2, on that same connection; and HAProxy (Debian's
// `haproxy`, installed by scripts/ensure-haproxy.sh from .ci/run) between our client and our
// servers, turning RFC 8441 into an HTTP/1.1 Upgrade, or forwarding it to an HTTP/2 server.
// Neither is skipped when missing: the test fails and says how to install it.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import {
  createServer as createHttp2Server,
  type Http2Server,
  type Http2ServerRequest,
  type Http2Session,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from "node:http2";
import { connect, createServer as createTcpServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { deflate, openHttp2Session, serve, type Server, upgradeHandler, WebSocketStream, type WebSocketStreamBase } from "../src/index.ts";
import { certificate, within } from "./fixtures/helpers.ts";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const HAPROXY = process.env.HAPROXY ?? "haproxy";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** What a server handler saw of one WebSocket: the messages, the peer's port, how it closed. */
interface Seen {
  readonly path: string;
  readonly remotePort: number | undefined;
  readonly messages: Array<string | Uint8Array>;
  closed?: { closeCode: number | undefined; reason: string | undefined };
}

/**
 * A handler that greets, then echoes every message with a prefix for text, until the peer
 * closes; what it saw goes to `seen`, and `done` resolves with it once the WebSocket closed.
 */
function recordingEcho(seen: Seen[], done: (entry: Seen) => void) {
  return async (ws: WebSocketStreamBase, request: Request): Promise<void> => {
    const entry: Seen = { path: new URL(request.url).pathname, remotePort: ws.remotePort, messages: [] };
    seen.push(entry);
    const { readable, writable } = await ws.opened;
    const writer = writable.getWriter();
    await writer.write("hello from the server");
    const reader = readable.getReader();
    for (;;) {
      const { value, done: end } = await reader.read().catch(() => ({ value: undefined, done: true as const }));
      if (end) break;
      entry.messages.push(value);
      await writer.write(typeof value === "string" ? `echo: ${value}` : value).catch(() => {});
    }
    const info = await ws.closed.catch((error: { closeCode?: number; reason?: string }) => error);
    entry.closed = { closeCode: info.closeCode, reason: info.reason };
    done(entry);
  };
}

/** A promise and its resolver. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

async function started(server: Server): Promise<Server> {
  cleanups.push(() => within(5000, "the server to close", server.close()));
  return server;
}

describe("Chromium", () => {
  let context: BrowserContext;
  let profile: string;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`No Chromium at ${CHROMIUM}: run scripts/ensure-chromium.sh (apt-get install chromium)`);
    profile = mkdtempSync(join(tmpdir(), "wsstream-chromium-h2-"));
    // Chromium 156 speaks RFC 8441 by default to an HTTP/2 server whose SETTINGS enable it; no
    // feature flag is needed. The test certificate is self-signed, hence --ignore-certificate-errors.
    context = await within(30_000, "Chromium to start", chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      ignoreHTTPSErrors: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--ignore-certificate-errors", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    }));
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  // The page's script: opens a WebSocket to its own origin, sends a text and a binary message,
  // waits for the greeting and both echoes, closes with 1000, and reports what it saw.
  const PAGE = `<!doctype html><title>wsstream over HTTP/2</title><script>
    window.result = new Promise((resolve) => {
      const ws = new WebSocket("wss://" + location.host + "/chat");
      ws.binaryType = "arraybuffer";
      const got = [];
      ws.onopen = () => { ws.send("ping over h2"); ws.send(new Uint8Array([1, 2, 3, 250])); };
      ws.onmessage = (event) => {
        got.push(typeof event.data === "string" ? event.data : Array.from(new Uint8Array(event.data)));
        if (got.length === 3) ws.close(1000, "page done");
      };
      ws.onclose = (event) => resolve({ got, code: event.code, reason: event.reason, wasClean: event.wasClean, extensions: ws.extensions });
      ws.onerror = () => got.push("error");
    });
  </script>`;

  /** Opens the page of `port` and returns what its WebSocket saw. */
  async function runPage(port: number): Promise<{ got: unknown[]; code: number; reason: string; wasClean: boolean; extensions: string }> {
    const page = await context.newPage();
    cleanups.push(() => page.close());
    await within(10_000, "the page to load", page.goto(`https://127.0.0.1:${port}/`));
    return within(10_000, "the page's WebSocket to close", page.evaluate("window.result"));
  }

  // The close event carries the server's Close, which echoes the code (RFC 6455 §5.5.1), not the reason.
  const expectedPage = {
    got: ["hello from the server", "echo: ping over h2", [1, 2, 3, 250]],
    code: 1000,
    reason: "",
    wasClean: true,
  };

  it("opens a WebSocket over serve({ http2: true, tls }) on the HTTP/2 connection that served its page", async () => {
    const seen: Seen[] = [];
    const closed = deferred<Seen>();
    const pages: Array<{ httpVersion: string; remotePort: number | undefined; session: Http2Session | undefined }> = [];
    const server = await started(await serve({
      http2: true,
      tls: certificate,
      extensions: [deflate()],
      handler: recordingEcho(seen, closed.resolve),
      onRequest: (request, response) => {
        const url = new URL(request.url ?? "/", "https://localhost");
        if (url.pathname !== "/") {
          response.writeHead(404).end();
          return;
        }
        pages.push({
          httpVersion: request.httpVersion,
          remotePort: request.socket.remotePort,
          session: (request as Http2ServerRequest).stream?.session,
        });
        response.writeHead(200, { "content-type": "text/html" }).end(PAGE);
      },
    }));

    const result = await runPage(server.port);
    expect(result).toMatchObject(expectedPage);
    // Chromium offered permessage-deflate on the extended CONNECT and our server agreed.
    expect(result.extensions).toMatch(/^permessage-deflate/);
    const entry = await within(5000, "the server to see the close", closed.promise);
    expect(entry.path).toBe("/chat");
    expect(entry.messages).toEqual(["ping over h2", new Uint8Array([1, 2, 3, 250])]);
    expect(entry.closed).toEqual({ closeCode: 1000, reason: "page done" });
    // The page came over HTTP/2, and the WebSocket over the same TCP connection (the same
    // client port): one more stream of that HTTP/2 session, not an HTTP/1.1 connection.
    expect(pages).toHaveLength(1);
    expect(pages[0]!.httpVersion).toBe("2.0");
    expect(entry.remotePort).toBe(pages[0]!.remotePort);
  }, 40_000);

  it("sends its WebSocket as an extended CONNECT stream on the page's Http2Session, taken by upgradeHandler().handleStream", async () => {
    const seen: Seen[] = [];
    const closed = deferred<Seen>();
    const handler = upgradeHandler({ handler: recordingEcho(seen, closed.resolve) });
    cleanups.push(() => handler.close());
    const { createSecureServer } = await import("node:http2");
    const h2 = createSecureServer({ ...certificate, settings: { enableConnectProtocol: true } });
    const sessions = new Set<Http2Session>();
    h2.on("session", (session) => {
      sessions.add(session);
      session.on("error", () => {});
    });
    const streams: Array<{ session: Http2Session; method: string | undefined; protocol: string | undefined; path: string | undefined }> = [];
    h2.on("stream", (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
      streams.push({ session: stream.session!, method: headers[":method"] as string, protocol: headers[":protocol"] as string | undefined, path: headers[":path"] });
      if (headers[":method"] === "CONNECT") {
        void handler.handleStream(stream, headers);
      } else if (headers[":path"] === "/") {
        stream.respond({ ":status": 200, "content-type": "text/html" });
        stream.end(PAGE);
      } else {
        stream.respond({ ":status": 404 }, { endStream: true });
      }
    });
    await new Promise<void>((resolve) => h2.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => {
      for (const session of sessions) session.destroy();
      return new Promise<void>((resolve) => h2.close(() => resolve()));
    });

    const result = await runPage((h2.address() as { port: number }).port);
    expect(result).toMatchObject(expectedPage);
    expect((await within(5000, "the server to see the close", closed.promise)).closed).toEqual({ closeCode: 1000, reason: "page done" });
    const page = streams.find((s) => s.method === "GET" && s.path === "/");
    const socket = streams.find((s) => s.method === "CONNECT");
    expect(socket).toMatchObject({ protocol: "websocket", path: "/chat" });
    // The very same session object: the WebSocket is a stream of the connection that served the page.
    expect(socket!.session).toBe(page!.session);
    expect(streams.filter((s) => s.session === page!.session).length).toBeGreaterThanOrEqual(2);
  }, 40_000);
});

// ---- HAProxy ------------------------------------------------------------------------------------

/** A free loopback port (bound, then released for HAProxy to take). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createTcpServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/**
 * The HAProxy configuration of these tests: an h2c frontend (HTTP/2 with prior knowledge; HAProxy
 * advertises SETTINGS_ENABLE_CONNECT_PROTOCOL on its HTTP/2 frontends by default) in front of
 * one server, spoken to over HTTP/1.1 (HAProxy turns the extended CONNECT into a GET with
 * `Upgrade: websocket`, and the 101 back into a 200) or, with `proto h2`, over HTTP/2 (HAProxy
 * forwards the extended CONNECT as it is). `timeout tunnel` bounds an idle WebSocket.
 */
export function haproxyConfig(frontendPort: number, serverPort: number, serverProto: "h1" | "h2"): string {
  return [
    "global",
    "  maxconn 200",
    "defaults",
    "  mode http",
    "  timeout connect 5s",
    "  timeout client 30s",
    "  timeout server 30s",
    "  timeout tunnel 60s",
    "frontend websockets",
    `  bind 127.0.0.1:${frontendPort} proto h2`,
    "  default_backend app",
    "backend app",
    `  server app 127.0.0.1:${serverPort}${serverProto === "h2" ? " proto h2" : ""}`,
    "",
  ].join("\n");
}

/** Starts HAProxy with `config` in the foreground and waits (bounded) until `port` accepts. */
async function startHaproxy(config: string, port: number): Promise<void> {
  const found = spawnSync(HAPROXY, ["-v"], { encoding: "utf8" });
  if (found.error !== undefined || found.status !== 0) {
    throw new Error(`No HAProxy (${HAPROXY}): run scripts/ensure-haproxy.sh (apt-get install haproxy). ${found.error?.message ?? found.stderr}`);
  }
  const dir = mkdtempSync(join(tmpdir(), "wsstream-haproxy-"));
  const file = join(dir, "haproxy.cfg");
  writeFileSync(file, config);
  const child: ChildProcess = spawn(HAPROXY, ["-db", "-f", file], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  cleanups.push(async () => {
    child.kill("SIGTERM");
    await within(5000, "HAProxy to exit", exited);
    rmSync(dir, { recursive: true, force: true });
  });
  // Bounded: 100 attempts, 50 ms apart.
  for (let attempt = 0; ; attempt++) {
    if (child.exitCode !== null) throw new Error(`HAProxy exited with ${child.exitCode}:\n${output}`);
    const accepted = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (accepted) return;
    if (attempt === 100) throw new Error(`HAProxy did not listen on ${port} within 5 s:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Our client through HAProxy at `port`: two WebSockets on one HTTP/2 session (from
 * openHttp2Session), each sending a text and a binary message and reading the greeting and both
 * echoes, then closing with 1000; resolves with what each one read and how it closed.
 */
async function talkThroughProxy(port: number) {
  const url = `ws://127.0.0.1:${port}`;
  const session = await within(5000, "an HTTP/2 session with HAProxy", openHttp2Session(url));
  cleanups.push(() => session.destroy());
  const one = async (name: string) => {
    const ws = new WebSocketStream(`${url}/${name}`, { http2: session });
    const { readable, writable } = await within(5000, `${name} to open`, ws.opened);
    const writer = writable.getWriter();
    const reader = readable.getReader();
    await writer.write(`text from ${name}`);
    await writer.write(new Uint8Array([9, 8, 7]));
    const got: Array<string | Uint8Array> = [];
    for (let i = 0; i < 3; i++) got.push((await within(5000, `${name}'s message ${i + 1}`, reader.read())).value!);
    ws.close({ closeCode: 1000, reason: `${name} done` });
    const closed = await within(5000, `${name} to close`, ws.closed);
    return { got, closed: { closeCode: closed.closeCode, reason: closed.reason } };
  };
  return Promise.all([one("first"), one("second")]);
}

// `closed` is the server's Close: our code echoed, no reason (the server saw ours, checked below).
const expectedThroughProxy = (name: string) => ({
  got: ["hello from the server", `echo: text from ${name}`, new Uint8Array([9, 8, 7])],
  closed: { closeCode: 1000, reason: "" },
});

describe("HAProxy", () => {
  it("takes RFC 8441 from our client (http2) and forwards it as an HTTP/1.1 Upgrade to our HTTP/1.1 server", async () => {
    const seen: Seen[] = [];
    const done: Seen[] = [];
    // serve() without http2 speaks HTTP/1.1 only, and the frontend HTTP/2 only: both legs are
    // what they should be, or nothing opens.
    const server = await started(await serve({ handler: recordingEcho(seen, (entry) => done.push(entry)) }));
    const port = await freePort();
    await startHaproxy(haproxyConfig(port, server.port, "h1"), port);

    const [first, second] = await talkThroughProxy(port);
    expect(first).toEqual(expectedThroughProxy("first"));
    expect(second).toEqual(expectedThroughProxy("second"));
    // Our server saw two HTTP/1.1 upgrades and both closing handshakes.
    await within(5000, "the server to see both closes", (async () => {
      while (done.length < 2) await new Promise((resolve) => setTimeout(resolve, 20));
    })());
    expect(seen.map((s) => s.path).sort()).toEqual(["/first", "/second"]);
    expect(done.map((s) => s.closed).sort((a, b) => a!.reason!.localeCompare(b!.reason!))).toEqual([
      { closeCode: 1000, reason: "first done" },
      { closeCode: 1000, reason: "second done" },
    ]);
    expect(seen.find((s) => s.path === "/first")!.messages).toEqual(["text from first", new Uint8Array([9, 8, 7])]);
  }, 30_000);

  it.each(["serve({ http2: true })", "upgradeHandler().handleStream on a node:http2 server"])(
    "forwards RFC 8441 from our client to our HTTP/2 server (proto h2): %s",
    async (kind) => {
      const seen: Seen[] = [];
      const done: Seen[] = [];
      const handler = recordingEcho(seen, (entry) => done.push(entry));
      // What the HTTP/2 server got from HAProxy: the extended CONNECT streams, when we can see them.
      const connects: Array<{ method: unknown; protocol: unknown; version: unknown }> = [];
      let serverPort: number;
      if (kind.startsWith("serve")) {
        serverPort = (await started(await serve({ http2: true, handler }))).port;
      } else {
        const upgrades = upgradeHandler({ handler });
        cleanups.push(() => upgrades.close());
        const h2: Http2Server = createHttp2Server({ settings: { enableConnectProtocol: true } });
        const sessions = new Set<Http2Session>();
        h2.on("session", (session) => {
          sessions.add(session);
          session.on("error", () => {});
        });
        h2.on("stream", (stream, headers) => {
          connects.push({ method: headers[":method"], protocol: headers[":protocol"], version: headers["sec-websocket-version"] });
          void upgrades.handleStream(stream, headers);
        });
        await new Promise<void>((resolve) => h2.listen(0, "127.0.0.1", resolve));
        cleanups.push(() => {
          for (const session of sessions) session.destroy();
          return new Promise<void>((resolve) => h2.close(() => resolve()));
        });
        serverPort = (h2.address() as { port: number }).port;
      }
      const port = await freePort();
      await startHaproxy(haproxyConfig(port, serverPort, "h2"), port);

      const [first, second] = await talkThroughProxy(port);
      expect(first).toEqual(expectedThroughProxy("first"));
      expect(second).toEqual(expectedThroughProxy("second"));
      await within(5000, "the server to see both closes", (async () => {
        while (done.length < 2) await new Promise((resolve) => setTimeout(resolve, 20));
      })());
      expect(done.map((s) => s.closed?.reason).sort()).toEqual(["first done", "second done"]);
      expect(seen.find((s) => s.path === "/second")!.messages).toEqual(["text from second", new Uint8Array([9, 8, 7])]);
      // serve() hides its streams; on our own node:http2 server we see the extended CONNECTs.
      if (!kind.startsWith("serve")) {
        expect(connects).toEqual([
          { method: "CONNECT", protocol: "websocket", version: "13" },
          { method: "CONNECT", protocol: "websocket", version: "13" },
        ]);
      }
    },
    30_000,
  );
});
