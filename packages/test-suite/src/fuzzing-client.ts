/**
 * The fuzzing client: tests a server (an echo server) by opening one connection per case and
 * playing the client's side of it: over HTTP/1.1 (an Upgrade on a new TCP connection), or with
 * `http2` over HTTP/2 (an extended CONNECT stream, RFC 8441, on a new HTTP/2 session).
 *
 * @module
 */
import type { Duplex } from "node:stream";
import type { CaseDefinition, CaseResult } from "./case.ts";
import { judgeDeflateResponse } from "./deflate.ts";
import { openClient } from "./handshake.ts";
import { openHttp2Client } from "./http2.ts";
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
  /**
   * Speak RFC 8441 instead of HTTP/1.1: each case on an extended CONNECT stream of its own HTTP/2
   * session (`ws:` → h2c with prior knowledge, `wss:` → TLS with ALPN `h2`). Default false.
   */
  readonly http2?: boolean;
}

/** Runs every case against the server, one after another, and returns the results in order. */
export async function runFuzzingClient(options: FuzzingClientOptions): Promise<CaseResult[]> {
  const url = new URL(options.url);
  const results: CaseResult[] = [];
  for (const definition of options.cases) {
    let result: CaseResult;
    let closeSession: (() => void) | undefined;
    try {
      const offers = definition.deflate?.offers;
      const timeoutMs = options.handshakeTimeoutMs ?? 5000;
      let opened: { socket: Duplex; rest: Uint8Array; extensions?: string | undefined };
      if (options.http2 === true) {
        const { stream, extensions, close } = await openHttp2Client(url, timeoutMs, offers?.join(", "));
        closeSession = close;
        opened = { socket: stream, rest: new Uint8Array(0), extensions };
      } else {
        opened = await openClient(url, timeoutMs, offers?.join(", "));
      }
      const { socket, rest, extensions } = opened;
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
    } finally {
      closeSession?.();
    }
    results.push(result);
    options.onResult?.(result);
  }
  return results;
}
