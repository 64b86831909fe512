/**
 * XOR masking, RFC 6455 §5.3. Short payloads: a JavaScript loop, word-at-a-time over the
 * 4-byte-aligned middle. From {@link WASM_THRESHOLD} bytes: a WebAssembly SIMD module
 * (src/wasm/mask.wat, built into mask-wasm.ts), fed through a 16 KiB window of its memory: copy
 * in, XOR 128 bytes per step, copy out, window by window, so memory stays one page whatever the
 * payload.
 *
 * The module is compiled synchronously on the first large call (226 bytes: browsers allow
 * synchronous compilation of modules this small). Where WebAssembly or SIMD is missing, or
 * compiling throws (a Content-Security-Policy without `wasm-unsafe-eval`), the JavaScript loop
 * does all the work, silently.
 *
 * @module
 */
import { MASK_WASM } from "./mask-wasm.ts";

const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * How much goes through the module per call. The module allows up to its one 64 KiB page; 16 KiB
 * keeps the window and the piece of the payload being copied in L1 (1.3 to 1.5x faster than
 * 64 KiB windows at 64 KiB and 1 MiB payloads on Node 20), at one extra call per 16 KiB.
 */
const WINDOW = 16384;

/**
 * From this length on, the WebAssembly path, copies included, beats the JavaScript loop on Node 20
 * (1.1 to 1.3x at 256 B, even at 128 B; bench/mask.ts). Deno 2.9 and Bun 1.4 cross later, at
 * ~512 B (0.9x at 256 B): Node decides.
 */
export const WASM_THRESHOLD = 256;

/** The instantiated module: its window over the module's memory and its XOR function. */
export interface MaskWasm {
  readonly window: Uint8Array;
  /** XORs window bytes [0, length) with `key`, the rotated mask as a little-endian word. */
  readonly mask: (length: number, key: number) => void;
}

/** Compiles and instantiates the module with `wasm` (the `WebAssembly` global); null when it cannot. */
export function loadMaskWasm(wasm: typeof WebAssembly | undefined): MaskWasm | null {
  if (wasm === undefined) return null;
  try {
    const { exports } = new wasm.Instance(new wasm.Module(MASK_WASM as Uint8Array<ArrayBuffer>));
    const memory = exports.memory as WebAssembly.Memory;
    const mask = exports.mask as MaskWasm["mask"];
    if (memory.buffer.byteLength < WINDOW || typeof mask !== "function") return null;
    // The memory never grows, so this view stays valid.
    return { window: new Uint8Array(memory.buffer, 0, WINDOW), mask };
  } catch {
    // No SIMD (CompileError), or compiling is not allowed here (CSP): the JavaScript loop it is.
    return null;
  }
}

const loadFromGlobal = (): MaskWasm | null =>
  loadMaskWasm((globalThis as { WebAssembly?: typeof WebAssembly }).WebAssembly);

let load = loadFromGlobal;
// undefined: not tried yet; null: unavailable, the JavaScript loop does everything.
let module: MaskWasm | null | undefined;

/**
 * Internal, for tests: replaces the loader (a loader returning null disables the WebAssembly
 * path) and forgets the module, so the next large call loads again.
 */
export function resetMaskWasm(loader: () => MaskWasm | null = loadFromGlobal): void {
  load = loader;
  module = undefined;
}

/** Internal, for tests and benchmarks: the module, loading it if not tried yet; null when unavailable. */
export function maskWasm(): MaskWasm | null {
  if (module === undefined) module = load();
  return module;
}

/**
 * XORs `data` in place with the 4-byte `key`, starting at key position `keyOffset` (the number of
 * payload bytes already masked before `data`, for payloads that arrive in pieces).
 */
export function applyMask(data: Uint8Array, key: Uint8Array, keyOffset = 0): void {
  if (data.length >= WASM_THRESHOLD) {
    const wasm = module === undefined ? maskWasm() : module;
    if (wasm !== null) return maskThroughWasm(wasm, data, key, keyOffset, data, 0);
  }
  applyMaskJs(data, key, keyOffset);
}

/**
 * Writes `source` XOR `key` into `target` at `targetOffset`, leaving `source` untouched (client
 * frames mask a copy: the caller's bytes must not change).
 */
export function maskInto(
  source: Uint8Array,
  key: Uint8Array,
  target: Uint8Array,
  targetOffset: number,
): void {
  if (source.length >= WASM_THRESHOLD) {
    const wasm = module === undefined ? maskWasm() : module;
    // The window is the copy: in from `source`, out to `target`, one pass fewer than copy + mask.
    if (wasm !== null) return maskThroughWasm(wasm, source, key, 0, target, targetOffset);
  }
  target.set(source, targetOffset);
  applyMaskJs(target.subarray(targetOffset, targetOffset + source.length), key, 0);
}

/**
 * `source` XOR `key` (from key position `keyOffset`) into `target` at `targetOffset`, window by
 * window through the module. `target` may be `source` (in place). Any length, any byte offsets.
 */
export function maskThroughWasm(
  wasm: MaskWasm,
  source: Uint8Array,
  key: Uint8Array,
  keyOffset: number,
  target: Uint8Array,
  targetOffset: number,
): void {
  const length = source.length;
  const window = wasm.window;
  // Every window starts a multiple of 4 bytes in, so one rotated key word serves them all.
  const k = keyOffset & 3;
  const word = key[k]! | (key[(k + 1) & 3]! << 8) | (key[(k + 2) & 3]! << 16) | (key[(k + 3) & 3]! << 24);
  for (let at = 0; at < length; at += WINDOW) {
    const n = Math.min(WINDOW, length - at);
    window.set(n === length ? source : source.subarray(at, at + n));
    wasm.mask(n, word);
    target.set(n === WINDOW ? window : window.subarray(0, n), targetOffset + at);
  }
}

/** The JavaScript loop: `applyMask` without the WebAssembly path. */
export function applyMaskJs(data: Uint8Array, key: Uint8Array, keyOffset = 0): void {
  const length = data.length;
  // Below this, building a word view costs more than it saves.
  if (length < 32) {
    for (let i = 0; i < length; i++) data[i] = data[i]! ^ key[(keyOffset + i) & 3]!;
    return;
  }
  let i = 0;
  // Bytes up to the first 4-byte-aligned address.
  const lead = (4 - (data.byteOffset & 3)) & 3;
  for (; i < lead; i++) data[i] = data[i]! ^ key[(keyOffset + i) & 3]!;
  const words = (length - i) >>> 2;
  const k = keyOffset + i;
  const b0 = key[k & 3]!, b1 = key[(k + 1) & 3]!, b2 = key[(k + 2) & 3]!, b3 = key[(k + 3) & 3]!;
  const word = littleEndian
    ? (b0 | (b1 << 8) | (b2 << 16) | (b3 << 24))
    : ((b0 << 24) | (b1 << 16) | (b2 << 8) | b3);
  const view = new Int32Array(data.buffer, data.byteOffset + i, words);
  let w = 0;
  for (const end = words - 3; w < end; w += 4) {
    view[w] = view[w]! ^ word;
    view[w + 1] = view[w + 1]! ^ word;
    view[w + 2] = view[w + 2]! ^ word;
    view[w + 3] = view[w + 3]! ^ word;
  }
  for (; w < words; w++) view[w] = view[w]! ^ word;
  i += words << 2;
  for (; i < length; i++) data[i] = data[i]! ^ key[(keyOffset + i) & 3]!;
}
