import { describe, expect, it } from "vitest";
import { encodeFrame, frameHeaderLength } from "../src/frame.ts";
import { Opcode } from "../src/opcode.ts";
import { bytes, chunkings, concat, hex } from "./helpers/chunking.ts";
import { decodeAll } from "./helpers/frames.ts";

const key = hex("37 fa 21 3d");
const hello = bytes("Hello");
const b256 = Uint8Array.from({ length: 256 }, (_, i) => i);
const b64k = Uint8Array.from({ length: 65536 }, (_, i) => (i * 7) & 0xff);

// RFC 6455 §5.7 examples; `masked` frames are client-to-server, decoded by a server.
const examples = [
  { name: "a single-frame unmasked text message", bytes: hex("81 05 48 65 6c 6c 6f"), frames: [{ fin: true, opcode: Opcode.TEXT, payload: hello }], masked: false },
  { name: "a single-frame masked text message", bytes: hex("81 85 37 fa 21 3d 7f 9f 4d 51 58"), frames: [{ fin: true, opcode: Opcode.TEXT, payload: hello }], masked: true },
  { name: "a fragmented unmasked text message", bytes: hex("01 03 48 65 6c 80 02 6c 6f"), frames: [{ fin: false, opcode: Opcode.TEXT, payload: bytes("Hel") }, { fin: true, opcode: Opcode.CONTINUATION, payload: bytes("lo") }], masked: false },
  { name: "an unmasked ping", bytes: hex("89 05 48 65 6c 6c 6f"), frames: [{ fin: true, opcode: Opcode.PING, payload: hello }], masked: false },
  { name: "a masked pong", bytes: hex("8a 85 37 fa 21 3d 7f 9f 4d 51 58"), frames: [{ fin: true, opcode: Opcode.PONG, payload: hello }], masked: true },
  { name: "a 256-byte unmasked binary message", bytes: concat(hex("82 7e 01 00"), b256), frames: [{ fin: true, opcode: Opcode.BINARY, payload: b256 }], masked: false },
  { name: "a 64 KiB unmasked binary message", bytes: concat(hex("82 7f 00 00 00 00 00 01 00 00"), b64k), frames: [{ fin: true, opcode: Opcode.BINARY, payload: b64k }], masked: false },
];

describe("RFC 6455 §5.7 examples", () => {
  for (const example of examples) {
    it(`encodes ${example.name} byte for byte`, () => {
      const encoded = concat(...example.frames.map((f) => encodeFrame(f, example.masked ? key : false)));
      expect(encoded).toEqual(example.bytes);
    });

    it(`decodes ${example.name} under every chunking`, () => {
      const role = example.masked ? "server" : "client";
      const cuts = example.bytes.length > 1000 ? [{ label: "whole", chunks: [example.bytes.slice()] }, { label: "bytes", chunks: Array.from(example.bytes, (b) => Uint8Array.of(b)) }] : [...chunkings(example.bytes)];
      for (const { label, chunks } of cuts) {
        const frames = decodeAll(role, chunks).map((f) => ({ fin: f.fin, opcode: f.opcode, payload: f.payload }));
        expect(frames, label).toEqual(example.frames);
      }
    });
  }
});

describe("encodeFrame", () => {
  it("uses the minimal length encoding at every boundary", () => {
    for (const [length, header] of [[0, 2], [125, 2], [126, 4], [127, 4], [65535, 4], [65536, 10]] as const) {
      const frame = encodeFrame({ fin: true, opcode: Opcode.BINARY, payload: new Uint8Array(length) });
      expect(frame.length - length, `length ${length}`).toBe(header);
      expect(frameHeaderLength(length, false)).toBe(header);
      expect(frameHeaderLength(length, true)).toBe(header + 4);
    }
  });

  it("masks with a fresh key each time and leaves the caller's payload unchanged", () => {
    const payload = bytes("unchanged payload");
    const copy = payload.slice();
    const a = encodeFrame({ fin: true, opcode: Opcode.TEXT, payload }, true);
    const b = encodeFrame({ fin: true, opcode: Opcode.TEXT, payload }, true);
    expect(payload).toEqual(copy);
    expect(a[1]! & 0x80).toBe(0x80);
    expect(a.subarray(2, 6)).not.toEqual(b.subarray(2, 6));
    expect(decodeAll("server", [a])[0]!.payload).toEqual(copy);
  });

  it("writes the RSV bits and the FIN bit it is given", () => {
    const frame = encodeFrame({ fin: false, opcode: Opcode.TEXT, payload: hello, rsv: 0b100 });
    expect(frame[0]).toBe(0x41);
  });
});
