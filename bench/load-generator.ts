/**
 * The load generator: a raw `node:net` client, no WebSocket library, so what it costs per message
 * is a few comparisons and one `socket.write()` of bytes encoded before the run.
 *
 * Each connection does the opening handshake itself (a fixed request, the response's status line
 * and `Sec-WebSocket-Accept` checked), then keeps `--inflight` masked binary frames outstanding:
 * it sends that many at once, counts the echoed frames with a minimal parser (frames all have
 * the same length, so it checks each header where a frame starts and counts bytes), and answers
 * every k echoed frames with one write of k pre-encoded frames (a view of one buffer).
 *
 * `--raw` skips the handshake for a plain TCP echo server, which sends back the masked frames
 * as they are. `--mode idle` only opens connections and holds them (the memory benchmark).
 *
 * Driven over IPC by echo.ts and memory.ts: it sends `ready` once every connection is open,
 * waits for `go` (echo) or `exit` (idle), and in echo mode sends `result` after
 * `--warmup` + `--seconds`: the frames echoed during the measured seconds and its own CPU time.
 *
 * Run by hand: node --import tsx bench/load-generator.ts --port 9001 --size 1024 --connections 64
 *
 * @module
 */
import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";
import { parseArgs } from "node:util";
import { fail, send as sendToParent, sleep, waitFor } from "./generator-ipc.ts";

const { values } = parseArgs({
  options: {
    port: { type: "string" },
    host: { type: "string", default: "127.0.0.1" },
    mode: { type: "string", default: "echo" },
    connections: { type: "string", default: "1" },
    inflight: { type: "string", default: "32" },
    size: { type: "string", default: "16" },
    warmup: { type: "string", default: "1" },
    seconds: { type: "string", default: "2" },
    concurrency: { type: "string", default: "100" },
    raw: { type: "boolean", default: false },
  },
});

const PORT = Number(values.port);
const HOST = values.host;
const CONNECTIONS = Number(values.connections);
const INFLIGHT = Number(values.inflight);
const SIZE = Number(values.size);
const RAW = values.raw;

/** Messages to the parent process. */
export type GeneratorMessage =
  | { readonly type: "ready"; readonly connections: number }
  | { readonly type: "measuring" }
  | {
    readonly type: "result";
    /** Frames echoed back during the measured window, all connections. */
    readonly messages: number;
    readonly seconds: number;
    /** This process's CPU seconds (user + system) during the window. */
    readonly cpuSeconds: number;
    /** Frames echoed since the start, warm-up included. */
    readonly total: number;
  }
  | { readonly type: "error"; readonly message: string };

function send(message: GeneratorMessage): void {
  sendToParent(message);
}

