/**
 * The load generator for permessage-deflate (RFC 7692): bench/load-generator.ts's raw `node:net`
 * client, speaking compression. Every connection offers
 * `permessage-deflate; client_no_context_takeover; client_max_window_bits` and fails unless the
 * server accepts it. The message, a JSON-like text of `--size` bytes, is compressed once with
 * `node:zlib` raw DEFLATE and a sync flush, its trailing `00 00 ff ff` removed (§7.2.1), and sent
 * masked with RSV1 set, as a text frame. Valid for every message because the client promised
 * no context takeover: each message stands alone.
 *
 * The server replies compressed, with its own context kept across messages (unless it chose
 * `server_no_context_takeover`), so the echoed frames differ in length: a small frame parser
 * counts complete messages (and those that came back compressed) and skips their payloads.
 *
 * Before the run, each connection sends `--verify` messages (default 2) one after the other and
 * inflates the replies with one `inflateRaw` of its own, which keeps its window across them as
 * the server's compressor does: each must be the message sent, or the generator fails. So every
 * connection has exchanged compressed messages (the server's compression contexts exist) before
 * `ready`, in `echo` and in `idle` mode alike.
 *
 * Driven over IPC like bench/load-generator.ts (`ready`, `go` or `exit`, `measuring`, `result`),
 * with the compressed replies and the bytes received added to the result.
 *
 * Run by hand: node --import tsx bench/load-generator-deflate.ts --port 9001 --size 1024 --connections 4
 *
 * @module
 */
import { connect, type Socket } from "node:net";
import { parseArgs } from "node:util";
import { constants, createInflateRaw, deflateRawSync, type InflateRaw } from "node:zlib";
import type { GeneratorMessage } from "./load-generator.ts";
import { fail, send as sendToParent, sleep, waitFor } from "./generator-ipc.ts";

const { values } = parseArgs({
  options: {
    port: { type: "string" },
    host: { type: "string", default: "127.0.0.1" },
    mode: { type: "string", default: "echo" },
    connections: { type: "string", default: "1" },
    inflight: { type: "string", default: "32" },
    size: { type: "string", default: "1024" },
    warmup: { type: "string", default: "1" },
    seconds: { type: "string", default: "2" },
    concurrency: { type: "string", default: "100" },
    verify: { type: "string", default: "2" },
  },
});

const PORT = Number(values.port);
const HOST = values.host;
const CONNECTIONS = Number(values.connections);
const INFLIGHT = Number(values.inflight);
const SIZE = Number(values.size);
const VERIFY = Math.max(1, Number(values.verify));

type Result = Extract<GeneratorMessage, { type: "result" }>;

/** Messages to the parent: those of bench/load-generator.ts, the result with two more counts. */
export type DeflateGeneratorMessage =
  | Exclude<GeneratorMessage, { type: "result" }>
  | (Result & {
    /** Of `messages`, those that came back compressed (RSV1 set). */
    readonly compressed: number;
    /** Bytes received during the measured window, frame headers included. */
    readonly receivedBytes: number;
    /** The message's size as sent: the compressed payload plus its masked frame header. */
    readonly frameBytes: number;
  });

function send(message: DeflateGeneratorMessage): void {
  sendToParent(message);
}

/** A JSON-like text of exactly `size` ASCII bytes: an array of small records, cut at `size`. */
function textPayload(size: number): Buffer {
  const tags = ["alpha", "beta", "gamma", "delta"];
  let text = "[";
  for (let i = 0; text.length < size; i++) {
    text += JSON.stringify({
      id: 100_000 + ((i * 7919) % 90_000),
      name: `user-${i}`,
      email: `user${(i * 31) % 997}@example.com`,
      active: i % 3 !== 0,
      score: ((i * 7919) % 10_000) / 100,
      tags: tags.slice(0, 1 + (i % tags.length)),
    }) + ",";
  }
  return Buffer.from(text.slice(0, size), "latin1");
}

