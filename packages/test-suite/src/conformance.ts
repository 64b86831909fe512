/**
 * One conformance run: a runtime's server tested by the fuzzing client, or a runtime's client
 * tested by the fuzzing server through its Autobahn client driver. Every wait is bounded: the
 * cases' own limits, and for the client role a watchdog on the driver's progress.
 *
 * @module
 */
import type { CaseDefinition, CaseResult } from "./case.ts";
import { runFuzzingClient } from "./fuzzing-client.ts";
import { startFuzzingServer } from "./fuzzing-server.ts";
import { type Api, echoCommand, type Runtime, startClientDriver, startEchoServer } from "./runtimes.ts";
import { notRun } from "./session.ts";

/** What is under test: the runtime's `server` (echo server) or its `client` (client driver). */
export type Subject = "server" | "client";

/** The outcome of one run. */
export interface RunOutcome {
  readonly runtime: Runtime;
  readonly subject: Subject;
  /** One result per case, in case order (a case the driver never ran is FAILED). */
  readonly results: CaseResult[];
  readonly wallMs: number;
  /** The tail of the spawned process's output, for diagnosing failures. */
  readonly processOutput: string;
  /** Whether the run spoke HTTP/2. */
  readonly http2: boolean;
}

/** Options of a run. */
export interface RunOptions {
  readonly cases: readonly CaseDefinition[];
  readonly onResult?: (result: CaseResult) => void;
  /** A command line replacing the runtime's script (echo server, or client driver without its arguments). */
  readonly command?: string;
  /** The interface the echo server's handler or the client driver uses. Default: `websocket` for servers, `stream` for clients. */
  readonly api?: Api;
  /**
   * Run every case over HTTP/2 (RFC 8441): the echo server is started with `ECHO_HTTP2=1` and
   * the fuzzing client opens extended CONNECT streams to it; the fuzzing server speaks only
   * h2c and the client driver gets `--http2`. Node only. Default false.
   */
  readonly http2?: boolean;
}

/** Tests `runtime`'s echo server with the fuzzing client. */
export async function testServer(runtime: Runtime, options: RunOptions): Promise<RunOutcome> {
  const started = performance.now();
  const command = options.command ?? echoCommand(runtime);
  const http2 = options.http2 === true;
  const server = await startEchoServer(runtime, { ...(command === undefined ? {} : { command }), ...(options.api === undefined ? {} : { api: options.api }), http2 });
  try {
    const results = await runFuzzingClient({ url: server.url, cases: options.cases, http2, ...(options.onResult ? { onResult: options.onResult } : {}) });
    return { runtime, subject: "server", results, wallMs: performance.now() - started, processOutput: server.output().slice(-4000), http2 };
  } finally {
    await server.stop();
  }
}

/**
 * Tests `runtime`'s client: starts a fuzzing server, runs the client driver against it and
 * waits for `/updateReports`, the driver's exit, or no progress for a case's limit plus 15 s.
 */
export async function testClient(runtime: Runtime, options: RunOptions): Promise<RunOutcome> {
  const started = performance.now();
  const { cases } = options;
  const agent = `wsstream-${runtime}`;
  let lastProgress = performance.now();
  let done = 0;
  const http2 = options.http2 === true;
  const fuzzer = await startFuzzingServer({
    cases,
    http2,
    onResult: (_agent, result) => {
      lastProgress = performance.now();
      done++;
      options.onResult?.(result);
    },
  });
  const driver = startClientDriver(runtime, fuzzer.url, agent, {
    ...(options.command === undefined ? {} : { command: options.command }),
    ...(options.api === undefined ? {} : { api: options.api }),
    http2,
  });
  let watchdog: NodeJS.Timeout | undefined;
  try {
    const stalled = new Promise<string>((resolve) => {
      watchdog = setInterval(() => {
        const next = cases[done];
        const allowance = (next?.timeoutMs ?? 0) + 15_000;
        if (performance.now() - lastProgress > allowance) resolve(`no progress for ${Math.round(allowance / 1000)} s`);
      }, 250);
    });
    const ending = await Promise.race([
      fuzzer.finished(agent).then(() => "finished"),
      driver.exited.then((code) => `driver exited with ${code} before /updateReports`),
      stalled,
    ]);
    // The driver exits right after /updateReports; give it a moment, then stop it regardless.
    await Promise.race([driver.exited, new Promise((r) => setTimeout(r, 2000))]);
    const got = fuzzer.results(agent);
    const results = cases.map(
      (definition, i) =>
        got.find((r) => r.id === definition.id) ??
        notRun(definition, "server", `The client driver never ran case ${i + 1} (${ending})`),
    );
    return { runtime, subject: "client", results, wallMs: performance.now() - started, processOutput: driver.output().slice(-4000), http2 };
  } finally {
    clearInterval(watchdog);
    await driver.stop();
    await fuzzer.close();
  }
}
