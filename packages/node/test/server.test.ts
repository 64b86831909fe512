import { request as httpRequest, type IncomingMessage } from "node:http";
import { connect as tlsConnect } from "node:tls";
import { afterEach, describe, expect, it } from "vitest";
import { type RawData, WebSocket as WsSocket } from "ws";
import {
  type Handler,
  serve,
  type ServeOptions,
  type Server,
  WebSocketError,
  WebSocketStream,
  type WebSocketStreamBase,
} from "../src/index.ts";
import {
  certificate,
  clientFrame,
  closePayload,
  eventually,
  parseServerFrames,
  type RawClient,
  rawConnect,
  rejectionOf,
  SAMPLE_ACCEPT,
  settlesWithin,
  splitHead,
  startExample,
  upgradeRequest,
  within,
  type Example,
} from "./fixtures/helpers.ts";

const KiB = 1024;

/** Servers, clients and child processes opened by the current test, closed after it. */
const servers: Server[] = [];
const wsClients: WsSocket[] = [];
const examples: Example[] = [];
const rawClients: RawClient[] = [];

afterEach(async () => {
  for (const client of wsClients.splice(0)) client.terminate();
  for (const client of rawClients.splice(0)) client.socket.destroy();
  await Promise.all(servers.splice(0).map((server) => within(15_000, "server.close()", server.close())));
  await Promise.all(examples.splice(0).map((example) => example.stop("SIGKILL", 5000)));
});

async function raw(port: number): Promise<RawClient> {
  const client = await rawConnect(port);
  rawClients.push(client);
  return client;
}

async function start(options: Partial<ServeOptions> & { handler: Handler }): Promise<Server> {
  const server = await within(5000, "serve()", serve(options));
  servers.push(server);
  return server;
}

/** Echoes every message until the peer closes. */
const echo = async (ws: WebSocketStreamBase): Promise<void> => {
  const { readable, writable } = await ws.opened;
  await readable.pipeTo(writable).catch(() => {});
};

/** A `ws` client; its messages and its close are recorded. */
class Peer {
  readonly socket: WsSocket;
  readonly messages: Array<{ data: Buffer; isBinary: boolean }> = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly opened: Promise<void>;
  #waiters: Array<() => void> = [];

  constructor(url: string, protocols?: string[], options: ConstructorParameters<typeof WsSocket>[2] = {}) {
    this.socket = new WsSocket(url, protocols, options);
    wsClients.push(this.socket);
    this.socket.on("message", (data: RawData, isBinary: boolean) => {
      this.messages.push({ data: data as Buffer, isBinary });
      for (const wake of this.#waiters.splice(0)) wake();
    });
    this.closed = new Promise((resolve) => {
      this.socket.once("close", (code, reason) => {
        resolve({ code, reason: reason.toString() });
        for (const wake of this.#waiters.splice(0)) wake();
      });
    });
    this.opened = within(5000, "the ws client to open", new Promise<void>((resolve, reject) => {
      this.socket.once("open", () => resolve());
      this.socket.once("error", reject);
    }));
  }

  /** Resolves once `count` messages arrived. */
  async received(count: number, ms = 5000): Promise<Array<{ data: Buffer; isBinary: boolean }>> {
    return within(ms, `${count} messages`, new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.messages.length >= count) resolve(this.messages.slice(0, count));
        else if (this.socket.readyState === WsSocket.CLOSED) reject(new Error(`Closed after ${this.messages.length} messages`));
        else this.#waiters.push(check);
      };
      check();
    }));
  }
}

/** An HTTP request with the upgrade headers, read as an ordinary response. */
async function upgradeAsHttp(port: number, path: string, headers: Record<string, string> = {}): Promise<{ response: IncomingMessage; body: string }> {
  return within(5000, "the HTTP response", new Promise((resolve, reject) => {
    const req = httpRequest({
      host: "127.0.0.1",
      port,
      path,
      headers: {
        Connection: "Upgrade",
        Upgrade: "websocket",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
        ...headers,
      },
    });
    req.on("upgrade", () => reject(new Error("Expected a refusal, the server upgraded")));
    req.on("response", (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => resolve({ response, body }));
    });
    req.on("error", reject);
    req.end();
  }));
}

