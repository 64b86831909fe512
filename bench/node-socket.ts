/**
 * Node socket to Web Streams: `socketToStreams` (packages/node/src/socket.ts) against Node's own
 * `stream.Duplex.toWeb(socket)`.
 *
 * An echo peer runs in a child process (plain `net`, `socket.pipe(socket)`). For each
 * implementation and chunk size, this process writes chunks through the implementation's
 * `writable` (awaiting every `write()`) while it reads the echo back through its `readable`, for a
 * fixed time; then it closes the writable and reads until the echo ends. Reported: MB/s of bytes
 * that made the round trip, chunks written per second, chunks read per second (reads come in
 * whatever sizes TCP delivers), and the CPU time this process spent per MB moved (user + system,
 * from `process.cpuUsage()`; the peer's CPU not included), which shared-machine noise moves less
 * than it moves wall-clock throughput. A second table compares ways to send a small WebSocket-like frame
 * (a header and a payload): two `write()`s, one `writeBatch()` (cork/uncork), one `write()` of a
 * copy. A third has the peer send as fast as it can and only reads. A last check writes 32 MiB
 * for the peer to echo and never reads: how much of it this process buffered shows whether the
 * socket gets paused.
 *
 * Run: node_modules/.bin/tsx bench/node-socket.ts [--seconds 2] [--rounds 3]
 * Bounded: every phase is timed, and the whole run aborts after 5 minutes.
 */

import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { cpus, loadavg } from "node:os";
import { Duplex } from "node:stream";
import { parseArgs } from "node:util";
import { socketToStreams } from "../packages/node/src/socket.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const RUN_LIMIT_MS = 5 * 60_000;

/**
 * The peer: the first byte a client sends picks the mode. "e": echo everything after it (ending
 * when the client ends); "s": send 64 KiB chunks as fast as the client takes them, until it leaves.
 */
const PEER = `
const net = require("node:net");
const chunk = Buffer.alloc(64 * 1024, 0x73);
function source(socket) {
  while (!socket.destroyed && socket.write(chunk));
  if (!socket.destroyed) socket.once("drain", () => source(socket));
}
const server = net.createServer({ allowHalfOpen: true }, (socket) => {
  socket.setNoDelay(true);
  socket.on("error", () => socket.destroy());
  socket.once("data", (first) => {
    if (first[0] === 0x73) return source(socket.resume());
    socket.pause();
    if (first.length > 1) socket.write(first.subarray(1));
    socket.pipe(socket);
  });
});
server.listen(0, "127.0.0.1", () => process.stdout.write(server.address().port + "\\n"));
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
`;

interface Streams {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
}

interface Implementation {
  readonly name: string;
  readonly wrap: (socket: Socket) => Streams;
}

const IMPLEMENTATIONS: readonly Implementation[] = [
  { name: "socketToStreams", wrap: (socket) => socketToStreams(socket) },
  { name: "Duplex.toWeb", wrap: (socket) => Duplex.toWeb(socket) as unknown as Streams },
];

interface Result {
  readonly seconds: number;
  /** CPU time (user + system) this process spent, in seconds. */
  readonly cpuSeconds: number;
  readonly bytes: number;
  readonly chunksWritten: number;
  readonly chunksRead: number;
}

/** Starts the peer and resolves with it and its port. */
async function startPeer(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ["-e", PEER], { stdio: ["pipe", "pipe", "inherit"] });
  const [line] = (await withTimeout(5000, "the echo peer", once(child.stdout!, "data"))) as [Buffer];
  return { child, port: Number.parseInt(line.toString(), 10) };
}

async function withTimeout<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Connects to the peer in `mode` ("e" echo, "s" source). */
async function connectTo(port: number, mode: "e" | "s" = "e"): Promise<Socket> {
  const socket = connect({ port, host: "127.0.0.1", allowHalfOpen: true });
  socket.setNoDelay(true);
  socket.write(mode);
  await withTimeout(5000, "connect", once(socket, "connect"));
  return socket;
}

/** Reads `readable` to its end, counting bytes and chunks. */
async function count(readable: ReadableStream<Uint8Array>): Promise<{ bytes: number; chunks: number }> {
  const reader = readable.getReader();
  let bytes = 0;
  let chunks = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return { bytes, chunks };
    bytes += value.byteLength;
    chunks++;
  }
}

/**
 * Writes `send` (one call = one frame of `frameBytes`) until `seconds` passed, then closes and
 * reads the echo to its end.
 */
