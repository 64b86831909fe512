import { describe, expect, it } from "vitest";
describe("runtime", () => {
  it("reports which runtime runs the test", async () => {
    const g = globalThis as any;
    const rt = g.Deno ? "deno" : g.Bun ? "bun" : "node";
    console.log("RUNTIME", rt);
    const d = await crypto.subtle.digest("SHA-1", new TextEncoder().encode("abc"));
    expect(new Uint8Array(d).length).toBe(20);
  });
});
