import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Connection } from "../src/connection.ts";
import { encodeFrame, type Frame } from "../src/frame.ts";
import { Opcode } from "../src/opcode.ts";
import { concat } from "./helpers/chunking.ts";
import { decodeAll, type Role, roles } from "./helpers/frames.ts";

// Cuts `bytes` at the given fractions (0..1) of its length.
function cut(bytes: Uint8Array, points: number[]): Uint8Array[] {
  const offsets = [...new Set(points.map((p) => Math.floor(p * bytes.length)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const to of offsets) {
    chunks.push(bytes.slice(from, to));
    from = to;
  }
  chunks.push(bytes.slice(from));
  return chunks;
}

const frameArb: fc.Arbitrary<Frame> = fc.oneof(
  fc.record({
    fin: fc.boolean(),
    opcode: fc.constantFrom(Opcode.CONTINUATION, Opcode.TEXT, Opcode.BINARY),
    payload: fc.uint8Array({ maxLength: 70_000, size: "small" }),
  }),
  fc.record({
    fin: fc.constant(true),
    opcode: fc.constantFrom(Opcode.CLOSE, Opcode.PING, Opcode.PONG),
    payload: fc.uint8Array({ maxLength: 125 }),
  }),
);

const cutsArb = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 });

describe.each(roles)("properties as %s", (role: Role) => {
  it("decodes any frames exactly as encoded, under any chunking", () => {
    fc.assert(
      fc.property(fc.array(frameArb, { maxLength: 8 }), cutsArb, (frames, points) => {
        const wire = concat(...frames.map((f) => encodeFrame(f, role === "server")));
        const decoded = decodeAll(role, cut(wire, points));
        expect(decoded).toEqual(frames.map((f) => ({ ...f, rsv: 0 })));
      }),
      { numRuns: 200 },
    );
  });

  it("turns random bytes into events or a failure with 1002, 1007 or 1009, never an exception", () => {
    const validish = fc.array(
      fc.tuple(frameArb, fc.integer({ min: 0, max: 15 }), fc.boolean()).map(([f, opcode, mutate]) =>
        encodeFrame(mutate ? { ...f, opcode } : f, role === "server"),
      ),
      { maxLength: 6 },
    ).map((parts) => concat(...parts));
    const input = fc.oneof(fc.uint8Array({ maxLength: 2000 }), validish);
    fc.assert(
      fc.property(input, cutsArb, (bytes, points) => {
        const conn = new Connection(role, { maxMessageSize: 100_000 });
        for (const chunk of cut(bytes, points)) conn.receiveData(chunk);
        const events = conn.events();
        for (const event of events) {
          expect(["text", "binary", "ping", "pong", "close", "error"]).toContain(event.type);
        }
        if (conn.error !== undefined) expect([1002, 1007, 1009]).toContain(conn.error.closeCode);
        conn.dataToSend();
        conn.receiveEof();
        expect(conn.state).toBe(3);
      }),
      { numRuns: 300 },
    );
  });
});
