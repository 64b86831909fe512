import { afterEach, describe, expect, it } from "vitest";
import { type WebSocketStreamBase, WebSocketError } from "@wsstream/core";
import { WebSocketStream, type WebSocketStreamOptions } from "../src/client.ts";
import { handleConnection, serve, type ServeOptions, type Server } from "../src/server.ts";
import { runCleanups, startProgram } from "./fixtures/helpers.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

// A self-signed certificate for localhost and 127.0.0.1, made once with
//   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -days 3650 -nodes \
//     -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
//     -addext basicConstraints=critical,CA:FALSE -keyout localhost-key.pem -out localhost-cert.pem
// (rustls refuses a certificate marked as a CA as the server's own: CaUsedAsEndEntity).
const cert = Deno.readTextFileSync(new URL("./fixtures/localhost-cert.pem", import.meta.url));
const key = Deno.readTextFileSync(new URL("./fixtures/localhost-key.pem", import.meta.url));

/** Servers, clients and connections opened by the current test, closed after it. */
const servers: Server[] = [];
const closers: Array<() => void> = [];

afterEach(async () => {
  for (const close of closers.splice(0)) {
    try {
      close();
    } catch {
      // Closed by the test.
    }
  }
  await within(15_000, "the servers to close", Promise.all(servers.splice(0).map((server) => server.close())));
  await runCleanups();
});

/** `promise`, or a rejection naming `what` after `ms` milliseconds. */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether `promise` settles within `ms` milliseconds. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const pending = Symbol("pending");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise((resolve) => (timer = setTimeout(resolve, ms, pending)));
  const winner = await Promise.race([promise.then(() => "settled", () => "settled"), timeout]);
  clearTimeout(timer);
  return winner !== pending;
}

/** Echoes every message until the readable ends. */
async function echo(ws: WebSocketStreamBase): Promise<void> {
  const { readable, writable } = await ws.opened;
  const writer = writable.getWriter();
  try {
    for await (const message of readable as unknown as AsyncIterable<string | Uint8Array>) await writer.write(message);
  } catch {
    // The connection failed; `closed` says why.
  }
}

async function startServer(options: Partial<ServeOptions> = {}): Promise<Server> {
  const server = await serve({ handler: echo, ...options });
  servers.push(server);
  return server;
}

function connect(url: string, options: WebSocketStreamOptions = {}): WebSocketStream {
  const ws = new WebSocketStream(url, options);
  closers.push(() => ws.close());
  return ws;
}

/** A server whose handler hands each connection to the test. */
async function startCapturingServer(options: Partial<ServeOptions> = {}) {
  const accepted: Array<{ ws: WebSocketStreamBase; request: Request }> = [];
  let notify: (() => void) | undefined;
  const server = await startServer({
    ...options,
    handler: (ws, request) => {
      accepted.push({ ws, request });
      notify?.();
    },
  });
  const next = async (): Promise<{ ws: WebSocketStreamBase; request: Request }> => {
    while (accepted.length === 0) await within(5000, "a connection", new Promise<void>((resolve) => (notify = resolve)));
    return accepted.shift()!;
  };
  return { server, next };
}

/** Sends `message` and reads the next message back. */
async function roundTrip(
  writer: WritableStreamDefaultWriter<string | BufferSource>,
  reader: ReadableStreamDefaultReader<string | Uint8Array>,
  message: string | Uint8Array<ArrayBuffer>,
): Promise<string | Uint8Array> {
  await within(5000, "the write", writer.write(message));
  const { value, done } = await within(5000, "the echo", reader.read());
  if (done) throw new Error("The connection ended before the echo");
  return value;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

function patterned(length: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + 7) & 0xff;
  return bytes;
}

