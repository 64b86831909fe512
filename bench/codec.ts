/**
 * Codec: frame decoding and masking, in one process, no I/O.
 *
 * 1. `FrameDecoder` (role server) decoding a stream of masked binary frames with 16 B, 1 KiB and
 *    64 KiB payloads, cut into 64 KiB chunks as a socket delivers them (so a chunk holds many
 *    small frames, and a frame may span two chunks). Reported as frames/s and MB/s of input
 *    (headers included; MB = 10^6 bytes).
 * 2. The same bytes through a whole `Connection` (`receiveData` + `events()`): the decoder plus
 *    message assembly and one event per message, for binary and for text (text is decoded into a
 *    string). The difference per message is what a message costs above the frame.
 * 3. The same bytes through ws's own `Receiver` (a `Writable`, fed with `write()` as ws's socket
 *    handler does, with bufferutil unmasking): ws keeps a text message as a validated `Buffer`,
 *    where ours makes a string.
 * 4. The core's echo path per message: `receiveData`, `sendBinary` of each message, `dataToSend`.
 * 5. Masking in place: `applyMask` as a program calls it, its two paths on their own (the
 *    WebAssembly SIMD module and the JavaScript word loop), a naive byte loop and bufferutil's
 *    native `unmask`, for 16 B to 1 MiB, on a 4-byte-aligned view and on a view at byte offset 1.
 *
 * Each case runs `--ms` milliseconds after a warm-up, `--repeats` times, the cases interleaved;
 * the median is reported. Decoders unmask in place, so the timed runs feed the same chunks over
 * and over (a payload comes out masked every other run; headers are never masked): a payload
 * mask with the high bit clear over ASCII text keeps the text valid UTF-8 either way. A checked
 * run on fresh copies first makes sure every decoder returns the original payloads.
 *
 * Run: node_modules/.bin/tsx --conditions=wsstream-source bench/codec.ts [--quick] [--ms 1000] [--repeats 3]
 *
 * @module
 */
import { createRequire } from "node:module";
import { parseArgs } from "node:util";
import { applyMask, Connection, FrameDecoder } from "@wsstream/core";
import { applyMaskJs, maskThroughWasm, maskWasm, WASM_THRESHOLD } from "../packages/core/src/mask.ts";
import { timeRuns } from "./timing.ts";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    ms: { type: "string" },
    repeats: { type: "string" },
  },
});
const RUN_MS = Number(values.ms ?? (values.quick ? 150 : 1000));
const WARMUP_MS = Math.min(300, RUN_MS);
const REPEATS = Number(values.repeats ?? 3);

// ws and the bufferutil it loads (not re-exported by ws's `exports` map: reached from its path).
const require = createRequire(import.meta.url);
const wsRequire = createRequire(require.resolve("ws"));
/** The part of ws's `Receiver` (a `Writable`, not in @types/ws) that this benchmark drives. */
interface WsReceiver {
  write(chunk: Buffer): boolean;
  on(event: "message", listener: (data: Buffer, isBinary: boolean) => void): void;
  on(event: "error", listener: (error: Error) => void): void;
}
const { Receiver } = wsRequire("ws") as { Receiver: new (options: object) => WsReceiver };
const bufferUtil = wsRequire("bufferutil") as { unmask(buffer: Uint8Array, mask: Uint8Array): void };

const KiB = 1024;
const CHUNK = 64 * KiB;
const SIZES = [16, KiB, 64 * KiB];
const MASK_SIZES = [16, 256, KiB, 64 * KiB, 1024 * KiB];
const OPCODE_TEXT = 0x1;
const OPCODE_BINARY = 0x2;
// High bits clear: ASCII XOR this key stays ASCII, so text is valid UTF-8 masked or not.
const MASK_KEY = Uint8Array.of(0x37, 0x1a, 0x5c, 0x29);

