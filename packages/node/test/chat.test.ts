/**
 * The chat demo (`pnpm demo`, examples/chat/server.ts), run as a child process on port 0.
 */
import type { IncomingMessage } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket as WsSocket } from "ws";
import { type RedisServer, startRedis } from "../../redis/test/helpers.ts";
import { eventually, type Example, Inbox, settlesWithin, startExample, within } from "./fixtures/helpers.ts";

const READY = /^chat on http:\/\/127\.0\.0\.1:(\d+)(?: \(.*\))?$/;

const examples: Example[] = [];
const clients: WsSocket[] = [];

const redisServers: RedisServer[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.terminate();
  await Promise.all(examples.splice(0).map((example) => example.stop("SIGKILL", 5000)));
  await Promise.all(redisServers.splice(0).map((redis) => redis.stop()));
});

async function startChat(env: Record<string, string> = {}): Promise<{ example: Example; port: number }> {
  const example = await startExample("examples/chat/server.ts", { PORT: "0", ...env }, READY, 30_000);
  examples.push(example);
  return { example, port: Number(example.match[1]) };
}

/** A chat member: a `ws` client with an inbox of what the room sends it. */
interface Member {
  readonly socket: WsSocket;
  /** The pid in the handshake's `X-Chat-Worker` header (a clustered chat), or undefined. */
  readonly worker: string | undefined;
  /** Every text message received, also those taken from `messages`. */
  readonly texts: string[];
  readonly messages: Inbox<{ text: string; isBinary: boolean }>;
  readonly closed: Promise<{ code: number; reason: string }>;
}

async function joinChat(port: number, options: ConstructorParameters<typeof WsSocket>[2] = {}): Promise<Member> {
  const socket = new WsSocket(`ws://127.0.0.1:${port}/chat`, options);
  clients.push(socket);
  const messages = new Inbox<{ text: string; isBinary: boolean }>();
  let worker: string | undefined;
  socket.once("upgrade", (response: IncomingMessage) => {
    const header = response.headers["x-chat-worker"];
    worker = typeof header === "string" ? header : undefined;
  });
  const texts: string[] = [];
  socket.on("message", (data, isBinary) => {
    messages.push({ text: String(data), isBinary });
    texts.push(String(data));
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.once("close", (code, reason) => {
      messages.end(new Error(`closed with ${code}`));
      resolve({ code, reason: reason.toString() });
    });
  });
  await within(5000, "the chat connection to open", new Promise((resolve, reject) => {
    socket.once("open", resolve);
    socket.once("error", reject);
  }));
  return { socket, worker, texts, messages, closed };
}

/** The status of an upgrade request the server refuses. */
async function refusedUpgrade(url: string, options: ConstructorParameters<typeof WsSocket>[2] = {}): Promise<number> {
  const socket = new WsSocket(url, options);
  clients.push(socket);
  return within(5000, "the refusal", new Promise<number>((resolve, reject) => {
    socket.once("unexpected-response", (_request, response: IncomingMessage) => {
      resolve(response.statusCode!);
      response.resume();
    });
    socket.once("open", () => reject(new Error("Expected the upgrade to be refused")));
    socket.once("error", () => {});
  }));
}

