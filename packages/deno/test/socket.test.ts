import type { Transport } from "@wsstream/core";
import { afterEach, describe, expect, it } from "vitest";
import { connTransport, socketToStreams } from "../src/socket.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

/** Connections and listeners opened by the current test, closed after it. */
const opened: Array<{ close(): void }> = [];

afterEach(() => {
  for (const handle of opened.splice(0)) {
    try {
      handle.close();
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

/** Whether `promise` settles within `ms` milliseconds. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const pending = Symbol("pending");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise((resolve) => (timer = setTimeout(resolve, ms, pending)));
  const winner = await Promise.race([promise.then(() => "settled", () => "settled"), timeout]);
  clearTimeout(timer);
  return winner !== pending;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A loopback connection: `ours` (the connection under test) and the server's end, `peer`. */
interface Connection {
  readonly ours: Deno.TcpConn;
  readonly peer: Deno.TcpConn;
}

/** Opens a loopback connection. The peer is not read from until a test reads it. */
async function openConnection(): Promise<Connection> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  opened.push(listener);
  const accepted = listener.accept();
  const ours = await within(2000, "the connection", Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }));
  opened.push(ours);
  const peer = await within(2000, "the server to accept", accepted);
  opened.push(peer);
  ours.setNoDelay(true);
  peer.setNoDelay(true);
  return { ours, peer };
}

/** `conn` with a count of the bytes read through it, for checking what the streams pulled. */
function countingReads(conn: Deno.Conn): { conn: Deno.Conn; bytesRead: () => number } {
  let total = 0;
  const counted = Object.create(conn, {
    read: {
      value: async (buffer: Uint8Array) => {
        const n = await conn.read(buffer);
        total += n ?? 0;
        return n;
      },
    },
    write: { value: (bytes: Uint8Array) => conn.write(bytes) },
    closeWrite: { value: () => conn.closeWrite() },
    close: { value: () => conn.close() },
  }) as Deno.Conn;
  return { conn: counted, bytesRead: () => total };
}

/** `conn` whose `write()` takes at most `max` bytes per call, as a busy socket may. */
function partialWrites(conn: Deno.Conn, max: number): Deno.Conn {
  return Object.create(conn, {
    read: { value: (buffer: Uint8Array) => conn.read(buffer) },
    write: { value: (bytes: Uint8Array) => conn.write(bytes.subarray(0, max)) },
    closeWrite: { value: () => conn.closeWrite() },
    close: { value: () => conn.close() },
  }) as Deno.Conn;
}

/** Everything `transport` reads until the end of input, as the chunks it handed out. */
async function readChunks(transport: Transport, ms: number): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  const drain = async (): Promise<void> => {
    for (let chunk = await transport.read(); chunk !== null; chunk = await transport.read()) chunks.push(chunk);
  };
  await within(ms, "the end of input", drain());
  return chunks;
}

/** Reads from `transport` until `length` bytes arrived; returns the chunks. */
async function readBytes(transport: Transport, length: number, ms: number): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  const drain = async (): Promise<void> => {
    for (let got = 0; got < length;) {
      const chunk = await transport.read();
      if (chunk === null) throw new Error(`The input ended after ${got} of ${length} bytes`);
      chunks.push(chunk);
      got += chunk.byteLength;
    }
  };
  await within(ms, `${length} bytes`, drain());
  return chunks;
}

/** Everything `conn` receives until the end of input. */
async function readConnUntilEnd(conn: Deno.Conn, ms: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const drain = async (): Promise<void> => {
    for (;;) {
      const buffer = new Uint8Array(64 * KiB);
      const n = await conn.read(buffer);
      if (n === null) return;
      chunks.push(buffer.subarray(0, n));
    }
  };
  await within(ms, "the peer to see the end", drain());
  return concat(chunks);
}

/** Everything `readable` yields until it closes. */
async function readAll(readable: ReadableStream<Uint8Array>, ms: number): Promise<Uint8Array> {
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
  return concat(chunks);
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

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/** Whether `a` and `b` hold the same bytes (`toEqual` is far too slow for megabytes). */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

function randomBytes(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let offset = 0; offset < length; offset += 65536) crypto.getRandomValues(bytes.subarray(offset, offset + 65536));
  return bytes;
}

