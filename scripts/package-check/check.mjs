#!/usr/bin/env node
// The packaging check: what a registry would get, installed the way a user installs it.
//
// 1. `pnpm pack` every public package (pnpm turns `workspace:*` into versions and applies
//    `publishConfig`), then lint each tarball with publint and @arethetypeswrong/cli.
// 2. In a fresh folder outside the repository, install the tarballs with plain npm and run the
//    smoke program (smoke.mjs, smoke.cjs, exchange.mjs): under Node as ESM and through require(),
//    under Bun, and under Deno from node_modules; then again with @wsstream/browser's
//    WebSocketStream as the client, which each runtime's export condition maps to its adapter;
//    then the installed `wsstream` command.
// 3. Copy each package that has a JSR manifest (deno.json with a name) into a Deno workspace in
//    another fresh folder, run `deno publish --dry-run`, and run the smoke program there, where
//    `@wsstream/deno` resolves through the manifests alone.
//
// Run after the build: `node scripts/package-check/check.mjs`. Exits non-zero on the first failure.
import { execFileSync, spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
const bin = join(root, "node_modules/.bin");
const STEP_TIMEOUT = 120_000;

function run(command, args, cwd) {
  console.log(`$ ${[command, ...args].join(" ")}`);
  execFileSync(command, args, { cwd, stdio: "inherit", timeout: STEP_TIMEOUT, env: { ...process.env, NO_COLOR: "1" } });
}

/** The installed `wsstream` command: `listen 0`, then `connect` to it with one line on stdin. */
async function cliExchange(command, cwd) {
  console.log(`$ ${command} listen 0, then connect`);
  run(command, ["--version"], cwd);
  const server = spawn(command, ["listen", "0"], { cwd, stdio: ["ignore", "ignore", "pipe"] });
  const timer = setTimeout(() => server.kill("SIGKILL"), 20_000);
  try {
    const port = await new Promise((resolve, reject) => {
      let text = "";
      server.stderr.setEncoding("utf8").on("data", (chunk) => {
        text += chunk;
        const found = /listening on ws:\/\/127\.0\.0\.1:(\d+)/.exec(text);
        if (found) resolve(found[1]);
      });
      server.once("exit", (code) => reject(new Error(`wsstream listen exited (${code}): ${text}`)));
    });
    const echoed = execFileSync(command, ["connect", `ws://127.0.0.1:${port}/`], { cwd, input: "from the cli\n", timeout: 20_000, encoding: "utf8" });
    if (echoed !== "from the cli\n") throw new Error(`wsstream connect printed: ${JSON.stringify(echoed)}`);
    console.log("smoke cli: the installed wsstream echoed a line");
  } finally {
    clearTimeout(timer);
    server.kill("SIGINT");
  }
}

const packages = readdirSync(join(root, "packages"))
  .map((name) => join(root, "packages", name))
  .filter((dir) => existsSync(join(dir, "package.json")) && !JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).private);
const work = mkdtempSync(join(tmpdir(), "wsstream-package-check-"));
try {
  // 1. Pack and lint.
  const tarballs = join(work, "tarballs");
  for (const dir of packages) run("npx", ["-y", "pnpm@10.34.8", "pack", "--pack-destination", tarballs], dir);
  for (const tarball of readdirSync(tarballs)) {
    const unpacked = join(work, "unpacked", tarball.replace(/\.tgz$/, ""));
    mkdirSync(unpacked, { recursive: true });
    run("tar", ["-xzf", join(tarballs, tarball), "-C", unpacked]);
    const manifest = readFileSync(join(unpacked, "package/package.json"), "utf8");
    if (manifest.includes("workspace:")) throw new Error(`A workspace: range was left in: ${tarball}`);
    if (!existsSync(join(unpacked, "package/LICENSE"))) throw new Error(`No LICENSE in: ${tarball}`);
    run(join(bin, "publint"), [join(unpacked, "package"), "--pack", "false", "--strict"]);
    // A package that is only a command (the CLI) has no entry points for attw to check.
    if (JSON.parse(manifest).exports === undefined) continue;
    // The packages are ESM only. A require() of them works from Node 20.19 on (smoke.cjs proves
    // it below), which attw's "CJS resolves to ESM" rule does not know about yet.
    run(join(bin, "attw"), [join(tarballs, tarball), "--format", "ascii", "--ignore-rules", "cjs-resolves-to-esm"]);
  }

  // 2. Install with npm outside the repository and run the smoke program on every runtime.
  const app = join(work, "app");
  mkdirSync(app);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "smoke", private: true, type: "module" }));
  run("npm", ["install", "--no-audit", "--no-fund", ...readdirSync(tarballs).map((t) => join(tarballs, t))], app);
  for (const file of ["exchange.mjs", "smoke.mjs", "smoke.cjs", "smoke-isomorphic.mjs"]) cpSync(join(here, file), join(app, file));
  run("node", ["smoke.mjs"], app);
  run("node", ["smoke.cjs"], app);
  run(join(bin, "bun"), ["smoke.mjs"], app);
  run(join(bin, "deno"), ["run", "--allow-net", "--allow-read", "--allow-env", "smoke.mjs"], app);
  run("node", ["smoke-isomorphic.mjs"], app);
  run(join(bin, "bun"), ["smoke-isomorphic.mjs"], app);
  run(join(bin, "deno"), ["run", "--allow-net", "--allow-read", "--allow-env", "smoke-isomorphic.mjs"], app);
  await cliExchange(join(app, "node_modules/.bin/wsstream"), app);

  // 3. The JSR manifests: a Deno workspace of the packages that have one, as JSR would get them.
  const jsr = join(work, "jsr");
  const members = [];
  for (const dir of packages) {
    const manifestPath = join(dir, "deno.json");
    if (!existsSync(manifestPath) || !JSON.parse(readFileSync(manifestPath, "utf8")).name) continue;
    const name = dir.slice(dir.lastIndexOf("/") + 1);
    for (const entry of ["deno.json", "src", "README.md", "LICENSE"]) cpSync(join(dir, entry), join(jsr, name, entry), { recursive: true });
    members.push(`./${name}`);
  }
  writeFileSync(join(jsr, "deno.json"), JSON.stringify({ workspace: members }));
  run(join(bin, "deno"), ["publish", "--dry-run"], jsr);
  cpSync(join(here, "exchange.mjs"), join(jsr, "exchange.mjs"));
  cpSync(join(here, "smoke.mjs"), join(jsr, "smoke.mjs"));
  run(join(bin, "deno"), ["run", "--allow-net", "--allow-read", "smoke.mjs"], jsr);
  console.log("package check: all good");
} finally {
  rmSync(work, { recursive: true, force: true });
}
