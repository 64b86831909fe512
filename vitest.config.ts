import { defineConfig } from "vitest/config";

// The same config runs under Node, Bun and Deno: core and the zlib backend run everywhere, each
// adapter's own tests only under its runtime. The shared behaviour suite and the Redis tests run from Node and spawn each runtime's processes themselves.
const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";

// Workspace packages resolve to their TypeScript sources (the `wsstream-source` export
// condition), so tests never run against a stale build.
const conditions = ["wsstream-source", "module", "node", "development|production"];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: conditions } },
  test: {
    include: [
      "packages/core/test/**/*.test.ts",
      "packages/zlib/test/**/*.test.ts",
      `packages/${runtime}/test/**/*.test.ts`,
      ...(runtime === "node" ? ["packages/test-suite/test/**/*.test.ts", "packages/redis/test/**/*.test.ts", "packages/cli/test/**/*.test.ts", "packages/browser/test/**/*.test.ts"] : []),
    ],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    teardownTimeout: 10_000,
  },
});
