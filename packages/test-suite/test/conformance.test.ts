/**
 * The conformance suite against real processes of every runtime (STYLE.md practice 13): each
 * runtime's echo server under the fuzzing client, and each runtime's client driver under the
 * fuzzing server, each through both interfaces (the WHATWG `WebSocket` and `WebSocketStream`).
 * One test per (runtime, role, interface, case group) asserts that every case of the group is
 * strictly OK, so a failure names its group and lists its cases.
 *
 * A runtime's tests exist only once its example exists. The runs start together when the file
 * loads, two at a time (`WSSTREAM_CONFORMANCE_CONCURRENCY`); `WSSTREAM_CONFORMANCE_FULL=1`
 * selects Autobahn's full 9.x, 12.x and 13.x sizes and counts. Each run's report is printed when
 * it ends.
 *
 * Node's server and client run once more over HTTP/2 (RFC 8441): the echo server with
 * `ECHO_HTTP2=1` under the fuzzing client's extended CONNECT streams (through `WebSocket`, the
 * echo server's default), and the client driver with `--http2` under the h2c fuzzing server
 * (through `WebSocketStream`, the driver's default). Every case runs there too; no case is
 * HTTP/1.1-only (the opening handshake itself is not a case). One interface per role keeps the
 * extra time to two runs.
 *
 * Groups 12 and 13 (permessage-deflate) need the echo servers to accept permessage-deflate and the
 * client drivers to offer it (`extensions: [deflate()]` in the examples); a runtime that does not
 * fails them as UNIMPLEMENTED. Their default form keeps the whole file at about two and a half
 * minutes on a 2-core machine.
 */
import { afterAll, describe, expect, it } from "vitest";
import { type CaseResult, isStrictlyOk } from "../src/case.ts";
import { allCases, GROUP_TITLES, groupOf } from "../src/cases/index.ts";
import { type RunOutcome, type Subject, testClient, testServer } from "../src/conformance.ts";
import { describeResult, formatReport } from "../src/report.ts";
import { type Api, APIS, type Runtime, runtimesWithClientDriver, runtimesWithEchoServer } from "../src/runtimes.ts";

const cases = allCases({ full: process.env.WSSTREAM_CONFORMANCE_FULL === "1" });
const groups = [...new Set(cases.map((c) => groupOf(c.id)))];
const concurrency = Math.max(1, Number(process.env.WSSTREAM_CONFORMANCE_CONCURRENCY ?? 2));
// A generous bound for one test: it may wait for the runs queued before its own.
const TEST_TIMEOUT_MS = 10 * 60 * 1000;

const plan: Array<{ runtime: Runtime; subject: Subject; api: Api; http2: boolean }> = [
  ...APIS.flatMap((api) => [
    ...runtimesWithEchoServer().map((runtime) => ({ runtime, subject: "server" as const, api, http2: false })),
    ...runtimesWithClientDriver().map((runtime) => ({ runtime, subject: "client" as const, api, http2: false })),
  ]),
  { runtime: "node", subject: "server", api: "websocket", http2: true },
  { runtime: "node", subject: "client", api: "stream", http2: true },
];
const key = (p: (typeof plan)[number]): string => `${p.runtime} ${p.subject} ${p.api}${p.http2 ? " http2" : ""}`;

// Every run starts from here, at most `concurrency` at a time.
const runs = new Map<string, Promise<RunOutcome>>();
let active = 0;
const waiting: Array<() => void> = [];
async function slot<T>(work: () => Promise<T>): Promise<T> {
  if (active >= concurrency) await new Promise<void>((resolve) => waiting.push(resolve));
  active++;
  try {
    return await work();
  } finally {
    active--;
    waiting.shift()?.();
  }
}
for (const entry of plan) {
  const { runtime, subject, api, http2 } = entry;
  const run = slot(async () => {
    const outcome = await (subject === "server" ? testServer : testClient)(runtime, { cases, api, http2 });
    const title = `${runtime} ${subject} (${api}${http2 ? ", HTTP/2" : ""}) under test`;
    console.log(formatReport(title, outcome.results, outcome.wallMs));
    if (!outcome.results.every(isStrictlyOk)) console.log(`Last output of the ${title} process:\n${outcome.processOutput}`);
    return outcome;
  });
  run.catch(() => undefined);
  runs.set(key(entry), run);
}

afterAll(async () => {
  await Promise.allSettled(runs.values());
}, TEST_TIMEOUT_MS);

function notOk(results: readonly CaseResult[], group: number): string[] {
  return results.filter((r) => groupOf(r.id) === group && !isStrictlyOk(r)).map((r) => describeResult(r).join("\n"));
}

for (const entry of plan) {
  const { runtime, subject, api, http2 } = entry;
  describe(`${runtime}: the ${subject} under test, through ${api === "websocket" ? "WebSocket" : "WebSocketStream"}${http2 ? " over HTTP/2 (RFC 8441)" : ""}`, () => {
    for (const group of groups) {
      const count = cases.filter((c) => groupOf(c.id) === group).length;
      it(`passes every case of group ${group} (${GROUP_TITLES.get(group)}, ${count} cases) strictly`, async () => {
        const outcome = await runs.get(key(entry))!;
        expect(notOk(outcome.results, group)).toEqual([]);
      }, TEST_TIMEOUT_MS);
    }
  });
}
