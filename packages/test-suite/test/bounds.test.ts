/**
 * Bounded under abuse, the same on every runtime: each runtime's echo server runs as a real
 * process, and raw TCP peers attack it. Memory is the server's resident set (the sum over its
 * process tree, read from /proc), measured before and after.
 *
 * - A peer that floods pings and never reads: the server stops reading once its pongs cannot be
 *   written, so memory stays flat.
 * - A request head over the limit, or a protocol error, with more input behind it: the 431 or the
 *   Close frame arrives before the connection ends (a lingering close, not a reset).
 * - Rounds of connections opened and closed: a later round retains no more heap than an
 *   earlier one.
 */
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket as WsClient } from "ws";
import { type EchoServer, type Runtime, RUNTIMES, startEchoServer, treeRss } from "../src/runtimes.ts";

const MiB = 1024 * 1024;
const servers = new Map<string, EchoServer>();

// Each runtime's echo server through the memory probe, which also prints its heap after a full GC.
const PROBE = "packages/test-suite/src/memory-probe.ts";
const probeCommand: Record<Runtime, string> = {
  node: `PROBE_RUNTIME=node tsx --conditions=wsstream-source --expose-gc ${PROBE}`,
  deno: `PROBE_RUNTIME=deno deno run --allow-net --allow-env --allow-read --v8-flags=--expose-gc --conditions=wsstream-source --config packages/deno/deno.json ${PROBE}`,
  bun: `PROBE_RUNTIME=bun bun --conditions=wsstream-source ${PROBE}`,
};

beforeAll(async () => {
  await Promise.all(RUNTIMES.map(async (runtime) => servers.set(runtime, await startEchoServer(runtime, { command: probeCommand[runtime] }))));
}, 60_000);

/** The next retained-heap figure the probe prints after now. */
async function nextHeap(server: EchoServer): Promise<number> {
  const seen = server.output().length;
  return within((async () => {
    for (;;) {
      const match = /heap (\d+)\n/.exec(server.output().slice(seen));
      if (match) return Number(match[1]);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })(), 5000, "a heap figure");
}

afterAll(async () => {
  await Promise.all([...servers.values()].map((server) => server.stop(2000)));
});

function portOf(url: string): number {
  return Number(new URL(url).port);
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

/** A masked client frame. */
function clientFrame(opcode: number, payload: Uint8Array): Buffer {
  const length = payload.length;
  const header = length < 126 ? Buffer.from([0x80 | opcode, 0x80 | length]) : Buffer.from([0x80 | opcode, 0x80 | 126, length >> 8, length & 0xff]);
  const mask = Buffer.from([1, 2, 3, 4]);
  const body = Buffer.from(payload.map((b, i) => b ^ mask[i & 3]!));
  return Buffer.concat([header, mask, body]);
}

const UPGRADE = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/** A raw TCP peer that collects what it reads. */
async function rawPeer(port: number): Promise<{ socket: Socket; received: () => Buffer; ended: Promise<"end" | "reset"> }> {
  const socket = connect(port, "127.0.0.1");
  await within(new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  }), 5000, "connect");
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  const ended = new Promise<"end" | "reset">((resolve) => {
    socket.once("end", () => resolve("end"));
    socket.once("error", () => resolve("reset"));
    socket.once("close", () => resolve("end"));
  });
  return { socket, received: () => Buffer.concat(chunks), ended };
}

/** Upgrades a raw peer and waits for the 101. */
async function upgraded(port: number) {
  const peer = await rawPeer(port);
  peer.socket.write(UPGRADE);
  await within((async () => {
    while (!peer.received().includes("\r\n\r\n")) await new Promise((resolve) => setTimeout(resolve, 5));
  })(), 5000, "the 101");
  const head = peer.received().toString("latin1");
  expect(head).toMatch(/^HTTP\/1\.1 101 /);
  return peer;
}

/** Writes `chunk` up to `count` times while the socket takes it, for at most `ms`; returns how many it took. */
async function flood(socket: Socket, chunk: Buffer, count: number, ms: number): Promise<number> {
  const deadline = Date.now() + ms;
  let sent = 0;
  while (sent < count && Date.now() < deadline) {
    sent++;
    if (!socket.write(chunk)) {
      const drained = await Promise.race([
        new Promise<boolean>((resolve) => socket.once("drain", () => resolve(true))),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()))),
      ]);
      if (!drained) break;
    }
  }
  return sent;
}

