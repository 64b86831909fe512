/**
 * The opening handshake over HTTP/2 (RFC 8441, "Bootstrapping WebSockets with HTTP/2") as pure
 * functions: the extended CONNECT request a client sends (§4-5) and the server's answer, as
 * pseudo-header and header fields rather than bytes. The runtime's HTTP/2 implementation sends
 * and parses the frames; what is negotiated (subprotocol, extensions, the upgrade hook's
 * decision) is RFC 6455's, from `handshake.ts`.
 *
 * What differs from RFC 6455 §4 (RFC 8441 §5):
 * - the request is `:method CONNECT` with `:protocol websocket`, `:scheme` (`https` for `wss:`,
 *   `http` for `ws:`), `:path` and `:authority` (instead of `Host`);
 * - there is no `Sec-WebSocket-Key` / `Sec-WebSocket-Accept`, and no `Upgrade` / `Connection`
 *   (connection-specific fields are forbidden in HTTP/2, RFC 9113 §8.2.2);
 * - the server accepts with a 200 (a client takes any 2xx, as for every CONNECT, RFC 9110
 *   §9.3.6); `Origin`, `Sec-WebSocket-Version`, `-Protocol` and `-Extensions` keep their meaning;
 * - an unsupported version is refused with 400 and `sec-websocket-version: 13`, not 426: a 426
 *   must carry an `Upgrade` field (RFC 9110 §15.5.22), which HTTP/2 forbids.
 *
 * Header names are lower-case here, as HTTP/2 requires (RFC 9113 §8.2.1).
 *
 * @module
 */
import { HandshakeError, UsageError } from "./errors.ts";
import {
  acceptedExtensions,
  acceptedProtocol,
  type AcceptOptions,
  ACCEPT_FIELDS,
  brief,
  checkProtocols,
  chosenExtensions,
  chosenProtocol,
  type ClientRequestOptions,
  FRAMING,
  type HandshakeResponse,
  headerFields,
  missingOrInvalid,
  offeredExtensionNames,
  offeredExtensions,
  offeredProtocols,
  type RejectOptions,
  REQUEST_FIELDS,
  type UpgradeRequest,
  webSocketUrl,
} from "./handshake.ts";
import { getHeader, type HeaderList } from "./http-head.ts";

/**
 * An HTTP/2 request as the runtime's HTTP/2 server parsed it: its pseudo-header fields and its
 * other header fields (without the pseudo-headers).
 */
export interface ConnectRequestHead {
  /** `:method`. */
  readonly method: string;
  /** `:protocol` (RFC 8441 §4), absent on a plain CONNECT. */
  readonly protocol?: string | undefined;
  /** `:scheme`. */
  readonly scheme?: string | undefined;
  /** `:path`. */
  readonly path?: string | undefined;
  /** `:authority`. */
  readonly authority?: string | undefined;
  /** The header fields other than pseudo-headers. */
  readonly headers: HeaderList;
}

/**
 * An HTTP/2 response: `:status` and the header fields (lower-case names). The server sends the
 * one {@link acceptConnectResponse} or {@link rejectConnectResponse} made; a client checks the
 * one it received with {@link validateConnectResponse}.
 */
export interface ConnectResponse {
  readonly status: number;
  readonly headers: HeaderList;
  /** A refusal's body (send it, then end the stream); absent when the tunnel is accepted. */
  readonly body?: Uint8Array;
}

/** A client's extended CONNECT request: the fields to send, and what the answer is checked against. */
export interface ConnectRequest {
  /** The pseudo-header fields first (`:method`, `:protocol`, `:scheme`, `:path`, `:authority`), then the others. */
  readonly headers: HeaderList;
  /** The target URL, with scheme `ws:` or `wss:`. */
  readonly url: URL;
  /** The subprotocols offered. */
  readonly protocols: readonly string[];
  /** The names of the extensions offered, each once. */
  readonly extensionNames: readonly string[];
}

const VERSION = "13";
const encoder = new TextEncoder();
// RFC 9113 §8.2.2: connection-specific fields make an HTTP/2 message malformed.
const CONNECTION_SPECIFIC = ["connection", "upgrade", "keep-alive", "proxy-connection", "te"];
const H2_REQUEST_FIELDS = new Set([...REQUEST_FIELDS, ...CONNECTION_SPECIFIC]);
const H2_ACCEPT_FIELDS = new Set([...ACCEPT_FIELDS, ...CONNECTION_SPECIFIC]);
const H2_REJECT_FIELDS = new Set([...FRAMING, ...CONNECTION_SPECIFIC]);