describe("serve()", () => {
  it("listens on a free loopback port and echoes text and binary messages", async () => {
    const server = await start({ handler: echo });
    expect(server.hostname).toBe("127.0.0.1");
    expect(server.port).toBeGreaterThan(0);
    const peer = new Peer(`ws://127.0.0.1:${server.port}/`);
    await peer.opened;
    peer.socket.send("héllo ✓");
    peer.socket.send(Buffer.from([0, 1, 2, 255]));
    const [text, binary] = await peer.received(2);
    expect(text).toEqual({ data: Buffer.from("héllo ✓"), isBinary: false });
    expect(binary).toEqual({ data: Buffer.from([0, 1, 2, 255]), isBinary: true });
  });

  it("gives the handler the request, with the URL, the query and the headers", async () => {
    let seen: { url: string; wsUrl: string; token: string | null } | undefined;
    const server = await start({
      handler: async (ws, request) => {
        seen = { url: request.url, wsUrl: ws.url, token: request.headers.get("x-token") };
        await echo(ws);
      },
    });
    const peer = new Peer(`ws://127.0.0.1:${server.port}/rooms/1?user=ada`, undefined, { headers: { "X-Token": "secret" } });
    await peer.opened;
    peer.socket.send("ping");
    await peer.received(1);
    expect(seen).toEqual({
      url: `http://127.0.0.1:${server.port}/rooms/1?user=ada`,
      wsUrl: `ws://127.0.0.1:${server.port}/rooms/1?user=ada`,
      token: "secret",
    });
  });

  it("accepts with the subprotocol and the headers the upgrade hook returns", async () => {
    let offered: readonly string[] = [];
    const server = await start({
      upgrade: (_request, info) => {
        offered = info.protocols;
        return { protocol: "chat.v2", headers: { "X-Server": "wsstream", "Set-Cookie": "session=1" } };
      },
      handler: echo,
    });
    const peer = new Peer(`ws://127.0.0.1:${server.port}/`, ["chat.v1", "chat.v2"]);
    const upgraded = new Promise<IncomingMessage>((resolve) => peer.socket.once("upgrade", resolve));
    await peer.opened;
    const response = await within(1000, "the upgrade response", upgraded);
    expect(offered).toEqual(["chat.v1", "chat.v2"]);
    expect(peer.socket.protocol).toBe("chat.v2");
    expect(response.headers["x-server"]).toBe("wsstream");
    expect(response.headers["set-cookie"]).toEqual(["session=1"]);
  });

  it("refuses with the Response the upgrade hook returns: its status, headers and body reach the client", async () => {
    let handled = false;
    const server = await start({
      upgrade: (request) =>
        request.headers.get("authorization") === "Bearer ok"
          ? undefined
          : new Response("Who are you?", { status: 401, headers: { "WWW-Authenticate": "Bearer", "X-Reason": "no token" } }),
      handler: (ws) => {
        handled = true;
        return echo(ws);
      },
    });
    const { response, body } = await upgradeAsHttp(server.port, "/");
    expect(response.statusCode).toBe(401);
    expect(response.headers["www-authenticate"]).toBe("Bearer");
    expect(response.headers["x-reason"]).toBe("no token");
    expect(response.headers["connection"]).toBe("close");
    expect(response.headers["content-length"]).toBe(String(Buffer.byteLength("Who are you?")));
    expect(body).toBe("Who are you?");

    // Our own client sees the refusal as a rejected `opened` carrying the status.
    const ws = new WebSocketStream(`ws://127.0.0.1:${server.port}/`);
    const error = await rejectionOf(ws.opened, 5000, "opened");
    expect(((error as Error).cause as { status: number }).status).toBe(401);

    // The same hook accepts a client that sends the token.
    const peer = new Peer(`ws://127.0.0.1:${server.port}/`, undefined, { headers: { Authorization: "Bearer ok" } });
    await peer.opened;
    expect(handled).toBe(true);
  });

  it("refuses with 500 when the upgrade hook throws", async () => {
    const server = await start({
      upgrade: () => {
        throw new Error("database down");
      },
      handler: echo,
    });
    const { response } = await upgradeAsHttp(server.port, "/");
    expect(response.statusCode).toBe(500);
  });

  it("upgrades only the path given, ignoring the query, and answers 404 to other paths", async () => {
    const server = await start({ path: "/ws", handler: echo });
    const { response, body } = await upgradeAsHttp(server.port, "/other");
    expect(response.statusCode).toBe(404);
    expect(body).toBe("Not Found");
    expect((await upgradeAsHttp(server.port, "/ws/deeper")).response.statusCode).toBe(404);

    const peer = new Peer(`ws://127.0.0.1:${server.port}/ws?token=1`);
    await peer.opened;
    peer.socket.send("on the right path");
    expect((await peer.received(1))[0]!.data.toString()).toBe("on the right path");
  });

  it("answers a plain HTTP request (no Upgrade) with a 4xx and closes the connection", async () => {
    const server = await start({ handler: echo });
    const client = await raw(server.port);
    client.socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nAccept: text/html\r\n\r\n`);
    const data = await client.untilEnd(5000);
    const head = splitHead(data)!.head;
    expect(head).toMatch(/^HTTP\/1\.1 4\d\d /);
    expect(head).toMatch(/\r\nConnection: close\r\n/i);
  });

  it("answers a request that is not HTTP with 400 and closes the connection", async () => {
    const server = await start({ handler: echo });
    const client = await raw(server.port);
    client.socket.write("\x16\x03\x01 this is not an HTTP request\r\n\r\n");
    const data = await client.untilEnd(5000);
    expect(data.toString("latin1")).toMatch(/^HTTP\/1\.1 400 /);
  });

  it("answers 431 to a request head over maxHeadBytes", async () => {
    const server = await start({ handler: echo, maxHeadBytes: 1024 });
    const client = await raw(server.port);
    client.socket.write(upgradeRequest("/", "127.0.0.1", [`X-Padding: ${"a".repeat(2000)}`]));
    const data = await client.untilEnd(5000);
    expect(data.toString("latin1")).toMatch(/^HTTP\/1\.1 431 /);
  });

  it("drops a connection that sends no request within handshakeTimeout", async () => {
    const server = await start({ handler: echo, handshakeTimeout: 200 });
    const client = await raw(server.port);
    const started = Date.now();
    client.socket.write("GET / HTTP/1.1\r\n");
    const data = await client.untilEnd(5000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(data).toHaveLength(0);
  });

  it("reads frames that arrive in the same packet as the request", async () => {
    const server = await start({ handler: echo });
    const client = await raw(server.port);
    client.socket.write(Buffer.concat([Buffer.from(upgradeRequest("/", "127.0.0.1")), clientFrame(0x1, "hello")]));
    const data = await client.until(5000, "the 101 and the echo", (bytes) => {
      const split = splitHead(bytes);
      return split !== undefined && split.rest.length >= 7;
    });
    const { head, rest } = splitHead(data)!;
    expect(head).toMatch(/^HTTP\/1\.1 101 /);
    expect(head).toContain(`Sec-WebSocket-Accept: ${SAMPLE_ACCEPT}\r\n`);
    expect(parseServerFrames(rest).frames[0]).toEqual({ fin: true, opcode: 0x1, payload: Buffer.from("hello") });
  });

  it("fails a connection with 1002 when the client sends an unmasked frame", async () => {
    const server = await start({ handler: echo });
    const client = await raw(server.port);
    client.socket.write(upgradeRequest("/", "127.0.0.1"));
    await client.until(5000, "the 101", (bytes) => splitHead(bytes) !== undefined);
    client.socket.write(Buffer.from([0x81, 0x02, 0x68, 0x69])); // "hi", not masked (§5.1)
    const data = await client.untilEnd(5000);
    const { frames } = parseServerFrames(splitHead(data)!.rest);
    expect(frames.map((frame) => [frame.opcode, closePayload(frame.payload).code])).toEqual([[0x8, 1002]]);
  });

  it("fails a connection with 1009 when a message is over maxMessageSize", async () => {
    let serverError: unknown;
    const server = await start({
      maxMessageSize: 4 * KiB,
      handler: async (ws) => {
        await echo(ws);
        serverError = await ws.closed.then(() => undefined, (error: unknown) => error);
      },
    });
    const peer = new Peer(`ws://127.0.0.1:${server.port}/`);
    await peer.opened;
    peer.socket.send("x".repeat(4 * KiB));
    await peer.received(1);
    peer.socket.send("x".repeat(4 * KiB + 1));
    expect((await within(5000, "the close", peer.closed)).code).toBe(1009);
    await eventually(2000, "the handler to see closed", () => serverError !== undefined);
    expect(serverError).toBeInstanceOf(WebSocketError);
    expect((serverError as WebSocketError).closeCode).toBe(1009);
  });

  it("closes the connection with 1011 when the handler throws", async () => {
    const server = await start({
      handler: () => {
        throw new Error("bug in the handler");
      },
    });
    const peer = new Peer(`ws://127.0.0.1:${server.port}/`);
    await peer.opened;
    expect(await within(5000, "the close", peer.closed)).toEqual({ code: 1011, reason: "handler failed" });
  });

  it("closes the connection with 1011 when the handler's promise rejects after messages", async () => {
    const server = await start({
      handler: async (ws) => {
        const { readable, writable } = await ws.opened;
        const reader = readable.getReader();
        const writer = writable.getWriter();
        const { value } = await reader.read();
        await writer.write(`got ${String(value)}`);
        throw new Error("bug after the first message");
      },
    });
    const peer = new Peer(`ws://127.0.0.1:${server.port}/`);
    await peer.opened;
    peer.socket.send("one");
    const [reply] = await peer.received(1);
    expect(reply!.data.toString()).toBe("got one");
    expect(await within(5000, "the close", peer.closed)).toEqual({ code: 1011, reason: "handler failed" });
  });

  it("close() delivers the messages written before it, closes every connection with 1001 and resolves", async () => {
    const written: Array<Promise<void>> = [];
    const connections: WebSocketStreamBase[] = [];
    const big = new Uint8Array(256 * KiB).map((_, i) => i % 253);
    let ready!: () => void;
    const allWritten = new Promise<void>((resolve) => (ready = resolve));
    const server = await start({
      handler: async (ws) => {
        const { writable } = await ws.opened;
        connections.push(ws);
        const writer = writable.getWriter();
        // Not awaited: close() must still send them first.
        written.push(writer.write("first"), writer.write(big), writer.write("last"));
        if (connections.length === 3) ready();
      },
    });
    const peers = [0, 1, 2].map(() => new Peer(`ws://127.0.0.1:${server.port}/`));
    await Promise.all(peers.map((peer) => peer.opened));
    await within(5000, "every handler to write", allWritten);

    await within(10_000, "server.close()", server.close());

    for (const peer of peers) {
      const close = await within(5000, "the close", peer.closed);
      expect(close).toEqual({ code: 1001, reason: "server closing" });
      expect(peer.messages.map((m) => (m.isBinary ? m.data.length : m.data.toString()))).toEqual(["first", big.length, "last"]);
      expect(peer.messages[1]!.data.equals(Buffer.from(big))).toBe(true);
    }
    for (const ws of connections) {
      // ws echoes the code and the reason of the Close it answers.
      expect(await within(1000, "closed on the server", ws.closed)).toEqual({ closeCode: 1001, reason: "server closing" });
    }
    await within(5000, "the writes to settle", Promise.all(written));

    // Nothing listens any more.
    const after = new WebSocketStream(`ws://127.0.0.1:${server.port}/`);
    expect(((await rejectionOf(after.opened, 5000, "opened")) as Error).cause).toMatchObject({ code: "ECONNREFUSED" });
  });

  it("close() drops connections still in the opening handshake", async () => {
    const server = await start({ handler: echo });
    const client = await raw(server.port);
    client.socket.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    await within(5000, "server.close()", server.close());
    expect(await client.untilEnd(5000)).toHaveLength(0);
  });

  it("close() resolves at once when no connection is open", async () => {
    const server = await start({ handler: echo });
    expect(await settlesWithin(server.close(), 1000)).toBe(true);
    const port = server.port;
    const ws = new WebSocketStream(`ws://127.0.0.1:${port}/`);
    await rejectionOf(ws.opened, 5000, "opened");
  });

  it("rejects when the port is taken", async () => {
    const server = await start({ handler: echo });
    await expect(within(5000, "serve()", serve({ port: server.port, handler: echo }))).rejects.toMatchObject({ code: "EADDRINUSE" });
  });

  it("sends keepalive pings that the client answers, and the connection stays open", async () => {
    let closed: Promise<unknown> | undefined;
    const server = await start({
      keepalive: { interval: 40, timeout: 500 },
      handler: async (ws) => {
        closed = ws.closed;
        await echo(ws);
      },
    });
    const peer = new Peer(`ws://127.0.0.1:${server.port}/`);
    let pings = 0;
    peer.socket.on("ping", () => pings++);
    await peer.opened;
    await eventually(5000, "three pings", () => pings >= 3);
    expect(await settlesWithin(closed!, 0)).toBe(false);
    peer.socket.close(1000);
    expect((await within(5000, "the close", peer.closed)).code).toBe(1000);
  });
});

