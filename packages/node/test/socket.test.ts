import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { socketToStreams, socketTransport } from "../src/socket.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

/** Sockets and servers opened by the current test, destroyed after it. */
const opened: Array<Socket | Server> = [];

afterEach(async () => {
  const handles = opened.splice(0);
  for (const handle of handles) if ("destroy" in handle) handle.destroy();
  for (const handle of handles) if (!("destroy" in handle)) handle.close();
});

/** `promise`, or a rejection naming `what` after `ms` milliseconds. */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
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

/** Whether `promise` settles within `ms` milliseconds. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const pending = Symbol("pending");
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise((resolve) => (timer = setTimeout(resolve, ms, pending)));
  const winner = await Promise.race([promise.then(() => "settled", () => "settled"), timeout]);
  clearTimeout(timer);
  return winner !== pending;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A loopback connection: `ours` (the socket under test) and the server's end, `peer`. */
interface Connection {
  readonly ours: Socket;
  readonly peer: Socket;
}

/**
 * Opens a loopback connection. Both ends allow half-open; the peer is not read from until a test
 * reads it, so it applies backpressure by default.
 */
async function openConnection(): Promise<Connection> {
  const server = createServer({ allowHalfOpen: true });
  opened.push(server);
  server.listen(0, "127.0.0.1");
  await within(2000, "the server to listen", once(server, "listening"));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("Expected a TCP address");
  const accepted = once(server, "connection") as Promise<[Socket]>;
  const ours = connect({ port: address.port, host: "127.0.0.1", allowHalfOpen: true });
  opened.push(ours);
  ours.setNoDelay(true);
  await within(2000, "the connection", once(ours, "connect"));
  const [peer] = await within(2000, "the server to accept", accepted);
  opened.push(peer);
  peer.setNoDelay(true);
  return { ours, peer };
}

/** Everything `socket` receives until its end. */
async function collectUntilEnd(socket: Socket, ms: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  await within(ms, "the peer to see the end", once(socket, "end"));
  return Buffer.concat(chunks);
}

/** Everything `readable` yields until it closes. */
async function readAll(readable: ReadableStream<Uint8Array>, ms: number): Promise<Buffer> {
  const reader = readable.getReader();
  const chunks: Uint8Array[] = [];
  const drain = async (): Promise<void> => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      chunks.push(value);
    }
  };
  await within(ms, "the readable to close", drain());
  return Buffer.concat(chunks);
}

/** Counts the bytes `readable` yields until it closes. */
async function countAll(readable: ReadableStream<Uint8Array>, ms: number): Promise<number> {
  const reader = readable.getReader();
  let total = 0;
  const drain = async (): Promise<void> => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      total += value.byteLength;
    }
  };
  await within(ms, "the readable to close", drain());
  return total;
}

/** Writes `bytes` through `writable` in chunks of varying size, then closes it. */
async function writeInChunks(writable: WritableStream<Uint8Array>, bytes: Uint8Array): Promise<void> {
  const writer = writable.getWriter();
  const sizes = [1, 7, 100, 1500, 16 * KiB, 64 * KiB + 3];
  for (let offset = 0, i = 0; offset < bytes.length; i++) {
    const size = sizes[i % sizes.length] ?? 1;
    await writer.write(bytes.subarray(offset, offset + size));
    offset += size;
  }
  await writer.close();
}

/**
 * Polls every 50 ms until `socket.bytesRead` stops growing (two equal readings), at most `ms`.
 * Returns the last reading.
 */
async function bytesReadOnceSettled(socket: Socket, ms: number): Promise<number> {
  const deadline = Date.now() + ms;
  let last = -1;
  while (Date.now() < deadline) {
    const now = socket.bytesRead;
    if (now === last) return now;
    last = now;
    await sleep(50);
  }
  throw new Error(`bytesRead kept growing for ${ms} ms: ${last}`);
}

/**
 * Calls `write` (which sends `bytes` bytes) until its promise stays pending for `quietMs`, at most
 * until `maxBytes` were accepted. Returns the bytes whose writes resolved and the pending write.
 */
async function writeUntilBlocked(
  write: () => Promise<void> | undefined,
  bytes: number,
  maxBytes: number,
  quietMs: number,
): Promise<{ accepted: number; pending: Promise<void> }> {
  let accepted = 0;
  while (accepted < maxBytes) {
    const pending = write();
    if (pending !== undefined) {
      if (!(await settlesWithin(pending, quietMs))) return { accepted, pending };
      await pending;
    }
    accepted += bytes;
  }
  throw new Error(`Writes never blocked: ${accepted} bytes accepted`);
}