async function roundTrip(
  streams: Streams,
  frameBytes: number,
  send: (writer: WritableStreamDefaultWriter<Uint8Array>) => Promise<void> | undefined,
  seconds: number,
): Promise<Result> {
  const reading = count(streams.readable);
  const writer = streams.writable.getWriter();
  const checkEvery = Math.max(1, Math.floor((256 * KiB) / frameBytes));
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  const deadline = start + seconds * 1000;
  let frames = 0;
  while (performance.now() < deadline) {
    for (let i = 0; i < checkEvery; i++) {
      const pending = send(writer);
      if (pending !== undefined) await pending;
    }
    frames += checkEvery;
  }
  await writer.close();
  const echoed = await withTimeout(seconds * 1000 + 30_000, "the echo to end", reading);
  const elapsed = (performance.now() - start) / 1000;
  const cpuSeconds = cpuSecondsSince(cpuStart);
  if (echoed.bytes !== frames * frameBytes) {
    throw new Error(`Echo lost bytes: sent ${frames * frameBytes}, got ${echoed.bytes}`);
  }
  return { seconds: elapsed, cpuSeconds, bytes: echoed.bytes, chunksWritten: frames, chunksRead: echoed.chunks };
}

/** Reads what the source peer sends for `seconds`, counting bytes and chunks. */
async function readOnly(streams: Streams, seconds: number): Promise<Result> {
  const reader = streams.readable.getReader();
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  const deadline = start + seconds * 1000;
  let bytes = 0;
  let chunks = 0;
  while (performance.now() < deadline) {
    for (let i = 0; i < 64; i++) {
      const { done, value } = await reader.read();
      if (done) throw new Error("The source ended early");
      bytes += value.byteLength;
      chunks++;
    }
  }
  const elapsed = (performance.now() - start) / 1000;
  const cpuSeconds = cpuSecondsSince(cpuStart);
  await reader.cancel();
  return { seconds: elapsed, cpuSeconds, bytes, chunksWritten: 0, chunksRead: chunks };
}

/** Table (d): each implementation's readable alone, fed by the source peer. */
async function compareReads(port: number, seconds: number, rounds: number): Promise<void> {
  const results = new Map<string, Result[]>();
  for (let round = 0; round < rounds; round++) {
    for (const impl of IMPLEMENTATIONS) {
      const socket = await connectTo(port, "s");
      const result = await readOnly(impl.wrap(socket), seconds);
      socket.destroy();
      results.set(impl.name, [...(results.get(impl.name) ?? []), result]);
    }
  }
  console.log(`\n(d) read only: the peer sends 64 KiB writes as fast as it can, best of ${rounds} x ${seconds} s`);
  console.log("| implementation | MB/s | chunks written/s | chunks read/s | CPU ms/MB | MB/s vs Duplex.toWeb |");
  console.log("| --- | --- | --- | --- | --- | --- |");
  const baseline = best(results.get("Duplex.toWeb") ?? []);
  for (const impl of IMPLEMENTATIONS) {
    console.log(describeResult(impl.name, best(results.get(impl.name) ?? []), baseline));
  }
}

function cpuSecondsSince(start: NodeJS.CpuUsage): number {
  const { user, system } = process.cpuUsage(start);
  return (user + system) / 1e6;
}

/** The result with the highest throughput (the least disturbed run). */
function best(results: readonly Result[]): Result {
  return results.reduce((a, b) => (b.bytes / b.seconds > a.bytes / a.seconds ? b : a));
}

function describeResult(label: string, result: Result, baseline?: Result): string {
  const mbps = result.bytes / result.seconds / 1e6;
  const ratio = baseline ? ` | ${(mbps / (baseline.bytes / baseline.seconds / 1e6)).toFixed(2)}x` : " | 1.00x";
  const cpuMsPerMB = (result.cpuSeconds * 1000) / (result.bytes / 1e6);
  return (
    `| ${label} | ${mbps.toFixed(1)} | ${fmt(result.chunksWritten / result.seconds)} ` +
    `| ${fmt(result.chunksRead / result.seconds)} | ${cpuMsPerMB.toFixed(2)}${ratio} |`
  );
}

function fmt(perSecond: number): string {
  return perSecond >= 1e6 ? `${(perSecond / 1e6).toFixed(2)} M` : `${(perSecond / 1e3).toFixed(1)} k`;
}