/** A handshake request written by hand, for reading the server's raw answer. */
function upgradeRequest(port: number, target: string): Uint8Array {
  return new TextEncoder().encode(
    `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  );
}

/** Sends a handshake request over a raw connection and reads the answer until the server closes. */
async function rawHandshake(port: number, target: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  closers.push(() => conn.close());
  await conn.write(upgradeRequest(port, target));
  const chunks: string[] = [];
  const decoder = new TextDecoder();
  const readAll = async (): Promise<void> => {
    const buffer = new Uint8Array(4096);
    for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
      chunks.push(decoder.decode(buffer.subarray(0, n), { stream: true }));
    }
  };
  await within(5000, "the server to answer and close", readAll());
  return chunks.join("");
}

describe("serve() with our WebSocketStream client", () => {
  it("echoes text with multi-byte UTF-8, every byte value, empty messages and boundary lengths intact", async () => {
    const server = await startServer();
    const ws = connect(`ws://127.0.0.1:${server.port}/`);
    const { readable, writable } = await within(5000, "the handshake", ws.opened);
    const reader = readable.getReader();
    const writer = writable.getWriter();

    const texts = ["héllo wörld", "日本語のテキスト", "emoji 🎉🚀 and 𝄞", "", "x".repeat(125), "é".repeat(65_536)];
    for (const message of texts) expect(await roundTrip(writer, reader, message)).toBe(message);

    const allBytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    const lengths = [0, 1, 125, 126, 127, 65_535, 65_536, MiB];
    for (const message of [allBytes, ...lengths.map(patterned)]) {
      const echoed = await roundTrip(writer, reader, message);
      expect(echoed).toBeInstanceOf(Uint8Array);
      expect(sameBytes(echoed as Uint8Array, message)).toBe(true);
    }
  }, 30_000);

  // The side that answers a Close echoes its code without the reason (RFC 6455 §5.5.1), so the
  // side that closed first sees the code only.
  it("delivers the client's close code and reason to the server, and the server's echo of the code to the client", async () => {
    const { server, next } = await startCapturingServer();
    const ws = connect(`ws://127.0.0.1:${server.port}/`);
    await within(5000, "the handshake", ws.opened);
    const { ws: serverSide } = await next();
    void serverSide.opened.then(({ readable }) => readable.pipeTo(new WritableStream()));

    ws.close({ closeCode: 4000, reason: "client says bye" });

    expect(await within(5000, "the server to close", serverSide.closed)).toEqual({ closeCode: 4000, reason: "client says bye" });
    expect(await within(5000, "the client to close", ws.closed)).toEqual({ closeCode: 4000, reason: "" });
  });

  it("delivers the server's close code and reason to the client, and the client's echo of the code to the server", async () => {
    const { server, next } = await startCapturingServer();
    const ws = connect(`ws://127.0.0.1:${server.port}/`);
    const { readable } = await within(5000, "the handshake", ws.opened);
    void readable.pipeTo(new WritableStream()).catch(() => undefined);
    const { ws: serverSide } = await next();

    serverSide.close({ closeCode: 4001, reason: "server says bye" });

    expect(await within(5000, "the client to close", ws.closed)).toEqual({ closeCode: 4001, reason: "server says bye" });
    expect(await within(5000, "the server to close", serverSide.closed)).toEqual({ closeCode: 4001, reason: "" });
  });

  it("closes with 1011 when the handler throws", async () => {
    const server = await startServer({
      handler: () => {
        throw new Error("handler bug");
      },
    });
    const ws = connect(`ws://127.0.0.1:${server.port}/`);
    const { readable } = await within(5000, "the handshake", ws.opened);
    void readable.pipeTo(new WritableStream()).catch(() => undefined);

    expect(await within(5000, "the close", ws.closed)).toEqual({ closeCode: 1011, reason: "handler failed" });
  });

  it("passes the request to the upgrade hook and the handler, and agrees on the subprotocol it picks", async () => {
    const seen: string[] = [];
    const { server, next } = await startCapturingServer({
      upgrade: (request) => {
        seen.push(request.headers.get("sec-websocket-protocol") ?? "");
        return { protocol: "chat.v2", headers: { "x-served-by": "deno" } };
      },
    });
    const ws = connect(`ws://127.0.0.1:${server.port}/room?id=7`, { protocols: ["chat.v1", "chat.v2"] });

    const { protocol } = await within(5000, "the handshake", ws.opened);
    const { request } = await next();

    expect(protocol).toBe("chat.v2");
    expect(seen).toEqual(["chat.v1, chat.v2"]);
    expect(request.url).toBe(`http://127.0.0.1:${server.port}/room?id=7`);
  });

  it("sends the upgrade hook's Response, status and body, to a refused client", async () => {
    const server = await startServer({
      upgrade: () => new Response("go away", { status: 403, headers: { "x-reason": "testing" } }),
    });

    const answer = await rawHandshake(server.port, "/");

    expect(answer).toMatch(/^HTTP\/1\.1 403 /);
    expect(answer).toMatch(/\r\nx-reason: testing\r\n/i);
    expect(answer.endsWith("\r\n\r\ngo away")).toBe(true);
    const ws = connect(`ws://127.0.0.1:${server.port}/`);
    const error = await within(5000, "the refusal", ws.opened.then(() => undefined, (reason: unknown) => reason));
    expect(error).toBeInstanceOf(WebSocketError);
    expect(((error as WebSocketError).cause as { status?: number }).status).toBe(403);
  });

  it("answers 404 to a request for another path, and upgrades the path it serves whatever the query", async () => {
    const server = await startServer({ path: "/chat" });

    expect(await rawHandshake(server.port, "/other")).toMatch(/^HTTP\/1\.1 404 /);
    const ws = connect(`ws://127.0.0.1:${server.port}/chat?user=1`);
    await within(5000, "the handshake", ws.opened);
  });

  it("closes every connection with 1001 on close(), and resolves once they are closed", async () => {
    const server = await serve({ handler: echo });
    const clients = [connect(`ws://127.0.0.1:${server.port}/`), connect(`ws://127.0.0.1:${server.port}/`)];
    for (const ws of clients) {
      const { readable } = await within(5000, "the handshake", ws.opened);
      void readable.pipeTo(new WritableStream()).catch(() => undefined);
    }

    await within(5000, "server.close()", server.close());

    for (const ws of clients) {
      expect(await within(5000, "the client to close", ws.closed)).toEqual({ closeCode: 1001, reason: "server closing" });
    }
    await expect(Deno.connect({ hostname: "127.0.0.1", port: server.port })).rejects.toBeInstanceOf(Deno.errors.ConnectionRefused);
  });

  it("returns the same promise from a second close()", async () => {
    const server = await serve({ handler: echo });

    const first = server.close();

    expect(server.close()).toBe(first);
    await within(5000, "server.close()", first);
  });

  it("closes connections still in the opening handshake on close()", async () => {
    const server = await serve({ handler: echo });
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    closers.push(() => conn.close());

    await within(5000, "server.close()", server.close());

    expect(await within(2000, "the end of input", conn.read(new Uint8Array(16)))).toBeNull();
  });

  it("stalls the server's writes while the client does not read, rather than buffering without bound", async () => {
    const message = new Uint8Array(64 * KiB);
    let accepted = 0;
    let stalled: Promise<void> | undefined;
    let sawStall: (() => void) | undefined;
    const stall = new Promise<void>((resolve) => (sawStall = resolve));
    const server = await startServer({
      handler: async (ws) => {
        const writer = (await ws.opened).writable.getWriter();
        while (accepted < 256 * MiB) {
          const write = writer.write(message);
          if (!(await settlesWithin(write, 500))) {
            stalled = write;
            sawStall?.();
            return;
          }
          accepted += message.byteLength;
        }
      },
    });
    const ws = connect(`ws://127.0.0.1:${server.port}/`);
    const { readable } = await within(5000, "the handshake", ws.opened);

    await within(15_000, "the server's writes to stall", stall);

    expect(accepted).toBeLessThan(32 * MiB);
    let received = 0;
    const reader = readable.getReader();
    while (received < accepted + message.byteLength) {
      const { value, done } = await within(5000, "a message", reader.read());
      if (done) break;
      received += (value as Uint8Array).byteLength;
    }
    expect(received).toBe(accepted + message.byteLength);
    await within(5000, "the stalled write to resolve", stalled!);
  }, 30_000);

  it("stalls the client's writes while the server does not read, rather than buffering without bound", async () => {
    const { server, next } = await startCapturingServer();
    const ws = connect(`ws://127.0.0.1:${server.port}/`);
    const writer = (await within(5000, "the handshake", ws.opened)).writable.getWriter();
    const { ws: serverSide } = await next();
    const message = new Uint8Array(64 * KiB);

    let accepted = 0;
    let stalled: Promise<void> | undefined;
    while (stalled === undefined && accepted < 256 * MiB) {
      const write = writer.write(message);
      if (await settlesWithin(write, 500)) accepted += message.byteLength;
      else stalled = write;
    }

    expect(stalled).toBeDefined();
    expect(accepted).toBeLessThan(32 * MiB);
    const reader = (await serverSide.opened).readable.getReader();
    let received = 0;
    while (received < accepted + message.byteLength) {
      const { value, done } = await within(5000, "a message", reader.read());
      if (done) break;
      received += (value as Uint8Array).byteLength;
    }
    expect(received).toBe(accepted + message.byteLength);
    await within(5000, "the stalled write to resolve", stalled!);
  }, 30_000);

  it("serves wss: with a certificate the client trusts through caCerts", async () => {
    const { server, next } = await startCapturingServer({ tls: { cert, key } });
    const ws = connect(`wss://127.0.0.1:${server.port}/secure`, { tls: { caCerts: [cert] } });

    const { readable, writable } = await within(5000, "the TLS handshake", ws.opened);
    const { ws: serverSide, request } = await next();
    void echo(serverSide);

    expect(request.url).toBe(`https://127.0.0.1:${server.port}/secure`);
    const echoed = await roundTrip(writable.getWriter(), readable.getReader(), "over TLS");
    expect(echoed).toBe("over TLS");
  });

  it("keeps serving wss: after a client that does not trust the certificate fails", async () => {
    const server = await startServer({ tls: { cert, key } });

    const untrusting = connect(`wss://127.0.0.1:${server.port}/`);
    await expect(within(5000, "the failed handshake", untrusting.opened)).rejects.toBeInstanceOf(WebSocketError);
    const trusting = connect(`wss://localhost:${server.port}/`, { tls: { caCerts: [cert] } });
    await within(5000, "the TLS handshake", trusting.opened);
  });
});

