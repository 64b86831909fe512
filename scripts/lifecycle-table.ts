/**
 * Rewrites the lifecycle table in packages/core/README.md from `TRANSITIONS` (src/lifecycle.ts),
 * between the `lifecycle-table` markers. Run: pnpm lifecycle-table
 *
 * @module
 */
import { readFileSync, writeFileSync } from "node:fs";
import { transitionTable } from "../packages/core/src/lifecycle.ts";

const file = new URL("../packages/core/README.md", import.meta.url);
const readme = readFileSync(file, "utf8");
const updated = readme.replace(
  /(<!-- lifecycle-table:start -->\n)[\s\S]*?(<!-- lifecycle-table:end -->)/,
  `$1${transitionTable()}\n$2`,
);
if (updated === readme) console.log("packages/core/README.md: the lifecycle table is up to date");
else {
  writeFileSync(file, updated);
  console.log("packages/core/README.md: lifecycle table rewritten");
}