// ---------------------------------------------------------------------------------------------
// Server side

/**
 * Checks an HTTP/2 request against RFC 8441 §4-5 and returns what the server needs to decide, in
 * the shape of an RFC 6455 request (`method` `CONNECT`, `host` from `:authority`, `target` from
 * `:path`, `key` `""`). Throws {@link HandshakeError}; answer it with
 * {@link connectRejectionFor}. The checks and their codes, all with status 400:
 *
 * - `:method` `CONNECT`, else `WS_ERR_INVALID_METHOD`;
 * - `:protocol` `websocket`, else `WS_ERR_INVALID_UPGRADE` (a plain CONNECT has none);
 * - `:scheme` `http` or `https` and `:path` starting with `/`, else `WS_ERR_MALFORMED_HTTP`;
 * - a non-empty `:authority`, else `WS_ERR_MISSING_HOST`;
 * - `sec-websocket-version: 13`, else `WS_ERR_UNSUPPORTED_VERSION` (with
 *   `sec-websocket-version: 13`);
 * - `sec-websocket-protocol` a list of tokens, else `WS_ERR_INVALID_SUBPROTOCOL`;
 * - `sec-websocket-extensions` well formed, else `WS_ERR_INVALID_EXTENSION`.
 */
export function validateConnectRequest(head: ConnectRequestHead): UpgradeRequest {
  const { headers } = head;
  // RFC 8441 §5: "The :protocol pseudo-header field MUST be included in the CONNECT request and
  // it MUST have a value of websocket".
  if (head.method !== "CONNECT") {
    throw new HandshakeError("WS_ERR_INVALID_METHOD", 400, `Invalid method, expected an extended CONNECT: ${brief(head.method)}`);
  }
  if (head.protocol !== "websocket") {
    throw new HandshakeError("WS_ERR_INVALID_UPGRADE", 400, missingOrInvalid(":protocol", head.protocol).replace(" header", " pseudo-header"));
  }
  // §4: "the :scheme and :path pseudo-header fields of the target URI MUST also be included".
  if (head.scheme !== "http" && head.scheme !== "https") {
    throw new HandshakeError("WS_ERR_MALFORMED_HTTP", 400, missingOrInvalid(":scheme", head.scheme).replace(" header", " pseudo-header"));
  }
  if (head.path === undefined || !head.path.startsWith("/")) {
    throw new HandshakeError("WS_ERR_MALFORMED_HTTP", 400, missingOrInvalid(":path", head.path).replace(" header", " pseudo-header"));
  }
  if (head.authority === undefined || head.authority === "") {
    throw new HandshakeError("WS_ERR_MISSING_HOST", 400, "Missing :authority pseudo-header");
  }
  const version = getHeader(headers, "sec-websocket-version");
  if (version !== VERSION) {
    throw new HandshakeError("WS_ERR_UNSUPPORTED_VERSION", 400, missingOrInvalid("Sec-WebSocket-Version", version), [
      ["sec-websocket-version", VERSION],
    ]);
  }
  return {
    method: "CONNECT",
    target: head.path,
    host: head.authority,
    key: "",
    origin: getHeader(headers, "origin"),
    protocols: offeredProtocols(headers),
    extensions: offeredExtensions(headers),
    headers,
  };
}

/**
 * The 200 response accepting an extended CONNECT (RFC 8441 §5), with the chosen subprotocol,
 * extensions and extra headers. Send it as the stream's response headers, then the stream
 * carries WebSocket frames. Throws the {@link UsageError}s `acceptResponse` rejects with (a
 * subprotocol or extension not offered, a bad or reserved header, which here also includes the
 * connection-specific fields HTTP/2 forbids).
 */
export function acceptConnectResponse(request: UpgradeRequest, options: AcceptOptions = {}): ConnectResponse {
  const fields: Array<readonly [string, string]> = [];
  const { protocol = "", extensions = "" } = options;
  if (protocol !== "") fields.push(["sec-websocket-protocol", chosenProtocol(protocol, request)]);
  if (extensions !== "") fields.push(["sec-websocket-extensions", chosenExtensions(extensions, request)]);
  fields.push(...lowerCase(headerFields(options.headers, H2_ACCEPT_FIELDS)));
  return { status: 200, headers: fields };
}

