/**
 * The fuzzing client: tests a server (an echo server) by opening one connection per case and
 * playing the client's side of it.
 *
 * @module
 */
import type { CaseDefinition, CaseResult } from "./case.ts";
import { openClient } from "./handshake.ts";
import { notRun, runCase } from "./session.ts";

/** Options of {@link runFuzzingClient}. */
export interface FuzzingClientOptions {
  /** The echo server's URL, e.g. `ws://127.0.0.1:9001`. */
  readonly url: string | URL;
  readonly cases: readonly CaseDefinition[];
  /** Called after each case. */
  readonly onResult?: (result: CaseResult) => void;
  /** Milliseconds for TCP connect plus the opening handshake. Default 5000. */
  readonly handshakeTimeoutMs?: number;
}

/** Runs every case against the server, one after another, and returns the results in order. */
export async function runFuzzingClient(options: FuzzingClientOptions): Promise<CaseResult[]> {
  const url = new URL(options.url);
  const results: CaseResult[] = [];
  for (const definition of options.cases) {
    let result: CaseResult;
    try {
      const { socket, rest } = await openClient(url, options.handshakeTimeoutMs ?? 5000);
      result = await runCase(definition, socket, rest, "client");
    } catch (error) {
      result = notRun(definition, "client", `Opening handshake failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    results.push(result);
    options.onResult?.(result);
  }
  return results;
}
