// UTF-8 validation of text messages: the decoder stress set the conformance suite's group 6 uses,
// each vector delivered as one frame, as one frame per byte, and chopped at every byte.
import { describe, expect, it } from "vitest";
import { Connection } from "../src/connection.ts";
import { Opcode } from "../src/opcode.ts";
import { chunkings, hex } from "./helpers/chunking.ts";
import { fromPeer } from "./helpers/frames.ts";

const validVectors: [string, string][] = [
  ["U+0000", "00"], ["U+007F", "7f"], ["U+0080", "c2 80"], ["U+07FF", "df bf"], ["U+0800", "e0 a0 80"],
  ["U+FFFF", "ef bf bf"], ["U+10000", "f0 90 80 80"], ["U+10FFFF", "f4 8f bf bf"], ["U+D7FF", "ed 9f bf"],
  ["U+E000", "ee 80 80"], ["U+FFFD", "ef bf bd"], ["U+FFFE", "ef bf be"], ["U+FDD0", "ef b7 90"],
  ["Greek kosme", "ce ba e1 bd b9 cf 83 ce bc ce b5"], ["hello", "48 65 6c 6c 6f"],
];

const invalidVectors: [string, string][] = [
  ["a UTF-16 surrogate in Greek text", "ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80 65 64 69 74 65 64"],
  ["a code point above U+10FFFF", "f4 90 80 80"], ["a 5-byte form", "f8 88 80 80 80"], ["a 6-byte form", "fc 84 80 80 80 80"],
  ["a lone continuation byte", "80"], ["a run of continuation bytes", "80 bf 80 bf"], ["a lead byte then a space", "c0 20"],
  ["a sequence missing its last byte", "e0 80"], ["an impossible byte FE", "fe"], ["an impossible byte FF", "ff"],
  ["overlong slash C0 AF", "c0 af"], ["overlong C1 BF", "c1 bf"], ["overlong E0 80 AF", "e0 80 af"], ["overlong NUL C0 80", "c0 80"],
  ["a single high surrogate", "ed a0 80"], ["a single low surrogate", "ed bf bf"], ["a surrogate pair", "ed a0 80 ed b0 80"],
  ["a truncated 4-byte sequence", "f0 90 80"], ["truncated Greek", "ce ba e1 bd"],
];

function run(frames: Uint8Array[][]): Connection {
  const conn = new Connection("server");
  for (const chunk of frames.flat()) conn.receiveData(chunk);
  return conn;
}

describe("text messages and UTF-8", () => {
  for (const [name, bytesHex] of validVectors) {
    it(`accepts ${name} whole, chopped and one byte per frame`, () => {
      const payload = hex(bytesHex);
      const expected = new TextDecoder("utf-8", { ignoreBOM: true }).decode(payload);
      for (const { label, chunks } of chunkings(fromPeer("server", Opcode.TEXT, payload))) {
        const conn = run([chunks]);
        expect(conn.events(), label).toEqual([{ type: "text", data: expected }]);
      }
      const perByte = Array.from(payload, (b, i) => fromPeer("server", i === 0 ? Opcode.TEXT : Opcode.CONTINUATION, Uint8Array.of(b), i === payload.length - 1));
      expect(run([perByte]).events(), "one byte per frame").toEqual([{ type: "text", data: expected }]);
    });
  }

  for (const [name, bytesHex] of invalidVectors) {
    it(`fails ${name} with 1007 whole, chopped and one byte per frame`, () => {
      const payload = hex(bytesHex);
      for (const { label, chunks } of chunkings(fromPeer("server", Opcode.TEXT, payload))) {
        expect(run([chunks]).error?.closeCode, label).toBe(1007);
      }
      const perByte = Array.from(payload, (b, i) => fromPeer("server", i === 0 ? Opcode.TEXT : Opcode.CONTINUATION, Uint8Array.of(b), i === payload.length - 1));
      expect(run([perByte]).error?.closeCode, "one byte per frame").toBe(1007);
    });
  }

  it("fails at the first impossible byte, before the rest of the frame arrives", () => {
    // Each prefix ends at the byte that makes the sequence impossible; the frame is much longer.
    const cases = ["ed a0", "f4 90", "c0", "f8", "80", "e0 80", "ce ba ff"];
    for (const prefix of cases) {
      const frame = fromPeer("server", Opcode.TEXT, new Uint8Array([...hex(prefix), ...new Uint8Array(50).fill(0x41)]));
      const headerLength = 6;
      const conn = new Connection("server");
      conn.receiveData(frame.slice(0, headerLength + hex(prefix).length));
      expect(conn.error?.closeCode, prefix).toBe(1007);
    }
  });
});

describe("text split into pieces, under any cut", () => {
  const cutAt = (bytes: Uint8Array, points: number[]): Uint8Array[] => {
    const offsets = [...new Set(points.map((p) => Math.floor(p * bytes.length)))].sort((a, b) => a - b);
    const pieces: Uint8Array[] = [];
    let from = 0;
    for (const to of offsets) {
      pieces.push(bytes.slice(from, to));
      from = to;
    }
    pieces.push(bytes.slice(from));
    return pieces;
  };

  it("decodes exactly as one-shot fatal decoding does, or fails with 1007 exactly when it throws", async () => {
    const fc = (await import("fast-check")).default;
    const oneShot = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
    const payloads = fc.oneof(
      fc.string({ unit: "binary", maxLength: 200 }).map((s) => new TextEncoder().encode(s)),
      fc.uint8Array({ maxLength: 60 }),
      fc.array(fc.constantFrom(0x41, 0xc2, 0xa9, 0xe0, 0xa0, 0x80, 0xed, 0x9f, 0xbf, 0xf0, 0x90, 0xf4, 0x8f, 0xc0, 0xff), { maxLength: 40 }).map((a) => Uint8Array.from(a)),
    );
    fc.assert(
      fc.property(payloads, fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 8 }), fc.boolean(), (payload, points, asFragments) => {
        let expected: string | undefined;
        try {
          expected = oneShot.decode(payload);
        } catch {
          expected = undefined;
        }
        const conn = new Connection("server");
        const pieces = cutAt(payload, points);
        if (asFragments) {
          pieces.forEach((piece, i) => conn.receiveData(fromPeer("server", i === 0 ? Opcode.TEXT : Opcode.CONTINUATION, piece, i === pieces.length - 1)));
        } else {
          // One frame whose payload arrives in these pieces.
          const frame = fromPeer("server", Opcode.TEXT, payload);
          const header = frame.length - payload.length;
          conn.receiveData(frame.slice(0, header));
          let at = header;
          for (const piece of pieces) {
            conn.receiveData(frame.slice(at, at + piece.length));
            at += piece.length;
          }
        }
        if (expected === undefined) expect(conn.error?.closeCode).toBe(1007);
        else expect(conn.events()).toEqual([{ type: "text", data: expected }]);
      }),
      { numRuns: 500 },
    );
  });
});
