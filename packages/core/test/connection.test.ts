import { describe, expect, it } from "vitest";
import { Connection, type ConnectionOptions } from "../src/connection.ts";
import { UsageError } from "../src/errors.ts";
import type { ConnectionEvent } from "../src/events.ts";
import { Opcode } from "../src/opcode.ts";
import { State } from "../src/state.ts";
import { bytes, chunkings, concat, hex } from "./helpers/chunking.ts";
import { framesSentBy, fromPeer, type Role, roles } from "./helpers/frames.ts";

function open(role: Role, options: ConnectionOptions = {}): Connection {
  return new Connection(role, options);
}

function feed(conn: Connection, ...chunks: Uint8Array[]): ConnectionEvent[] {
  for (const chunk of chunks) conn.receiveData(chunk);
  return conn.events();
}

function sent(conn: Connection): { opcode: number; fin: boolean; payload: Uint8Array }[] {
  return framesSentBy(conn.role, conn.dataToSend()).map(({ opcode, fin, payload }) => ({ opcode, fin, payload }));
}

const closeFrame = (code: number, reason = "") => concat(Uint8Array.of(code >> 8, code & 0xff), bytes(reason));

// Runs `input` through a fresh connection under every chunking; each must give the same result.
function underEveryChunking(role: Role, input: Uint8Array, options: ConnectionOptions = {}) {
  let reference: { events: ConnectionEvent[]; sent: ReturnType<typeof sent> } | undefined;
  for (const { label, chunks } of chunkings(input)) {
    const conn = open(role, options);
    const events = feed(conn, ...chunks).map((e) => (e.type === "error" ? { type: "error", code: e.error.code, closeCode: e.error.closeCode } : e)) as ConnectionEvent[];
    const result = { events, sent: sent(conn) };
    if (reference === undefined) reference = result;
    else expect(result, label).toEqual(reference);
  }
  return reference!;
}

