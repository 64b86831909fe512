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

const plan: Array<{ runtime: Runtime; subject: Subject; api: Api }> = APIS.flatMap((api) => [
  ...runtimesWithEchoServer().map((runtime) => ({ runtime, subject: "server" as const, api })),
  ...runtimesWithClientDriver().map((runtime) => ({ runtime, subject: "client" as const, api })),
]);

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
for (const { runtime, subject, api } of plan) {
  const run = slot(async () => {
    const outcome = await (subject === "server" ? testServer : testClient)(runtime, { cases, api });
    const title = `${runtime} ${subject} (${api}) under test`;
    console.log(formatReport(title, outcome.results, outcome.wallMs));
    if (!outcome.results.every(isStrictlyOk)) console.log(`Last output of the ${title} process:\n${outcome.processOutput}`);
    return outcome;
  });
  run.catch(() => undefined);
  runs.set(`${runtime} ${subject} ${api}`, run);
}

afterAll(async () => {
  await Promise.allSettled(runs.values());
}, TEST_TIMEOUT_MS);

function notOk(results: readonly CaseResult[], group: number): string[] {
  return results.filter((r) => groupOf(r.id) === group && !isStrictlyOk(r)).map((r) => describeResult(r).join("\n"));
}

for (const { runtime, subject, api } of plan) {
  describe(`${runtime}: the ${subject} under test, through ${api === "websocket" ? "WebSocket" : "WebSocketStream"}`, () => {
    for (const group of groups) {
      const count = cases.filter((c) => groupOf(c.id) === group).length;
      it(`passes every case of group ${group} (${GROUP_TITLES.get(group)}, ${count} cases) strictly`, async () => {
        const outcome = await runs.get(`${runtime} ${subject} ${api}`)!;
        expect(notOk(outcome.results, group)).toEqual([]);
      }, TEST_TIMEOUT_MS);
    }
  });
}
