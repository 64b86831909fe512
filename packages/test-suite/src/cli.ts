/**
 * The conformance command (`pnpm conformance`). Prints a report per runtime and role and exits
 * 1 if any case is not strictly OK.
 *
 * ```sh
 * pnpm conformance                                  # every runtime with examples, both roles
 * pnpm conformance -- --runtime node --subject client --cases '6.4.*,7.*'
 * pnpm conformance -- --full                        # Autobahn's full 9.x, 12.x, 13.x sizes and counts
 * pnpm conformance -- --url ws://127.0.0.1:9001     # test any echo server
 * pnpm conformance -- --serve --port 9001           # fuzzing server for any client driver
 * pnpm conformance -- --runtime node --http2        # the same cases over HTTP/2 (RFC 8441)
 * pnpm conformance -- --url ws://127.0.0.1:9001 --http2   # any h2c server with RFC 8441
 * ```
 *
 * `--http2` runs every case on an extended CONNECT stream (RFC 8441) instead of an HTTP/1.1
 * Upgrade: the fuzzing client opens one HTTP/2 session per case (`ws:` h2c with prior knowledge,
 * `wss:` TLS with ALPN h2), the fuzzing server speaks only h2c with SETTINGS_ENABLE_CONNECT_PROTOCOL,
 * the echo server gets `ECHO_HTTP2=1` and the client driver `--http2`. Only Node's examples
 * speak HTTP/2.
 *
 * `WSSTREAM_CONFORMANCE_FULL=1` selects the full form too.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { isStrictlyOk } from "./case.ts";
import { allCases } from "./cases/index.ts";
import { testClient, testServer } from "./conformance.ts";
import { runFuzzingClient } from "./fuzzing-client.ts";
import { startFuzzingServer } from "./fuzzing-server.ts";
import { formatReport } from "./report.ts";
import { RUNTIMES, type Runtime, runtimesWithClientDriver, runtimesWithEchoServer } from "./runtimes.ts";

const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== "--"),
  options: {
    runtime: { type: "string" },
    subject: { type: "string", default: "server,client" },
    cases: { type: "string" },
    exclude: { type: "string" },
    full: { type: "boolean", default: process.env.WSSTREAM_CONFORMANCE_FULL === "1" },
    url: { type: "string" },
    serve: { type: "boolean", default: false },
    port: { type: "string", default: "9001" },
    http2: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});

if (values.help) {
  console.log(
    "Usage: conformance [--runtime node,deno,bun] [--subject server,client] [--cases GLOBS] [--exclude GLOBS] [--full] [--http2]\n" +
      "       conformance --url ws://HOST:PORT [--cases GLOBS] [--full] [--http2]   test an echo server\n" +
      "       conformance --serve [--port 9001] [--cases GLOBS] [--full] [--http2]  fuzzing server for a client driver\n" +
      "--http2: every case over HTTP/2 (RFC 8441 extended CONNECT) instead of an HTTP/1.1 Upgrade;\n" +
      "         the fuzzing server then speaks h2c only, and of the runtimes only node speaks HTTP/2.",
  );
  process.exit(0);
}

const list = (s: string | undefined): string[] | undefined => s?.split(",").map((x) => x.trim()).filter((x) => x !== "");
const include = list(values.cases);
const exclude = list(values.exclude);
const cases = allCases({ full: values.full, ...(include ? { include } : {}), ...(exclude ? { exclude } : {}) });
if (cases.length === 0) {
  console.error("No case matches the selection");
  process.exit(2);
}

if (values.serve) {
  const server = await startFuzzingServer({
    cases,
    port: Number(values.port),
    http2: values.http2,
    onResult: (agent, r) => console.log(`${agent} ${r.id}: ${r.behavior} / ${r.behaviorClose}`),
    onReportsRequested: (agent, results) => console.log(formatReport(`${agent} (client under test)`, results)),
  });
  console.log(`Fuzzing server with ${cases.length} cases listening on ${server.url}${values.http2 ? " (h2c, RFC 8441)" : ""} (Ctrl-C stops it)`);
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => void server.close().then(() => process.exit(0)));
} else if (values.url !== undefined) {
  const started = performance.now();
  const results = await runFuzzingClient({ url: values.url, cases, http2: values.http2, onResult: (r) => process.stdout.write(isStrictlyOk(r) ? "." : "x") });
  console.log(`\n${formatReport(`${values.url} (server under test)`, results, performance.now() - started)}`);
  process.exitCode = results.every(isStrictlyOk) ? 0 : 1;
} else {
  const runtimes = (list(values.runtime) ?? (values.http2 ? ["node"] : [...RUNTIMES])) as Runtime[];
  const subjects = list(values.subject) ?? ["server", "client"];
  const started = performance.now();
  let allOk = true;
  for (const runtime of runtimes) {
    for (const subject of subjects) {
      const available = subject === "server" ? runtimesWithEchoServer() : runtimesWithClientDriver();
      if (!available.includes(runtime)) {
        console.log(`== ${runtime} ${subject}: skipped, its example does not exist yet`);
        continue;
      }
      if (values.http2 && runtime !== "node") {
        console.log(`== ${runtime} ${subject}: skipped, only node's examples speak HTTP/2`);
        continue;
      }
      const run = subject === "server" ? testServer : testClient;
      const outcome = await run(runtime, { cases, http2: values.http2, onResult: (r) => process.stdout.write(isStrictlyOk(r) ? "." : "x") });
      process.stdout.write("\n");
      console.log(formatReport(`${runtime} ${subject} under test${values.http2 ? " over HTTP/2" : ""}`, outcome.results, outcome.wallMs));
      if (!outcome.results.every(isStrictlyOk)) {
        allOk = false;
        console.log(`   Last output of the ${runtime} ${subject} process:\n${indent(outcome.processOutput)}`);
      }
    }
  }
  console.log(`Total wall time ${((performance.now() - started) / 1000).toFixed(1)} s`);
  process.exitCode = allOk ? 0 : 1;
}

function indent(text: string): string {
  return text
    .trimEnd()
    .split("\n")
    .slice(-30)
    .map((l) => `     | ${l}`)
    .join("\n");
}
