import { afterEach, describe, expect, it } from "vitest";
import { WebSocketStream, type WebSocketStreamOptions } from "../src/client.ts";
import { type Handler, serve, type ServeOptions, type Server } from "../src/server.ts";
import {
  certificate,
  closeOpened,
  KiB,
  MiB,
  pattern,
  rawConnect,
  readChunks,
  rejectionOf,
  sameBytes,
  settlesWithin,
  sleep,
  startExample,
  track,
  upgradeRequest,
  within,
} from "./fixtures/helpers.ts";

afterEach(closeOpened);

/** Every message comes back unchanged, until the peer closes. */
const echo: Handler = async (ws) => {
  const { readable, writable } = await ws.opened;
  await readable.pipeTo(writable).catch(() => {});
};

/** Starts a server on a free port; closed after the test. */
async function start(options: Partial<ServeOptions> = {}): Promise<Server> {
  const server = await within(2000, "the server to listen", serve({ handler: echo, ...options }));
  track(() => void server.close());
  return server;
}

/** A client, open, with a reader and a writer; closed after the test. */
async function open(url: string, options?: WebSocketStreamOptions) {
  const ws = new WebSocketStream(url, options);
  track(() => ws.close());
  const { readable, writable, protocol } = await within(5000, "the client to open", ws.opened);
  return { ws, protocol, reader: readable.getReader(), writer: writable.getWriter() };
}

type Client = Awaited<ReturnType<typeof open>>;

/** Sends `message` and returns what comes back. */
async function roundTrip(client: Client, message: string | Uint8Array): Promise<string | Uint8Array> {
  await within(5000, "the write", client.writer.write(message));
  const { done, value } = await within(5000, "the echo", client.reader.read());
  if (done) throw new Error("The connection closed before the echo");
  return value;
}

/** Resolves with `count()` once it stays the same for `quietMs` (it stalled). */
async function stallCount(count: () => number, quietMs: number): Promise<number> {
  for (let last = -1; ;) {
    const now = count();
    if (now === last) return now;
    last = now;
    await sleep(quietMs);
  }
}