/** A masked client frame (§5.2) of `payload`. */
function maskedFrame(opcode: number, payload: Uint8Array): Uint8Array {
  const n = payload.length;
  const lengthBytes = n < 126 ? 0 : n <= 0xffff ? 2 : 8;
  const header = 2 + lengthBytes + 4;
  const frame = new Uint8Array(header + n);
  const view = new DataView(frame.buffer);
  frame[0] = 0x80 | opcode;
  frame[1] = 0x80 | (n < 126 ? n : n <= 0xffff ? 126 : 127);
  if (lengthBytes === 2) view.setUint16(2, n);
  if (lengthBytes === 8) view.setBigUint64(2, BigInt(n));
  frame.set(MASK_KEY, header - 4);
  for (let i = 0; i < n; i++) frame[header + i] = payload[i]! ^ MASK_KEY[i & 3]!;
  return frame;
}

/** ASCII text, `n` bytes. */
function asciiPayload(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = 0x61 + (i % 26);
  return out;
}

/** A stream of frames (at least 1 MiB and 16 frames) and its cut into 64 KiB chunks. */
interface Stream {
  readonly payload: Uint8Array;
  readonly frames: number;
  readonly bytes: number;
  /** Fresh chunks, each its own ArrayBuffer (a socket read), in the given flavour. */
  chunks(): Uint8Array[];
  buffers(): Buffer[];
}

function makeStream(opcode: number, size: number): Stream {
  const payload = asciiPayload(size);
  const frame = maskedFrame(opcode, payload);
  const frames = Math.max(16, Math.ceil((1024 * KiB) / frame.length));
  const all = new Uint8Array(frame.length * frames);
  for (let i = 0; i < frames; i++) all.set(frame, i * frame.length);
  const cut = (): Uint8Array[] => {
    const out: Uint8Array[] = [];
    for (let at = 0; at < all.length; at += CHUNK) out.push(all.slice(at, Math.min(at + CHUNK, all.length)));
    return out;
  };
  return {
    payload,
    frames,
    bytes: all.length,
    chunks: cut,
    buffers: () => cut().map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength)),
  };
}

/** One decoding implementation: feeds all chunks once, returns how many frames/messages came out. */
type Decode = (chunks: readonly Uint8Array[]) => number;

function decoderOnly(): { decode: Decode; check: (s: Stream) => void } {
  const make = (): FrameDecoder => new FrameDecoder({ role: "server", maxFrameSize: 16 * 1024 * KiB });
  const decoder = make();
  return {
    decode: (chunks) => {
      let frames = 0;
      for (const chunk of chunks) {
        decoder.push(chunk);
        for (let piece = decoder.next(); piece !== undefined; piece = decoder.next()) if (piece.last) frames++;
      }
      return frames;
    },
    check: (stream) => {
      const fresh = make();
      let frames = 0;
      let parts: Uint8Array[] = [];
      for (const chunk of stream.chunks()) {
        fresh.push(chunk);
        for (let piece = fresh.next(); piece !== undefined; piece = fresh.next()) {
          parts.push(piece.payload.slice());
          if (!piece.last) continue;
          frames++;
          assertEqual(concat(parts), stream.payload, "FrameDecoder payload");
          parts = [];
        }
      }
      if (frames !== stream.frames) throw new Error(`FrameDecoder: ${frames} frames of ${stream.frames}`);
    },
  };
}

function connection(): { decode: Decode; check: (s: Stream) => void } {
  const conn = new Connection("server");
  const expected = new TextDecoder();
  return {
    decode: (chunks) => {
      let messages = 0;
      for (const chunk of chunks) {
        conn.receiveData(chunk);
        for (const event of conn.events()) if (event.type === "binary" || event.type === "text") messages++;
      }
      return messages;
    },
    check: (stream) => {
      const fresh = new Connection("server");
      let messages = 0;
      for (const chunk of stream.chunks()) {
        fresh.receiveData(chunk);
        for (const event of fresh.events()) {
          if (event.type === "binary") assertEqual(event.data, stream.payload, "Connection binary message");
          else if (event.type === "text") {
            if (event.data !== expected.decode(stream.payload)) throw new Error("Connection: text message differs");
          } else throw new Error(`Connection: unexpected ${event.type} event`);
          messages++;
        }
      }
      if (messages !== stream.frames) throw new Error(`Connection: ${messages} messages of ${stream.frames}`);
    },
  };
}

