import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts", "src/node.ts", "src/deno.ts", "src/bun.ts"],
  format: ["esm"],
  // One declaration file for every entry point: they all export the same names.
  dts: { entry: "src/index.ts" },
  sourcemap: true,
  clean: true,
  target: "es2022",
  external: ["@wsstream/node", "@wsstream/deno", "@wsstream/bun"],
});
