import { afterEach, describe, expect, it, vi } from "vitest";
import { Connection } from "../src/connection.ts";
import { describeFrame } from "../src/debug-log.ts";
import { Opcode } from "../src/opcode.ts";
import { WebSocketBase } from "../src/websocket.ts";
import { until } from "./helpers/fake-clock.ts";
import { decodeAll, peerOf, roles } from "./helpers/frames.ts";
import { within } from "./helpers/memory-transport.ts";
import { apis, openSide, type Side } from "./helpers/sides.ts";

afterEach(() => {
  vi.restoreAllMocks();
});

// Feeds the end's writes to the peer until it has `count` events; returns their types.
async function deliver(side: Side, count: number): Promise<string[]> {
  const types: string[] = [];
  await until(() => {
    for (const event of side.toPeer()) types.push(event.type);
    return types.length >= count;
  }, 2000, `${count} events at the peer`);
  return types;
}

describe.each(roles.flatMap((role) => apis.map((api) => [role, api] as const)))("debug logging of a %s end (%s)", (role, api) => {
  it("names every frame sent and received in a scripted exchange, and every change of state", async () => {
    const lines: string[] = [];
    const side = await openSide(role, api, { debug: (line) => lines.push(line) });
    const peer = side.peer;
    await side.send("hello");
    await side.send(Uint8Array.of(1, 2, 3));
    const rtt = side.ws.ping();
    expect(await deliver(side, 3)).toEqual(["text", "binary", "ping"]);
    peer.sendText("frag", false);
    peer.sendContinuation("mented", true);
    peer.sendBinary(Uint8Array.of(0xab, 0xcd));
    peer.sendPing(Uint8Array.of(7));
    side.fromPeer();
    await within(rtt);
    await until(() => side.received.length === 2, 2000, "the peer's messages");
    if (side.ws instanceof WebSocketBase) side.ws.close(1000, "bye");
    else side.ws.close({ closeCode: 1000, reason: "bye" });
    expect(await deliver(side, 2)).toEqual(["pong", "close"]);
    side.fromPeer();
    side.transport.pushEnd();
    await within(side.ended);

    const prefix = new RegExp(`^wsstream ${role}#\\d+ `);
    expect(lines.every((line) => prefix.test(line))).toBe(true);
    const body = lines.map((line) => line.replace(prefix, ""));
    const ping = decodeAll(peerOf(role), side.wrote.map((c) => c.slice())).find((f) => f.opcode === Opcode.PING)!;
    const pingHex = [...ping.payload].map((b) => b.toString(16).padStart(2, "0")).join("");
    const frames = body.filter((line) => /^(in|out) /.test(line));
    expect(frames).toEqual([
      'out TEXT fin=1 rsv=000 len=5 "hello"',
      "out BINARY fin=1 rsv=000 len=3 0x010203",
      `out PING fin=1 rsv=000 len=4 0x${pingHex}`,
      `in PONG fin=1 rsv=000 len=4 0x${pingHex}`,
      'in TEXT fin=0 rsv=000 len=4 "frag"',
      "in CONT fin=1 rsv=000 len=6 0x6d656e746564",
      "in BINARY fin=1 rsv=000 len=2 0xabcd",
      "in PING fin=1 rsv=000 len=1 0x07",
      "out PONG fin=1 rsv=000 len=1 0x07",
      'out CLOSE fin=1 rsv=000 len=5 code=1000 reason="bye"',
      'in CLOSE fin=1 rsv=000 len=2 code=1000 reason=""',
    ]);
    // As many lines as frames on the wire, each way.
    expect(frames.filter((line) => line.startsWith("out ")).length).toBe(decodeAll(peerOf(role), side.wrote.map((c) => c.slice())).length);
    expect(frames.filter((line) => line.startsWith("in ")).length).toBe(decodeAll(role, side.pushed.map((c) => c.slice())).length);
    const states = body.filter((line) => !/^(in|out) /.test(line));
    expect(states).toEqual([
      role === "client" ? "connecting to ws://test.invalid/" : "accepting a connection",
      "state connecting -> open",
      "state open -> close-sent",
      "state close-sent -> closing",
      "state closing -> closed",
      'closed code=1000 reason="" clean=true',
    ]);
  });
});

describe("the debug option", () => {
  it("with true, logs to console.error", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const side = await openSide("server", "stream", { debug: true });
    await side.send("hi");
    await until(() => error.mock.calls.some(([line]) => /^wsstream server#\d+ out TEXT fin=1 rsv=000 len=2 "hi"$/.test(String(line))), 2000, "the line");
    expect(error.mock.calls.map(([line]) => String(line).replace(/^wsstream server#\d+ /, ""))).toEqual([
      "accepting a connection",
      "state connecting -> open",
      'out TEXT fin=1 rsv=000 len=2 "hi"',
    ]);
  });

  it("logs the frames of a sans-I/O Connection, unprefixed", () => {
    const lines: string[] = [];
    const conn = new Connection("server", { debug: (line) => lines.push(line) });
    conn.sendBinary(new Uint8Array(40).fill(0xee));
    conn.receiveData(Uint8Array.of(0x88, 0x80, 0, 0, 0, 0));
    expect(lines).toEqual([
      `out BINARY fin=1 rsv=000 len=40 0x${"ee".repeat(16)}...`,
      "in CLOSE fin=1 rsv=000 len=0",
      "out CLOSE fin=1 rsv=000 len=0",
    ]);
  });
});

describe("describeFrame", () => {
  it("shortens long text, shows no preview of an encoded frame, and names unknown opcodes", () => {
    expect(describeFrame("in", Opcode.TEXT, true, 0, 100, "x".repeat(100))).toBe(`in TEXT fin=1 rsv=000 len=100 "${"x".repeat(32)}..."`);
    expect(describeFrame("out", Opcode.TEXT, true, 0b100, 12, new Uint8Array(12))).toBe("out TEXT fin=1 rsv=100 len=12");
    expect(describeFrame("in", 0x3, true, 0, 0, new Uint8Array(0))).toBe("in OP3 fin=1 rsv=000 len=0");
  });
});
