import type { TLSOptions } from "bun";
import { afterEach, describe, expect, it } from "vitest";
import { SocketStreams, type SocketStreamsOptions, SocketTransport, type SocketTransportOptions } from "../src/socket.ts";
import {
  certificate,
  closedPort,
  closeOpened,
  KiB,
  MiB,
  pattern,
  rawServer,
  readChunks,
  rejectionOf,
  sameBytes,
  settlesWithin,
  sleep,
  track,
  within,
} from "./fixtures/helpers.ts";

afterEach(closeOpened);

/** Our end: a `Bun.connect` socket as {@link SocketStreams}, open, closed after the test. */
async function connectStreams(port: number, options?: SocketStreamsOptions, tls?: TLSOptions): Promise<SocketStreams> {
  const streams = new SocketStreams(options);
  Bun.connect<SocketStreams | undefined>({
    hostname: "127.0.0.1",
    port,
    tls,
    allowHalfOpen: true,
    data: streams,
    socket: SocketStreams.handlers,
  }).catch(() => {});
  track(() => streams.socket?.terminate());
  await within(2000, "the socket to open", streams.opened);
  return streams;
}

/** A connection: our streams and the raw peer at the server's end (over TLS if `secure`). */
async function openPair(options?: SocketStreamsOptions, secure = false) {
  const server = rawServer(secure ? { tls: { key: certificate.key, cert: certificate.cert } } : {});
  const accepted = server.accepted();
  const ours = await connectStreams(server.port, options, secure ? { ca: certificate.ca } : undefined);
  const peer = await accepted;
  return { ours, peer };
}

/** Writes `bytes` through `writable` in chunks of varying size, then closes it. */
async function writeInChunks(writable: WritableStream<Uint8Array>, bytes: Uint8Array): Promise<void> {
  const writer = writable.getWriter();
  const sizes = [1, 7, 100, 1500, 16 * KiB, 64 * KiB + 3, 1 * MiB];
  for (let offset = 0, i = 0; offset < bytes.length; i++) {
    const size = sizes[i % sizes.length]!;
    await writer.write(bytes.subarray(offset, offset + size));
    offset += size;
  }
  await writer.close();
}

