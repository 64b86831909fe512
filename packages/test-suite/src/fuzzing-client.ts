/**
 * The fuzzing client: tests a server (an echo server) by opening one connection per case and
 * playing the client's side of it.
 *
 * @module
 */
import type { CaseDefinition, CaseResult } from "./case.ts";
import { judgeDeflateResponse } from "./deflate.ts";
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
      const offers = definition.deflate?.offers;
      const { socket, rest, extensions } = await openClient(url, options.handshakeTimeoutMs ?? 5000, offers?.join(", "));
      const judgement = offers === undefined ? undefined : judgeDeflateResponse(offers, extensions);
      if (judgement?.kind === "invalid") {
        // RFC 7692 §7: "A client MUST _Fail the WebSocket Connection_ if the peer server accepted
        // an extension negotiation offer for this extension with an extension negotiation
        // response meeting any of the following conditions [...]".
        socket.destroy();
        result = notRun(definition, "client", `The server's permessage-deflate answer is wrong: ${judgement.reason}`);
      } else {
        const agreed = judgement?.kind === "agreed" ? judgement : undefined;
        result = await runCase(definition, socket, rest, "client", { agreement: agreed?.agreement, note: agreed?.note });
      }
    } catch (error) {
      result = notRun(definition, "client", `Opening handshake failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    results.push(result);
    options.onResult?.(result);
  }
  return results;
}
