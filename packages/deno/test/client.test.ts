import { afterEach, describe, expect, it } from "vitest";
import { WebSocketError } from "@wsstream/core";
import { openSocket, WebSocketStream, type WebSocketStreamOptions } from "../src/client.ts";

const MiB = 1024 * 1024;

// The self-signed certificate of server.test.ts (see there for how it was made).
const cert = Deno.readTextFileSync(new URL("./fixtures/localhost-cert.pem", import.meta.url));
const key = Deno.readTextFileSync(new URL("./fixtures/localhost-key.pem", import.meta.url));

/** Servers, clients and connections opened by the current test, closed after it. */
const cleanups: Array<() => unknown> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      await within(10_000, "a cleanup", Promise.resolve(cleanup()));
    } catch {
      // Closed by the test.
    }
  }
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

function connect(url: string, options: WebSocketStreamOptions = {}): WebSocketStream {
  const ws = new WebSocketStream(url, options);
  cleanups.push(() => ws.close());
  return ws;
}

/** What a Deno.serve server's WebSocket saw. */
interface DenoPeer {
  readonly messages: Array<string | ArrayBuffer>;
  readonly closed: Promise<CloseEvent>;
  readonly socket: WebSocket;
}

/**
 * A [`Deno.serve`](https://docs.deno.com/api/deno/~/Deno.serve) server upgrading with
 * [`Deno.upgradeWebSocket`](https://docs.deno.com/api/deno/~/Deno.upgradeWebSocket); `onOpen`
 * gets each server-side socket, which echoes by default.
 */
function startDenoServer(
  options: { tls?: boolean; protocol?: string; refuse?: Response } = {},
  onOpen: (peer: DenoPeer) => void = () => {},
): { port: number } {
  const handler = (request: Request): Response => {
    if (options.refuse !== undefined) return options.refuse;
    const { socket, response } = Deno.upgradeWebSocket(request, options.protocol === undefined ? {} : { protocol: options.protocol });
    socket.binaryType = "arraybuffer";
    const messages: Array<string | ArrayBuffer> = [];
    const closed = new Promise<CloseEvent>((resolve) => socket.addEventListener("close", resolve));
    socket.onmessage = (event) => {
      messages.push(event.data);
      socket.send(event.data);
    };
    socket.onopen = () => onOpen({ messages, closed, socket });
    cleanups.push(() => socket.close());
    return response;
  };
  const listen = { hostname: "127.0.0.1", port: 0, onListen: () => {} };
  const server = options.tls ? Deno.serve({ ...listen, cert, key }, handler) : Deno.serve(listen, handler);
  cleanups.push(() => server.shutdown());
  return { port: server.addr.port };
}

function patterned(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + 7) & 0xff;
  return bytes;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The reason `promise` rejects with (failing if it resolves). */
async function rejection(promise: Promise<unknown>, what: string): Promise<unknown> {
  return within(5000, what, promise.then(() => {
    throw new Error(`Expected ${what} to fail`);
  }, (reason: unknown) => reason));
}

describe("WebSocketStream against Deno.serve with Deno.upgradeWebSocket", () => {
  it("exchanges text and binary messages, every byte value and 1 MiB intact", async () => {
    const { port } = startDenoServer();
    const ws = connect(`ws://127.0.0.1:${port}/`);
    const { readable, writable } = await within(5000, "the handshake", ws.opened);
    const reader = readable.getReader();
    const writer = writable.getWriter();

    await writer.write("grüße 🦕");
    expect((await within(5000, "the text echo", reader.read())).value).toBe("grüße 🦕");
    for (const bytes of [Uint8Array.from({ length: 256 }, (_, i) => i), patterned(MiB), new Uint8Array(0)]) {
      await writer.write(bytes);
      const { value } = await within(5000, "the binary echo", reader.read());
      expect(value).toBeInstanceOf(Uint8Array);
      expect(sameBytes(value as Uint8Array, bytes)).toBe(true);
    }
  });

  it("agrees on the subprotocol the server picks", async () => {
    const { port } = startDenoServer({ protocol: "chat.v2" });
    const ws = connect(`ws://127.0.0.1:${port}/`, { protocols: ["chat.v1", "chat.v2"] });

    expect((await within(5000, "the handshake", ws.opened)).protocol).toBe("chat.v2");
  });

  // Deno's WebSocket echoes the reason with the code (RFC 6455 §5.5.1 asks only for the code).
  it("sends its close code and reason to the server and sees them echoed", async () => {
    let peer: DenoPeer | undefined;
    const { port } = startDenoServer({}, (opened) => (peer = opened));
    const ws = connect(`ws://127.0.0.1:${port}/`);
    await within(5000, "the handshake", ws.opened);

    ws.close({ closeCode: 4000, reason: "client says bye" });

    expect(await within(5000, "the client to close", ws.closed)).toEqual({ closeCode: 4000, reason: "client says bye" });
    const event = await within(5000, "the server's close event", peer!.closed);
    expect([event.code, event.reason, event.wasClean]).toEqual([4000, "client says bye", true]);
  });

  it("sees the close code and reason the server closes with", async () => {
    const { port } = startDenoServer({}, ({ socket }) => socket.close(4001, "server says bye"));
    const ws = connect(`ws://127.0.0.1:${port}/`);
    const { readable } = await within(5000, "the handshake", ws.opened);
    void readable.pipeTo(new WritableStream()).catch(() => undefined);

    expect(await within(5000, "the client to close", ws.closed)).toEqual({ closeCode: 4001, reason: "server says bye" });
  });

  it("connects over wss: to a server whose certificate it trusts through caCerts", async () => {
    const { port } = startDenoServer({ tls: true });
    const ws = connect(`wss://localhost:${port}/`, { tls: { caCerts: [cert] } });
    const { readable, writable } = await within(5000, "the TLS handshake", ws.opened);

    await writable.getWriter().write("secret");

    expect((await within(5000, "the echo", readable.getReader().read())).value).toBe("secret");
  });

  it("rejects opened when the server's certificate is not trusted", async () => {
    const { port } = startDenoServer({ tls: true });
    const ws = connect(`wss://localhost:${port}/`);

    const error = await rejection(ws.opened, "the TLS handshake");

    expect(error).toBeInstanceOf(WebSocketError);
    expect((error as WebSocketError).closeCode).toBe(1006);
    await expect(within(5000, "closed", ws.closed)).rejects.toBe(error);
  });

  it("rejects opened with the status when the server refuses the upgrade", async () => {
    const { port } = startDenoServer({ refuse: new Response("nope", { status: 403 }) });
    const ws = connect(`ws://127.0.0.1:${port}/`);

    const error = await rejection(ws.opened, "the refused handshake");

    expect(error).toBeInstanceOf(WebSocketError);
    expect(((error as WebSocketError).cause as { status?: number }).status).toBe(403);
  });
});

