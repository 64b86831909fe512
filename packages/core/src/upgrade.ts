/**
 * The server's upgrade hook: the validated request as a WHATWG `Request`, the application's
 * decision (accept, with a subprotocol and headers, or refuse with a `Response`), and the
 * options every server entry point takes.
 *
 * @module
 */
import { WebSocketError } from "./errors.ts";
import type { ExtensionFactory } from "./extension.ts";
import type { AcceptOptions, HandshakeHashOptions, HeaderInit, UpgradeRequest } from "./handshake.ts";
import type { RequestHead } from "./http-head.ts";
import type { ConnectRequestHead, ConnectResponse } from "./http2-handshake.ts";
import type { EndpointOptions } from "./endpoint.ts";
import type { ServerConnection } from "./server.ts";

/** What a server's `upgrade` hook returns: how to accept, or a `Response` that refuses. */
export type UpgradeDecision = void | undefined | { readonly protocol?: string; readonly headers?: HeaderInit } | Response;

/**
 * Server options: the connection layer's, the upgrade hook, a pre-parsed head for
 * `handleUpgrade`, and the handshake's hash (`sha1`, which the runtime adapters set).
 */
export interface ServerOptions extends EndpointOptions, HandshakeHashOptions {
  /**
   * Decides the upgrade from the request: return nothing to accept, `{ protocol, headers }` to
   * accept with a subprotocol (one the client offered) and headers, or a `Response` to refuse
   * (its status, headers and body are sent). Throwing refuses with 500.
   */
  readonly upgrade?: (request: Request, info: UpgradeRequest) => UpgradeDecision | Promise<UpgradeDecision>;
  /** Only upgrade requests for this path (query ignored); others get 404 before `upgrade` is asked. Default: any path. */
  readonly path?: string;
  /** `ws:` or `wss:`: the scheme of the URL given to `upgrade`. Default `ws:`. */
  readonly scheme?: "ws:" | "wss:";
  /** A request head already parsed (e.g. by `node:http`), and the bytes that followed it. */
  readonly head?: { readonly request: RequestHead; readonly rest?: Uint8Array };
  /**
   * HTTP/2 (RFC 8441): the transport is one stream of an HTTP/2 connection, opened by an
   * extended CONNECT whose fields are `request`; the answer (200, or a refusal with its body) is
   * handed to `respond`, which sends it as the stream's response (and ends the stream for a
   * refusal). The stream then carries the frames.
   */
  readonly connect?: { readonly request: ConnectRequestHead; readonly respond: (response: ConnectResponse) => void };
  /** Extensions this server supports, most preferred first (e.g. permessage-deflate). */
  readonly extensions?: readonly ExtensionFactory[];
}

/** What {@link decideUpgrade} did: accepted with these options, or refused for this reason. */
export type UpgradeOutcome =
  | { readonly accepted: AcceptOptions; readonly refused?: undefined }
  | { readonly accepted?: undefined; readonly refused: WebSocketError };

/**
 * Asks the hook and answers the handshake on `conn`: the 101 (accepted), or the hook's
 * `Response`, or 500 when the hook throws or its answer cannot be sent (refused). A request for
 * another `path` than the one given is refused with 404 first. `webRequest` is the request for
 * the hook, or a function that builds it: it is called only when there is a hook (see
 * {@link lazyWebRequest}).
 */