describe("serve() with tls", () => {
  it("serves wss: to clients that trust the certificate", async () => {
    const server = await start({ tls: { key: certificate.key, cert: certificate.cert }, handler: echo });
    const ws = new WebSocketStream(`wss://localhost:${server.port}/`, { tls: { ca: certificate.ca } });
    const { readable, writable } = await within(5000, "the connection to open", ws.opened);
    const writer = writable.getWriter();
    await within(5000, "the write", writer.write("secret"));
    expect(await within(5000, "the echo", readable.getReader().read())).toEqual({ value: "secret", done: false });
    ws.close({ closeCode: 1000 });
    expect(await within(5000, "closed", ws.closed)).toEqual({ closeCode: 1000, reason: "" });

    const peer = new Peer(`wss://127.0.0.1:${server.port}/`, undefined, { ca: certificate.ca });
    await peer.opened;
    peer.socket.send(Buffer.alloc(100 * KiB, 7));
    const [echoed] = await peer.received(1);
    expect(echoed!.data.equals(Buffer.alloc(100 * KiB, 7))).toBe(true);
  });

  it("gives the upgrade hook an https: URL and the handler a wss: URL", async () => {
    const urls: string[] = [];
    const server = await start({
      tls: { key: certificate.key, cert: certificate.cert },
      upgrade: (request) => {
        urls.push(request.url);
      },
      handler: async (ws) => {
        urls.push(ws.url);
        await echo(ws);
      },
    });
    const peer = new Peer(`wss://localhost:${server.port}/x?y=1`, undefined, { ca: certificate.ca });
    await peer.opened;
    peer.socket.send("z");
    await peer.received(1);
    expect(urls).toEqual([`https://localhost:${server.port}/x?y=1`, `wss://localhost:${server.port}/x?y=1`]);
  });

  it("keeps serving after a client fails the TLS handshake", async () => {
    const server = await start({ tls: { key: certificate.key, cert: certificate.cert }, handler: echo });
    // A client that does not trust the certificate gives up during the TLS handshake.
    const refused = await within(5000, "the TLS handshake to fail", new Promise<Error | undefined>((resolve) => {
      const socket = tlsConnect({ host: "127.0.0.1", port: server.port }, () => resolve(undefined));
      socket.once("error", resolve);
    }));
    expect((refused as NodeJS.ErrnoException).code).toBe("DEPTH_ZERO_SELF_SIGNED_CERT");
    // Plain text to a TLS port is dropped too.
    const plain = await raw(server.port);
    plain.socket.write(upgradeRequest("/", "127.0.0.1"));
    await plain.untilEnd(5000);

    const peer = new Peer(`wss://localhost:${server.port}/`, undefined, { ca: certificate.ca });
    await peer.opened;
  });
});

