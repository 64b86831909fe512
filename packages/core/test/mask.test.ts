import { describe, expect, it } from "vitest";
import { applyMask, maskInto } from "../src/mask.ts";

function naive(data: Uint8Array, key: Uint8Array, offset: number): Uint8Array {
  return data.map((b, i) => b ^ key[(offset + i) & 3]!);
}

describe("applyMask", () => {
  const key = Uint8Array.of(0x37, 0xfa, 0x21, 0x3d);

  it("matches byte-at-a-time XOR at every alignment, length and key offset", () => {
    const backing = new Uint8Array(80).map((_, i) => (i * 31 + 7) & 0xff);
    for (let start = 0; start < 8; start++) {
      for (let length = 0; length < 40; length++) {
        for (let offset = 0; offset < 4; offset++) {
          const data = backing.slice().subarray(start, start + length);
          const expected = naive(data, key, offset);
          applyMask(data, key, offset);
          expect(data, `start ${start} length ${length} offset ${offset}`).toEqual(expected);
        }
      }
    }
  });

  it("is its own inverse", () => {
    const data = crypto.getRandomValues(new Uint8Array(1000));
    const copy = data.slice();
    applyMask(data, key);
    expect(data).not.toEqual(copy);
    applyMask(data, key);
    expect(data).toEqual(copy);
  });

  it("masks a payload in pieces the same as whole when given the running offset", () => {
    const data = crypto.getRandomValues(new Uint8Array(101));
    const whole = data.slice();
    applyMask(whole, key);
    const pieces = data.slice();
    for (const [from, to] of [[0, 3], [3, 10], [10, 11], [11, 101]] as const) applyMask(pieces.subarray(from, to), key, from);
    expect(pieces).toEqual(whole);
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
});
