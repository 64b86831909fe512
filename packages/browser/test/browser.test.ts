/**
 * `@wsstream/browser` in headless Chromium (Debian's `chromium`, driven by playwright-core),
 * once with the browser's native `WebSocketStream` and once with it removed so the fallback on
 * `WebSocket` is picked, against a `@wsstream/node` server on loopback. Then the chat demo's
 * page, with one tab in each mode.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server as HttpServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handleUpgrade } from "@wsstream/node";
import { browserModule } from "../../../examples/chat/browser-module.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const MODES = ["native", "fallback"] as const;

/** The browser module as the page sees it (its types, for the functions run in the page). */
type Wsstream = typeof import("../src/index.ts") & { FallbackWebSocketStream: typeof import("../src/fallback.ts").FallbackWebSocketStream };

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

let context: BrowserContext;
let profile: string;
let http: HttpServer;
let base: string;
/** What the server saw when each connection closed, by path. */
const closes: { path: string; closeCode: number; reason: string }[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`No Chromium at ${CHROMIUM}: run scripts/ensure-chromium.sh (apt-get install chromium)`);
  profile = mkdtempSync(join(tmpdir(), "wsstream-chromium-"));
  context = await within(30_000, "Chromium to start", chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  }));

  http = createServer((request, response) => {
    const { pathname } = new URL(request.url ?? "/", "http://localhost");
    if (pathname === "/blank.html") {
      response.writeHead(200, { "Content-Type": "text/html" }).end("<!doctype html><title>wsstream</title>");
      return;
    }
    void browserModule(pathname.slice("/wsstream/".length)).then((code) => {
      if (!pathname.startsWith("/wsstream/") || code === undefined) response.writeHead(404).end();
      else response.writeHead(200, { "Content-Type": "text/javascript" }).end(code);
    });
  });
  http.on("upgrade", (request, socket, head) => {
    handleUpgrade(request, socket, head, {
      upgrade: (_req, info) => (info.protocols.includes("chat") ? { protocol: "chat" } : undefined),
      handler: async (ws, req) => {
        const path = new URL(req.url).pathname;
        const { readable, writable } = await ws.opened;
        if (path === "/echo") {
          await readable.pipeTo(writable).catch(() => {});
        } else if (path === "/bye") {
          ws.close({ closeCode: 1001, reason: "bye" });
        } else if (path === "/sink") {
          // Counts messages until "done", then answers with the count and the bytes.
          let count = 0;
          let bytes = 0;
          const reader = readable.getReader();
          for (;;) {
            const { value, done } = await reader.read();
            if (done || value === "done") break;
            count += 1;
            bytes += (value as Uint8Array).length;
          }
          await writable.getWriter().write(`${count} ${bytes}`);
        }
        const info = await ws.closed.catch((error: { closeCode: number }) => ({ closeCode: error.closeCode, reason: "" }));
        closes.push({ path, closeCode: info.closeCode ?? 0, reason: info.reason ?? "" });
      },
    }).catch(() => socket.destroy());
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(http.address() as { port: number }).port}`;
}, 60_000);

afterAll(async () => {
  await context?.close();
  http?.closeAllConnections();
  await new Promise((resolve) => http?.close(resolve));
  if (profile) rmSync(profile, { recursive: true, force: true });
});

/** A page of the test server; in fallback mode the native `WebSocketStream` is removed first. */
async function open(mode: (typeof MODES)[number], url = `${base}/blank.html`): Promise<Page> {
  const page = await context.newPage();
  if (mode === "fallback") {
    await page.addInitScript(() => {
      delete (globalThis as { WebSocketStream?: unknown }).WebSocketStream;
      delete (globalThis as { WebSocketError?: unknown }).WebSocketError;
    });
  }
  await within(10_000, "the page to load", page.goto(url));
  // A string, so that vitest leaves this import() alone: the page imports the module itself.
  await page.evaluate(`import("/wsstream/index.js").then((module) => { globalThis.wsstream = module; })`);
  return page;
}

for (const mode of MODES) {
  describe(`WebSocketStream in Chromium, ${mode}`, () => {
    it(`picks the ${mode} implementation`, async () => {
      const page = await open(mode);
      const picked = await page.evaluate(async () => (globalThis as unknown as { wsstream: { implementation: string } }).wsstream.implementation);
      expect(picked).toBe(mode);
      await page.close();
    });

    it("echoes text and binary (read as Uint8Array) with the subprotocol the server chose, then closes", async () => {
      const page = await open(mode);
      const result = await within(10_000, "the exchange", page.evaluate(async (port) => {
        const { WebSocketStream } = (globalThis as unknown as { wsstream: Wsstream }).wsstream;
        const ws = new WebSocketStream(`ws://127.0.0.1:${port}/echo`, { protocols: ["other", "chat"] });
        const { readable, writable, protocol } = await ws.opened;
        const writer = writable.getWriter();
        const reader = readable.getReader();
        await writer.write("héllo");
        await writer.write(new Uint8Array([1, 2, 3]));
        const text = (await reader.read()).value;
        const binary = (await reader.read()).value;
        ws.close({ closeCode: 1000, reason: "done" });
        const closed = await ws.closed;
        return { protocol, text, isUint8Array: binary instanceof Uint8Array, binary: [...(binary as Uint8Array)], closed };
      }, new URL(base).port));
      expect(result).toEqual({ protocol: "chat", text: "héllo", isUint8Array: true, binary: [1, 2, 3], closed: { closeCode: 1000, reason: "" } });
      await within(5000, "the server to see the close", (async () => {
        while (!closes.some((close) => close.path === "/echo" && close.closeCode === 1000 && close.reason === "done")) {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      })());
      await page.close();
    });

    it("ends the readable and resolves closed with the server's code and reason", async () => {
      const page = await open(mode);
      const result = await within(10_000, "the close", page.evaluate(async (port) => {
        const { WebSocketStream } = (globalThis as unknown as { wsstream: Wsstream }).wsstream;
        const ws = new WebSocketStream(`ws://127.0.0.1:${port}/bye`);
        const { readable } = await ws.opened;
        const { done } = await readable.getReader().read();
        return { done, closed: await ws.closed };
      }, new URL(base).port));
      expect(result).toEqual({ done: true, closed: { closeCode: 1001, reason: "bye" } });
      await page.close();
    });

    it("rejects opened and closed with a WebSocketError when nothing listens", async () => {
      const page = await open(mode);
      const closedPort = await new Promise<number>((resolve) => {
        const probe = createServer().listen(0, "127.0.0.1", () => {
          const { port } = probe.address() as { port: number };
          probe.close(() => resolve(port));
        });
      });
      const result = await within(10_000, "the failure", page.evaluate(async (port) => {
        const { WebSocketStream } = (globalThis as unknown as { wsstream: Wsstream }).wsstream;
        const ws = new WebSocketStream(`ws://127.0.0.1:${port}/`);
        const opened = await ws.opened.then(() => "opened", (error: Error) => error.name);
        const closed = await ws.closed.then(() => "closed", (error: Error) => error.name);
        return { opened, closed };
      }, closedPort));
      expect(result).toEqual({ opened: "WebSocketError", closed: "WebSocketError" });
      await page.close();
    });

    it("rejects opened when its signal was aborted before it started", async () => {
      const page = await open(mode);
      const result = await within(10_000, "the rejection", page.evaluate(async (port) => {
        const { WebSocketStream } = (globalThis as unknown as { wsstream: Wsstream }).wsstream;
        const ws = new WebSocketStream(`ws://127.0.0.1:${port}/echo`, { signal: AbortSignal.abort(new Error("changed my mind")) });
        return ws.opened.then(() => "opened", (error: Error) => error.message);
      }, new URL(base).port));
      // The fallback rejects with the signal's reason, as the wsstream adapters do; Chromium's
      // native one with a WebSocketError of its own ("WebSocket handshake was aborted").
      if (mode === "fallback") expect(result).toBe("changed my mind");
      else expect(result).not.toBe("opened");
      await page.close();
    });
  });
}