describe("serve() with Deno's built-in WebSocket client", () => {
  /** Opens Deno's `WebSocket` and collects what it receives. */
  async function denoClient(url: string) {
    const socket = new WebSocket(url);
    closers.push(() => socket.close());
    socket.binaryType = "arraybuffer";
    const messages: Array<string | ArrayBuffer> = [];
    let notify: (() => void) | undefined;
    socket.onmessage = (event) => {
      messages.push(event.data);
      notify?.();
    };
    const closed = new Promise<CloseEvent>((resolve) => socket.addEventListener("close", resolve));
    await within(5000, "the WebSocket to open", new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = reject;
    }));
    const next = async (): Promise<string | ArrayBuffer> => {
      while (messages.length === 0) await within(5000, "a message", new Promise<void>((resolve) => (notify = resolve)));
      return messages.shift()!;
    };
    return { socket, next, closed };
  }

  it("exchanges text and binary messages with it", async () => {
    const server = await startServer();
    const { socket, next } = await denoClient(`ws://127.0.0.1:${server.port}/`);

    socket.send("héllo from Deno 🦕");
    expect(await next()).toBe("héllo from Deno 🦕");
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    socket.send(bytes);
    expect(new Uint8Array((await next()) as ArrayBuffer)).toEqual(bytes);
    const big = patterned(MiB);
    socket.send(big);
    expect(sameBytes(new Uint8Array((await next()) as ArrayBuffer), big)).toBe(true);
  });

  it("closes cleanly, the server seeing the code and reason it sends and it the code echoed", async () => {
    const { server, next: nextConnection } = await startCapturingServer();
    const { socket, closed } = await denoClient(`ws://127.0.0.1:${server.port}/`);
    const { ws } = await nextConnection();
    void ws.opened.then(({ readable }) => readable.pipeTo(new WritableStream()));

    socket.close(4002, "deno client done");

    expect(await within(5000, "the server to close", ws.closed)).toEqual({ closeCode: 4002, reason: "deno client done" });
    const event = await within(5000, "the close event", closed);
    expect([event.code, event.reason, event.wasClean]).toEqual([4002, "", true]);
  });

  it("sees 1001 when the server closes", async () => {
    const server = await serve({ handler: echo });
    const { closed } = await denoClient(`ws://127.0.0.1:${server.port}/`);

    await within(5000, "server.close()", server.close());

    const event = await within(5000, "the close event", closed);
    expect([event.code, event.reason]).toEqual([1001, "server closing"]);
  });
});