/** A `write` for {@link writeUntilBlocked}: one 64 KiB chunk through `writer`. */
function writeChunkTo(writer: WritableStreamDefaultWriter<Uint8Array>): () => Promise<void> {
  const chunk = new Uint8Array(64 * KiB);
  return () => writer.write(chunk);
}

/** Collects unhandled rejections while `body` runs and for a moment after. */
async function unhandledRejectionsDuring(body: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const onRejection = (reason: unknown): void => void seen.push(reason);
  process.on("unhandledRejection", onRejection);
  try {
    await body();
    await sleep(100);
  } finally {
    process.off("unhandledRejection", onRejection);
  }
  return seen;
}

describe("socketToStreams", () => {
  it("round-trips 1 MiB of random bytes intact in both directions", async () => {
    const { ours, peer } = await openConnection();
    const { readable, writable } = socketToStreams(ours);
    const outgoing = randomBytes(MiB);
    const incoming = randomBytes(MiB);

    const peerReceived = collectUntilEnd(peer, 10_000);
    peer.end(incoming);
    const [received] = await Promise.all([readAll(readable, 10_000), writeInChunks(writable, outgoing)]);

    expect(Buffer.from(received).equals(incoming)).toBe(true);
    expect((await peerReceived).equals(outgoing)).toBe(true);
  });

  it("hands out plain Uint8Array views, not Node Buffers", async () => {
    const { ours, peer } = await openConnection();
    const { readable } = socketToStreams(ours);
    peer.end(Buffer.from("hello"));

    const reader = readable.getReader();
    const { value } = await within(2000, "a chunk", reader.read());

    expect(Object.getPrototypeOf(value)).toBe(Uint8Array.prototype);
    expect(new TextDecoder().decode(value)).toBe("hello");
  });

  it("pauses the socket when nobody reads, so a 64 MiB burst from the peer backs up at the peer", async () => {
    const { ours, peer } = await openConnection();
    const { readable } = socketToStreams(ours);
    const chunk = Buffer.alloc(MiB, 0x61);
    const total = 64 * MiB;
    let peerCouldWriteMore = true;
    for (let sent = 0; sent < total; sent += chunk.byteLength) peerCouldWriteMore = peer.write(chunk);
    peer.end();

    const buffered = await bytesReadOnceSettled(ours, 5000);

    expect(ours.isPaused()).toBe(true);
    expect(buffered).toBeLessThan(2 * MiB);
    expect(peerCouldWriteMore).toBe(false);
    expect(peer.writableLength).toBeGreaterThan(32 * MiB);
    expect(await countAll(readable, 15_000)).toBe(total);
  }, 30_000);

  it("holds about readableHighWaterMark bytes before pausing the socket", async () => {
    const { ours, peer } = await openConnection();
    const highWaterMark = MiB;
    socketToStreams(ours, { readableHighWaterMark: highWaterMark });
    const chunk = Buffer.alloc(MiB, 0x62);
    for (let i = 0; i < 16; i++) peer.write(chunk);

    const buffered = await bytesReadOnceSettled(ours, 5000);

    expect(ours.isPaused()).toBe(true);
    expect(buffered).toBeGreaterThanOrEqual(highWaterMark);
    expect(buffered).toBeLessThan(highWaterMark + 512 * KiB);
  }, 15_000);

  it("stops resolving writes while the peer does not read, and resumes once it reads", async () => {
    const { ours, peer } = await openConnection();
    const writer = socketToStreams(ours).writable.getWriter();

    const { accepted, pending } = await writeUntilBlocked(writeChunkTo(writer), 64 * KiB, 256 * MiB, 300);

    expect(accepted).toBeGreaterThan(0);
    expect(ours.writableNeedDrain).toBe(true);
    expect(ours.writableLength).toBeLessThanOrEqual(ours.writableHighWaterMark + 64 * KiB);
    peer.resume();
    await within(5000, "the blocked write to resolve", pending);
  }, 20_000);

  it("closes the readable when the peer ends the stream", async () => {
    const { ours, peer } = await openConnection();
    const { readable } = socketToStreams(ours);
    peer.end(Buffer.from("last words"));

    expect((await readAll(readable, 2000)).toString()).toBe("last words");
  });

  it("half-closes on writable.close(): the peer sees the end and the readable keeps working", async () => {
    const { ours, peer } = await openConnection();
    const { readable, writable } = socketToStreams(ours);
    const peerReceived = collectUntilEnd(peer, 2000);

    const writer = writable.getWriter();
    await writer.write(Buffer.from("request"));
    await within(2000, "writable.close()", writer.close());

    expect(ours.writableFinished).toBe(true);
    expect((await peerReceived).toString()).toBe("request");
    expect(ours.destroyed).toBe(false);
    peer.end(Buffer.from("response after the half-close"));
    expect((await readAll(readable, 2000)).toString()).toBe("response after the half-close");
  });

  it("destroys the socket on readable.cancel() and errors the writable", async () => {
    const { ours, peer } = await openConnection();
    const { readable, writable } = socketToStreams(ours);
    const peerSawEnd = once(peer.resume(), "end");

    await readable.cancel(new Error("no longer interested"));

    expect(ours.destroyed).toBe(true);
    await within(2000, "the peer to see the end", peerSawEnd);
    await expect(writable.getWriter().write(Buffer.from("x"))).rejects.toThrow("no longer interested");
  });

  it("destroys the socket on writable.abort() and errors the readable with the reason", async () => {
    const { ours, peer } = await openConnection();
    const { readable, writable } = socketToStreams(ours);
    const peerSawEnd = once(peer.resume(), "end");
    const reader = readable.getReader();

    await writable.abort(new Error("giving up"));

    expect(ours.destroyed).toBe(true);
    await within(2000, "the peer to see the end", peerSawEnd);
    await expect(within(2000, "the read to fail", reader.read())).rejects.toThrow("giving up");
  });

  it("errors the readable and rejects a pending write when the peer resets, with no unhandled rejection", async () => {
    const { ours, peer } = await openConnection();
    const { readable, writable } = socketToStreams(ours);
    const reader = readable.getReader();
    const writer = writable.getWriter();

    const unhandled = await unhandledRejectionsDuring(async () => {
      const { pending } = await writeUntilBlocked(writeChunkTo(writer), 64 * KiB, 256 * MiB, 300);
      peer.resetAndDestroy();

      await expect(within(2000, "the pending write to fail", pending)).rejects.toMatchObject({ code: "ECONNRESET" });
      await expect(within(2000, "the read to fail", reader.read())).rejects.toMatchObject({ code: "ECONNRESET" });
      await expect(writer.write(Buffer.from("x"))).rejects.toMatchObject({ code: "ECONNRESET" });
    });

    expect(unhandled).toEqual([]);
  }, 20_000);

  it("errors the readable when the socket closes without an end", async () => {
    const { ours } = await openConnection();
    const { readable } = socketToStreams(ours);
    const reader = readable.getReader();

    ours.destroy();

    await expect(within(2000, "the read to fail", reader.read())).rejects.toThrow(
      "Socket closed before the end of the stream",
    );
  });

  it("sends the chunks of a burst of unawaited writes in order", async () => {
    const { ours, peer } = await openConnection();
    const writer = socketToStreams(ours).writable.getWriter();
    const peerReceived = collectUntilEnd(peer.resume(), 5000);
    const lines = Array.from({ length: 2000 }, (_, i) => `${i},`);

    const writes = lines.map((line) => writer.write(Buffer.from(line)));
    await within(5000, "the burst to be written and closed", Promise.all([...writes, writer.close()]));

    expect((await peerReceived).toString()).toBe(lines.join(""));
  });

  it("gives errored streams for a socket that is already destroyed", async () => {
    const { ours } = await openConnection();
    ours.destroy();
    await within(2000, "the socket to close", once(ours, "close"));

    const { readable, writable } = socketToStreams(ours);

    await expect(readable.getReader().read()).rejects.toThrow("Socket closed before the end of the stream");
    await expect(writable.getWriter().write(Buffer.from("x"))).rejects.toThrow("Socket closed");
  });

  it("sends writeBatch chunks in order and waits for drain when the socket is full", async () => {
    const { ours, peer } = await openConnection();
    const { writeBatch } = socketToStreams(ours);
    const parts = [Buffer.from("head|"), Buffer.from("body|"), Buffer.from("tail")];
    expect(writeBatch(parts)).toBeUndefined();

    const big = new Uint8Array(64 * KiB);
    const { pending } = await writeUntilBlocked(() => writeBatch([big, big]), 128 * KiB, 256 * MiB, 300);

    const received: Buffer[] = [];
    peer.on("data", (chunk: Buffer) => received.push(chunk));
    await within(5000, "the blocked batch to drain", pending);
    await within(2000, "the first bytes", once(peer, "data"));
    expect(Buffer.concat(received).subarray(0, 14).toString()).toBe("head|body|tail");
  }, 20_000);

  it("rejects a writeBatch on a destroyed socket", async () => {
    const { ours } = await openConnection();
    const { writeBatch } = socketToStreams(ours);
    ours.destroy();

    await expect(writeBatch([Buffer.from("late")])).rejects.toThrow("Socket closed before the end of the stream");
  });
});