describe.each(RUNTIMES)("the %s echo server under abuse", (runtime) => {
  it("keeps its memory flat while a peer floods pings and never reads", async () => {
    const server = servers.get(runtime)!;
    const pid = server.child.pid!;
    const peer = await upgraded(portOf(server.url));
    peer.socket.pause(); // never read the pongs
    const before = treeRss(pid);
    // 1000 pings of 125 bytes per write; a million pings at most.
    const burst = Buffer.concat(Array.from({ length: 1000 }, () => clientFrame(0x9, new Uint8Array(125))));
    const bursts = await flood(peer.socket, burst, 1000, 4000);
    const after = treeRss(pid);
    const growth = after - before;
    console.log(`${runtime}: ${bursts * 1000} pings written, server RSS ${(before / MiB).toFixed(1)} -> ${(after / MiB).toFixed(1)} MiB (+${(growth / MiB).toFixed(1)})`);
    expect(growth).toBeLessThan(48 * MiB);
    peer.socket.destroy();
    // Still serving others.
    const other = new WsClient(server.url);
    const echoed = new Promise<string>((resolve) => other.once("message", (data) => resolve(String(data))));
    await within(new Promise((resolve) => other.once("open", resolve)), 5000, "open");
    other.send("still here");
    expect(await within(echoed, 5000, "echo")).toBe("still here");
    other.close();
  }, 30_000);

  it("answers a head over the limit with 431 even with more input behind it", async () => {
    const server = servers.get(runtime)!;
    const peer = await rawPeer(portOf(server.url));
    peer.socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${"a".repeat(20_000)}`);
    peer.socket.write(Buffer.alloc(256 * 1024, 0x61));
    await within(peer.ended, 15_000, "the end of the connection");
    expect(peer.received().toString("latin1")).toMatch(/^HTTP\/1\.1 431 /);
  }, 30_000);

  it("sends its Close 1002 before ending a connection that broke the protocol with more input behind it", async () => {
    const server = servers.get(runtime)!;
    const peer = await upgraded(portOf(server.url));
    const headLength = peer.received().indexOf("\r\n\r\n") + 4;
    peer.socket.write(clientFrame(0x3, new Uint8Array(4))); // a reserved opcode
    peer.socket.write(Buffer.alloc(256 * 1024, 0x61));
    // A well-behaved peer closes its side once it has the Close.
    await within((async () => {
      while (peer.received().length < headLength + 4) await new Promise((resolve) => setTimeout(resolve, 5));
    })(), 10_000, "the Close frame");
    const frame = peer.received().subarray(headLength);
    expect([frame[0], (frame[2]! << 8) | frame[3]!]).toEqual([0x88, 1002]);
    peer.socket.end();
    await within(peer.ended, 15_000, "the end of the connection");
  }, 30_000);

  it("retains no memory across rounds of 500 connections opened and closed", async () => {
    const server = servers.get(runtime)!;
    const pid = server.child.pid!;
    const round = async (): Promise<{ heap: number; rss: number }> => {
      const clients = await Promise.all(Array.from({ length: 500 }, () => new Promise<WsClient>((resolve, reject) => {
        const client = new WsClient(server.url);
        client.once("open", () => resolve(client));
        client.once("error", reject);
      })));
      await Promise.all(clients.map((client) => new Promise<void>((resolve) => {
        client.once("close", () => resolve());
        client.close(1000);
      })));
      // A figure printed after every close was seen by the server (the next one after this).
      await nextHeap(server);
      return { heap: await nextHeap(server), rss: treeRss(pid) };
    };
    // The resident set keeps the heap pages V8 reserved at a round's peak (Deno's own
    // Deno.serve too), so what a round leaves behind is judged on the heap after a full GC.
    const rounds: { heap: number; rss: number }[] = [];
    for (let i = 0; i < 4; i++) rounds.push(await within(round(), 20_000, `round ${i + 1}`));
    console.log(`${runtime}: after each round of 500 connections: heap ${rounds.map((r) => (r.heap / MiB).toFixed(1)).join(", ")} MiB; RSS ${rounds.map((r) => (r.rss / MiB).toFixed(1)).join(", ")} MiB`);
    // 500 connections retained would be several MiB (each holds tens of KiB).
    expect(rounds[3]!.heap - rounds[1]!.heap).toBeLessThan(2 * MiB);
  }, 90_000);
});