describe("SocketStreams", () => {
  it("carries 3 MiB each way intact, written in chunks of every size", async () => {
    const { ours, peer } = await openPair();
    const outgoing = pattern(3 * MiB, 1);
    const incoming = pattern(3 * MiB, 2);
    await within(10_000, "our writes", writeInChunks(ours.writable, outgoing));
    await peer.until(10_000, "the peer to receive everything", () => peer.received === outgoing.length);
    expect(sameBytes(peer.bytes(), outgoing)).toBe(true);
    await peer.writeAll(incoming, 10_000);
    peer.socket!.shutdown();
    const chunks = await readChunks(ours.readable, 10_000);
    expect(sameBytes(Buffer.concat(chunks), incoming)).toBe(true);
  });

  it("keeps every delivered chunk intact while later ones arrive, so no copy is needed", async () => {
    const { ours, peer } = await openPair();
    const sent = pattern(6 * MiB, 3);
    const reading = readChunks(ours.readable, 10_000);
    await peer.writeAll(sent, 10_000);
    peer.socket!.shutdown();
    const chunks = await reading;
    expect(chunks.length).toBeGreaterThan(1);
    // Had Bun reused a read buffer, an earlier chunk held here would now show later bytes.
    expect(sameBytes(Buffer.concat(chunks), sent)).toBe(true);
    expect(new Set(chunks.map((chunk) => chunk.buffer)).size).toBe(chunks.length);
  });

  it("pauses the socket while the readable is full, so the sender stalls, and loses nothing on resume", async () => {
    const { ours, peer } = await openPair({ readableHighWaterMark: 64 * KiB });
    const chunk = pattern(256 * KiB, 4);
    const limit = 256 * MiB;
    // Nobody reads `ours.readable`: only the kernel's buffers and our bounded queue take bytes.
    const taken = await within(20_000, "the sender to stall", peer.writeUntilBlocked(chunk, limit, 500));
    expect(taken).toBeLessThan(64 * MiB);
    const reading = readChunks(ours.readable, 20_000);
    let total = taken;
    while (total % chunk.length !== 0) {
      // Finish the partly taken chunk so the stream is whole chunks.
      const rest = chunk.subarray(total % chunk.length);
      await peer.writeAll(rest, 10_000);
      total += rest.length;
    }
    peer.socket!.shutdown();
    const received = Buffer.concat(await reading);
    expect(received.length).toBe(total);
    for (let offset = 0; offset < total; offset += chunk.length) {
      expect(sameBytes(received.subarray(offset, offset + chunk.length), chunk)).toBe(true);
    }
  });

  it("resolves a write only once the socket took every byte, finishing a partial write on drain", async () => {
    const { ours, peer } = await openPair();
    peer.socket!.pause();
    const big = pattern(16 * MiB, 5);
    const writer = ours.writable.getWriter();
    const write = writer.write(big);
    // The kernel's buffers hold a few MiB at most: the rest waits for the peer to read.
    expect(await settlesWithin(write, 300)).toBe(false);
    expect(peer.received).toBe(0);
    peer.socket!.resume();
    await within(10_000, "the write to complete", write);
    await peer.until(10_000, "the peer to receive 16 MiB", () => peer.received === big.length);
    expect(sameBytes(peer.bytes(), big)).toBe(true);
  });

  it("stalls writes to a peer that does not read instead of buffering without bound", async () => {
    const { ours, peer } = await openPair();
    peer.socket!.pause();
    const writer = ours.writable.getWriter();
    const chunk = pattern(1 * MiB, 6);
    let accepted = 0;
    for (;;) {
      // `ready` settles only once the socket took the previous chunk whole.
      if (!(await settlesWithin(writer.ready, 300))) break;
      void writer.write(chunk).then(() => (accepted += chunk.length), () => {});
      if (accepted > 256 * MiB) break;
    }
    expect(accepted).toBeLessThan(64 * MiB);
    // Everything accepted, plus the one chunk the socket is still taking.
    const expected = accepted + chunk.length;
    peer.socket!.resume();
    await within(10_000, "the pending write", writer.ready);
    await peer.until(10_000, "the peer to catch up", () => peer.received === expected);
  });

  it("half-closes on writable.close(): the peer sees our FIN and we still read its reply", async () => {
    const { ours, peer } = await openPair();
    const writer = ours.writable.getWriter();
    await writer.write(new TextEncoder().encode("request"));
    await within(2000, "the writable to close", writer.close());
    await peer.until(2000, "the peer to see our FIN", () => peer.ended);
    expect(peer.text()).toBe("request");
    const reply = pattern(300 * KiB, 7);
    await peer.writeAll(reply, 5000);
    peer.socket!.shutdown();
    const chunks = await readChunks(ours.readable, 5000);
    expect(sameBytes(Buffer.concat(chunks), reply)).toBe(true);
    await within(2000, "the socket to close", ours.closed);
  });

  it("ends the readable at the peer's FIN and keeps the writable open until we close it", async () => {
    const { ours, peer } = await openPair();
    await peer.writeAll(new TextEncoder().encode("last words"), 2000);
    peer.socket!.shutdown();
    const chunks = await readChunks(ours.readable, 2000);
    expect(Buffer.concat(chunks).toString()).toBe("last words");
    const writer = ours.writable.getWriter();
    await writer.write(new TextEncoder().encode("still here"));
    await writer.close();
    await peer.until(2000, "the peer to get our reply and FIN", () => peer.closed || peer.ended);
    expect(peer.text()).toBe("still here");
    await within(2000, "the socket to close", ours.closed);
  });

  it("errors both streams when the peer resets the connection", async () => {
    const { ours, peer } = await openPair();
    const reader = ours.readable.getReader();
    const writer = ours.writable.getWriter();
    peer.socket!.terminate();
    const readError = await rejectionOf(reader.read(), 2000, "the read");
    expect(String(readError)).toMatch(/ECONNRESET|reset/i);
    await rejectionOf(writer.closed, 2000, "the writable to error");
    await rejectionOf(writer.write(new Uint8Array([1])), 2000, "a write after the reset");
  });

  it("closes the socket when the readable is cancelled", async () => {
    const { ours, peer } = await openPair();
    await ours.readable.cancel(new Error("done reading"));
    await peer.until(2000, "the peer to see the close", () => peer.ended || peer.closed);
    await within(2000, "the socket to close", ours.closed);
    await rejectionOf(ours.writable.getWriter().write(new Uint8Array([1])), 2000, "a write after cancel");
  });

  it("resets the socket when the writable is aborted with bytes still unsent", async () => {
    const { ours, peer } = await openPair();
    peer.socket!.pause();
    const writer = ours.writable.getWriter();
    const pending = writer.write(pattern(16 * MiB, 8));
    expect(await settlesWithin(pending, 200)).toBe(false);
    // Bun's WritableStream rejects abort() with the reason when a write was in flight.
    await within(2000, "the abort", writer.abort(new Error("give up")).catch(() => undefined));
    await rejectionOf(pending, 2000, "the pending write");
    peer.socket!.resume();
    await peer.until(2000, "the peer to see the reset", () => peer.closed);
    expect(String(peer.closeError)).toMatch(/ECONNRESET|reset/i);
    await rejectionOf(ours.readable.getReader().read(), 2000, "a read after abort");
  });

  it("closes gracefully when cancelled after our FIN, so what we sent still arrives", async () => {
    const { ours, peer } = await openPair();
    peer.socket!.pause();
    const sent = pattern(2 * MiB, 9);
    const writer = ours.writable.getWriter();
    const writing = writer.write(sent).then(() => writer.close());
    peer.socket!.resume();
    await within(5000, "the write and close", writing);
    await ours.readable.cancel();
    await peer.until(5000, "the peer to receive everything", () => peer.received === sent.length && (peer.ended || peer.closed));
    expect(peer.closeError).toBeUndefined();
    expect(sameBytes(peer.bytes(), sent)).toBe(true);
  });

  it("rejects opened when the connection is refused", async () => {
    const streams = new SocketStreams();
    const connecting = Bun.connect<SocketStreams | undefined>({
      hostname: "127.0.0.1",
      port: closedPort(),
      allowHalfOpen: true,
      data: streams,
      socket: SocketStreams.handlers,
    });
    await rejectionOf(connecting, 2000, "Bun.connect");
    const reason = await rejectionOf(streams.opened, 2000, "opened");
    expect(reason).toMatchObject({ code: "ECONNREFUSED" });
    await within(2000, "closed", streams.closed);
  });

  it("closes a socket destroyed before it opened as soon as it opens", async () => {
    const server = rawServer();
    const accepted = server.accepted();
    const streams = new SocketStreams();
    streams.destroy(new Error("not wanted"));
    Bun.connect<SocketStreams | undefined>({
      hostname: "127.0.0.1",
      port: server.port,
      allowHalfOpen: true,
      data: streams,
      socket: SocketStreams.handlers,
    }).catch(() => {});
    await rejectionOf(streams.opened, 2000, "opened");
    const peer = await accepted;
    await peer.until(2000, "the peer to see the close", () => peer.closed);
    await within(2000, "closed", streams.closed);
  });

  it("does the same over TLS: a write to a peer that does not read stalls, then 16 MiB arrive intact both ways", async () => {
    const { ours, peer } = await openPair({ readableHighWaterMark: 64 * KiB }, true);
    peer.socket!.pause();
    const outgoing = pattern(16 * MiB, 15);
    const write = ours.writable.getWriter().write(outgoing);
    expect(await settlesWithin(write, 300)).toBe(false);
    peer.socket!.resume();
    await within(10_000, "the TLS write", write);
    await peer.until(10_000, "the peer to receive 16 MiB", () => peer.received === outgoing.length);
    expect(sameBytes(peer.bytes(), outgoing)).toBe(true);
    const incoming = pattern(16 * MiB, 16);
    const sending = peer.writeAll(incoming, 10_000);
    // Nobody reads yet: the peer's write cannot finish.
    expect(await settlesWithin(sending, 300)).toBe(false);
    const reading = readChunks(ours.readable, 10_000);
    await sending;
    peer.socket!.shutdown();
    expect(sameBytes(Buffer.concat(await reading), incoming)).toBe(true);
  });

  it("refuses a readableHighWaterMark that is not positive", () => {
    expect(() => new SocketStreams({ readableHighWaterMark: 0 })).toThrow(RangeError);
    expect(() => new SocketStreams({ readableHighWaterMark: Number.NaN })).toThrow(RangeError);
  });

  it("does not read a socket paused by backpressure after the peer's FIN until there is room", async () => {
    const { ours, peer } = await openPair({ readableHighWaterMark: 16 * KiB });
    const sent = pattern(4 * MiB, 10);
    const writing = peer.writeAll(sent, 10_000);
    await sleep(200);
    const reader = ours.readable.getReader();
    const chunks: Uint8Array[] = [];
    for (;;) {
      const { done, value } = await within(10_000, "a read", reader.read());
      if (done) break;
      chunks.push(value);
      if (chunks.length === 1) {
        await writing;
        peer.socket!.shutdown();
        await sleep(100);
      }
    }
    expect(sameBytes(Buffer.concat(chunks), sent)).toBe(true);
  });
});

