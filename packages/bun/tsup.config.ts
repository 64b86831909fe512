import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts"],
  format: ["esm"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "es2022",
  // Bun's globals and `bun` imports come from the runtime; the core is a dependency.
  external: ["bun", "@wsstream/core", "@wsstream/zlib"],
});