describe.each(roles)("a Connection as %s", (role) => {
  describe("receiving messages", () => {
    it("delivers text, binary and empty messages", () => {
      const input = concat(
        fromPeer(role, Opcode.TEXT, "héllo ✓"),
        fromPeer(role, Opcode.BINARY, Uint8Array.of(0, 255)),
        fromPeer(role, Opcode.TEXT, ""),
        fromPeer(role, Opcode.BINARY, new Uint8Array(0)),
      );
      const { events } = underEveryChunking(role, input);
      expect(events).toEqual([
        { type: "text", data: "héllo ✓" },
        { type: "binary", data: Uint8Array.of(0, 255) },
        { type: "text", data: "" },
        { type: "binary", data: new Uint8Array(0) },
      ]);
    });

    it("keeps a leading byte order mark in text", () => {
      const { events } = underEveryChunking(role, fromPeer(role, Opcode.TEXT, hex("ef bb bf 41")));
      expect(events).toEqual([{ type: "text", data: "\ufeffA" }]);
    });

    it("reassembles fragments, including empty ones and a multi-byte character split across them", () => {
      const euro = hex("e2 82 ac");
      const input = concat(
        fromPeer(role, Opcode.TEXT, euro.subarray(0, 1), false),
        fromPeer(role, Opcode.CONTINUATION, new Uint8Array(0), false),
        fromPeer(role, Opcode.CONTINUATION, euro.subarray(1), false),
        fromPeer(role, Opcode.CONTINUATION, "!", true),
        fromPeer(role, Opcode.BINARY, Uint8Array.of(1), false),
        fromPeer(role, Opcode.CONTINUATION, Uint8Array.of(2, 3), true),
      );
      const { events } = underEveryChunking(role, input);
      expect(events).toEqual([
        { type: "text", data: "€!" },
        { type: "binary", data: Uint8Array.of(1, 2, 3) },
      ]);
    });

    it("answers a ping between fragments at once, before the message completes", () => {
      const conn = open(role);
      const events = feed(conn, fromPeer(role, Opcode.TEXT, "frag", false), fromPeer(role, Opcode.PING, "now"));
      expect(events).toEqual([{ type: "ping", data: bytes("now") }]);
      expect(sent(conn)).toEqual([{ opcode: Opcode.PONG, fin: true, payload: bytes("now") }]);
      expect(feed(conn, fromPeer(role, Opcode.CONTINUATION, "ment", true))).toEqual([{ type: "text", data: "fragment" }]);
    });

    it("answers ten pings with ten pongs in order and ignores unsolicited pongs", () => {
      const input = concat(
        fromPeer(role, Opcode.PONG, "unasked"),
        ...Array.from({ length: 10 }, (_, i) => fromPeer(role, Opcode.PING, `p${i}`)),
      );
      const { events, sent: out } = underEveryChunking(role, input);
      expect(events[0]).toEqual({ type: "pong", data: bytes("unasked") });
      expect(out.map((f) => new TextDecoder().decode(f.payload))).toEqual(Array.from({ length: 10 }, (_, i) => `p${i}`));
      expect(out.every((f) => f.opcode === Opcode.PONG)).toBe(true);
    });

    it("leaves pings to the caller when autoPong is off", () => {
      const conn = open(role, { autoPong: false });
      expect(feed(conn, fromPeer(role, Opcode.PING, "x"))).toEqual([{ type: "ping", data: bytes("x") }]);
      expect(conn.dataToSend()).toEqual([]);
      conn.sendPong(bytes("x"));
      expect(sent(conn)).toEqual([{ opcode: Opcode.PONG, fin: true, payload: bytes("x") }]);
    });
  });

  describe("failing the connection", () => {
    function failure(input: Uint8Array, options: ConnectionOptions = {}) {
      const { events, sent: out } = underEveryChunking(role, input, options);
      const error = events.find((e) => e.type === "error") as unknown as { code: string; closeCode: number };
      return { events, out, error };
    }

    function expectClose(out: ReturnType<typeof sent>, code: number) {
      const close = out.at(-1)!;
      expect(close.opcode).toBe(Opcode.CLOSE);
      expect((close.payload[0]! << 8) | close.payload[1]!).toBe(code);
    }

    it("fails a continuation with nothing to continue with 1002", () => {
      const { error, out } = failure(fromPeer(role, Opcode.CONTINUATION, "x"));
      expect(error).toMatchObject({ code: "WS_ERR_UNEXPECTED_CONTINUATION", closeCode: 1002 });
      expectClose(out, 1002);
    });

    it("fails a new data frame inside a fragmented message with 1002", () => {
      const { error } = failure(concat(fromPeer(role, Opcode.TEXT, "a", false), fromPeer(role, Opcode.TEXT, "b")));
      expect(error).toMatchObject({ code: "WS_ERR_EXPECTED_CONTINUATION", closeCode: 1002 });
    });

    it("echoes nothing and answers no ping after a protocol error", () => {
      const input = concat(fromPeer(role, Opcode.TEXT, "ok"), fromPeer(role, 5, "bad"), fromPeer(role, Opcode.PING, "late"));
      const { events, out } = failure(input);
      expect(events.map((e) => e.type)).toEqual(["text", "error"]);
      expect(out.map((f) => f.opcode)).toEqual([Opcode.CLOSE]);
      expectClose(out, 1002);
    });

    it("fails invalid UTF-8 with 1007 at the first bad fragment, before the message ends", () => {
      const conn = open(role);
      const events = feed(conn, fromPeer(role, Opcode.TEXT, "κόσμε", false), fromPeer(role, Opcode.CONTINUATION, hex("ed a0 80"), false));
      expect(events.map((e) => e.type)).toEqual(["error"]);
      expect(conn.error).toMatchObject({ code: "WS_ERR_INVALID_UTF8", closeCode: 1007 });
      expectClose(sent(conn), 1007);
    });

    it("fails invalid UTF-8 inside one frame as soon as its bad bytes arrive", () => {
      const frame = fromPeer(role, Opcode.TEXT, concat(bytes("κόσμε"), hex("f4 90 80 80"), bytes("edited")));
      const conn = open(role);
      const cut = frame.length - 8;
      expect(feed(conn, frame.slice(0, cut))).toEqual([{ type: "error", error: conn.error }]);
      expect(conn.error?.closeCode).toBe(1007);
    });

    it("fails a text message truncated inside a code point with 1007 when it ends", () => {
      const { error } = failure(fromPeer(role, Opcode.TEXT, hex("ce ba e1")));
      expect(error).toMatchObject({ code: "WS_ERR_INVALID_UTF8", closeCode: 1007 });
    });

    it("never validates binary messages", () => {
      const { events } = underEveryChunking(role, fromPeer(role, Opcode.BINARY, hex("ed a0 80 ff")));
      expect(events).toEqual([{ type: "binary", data: hex("ed a0 80 ff") }]);
    });

    it("fails a message over the size limit with 1009 before buffering it", () => {
      const conn = open(role, { maxMessageSize: 1000 });
      const frame = fromPeer(role, Opcode.BINARY, new Uint8Array(600), false);
      feed(conn, frame, fromPeer(role, Opcode.CONTINUATION, new Uint8Array(600)).subarray(0, 8));
      expect(conn.error).toMatchObject({ code: "WS_ERR_MESSAGE_TOO_BIG", closeCode: 1009 });
      expectClose(sent(conn), 1009);
    });

    it("fails a message with too many fragments with 1009", () => {
      const frames = [fromPeer(role, Opcode.BINARY, "a", false), ...Array.from({ length: 5 }, () => fromPeer(role, Opcode.CONTINUATION, "a", false))];
      const { error } = failure(concat(...frames), { maxFragments: 5 });
      expect(error).toMatchObject({ code: "WS_ERR_TOO_MANY_FRAGMENTS", closeCode: 1009 });
    });

    it("holds the failing Close back under deferClose until completeClose", () => {
      const conn = open(role, { deferClose: true });
      const events = feed(conn, concat(fromPeer(role, Opcode.TEXT, "echo me"), fromPeer(role, 0xb, ""), fromPeer(role, Opcode.PING, "late")));
      expect(events.map((e) => e.type)).toEqual(["text", "error"]);
      expect(conn.closePending).toBe(true);
      conn.sendText("echo me");
      conn.completeClose();
      const out = sent(conn);
      expect(out.map((f) => f.opcode)).toEqual([Opcode.TEXT, Opcode.CLOSE]);
      expectClose(out, 1002);
      expect(conn.state).toBe(State.CLOSING);
    });

    it("closes the transport at once as a server and waits for the server as a client", () => {
      const conn = open(role);
      feed(conn, fromPeer(role, 3, ""));
      expect(conn.shouldCloseTransport).toBe(role === "server");
      expect(conn.closeExpected).toBe(true);
    });
  });

  describe("the closing handshake", () => {
    it("echoes the peer's code, reports it, and ignores everything after it", () => {
      const input = concat(fromPeer(role, Opcode.CLOSE, closeFrame(4001, "bye")), fromPeer(role, Opcode.TEXT, "late"), fromPeer(role, Opcode.PING, "late"));
      const { events, sent: out } = underEveryChunking(role, input);
      expect(events).toEqual([{ type: "close", code: 4001, reason: "bye" }]);
      expect(out).toEqual([{ opcode: Opcode.CLOSE, fin: true, payload: closeFrame(4001) }]);
    });

    it("answers a Close without a code with an empty Close and reports 1005", () => {
      const conn = open(role);
      expect(feed(conn, fromPeer(role, Opcode.CLOSE))).toEqual([{ type: "close", code: 1005, reason: "" }]);
      expect(sent(conn)).toEqual([{ opcode: Opcode.CLOSE, fin: true, payload: new Uint8Array(0) }]);
      expect(conn.shouldCloseTransport).toBe(role === "server");
    });

    it("fails a 1-byte close payload and invalid codes with 1002", () => {
      for (const payload of [hex("03"), closeFrame(1005), closeFrame(999), closeFrame(2000), closeFrame(5000)]) {
        const conn = open(role);
        feed(conn, fromPeer(role, Opcode.CLOSE, payload));
        expect(conn.error?.closeCode).toBe(1002);
      }
    });

    it("fails a close reason that is not UTF-8 with 1007", () => {
      const conn = open(role);
      feed(conn, fromPeer(role, Opcode.CLOSE, concat(closeFrame(1000), hex("ff"))));
      expect(conn.error?.closeCode).toBe(1007);
    });

    it("completes a handshake this end started and closes cleanly on EOF", () => {
      const conn = open(role);
      conn.sendClose(1000, "done");
      expect(conn.state).toBe(State.CLOSING);
      expect(sent(conn)).toEqual([{ opcode: Opcode.CLOSE, fin: true, payload: closeFrame(1000, "done") }]);
      expect(feed(conn, fromPeer(role, Opcode.TEXT, "still read"))).toEqual([{ type: "text", data: "still read" }]);
      feed(conn, fromPeer(role, Opcode.CLOSE, closeFrame(1000)));
      expect(conn.dataToSend()).toEqual([]);
      expect(conn.shouldCloseTransport).toBe(role === "server");
      conn.receiveEof();
      expect(conn.state).toBe(State.CLOSED);
      expect(conn.wasClean).toBe(true);
    });

    it("is not clean when the transport ends without a Close", () => {
      const conn = open(role);
      conn.receiveEof();
      expect(conn.state).toBe(State.CLOSED);
      expect(conn.wasClean).toBe(false);
      expect(conn.closeReceived).toBeUndefined();
    });

    it("holds the Close reply back under deferClose and still lets earlier messages be answered", () => {
      const conn = open(role, { deferClose: true });
      const events = feed(conn, concat(fromPeer(role, Opcode.TEXT, "hi"), fromPeer(role, Opcode.CLOSE, closeFrame(1000))));
      expect(events.map((e) => e.type)).toEqual(["text", "close"]);
      expect(conn.dataToSend()).toEqual([]);
      expect(conn.closePending).toBe(true);
      expect(conn.state).toBe(State.OPEN);
      conn.sendText("hi");
      // The peer started the closing handshake: its echo is the only Close left to send.
      expect(() => conn.sendClose(3000)).toThrowError(expect.objectContaining({ code: "WS_ERR_INVALID_STATE" }));
      conn.completeClose();
      expect(conn.closePending).toBe(false);
      expect(conn.state).toBe(State.CLOSING);
      expect(sent(conn).map((f) => [f.opcode, f.payload])).toEqual([[Opcode.TEXT, bytes("hi")], [Opcode.CLOSE, closeFrame(1000)]]);
    });

    it("fails locally with one Close even while a reply is held back, and rejects a bad code without a change", () => {
      const conn = open(role, { deferClose: true });
      feed(conn, fromPeer(role, Opcode.CLOSE, closeFrame(1000)));
      expect(() => conn.failConnection(1005)).toThrowError(expect.objectContaining({ code: "WS_ERR_INVALID_CLOSE_CODE" }));
      expect(conn.closePending).toBe(true);
      conn.failConnection(1011, "keepalive timeout");
      expect(conn.closePending).toBe(false);
      const out = sent(conn);
      expect(out.map((f) => f.opcode)).toEqual([Opcode.CLOSE]);
      expect(out[0]!.payload).toEqual(closeFrame(1011, "keepalive timeout"));
      expect(conn.shouldCloseTransport).toBe(true);
    });
  });

  describe("sending", () => {
    it("sends text, binary, fragments, pings and pongs the peer decodes", () => {
      const conn = open(role);
      conn.sendText("héllo");
      conn.sendBinary(Uint8Array.of(1, 2));
      conn.sendText("a", false);
      conn.sendContinuation("b", false);
      conn.sendContinuation(bytes("c"), true);
      conn.sendPing(bytes("p"));
      conn.sendPong();
      expect(sent(conn)).toEqual([
        { opcode: Opcode.TEXT, fin: true, payload: bytes("héllo") },
        { opcode: Opcode.BINARY, fin: true, payload: Uint8Array.of(1, 2) },
        { opcode: Opcode.TEXT, fin: false, payload: bytes("a") },
        { opcode: Opcode.CONTINUATION, fin: false, payload: bytes("b") },
        { opcode: Opcode.CONTINUATION, fin: true, payload: bytes("c") },
        { opcode: Opcode.PING, fin: true, payload: bytes("p") },
        { opcode: Opcode.PONG, fin: true, payload: new Uint8Array(0) },
      ]);
    });

    it("encodes messages at every length boundary", () => {
      for (const length of [0, 125, 126, 127, 65535, 65536, 100_000]) {
        const conn = open(role);
        const text = "é".repeat(length >> 1) + "x".repeat(length & 1);
        const binary = Uint8Array.from({ length }, (_, i) => i & 0xff);
        conn.sendText(text);
        conn.sendBinary(binary);
        const out = sent(conn);
        expect(new TextDecoder().decode(out[0]!.payload), `text ${length}`).toBe(text);
        expect(out[1]!.payload, `binary ${length}`).toEqual(binary);
      }
    });

    it("merges small queued frames into one chunk", () => {
      const conn = open(role);
      for (let i = 0; i < 10; i++) conn.sendText("x");
      const chunks = conn.dataToSend();
      expect(chunks.length).toBe(1);
      expect(framesSentBy(role, chunks).length).toBe(10);
    });

    it("throws a typed error for misuse", () => {
      const conn = open(role);
      expect(() => conn.sendContinuation("x", true)).toThrowError(expect.objectContaining({ code: "WS_ERR_INVALID_STATE" }));
      conn.sendText("a", false);
      expect(() => conn.sendBinary(Uint8Array.of(1))).toThrow(UsageError);
      expect(() => conn.sendPing(new Uint8Array(126))).toThrowError(expect.objectContaining({ code: "WS_ERR_CONTROL_FRAME_TOO_LONG" }));
      expect(() => conn.sendClose(1006)).toThrowError(expect.objectContaining({ code: "WS_ERR_INVALID_CLOSE_CODE" }));
      conn.sendClose(1000);
      expect(() => conn.sendText("late")).toThrowError(expect.objectContaining({ code: "WS_ERR_INVALID_STATE" }));
      expect(() => conn.sendClose(1000)).toThrow(UsageError);
    });

    it("fails the connection locally with the given code", () => {
      const conn = open(role);
      conn.failConnection(1011, "keepalive timeout");
      const out = sent(conn);
      expect(out[0]!.opcode).toBe(Opcode.CLOSE);
      expect(out[0]!.payload).toEqual(closeFrame(1011, "keepalive timeout"));
      expect(feed(conn, fromPeer(role, Opcode.TEXT, "ignored"))).toEqual([]);
    });
  });
});
