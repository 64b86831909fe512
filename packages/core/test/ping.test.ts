import { afterEach, describe, expect, it } from "vitest";
import { UsageError, WebSocketError } from "../src/errors.ts";
import { Opcode } from "../src/opcode.ts";
import { WebSocketBase } from "../src/websocket.ts";
import { connectWebSocket } from "../src/websocket-stream.ts";
import { FakeClock, settle, until } from "./helpers/fake-clock.ts";
import { decodeAll, fromPeer, peerOf, roles } from "./helpers/frames.ts";
import { within } from "./helpers/memory-transport.ts";
import { apis, openSide, type Side } from "./helpers/sides.ts";
import { TestTransport } from "./helpers/test-transport.ts";

// The payloads of the Pings the end wrote since the last call (taken from the transport).
async function pingsSent(side: Side, count: number): Promise<Uint8Array[]> {
  const pings: Uint8Array[] = [];
  await until(() => {
    const chunks = side.transport.written.splice(0);
    for (const frame of decodeAll(peerOf(side.role), chunks)) if (frame.opcode === Opcode.PING) pings.push(frame.payload);
    return pings.length >= count;
  }, 2000, `${count} pings`);
  return pings;
}

const pong = (side: Side, payload: Uint8Array) => side.transport.push(fromPeer(side.role, Opcode.PONG, payload));

// unhandledRejection events seen while a test runs (process exists on Node, Deno and Bun).
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => void unhandled.push(reason);
afterEach(() => {
  process.off("unhandledRejection", onUnhandled);
  unhandled.length = 0;
});

describe.each(roles.flatMap((role) => apis.map((api) => [role, api] as const)))("ping() of a %s end (%s)", (role, api) => {
  it("resolves with the round-trip time on the clock, matched to its Pong by payload; other Pongs are ignored", async () => {
    const clock = new FakeClock();
    const side = await openSide(role, api, { clock });
    const first = side.ws.ping();
    const second = side.ws.ping();
    const [p1, p2] = await pingsSent(side, 2);
    expect(p1!.length).toBe(4);
    expect(p1).not.toEqual(p2);
    await clock.advance(30);
    pong(side, p1!);
    expect(await within(first)).toBe(30);
    expect(side.ws.stats.lastRtt).toBe(30);
    await clock.advance(12);
    // A Pong nobody asked for, and one with another payload: ignored.
    pong(side, Uint8Array.of(9, 9, 9, 9));
    pong(side, new Uint8Array(0));
    await clock.advance(5);
    pong(side, p2!);
    expect(await within(second)).toBe(47);
    expect(side.ws.stats.lastRtt).toBe(47);
  });

  it("settles earlier Pings with the Pong of a later one (a peer may answer only the most recent)", async () => {
    const clock = new FakeClock();
    const side = await openSide(role, api, { clock });
    const first = side.ws.ping();
    await clock.advance(10);
    const second = side.ws.ping();
    const [, p2] = await pingsSent(side, 2);
    await clock.advance(20);
    pong(side, p2!);
    expect(await within(Promise.all([first, second]))).toEqual([30, 20]);
    expect(side.ws.stats.lastRtt).toBe(20);
  });

  it("rejects a pending ping with a WebSocketError when the connection closes, and an ignored one is no unhandled rejection", async () => {
    process.on("unhandledRejection", onUnhandled);
    const side = await openSide(role, api);
    const awaited = side.ws.ping();
    void side.ws.ping();
    await pingsSent(side, 2);
    side.transport.pushEnd();
    const error = await within(awaited.then(() => undefined, (e: unknown) => e));
    expect(error).toBeInstanceOf(WebSocketError);
    expect(error).toMatchObject({ closeCode: 1006 });
    await within(side.ended);
    await settle(5);
    expect(unhandled).toEqual([]);
  });

  it("throws a UsageError at the call once the connection is closed", async () => {
    const side = await openSide(role, api);
    side.transport.pushEnd();
    await within(side.ended);
    expect(() => side.ws.ping()).toThrow(UsageError);
    expect(() => side.ws.ping()).toThrow(expect.objectContaining({ code: "WS_ERR_INVALID_STATE" }));
  });
});

describe("ping() while connecting", () => {
  it("throws a UsageError at the call on both interfaces", () => {
    const ws = new WebSocketBase("ws://test.invalid/", undefined, new TestTransport());
    expect(() => ws.ping()).toThrow(expect.objectContaining({ name: "UsageError", code: "WS_ERR_INVALID_STATE" }));
    const stream = connectWebSocket("ws://test.invalid/", new TestTransport());
    expect(() => stream.ping()).toThrow(expect.objectContaining({ name: "UsageError", code: "WS_ERR_INVALID_STATE" }));
    ws.close();
    stream.close();
  });
});