describe("WebSocketStream connecting", () => {
  it("rejects opened when nothing listens on the port", async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const { port } = listener.addr;
    listener.close();
    const ws = connect(`ws://127.0.0.1:${port}/`);

    const error = await rejection(ws.opened, "the refused connection");

    expect(error).toBeInstanceOf(WebSocketError);
    expect((error as WebSocketError).cause).toBeInstanceOf(Deno.errors.ConnectionRefused);
  });

  it("rejects opened with the signal's reason when it aborts while connecting", async () => {
    // A listener that never accepts, whose backlog is full: the next connect hangs.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0, tcpBacklog: 1 });
    cleanups.push(() => listener.close());
    const { port } = listener.addr;
    for (let i = 0; i < 16; i++) {
      const attempt = Deno.connect({ hostname: "127.0.0.1", port });
      const conn = await Promise.race([attempt, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 300))]);
      if (conn === undefined) {
        cleanups.push(() => void attempt.then((late) => late.close(), () => undefined));
        break;
      }
      cleanups.push(() => conn.close());
    }
    const controller = new AbortController();
    const reason = new Error("gave up waiting");
    const ws = connect(`ws://127.0.0.1:${port}/`, { signal: controller.signal });

    setTimeout(() => controller.abort(reason), 100);

    const error = await rejection(ws.opened, "the aborted connect");

    expect(error).toBeInstanceOf(WebSocketError);
    expect((error as WebSocketError).cause).toBe(reason);
  });

  it("rejects opened with the signal's reason when it aborts while the response is pending, and closes the connection", async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    cleanups.push(() => listener.close());
    const accepted = listener.accept();
    const controller = new AbortController();
    const reason = new Error("too slow");
    const ws = connect(`ws://127.0.0.1:${listener.addr.port}/`, { signal: controller.signal });
    const silent = await within(5000, "the connection", accepted);
    cleanups.push(() => silent.close());
    const request = new Uint8Array(4096);
    expect(await within(5000, "the request", silent.read(request))).toBeGreaterThan(0);

    controller.abort(reason);

    const error = await rejection(ws.opened, "the aborted handshake");
    expect((error as WebSocketError).cause).toBe(reason);
    expect(await within(5000, "the end of input", silent.read(request))).toBeNull();
  });

  it("rejects at once when the signal is already aborted", async () => {
    const reason = new Error("never mind");
    const ws = connect("ws://127.0.0.1:9/", { signal: AbortSignal.abort(reason) });

    const error = await rejection(ws.opened, "the aborted handshake");

    expect(error).toBeInstanceOf(WebSocketError);
    expect((error as WebSocketError).cause).toBe(reason);
  });
});

describe("openSocket", () => {
  it("opens a transport to the URL's host and port", async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    cleanups.push(() => listener.close());
    const accepted = listener.accept();

    const transport = await within(5000, "the connection", openSocket(new URL(`ws://127.0.0.1:${listener.addr.port}/`), undefined, new AbortController().signal));
    const peer = await accepted;
    cleanups.push(() => peer.close());
    await transport.write([new TextEncoder().encode("ping")]);
    const buffer = new Uint8Array(16);
    const n = await within(5000, "the peer's read", peer.read(buffer));
    await peer.write(new TextEncoder().encode("pong"));

    expect(new TextDecoder().decode(buffer.subarray(0, n ?? 0))).toBe("ping");
    expect(new TextDecoder().decode((await within(5000, "the reply", transport.read())) ?? undefined)).toBe("pong");
    transport.destroy();
  });
});