const PAYLOAD = textPayload(SIZE);
const TAIL = Buffer.of(0x00, 0x00, 0xff, 0xff);

// The RFC 6455 §1.3 example key and its accept value: every connection may use the same one.
const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
const REQUEST = Buffer.from(
  `GET / HTTP/1.1\r\nHost: ${HOST}:${PORT}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n` +
    "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; client_max_window_bits\r\n\r\n",
);

/** The message as one masked text frame with RSV1 (RFC 7692 §6), compressed with `windowBits`. */
function clientFrame(windowBits: number): Buffer {
  const flushed = deflateRawSync(PAYLOAD, { windowBits, finishFlush: constants.Z_SYNC_FLUSH });
  if (!flushed.subarray(-4).equals(TAIL)) fail("deflateRawSync output does not end with 00 00 ff ff");
  const payload = flushed.subarray(0, flushed.length - 4);
  const size = payload.length;
  const lengthBytes = size < 126 ? 0 : size <= 0xffff ? 2 : 8;
  const header = 2 + lengthBytes + 4;
  const frame = Buffer.alloc(header + size);
  frame[0] = 0xc1; // FIN, RSV1, text
  frame[1] = 0x80 | (size < 126 ? size : size <= 0xffff ? 126 : 127);
  if (lengthBytes === 2) frame.writeUInt16BE(size, 2);
  if (lengthBytes === 8) frame.writeBigUInt64BE(BigInt(size), 2);
  const key = Buffer.of(0x37, 0xfa, 0x21, 0x3d);
  key.copy(frame, header - 4);
  for (let i = 0; i < size; i++) frame[header + i] = payload[i]! ^ key[i & 3]!;
  return frame;
}

/** Per window size the server allows us: one frame, and `INFLIGHT` of them back to back. */
const frames = new Map<number, { frame: Buffer; batch: Buffer }>();
function framesFor(windowBits: number): { frame: Buffer; batch: Buffer } {
  let entry = frames.get(windowBits);
  if (entry === undefined) {
    const frame = clientFrame(windowBits);
    entry = { frame, batch: Buffer.concat(Array.from({ length: INFLIGHT }, () => frame)) };
    frames.set(windowBits, entry);
  }
  return entry;
}

/** A reply kept whole during verification. */
interface Reply {
  readonly compressed: boolean;
  readonly parts: Buffer[];
}

/** Per connection: the frame parser's state and what to send. */
interface Peer {
  readonly socket: Socket;
  frame: Buffer;
  batch: Buffer;
  onData: ((chunk: Buffer) => void) | undefined;
  /** Header bytes of the current frame received so far (a server frame's header is 2-10 bytes). */
  readonly header: Uint8Array;
  headerHave: number;
  payloadLeft: number;
  fin: boolean;
  /** RSV1 of the message's first frame, and whether a message is in progress. */
  messageCompressed: boolean;
  inMessage: boolean;
  opcode: number;
  compressedMessages: number;
  /** During verification: the replies, kept whole. */
  replies: Reply[] | undefined;
  onReply: (() => void) | undefined;
}

// Every read lands in this one buffer (`onread`), as in bench/load-generator.ts.
const READ_BUFFER = Buffer.alloc(256 * 1024);

let echoed = 0;
let compressedEchoed = 0;
let receivedBytes = 0;
let running = false;