describe("examples/echo-server/node.ts", () => {
  it("prints the port it bound with PORT=0, echoes text and binary unchanged and exits on SIGTERM", async () => {
    const example = await startExample("examples/echo-server/node.ts", { PORT: "0" }, /^listening on ws:\/\/127\.0\.0\.1:(\d+)$/);
    examples.push(example);
    const port = Number(example.match[1]);
    expect(port).toBeGreaterThan(0);
    expect(example.output()).toBe(`listening on ws://127.0.0.1:${port}\n`);

    const peer = new Peer(`ws://127.0.0.1:${port}/`);
    await peer.opened;
    const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    peer.socket.send("héllo, echo 🎉");
    peer.socket.send(binary);
    peer.socket.send("");
    peer.socket.send(Buffer.alloc(0));
    const large = Buffer.alloc(20 * 1024 * 1024, 0x5a);
    peer.socket.send(large);
    const received = await peer.received(5, 15_000);
    expect(received.slice(0, 4)).toEqual([
      { data: Buffer.from("héllo, echo 🎉"), isBinary: false },
      { data: binary, isBinary: true },
      { data: Buffer.alloc(0), isBinary: false },
      { data: Buffer.alloc(0), isBinary: true },
    ]);
    // 20 MiB: over the core's 16 MiB default, under the example's 64 MiB limit.
    expect(received[4]!.isBinary).toBe(true);
    expect(received[4]!.data.equals(large)).toBe(true);

    // Our own client against it too.
    const ws = new WebSocketStream(`ws://127.0.0.1:${port}/`);
    const { readable, writable } = await within(5000, "the connection to open", ws.opened);
    await within(5000, "the write", writable.getWriter().write(new Uint8Array([1, 2, 3])));
    const echoed = await within(5000, "the echo", readable.getReader().read());
    expect(echoed.value).toEqual(new Uint8Array([1, 2, 3]));

    expect(await example.stop("SIGTERM", 10_000)).toBe(0);
    expect(await within(5000, "the close", peer.closed)).toEqual({ code: 1001, reason: "server closing" });
    expect(await within(5000, "closed", ws.closed)).toEqual({ closeCode: 1001, reason: "server closing" });
  });

  it("closes the connection when the peer closes, and exits on SIGINT", async () => {
    const example = await startExample("examples/echo-server/node.ts", { PORT: "0", HOST: "127.0.0.1" }, /^listening on ws:\/\/127\.0\.0\.1:(\d+)$/);
    examples.push(example);
    const peer = new Peer(`ws://127.0.0.1:${example.match[1]}/`);
    await peer.opened;
    peer.socket.close(4321, "bye");
    expect((await within(5000, "the close", peer.closed)).code).toBe(4321);
    expect(await example.stop("SIGINT", 10_000)).toBe(0);
  });

  it("refuses a PORT that is not a port number", async () => {
    await expect(startExample("examples/echo-server/node.ts", { PORT: "http" }, /^listening/)).rejects.toThrow(/PORT must be an integer/);
  });
});

describe("serve() with reusePort", () => {
  it("lets two servers listen on the one port where Node has it, and throws a TypeError naming clusterServe() where not", async () => {
    const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
    const supported = major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
    if (!supported) {
      await expect(serve({ reusePort: true, handler: () => {} })).rejects.toThrow(/reusePort needs Node 22\.12 or later .*clusterServe\(\)/);
      return;
    }
    const first = await serve({ reusePort: true, handler: () => {} });
    const second = await serve({ port: first.port, reusePort: true, handler: () => {} }).catch(async (error: unknown) => {
      await first.close();
      throw error;
    });
    expect(second.port).toBe(first.port);
    await Promise.all([first.close(), second.close()]);
  });
});