describe("the fallback's write backpressure in Chromium", () => {
  it("resolves each write only once bufferedAmount is at or below writableHighWaterMark", async () => {
    const page = await open("fallback");
    const result = await within(30_000, "the writes", page.evaluate(async (port) => {
      const { FallbackWebSocketStream } = (globalThis as unknown as { wsstream: Wsstream }).wsstream;
      const highWaterMark = 256 * 1024;
      const ws = new FallbackWebSocketStream(`ws://127.0.0.1:${port}/sink`, { writableHighWaterMark: highWaterMark });
      const { readable, writable } = await ws.opened;
      const writer = writable.getWriter();
      const message = new Uint8Array(512 * 1024);
      let peakRightAfterSend = 0;
      let peakOnceResolved = 0;
      for (let i = 0; i < 48; i++) {
        const written = writer.write(message);
        peakRightAfterSend = Math.max(peakRightAfterSend, ws.bufferedAmount);
        await written;
        peakOnceResolved = Math.max(peakOnceResolved, ws.bufferedAmount);
      }
      await writer.write("done");
      const answer = (await readable.getReader().read()).value;
      ws.close();
      return { highWaterMark, peakRightAfterSend, peakOnceResolved, answer };
    }, new URL(base).port));
    expect(result.peakRightAfterSend).toBeGreaterThan(result.highWaterMark);
    expect(result.peakOnceResolved).toBeLessThanOrEqual(result.highWaterMark);
    expect(result.answer).toBe(`48 ${48 * 512 * 1024}`);
    await page.close();
  });
});

describe("the chat demo's page", () => {
  it("sends a message from a native tab that a fallback tab shows", async () => {
    const chat = spawn(process.execPath, [`${ROOT}node_modules/tsx/dist/cli.mjs`, "--conditions=wsstream-source", "examples/chat/server.ts"], {
      cwd: ROOT,
      env: { ...process.env, PORT: "0" },
      stdio: ["ignore", "pipe", "inherit"],
      detached: true,
    });
    try {
      const port = await within(15_000, "the chat server", new Promise<string>((resolve, reject) => {
        let output = "";
        chat.stdout!.setEncoding("utf8").on("data", (text: string) => {
          output += text;
          const found = /chat on http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
          if (found) resolve(found[1]!);
        });
        chat.once("exit", (code) => reject(new Error(`The chat server exited (${code}): ${output}`)));
      }));
      const native = await open("native", `http://127.0.0.1:${port}/`);
      const fallback = await open("fallback", `http://127.0.0.1:${port}/`);
      for (const page of [native, fallback]) await page.locator("#status.connected").waitFor({ timeout: 10_000 });
      await native.locator("#text").fill("hello from the native tab");
      await native.locator("#send").click();
      await fallback.locator("#log li", { hasText: "hello from the native tab" }).waitFor({ timeout: 10_000 });
      await fallback.locator("#text").fill("and back from the fallback");
      await fallback.locator("#send").click();
      await native.locator("#log li", { hasText: "and back from the fallback" }).waitFor({ timeout: 10_000 });
      await native.close();
      await fallback.close();
    } finally {
      try {
        process.kill(-chat.pid!, "SIGKILL");
      } catch {
        // Gone already.
      }
    }
  });
});