/** One frame's header is complete: checks it and starts its payload. */
function startFrame(peer: Peer): number {
  const b0 = peer.header[0]!;
  const b1 = peer.header[1]!;
  const opcode = b0 & 0x0f;
  const len7 = b1 & 0x7f;
  let length = len7;
  if (len7 === 126) length = (peer.header[2]! << 8) | peer.header[3]!;
  if (len7 === 127) {
    const view = new DataView(peer.header.buffer, peer.header.byteOffset + 2, 8);
    length = Number(view.getBigUint64(0));
  }
  if (opcode >= 8) fail(`Unexpected control frame from the server: opcode ${opcode}`);
  if (opcode === 0) {
    if (!peer.inMessage) fail("Continuation frame outside a message");
  } else {
    if (peer.inMessage) fail("New message before the last one ended");
    if (opcode !== 1) fail(`Expected a text message, got opcode ${opcode}`);
    peer.inMessage = true;
    peer.messageCompressed = (b0 & 0x40) !== 0;
    if (peer.replies !== undefined) peer.replies.push({ compressed: peer.messageCompressed, parts: [] });
  }
  if ((b0 & 0x30) !== 0 || (opcode === 0 && (b0 & 0x40) !== 0)) fail(`Unexpected RSV bits: ${b0}`);
  peer.fin = (b0 & 0x80) !== 0;
  peer.opcode = opcode;
  peer.payloadLeft = length;
  peer.headerHave = 0;
  return length === 0 ? endFrame(peer) : 0;
}

/** The current frame's payload is all there: 1 when it ended a message. */
function endFrame(peer: Peer): number {
  if (!peer.fin) return 0;
  peer.inMessage = false;
  if (peer.messageCompressed) peer.compressedMessages++;
  return 1;
}

/** Parses `chunk` (a view of the shared read buffer): the messages it completed. */
function parseFrames(peer: Peer, chunk: Buffer): number {
  const n = chunk.length;
  let messages = 0;
  let i = 0;
  while (i < n) {
    if (peer.payloadLeft > 0) {
      const take = Math.min(peer.payloadLeft, n - i);
      // A copy: the chunk is a view of the read buffer the next read overwrites.
      if (peer.replies !== undefined) peer.replies.at(-1)!.parts.push(Buffer.from(chunk.subarray(i, i + take)));
      peer.payloadLeft -= take;
      i += take;
      if (peer.payloadLeft === 0) messages += endFrame(peer);
      continue;
    }
    peer.header[peer.headerHave++] = chunk[i++]!;
    if (peer.headerHave === 2 && (peer.header[1]! & 0x80) !== 0) fail("A server frame is masked");
    if (peer.headerHave < 2) continue;
    const len7 = peer.header[1]! & 0x7f;
    const need = len7 < 126 ? 2 : len7 === 126 ? 4 : 10;
    if (peer.headerHave === need) messages += startFrame(peer);
  }
  return messages;
}

/** The `client_max_window_bits` the server's extension response sets, else 15. */
function clientWindowBits(response: string): number {
  const line = /\r\nsec-websocket-extensions: *([^\r]*)/i.exec(response)?.[1];
  if (line === undefined || !/^\s*permessage-deflate\b/i.test(line)) {
    fail(`The server did not accept permessage-deflate (response: ${response.split("\r\n")[0]}; extensions: ${line ?? "none"})`);
  }
  const bits = /client_max_window_bits\s*=\s*"?(\d+)/i.exec(line)?.[1];
  return bits === undefined ? 15 : Number(bits);
}

/** Connects and does the opening handshake, offering permessage-deflate. */
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
    const peer: Peer = {
      socket,
      frame: Buffer.alloc(0),
      batch: Buffer.alloc(0),
      onData: undefined,
      header: new Uint8Array(10),
      headerHave: 0,
      payloadLeft: 0,
      fin: false,
      messageCompressed: false,
      inMessage: false,
      opcode: 0,
      compressedMessages: 0,
      replies: undefined,
      onReply: undefined,
    };
    socket.once("error", reject);
    socket.once("connect", () => socket.write(REQUEST));
    let head = Buffer.alloc(0);
    peer.onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end === -1) {
        if (head.length > 8192) reject(new Error("Handshake response too long"));
        return;
      }
      const text = head.subarray(0, end).toString("latin1");
      if (!text.startsWith("HTTP/1.1 101") || !new RegExp(`\\r\\nsec-websocket-accept: *${ACCEPT.replaceAll("+", "\\+")}`, "i").test(text)) {
        reject(new Error(`Handshake refused: ${text.split("\r\n")[0]}`));
        return;
      }
      ({ frame: peer.frame, batch: peer.batch } = framesFor(clientWindowBits(text)));
      attach(peer, head.subarray(end + 4));
      resolve(peer);
    };
  });
}