describe("socketTransport", () => {
  it("reads every chunk in order and then null at the end", async () => {
    const { ours, peer } = await openConnection();
    const transport = socketTransport(ours);
    const sent = randomBytes(1 * MiB);
    peer.end(sent);
    const received: Buffer[] = [];
    for (;;) {
      const chunk = await within(2000, "a chunk", transport.read());
      if (chunk === null) break;
      received.push(Buffer.from(chunk));
    }
    expect(Buffer.concat(received).equals(sent)).toBe(true);
    expect(await transport.read()).toBeNull();
  });

  it("pauses the socket while nobody reads and resumes when the queue drains", async () => {
    const { ours, peer } = await openConnection();
    const transport = socketTransport(ours, { readableHighWaterMark: 64 * KiB });
    const total = 32 * MiB;
    peer.write(Buffer.alloc(total));
    const held = await bytesReadOnceSettled(ours, 3000);
    expect(held).toBeLessThan(4 * MiB);
    let got = 0;
    while (got < total) {
      const chunk = await within(2000, "a chunk", transport.read());
      if (chunk === null) break;
      got += chunk.length;
    }
    expect(got).toBe(total);
  });

  it("writes batches in order, waits for drain when the peer does not read, and half-closes", async () => {
    const { ours, peer } = await openConnection();
    const transport = socketTransport(ours);
    const chunk = Buffer.alloc(64 * KiB, 7);
    const { accepted, pending } = await writeUntilBlocked(() => transport.write([chunk, chunk]), 2 * chunk.length, 256 * MiB, 200);
    expect(accepted).toBeLessThan(64 * MiB);
    const received = collectUntilEnd(peer, 10_000);
    await within(10_000, "drain", pending);
    await within(10_000, "end", transport.end());
    expect((await received).length).toBe(accepted + 2 * chunk.length);
  });

  it("released() resolves at once when nothing is held, and after the held writes otherwise", async () => {
    const { ours, peer } = await openConnection();
    const transport = socketTransport(ours);
    await within(2000, "released() with nothing written", transport.released!());
    const chunk = Buffer.alloc(64 * KiB, 7);
    const { accepted, pending } = await writeUntilBlocked(() => transport.write([chunk, chunk]), 2 * chunk.length, 256 * MiB, 200);
    // Node still holds the chunks of the stalled write: the release comes once it holds none.
    expect(ours.writableLength).toBeGreaterThan(0);
    const heldAtRelease = transport.released!().then(() => ours.writableLength);
    const received = collectUntilEnd(peer, 10_000);
    expect(await within(10_000, "released()", heldAtRelease)).toBe(0);
    await within(10_000, "drain", pending);
    await within(10_000, "end", transport.end());
    expect((await received).length).toBe(accepted + 2 * chunk.length);
  });

  it("released() rejects once the socket is destroyed", async () => {
    const { ours } = await openConnection();
    const transport = socketTransport(ours);
    transport.destroy(new Error("gone"));
    await expect(within(2000, "released()", transport.released!())).rejects.toThrow("gone");
  });

  it("rejects a pending read when the peer resets the connection", async () => {
    const { ours, peer } = await openConnection();
    const transport = socketTransport(ours);
    const reading = transport.read();
    peer.resetAndDestroy();
    await expect(within(2000, "the read", reading)).rejects.toBeDefined();
  });

  it("destroy() ends the socket and a later write rejects", async () => {
    const { ours } = await openConnection();
    const transport = socketTransport(ours);
    transport.destroy(new Error("done"));
    await within(2000, "close", once(ours, "close"));
    await expect(transport.write([Buffer.from("late")]) ?? Promise.resolve()).rejects.toBeDefined();
  });

  it("destroy() with a reason that is not an Error rejects later writes with an error carrying it", async () => {
    const { ours } = await openConnection();
    const transport = socketTransport(ours);
    transport.destroy("gone");
    await within(2000, "close", once(ours, "close"));
    const error = await (transport.write([Buffer.from("late")]) ?? Promise.resolve()).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ message: "The transport was destroyed", cause: "gone" });
  });

  it("destroy() with an Error rejects later writes with that Error", async () => {
    const { ours } = await openConnection();
    const transport = socketTransport(ours);
    const reason = new Error("done");
    transport.destroy(reason);
    await within(2000, "close", once(ours, "close"));
    await expect(transport.write([Buffer.from("late")]) ?? Promise.resolve()).rejects.toBe(reason);
  });
});
