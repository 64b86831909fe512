/**
 * Serves `@wsstream/browser` to a page straight from its TypeScript sources: each
 * `packages/browser/src/<name>.ts` becomes the JavaScript module `<name>.js`, its `./x.ts`
 * imports rewritten to `./x.js`. Types are only stripped (`transpileModule`), so no build is
 * needed. Used by the chat demo and by the browser tests.
 *
 * @module
 */
import { readFile } from "node:fs/promises";
import ts from "typescript";

const SOURCES = new URL("../../packages/browser/src/", import.meta.url);

/** The browser-side files: the runtime entry points (node.ts, deno.ts, bun.ts) are not served. */
const SERVED = new Set(["index", "fallback", "native", "types", "web-socket-error"]);

/** The JavaScript of `<name>.js`, or undefined when there is no such module. */
export async function browserModule(fileName: string): Promise<string | undefined> {
  const name = /^([a-z-]+)\.js$/.exec(fileName)?.[1];
  if (name === undefined || !SERVED.has(name)) return undefined;
  const source = await readFile(new URL(`${name}.ts`, SOURCES), "utf8");
  return ts.transpileModule(source, {
    compilerOptions: {
      module: ts.ModuleKind.ESNext,
      target: ts.ScriptTarget.ES2022,
      rewriteRelativeImportExtensions: true,
      verbatimModuleSyntax: true,
    },
  }).outputText;
}
