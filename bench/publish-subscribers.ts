/**
 * The subscribers of the publish fan-out benchmark (bench/publish.ts): a raw `node:net` process
 * holding `--connections` WebSocket connections to each server of `--ports` (no WebSocket
 * library: each connection does the opening handshake itself, as bench/load-generator.ts does,
 * then only reads). The servers subscribe each connection when it opens.
 *
 * Every message of a run has the same size, so a connection needs only its position in the
 * current frame: it checks the header bytes where each frame starts (FIN + binary, the length)
 * and counts bytes. One connection in `--sample` also reads the 12-byte stamp at the start of
 * each payload (see bench/servers/publish-control.ts): the publish time, for the latency (the
 * time it arrived minus the time it was published, both on the `performance.timeOrigin +
 * performance.now()` clock), and the message's number, which must follow the last one's (none
 * lost, none out of order).
 *
 * IPC with the parent: `ready` once every connection is open; on `{ type: "expect", target,
 * messages, size }` it resets the counters of the connections to `--ports`[target] and answers
 * `armed`; once each of them received `messages` frames it sends `done` with the time the last
 * frame arrived, its own CPU time since `expect`, the sampled latencies and how many of its
 * connections were closed (by anyone) since they opened. A connection closed during a run fails
 * the run (`error`). Every read lands in one buffer (`onread`), so nothing is allocated per read.
 *
 * Run by hand (prints the messages as JSON lines and waits): node --import tsx
 * bench/publish-subscribers.ts --ports 9001 --connections 100
 *
 * @module
 */
import { connect, type Socket } from "node:net";
import { parseArgs } from "node:util";
import { fail, send } from "./generator-ipc.ts";

const { values } = parseArgs({
  options: {
    ports: { type: "string" },
    host: { type: "string", default: "127.0.0.1" },
    connections: { type: "string", default: "1" },
    sample: { type: "string", default: "50" },
    concurrency: { type: "string", default: "100" },
  },
});

const HOST = values.host;
const PORTS = (values.ports ?? "").split(",").filter((p) => p !== "").map(Number);
const CONNECTIONS = Number(values.connections);
const SAMPLE = Math.max(1, Number(values.sample));

/** Messages from the parent. */
export type SubscriberCommand =
  | { readonly type: "expect"; readonly target: number; readonly messages: number; readonly size: number }
  | { readonly type: "exit" };

/** Messages to the parent. */
export type SubscriberMessage =
  | { readonly type: "ready"; readonly connections: number }
  | { readonly type: "armed"; readonly target: number }
  | {
    readonly type: "done";
    readonly target: number;
    /** Frames received in the run, all connections to the target. */
    readonly frames: number;
    /** When the last frame arrived, ms on the `performance.timeOrigin + performance.now()` clock. */
    readonly lastAt: number;
    /** This process's CPU seconds (user + system) from `expect` to the last frame. */
    readonly cpuSeconds: number;
    /** Wall seconds from `expect` to the last frame. */
    readonly seconds: number;
    /** Publish-to-arrival times of the sampled connections' messages, ms. */
    readonly latencies: number[];
    /** Connections closed since they opened, all targets. */
    readonly closed: number;
  }
  | { readonly type: "error"; readonly message: string };

const now = (): number => performance.timeOrigin + performance.now();