/** Table (a)/(b): each implementation's writable → echo → readable. */
async function compareImplementations(port: number, seconds: number, rounds: number): Promise<void> {
  for (const size of [16, 64 * KiB]) {
    const results = new Map<string, Result[]>();
    for (let round = 0; round < rounds; round++) {
      for (const impl of IMPLEMENTATIONS) {
        const socket = await connectTo(port);
        const chunk = new Uint8Array(size).fill(0x61);
        const result = await roundTrip(impl.wrap(socket), size, (w) => w.write(chunk), seconds);
        socket.destroy();
        results.set(impl.name, [...(results.get(impl.name) ?? []), result]);
      }
    }
    console.log(`\n${size === 16 ? "(a) 16-byte chunks" : "(b) 64 KiB chunks"}, best of ${rounds} x ${seconds} s`);
    console.log("| implementation | MB/s | chunks written/s | chunks read/s | CPU ms/MB | MB/s vs Duplex.toWeb |");
    console.log("| --- | --- | --- | --- | --- | --- |");
    const baseline = best(results.get("Duplex.toWeb") ?? []);
    for (const impl of IMPLEMENTATIONS) {
      console.log(describeResult(impl.name, best(results.get(impl.name) ?? []), baseline));
    }
  }
}

/** Table (c): ways to send a header + payload frame through socketToStreams. */
async function compareFrameWrites(port: number, seconds: number, rounds: number): Promise<void> {
  for (const [headerBytes, payloadBytes] of [[2, 14], [4, 64 * KiB]] as const) {
    const header = new Uint8Array(headerBytes).fill(0x82);
    const payload = new Uint8Array(payloadBytes).fill(0x61);
    const frameBytes = headerBytes + payloadBytes;
    const ways: Array<[string, (s: ReturnType<typeof socketToStreams>) => RoundTripSend]> = [
      ["two writable.write()", () => (w) => (void w.write(header), w.write(payload))],
      ["one writeBatch()", (s) => () => s.writeBatch([header, payload])],
      ["one write() of a copy", () => (w) => w.write(concat(header, payload))],
    ];
    const results = new Map<string, Result[]>();
    for (let round = 0; round < rounds; round++) {
      for (const [name, makeSend] of ways) {
        const socket = await connectTo(port);
        const streams = socketToStreams(socket);
        const result = await roundTrip(streams, frameBytes, makeSend(streams), seconds);
        socket.destroy();
        results.set(name, [...(results.get(name) ?? []), result]);
      }
    }
    console.log(`\n(c) frames of ${headerBytes} + ${payloadBytes} bytes via socketToStreams, best of ${rounds} x ${seconds} s`);
    console.log("| way | MB/s | frames/s | chunks read/s | CPU ms/MB | MB/s vs two writes |");
    console.log("| --- | --- | --- | --- | --- | --- |");
    const baseline = best(results.get("two writable.write()") ?? []);
    for (const [name] of ways) console.log(describeResult(name, best(results.get(name) ?? []), baseline));
  }
}

type RoundTripSend = (writer: WritableStreamDefaultWriter<Uint8Array>) => Promise<void> | undefined;

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a, 0);
  out.set(b, a.byteLength);
  return out;
}

/** (e): with nobody reading, how many of 32 MiB echoed back does this process read in? */
async function checkReadBackpressure(port: number): Promise<void> {
  console.log("\n(e) read backpressure: 32 MiB echoed back, nobody reads the readable");
  for (const impl of IMPLEMENTATIONS) {
    const socket = await connectTo(port);
    impl.wrap(socket);
    const chunk = new Uint8Array(MiB);
    for (let i = 0; i < 32; i++) socket.write(chunk);
    const buffered = await bytesReadOnceSettled(socket, 10_000);
    console.log(`${impl.name}: read ${(buffered / KiB).toFixed(0)} KiB into the process, socket paused: ${socket.isPaused()}`);
    socket.destroy();
  }
}

async function bytesReadOnceSettled(socket: Socket, ms: number): Promise<number> {
  const deadline = Date.now() + ms;
  let last = -1;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    if (socket.bytesRead === last) return last;
    last = socket.bytesRead;
  }
  return last;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seconds: { type: "string" }, rounds: { type: "string" } } });
  const seconds = Number(values.seconds ?? 2);
  const rounds = Number(values.rounds ?? 3);
  const limit = setTimeout(() => {
    console.error(`Benchmark exceeded ${RUN_LIMIT_MS / 1000} s; aborting`);
    process.exit(1);
  }, RUN_LIMIT_MS);
  const { child, port } = await startPeer();
  try {
    console.log(`node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model}), peer in a child process`);
    console.log(`load average at start: ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
    await compareImplementations(port, seconds, rounds);
    await compareFrameWrites(port, seconds, rounds);
    await compareReads(port, seconds, rounds);
    await checkReadBackpressure(port);
    console.log(`\nload average at end: ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  } finally {
    child.stdin?.end();
    clearTimeout(limit);
  }
}

await main();
