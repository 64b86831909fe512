/**
 * The handshake load generator: a raw `node:net` client, no WebSocket library, that runs whole
 * WebSocket connections one after the other, `--concurrency` at a time. Each connection:
 *
 * 1. connects and writes a fixed upgrade request (the RFC 6455 §1.3 example key);
 * 2. reads the response head, checks `101` and the `Sec-WebSocket-Accept` value;
 * 3. with `--echo`, sends one masked 16-byte binary frame and waits for it to come back;
 * 4. sends a masked Close (1000), waits for the server's Close frame and for the server to close
 *    the TCP connection (RFC 6455 §7.1.1: the server closes first), then closes its side.
 *
 * Every byte it sends is encoded before the run; what it receives is appended to a small
 * per-connection buffer and scanned. So a connection costs the generator a `connect()`, two or
 * three `write()`s and a few reads.
 *
 * Driven over IPC by bench/handshake.ts: it runs `--warmup` connections, sends `measuring`, runs
 * `--count` connections, then sends `result` with the wall time and its own CPU time
 * (`process.cpuUsage()`) for those. Any refused handshake, unexpected byte, reset or a
 * connection that takes over 10 s fails the run.
 *
 * Run by hand: node --import tsx bench/handshake-generator.ts --port 9001 --count 2000 --concurrency 16
 *
 * @module
 */
import { connect } from "node:net";
import { parseArgs } from "node:util";
import { fail, send } from "./generator-ipc.ts";

const { values } = parseArgs({
  options: {
    port: { type: "string" },
    host: { type: "string", default: "127.0.0.1" },
    count: { type: "string", default: "2000" },
    warmup: { type: "string", default: "200" },
    concurrency: { type: "string", default: "16" },
    echo: { type: "boolean", default: false },
  },
});

const PORT = Number(values.port);
const HOST = values.host;
const ECHO = values.echo;
const CONNECTION_LIMIT_MS = 10_000;

/** Messages to the parent process. */
export type HandshakeGeneratorMessage =
  | { readonly type: "measuring" }
  | {
    readonly type: "result";
    /** Connections completed in the measured part. */
    readonly connections: number;
    readonly seconds: number;
    /** This process's CPU seconds (user + system) over the measured part. */
    readonly cpuSeconds: number;
  }
  | { readonly type: "error"; readonly message: string };

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
const ACCEPT_LINE = new RegExp(`\\r\\nsec-websocket-accept: *${ACCEPT.replaceAll("+", "\\+")}\\r\\n`, "i");
const REQUEST = Buffer.from(
  `GET / HTTP/1.1\r\nHost: ${HOST}:${PORT}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
);
const MASK = [0x37, 0xfa, 0x21, 0x3d] as const;

/** A masked client frame (§5.2) with a payload under 126 bytes. */
function clientFrame(opcode: number, payload: Uint8Array): Buffer {
  const frame = Buffer.alloc(6 + payload.length);
  frame[0] = 0x80 | opcode;
  frame[1] = 0x80 | payload.length;
  frame.set(MASK, 2);
  for (let i = 0; i < payload.length; i++) frame[6 + i] = payload[i]! ^ MASK[i & 3]!;
  return frame;
}

const MESSAGE = Buffer.from("0123456789abcdef");
const MESSAGE_FRAME = clientFrame(0x2, MESSAGE);
// The echo as the server sends it: unmasked, same payload.
const ECHOED = Buffer.concat([Buffer.from([0x82, MESSAGE.length]), MESSAGE]);
const CLOSE_FRAME = clientFrame(0x8, Buffer.from([0x03, 0xe8]));

/** One whole connection; resolves once the server closed and the socket is gone. */
function connection(): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port: PORT, host: HOST, noDelay: true });
    // Where the connection is: reading the 101, the echo, then the server's Close.
    let stage: "head" | "echo" | "close" | "closed" = "head";
    let received: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`A connection took over ${CONNECTION_LIMIT_MS} ms (stage ${stage})`));
    }, CONNECTION_LIMIT_MS);
    const sendClose = (): void => {
      stage = "close";
      socket.write(CLOSE_FRAME);
    };
    socket.on("connect", () => socket.write(REQUEST));
    socket.on("data", (chunk: Buffer) => {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      if (stage === "head") {
        const end = received.indexOf("\r\n\r\n");
        if (end === -1) return;
        const head = received.subarray(0, end + 2).toString("latin1");
        if (!head.startsWith("HTTP/1.1 101 ") || !ACCEPT_LINE.test(head)) {
          reject(new Error(`Handshake refused: ${head.split("\r\n")[0]}`));
          socket.destroy();
          return;
        }
        received = received.subarray(end + 4);
        if (ECHO) {
          stage = "echo";
          socket.write(MESSAGE_FRAME);
        } else {
          sendClose();
        }
      }
      if (stage === "echo") {
        if (received.length < ECHOED.length) return;
        if (!received.subarray(0, ECHOED.length).equals(ECHOED)) {
          reject(new Error(`Unexpected echo: ${received.subarray(0, ECHOED.length).toString("hex")}`));
          socket.destroy();
          return;
        }
        received = received.subarray(ECHOED.length);
        sendClose();
      }
      if (stage === "close") {
        if (received.length < 2) return;
        // The server's Close: unmasked, opcode 8, a payload of 0 to 125 bytes.
        if (received[0] !== 0x88 || (received[1]! & 0x80) !== 0 || received.length > 2 + received[1]!) {
          reject(new Error(`Unexpected bytes instead of a Close: ${received.subarray(0, 8).toString("hex")}`));
          socket.destroy();
          return;
        }
        if (received.length === 2 + received[1]!) stage = "closed";
      }
    });
    // The server ends first; `allowHalfOpen` is off, so our side ends at once too.
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on("close", () => {
      clearTimeout(timer);
      if (stage === "closed") resolve();
      else reject(new Error(`The server closed the connection early (stage ${stage})`));
    });
  });
}

/** Runs `count` connections, `concurrency` at a time. */
async function run(count: number, concurrency: number): Promise<void> {
  let started = 0;
  const worker = async (): Promise<void> => {
    while (started < count) {
      started++;
      await connection();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

async function main(): Promise<void> {
  process.on("disconnect", () => process.exit(0));
  const concurrency = Math.max(1, Number(values.concurrency));
  const count = Number(values.count);
  try {
    await run(Number(values.warmup), concurrency);
    send({ type: "measuring" } satisfies HandshakeGeneratorMessage);
    const startTime = performance.now();
    const startCpu = process.cpuUsage();
    await run(count, concurrency);
    const seconds = (performance.now() - startTime) / 1000;
    const cpu = process.cpuUsage(startCpu);
    send({ type: "result", connections: count, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 } satisfies HandshakeGeneratorMessage);
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
  // Let the IPC message go out before exiting.
  setTimeout(() => process.exit(0), 50);
}

await main();
