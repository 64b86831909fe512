import { describe, expect, it } from "vitest";
import { Connection } from "../src/connection.ts";
import { OutputQueue } from "../src/output-queue.ts";
import { framesSentBy, roles } from "./helpers/frames.ts";

const text = (s: string) => new TextEncoder().encode(s);

describe("an OutputQueue", () => {
  it("keeps one queue's consecutive writes in one view, and splits it when another queue wrote between", () => {
    const a = new OutputQueue();
    const b = new OutputQueue();
    for (const [queue, bytes] of [[a, "a1"], [a, "a2"], [b, "b1"], [a, "a3"]] as const) {
      const { slab, offset } = queue.reserve(2);
      slab.set(text(bytes), offset);
      queue.commit(2);
    }
    expect(a.take().map((c) => new TextDecoder().decode(c))).toEqual(["a1a2", "a3"]);
    expect(b.take().map((c) => new TextDecoder().decode(c))).toEqual(["b1"]);
  });

  it("orders pushed chunks between staged ones", () => {
    const q = new OutputQueue();
    const stage = (s: string) => {
      const { slab, offset } = q.reserve(s.length);
      slab.set(text(s), offset);
      q.commit(s.length);
    };
    stage("one");
    q.push(text("[big]"));
    stage("two");
    expect(q.length).toBe(11);
    expect(q.take().map((c) => new TextDecoder().decode(c))).toEqual(["one", "[big]", "two"]);
    expect(q.length).toBe(0);
  });
});

describe.each(roles)("frames staged by connections as %s", (role) => {
  it("stay intact while other connections keep writing and the shared slab is replaced", () => {
    const conns = [new Connection(role), new Connection(role), new Connection(role)];
    const taken: { conn: number; chunks: Uint8Array[]; copies: Uint8Array[] }[] = [];
    // ~300 KiB across three connections: several slabs, interleaved.
    for (let round = 0; round < 100; round++) {
      conns.forEach((conn, i) => {
        conn.sendText(`c${i} r${round} ${"x".repeat(round * 10)}`);
        conn.sendBinary(new Uint8Array(round * 7).fill(i));
      });
      if (round % 10 === 9) {
        conns.forEach((conn, i) => {
          const chunks = conn.dataToSend();
          taken.push({ conn: i, chunks, copies: chunks.map((c) => c.slice()) });
        });
      }
    }
    for (const { conn, chunks, copies } of taken) {
      // Nothing handed out was written again.
      expect(chunks).toEqual(copies);
      const frames = framesSentBy(role, chunks);
      expect(frames.length).toBe(20);
      for (const frame of frames.filter((f) => f.opcode === 1)) {
        expect(new TextDecoder().decode(frame.payload).startsWith(`c${conn} r`)).toBe(true);
      }
      for (const frame of frames.filter((f) => f.opcode === 2)) {
        expect(frame.payload.every((b) => b === conn)).toBe(true);
      }
    }
  });
});