/** Our end: a `Bun.connect` socket as a {@link SocketTransport}, open, closed after the test. */
async function connectTransport(port: number, options?: SocketTransportOptions, tls?: TLSOptions): Promise<SocketTransport> {
  const transport = new SocketTransport(options);
  Bun.connect<SocketTransport | undefined>({
    hostname: "127.0.0.1",
    port,
    tls,
    allowHalfOpen: true,
    data: transport,
    socket: SocketTransport.handlers,
  }).catch(() => {});
  track(() => transport.socket?.terminate());
  await within(2000, "the socket to open", transport.opened);
  return transport;
}

/** A connection: our transport and the raw peer at the server's end (over TLS if `secure`). */
async function openTransportPair(options?: SocketTransportOptions, secure = false) {
  const server = rawServer(secure ? { tls: { key: certificate.key, cert: certificate.cert } } : {});
  const accepted = server.accepted();
  const ours = await connectTransport(server.port, options, secure ? { ca: certificate.ca } : undefined);
  const peer = await accepted;
  return { ours, peer };
}

/** Everything `transport` reads until the end of input, as the chunks it handed out. */
async function readTransport(transport: SocketTransport, ms: number): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  await within(ms, "the end of input", (async () => {
    for (let chunk = await transport.read(); chunk !== null; chunk = await transport.read()) chunks.push(chunk);
  })());
  return chunks;
}

