import { afterEach, describe, expect, it } from "vitest";
import { WebSocketStream } from "../src/client.ts";
import { closeOpened, MiB, pattern, sameBytes, startExample, track, within } from "./fixtures/helpers.ts";

afterEach(closeOpened);

describe("examples/echo-server/bun.ts", () => {
  it("prints where it listens, echoes text as text and binary as binary, and exits on SIGTERM", async () => {
    const example = await startExample("examples/echo-server/bun.ts", { PORT: "0" }, /^listening on ws:\/\/127\.0\.0\.1:(\d+)$/);
    const ws = new WebSocketStream(`ws://127.0.0.1:${example.match[1]}/`, { maxMessageSize: 64 * MiB });
    track(() => ws.close());
    const { readable, writable } = await within(5000, "the client to open", ws.opened);
    const reader = readable.getReader();
    const writer = writable.getWriter();
    await writer.write("héllo 🌍");
    expect((await within(5000, "the text echo", reader.read())).value).toBe("héllo 🌍");
    const big = pattern(2 * MiB, 31);
    await writer.write(big);
    const { value } = await within(5000, "the binary echo", reader.read());
    expect(value).toBeInstanceOf(Uint8Array);
    expect(sameBytes(value as Uint8Array, big)).toBe(true);
    ws.close({ closeCode: 1000, reason: "bye" });
    expect(await within(5000, "the close", ws.closed)).toMatchObject({ closeCode: 1000 });
    expect(await example.stop("SIGTERM", 5000)).toBe(0);
    expect(example.output()).toMatch(/^listening on ws:\/\/127\.0\.0\.1:\d+\n$/);
  });
});
