import { describe, expect, it } from "vitest";
import { Opcode } from "../src/opcode.ts";
import { FakeClock, until } from "./helpers/fake-clock.ts";
import { decodeAll, fromPeer, peerOf, roles } from "./helpers/frames.ts";
import { within } from "./helpers/memory-transport.ts";
import { apis, openSide, type Side } from "./helpers/sides.ts";

// Every frame the end wrote so far (kept in `side.wrote`).
function framesWritten(side: Side) {
  for (const chunk of side.transport.written.splice(0)) side.wrote.push(chunk);
  // Copies: decoding unmasks in place.
  return decodeAll(peerOf(side.role), side.wrote.map((chunk) => chunk.slice()));
}

describe.each(roles.flatMap((role) => apis.map((api) => [role, api] as const)))("keepalive of a %s end (%s)", (role, api) => {
  it("reports the round-trip time of its Pings in stats.lastRtt", async () => {
    const clock = new FakeClock();
    const side = await openSide(role, api, { clock, keepalive: { interval: 1000, timeout: 500 } });
    await clock.advance(1000);
    const ping = framesWritten(side).find((f) => f.opcode === Opcode.PING)!;
    expect(ping.payload.length).toBe(4);
    await clock.advance(8);
    side.transport.push(fromPeer(role, Opcode.PONG, ping.payload));
    await until(() => side.ws.stats.lastRtt !== undefined, 2000, "the RTT");
    expect(side.ws.stats.lastRtt).toBe(8);
    // Answered: the timeout does not fire.
    await clock.advance(600);
    expect(framesWritten(side).map((f) => f.opcode)).toEqual([Opcode.PING]);
  });

  it("shares the payload space with ping(): a Pong for a later ping() also answers the keepalive's Ping", async () => {
    const clock = new FakeClock();
    const side = await openSide(role, api, { clock, keepalive: { interval: 1000, timeout: 500 } });
    await clock.advance(1000);
    const own = side.ws.ping();
    await until(() => framesWritten(side).length === 2, 2000, "both pings");
    const [keepalive, user] = framesWritten(side);
    expect(keepalive!.payload).not.toEqual(user!.payload);
    await clock.advance(40);
    side.transport.push(fromPeer(role, Opcode.PONG, user!.payload));
    expect(await within(own)).toBe(40);
    // Past the keepalive's timeout: still open, no Close sent.
    await clock.advance(500);
    expect(framesWritten(side).map((f) => f.opcode)).toEqual([Opcode.PING, Opcode.PING]);
    // An unanswered keepalive Ping still fails the connection with 1011.
    await clock.advance(500 + 500);
    const close = framesWritten(side).at(-1)!;
    expect([close.opcode, (close.payload[0]! << 8) | close.payload[1]!]).toEqual([Opcode.CLOSE, 1011]);
  });
});