describe("SocketTransport", () => {
  it("reads every chunk in order and then null at the peer's FIN, again on every later read", async () => {
    const { ours, peer } = await openTransportPair();
    const sent = pattern(3 * MiB, 20);
    const reading = readTransport(ours, 10_000);
    await peer.writeAll(sent, 10_000);
    peer.socket!.shutdown();

    expect(sameBytes(Buffer.concat(await reading), sent)).toBe(true);
    expect(await within(2000, "a read after the end", ours.read())).toBeNull();
  });

  it("pauses the socket while nobody reads, so the sender stalls, and loses nothing on resume", async () => {
    const { ours, peer } = await openTransportPair({ readableHighWaterMark: 64 * KiB });
    const chunk = pattern(256 * KiB, 21);
    // Nobody calls read(): only the kernel's buffers and our bounded queue take bytes.
    const taken = await within(20_000, "the sender to stall", peer.writeUntilBlocked(chunk, 256 * MiB, 500));
    expect(taken).toBeLessThan(64 * MiB);
    const reading = readTransport(ours, 20_000);
    let total = taken;
    while (total % chunk.length !== 0) {
      const rest = chunk.subarray(total % chunk.length);
      await peer.writeAll(rest, 10_000);
      total += rest.length;
    }
    peer.socket!.shutdown();
    const received = Buffer.concat(await reading);
    expect(received.length).toBe(total);
    for (let offset = 0; offset < total; offset += chunk.length) {
      expect(sameBytes(received.subarray(offset, offset + chunk.length), chunk)).toBe(true);
    }
  });

  it("returns undefined from a write the socket took at once", async () => {
    const { ours, peer } = await openTransportPair();

    expect(ours.write([new TextEncoder().encode("hello, "), new TextEncoder().encode("world")])).toBeUndefined();

    await peer.until(2000, "the peer to receive", () => peer.received === 12);
    expect(peer.text()).toBe("hello, world");
  });

  it("finishes a partial write on drain, and queues later writes behind it in order", async () => {
    const { ours, peer } = await openTransportPair();
    peer.socket!.pause();
    const big = pattern(16 * MiB, 22);
    const small = [pattern(100, 23), pattern(20 * KiB, 24), pattern(7, 25)];

    const first = ours.write([big]);
    const second = ours.write(small);

    expect(first).toBeInstanceOf(Promise);
    expect(second).toBeInstanceOf(Promise);
    // The kernel's buffers hold a few MiB at most: the rest waits for the peer to read.
    expect(await settlesWithin(first!, 300)).toBe(false);
    peer.socket!.resume();
    await within(10_000, "both writes", Promise.all([first, second]));
    const expected = Buffer.concat([big, ...small]);
    await peer.until(10_000, "the peer to receive everything", () => peer.received === expected.length);
    expect(sameBytes(peer.bytes(), expected)).toBe(true);
  });

  it("released() resolves at once when Bun took everything, and after a partial write's rest otherwise", async () => {
    const { ours, peer } = await openTransportPair();
    expect(ours.write([pattern(100, 30)])).toBeUndefined();
    await within(2000, "released() with nothing waiting", ours.released());

    peer.socket!.pause();
    const big = pattern(16 * MiB, 31);
    const first = ours.write([big]);
    expect(first).toBeInstanceOf(Promise);
    // The rest of the big chunk waits for drain: the release comes after it was written.
    const order: string[] = [];
    const released = ours.released().then(() => void order.push("released"));
    void first!.then(() => void order.push("write"));
    peer.socket!.resume();
    await within(10_000, "released()", released);
    expect(order).toEqual(["write", "released"]);
    await peer.until(10_000, "the peer to receive everything", () => peer.received === 100 + big.length);
  });

  it("released() rejects once the transport is destroyed", async () => {
    const { ours } = await openTransportPair();
    ours.destroy(new Error("gone"));
    await expect(within(2000, "released()", ours.released())).rejects.toBeDefined();
  });

  it("end() sends the FIN after the queued writes, and we still read the peer's reply", async () => {
    const { ours, peer } = await openTransportPair();
    peer.socket!.pause();
    const sent = pattern(8 * MiB, 26);
    const writing = ours.write([sent]);
    const ending = ours.end();

    expect(await settlesWithin(ending, 200)).toBe(false);
    peer.socket!.resume();
    await within(10_000, "the write and end()", Promise.all([writing, ending]));
    await peer.until(10_000, "the peer to see our FIN after everything", () => peer.ended && peer.received === sent.length);
    expect(sameBytes(peer.bytes(), sent)).toBe(true);
    await expect(ours.write([pattern(1)])).rejects.toBeInstanceOf(Error);

    const reply = pattern(300 * KiB, 27);
    const reading = readTransport(ours, 5000);
    await peer.writeAll(reply, 5000);
    peer.socket!.shutdown();
    expect(sameBytes(Buffer.concat(await reading), reply)).toBe(true);
    await within(2000, "the socket to close", ours.closed);
  });

  it("rejects a pending read and later writes when the peer resets the connection", async () => {
    const { ours, peer } = await openTransportPair();
    const reading = ours.read();

    peer.socket!.terminate();

    expect(String(await rejectionOf(reading, 2000, "the pending read"))).toMatch(/ECONNRESET|reset/i);
    await rejectionOf(ours.write([pattern(1)]) ?? Promise.resolve(), 2000, "a write after the reset");
    await rejectionOf(ours.read(), 2000, "a read after the reset");
  });

  it("destroy() resets the socket: a pending read and the pending writes reject with the reason", async () => {
    const { ours, peer } = await openTransportPair();
    peer.socket!.pause();
    const reading = ours.read();
    const writing = ours.write([pattern(16 * MiB, 28)]);

    ours.destroy(new Error("give up"));

    expect(String(await rejectionOf(reading, 2000, "the pending read"))).toContain("give up");
    expect(String(await rejectionOf(writing!, 2000, "the pending write"))).toContain("give up");
    await rejectionOf(ours.write([pattern(1)]) ?? Promise.resolve(), 2000, "a write after destroy()");
    peer.socket!.resume();
    await peer.until(2000, "the peer to see the reset", () => peer.closed);
    await within(2000, "the socket to close", ours.closed);
  });

  it("destroy() after end() closes gracefully, so what we sent still arrives", async () => {
    const { ours, peer } = await openTransportPair();
    const sent = pattern(2 * MiB, 29);
    await within(5000, "the write", ours.write([sent]) ?? Promise.resolve());
    await within(5000, "end()", ours.end());

    ours.destroy();

    await peer.until(5000, "the peer to receive everything", () => peer.received === sent.length && (peer.ended || peer.closed));
    expect(peer.closeError).toBeUndefined();
    expect(sameBytes(peer.bytes(), sent)).toBe(true);
  });

  it("does the same over TLS: partial writes finish on drain and a reader that stops pauses the socket", async () => {
    const { ours, peer } = await openTransportPair({ readableHighWaterMark: 64 * KiB }, true);
    peer.socket!.pause();
    const outgoing = pattern(16 * MiB, 30);
    const write = ours.write([outgoing]);
    expect(await settlesWithin(write!, 300)).toBe(false);
    peer.socket!.resume();
    await within(10_000, "the TLS write", write!);
    await peer.until(10_000, "the peer to receive 16 MiB", () => peer.received === outgoing.length);
    expect(sameBytes(peer.bytes(), outgoing)).toBe(true);
    const incoming = pattern(16 * MiB, 31);
    const sending = peer.writeAll(incoming, 10_000);
    // Nobody reads yet: the peer's write cannot finish.
    expect(await settlesWithin(sending, 300)).toBe(false);
    const reading = readTransport(ours, 10_000);
    await sending;
    peer.socket!.shutdown();
    expect(sameBytes(Buffer.concat(await reading), incoming)).toBe(true);
  });

  it("refuses a readableHighWaterMark that is not positive", () => {
    expect(() => new SocketTransport({ readableHighWaterMark: 0 })).toThrow(RangeError);
    expect(() => new SocketTransport({ readableHighWaterMark: Number.NaN })).toThrow(RangeError);
  });
});