// The RFC 6455 §1.3 example key and its accept value: every connection may use the same one.
const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT = /\r\nsec-websocket-accept: *s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=/i;
const request = (port: number): Buffer =>
  Buffer.from(
    `GET / HTTP/1.1\r\nHost: ${HOST}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );

/** The header of an unmasked, final binary frame of `size` bytes, as a server sends it. */
export function serverFrameHeader(size: number): Uint8Array {
  if (size < 126) return Uint8Array.of(0x82, size);
  if (size <= 0xffff) return Uint8Array.of(0x82, 126, size >> 8, size & 0xff);
  const header = new Uint8Array(10);
  header[0] = 0x82;
  header[1] = 127;
  new DataView(header.buffer).setBigUint64(2, BigInt(size));
  return header;
}

/** The stamp at the start of every payload: publish time (float64) and number (uint32). */
const STAMP = 12;

/** What every connection of a target expects in the current run. */
interface Run {
  header: Uint8Array;
  /** Header + payload. */
  frameLength: number;
  /** Frames each connection expects. */
  messages: number;
  /** Frames received, all connections of the target. */
  frames: number;
  startedAt: number;
  startCpu: NodeJS.CpuUsage;
  latencies: number[];
}

/** One connection: where it is in the current frame. */
export interface FrameCursor {
  /** Bytes of the current frame seen so far. */
  position: number;
  /** Whether it reads the stamps. */
  readonly sampled: boolean;
  /** The stamp bytes read so far (sampled connections). */
  readonly stamp: Uint8Array;
  /** Frames received in this run. */
  received: number;
}

interface Peer extends FrameCursor {
  readonly socket: Socket;
  readonly target: number;
  onData: ((chunk: Buffer) => void) | undefined;
}

/**
 * Counts the complete frames in `chunk` for `cursor` (frames of `frameLength` bytes, each
 * starting with `header`); throws at a byte that is not the expected header. For a sampled
 * cursor, calls `onStamp(publishedAt, number)` as each frame's stamp is complete.
 */
export function countFrames(
  cursor: FrameCursor,
  chunk: Uint8Array,
  header: Uint8Array,
  frameLength: number,
  onStamp: (publishedAt: number, number: number) => void,
): number {
  const length = chunk.length;
  const headerLength = header.length;
  let frames = 0;
  let i = 0;
  while (i < length) {
    let position = cursor.position;
    while (position < headerLength && i < length) {
      if (chunk[i] !== header[position]) {
        throw new Error(`Unexpected frame header byte ${position}: ${chunk[i]} (expected ${header[position]})`);
      }
      position++;
      i++;
    }
    if (position < headerLength) {
      cursor.position = position;
      break;
    }
    const take = Math.min(frameLength - position, length - i);
    if (cursor.sampled && position < headerLength + STAMP) {
      const end = Math.min(headerLength + STAMP, position + take);
      cursor.stamp.set(chunk.subarray(i, i + end - position), position - headerLength);
      if (end === headerLength + STAMP) {
        const view = new DataView(cursor.stamp.buffer, cursor.stamp.byteOffset, STAMP);
        onStamp(view.getFloat64(0, true), view.getUint32(8, true));
      }
    }
    i += take;
    position += take;
    if (position === frameLength) {
      frames++;
      position = 0;
    }
    cursor.position = position;
  }
  return frames;
}

const READ_BUFFER = Buffer.alloc(256 * 1024);
const runs: (Run | undefined)[] = PORTS.map(() => undefined);
const peersOf: Peer[][] = PORTS.map(() => []);
let closed = 0;
let opened = false;

function onFrames(peer: Peer, chunk: Buffer): void {
  const run = runs[peer.target];
  if (run === undefined) fail(`${chunk.length} bytes from server ${peer.target} outside a run`);
  let frames: number;
  try {
    frames = countFrames(peer, chunk, run.header, run.frameLength, (publishedAt, number) => {
      if (number !== peer.received) fail(`Message ${number} arrived where ${peer.received} was due (server ${peer.target})`);
      run.latencies.push(now() - publishedAt);
      peer.received++;
    });
  } catch (error) {
    fail(`Server ${peer.target}: ${(error as Error).message}`);
  }
  if (frames === 0) return;
  if (!peer.sampled) peer.received += frames;
  run.frames += frames;
  if (peer.received > run.messages) fail(`A connection received ${peer.received} of ${run.messages} messages (server ${peer.target})`);
  const peers = peersOf[peer.target]!;
  if (run.frames === run.messages * peers.length) {
    const lastAt = now();
    const cpu = process.cpuUsage(run.startCpu);
    send({
      type: "done",
      target: peer.target,
      frames: run.frames,
      lastAt,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      seconds: (lastAt - run.startedAt) / 1000,
      latencies: run.latencies,
      closed,
    } satisfies SubscriberMessage);
  }
}

/** Connects to `--ports`[target] and does the opening handshake; resolves with the open peer. */
function open(target: number, index: number): Promise<Peer> {
  const port = PORTS[target]!;
  return new Promise((resolve, reject) => {
    const onread = {
      buffer: READ_BUFFER,
      callback: (nread: number, buffer: Uint8Array): boolean => {
        peer.onData?.(buffer.subarray(0, nread) as Buffer);
        return true;
      },
    };
    const socket = connect({ port, host: HOST, noDelay: true, onread });
    const peer: Peer = {
      socket,
      target,
      position: 0,
      sampled: index % SAMPLE === 0,
      stamp: new Uint8Array(STAMP),
      received: 0,
      onData: undefined,
    };
    socket.once("error", reject);
    socket.once("connect", () => socket.write(request(port)));
    let head = Buffer.alloc(0);
    peer.onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end === -1) {
        if (head.length > 8192) reject(new Error("Handshake response too long"));
        return;
      }
      const text = head.subarray(0, end).toString("latin1");
      if (!text.startsWith("HTTP/1.1 101") || !ACCEPT.test(text)) {
        reject(new Error(`Handshake refused: ${text.split("\r\n")[0]}`));
        return;
      }
      if (head.length > end + 4) {
        reject(new Error("Bytes after the handshake response before any run"));
        return;
      }
      socket.removeAllListeners("error");
      socket.on("error", () => undefined);
      socket.on("close", () => {
        closed++;
        if (opened) fail(`A connection to server ${target} was closed`);
      });
      peer.onData = (bytes) => onFrames(peer, bytes);
      resolve(peer);
    };
  });
}

/** Opens `--connections` to each port in turn, at most `--concurrency` handshakes at a time. */
async function openAll(): Promise<void> {
  const concurrency = Math.max(1, Number(values.concurrency));
  for (let target = 0; target < PORTS.length; target++) {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < CONNECTIONS) {
        const index = next++;
        peersOf[target]!.push(await open(target, index));
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, CONNECTIONS) }, worker));
  }
}

async function main(): Promise<void> {
  // The parent going away ends the process, whatever state it is in.
  process.on("disconnect", () => process.exit(0));
  await openAll().catch((error: Error) => fail(`Cannot connect: ${error.message}`));
  opened = true;
  process.on("message", (command: SubscriberCommand) => {
    if (command.type === "exit") {
      opened = false;
      for (const peers of peersOf) for (const { socket } of peers) socket.destroy();
      process.exit(0);
    }
    const { target, messages, size } = command;
    const header = serverFrameHeader(size);
    for (const peer of peersOf[target]!) {
      if (peer.position !== 0) fail(`A connection to server ${target} is inside a frame between runs`);
      peer.received = 0;
    }
    runs[target] = {
      header,
      frameLength: header.length + size,
      messages,
      frames: 0,
      startedAt: now(),
      startCpu: process.cpuUsage(),
      latencies: [],
    };
    send({ type: "armed", target } satisfies SubscriberMessage);
  });
  send({ type: "ready", connections: peersOf.reduce((sum, peers) => sum + peers.length, 0) } satisfies SubscriberMessage);
}

await main();