function wsReceiver(): { decode: Decode; check: (s: Stream) => void; buffers: true } {
  const make = (onMessage: (data: Buffer, isBinary: boolean) => void): WsReceiver => {
    // As ws's WebSocketServer configures it: server side, 100 MiB max payload, sync events.
    const receiver = new Receiver({ isServer: true, maxPayload: 100 * 1024 * KiB, allowSynchronousEvents: true });
    receiver.on("message", onMessage);
    receiver.on("error", (error: Error) => {
      throw error;
    });
    return receiver;
  };
  let messages = 0;
  const receiver = make(() => {
    messages++;
  });
  return {
    buffers: true,
    decode: (chunks) => {
      messages = 0;
      // These are the Buffers from `stream.buffers()` (see `buffers: true`).
      for (const chunk of chunks) receiver.write(chunk as Buffer);
      return messages;
    },
    check: (stream) => {
      let count = 0;
      const fresh = make((data) => {
        assertEqual(data, stream.payload, "ws Receiver message");
        count++;
      });
      for (const chunk of stream.buffers()) fresh.write(chunk);
      if (count !== stream.frames) throw new Error(`ws Receiver: ${count} messages of ${stream.frames}`);
    },
  };
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function assertEqual(actual: Uint8Array, expected: Uint8Array, what: string): void {
  if (actual.length !== expected.length || !actual.every((b, i) => b === expected[i])) {
    throw new Error(`${what} differs from what was sent`);
  }
}

interface Case {
  readonly group: string;
  readonly name: string;
  readonly run: () => void;
  /** Units of the table (frames, messages) and input bytes per run. */
  readonly unitsPerRun: number;
  readonly bytesPerRun: number;
}

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Warms every case up, then runs them interleaved `REPEATS` times; returns the median runs/s. */
function measure(cases: readonly Case[]): Map<Case, number> {
  for (const c of cases) timeRuns(c.run, WARMUP_MS);
  const samples = new Map<Case, number[]>(cases.map((c) => [c, []]));
  for (let r = 0; r < REPEATS; r++) for (const c of cases) samples.get(c)!.push(timeRuns(c.run, RUN_MS));
  return new Map([...samples].map(([c, xs]) => [c, median(xs)]));
}

const sizeName = (size: number): string => (size >= KiB ? `${size / KiB} KiB` : `${size} B`);
const rate = (perSecond: number): string =>
  perSecond >= 1e6 ? `${(perSecond / 1e6).toFixed(2)} M` : `${(perSecond / 1e3).toFixed(1)} k`;

function decodeCases(): { cases: Case[]; table: () => void } {
  const cases: Case[] = [];
  const rows: { size: number; kind: string; decoder?: Case; conn: Case; ws: Case }[] = [];
  for (const size of SIZES) {
    for (const [kind, opcode] of [["binary", OPCODE_BINARY], ["text", OPCODE_TEXT]] as const) {
      const stream = makeStream(opcode, size);
      const add = (name: string, impl: { decode: Decode; check: (s: Stream) => void; buffers?: true }): Case => {
        impl.check(stream);
        const chunks = impl.buffers ? stream.buffers() : stream.chunks();
        const c: Case = {
          group: `${sizeName(size)} ${kind}`,
          name,
          run: () => {
            const n = impl.decode(chunks);
            if (n !== stream.frames) throw new Error(`${name}: ${n} of ${stream.frames}`);
          },
          unitsPerRun: stream.frames,
          bytesPerRun: stream.bytes,
        };
        cases.push(c);
        return c;
      };
      // The decoder does not look at the opcode beyond the header: once, with binary frames.
      const decoder = kind === "binary" ? add("FrameDecoder", decoderOnly()) : undefined;
      const conn = add("Connection", connection());
      const ws = add("ws Receiver", wsReceiver());
      rows.push({ size, kind, ...(decoder ? { decoder } : {}), conn, ws });
    }
  }
  return {
    cases,
    table: () => {
      const results = measure(cases);
      const perSecond = (c: Case): number => results.get(c)! * c.unitsPerRun;
      const mbps = (c: Case): string => ((results.get(c)! * c.bytesPerRun) / 1e6).toFixed(0);
      const ns = (c: Case): string => (1e9 / perSecond(c)).toFixed(0);
      console.log(
        `\nDecode: masked frames in 64 KiB chunks, median of ${REPEATS} x ${RUN_MS} ms. ` +
          "Frames (or messages)/s, MB/s of input, ns per frame.",
      );
      console.log("| payload | FrameDecoder | Connection | ws Receiver | Connection / ws | Connection − FrameDecoder |");
      console.log("| --- | --- | --- | --- | ---: | ---: |");
      for (const row of rows) {
        const cell = (c: Case): string => `${rate(perSecond(c))}/s, ${mbps(c)} MB/s, ${ns(c)} ns`;
        const extra = row.decoder ? `${(1e9 / perSecond(row.conn) - 1e9 / perSecond(row.decoder)).toFixed(0)} ns/msg` : "";
        console.log(
          `| ${sizeName(row.size)} ${row.kind} | ${row.decoder ? cell(row.decoder) : "(same as binary)"} | ${cell(row.conn)} ` +
            `| ${cell(row.ws)} | ${(perSecond(row.conn) / perSecond(row.ws)).toFixed(2)}x | ${extra} |`,
        );
      }
    },
  };
}

function naiveMask(data: Uint8Array, key: Uint8Array): void {
  for (let i = 0; i < data.length; i++) data[i] = data[i]! ^ key[i & 3]!;
}

function maskCases(): { cases: Case[]; table: () => void } {
  const cases: Case[] = [];
  const rows: { size: number; offset: number; ours: Case; wasm: Case; js: Case; naive: Case; native: Case }[] = [];
  const key = Uint8Array.of(0x12, 0x34, 0x56, 0x78);
  const wasm = maskWasm();
  if (wasm === null) throw new Error("The WebAssembly masking module did not load");
  for (const size of MASK_SIZES) {
    for (const offset of [0, 1]) {
      // Check first: each implementation masks a copy the same way.
      const source = asciiPayload(size + 8).subarray(offset, offset + size);
      const results = [
        applyMask,
        naiveMask,
        applyMaskJs,
        (d: Uint8Array, k: Uint8Array) => maskThroughWasm(wasm, d, k, 0, d, 0),
        (d: Uint8Array, k: Uint8Array) => bufferUtil.unmask(Buffer.from(d.buffer, d.byteOffset, d.length), k),
      ].map((fn) => {
        const copy = new Uint8Array(size + 8).subarray(offset, offset + size);
        copy.set(source);
        fn(copy, key);
        return copy;
      });
      assertEqual(results[0]!, results[1]!, "applyMask");
      assertEqual(results[2]!, results[1]!, "applyMask's JS loop");
      assertEqual(results[3]!, results[1]!, "applyMask's WebAssembly path");
      assertEqual(results[4]!, results[1]!, "bufferutil.unmask");
      const data = new Uint8Array(size + 8).subarray(offset, offset + size);
      const buffer = Buffer.from(data.buffer, data.byteOffset, data.length);
      const group = `${sizeName(size)} +${offset}`;
      const c = (name: string, run: () => void): Case => {
        const made: Case = { group, name, run, unitsPerRun: 1, bytesPerRun: size };
        cases.push(made);
        return made;
      };
      rows.push({
        size,
        offset,
        ours: c("applyMask", () => applyMask(data, key)),
        wasm: c("wasm", () => maskThroughWasm(wasm, data, key, 0, data, 0)),
        js: c("js loop", () => applyMaskJs(data, key)),
        naive: c("byte loop", () => naiveMask(data, key)),
        native: c("bufferutil", () => bufferUtil.unmask(buffer, key)),
      });
    }
  }
  return {
    cases,
    table: () => {
      const results = measure(cases);
      const gbps = (c: Case): number => (results.get(c)! * c.bytesPerRun) / 1e9;
      const ns = (c: Case): string => (1e9 / results.get(c)!).toFixed(0);
      console.log(
        `\nMasking in place: GB/s (ns per call), median of ${REPEATS} x ${RUN_MS} ms. applyMask takes the ` +
          `WebAssembly path from ${WASM_THRESHOLD} B, the JS loop below.`,
      );
      console.log(
        "| payload | view offset | applyMask | WebAssembly SIMD | JS word loop | byte loop | bufferutil (native, ws) " +
          "| wasm / JS loop | wasm / bufferutil |",
      );
      console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
      for (const row of rows) {
        const cell = (c: Case): string => `${gbps(c).toFixed(2)} (${ns(c)} ns)`;
        console.log(
          `| ${sizeName(row.size)} | ${row.offset === 0 ? "0 (aligned)" : `${row.offset} (unaligned)`} ` +
            `| ${cell(row.ours)} | ${cell(row.wasm)} | ${cell(row.js)} | ${cell(row.naive)} | ${cell(row.native)} ` +
            `| ${(gbps(row.wasm) / gbps(row.js)).toFixed(2)}x | ${(gbps(row.wasm) / gbps(row.native)).toFixed(2)}x |`,
        );
      }
    },
  };
}

/**
 * The core's whole echo path per message, no I/O: `receiveData` of the chunks, `sendBinary` of
 * every message received, `dataToSend` once per chunk (a server flushes once per read).
 */
function echoCases(): { cases: Case[]; table: () => void } {
  const cases: Case[] = [];
  for (const size of SIZES) {
    const stream = makeStream(OPCODE_BINARY, size);
    const conn = new Connection("server");
    const chunks = stream.chunks();
    let sent = 0;
    const run = (): void => {
      let messages = 0;
      for (const chunk of chunks) {
        conn.receiveData(chunk);
        for (const event of conn.events()) {
          if (event.type !== "binary") throw new Error(`Echo: unexpected ${event.type} event`);
          conn.sendBinary(event.data);
          messages++;
        }
        for (const out of conn.dataToSend()) sent += out.length;
      }
      if (messages !== stream.frames) throw new Error(`Echo: ${messages} of ${stream.frames}`);
    };
    run();
    const expected = stream.frames * (stream.payload.length + (size < 126 ? 2 : size <= 0xffff ? 4 : 10));
    if (sent !== expected) throw new Error(`Echo: sent ${sent} bytes, expected ${expected}`);
    cases.push({ group: sizeName(size), name: "Connection echo", run, unitsPerRun: stream.frames, bytesPerRun: stream.bytes });
  }
  return {
    cases,
    table: () => {
      const results = measure(cases);
      console.log(
        `\nCore echo path (receiveData + sendBinary per message + dataToSend per 64 KiB chunk), ` +
          `median of ${REPEATS} x ${RUN_MS} ms.`,
      );
      console.log("| payload | messages/s | ns per message | MB/s of input |");
      console.log("| --- | ---: | ---: | ---: |");
      for (const c of cases) {
        const perSecond = results.get(c)! * c.unitsPerRun;
        console.log(
          `| ${c.group} | ${rate(perSecond)} | ${(1e9 / perSecond).toFixed(0)} | ${((results.get(c)! * c.bytesPerRun) / 1e6).toFixed(0)} |`,
        );
      }
    },
  };
}

const decode = decodeCases();
const echo = echoCases();
const mask = maskCases();
decode.table();
echo.table();
mask.table();
