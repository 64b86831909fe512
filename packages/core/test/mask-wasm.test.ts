import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { generate, SOURCE, TARGET } from "../../../scripts/build-wasm.mjs";

const root = new URL("../../../", import.meta.url);

describe("mask-wasm.ts", () => {
  it("is exactly what scripts/build-wasm.mjs builds from src/wasm/mask.wat", async () => {
    const wat = await readFile(new URL(SOURCE, root), "utf8");
    const committed = await readFile(new URL(TARGET, root), "utf8");
    expect(await generate(wat), "run node scripts/build-wasm.mjs").toBe(committed);
  });
});