describe("examples/chat/server.ts", () => {
  it("prints the bound port, serves the page at / with its WebSocketStream module, and 404 elsewhere", async () => {
    const { example, port } = await startChat();
    expect(example.output()).toBe(`chat on http://127.0.0.1:${port}\n`);
    const page = await within(5000, "the page", fetch(`http://127.0.0.1:${port}/`));
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const html = await within(5000, "the page body", page.text());
    expect(html).toMatch(/^<!doctype html>/i);
    expect(html).toContain('import { WebSocketStream } from "/wsstream/index.js"');
    expect(html).toContain("new WebSocketStream(url)");
    expect(html).toContain('new URL("/chat", location.href)');
    const module = await within(5000, "the module", fetch(`http://127.0.0.1:${port}/wsstream/index.js`));
    expect(module.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(await within(5000, "the module body", module.text())).toMatch(/export const WebSocketStream =/);
    expect((await within(5000, "the missing module", fetch(`http://127.0.0.1:${port}/wsstream/node.js`))).status).toBe(404);
    expect((await within(5000, "the 404", fetch(`http://127.0.0.1:${port}/nothing-here`))).status).toBe(404);
    expect((await within(5000, "the 426", fetch(`http://127.0.0.1:${port}/chat`))).status).toBe(426);
  });

  it("runs as several workers behind one port, whose members chat with each other through Redis", async () => {
    const redis = await startRedis();
    redisServers.push(redis);
    const { example, port } = await startChat({ CHAT_WORKERS: "2", REDIS_URL: redis.url });
    expect(example.output()).toBe(`chat on http://127.0.0.1:${port} (2 workers, rooms joined through Redis)\n`);
    // Connections are handed to the workers in turn: join until two workers are seen.
    const byWorker = new Map<string, Member>();
    for (let i = 0; i < 20 && byWorker.size < 2; i++) {
      const member = await joinChat(port);
      expect(member.worker).toMatch(/^\d+$/);
      if (!byWorker.has(member.worker!)) byWorker.set(member.worker!, member);
    }
    expect(byWorker.size).toBe(2);
    const [alice, bob] = [...byWorker.values()] as [Member, Member];
    // A room's Redis subscription is made once its first member joins: wait until a message
    // from each side reaches the other.
    for (const [from, to] of [[alice, bob], [bob, alice]] as const) {
      let attempt = 0;
      await eventually(10_000, "a probe from one worker to the other", () => {
        from.socket.send(`probe ${attempt++}`);
        return to.texts.some((text) => text.startsWith("probe "));
      });
      to.texts.length = 0;
    }
    alice.socket.send("hello from another worker");
    await eventually(5000, "alice's message at bob's worker", () => bob.texts.includes("hello from another worker"));
    bob.socket.send("hi alice");
    await eventually(5000, "bob's message at alice's worker", () => alice.texts.includes("hi alice"));
  }, 60_000);

  it("broadcasts a text message from one member to every member, the sender included", async () => {
    const { port } = await startChat();
    const alice = await joinChat(port);
    const bob = await joinChat(port);
    const carol = await joinChat(port);
    alice.socket.send("hello from alice ✓");
    for (const member of [alice, bob, carol]) {
      expect(await member.messages.next(5000, "alice's message")).toEqual({ text: "hello from alice ✓", isBinary: false });
    }
    bob.socket.send("hi alice");
    expect(await alice.messages.next(5000, "bob's message")).toEqual({ text: "hi alice", isBinary: false });
    expect(await carol.messages.next(5000, "bob's message")).toEqual({ text: "hi alice", isBinary: false });
  });

  it("stops sending to a member that left", async () => {
    const { port } = await startChat();
    const alice = await joinChat(port);
    const bob = await joinChat(port);
    bob.socket.close(1000, "bye");
    expect((await within(5000, "bob's close", bob.closed)).code).toBe(1000);
    alice.socket.send("anyone?");
    expect(await alice.messages.next(5000, "the echo")).toEqual({ text: "anyone?", isBinary: false });
  });

  it("closes a member that sends binary with 1003 and keeps the others", async () => {
    const { port } = await startChat();
    const alice = await joinChat(port);
    const bob = await joinChat(port);
    alice.socket.send(Buffer.from([1, 2, 3]));
    expect(await within(5000, "alice's close", alice.closed)).toEqual({ code: 1003, reason: "text messages only" });
    bob.socket.send("still here");
    expect(await bob.messages.next(5000, "the echo")).toEqual({ text: "still here", isBinary: false });
    expect(await settlesWithin(bob.closed, 50)).toBe(false);
  });

  it("closes a member that sends a message over 4096 bytes with 1009, without broadcasting it", async () => {
    const { port } = await startChat();
    const alice = await joinChat(port);
    const bob = await joinChat(port);
    alice.socket.send("é".repeat(2048)); // exactly 4096 bytes: allowed
    expect((await bob.messages.next(5000, "the largest message")).text).toBe("é".repeat(2048));
    alice.socket.send("x".repeat(4097));
    expect((await within(5000, "alice's close", alice.closed)).code).toBe(1009);
    bob.socket.send("after");
    expect(await bob.messages.next(5000, "the next message")).toEqual({ text: "after", isBinary: false });
  });

  it("refuses upgrades on other paths (404) and from another origin (403)", async () => {
    const { port } = await startChat();
    expect(await refusedUpgrade(`ws://127.0.0.1:${port}/other`)).toBe(404);
    expect(await refusedUpgrade(`ws://127.0.0.1:${port}/chat`, { origin: "https://evil.example" })).toBe(403);
    expect(await refusedUpgrade(`ws://127.0.0.1:${port}/chat`, { origin: "null" })).toBe(403);
    const fromPage = await joinChat(port, { origin: `http://127.0.0.1:${port}` });
    fromPage.socket.send("same origin");
    expect((await fromPage.messages.next(5000, "the echo")).text).toBe("same origin");
  });

  it("closes every member with 1001 and exits 0 on SIGTERM", async () => {
    const { example, port } = await startChat();
    const alice = await joinChat(port);
    const bob = await joinChat(port);
    expect(await example.stop("SIGTERM", 10_000)).toBe(0);
    expect(await within(5000, "alice's close", alice.closed)).toEqual({ code: 1001, reason: "server closing" });
    expect(await within(5000, "bob's close", bob.closed)).toEqual({ code: 1001, reason: "server closing" });
  });
});
