/**
 * `@wsstream/test-suite`: the conformance harness (Autobahn TestSuite cases 1-7, 9, 10, 12 and
 * 13, with strict verdicts) and the helpers that run it against each runtime's processes.
 *
 * @module
 */
export { type CaseContext, type CaseDefinition, type CaseResult, type CloseVerdict, isStrictlyOk, type Observation, type PeerEvent, type Role, type Verdict } from "./case.ts";
export { allCases, type CaseSelection, GROUP_TITLES, groupOf } from "./cases/index.ts";
export { type RunOutcome, type Subject, testClient, testServer } from "./conformance.ts";
export { runFuzzingClient, type FuzzingClientOptions } from "./fuzzing-client.ts";
export { type FuzzingServer, type FuzzingServerOptions, startFuzzingServer } from "./fuzzing-server.ts";
export { describeResult, formatReport, summarize } from "./report.ts";
export { RUNTIMES, type Runtime, runtimesWithClientDriver, runtimesWithEchoServer } from "./runtimes.ts";