export async function decideUpgrade(
  conn: ServerConnection,
  request: UpgradeRequest,
  webRequest: Request | (() => Request),
  upgrade: ServerOptions["upgrade"],
  path?: string,
): Promise<UpgradeOutcome> {
  let decision: UpgradeDecision;
  if (path !== undefined && pathname(request.target) !== path) {
    decision = new Response("Not Found", { status: 404 });
  } else if (upgrade !== undefined) {
    try {
      decision = await upgrade(typeof webRequest === "function" ? webRequest() : webRequest, request);
    } catch (error) {
      conn.reject(500, { body: "Internal Server Error" });
      return { refused: new WebSocketError("Upgrade refused: the upgrade hook threw", { cause: error }) };
    }
  }
  if (decision instanceof Response) {
    const body = new Uint8Array(await decision.arrayBuffer());
    const headers: [string, string][] = [];
    const dropped = conn.http2 ? HTTP2_DROPPED : HTTP1_DROPPED;
    decision.headers.forEach((value, name) => {
      if (!dropped.test(name)) headers.push([name, value]);
    });
    try {
      conn.reject(decision.status, { body, headers });
    } catch (error) {
      // Over HTTP/2 a 2xx cannot refuse (it would open the tunnel): the application's mistake,
      // answered with 500 as below.
      conn.reject(500, { body: "Internal Server Error" });
      return { refused: new WebSocketError(`Upgrade refused, but its response cannot be sent: ${error instanceof Error ? error.message : String(error)}`, { cause: error }) };
    }
    return { refused: new WebSocketError(`Upgrade refused: ${decision.status}`) };
  }
  const accepted: AcceptOptions = decision ?? {};
  try {
    await conn.accept(accepted);
  } catch (error) {
    // A subprotocol the client did not offer, a bad header: the application's mistake, reported
    // to the client as 500 rather than thrown into the server.
    conn.reject(500, { body: "Internal Server Error" });
    return { refused: new WebSocketError(`Upgrade failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error }) };
  }
  return { accepted };
}

// Fields of a hook's refusal that the handshake writes itself, or that HTTP/2 forbids (RFC 9113 §8.2.2).
const HTTP1_DROPPED = /^(connection|content-length|transfer-encoding)$/i;
const HTTP2_DROPPED = /^(connection|content-length|transfer-encoding|upgrade|keep-alive|proxy-connection|te)$/i;

/** The validated request as a WHATWG `Request`, for the upgrade hook and the handler. */
export function toWebRequest(request: UpgradeRequest, scheme: "ws:" | "wss:"): Request {
  const headers = new Headers();
  for (const [name, value] of request.headers) headers.append(name, value);
  const base = `${scheme === "wss:" ? "https" : "http"}://${request.host}`;
  return new Request(new URL(request.target, base), { method: "GET", headers });
}

/**
 * {@link toWebRequest}, built on the first call and the same object after. A `Request` (its
 * `Headers`, URL and `AbortSignal`) costs more to build than the rest of a handshake's parsing,
 * and a server without an upgrade hook or a handler that reads it never needs one.
 */
export function lazyWebRequest(request: UpgradeRequest, scheme: "ws:" | "wss:"): () => Request {
  let built: Request | undefined;
  return () => (built ??= toWebRequest(request, scheme));
}

/** The URL the client asked for, with the WebSocket scheme (`ws://host/path?query`), as the `Request` would give it. */
export function requestUrl(request: UpgradeRequest, scheme: "ws:" | "wss:"): string {
  const { host, target } = request;
  // Most requests are already in the form the URL parser would give them; only the others
  // pay for a parse.
  if (PLAIN_TARGET.test(target) && !DOT_SEGMENT.test(target) && plainHost(host, scheme)) return `${scheme}//${host}${target}`;
  return new URL(target, `${scheme}//${host}`).href;
}

// A path and query the URL parser leaves as they are: no character it would percent-encode or
// read as a separator (' is encoded in the query of ws: and wss: URLs), no % (%2e is a dot).
const PLAIN_TARGET = /^\/[A-Za-z0-9\-._~!$&()*+,;=:@/?]*$/;
// A "." or ".." path segment, which the parser removes.
const DOT_SEGMENT = /\/\.\.?(?:[/?]|$)/;
// Lower-case names whose labels start with a letter (never read as an IPv4 address), or an
// IPv4 address as the parser writes it; then a port without leading zeros.
const PLAIN_HOST = /^(?:(?:[a-z][a-z0-9-]*\.)*[a-z][a-z0-9-]*|(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d))(?::([1-9]\d{0,4}))?$/;

function plainHost(host: string, scheme: "ws:" | "wss:"): boolean {
  const match = PLAIN_HOST.exec(host);
  if (match === null) return false;
  const port = match[1];
  // The parser drops the scheme's default port and refuses ports above 65535.
  return port === undefined || (Number(port) <= 65535 && port !== (scheme === "ws:" ? "80" : "443"));
}

// The path of a request target, normalized as the `Request`'s URL would have it.
function pathname(target: string): string {
  return new URL(target, "http://localhost").pathname;
}