/**
 * A response refusing an extended CONNECT: a status of 300-599 (a 2xx would open the tunnel, so
 * it throws {@link UsageError} `WS_ERR_INVALID_ARGUMENT`, as does anything outside 200-599), the
 * extra headers, and the body with its `content-length` (a string as UTF-8 `text/plain` unless a
 * `content-type` is given). HTTP/2 has no reason phrase: `reason` is ignored. Send it, then end
 * the stream.
 */
export function rejectConnectResponse(status: number, options: RejectOptions = {}): ConnectResponse {
  if (!Number.isInteger(status) || status < 300 || status > 599) {
    throw new UsageError("WS_ERR_INVALID_ARGUMENT", `Invalid refusal status over HTTP/2, expected 300-599 (a 2xx accepts the tunnel): ${status}`);
  }
  const body = typeof options.body === "string" ? encoder.encode(options.body) : options.body ?? new Uint8Array(0);
  const fields = lowerCase(headerFields(options.headers, H2_REJECT_FIELDS));
  if (typeof options.body === "string" && !fields.some(([name]) => name === "content-type")) {
    fields.push(["content-type", "text/plain; charset=utf-8"]);
  }
  fields.push(["content-length", String(body.length)]);
  return { status, headers: fields, body };
}

/** The refusal for a server-side {@link HandshakeError} from {@link validateConnectRequest}: its status, headers and message. */
export function connectRejectionFor(error: HandshakeError): ConnectResponse {
  return rejectConnectResponse(error.status, { headers: error.headers, body: error.message });
}

// ---------------------------------------------------------------------------------------------
// Client side

/**
 * Builds the extended CONNECT request for `url` (RFC 8441 §5): `:scheme` `https` for `wss:`,
 * `http` for `ws:`, `:path` the path and query, `:authority` the host and port, then
 * `sec-websocket-version: 13`, `origin`, the subprotocols and extensions offered, and the extra
 * headers. Open a stream with these fields on a session whose peer sent
 * `SETTINGS_ENABLE_CONNECT_PROTOCOL` = 1 (RFC 8441 §3), then check the response with
 * {@link validateConnectResponse}. Throws what `createClientRequest` rejects with.
 */
export function createConnectRequest(url: string | URL, options: Omit<ClientRequestOptions, "sha1"> = {}): ConnectRequest {
  const target = webSocketUrl(url);
  const protocols = checkProtocols(options.protocols ?? []);
  const extensions = options.extensions ?? "";
  const extensionNames = offeredExtensionNames(extensions);
  const query = target.search !== "" ? target.search : target.href.endsWith("?") ? "?" : "";
  const fields: Array<readonly [string, string]> = [
    [":method", "CONNECT"],
    [":protocol", "websocket"],
    [":scheme", target.protocol === "wss:" ? "https" : "http"],
    [":path", target.pathname + query],
    [":authority", target.host],
    ["sec-websocket-version", VERSION],
  ];
  if (options.origin !== undefined) fields.push(...lowerCase(headerFields([["Origin", options.origin]], new Set())));
  if (protocols.length > 0) fields.push(["sec-websocket-protocol", protocols.join(", ")]);
  if (extensions !== "") fields.push(["sec-websocket-extensions", extensions]);
  fields.push(...lowerCase(headerFields(options.headers, H2_REQUEST_FIELDS)));
  return { headers: fields, url: target, protocols, extensionNames };
}

/**
 * Checks the server's answer to an extended CONNECT (RFC 8441 §5). A 2xx opens the tunnel: the
 * stream then carries WebSocket frames. Throws {@link HandshakeError} with the status received:
 * `WS_ERR_INVALID_STATUS` for any other status, `WS_ERR_INVALID_SUBPROTOCOL` for a subprotocol
 * not offered (or several), `WS_ERR_INVALID_EXTENSION` for an extension not offered.
 */
export function validateConnectResponse(
  response: Omit<ConnectResponse, "body">,
  request: Pick<ConnectRequest, "protocols" | "extensionNames">,
): HandshakeResponse {
  const { status, headers } = response;
  if (!(status >= 200 && status <= 299)) {
    throw new HandshakeError("WS_ERR_INVALID_STATUS", status, `Invalid status, expected 200: ${status}`);
  }
  return {
    protocol: acceptedProtocol(headers, request.protocols, status),
    extensions: acceptedExtensions(headers, request.extensionNames, status),
    headers,
    status,
  };
}

function lowerCase(fields: Array<readonly [string, string]>): Array<readonly [string, string]> {
  return fields.map(([name, value]) => [name.toLowerCase(), value] as const);
}