describe("handleConnection()", () => {
  it("serves a connection accepted by the application's own listener", async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    closers.push(() => listener.close());
    const accepting = listener.accept().then((conn) => handleConnection(conn, { handler: echo }));
    const ws = connect(`ws://127.0.0.1:${listener.addr.port}/`);

    const { readable, writable } = await within(5000, "the handshake", ws.opened);

    expect(await within(5000, "handleConnection()", accepting)).toBeDefined();
    expect(await roundTrip(writable.getWriter(), readable.getReader(), "hand-made")).toBe("hand-made");
  });

  it("resolves undefined and closes the connection when the upgrade is refused", async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    closers.push(() => listener.close());
    const accepting = listener.accept().then((conn) => handleConnection(conn, { handler: echo, path: "/only" }));

    const answer = await rawHandshake(listener.addr.port, "/elsewhere");

    expect(answer).toMatch(/^HTTP\/1\.1 404 /);
    expect(await within(5000, "handleConnection()", accepting)).toBeUndefined();
  });

  it("serves a Deno.TlsConn as wss:", async () => {
    const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
    closers.push(() => listener.close());
    let url = "";
    const accepting = listener.accept().then((conn) =>
      handleConnection(conn, {
        handler: echo,
        upgrade: (request) => {
          url = request.url;
        },
      })
    );
    const ws = connect(`wss://localhost:${listener.addr.port}/tls`, { tls: { caCerts: [cert] } });

    await within(5000, "the TLS handshake", ws.opened);
    await within(5000, "handleConnection()", accepting);

    expect(url).toBe(`https://localhost:${listener.addr.port}/tls`);
  });
});

describe("serve() with reusePort", () => {
  it("lets two processes accept connections on the one port", async () => {
    const args = ["run", "--allow-net", "--allow-env=PORT", "--unstable-net", "--conditions=wsstream-source", "--config", "packages/deno/deno.json", "packages/deno/test/fixtures/reuse-port.ts"];
    const first = await startProgram(args, { PORT: "0" });
    const port = /^listening (\d+)$/.exec(first.line)![1]!;
    const second = await startProgram(args, { PORT: port });
    expect(second.line).toBe(`listening ${port}`);
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

  it("is refused with tls, which has no such option", async () => {
    await expect(serve({ reusePort: true, tls: { cert, key }, handler: () => {} })).rejects.toThrow(TypeError);
  });
});
