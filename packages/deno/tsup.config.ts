import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { defineConfig } from "tsup";

// The declaration build runs tsc, which cannot see Deno's globals: give it Deno's own
// declarations (`deno types`, from the pinned binary) as a type package in node_modules/.cache.
const DENO_TYPES_ROOT = "node_modules/.cache/deno-types";

function writeDenoTypes(): void {
  const types = execFileSync("../../node_modules/.bin/deno", ["types"], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  // The Deno libraries named by these references are already inlined; tsc knows none by name.
  const standalone = types.replace(/^\/\/\/ <reference (?:no-default-lib="true"|lib="deno\.[^"]*") \/>$/gm, "");
  mkdirSync(`${DENO_TYPES_ROOT}/deno`, { recursive: true });
  writeFileSync(`${DENO_TYPES_ROOT}/deno/index.d.ts`, standalone);
}

export default defineConfig(() => {
  writeDenoTypes();
  return {
    entry: ["src/index.ts"],
    format: ["esm"],
    dts: { compilerOptions: { typeRoots: [`./${DENO_TYPES_ROOT}`], types: ["deno"], skipLibCheck: true } },
    sourcemap: true,
    clean: true,
    target: "es2022",
    // `Deno` is a global; only the core is a dependency.
    external: ["@wsstream/core", "@wsstream/zlib"],
  };
});