/** A promise and the function that resolves it. */
function signal<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe("serve", () => {
  it("listens on 127.0.0.1 by default and reports the port it bound", async () => {
    const server = await start();
    expect(server.hostname).toBe("127.0.0.1");
    expect(server.port).toBeGreaterThan(0);
  });

  it("echoes text with multi-byte UTF-8 as text", async () => {
    const server = await start();
    const client = await open(`ws://127.0.0.1:${server.port}/`);
    for (const text of ["héllo", "日本語のテキスト", "emoji 🌍🚀 and 𝄞", "\u0000nul", "a\u2028b"]) {
      expect(await roundTrip(client, text)).toBe(text);
    }
  });

  it("echoes binary with all 256 byte values as binary", async () => {
    const server = await start();
    const client = await open(`ws://127.0.0.1:${server.port}/`);
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    const back = await roundTrip(client, bytes);
    expect(back).toBeInstanceOf(Uint8Array);
    expect([...(back as Uint8Array)]).toEqual([...bytes]);
  });

  it("echoes empty text as text and empty binary as binary", async () => {
    const server = await start();
    const client = await open(`ws://127.0.0.1:${server.port}/`);
    expect(await roundTrip(client, "")).toBe("");
    const back = await roundTrip(client, new Uint8Array(0));
    expect(back).toBeInstanceOf(Uint8Array);
    expect((back as Uint8Array).byteLength).toBe(0);
  });

  it("echoes messages of 125, 126, 127, 65535 and 65536 bytes, the edges of each length encoding", async () => {
    const server = await start();
    const client = await open(`ws://127.0.0.1:${server.port}/`);
    for (const length of [125, 126, 127, 65535, 65536]) {
      const bytes = pattern(length, length);
      const back = await roundTrip(client, bytes);
      expect((back as Uint8Array).byteLength).toBe(length);
      expect(sameBytes(back as Uint8Array, bytes)).toBe(true);
      const text = "x".repeat(length - 1) + "é".slice(0, 1);
      expect(await roundTrip(client, text)).toBe(text);
    }
  });

  it("echoes a 1 MiB message intact", async () => {
    const server = await start();
    const client = await open(`ws://127.0.0.1:${server.port}/`);
    const bytes = pattern(MiB, 11);
    const back = await roundTrip(client, bytes);
    expect(sameBytes(back as Uint8Array, bytes)).toBe(true);
  });

  it("gives the handler the client's close code and reason, and the client the echoed code", async () => {
    const seen = signal<unknown>();
    const server = await start({
      handler: async (ws) => {
        await echo(ws, new Request("http://unused"));
        seen.resolve(await ws.closed);
      },
    });
    const client = await open(`ws://127.0.0.1:${server.port}/`);
    client.ws.close({ closeCode: 4000, reason: "client done ✓" });
    expect(await within(5000, "the handler to see the close", seen.promise)).toEqual({ closeCode: 4000, reason: "client done ✓" });
    const closed = await within(5000, "the client to close", client.ws.closed);
    expect(closed.closeCode).toBe(4000);
  });

  it("delivers a close the handler starts, with its code and reason, to the client", async () => {
    const serverClosed = signal<unknown>();
    const server = await start({
      handler: async (ws) => {
        await ws.opened;
        ws.close({ closeCode: 4001, reason: "server done" });
        serverClosed.resolve(await ws.closed);
      },
    });
    const client = await open(`ws://127.0.0.1:${server.port}/`);
    expect(await within(5000, "the readable to end", client.reader.read())).toEqual({ done: true, value: undefined });
    expect(await within(5000, "the client to close", client.ws.closed)).toEqual({ closeCode: 4001, reason: "server done" });
    expect(await within(5000, "the server to close", serverClosed.promise)).toMatchObject({ closeCode: 4001 });
  });

  it("serves Bun's built-in WebSocket client: text as text, binary as binary, and its close", async () => {
    const seen = signal<unknown>();
    const server = await start({
      handler: async (ws) => {
        await echo(ws, new Request("http://unused"));
        seen.resolve(await ws.closed);
      },
    });
    const socket = new WebSocket(`ws://127.0.0.1:${server.port}/chat`);
    track(() => socket.close());
    socket.binaryType = "arraybuffer";
    const messages: unknown[] = [];
    const gotTwo = signal();
    socket.onmessage = (event) => {
      messages.push(event.data);
      if (messages.length === 2) gotTwo.resolve();
    };
    await within(5000, "Bun's WebSocket to open", new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = reject;
    }));
    socket.send("héllo from Bun");
    socket.send(Uint8Array.from([0, 1, 2, 254, 255]));
    await within(5000, "both echoes", gotTwo.promise);
    expect(messages[0]).toBe("héllo from Bun");
    expect([...new Uint8Array(messages[1] as ArrayBuffer)]).toEqual([0, 1, 2, 254, 255]);
    const closed = new Promise<CloseEvent>((resolve) => (socket.onclose = resolve));
    socket.close(4002, "bye");
    const event = await within(5000, "Bun's WebSocket to close", closed);
    expect(event.code).toBe(4002);
    expect(event.wasClean).toBe(true);
    expect(await within(5000, "the handler to see the close", seen.promise)).toEqual({ closeCode: 4002, reason: "bye" });
  });

  it("answers a refused upgrade with the hook's Response: status, headers and body reach the client", async () => {
    let handled = false;
    const server = await start({
      upgrade: () => new Response("go away", { status: 403, headers: { "x-reason": "nope" } }),
      handler: () => {
        handled = true;
      },
    });
    const peer = await rawConnect(server.port);
    peer.socket!.write(upgradeRequest("/", `127.0.0.1:${server.port}`));
    await peer.until(5000, "the refusal and the end", () => peer.ended || peer.closed);
    const [head, body] = peer.text().split("\r\n\r\n");
    expect(head).toMatch(/^HTTP\/1\.1 403 /);
    expect(head).toMatch(/\r\nx-reason: nope(\r\n|$)/i);
    expect(body).toBe("go away");

    const ws = new WebSocketStream(`ws://127.0.0.1:${server.port}/`);
    const reason = await rejectionOf(ws.opened, 5000, "the client's opened");
    expect((reason as { cause?: { status?: number } }).cause?.status).toBe(403);
    expect(handled).toBe(false);
  });

  it("passes the request to the upgrade hook and agrees the subprotocol it picks", async () => {
    const requests: Request[] = [];
    const server = await start({
      upgrade: (request) => {
        requests.push(request);
        return { protocol: "two", headers: { "x-hello": "yes" } };
      },
    });
    const client = await open(`ws://127.0.0.1:${server.port}/room/7?user=ann`, { protocols: ["one", "two"] });
    expect(client.protocol).toBe("two");
    expect(requests).toHaveLength(1);
    const url = new URL(requests[0]!.url);
    expect(url.pathname).toBe("/room/7");
    expect(url.searchParams.get("user")).toBe("ann");
    expect(requests[0]!.headers.get("sec-websocket-protocol")).toBe("one, two");
  });

  it("answers 404 to a path other than `path`, and upgrades that path whatever its query", async () => {
    const server = await start({ path: "/ws" });
    const peer = await rawConnect(server.port);
    peer.socket!.write(upgradeRequest("/other", `127.0.0.1:${server.port}`));
    await peer.until(5000, "the 404 and the end", () => peer.ended || peer.closed);
    expect(peer.text()).toMatch(/^HTTP\/1\.1 404 /);
    const client = await open(`ws://127.0.0.1:${server.port}/ws?x=1`);
    expect(await roundTrip(client, "in")).toBe("in");
  });

  it("closes every connection with 1001 on close(), resolves once they are closed, then accepts no more", async () => {
    const server = await serve({ handler: echo });
    const first = await open(`ws://127.0.0.1:${server.port}/`);
    const second = await open(`ws://127.0.0.1:${server.port}/`);
    await within(10_000, "server.close()", server.close());
    for (const client of [first, second]) {
      expect(await within(5000, "the client to close", client.ws.closed)).toMatchObject({ closeCode: 1001 });
    }
    const late = new WebSocketStream(`ws://127.0.0.1:${server.port}/`);
    await rejectionOf(late.opened, 5000, "a connection after close()");
  });

  it("closes the connection with 1011 when the handler throws", async () => {
    const server = await start({
      handler: () => {
        throw new Error("handler bug");
      },
    });
    const client = await open(`ws://127.0.0.1:${server.port}/`);
    expect(await within(5000, "the client to close", client.ws.closed)).toMatchObject({ closeCode: 1011 });
  });

  it("stalls a client's writes while the handler does not read, then delivers every message", async () => {
    const startReading = signal();
    const received = signal<number>();
    const message = pattern(256 * KiB, 12);
    const server = await start({
      handler: async (ws) => {
        const { readable } = await ws.opened;
        await startReading.promise;
        const messages = await readChunks(readable, 30_000);
        if (!messages.every((value) => sameBytes(value as Uint8Array, message))) throw new Error("A message arrived changed");
        received.resolve(messages.length);
      },
    });
    const client = await open(`ws://127.0.0.1:${server.port}/`);
    let written = 0;
    let stop = false;
    // The plain producer: await each write, never yield otherwise.
    const writing = (async () => {
      while (!stop && written * message.length < 256 * MiB) {
        await client.writer.write(message);
        written++;
      }
    })();
    const stalledAt = await within(20_000, "the writes to stall", stallCount(() => written, 500));
    // Kernel buffers, the server's socket and message queues, and the client's writable queue:
    // all bounded, far below what an unbounded buffer would take in.
    expect(stalledAt * message.length).toBeLessThan(64 * MiB);
    stop = true;
    startReading.resolve();
    await within(20_000, "the pending write", writing);
    client.ws.close({ closeCode: 1000, reason: "sent all" });
    expect(await within(20_000, "the handler to read everything", received.promise)).toBe(written);
  });

  it("sends 8 MiB messages to a client that reads late, intact", async () => {
    const big = pattern(8 * MiB, 13);
    const sent = signal();
    const server = await start({
      maxMessageSize: 16 * MiB,
      handler: async (ws) => {
        const writer = (await ws.opened).writable.getWriter();
        for (let i = 0; i < 4; i++) await writer.write(big);
        sent.resolve();
      },
    });
    const client = await open(`ws://127.0.0.1:${server.port}/`, { maxMessageSize: 16 * MiB });
    // 32 MiB do not fit in the kernel's buffers and the bounded queues: the handler must wait.
    expect(await settlesWithin(sent.promise, 500)).toBe(false);
    for (let i = 0; i < 4; i++) {
      const { value } = await within(10_000, "a big message", client.reader.read());
      expect(sameBytes(value as Uint8Array, big)).toBe(true);
    }
    await within(10_000, "the server's writes", sent.promise);
  });

  it("serves wss: with a certificate the client trusts", async () => {
    const server = await start({ tls: { key: certificate.key, cert: certificate.cert } });
    const client = await open(`wss://localhost:${server.port}/`, { tls: { ca: certificate.ca } });
    expect(await roundTrip(client, "secure ✓")).toBe("secure ✓");
    const bytes = pattern(MiB, 14);
    expect(sameBytes(await roundTrip(client, bytes) as Uint8Array, bytes)).toBe(true);
    client.ws.close({ closeCode: 1000, reason: "done" });
    expect(await within(5000, "the client to close", client.ws.closed)).toMatchObject({ closeCode: 1000 });
  });

  it("drops a client that fails the TLS handshake and keeps serving the others", async () => {
    const server = await start({ tls: { key: certificate.key, cert: certificate.cert } });
    const peer = await rawConnect(server.port);
    peer.socket!.write(upgradeRequest("/", `127.0.0.1:${server.port}`));
    await peer.until(5000, "the plain-text client to be dropped", () => peer.closed || peer.ended);
    const untrusting = new WebSocketStream(`wss://localhost:${server.port}/`);
    await rejectionOf(untrusting.opened, 5000, "a client that does not trust the certificate");
    const client = await open(`wss://localhost:${server.port}/`, { tls: { ca: certificate.ca } });
    expect(await roundTrip(client, "still serving")).toBe("still serving");
  });

  it("rejects serve() when the port is taken", async () => {
    const server = await start();
    await rejectionOf(serve({ port: server.port, handler: echo }), 2000, "a second serve() on the same port");
  });

  it("keeps a connection that is still in its opening handshake from blocking close()", async () => {
    const server = await serve({ handler: echo });
    const peer = await rawConnect(server.port);
    peer.socket!.write("GET / HTTP/1.1\r\nHost: x\r\n");
    await sleep(50);
    await within(5000, "server.close()", server.close());
    await peer.until(5000, "the half-sent handshake to be dropped", () => peer.ended || peer.closed);
  });
});

describe("serve() with reusePort", () => {
  it("lets two processes accept connections on the one port", async () => {
    const first = await startExample("packages/bun/test/fixtures/reuse-port.ts", { PORT: "0" }, /^listening (\d+)$/);
    const port = first.match[1]!;
    const second = await startExample("packages/bun/test/fixtures/reuse-port.ts", { PORT: port }, /^listening (\d+)$/);
    expect(second.match[1]).toBe(port);
    // The kernel spreads connections by their addresses: a few reach both processes.
    const pids = new Set<string>();
    for (let i = 0; i < 50 && pids.size < 2; i++) {
      const client = new WebSocket(`ws://127.0.0.1:${port}/`);
      pids.add(await within(5000, "the server's pid", new Promise<string>((resolve, reject) => {
        client.onmessage = (event) => resolve(String(event.data));
        client.onerror = () => reject(new Error("the connection failed"));
      })));
      client.close();
    }
    expect(pids.size).toBe(2);
  });
});
