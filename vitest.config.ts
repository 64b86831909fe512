import { defineConfig } from "vitest/config";

// The same config runs under Node, Bun and Deno: core and the shared suite run everywhere, each
// adapter's own tests only under its runtime.
const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";

export default defineConfig({
  test: {
    include: [
      "packages/core/test/**/*.test.ts",
      "packages/test-suite/test/**/*.test.ts",
      `packages/${runtime}/test/**/*.test.ts`,
    ],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    teardownTimeout: 10_000,
  },
});