function attach(peer: Peer, rest: Buffer): void {
  const { socket } = peer;
  socket.removeAllListeners("error");
  socket.on("error", (error) => {
    if (running) fail(`Socket error during the run: ${error.message}`);
  });
  socket.on("close", () => {
    if (running) fail("A connection closed during the run");
  });
  const onData = (chunk: Buffer): void => {
    const before = peer.compressedMessages;
    const messages = parseFrames(peer, chunk);
    if (peer.replies !== undefined) {
      if (messages > 0) peer.onReply?.();
      return;
    }
    receivedBytes += chunk.length;
    if (messages === 0) return;
    echoed += messages;
    compressedEchoed += peer.compressedMessages - before;
    if (running) socket.write(peer.batch.subarray(0, messages * peer.frame.length));
  };
  peer.onData = onData;
  peer.replies = [];
  if (rest.length > 0) onData(rest);
}

/** Inflates one message with `inflater` (its window kept for the next), as RFC 7692 §7.2.2 says. */
function inflateMessage(inflater: InflateRaw, data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
    };
    const onError = (error: Error): void => reject(error);
    inflater.on("data", onData);
    inflater.once("error", onError);
    inflater.write(Buffer.concat([data, TAIL]));
    inflater.flush(constants.Z_SYNC_FLUSH, () => {
      inflater.off("data", onData);
      inflater.off("error", onError);
      resolve(Buffer.concat(chunks));
    });
  });
}

/**
 * Sends `VERIFY` messages one after the other and checks each reply: inflated with one
 * `inflateRaw` that keeps its window across the replies (the server's context takeover).
 */
async function verify(peer: Peer): Promise<void> {
  const inflater = createInflateRaw({ windowBits: 15 });
  try {
    for (let n = 1; n <= VERIFY; n++) {
      const replied = new Promise<void>((resolve) => {
        peer.onReply = resolve;
      });
      peer.socket.write(peer.frame);
      await replied;
      const reply = peer.replies![n - 1]!;
      const body = Buffer.concat(reply.parts);
      const text = reply.compressed ? await inflateMessage(inflater, body) : body;
      if (!text.equals(PAYLOAD)) {
        fail(`Reply ${n} is not the message sent (${text.length} bytes${reply.compressed ? " inflated" : ""}, expected ${PAYLOAD.length})`);
      }
    }
  } finally {
    inflater.close();
  }
  peer.replies = undefined;
  peer.onReply = undefined;
}

/** Opens and verifies `CONNECTIONS` connections, at most `--concurrency` at a time. */
async function openAll(): Promise<Peer[]> {
  const peers: Peer[] = [];
  const concurrency = Math.max(1, Number(values.concurrency));
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < CONNECTIONS) {
      next++;
      const peer = await open();
      await verify(peer);
      peers.push(peer);
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
    for (const { socket } of peers) socket.destroy();
    process.exit(0);
  }
  await waitFor("go");
  running = true;
  for (const peer of peers) peer.socket.write(peer.batch);
  await sleep(Number(values.warmup));
  send({ type: "measuring" });
  const startCount = echoed;
  const startCompressed = compressedEchoed;
  const startBytes = receivedBytes;
  const startTime = performance.now();
  const startCpu = process.cpuUsage();
  await sleep(Number(values.seconds));
  const messages = echoed - startCount;
  const seconds = (performance.now() - startTime) / 1000;
  const cpu = process.cpuUsage(startCpu);
  running = false;
  send({
    type: "result",
    messages,
    seconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    total: echoed,
    compressed: compressedEchoed - startCompressed,
    receivedBytes: receivedBytes - startBytes,
    frameBytes: peers[0]?.frame.length ?? 0,
  });
  for (const { socket } of peers) socket.destroy();
  // Let the IPC message go out before exiting.
  setTimeout(() => process.exit(0), 50);
}

await main();
