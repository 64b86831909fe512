import { afterEach, describe, expect, it } from "vitest";
import {
  applyMask,
  applyMaskJs,
  loadMaskWasm,
  type MaskWasm,
  maskInto,
  maskThroughWasm,
  maskWasm,
  resetMaskWasm,
  WASM_THRESHOLD,
} from "../src/mask.ts";

function naive(data: Uint8Array, key: Uint8Array, offset: number): Uint8Array {
  return data.map((b, i) => b ^ key[(offset + i) & 3]!);
}

function pattern(n: number): Uint8Array {
  return new Uint8Array(n).map((_, i) => (i * 31 + 7) & 0xff);
}

/** The first index where `a` and `b` differ, or -1. */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

const key = Uint8Array.of(0x37, 0xfa, 0x21, 0x3d);

afterEach(() => resetMaskWasm());

describe("the WebAssembly module", () => {
  it("loads on this runtime", () => {
    expect(maskWasm()).not.toBeNull();
  });

  it("gives the JavaScript loop's result for every length 0 to 300, byte offset 0 to 15 and key offset 0 to 3", () => {
    const wasm = maskWasm()!;
    const backing = pattern(300 + 16);
    const failures: string[] = [];
    for (let start = 0; start < 16; start++) {
      for (let length = 0; length <= 300; length++) {
        for (let offset = 0; offset < 4; offset++) {
          const viaJs = backing.slice().subarray(start, start + length);
          const viaWasm = backing.slice().subarray(start, start + length);
          const expected = naive(viaJs, key, offset);
          applyMaskJs(viaJs, key, offset);
          maskThroughWasm(wasm, viaWasm, key, offset, viaWasm, 0);
          if (firstDifference(viaJs, expected) !== -1) failures.push(`js: start ${start} length ${length} offset ${offset}`);
          if (firstDifference(viaWasm, expected) !== -1) failures.push(`wasm: start ${start} length ${length} offset ${offset}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it("gives the JavaScript loop's result for payloads spanning many windows", () => {
    const wasm = maskWasm()!;
    for (const length of [16 * 1024, 64 * 1024, 64 * 1024 + 5, (1 << 20) + 13, 3 * (1 << 20) + 1]) {
      const backing = randomBytes(length + 4);
      for (const [start, offset] of [[0, 0], [1, 3], [2, 1], [3, 2]] as const) {
        const viaJs = backing.slice().subarray(start, start + length);
        const viaWasm = backing.slice().subarray(start, start + length);
        applyMaskJs(viaJs, key, offset);
        maskThroughWasm(wasm, viaWasm, key, offset, viaWasm, 0);
        expect(firstDifference(viaWasm, viaJs), `length ${length} start ${start} offset ${offset}`).toBe(-1);
        expect(firstDifference(viaJs.subarray(0, 1000), naive(backing.subarray(start, start + 1000), key, offset))).toBe(-1);
      }
    }
  });

  it("writes into another buffer at any offset and leaves the source alone", () => {
    const wasm = maskWasm()!;
    const source = randomBytes(70_001).subarray(1);
    const before = source.slice();
    const target = new Uint8Array(70_010);
    maskThroughWasm(wasm, source, key, 2, target, 7);
    expect(firstDifference(source, before)).toBe(-1);
    expect(firstDifference(target.subarray(7, 7 + source.length), naive(source, key, 2))).toBe(-1);
    expect(target.subarray(0, 7)).toEqual(new Uint8Array(7));
    expect(target.subarray(7 + source.length)).toEqual(new Uint8Array(target.length - 7 - source.length));
  });
});

describe("applyMask", () => {
  it("matches byte-at-a-time XOR at every alignment, length and key offset", () => {
    const backing = pattern(600);
    const failures: string[] = [];
    for (let start = 0; start < 8; start++) {
      for (let length = 0; length < 2 * WASM_THRESHOLD + 40; length++) {
        for (let offset = 0; offset < 4; offset++) {
          const data = backing.slice().subarray(start, start + length);
          const expected = naive(data, key, offset);
          applyMask(data, key, offset);
          if (firstDifference(data, expected) !== -1) failures.push(`start ${start} length ${length} offset ${offset}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it("is its own inverse", () => {
    for (const n of [1000, 100_000]) {
      const data = randomBytes(n);
      const copy = data.slice();
      applyMask(data, key);
      expect(firstDifference(data, copy)).not.toBe(-1);
      applyMask(data, key);
      expect(firstDifference(data, copy)).toBe(-1);
    }
  });

  it("masks a payload in pieces the same as whole when given the running offset", () => {
    const data = randomBytes(70_001);
    const whole = data.slice();
    applyMask(whole, key);
    const pieces = data.slice();
    for (const [from, to] of [[0, 3], [3, 10], [10, 11], [11, 1001], [1001, 40_003], [40_003, 70_001]] as const) {
      applyMask(pieces.subarray(from, to), key, from);
    }
    expect(firstDifference(pieces, whole)).toBe(-1);
  });

  it("loads the module on the first call at or over the threshold, once, and uses it from then on", () => {
    let loads = 0;
    let calls = 0;
    resetMaskWasm(() => {
      loads++;
      const real = loadMaskWasm(WebAssembly)!;
      return { window: real.window, mask: (length, word) => (calls++, real.mask(length, word)) } satisfies MaskWasm;
    });
    applyMask(randomBytes(WASM_THRESHOLD - 1), key);
    expect([loads, calls]).toEqual([0, 0]);
    const data = randomBytes(100_000);
    const expected = naive(data, key, 1);
    applyMask(data, key, 1);
    expect(firstDifference(data, expected)).toBe(-1);
    expect(loads).toBe(1);
    expect(calls).toBe(Math.ceil(100_000 / 16384));
    applyMask(randomBytes(WASM_THRESHOLD), key);
    expect(loads).toBe(1);
  });

  it("falls back to the JavaScript loop when the module does not load", () => {
    let loads = 0;
    resetMaskWasm(() => (loads++, null));
    for (const n of [WASM_THRESHOLD, 100_000]) {
      const data = randomBytes(n).subarray(1);
      const expected = naive(data, key, 3);
      applyMask(data, key, 3);
      expect(firstDifference(data, expected)).toBe(-1);
    }
    // Tried once, not on every call.
    expect(loads).toBe(1);
  });
});

describe("loadMaskWasm", () => {
  it("gives null without WebAssembly", () => {
    expect(loadMaskWasm(undefined)).toBeNull();
  });

  it("gives null when compiling throws, as under a Content-Security-Policy or without SIMD", () => {
    const refusing = {
      ...WebAssembly,
      Module: function Module() {
        throw new WebAssembly.CompileError("WebAssembly.Module(): Wasm code generation disallowed by embedder");
      },
    } as unknown as typeof WebAssembly;
    expect(loadMaskWasm(refusing)).toBeNull();
  });
});

describe("maskInto", () => {
  it("writes the masked copy and leaves the source alone", () => {
    const key = Uint8Array.of(1, 2, 3, 4);
    const source = Uint8Array.of(10, 20, 30, 40, 50);
    const target = new Uint8Array(8);
    maskInto(source, key, target, 3);
    expect(source).toEqual(Uint8Array.of(10, 20, 30, 40, 50));
    expect(target.subarray(3)).toEqual(naive(source, key, 0));
  });

  it("does the same for large payloads with and without the module", () => {
    for (const loader of [undefined, () => null]) {
      resetMaskWasm(loader);
      const source = randomBytes(100_003).subarray(3);
      const before = source.slice();
      const target = new Uint8Array(100_005);
      maskInto(source, key, target, 5);
      expect(firstDifference(source, before)).toBe(-1);
      expect(firstDifference(target.subarray(5), naive(source, key, 0))).toBe(-1);
    }
  });
});

/** `n` random bytes (getRandomValues fills at most 64 KiB per call). */
function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let at = 0; at < n; at += 65536) crypto.getRandomValues(out.subarray(at, Math.min(n, at + 65536)));
  return out;
}
