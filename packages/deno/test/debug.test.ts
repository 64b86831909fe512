// WSSTREAM_DEBUG over a real exchange in its own process (the shared suite in
// packages/test-suite/src/debug-suite.ts), and, on Deno only, without --allow-env.
import { describe, expect, it } from "vitest";
import { defineDebugSuite, type ExchangeRun } from "../../test-suite/src/debug-suite.ts";

const ROOT = new URL("../../../", import.meta.url).pathname;
const FIXTURE = "packages/deno/test/fixtures/debug-exchange.ts";

/**
 * Runs the scripted exchange in its own Deno process with `env` added, allowed to read
 * `WSSTREAM_DEBUG` unless `allowEnv` is false; at most 30 s.
 */
async function runExchange(env: Record<string, string>, allowEnv = true): Promise<ExchangeRun> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      ...(allowEnv ? ["--allow-env=WSSTREAM_DEBUG"] : []),
      "--conditions=wsstream-source",
      "--config",
      "packages/deno/deno.json",
      FIXTURE,
    ],
    cwd: ROOT,
    env: { WSSTREAM_DEBUG: "", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill(), 30_000);
  try {
    const output = await child.output();
    const decoder = new TextDecoder();
    return { code: output.code, stdout: decoder.decode(output.stdout), stderr: decoder.decode(output.stderr) };
  } finally {
    clearTimeout(timer);
  }
}

describe("WSSTREAM_DEBUG", () => {
  defineDebugSuite(runExchange);

  it("is not read without --allow-env, and nothing is asked or thrown", async () => {
    const { code, stdout, stderr } = await runExchange({ WSSTREAM_DEBUG: "1" }, false);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ stats: { framesIn: 9, acceptedConnections: 2 } });
    expect(stderr).not.toContain("wsstream ");
  }, 40_000);
});
