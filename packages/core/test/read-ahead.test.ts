import { describe, expect, it } from "vitest";
import { ReadAhead, type ReadAheadOwner } from "../src/read-ahead.ts";
import type { TransportSink } from "../src/transport.ts";

// A socket as the owner sees it: whether it is being read, and the error reads fail with.
class Socket implements ReadAheadOwner {
  reading = true;
  readonly failure = new Error("Socket closed before the end of the stream");
  pauseInput(): void {
    this.reading = false;
  }
  resumeInput(): void {
    this.reading = true;
  }
  inputError(): unknown {
    return this.failure;
  }
}

// A sink that records what it gets and can pause the input from inside data().
class Sink implements TransportSink {
  readonly log: string[] = [];
  constructor(readonly input: ReadAhead, readonly pauseAfter = Infinity) {}
  data(chunk: Uint8Array): void {
    this.log.push(`data:${Array.from(chunk).join(",")}`);
    if (this.log.length >= this.pauseAfter) this.input.pause();
  }
  end(): void {
    this.log.push("end");
  }
  error(error: unknown): void {
    this.log.push(`error:${(error as Error).message}`);
  }
}

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);

describe("ReadAhead read by read()", () => {
  it("hands a chunk to a waiting read, queues the rest, and pauses the socket at the high-water mark", async () => {
    const socket = new Socket();
    const input = new ReadAhead(socket, 4);
    const waiting = input.read();
    input.push(bytes(1));
    expect(await waiting).toEqual(bytes(1));
    input.push(bytes(2, 3));
    expect(socket.reading).toBe(true);
    input.push(bytes(4, 5));
    expect(socket.reading).toBe(false);
    expect(await input.read()).toEqual(bytes(2, 3));
    expect(socket.reading).toBe(true);
    expect(await input.read()).toEqual(bytes(4, 5));
  });

  it("gives null after what was queued once input ended, and ignores chunks after the end", async () => {
    const input = new ReadAhead(new Socket(), 64);
    input.push(bytes(1));
    input.end();
    input.push(bytes(9));
    expect(await input.read()).toEqual(bytes(1));
    expect(await input.read()).toBe(null);
    expect(input.state).toBe("ended");
  });

  it("rejects a waiting read and later ones with the owner's error once input failed", async () => {
    const socket = new Socket();
    const input = new ReadAhead(socket, 64);
    const waiting = input.read();
    input.fail();
    await expect(waiting).rejects.toBe(socket.failure);
    await expect(input.read()).rejects.toBe(socket.failure);
  });
});

describe("ReadAhead pushed to a sink (listen)", () => {
  it("delivers what was queued first, in order, then each chunk as it comes", () => {
    const input = new ReadAhead(new Socket(), 64);
    input.push(bytes(1));
    input.push(bytes(2));
    const sink = new Sink(input);
    expect(input.listen(sink)).toBe(true);
    input.push(bytes(3));
    expect(sink.log).toEqual(["data:1", "data:2", "data:3"]);
  });

  it("on pause queues chunks without pausing the socket until the high-water mark, and resumes in order", () => {
    const socket = new Socket();
    const input = new ReadAhead(socket, 4);
    const sink = new Sink(input, 1);
    input.listen(sink);
    input.push(bytes(1));
    input.push(bytes(2, 3));
    expect(socket.reading).toBe(true);
    input.push(bytes(4, 5));
    expect(socket.reading).toBe(false);
    expect(sink.log).toEqual(["data:1"]);
    input.resume();
    // Paused again by the sink after each chunk (pauseAfter 1): one chunk per resume.
    expect(sink.log).toEqual(["data:1", "data:2,3"]);
    expect(socket.reading).toBe(true);
    input.resume();
    expect(sink.log).toEqual(["data:1", "data:2,3", "data:4,5"]);
  });

  it("tells the end once, after the queued chunks, and not while paused", () => {
    const input = new ReadAhead(new Socket(), 64);
    const sink = new Sink(input, 1);
    input.listen(sink);
    input.push(bytes(1));
    input.push(bytes(2));
    input.end();
    expect(sink.log).toEqual(["data:1"]);
    input.resume();
    expect(sink.log).toEqual(["data:1", "data:2"]);
    input.resume();
    input.resume();
    expect(sink.log).toEqual(["data:1", "data:2", "end"]);
  });

  it("drops what was queued on a failure and tells the sink the owner's error at once", () => {
    const input = new ReadAhead(new Socket(), 64);
    const sink = new Sink(input, 1);
    input.listen(sink);
    input.push(bytes(1));
    input.push(bytes(2));
    input.fail();
    input.resume();
    expect(sink.log).toEqual(["data:1", "error:Socket closed before the end of the stream"]);
  });

  it("tells a sink that listens after the end the chunks and then the end", () => {
    const input = new ReadAhead(new Socket(), 64);
    input.push(bytes(7));
    input.end();
    const sink = new Sink(input);
    input.listen(sink);
    expect(sink.log).toEqual(["data:7", "end"]);
  });
});
