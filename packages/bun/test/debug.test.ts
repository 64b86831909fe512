// WSSTREAM_DEBUG over a real exchange in its own process (the shared suite in
// packages/test-suite/src/debug-suite.ts).
import { describe } from "vitest";
import { defineDebugSuite, type ExchangeRun } from "../../test-suite/src/debug-suite.ts";
import { ROOT } from "./fixtures/helpers.ts";

const FIXTURE = "packages/bun/test/fixtures/debug-exchange.ts";

/** Runs the scripted exchange in its own Bun process with `env` added; at most 30 s. */
async function runExchange(env: Record<string, string>): Promise<ExchangeRun> {
  const child = Bun.spawn([process.execPath, "--conditions=wsstream-source", FIXTURE], {
    cwd: ROOT,
    env: { ...process.env, WSSTREAM_DEBUG: "", ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    timeout: 30_000,
  });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, stdout, stderr };
}

describe("WSSTREAM_DEBUG", () => {
  defineDebugSuite(runExchange);
});
