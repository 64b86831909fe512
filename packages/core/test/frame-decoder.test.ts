import { describe, expect, it } from "vitest";
import { ProtocolError } from "../src/errors.ts";
import { FrameDecoder } from "../src/frame-decoder.ts";
import { encodeFrame } from "../src/frame.ts";
import { Opcode } from "../src/opcode.ts";
import { bytes, chunkings, concat, hex } from "./helpers/chunking.ts";
import { decodeAll, fromPeer, type Role, roles } from "./helpers/frames.ts";

// Feeds every chunking and expects the decoder to throw `code` with `closeCode`.
function expectFailure(role: Role, input: Uint8Array, code: string, closeCode: number, maxFrameSize = 1 << 20): void {
  for (const { label, chunks } of chunkings(input)) {
    let thrown: unknown;
    try {
      decodeAll(role, chunks, maxFrameSize);
    } catch (error) {
      thrown = error;
    }
    expect(thrown, label).toBeInstanceOf(ProtocolError);
    expect((thrown as ProtocolError).code, label).toBe(code);
    expect((thrown as ProtocolError).closeCode, label).toBe(closeCode);
  }
}

describe.each(roles)("a FrameDecoder as %s", (role) => {
  it("decodes many frames from one chunk in order", () => {
    const input = concat(...Array.from({ length: 50 }, (_, i) => fromPeer(role, Opcode.BINARY, Uint8Array.of(i, i + 1))));
    const frames = decodeAll(role, [input]);
    expect(frames.map((f) => f.payload[0])).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it("returns payloads that stay intact while later frames are decoded, wherever chunks split", () => {
    // Tiny frames: a header split between chunks is gathered in one scratch buffer, which a
    // returned payload must never be a view of.
    const frames = Array.from({ length: 12 }, (_, i) => fromPeer(role, Opcode.BINARY, Uint8Array.of(i, 2 * i, 3 * i).subarray(0, i % 4)));
    const input = concat(...frames);
    for (let step = 1; step <= 7; step++) {
      const decoder = new FrameDecoder({ role, maxFrameSize: 100 });
      const payloads: Uint8Array[] = [];
      for (let at = 0; at < input.length; at += step) {
        decoder.push(input.slice(at, at + step));
        for (let piece = decoder.next(); piece !== undefined; piece = decoder.next()) payloads.push(piece.payload);
      }
      const joined = Array.from({ length: 12 }, (_, i) => [i, 2 * i, 3 * i].slice(0, i % 4)).flat();
      expect(Array.from(concat(...payloads)), `step ${step}`).toEqual(joined);
    }
  });

  it("decodes every payload length class under every chunking", () => {
    for (const length of [0, 1, 125, 126, 127, 200]) {
      const payload = Uint8Array.from({ length }, (_, i) => i & 0xff);
      const input = concat(fromPeer(role, Opcode.BINARY, payload), fromPeer(role, Opcode.PING, "p"));
      for (const { label, chunks } of chunkings(input)) {
        const frames = decodeAll(role, chunks);
        expect(frames.length, label).toBe(2);
        expect(frames[0]!.payload, label).toEqual(payload);
        expect(frames[1]!.payload, label).toEqual(bytes("p"));
      }
    }
  });

  it("returns a data frame's first piece as soon as its header is complete", () => {
    const frame = fromPeer(role, Opcode.TEXT, "abcdef");
    const decoder = new FrameDecoder({ role, maxFrameSize: 100 });
    decoder.push(frame.slice(0, role === "server" ? 6 : 2));
    const first = decoder.next();
    expect(first).toMatchObject({ first: true, last: false, frameLength: 6, opcode: Opcode.TEXT });
    expect(first!.payload.length).toBe(0);
    decoder.push(frame.slice(role === "server" ? 6 : 2, -2));
    expect(new TextDecoder().decode(decoder.next()!.payload)).toBe("abcd");
    decoder.push(frame.slice(-2));
    const last = decoder.next()!;
    expect(new TextDecoder().decode(last.payload)).toBe("ef");
    expect(last.last).toBe(true);
    expect(decoder.next()).toBeUndefined();
  });

  it("holds a control frame back until its whole payload is there", () => {
    const frame = fromPeer(role, Opcode.PING, "ping!");
    const decoder = new FrameDecoder({ role, maxFrameSize: 100 });
    decoder.push(frame.slice(0, -1));
    expect(decoder.next()).toBeUndefined();
    decoder.push(frame.slice(-1));
    expect(decoder.next()).toMatchObject({ first: true, last: true, opcode: Opcode.PING });
  });

  it("rejects a frame with the wrong masking with 1002 (§5.1)", () => {
    const wrong = encodeFrame({ fin: true, opcode: Opcode.TEXT, payload: bytes("x") }, role === "client");
    expectFailure(role, wrong, role === "server" ? "WS_ERR_EXPECTED_MASK" : "WS_ERR_UNEXPECTED_MASK", 1002);
  });

  it("rejects every RSV bit no extension owns with 1002", () => {
    for (let rsv = 1; rsv < 8; rsv++) expectFailure(role, fromPeer(role, Opcode.TEXT, "x", true, rsv), "WS_ERR_UNEXPECTED_RSV", 1002);
  });

  it("accepts an RSV bit an extension owns on data frames only", () => {
    const frames = decodeAll(role, [fromPeer(role, Opcode.TEXT, "x", true, 0b100)], 100, 0b100);
    expect(frames[0]!.rsv).toBe(0b100);
    expect(() => decodeAll(role, [fromPeer(role, Opcode.PING, "", true, 0b100)], 100, 0b100)).toThrow(ProtocolError);
  });

  it("rejects reserved opcodes 3-7 and 11-15 with 1002", () => {
    for (const opcode of [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]) expectFailure(role, fromPeer(role, opcode, "x"), "WS_ERR_INVALID_OPCODE", 1002);
  });

  it("rejects a control frame over 125 bytes with 1002", () => {
    expectFailure(role, fromPeer(role, Opcode.PING, new Uint8Array(126)), "WS_ERR_CONTROL_FRAME_TOO_LONG", 1002);
  });

  it("rejects a fragmented control frame with 1002", () => {
    expectFailure(role, fromPeer(role, Opcode.PING, "x", false), "WS_ERR_FRAGMENTED_CONTROL_FRAME", 1002);
  });

  it("rejects a 64-bit length with the top bit set before any payload arrives", () => {
    const header = hex(role === "server" ? "82 ff 80 00 00 00 00 00 00 01 00 00 00 00" : "82 7f 80 00 00 00 00 00 00 01");
    expectFailure(role, header, "WS_ERR_UNSUPPORTED_PAYLOAD_LENGTH", 1002);
  });

  it("rejects a frame over the size limit with 1009 from its header alone", () => {
    const header = fromPeer(role, Opcode.BINARY, new Uint8Array(2000)).subarray(0, role === "server" ? 8 : 4);
    expectFailure(role, header, "WS_ERR_FRAME_TOO_BIG", 1009, 1000);
    const huge = hex(role === "server" ? "82 ff 00 00 01 00 00 00 00 00 00 00 00 00" : "82 7f 00 00 01 00 00 00 00 00");
    expectFailure(role, huge, "WS_ERR_FRAME_TOO_BIG", 1009);
  });
});