function text(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

function utf8(value: string): Uint8Array {
  return new TextEncoder().encode(value);
}

/** Writes every byte of `bytes` to `conn`. */
async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let offset = 0; offset < bytes.byteLength;) offset += await conn.write(bytes.subarray(offset));
}

/** Writes every byte of `bytes` to `conn`, then half-closes it. */
async function sendAndEnd(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  await writeAll(conn, bytes);
  await conn.closeWrite();
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
 * Polls every 50 ms until `read()` stops growing (two equal readings), at most `ms`. Returns the
 * last reading.
 */
async function settledCount(read: () => number, ms: number): Promise<number> {
  const deadline = Date.now() + ms;
  let last = -1;
  while (Date.now() < deadline) {
    const now = read();
    if (now === last) return now;
    last = now;
    await sleep(50);
  }
  throw new Error(`The count kept growing for ${ms} ms: ${last}`);
}

/**
 * Calls `write` (which sends `bytes` bytes) until its promise stays pending for `quietMs`, at most
 * until `maxBytes` were accepted. Returns the bytes whose writes resolved and the pending write.
 */
async function writeUntilBlocked(
  write: () => Promise<unknown>,
  bytes: number,
  maxBytes: number,
  quietMs: number,
): Promise<{ accepted: number; pending: Promise<unknown> }> {
  let accepted = 0;
  while (accepted < maxBytes) {
    const pending = write();
    if (!(await settlesWithin(pending, quietMs))) return { accepted, pending };
    await pending;
    accepted += bytes;
  }
  throw new Error(`Writes never blocked: ${accepted} bytes accepted`);
}

/** Collects unhandled rejections while `body` runs and for a moment after. */
async function unhandledRejectionsDuring(body: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const onRejection = (event: PromiseRejectionEvent): void => void seen.push(event.reason);
  globalThis.addEventListener("unhandledrejection", onRejection);
  try {
    await body();
    await sleep(100);
  } finally {
    globalThis.removeEventListener("unhandledrejection", onRejection);
  }
  return seen;
}

describe("socketToStreams", () => {
  it("round-trips 1 MiB of random bytes intact in both directions", async () => {
    const { ours, peer } = await openConnection();
    const { readable, writable } = socketToStreams(ours);
    const outgoing = randomBytes(MiB);
    const incoming = randomBytes(MiB);

    const peerReceived = readConnUntilEnd(peer, 10_000);
    const peerSent = sendAndEnd(peer, incoming);
    const [received] = await Promise.all([readAll(readable, 10_000), writeInChunks(writable, outgoing), peerSent]);

    expect(sameBytes(received, incoming)).toBe(true);
    expect(sameBytes(await peerReceived, outgoing)).toBe(true);
  });

  it("hands out plain Uint8Array views of the bytes received", async () => {
    const { ours, peer } = await openConnection();
    const { readable } = socketToStreams(ours);
    await sendAndEnd(peer, utf8("hello"));

    const { value } = await within(2000, "a chunk", readable.getReader().read());

    expect(Object.getPrototypeOf(value)).toBe(Uint8Array.prototype);
    expect(text(value!)).toBe("hello");
  });

  it("does not read the connection while nobody reads, so a 64 MiB burst from the peer backs up at the peer", async () => {
    const { ours, peer } = await openConnection();
    const { conn, bytesRead } = countingReads(ours);
    const { readable } = socketToStreams(conn);
    const total = 64 * MiB;
    const peerSent = sendAndEnd(peer, new Uint8Array(total).fill(0x61));

    const buffered = await settledCount(bytesRead, 5000);

    expect(buffered).toBeLessThan(256 * KiB);
    expect(await settlesWithin(peerSent, 200)).toBe(false);
    expect(await countAll(readable, 20_000)).toBe(total);
    await within(2000, "the peer's writes", peerSent);
  }, 30_000);

  it("reads up to about readableHighWaterMark bytes ahead of the reader", async () => {
    const { ours, peer } = await openConnection();
    const highWaterMark = MiB;
    const { conn, bytesRead } = countingReads(ours);
    const { readable } = socketToStreams(conn, { readableHighWaterMark: highWaterMark });
    const peerSent = sendAndEnd(peer, new Uint8Array(16 * MiB).fill(0x62));

    const buffered = await settledCount(bytesRead, 5000);

    expect(buffered).toBeGreaterThanOrEqual(highWaterMark);
    expect(buffered).toBeLessThan(highWaterMark + 64 * KiB);
    await readable.cancel();
    await peerSent.catch(() => undefined);
  }, 15_000);

  it("rejects a readableHighWaterMark that is not a positive number", async () => {
    const { ours } = await openConnection();

    expect(() => socketToStreams(ours, { readableHighWaterMark: 0 })).toThrow(RangeError);
  });

  it("stops resolving writes while the peer does not read, and resumes once it reads", async () => {
    const { ours, peer } = await openConnection();
    const writer = socketToStreams(ours).writable.getWriter();
    const chunk = new Uint8Array(64 * KiB);

    const { accepted, pending } = await writeUntilBlocked(() => writer.write(chunk), chunk.byteLength, 256 * MiB, 300);

    expect(accepted).toBeGreaterThan(0);
    expect(writer.desiredSize).toBeLessThanOrEqual(0);
    const peerReading = readConnUntilEnd(peer, 10_000);
    await within(5000, "the blocked write to resolve", pending);
    await writer.close();
    expect((await peerReading).byteLength).toBe(accepted + chunk.byteLength);
  }, 20_000);

  it("closes the readable when the peer ends the stream", async () => {
    const { ours, peer } = await openConnection();
    const { readable } = socketToStreams(ours);
    await sendAndEnd(peer, utf8("last words"));

    expect(text(await readAll(readable, 2000))).toBe("last words");
  });

  it("half-closes on writable.close(): the peer sees the end and the readable keeps working", async () => {
    const { ours, peer } = await openConnection();
    const { readable, writable } = socketToStreams(ours);
    const peerReceived = readConnUntilEnd(peer, 2000);

    const writer = writable.getWriter();
    await writer.write(utf8("request"));
    await within(2000, "writable.close()", writer.close());

    expect(text(await peerReceived)).toBe("request");
    await sendAndEnd(peer, utf8("response after the half-close"));
    expect(text(await readAll(readable, 2000))).toBe("response after the half-close");
  });

  it("closes the connection once both sides are done", async () => {
    const { ours, peer } = await openConnection();
    const { readable, writable } = socketToStreams(ours);

    await sendAndEnd(peer, utf8("done"));
    await readAll(readable, 2000);
    await writable.close();

    expect(() => ours.close()).toThrow(Deno.errors.BadResource);
  });

  it("closes the connection on readable.cancel() and errors the writable", async () => {
    const { ours, peer } = await openConnection();
    const { readable, writable } = socketToStreams(ours);

    await readable.cancel(new Error("no longer interested"));

    await readConnUntilEnd(peer, 2000);
    await expect(writable.getWriter().write(utf8("x"))).rejects.toThrow("no longer interested");
  });

  it("closes the connection on writable.abort() and errors the readable with the reason", async () => {
    const { ours, peer } = await openConnection();
    const { readable, writable } = socketToStreams(ours);
    const readFails = expect(within(2000, "the read to fail", readable.getReader().read())).rejects.toThrow("giving up");

    await writable.abort(new Error("giving up"));

    await readConnUntilEnd(peer, 2000);
    await readFails;
  });

  // Deno's read() reports a reset as the end of input, so the readable ends (or errors, if the
  // failed write is seen first) rather than always erroring as on Node.
  it("rejects a pending write and ends the readable when the peer resets, with no unhandled rejection", async () => {
    const { ours, peer } = await openConnection();
    const { readable, writable } = socketToStreams(ours);
    const reader = readable.getReader();
    const writer = writable.getWriter();
    const chunk = new Uint8Array(64 * KiB);

    const unhandled = await unhandledRejectionsDuring(async () => {
      const { pending } = await writeUntilBlocked(() => writer.write(chunk), chunk.byteLength, 256 * MiB, 300);
      // Closing with unread bytes in its receive buffer makes the peer's kernel send a reset.
      peer.close();

      await expect(within(2000, "the pending write to fail", pending)).rejects.toBeInstanceOf(Error);
      const read = reader.read().then(({ done }) => (done ? "ended" : "data"), () => "errored");
      expect(["ended", "errored"]).toContain(await within(2000, "the read to end", read));
      await expect(writer.write(utf8("x"))).rejects.toBeInstanceOf(Error);
    });

    expect(unhandled).toEqual([]);
  }, 20_000);

  it("sends the chunks of a burst of unawaited writes in order", async () => {
    const { ours, peer } = await openConnection();
    const writer = socketToStreams(ours).writable.getWriter();
    const peerReceived = readConnUntilEnd(peer, 5000);
    const lines = Array.from({ length: 2000 }, (_, i) => `${i},`);

    const writes = lines.map((line) => writer.write(utf8(line)));
    await within(5000, "the burst to be written and closed", Promise.all([...writes, writer.close()]));

    expect(text(await peerReceived)).toBe(lines.join(""));
  });

  it("writes all of a chunk larger than the socket takes in one call", async () => {
    const { ours, peer } = await openConnection();
    const writer = socketToStreams(ours).writable.getWriter();
    const big = randomBytes(16 * MiB);
    const peerReceived = readConnUntilEnd(peer, 10_000);

    await within(10_000, "the big write", writer.write(big));
    await writer.close();

    expect(sameBytes(await peerReceived, big)).toBe(true);
  }, 20_000);
});

describe("connTransport", () => {
  it("reads every chunk in order and then null at the end, again on every later read", async () => {
    const { ours, peer } = await openConnection();
    const transport = connTransport(ours);
    const sent = randomBytes(MiB);
    const peerSent = sendAndEnd(peer, sent);

    const chunks = await readChunks(transport, 10_000);

    expect(sameBytes(concat(chunks), sent)).toBe(true);
    expect(await within(2000, "a read after the end", transport.read())).toBeNull();
    await within(2000, "the peer's writes", peerSent);
  });

  it("reads the connection only when asked, so a 64 MiB burst from the peer backs up at the peer", async () => {
    const { ours, peer } = await openConnection();
    const { conn, bytesRead } = countingReads(ours);
    const transport = connTransport(conn);
    const total = 64 * MiB;
    const peerSent = sendAndEnd(peer, new Uint8Array(total).fill(0x61));
    await within(2000, "one read", transport.read());

    const held = await settledCount(bytesRead, 5000);

    expect(held).toBeLessThanOrEqual(64 * KiB);
    expect(await settlesWithin(peerSent, 200)).toBe(false);
    let got = held;
    for (let chunk = await transport.read(); chunk !== null; chunk = await within(5000, "a chunk", transport.read())) {
      got += chunk.byteLength;
    }
    expect(got).toBe(total);
    await within(2000, "the peer's writes", peerSent);
  }, 30_000);

  it("hands out chunks that no later read writes into", async () => {
    const { ours, peer } = await openConnection();
    const transport = connTransport(ours);
    const sent: Uint8Array[] = [];
    const received: Uint8Array[] = [];

    for (let i = 0; i < 200; i++) {
      const message = new Uint8Array(100 + i).fill(i);
      sent.push(message);
      await writeAll(peer, message);
      received.push(...await readBytes(transport, message.byteLength, 2000));
    }

    expect(sameBytes(concat(received), concat(sent))).toBe(true);
    // Several of those chunks share one buffer: it is handed out in regions.
    expect(new Set(received.map((chunk) => chunk.buffer)).size).toBeLessThan(received.length);
  });

  it("reads into the memory of a chunk given back with recycle(), and never into one kept", async () => {
    const { ours, peer } = await openConnection();
    const transport = connTransport(ours);
    const next = async (bytes: Uint8Array): Promise<Uint8Array> => {
      await writeAll(peer, bytes);
      const chunks = await readBytes(transport, bytes.byteLength, 2000);
      expect(chunks).toHaveLength(1);
      return chunks[0]!;
    };

    const first = await next(new Uint8Array(100).fill(1));
    transport.recycle!(first);
    const second = await next(new Uint8Array(100).fill(2));
    // The same memory: the first chunk's bytes are now the second's.
    expect(second.buffer).toBe(first.buffer);
    expect(second.byteOffset).toBe(first.byteOffset);
    expect(first.every((byte) => byte === 2)).toBe(true);

    // Kept (not given back): the next read lands after it, and it keeps its bytes.
    const third = await next(new Uint8Array(100).fill(3));
    expect(third.buffer).toBe(second.buffer);
    expect(third.byteOffset).toBe(second.byteOffset + second.byteLength);
    expect(second.every((byte) => byte === 2)).toBe(true);

    // Only the last chunk read can be given back: an older one changes nothing.
    transport.recycle!(second);
    const fourth = await next(new Uint8Array(100).fill(4));
    expect(fourth.byteOffset).toBe(third.byteOffset + third.byteLength);
    expect(second.every((byte) => byte === 2) && third.every((byte) => byte === 3)).toBe(true);
  });

  it("reads a long transfer into the same buffer while every chunk is given back", async () => {
    const { ours, peer } = await openConnection();
    const transport = connTransport(ours);
    const data = randomBytes(256 * KiB);
    // All of it waits in the kernel before the first read, so reads fill their buffers.
    await within(2000, "the peer's write", sendAndEnd(peer, data));
    const buffers: ArrayBufferLike[] = [];
    let received = 0;
    let matches = true;
    for (let chunk = await transport.read(); chunk !== null; chunk = await transport.read()) {
      matches &&= sameBytes(chunk, data.subarray(received, received + chunk.byteLength));
      received += chunk.byteLength;
      buffers.push(chunk.buffer);
      transport.recycle!(chunk);
    }

    expect(received).toBe(data.byteLength);
    expect(matches).toBe(true);
    // A new buffer only where the read size changed (reads that fill it double it, shorter ones
    // shrink it: how often depends on timing); otherwise every read lands in the same one.
    const changes = buffers.filter((buffer, i) => i > 0 && buffer !== buffers[i - 1]);
    const resized = buffers.filter((buffer, i) => i > 0 && buffer.byteLength !== buffers[i - 1]!.byteLength);
    expect(changes.length).toBe(resized.length);
    expect(new Set(buffers).size).toBeLessThan(buffers.length);
  }, 20_000);

  it("starts with a 4 KiB read buffer and doubles it while reads fill it, up to 64 KiB", async () => {
    const { ours, peer } = await openConnection();
    const transport = connTransport(ours);
    // All of it waits in the kernel before the first read, so every read can fill its buffer.
    await within(2000, "the peer's write", sendAndEnd(peer, randomBytes(256 * KiB)));

    const chunks = await readChunks(transport, 5000);
    const sizes = chunks.map((chunk) => chunk.buffer.byteLength);

    expect(sizes[0]).toBe(4 * KiB);
    expect(Math.max(...sizes)).toBe(64 * KiB);
    expect(Math.max(...chunks.map((chunk) => chunk.byteLength))).toBeLessThanOrEqual(64 * KiB);
    expect(sizes.slice(0, 5)).toEqual([4 * KiB, 8 * KiB, 16 * KiB, 32 * KiB, 64 * KiB]);
  });

  it("goes back to a small read buffer once the traffic is small again", async () => {
    const { ours, peer } = await openConnection();
    const transport = connTransport(ours);
    const burstSent = writeAll(peer, randomBytes(256 * KiB));
    const burst = await readBytes(transport, 256 * KiB, 5000);
    await within(2000, "the peer's burst", burstSent);
    expect(Math.max(...burst.map((chunk) => chunk.buffer.byteLength))).toBe(64 * KiB);

    await writeAll(peer, utf8("a"));
    await readBytes(transport, 1, 2000);
    await writeAll(peer, utf8("b"));
    const [quiet] = await readBytes(transport, 1, 2000);

    expect(text(quiet!)).toBe("b");
    expect(quiet!.buffer.byteLength).toBe(4 * KiB);
  });

  it("takes its read sizes from the options, and refuses sizes that make no sense", async () => {
    const { ours, peer } = await openConnection();
    const transport = connTransport(ours, { initialReadSize: 1024, maxReadSize: 2048 });
    await within(2000, "the peer's write", sendAndEnd(peer, randomBytes(64 * KiB)));

    const chunks = await readChunks(transport, 5000);

    expect(chunks[0]!.buffer.byteLength).toBe(1024);
    expect(Math.max(...chunks.map((chunk) => chunk.buffer.byteLength))).toBe(2048);
    expect(() => connTransport(ours, { initialReadSize: 0 })).toThrow(RangeError);
    expect(() => connTransport(ours, { initialReadSize: 8192, maxReadSize: 4096 })).toThrow(RangeError);
  });

  it("writes every chunk in full and in order when the connection takes part of each", async () => {
    const { ours, peer } = await openConnection();
    const transport = connTransport(partialWrites(ours, 1000));
    const big = randomBytes(300 * KiB);
    const small = [utf8("one,"), utf8("two,"), utf8("three")];
    const peerReceived = readConnUntilEnd(peer, 10_000);

    const first = transport.write([big]);
    const second = transport.write(small);
    await within(10_000, "both writes", Promise.all([first, second]));
    await within(2000, "end()", transport.end());

    expect(sameBytes(await peerReceived, concat([big, ...small]))).toBe(true);
  }, 20_000);

  it("resolves writes only once the connection took them, so a peer that does not read stalls them", async () => {
    const { ours, peer } = await openConnection();
    const transport = connTransport(ours);

    const chunk = new Uint8Array(64 * KiB).fill(7);

    const { accepted, pending } = await writeUntilBlocked(() => transport.write([chunk, chunk])!, 2 * chunk.byteLength, 256 * MiB, 300);

    expect(accepted).toBeLessThan(64 * MiB);
    // What a streamed send waits for before reusing its buffers: it comes after the stalled write.
    const order: string[] = [];
    const released = transport.released!().then(() => void order.push("released"));
    void pending.then(() => void order.push("write"));
    const peerReceived = readConnUntilEnd(peer, 10_000);
    await within(10_000, "the stalled write", pending);
    await within(2000, "released()", released);
    expect(order).toEqual(["write", "released"]);
    await within(2000, "end()", transport.end());
    expect((await peerReceived).byteLength).toBe(accepted + 2 * chunk.byteLength);
  }, 20_000);

  it("end() half-closes after the queued writes: the peer sees the end and we still read its reply", async () => {
    const { ours, peer } = await openConnection();
    const transport = connTransport(ours);
    const peerReceived = readConnUntilEnd(peer, 2000);

    void transport.write([utf8("request")]);
    await within(2000, "end()", transport.end());

    expect(text(await peerReceived)).toBe("request");
    await sendAndEnd(peer, utf8("response after the half-close"));
    expect(text(concat(await readChunks(transport, 2000)))).toBe("response after the half-close");
    // Both directions are done: the connection is closed, and reads still report the end.
    expect(() => ours.close()).toThrow(Deno.errors.BadResource);
    expect(await within(2000, "a read after the close", transport.read())).toBeNull();
    await expect(transport.write([utf8("late")])).rejects.toBeInstanceOf(Error);
  });

  it("destroy() closes the connection: a pending read and later writes reject with the reason", async () => {
    const { ours, peer } = await openConnection();
    const transport = connTransport(ours);
    const reading = transport.read();

    transport.destroy(new Error("done here"));

    await expect(within(2000, "the pending read", reading)).rejects.toThrow("done here");
    await expect(transport.write([utf8("late")])).rejects.toThrow("done here");
    await expect(transport.read()).rejects.toThrow("done here");
    await readConnUntilEnd(peer, 2000);
  });

  it("rejects a pending write when the peer resets, and ends or fails the reads, with no unhandled rejection", async () => {
    const { ours, peer } = await openConnection();
    const transport = connTransport(ours);
    const chunk = new Uint8Array(64 * KiB);

    const unhandled = await unhandledRejectionsDuring(async () => {
      const { pending } = await writeUntilBlocked(() => transport.write([chunk])!, chunk.byteLength, 256 * MiB, 300);
      // Closing with unread bytes in its receive buffer makes the peer's kernel send a reset.
      peer.close();

      await expect(within(2000, "the pending write to fail", pending)).rejects.toBeInstanceOf(Error);
      // Deno's read() may report the reset as the end of input.
      const read = transport.read().then((chunk) => (chunk === null ? "ended" : "data"), () => "failed");
      expect(["ended", "failed"]).toContain(await within(2000, "the read to end", read));
      await expect(transport.write([utf8("x")])).rejects.toBeInstanceOf(Error);
    });

    expect(unhandled).toEqual([]);
  }, 20_000);
});
