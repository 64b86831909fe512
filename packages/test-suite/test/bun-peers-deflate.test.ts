// Bun's own WebSocket client and server as permessage-deflate peers of every runtime's
// implementation (the Bun adapter's own suite covers Bun against Bun). Each runs as a process.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deflate, WebSocketStream } from "@wsstream/node";
import { compressionMessages } from "../src/behaviour/messages.ts";
import { type EchoServer, type Spawned, spawnCommand, startEchoServer } from "../src/runtimes.ts";

const BUN = "bun --conditions=wsstream-source";
const DENO = "deno run --allow-net --allow-env --allow-read --conditions=wsstream-source --config packages/deno/deno.json";
const started: Spawned[] = [];
const echo = new Map<string, EchoServer>();
let bunServerUrl = "";

async function listening(spawned: Spawned, ms = 30_000): Promise<string> {
  const deadline = Date.now() + ms;
  for (;;) {
    const match = /listening on (ws:\/\/\S+)/.exec(spawned.output());
    if (match !== null) return match[1]!;
    if (Date.now() > deadline) throw new Error(`No "listening on" line: ${spawned.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// Runs a client program to its end and returns its JSON line.
async function runClient(command: string): Promise<{ ok: boolean; extensions?: string; error?: string }> {
  const spawned = spawnCommand(command);
  started.push(spawned);
  const code = await Promise.race([spawned.exited, new Promise((resolve) => setTimeout(() => resolve("timeout"), 30_000))]);
  const line = spawned.output().split("\n").find((l) => l.startsWith("{"));
  expect(line, `exit ${String(code)}: ${spawned.output()}`).toBeDefined();
  return JSON.parse(line!) as { ok: boolean; extensions?: string };
}

beforeAll(async () => {
  const bunServer = spawnCommand(`${BUN} packages/test-suite/src/bun-peers/deflate-server.bun.ts`, { PORT: "0" });
  started.push(bunServer);
  bunServerUrl = await listening(bunServer);
  for (const runtime of ["node", "deno"] as const) echo.set(runtime, await startEchoServer(runtime));
}, 60_000);

afterAll(async () => {
  await Promise.all([...started, ...echo.values()].map((spawned) => spawned.stop(2000)));
});

describe("Bun's built-in server as a deflate peer", () => {
  it("our Node client agrees on permessage-deflate with Bun.serve and gets compressed echoes intact", async () => {
    const ws = new WebSocketStream(`${bunServerUrl}/`, { extensions: [deflate()] });
    const { readable, writable, extensions } = await ws.opened;
    expect(extensions).toMatch(/^permessage-deflate/);
    const writer = writable.getWriter();
    const reader = readable.getReader();
    for (const message of compressionMessages()) {
      await writer.write(message.data);
      expect((await reader.read()).value).toEqual(message.data);
    }
    ws.close({ closeCode: 1000 });
    await ws.closed.catch(() => {});
  });

  it("our Deno client agrees on permessage-deflate with Bun.serve and gets compressed echoes intact", async () => {
    const result = await runClient(`${DENO} packages/test-suite/src/bun-peers/deflate-client.deno.ts --url ${bunServerUrl}/`);
    expect(result).toMatchObject({ ok: true, extensions: expect.stringMatching(/^permessage-deflate/) });
  }, 40_000);
});

describe("Bun's built-in client as a deflate peer", () => {
  for (const runtime of ["node", "deno"] as const) {
    it(`agrees on permessage-deflate with our ${runtime} echo server and gets every message back`, async () => {
      const result = await runClient(`${BUN} packages/test-suite/src/bun-peers/deflate-client.bun.ts --url ${echo.get(runtime)!.url}/`);
      expect(result).toMatchObject({ ok: true, extensions: expect.stringMatching(/permessage-deflate/) });
    }, 40_000);
  }
});
