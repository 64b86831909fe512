// WSSTREAM_DEBUG over a real exchange in its own process (the shared suite in
// packages/test-suite/src/debug-suite.ts).
import { spawn } from "node:child_process";
import { describe } from "vitest";
import { defineDebugSuite, type ExchangeRun } from "../../test-suite/src/debug-suite.ts";
import { ROOT } from "./fixtures/helpers.ts";

const FIXTURE = "packages/node/test/fixtures/debug-exchange.ts";

/** Runs the scripted exchange in its own Node process with `env` added; at most 30 s. */
function runExchange(env: Record<string, string>): Promise<ExchangeRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(`${ROOT}node_modules/.bin/tsx`, ["--conditions=wsstream-source", FIXTURE], {
      cwd: ROOT,
      env: { ...process.env, WSSTREAM_DEBUG: "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`the exchange did not end within 30 s; stderr: ${stderr}`));
    }, 30_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe("WSSTREAM_DEBUG", () => {
  defineDebugSuite(runExchange);
});