// The RFC 6455 §1.3 example key and its accept value: every connection may use the same one.
const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
const REQUEST = Buffer.from(
  `GET / HTTP/1.1\r\nHost: ${HOST}:${PORT}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
);

/** A masked binary frame of `size` random bytes (§5.2), as a client sends it. */
function clientFrame(size: number): Buffer {
  const lengthBytes = size < 126 ? 0 : size <= 0xffff ? 2 : 8;
  const header = 2 + lengthBytes + 4;
  const frame = Buffer.alloc(header + size);
  frame[0] = 0x82;
  frame[1] = 0x80 | (size < 126 ? size : size <= 0xffff ? 126 : 127);
  if (lengthBytes === 2) frame.writeUInt16BE(size, 2);
  if (lengthBytes === 8) frame.writeBigUInt64BE(BigInt(size), 2);
  const key = randomBytes(4);
  key.copy(frame, header - 4);
  const payload = randomBytes(size);
  for (let i = 0; i < size; i++) frame[header + i] = payload[i]! ^ key[i & 3]!;
  return frame;
}

const FRAME = clientFrame(SIZE);
// INFLIGHT frames back to back: k frames are sent as one view of the first k.
const BATCH = Buffer.concat(Array.from({ length: INFLIGHT }, () => FRAME));
// What comes back: the server's unmasked frame, or our own bytes from a TCP echo.
const ECHO_LENGTH = RAW ? FRAME.length : FRAME.length - 4;
const ECHO_BYTE0 = 0x82;
const ECHO_BYTE1 = RAW ? FRAME[1]! : FRAME[1]! & 0x7f;

/** Per connection: how far into the current echoed frame the bytes received so far reach. */
interface Peer {
  readonly socket: Socket;
  position: number;
  /** Where received bytes go: the handshake reader, then the frame counter. */
  onData: ((chunk: Buffer) => void) | undefined;
}

// Every read lands in this one buffer (`onread`): the bytes are only counted, so nothing is
// allocated per read and the generator stays cheap at 64 KiB messages.
const READ_BUFFER = Buffer.alloc(256 * 1024);

let echoed = 0;
let running = false;

/** Counts the complete echoed frames in `chunk`, checking each frame's first two bytes. */
function countFrames(peer: Peer, chunk: Buffer): number {
  const length = chunk.length;
  let frames = 0;
  let i = 0;
  if (peer.position > 0) {
    const need = ECHO_LENGTH - peer.position;
    if (length < need) {
      peer.position += length;
      return 0;
    }
    // The second header byte may have been the first byte of this chunk.
    if (peer.position === 1 && chunk[0] !== ECHO_BYTE1) fail(`Unexpected frame header byte 1: ${chunk[0]}`);
    i = need;
    frames = 1;
    peer.position = 0;
  }
  while (i < length) {
    if (chunk[i] !== ECHO_BYTE0 || (i + 1 < length && chunk[i + 1] !== ECHO_BYTE1)) {
      fail(`Unexpected frame header: ${chunk[i]} ${chunk[i + 1]} (expected ${ECHO_BYTE0} ${ECHO_BYTE1})`);
    }
    const rest = length - i;
    if (rest < ECHO_LENGTH) {
      peer.position = rest;
      break;
    }
    frames++;
    i += ECHO_LENGTH;
  }
  return frames;
}

/** Connects and, unless `--raw`, does the opening handshake; resolves with the open socket. */
function open(): Promise<Peer> {
  return new Promise((resolve, reject) => {
    const onread = {
      buffer: READ_BUFFER,
      callback: (nread: number, buffer: Uint8Array): boolean => {
        peer.onData?.(buffer.subarray(0, nread) as Buffer);
        return true;
      },
    };
    const socket = connect({ port: PORT, host: HOST, noDelay: true, onread });
    const peer: Peer = { socket, position: 0, onData: undefined };
    socket.once("error", reject);
    socket.once("connect", () => {
      if (RAW) {
        attach(peer, undefined);
        resolve(peer);
        return;
      }
      socket.write(REQUEST);
    });
    if (RAW) return;
    let head = Buffer.alloc(0);
    peer.onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end === -1) {
        if (head.length > 8192) reject(new Error("Handshake response too long"));
        return;
      }
      peer.onData = undefined;
      const text = head.subarray(0, end).toString("latin1");
      if (!text.startsWith("HTTP/1.1 101") || !new RegExp(`\\r\\nsec-websocket-accept: *${ACCEPT.replaceAll("+", "\\+")}`, "i").test(text)) {
        reject(new Error(`Handshake refused: ${text.split("\r\n")[0]}`));
        return;
      }
      attach(peer, head.subarray(end + 4));
      resolve(peer);
    };
  });
}

function attach(peer: Peer, rest: Buffer | undefined): void {
  const { socket } = peer;
  socket.removeAllListeners("error");
  socket.on("error", (error) => {
    if (running) fail(`Socket error during the run: ${error.message}`);
  });
  socket.on("close", () => {
    if (running) fail("A connection closed during the run");
  });
  if (values.mode !== "echo") return;
  const onData = (chunk: Buffer): void => {
    const frames = countFrames(peer, chunk);
    if (frames === 0) return;
    echoed += frames;
    if (running) socket.write(BATCH.subarray(0, frames * FRAME.length));
  };
  peer.onData = onData;
  if (rest !== undefined && rest.length > 0) onData(rest);
}

/** Opens `CONNECTIONS` connections, at most `--concurrency` handshakes at a time. */
async function openAll(): Promise<Peer[]> {
  const peers: Peer[] = [];
  const concurrency = Math.max(1, Number(values.concurrency));
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < CONNECTIONS) {
      next++;
      peers.push(await open());
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, CONNECTIONS) }, worker));
  return peers;
}

async function main(): Promise<void> {
  // The parent going away ends the run, whatever state it is in.
  process.on("disconnect", () => process.exit(0));
  const peers = await openAll().catch((error: Error) => fail(`Cannot connect: ${error.message}`));
  send({ type: "ready", connections: peers.length });
  if (values.mode === "idle") {
    await waitFor("exit");
    running = false;
    for (const { socket } of peers) socket.destroy();
    process.exit(0);
  }
  await waitFor("go");
  running = true;
  for (const { socket } of peers) socket.write(BATCH);
  await sleep(Number(values.warmup));
  send({ type: "measuring" });
  const startCount = echoed;
  const startTime = performance.now();
  const startCpu = process.cpuUsage();
  await sleep(Number(values.seconds));
  const messages = echoed - startCount;
  const seconds = (performance.now() - startTime) / 1000;
  const cpu = process.cpuUsage(startCpu);
  running = false;
  send({ type: "result", messages, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, total: echoed });
  for (const { socket } of peers) socket.destroy();
  // Let the IPC message go out before exiting.
  setTimeout(() => process.exit(0), 50);
}

await main();
