import { afterEach, describe, expect, it } from "vitest";
import { WebSocketStream } from "../src/client.ts";
import { echoScriptArgs, root, runCleanups, startExample, track, within } from "./fixtures/helpers.ts";

const MiB = 1024 * 1024;
afterEach(runCleanups);

function patterned(length: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + 7) & 0xff;
  return bytes;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

describe("examples/echo-server/deno.ts", () => {
  it("prints where it listens, echoes text as text and binary as binary up to 64 MiB, and exits on SIGTERM", async () => {
    const example = await startExample({ PORT: "0" });
    const match = /^listening on ws:\/\/127\.0\.0\.1:(\d+)$/.exec(example.line);
    expect(match).not.toBeNull();
    const ws = new WebSocketStream(`ws://127.0.0.1:${match![1]}/`, { maxMessageSize: 64 * MiB });
    track(() => ws.close());
    const { readable, writable } = await within(5000, "the client to open", ws.opened);
    const reader = readable.getReader();
    const writer = writable.getWriter();

    await writer.write("héllo 🦕");
    expect((await within(5000, "the text echo", reader.read())).value).toBe("héllo 🦕");
    // Over the core's default limit of 16 MiB, within the example's 64 MiB.
    const big = patterned(40 * MiB);
    await writer.write(big);
    const { value } = await within(20_000, "the binary echo", reader.read());
    expect(value).toBeInstanceOf(Uint8Array);
    expect(sameBytes(value as Uint8Array, big)).toBe(true);
    ws.close({ closeCode: 1000, reason: "bye" });
    expect(await within(5000, "the close", ws.closed)).toMatchObject({ closeCode: 1000 });

    expect(await example.stop("SIGTERM")).toBe(0);
    expect(example.output()).toMatch(/^listening on ws:\/\/127\.0\.0\.1:\d+\n$/);
  }, 60_000);

  it("listens on HOST", async () => {
    const example = await startExample({ PORT: "0", HOST: "127.0.0.2" });
    const match = /^listening on ws:\/\/127\.0\.0\.2:(\d+)$/.exec(example.line);
    expect(match).not.toBeNull();
    const ws = new WebSocketStream(`ws://127.0.0.2:${match![1]}/`);
    track(() => ws.close());

    await within(5000, "the client to open", ws.opened);
    ws.close();

    expect(await example.stop("SIGINT")).toBe(0);
  }, 30_000);

  it("refuses a PORT that is not a port number, exiting with 2", async () => {
    const run = new Deno.Command(Deno.execPath(), { args: echoScriptArgs(), cwd: root, env: { PORT: "http" }, stdin: "null" });

    const { code, stdout, stderr } = await within(20_000, "the example to exit", run.output());

    expect(code).toBe(2);
    expect(new TextDecoder().decode(stdout)).toBe("");
    expect(new TextDecoder().decode(stderr)).toContain("PORT must be an integer from 0 to 65535: http");
  }, 30_000);
});
