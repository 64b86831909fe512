/**
 * The opening handshake (RFC 6455 §4) as pure functions over parsed heads and bytes: the client
 * builds its request and checks the response (§4.1), the server checks the request (§4.2.1) and
 * builds the 101 or a rejection (§4.2.2). No I/O: the caller reads heads with
 * `RequestHeadParser` / `ResponseHeadParser` and writes the bytes returned here.
 *
 * Errors: what the peer got wrong is a {@link HandshakeError} with a stable code and an HTTP
 * status (the one to answer with on the server; the one received on the client, 0 before any
 * response). What the caller got wrong (a subprotocol the client never offered, a header with a
 * CR in it) is a {@link UsageError}. A bad client URL is a `HandshakeError` `WS_ERR_INVALID_URL`
 * with status 0, so everything that stops a connection from being attempted or opened is one
 * error class for the client to report.
 *
 * @module
 */
import { HandshakeError, UsageError } from "./errors.ts";
import { type ExtensionOffer, parseExtensionHeader } from "./extension-header.ts";
import {
  getHeader,
  getHeaderValues,
  type HeaderList,
  isToken,
  type RequestHead,
  type ResponseHead,
} from "./http-head.ts";

/** The GUID concatenated to the key before hashing (RFC 6455 §1.3). */
export const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** Extra header fields: a `Headers` object, `[name, value]` pairs or a plain record. */
export type HeaderInit = Iterable<readonly [string, string]> | Readonly<Record<string, string>>;

const VERSION = "13";
const KEY = /^[A-Za-z0-9+/]{22}==$/;
const HTTP_VERSION = /^HTTP\/(\d+)(?:\.(\d+))?$/;
const BAD_HEADER_VALUE = /[\0\r\n]|[^\0-\xff]/;
/** @internal */
export const BAD_REASON = /[^\t\x20-\x7e\x80-\xff]/;
const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();

/** @internal */
export const REASONS: Readonly<Record<number, string>> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  426: "Upgrade Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

// Fields each message writes itself: custom headers may not repeat or override them. Framing
// fields are reserved everywhere, since a body would swallow the first frames.
/** @internal */
export const FRAMING = ["content-length", "transfer-encoding"];
/** @internal */
export const REQUEST_FIELDS = new Set([
  ...FRAMING,
  "host",
  "upgrade",
  "connection",
  "origin",
  "sec-websocket-key",
  "sec-websocket-version",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
]);
/** @internal */
export const ACCEPT_FIELDS = new Set([
  ...FRAMING,
  "upgrade",
  "connection",
  "sec-websocket-accept",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
]);
const REJECT_FIELDS = new Set([...FRAMING, "connection"]);

/** A fresh `Sec-WebSocket-Key`: 16 random bytes, base64-encoded (RFC 6455 §4.1). */
export function generateKey(): string {
  return base64(crypto.getRandomValues(new Uint8Array(16)));
}

/**
 * A synchronous SHA-1: the 20-byte digest of `data`. The handshake needs one hash per
 * connection (`Sec-WebSocket-Accept`, RFC 6455 §4.2.2 step 5.4); without one it uses
 * `crypto.subtle.digest`, which is asynchronous (on Node it is a job on the libuv thread pool,
 * a round trip that costs more than the hash). Each runtime adapter passes its own, e.g.
 * `(data) => createHash("sha1").update(data).digest()` with `node:crypto`.
 *
 * It must return the digest of exactly `data`; the result is read once and not kept.
 */
export type Sha1 = (data: Uint8Array) => Uint8Array;

/** The handshake's hash: set by the runtime adapters, rarely by hand. */
export interface HandshakeHashOptions {
  /**
   * A synchronous SHA-1 for `Sec-WebSocket-Accept`; default: `crypto.subtle.digest`
   * (asynchronous). With it, a server's `accept()` queues the 101 before returning, and a
   * client computes the accept value it expects without waiting.
   */
  readonly sha1?: Sha1;
}

/**
 * The `Sec-WebSocket-Accept` value for `key`: base64 of the SHA-1 of the key followed by
 * {@link WEBSOCKET_GUID} (RFC 6455 §4.2.2 step 5.4). With a synchronous {@link Sha1} it returns
 * the value; without, a promise of it (Web Crypto).
 *
 * @example
 * ```ts
 * await computeAcceptKey("dGhlIHNhbXBsZSBub25jZQ=="); // "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
 * computeAcceptKey("dGhlIHNhbXBsZSBub25jZQ==", sha1); // the same, at once
 * ```
 */
export function computeAcceptKey(key: string): Promise<string>;
export function computeAcceptKey(key: string, sha1: Sha1): string;
export function computeAcceptKey(key: string, sha1: Sha1 | undefined): string | Promise<string>;
export function computeAcceptKey(key: string, sha1?: Sha1): string | Promise<string> {
  const data = encoder.encode(key + WEBSOCKET_GUID);
  if (sha1 !== undefined) return base64(sha1(data));
  return crypto.subtle.digest("SHA-1", data).then((digest) => base64(new Uint8Array(digest)));
}

// ---------------------------------------------------------------------------------------------
// Server side

/** A client's opening handshake that passed {@link validateUpgradeRequest}. */
export interface UpgradeRequest {
  /** `GET`, or `CONNECT` for an HTTP/2 extended CONNECT (RFC 8441, see `validateConnectRequest`). */
  readonly method: string;
  /** The request target, e.g. `/chat?room=1`. */
  readonly target: string;
  /** The `Host` header (HTTP/2: the `:authority` pseudo-header). */
  readonly host: string;
  /** The `Sec-WebSocket-Key` header; `""` over HTTP/2, where RFC 8441 §5 has no key. */
  readonly key: string;
  /** The `Origin` header, sent by browsers; check it against an allow list (§10.2). */
  readonly origin: string | undefined;
  /** The subprotocols offered, most preferred first; may be empty. */
  readonly protocols: readonly string[];
  /** The extensions offered, most preferred first; may be empty. */
  readonly extensions: readonly ExtensionOffer[];
  /** Every header field, as received. */
  readonly headers: HeaderList;
}

/**
 * Checks a request head against RFC 6455 §4.2.1 and returns what the server needs to decide.
 * Throws {@link HandshakeError}; answer it with {@link rejectionFor}. The checks and their codes:
 *
 * - method `GET`, else 405 `WS_ERR_INVALID_METHOD` (with `Allow: GET`);
 * - HTTP/1.1 or later, else 400 `WS_ERR_INVALID_HTTP_VERSION`;
 * - exactly one non-empty `Host`, else 400 `WS_ERR_MISSING_HOST`;
 * - `Upgrade` lists `websocket`, else 400 `WS_ERR_INVALID_UPGRADE`;
 * - `Connection` lists `Upgrade`, else 400 `WS_ERR_INVALID_CONNECTION`;
 * - one `Sec-WebSocket-Key` decoding to 16 bytes, else 400 `WS_ERR_INVALID_KEY`;
 * - `Sec-WebSocket-Version: 13`, else 426 `WS_ERR_UNSUPPORTED_VERSION` (with
 *   `Sec-WebSocket-Version: 13`, §4.4);
 * - `Sec-WebSocket-Protocol` a list of tokens, else 400 `WS_ERR_INVALID_SUBPROTOCOL`;
 * - `Sec-WebSocket-Extensions` well formed, else 400 `WS_ERR_INVALID_EXTENSION`.
 */
export function validateUpgradeRequest(head: RequestHead): UpgradeRequest {
  const { headers } = head;
  checkMethod(head.method);
  checkRequestVersion(head.version);
  const host = requireHost(headers);
  checkUpgradeFields(headers, 400);
  const key = requireKey(headers);
  checkWebSocketVersion(headers);
  return {
    method: head.method,
    target: head.target,
    host,
    key,
    origin: getHeader(headers, "Origin"),
    protocols: offeredProtocols(headers),
    extensions: offeredExtensions(headers),
    headers,
  };
}

/** What {@link acceptResponse} adds to the 101 response. */
export interface AcceptOptions {
  /** The subprotocol chosen among `request.protocols`; omitted or `""` sends none. */
  readonly protocol?: string;
  /** The `Sec-WebSocket-Extensions` value accepted, naming only offered extensions; `""` sends none. */
  readonly extensions?: string;
  /** Extra header fields, e.g. `Set-Cookie`. */
  readonly headers?: HeaderInit;
}

/**
 * The bytes of the 101 Switching Protocols response (RFC 6455 §4.2.2) for a validated request.
 * Write them, then the connection is open: start the frame decoder with the parser's `rest`.
 * Rejects with {@link UsageError}: `WS_ERR_INVALID_ARGUMENT` for a subprotocol or extension the
 * client did not offer (or malformed extensions), `WS_ERR_INVALID_HEADER` for a custom header
 * that is not a token, carries CR, LF, NUL or a character above U+00FF, or would override a
 * handshake field. To build it without waiting, compute the accept value with a synchronous
 * hash and use {@link acceptResponseWithKey}.
 */
export async function acceptResponse(request: UpgradeRequest, options: AcceptOptions = {}): Promise<Uint8Array> {
  return acceptResponseWithKey(request, await computeAcceptKey(request.key), options);
}

/**
 * {@link acceptResponse} with the `Sec-WebSocket-Accept` value already computed (by
 * {@link computeAcceptKey} with a synchronous {@link Sha1}): the bytes at once. Throws the
 * {@link UsageError}s `acceptResponse` rejects with.
 */
export function acceptResponseWithKey(request: UpgradeRequest, acceptKey: string, options: AcceptOptions = {}): Uint8Array {
  const fields: Array<readonly [string, string]> = [
    ["Upgrade", "websocket"],
    ["Connection", "Upgrade"],
    ["Sec-WebSocket-Accept", acceptKey],
  ];
  const { protocol = "", extensions = "" } = options;
  if (protocol !== "") fields.push(["Sec-WebSocket-Protocol", chosenProtocol(protocol, request)]);
  if (extensions !== "") fields.push(["Sec-WebSocket-Extensions", chosenExtensions(extensions, request)]);
  if (options.headers !== undefined) fields.push(...headerFields(options.headers, ACCEPT_FIELDS));
  return serialize("HTTP/1.1 101 Switching Protocols", fields);
}

/** What {@link rejectResponse} puts in the response. */
export interface RejectOptions {
  /** The body: a string is sent as UTF-8 `text/plain` unless a `Content-Type` is given. */
  readonly body?: string | Uint8Array;
  /** Extra header fields; `Connection`, `Content-Length` and `Transfer-Encoding` are set here. */
  readonly headers?: HeaderInit;
  /** The reason phrase; defaults to the usual one for `status` (empty if unknown). */
  readonly reason?: string;
}

/**
 * The bytes of a response refusing the upgrade, e.g. 400, 403, 426 or 431, with `Connection:
 * close` and a `Content-Length`. Write them, then close the socket. Throws {@link UsageError}
 * `WS_ERR_INVALID_ARGUMENT` for a status outside 200-599 or a reason with control characters,
 * `WS_ERR_INVALID_HEADER` for a bad custom header.
 */
export function rejectResponse(status: number, options: RejectOptions = {}): Uint8Array {
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    throw new UsageError("WS_ERR_INVALID_ARGUMENT", `Invalid rejection status: ${status}`);
  }
  const reason = options.reason ?? REASONS[status] ?? "";
  if (BAD_REASON.test(reason)) {
    throw new UsageError("WS_ERR_INVALID_ARGUMENT", `Invalid reason phrase: ${JSON.stringify(reason)}`);
  }
  const body = typeof options.body === "string" ? encoder.encode(options.body) : options.body ?? EMPTY;
  const fields = headerFields(options.headers, REJECT_FIELDS);
  if (typeof options.body === "string" && !fields.some(([n]) => n.toLowerCase() === "content-type")) {
    fields.push(["Content-Type", "text/plain; charset=utf-8"]);
  }
  fields.push(["Connection", "close"], ["Content-Length", String(body.length)]);
  return serialize(`HTTP/1.1 ${status} ${reason}`, fields, body);
}

/**
 * The rejection for a server-side {@link HandshakeError}: its status, its headers (`Allow`,
 * `Sec-WebSocket-Version`) and its message as the body. Client-side errors (status 0 or 101)
 * are not answers to send and throw {@link UsageError} `WS_ERR_INVALID_ARGUMENT`.
 */
export function rejectionFor(error: HandshakeError): Uint8Array {
  return rejectResponse(error.status, { headers: error.headers, body: error.message });
}

// ---------------------------------------------------------------------------------------------
// Client side

/** What {@link createClientRequest} adds to the request, and the hash it checks the answer with. */
export interface ClientRequestOptions extends HandshakeHashOptions {
  /** Subprotocols to offer, most preferred first: unique tokens. */
  readonly protocols?: readonly string[];
  /** The `Origin` header, for servers that check it. */
  readonly origin?: string;
  /** Extra header fields, e.g. `Authorization` or `Cookie`. */
  readonly headers?: HeaderInit;
  /** The `Sec-WebSocket-Extensions` offer, e.g. from `formatExtensionHeader`. */
  readonly extensions?: string;
}

/** A client's opening handshake, and what the response is checked against. */
export interface ClientRequest {
  /** The request bytes to write. */
  readonly bytes: Uint8Array;
  /** The `Sec-WebSocket-Key` sent. */
  readonly key: string;
  /** The `Sec-WebSocket-Accept` the server must answer with. */
  readonly acceptKey: string;
  /** The target URL, with scheme `ws:` or `wss:`. Connect to `url.hostname` and `url.port`. */
  readonly url: URL;
  /** The subprotocols offered. */
  readonly protocols: readonly string[];
  /** The names of the extensions offered, each once. */
  readonly extensionNames: readonly string[];
}

/**
 * Builds the opening handshake for `url` (RFC 6455 §4.1), generating the key and computing the
 * accept value to expect. `http:` and `https:` URLs are taken as `ws:` and `wss:`, as the WHATWG
 * WebSocket does; credentials in the URL are not sent. Write `bytes`, then read the response with
 * a `ResponseHeadParser` and check it with {@link validateUpgradeResponse}.
 *
 * Rejects with {@link HandshakeError} `WS_ERR_INVALID_URL` (status 0) for an unparsable URL, another
 * scheme, or a fragment; {@link UsageError} `WS_ERR_INVALID_ARGUMENT` for protocols that are not
 * unique tokens or a malformed extension offer; `WS_ERR_INVALID_HEADER` for a bad custom header or
 * one that would override a handshake field (`Host`, `Upgrade`, `Origin`, `Sec-WebSocket-*`...).
 */
export async function createClientRequest(url: string | URL, options: ClientRequestOptions = {}): Promise<ClientRequest> {
  const target = webSocketUrl(url);
  const protocols = checkProtocols(options.protocols ?? []);
  const extensions = options.extensions ?? "";
  const extensionNames = offeredExtensionNames(extensions);
  const key = generateKey();
  const fields: Array<readonly [string, string]> = [
    ["Host", target.host],
    ["Upgrade", "websocket"],
    ["Connection", "Upgrade"],
    ["Sec-WebSocket-Key", key],
    ["Sec-WebSocket-Version", VERSION],
  ];
  if (options.origin !== undefined) fields.push(checkedField("Origin", options.origin, new Set()));
  if (protocols.length > 0) fields.push(["Sec-WebSocket-Protocol", protocols.join(", ")]);
  if (extensions !== "") fields.push(["Sec-WebSocket-Extensions", extensions]);
  fields.push(...headerFields(options.headers, REQUEST_FIELDS));
  const bytes = serialize(`GET ${resourceName(target)} HTTP/1.1`, fields);
  const acceptKey = options.sha1 === undefined ? await computeAcceptKey(key) : computeAcceptKey(key, options.sha1);
  return { bytes, key, acceptKey, url: target, protocols, extensionNames };
}

/** What the server agreed to, from a response that passed {@link validateUpgradeResponse}. */
export interface HandshakeResponse {
  /** The subprotocol the server chose, or `""` for none. */
  readonly protocol: string;
  /** The extensions the server accepted, with their parameters; negotiate them from here. */
  readonly extensions: readonly ExtensionOffer[];
  /** Every header field, as received. */
  readonly headers: HeaderList;
  /** 101, or the 2xx of an HTTP/2 extended CONNECT (RFC 8441). */
  readonly status: number;
}

/**
 * Checks the server's response head against RFC 6455 §4.1 for `request`. On success the
 * connection is open: start the frame decoder with the parser's `rest`. Throws
 * {@link HandshakeError} with `status` set to the status received: `WS_ERR_INVALID_STATUS` when it
 * is not 101, `WS_ERR_INVALID_UPGRADE` / `WS_ERR_INVALID_CONNECTION` for missing upgrade fields,
 * `WS_ERR_INVALID_ACCEPT` for a wrong `Sec-WebSocket-Accept`, `WS_ERR_INVALID_SUBPROTOCOL` for a
 * subprotocol not offered (or several), `WS_ERR_INVALID_EXTENSION` for an extension not offered.
 */
export function validateUpgradeResponse(head: ResponseHead, request: ClientRequest): HandshakeResponse {
  const { status, headers } = head;
  if (status !== 101) {
    throw new HandshakeError("WS_ERR_INVALID_STATUS", status, `Invalid status, expected 101: ${status}`);
  }
  checkUpgradeFields(headers, status);
  checkAccept(headers, request.acceptKey, status);
  return {
    protocol: acceptedProtocol(headers, request.protocols, status),
    extensions: acceptedExtensions(headers, request.extensionNames, status),
    headers,
    status,
  };
}

// ---------------------------------------------------------------------------------------------
// Server checks, in the order of RFC 6455 §4.2.1

function checkMethod(method: string): void {
  // §4.2.1 item 1: "An HTTP/1.1 or higher GET request".
  if (method !== "GET") {
    throw new HandshakeError("WS_ERR_INVALID_METHOD", 405, `Invalid method, expected GET: ${brief(method)}`, [
      ["Allow", "GET"],
    ]);
  }
}

function checkRequestVersion(version: string): void {
  const match = HTTP_VERSION.exec(version);
  const major = Number(match?.[1] ?? 0);
  const minor = Number(match?.[2] ?? 0);
  if (major < 1 || (major === 1 && minor < 1)) {
    throw new HandshakeError("WS_ERR_INVALID_HTTP_VERSION", 400, `Unsupported HTTP version: ${brief(version)}`);
  }
}

function requireHost(headers: HeaderList): string {
  // §4.2.1 item 2, and RFC 9112 §3.2: a 400 for a missing, repeated or empty Host.
  const values = getHeaderValues(headers, "Host");
  if (values.length === 0) throw new HandshakeError("WS_ERR_MISSING_HOST", 400, "Missing Host header");
  if (values.length > 1 || values[0] === "") {
    throw new HandshakeError("WS_ERR_MISSING_HOST", 400, `Invalid Host: ${brief(values.join(", "))}`);
  }
  return values[0]!;
}

/** §4.2.1 items 3-4 and §4.1 items 2-3: `Upgrade: websocket` and `Connection: Upgrade`. */
function checkUpgradeFields(headers: HeaderList, status: number): void {
  const upgrade = getHeader(headers, "Upgrade");
  if (!listHas(upgrade, "websocket")) {
    throw new HandshakeError("WS_ERR_INVALID_UPGRADE", status, missingOrInvalid("Upgrade", upgrade));
  }
  const connection = getHeader(headers, "Connection");
  if (!listHas(connection, "upgrade")) {
    throw new HandshakeError("WS_ERR_INVALID_CONNECTION", status, missingOrInvalid("Connection", connection));
  }
}

function requireKey(headers: HeaderList): string {
  // §4.2.1 item 5: base64 of a 16-byte nonce. Several lines join into a value that cannot match.
  const key = getHeader(headers, "Sec-WebSocket-Key");
  if (key === undefined || !KEY.test(key)) {
    throw new HandshakeError("WS_ERR_INVALID_KEY", 400, missingOrInvalid("Sec-WebSocket-Key", key));
  }
  return key;
}

function checkWebSocketVersion(headers: HeaderList): void {
  // §4.2.1 item 6 and §4.4: any other version is answered with 426 and the versions we speak.
  const version = getHeader(headers, "Sec-WebSocket-Version");
  if (version !== VERSION) {
    throw new HandshakeError(
      "WS_ERR_UNSUPPORTED_VERSION",
      426,
      missingOrInvalid("Sec-WebSocket-Version", version),
      [["Sec-WebSocket-Version", VERSION]],
    );
  }
}

/** @internal Shared with the HTTP/2 handshake (http2-handshake.ts). */
export function offeredProtocols(headers: HeaderList): string[] {
  const values = getHeaderValues(headers, "Sec-WebSocket-Protocol");
  if (values.length === 0) return [];
  const protocols = splitList(values);
  const bad = protocols.find((p) => !isToken(p));
  if (bad !== undefined) {
    throw new HandshakeError("WS_ERR_INVALID_SUBPROTOCOL", 400, `Invalid Sec-WebSocket-Protocol: ${brief(bad)}`);
  }
  return protocols;
}

/** @internal Shared with the HTTP/2 handshake (http2-handshake.ts). */
export function offeredExtensions(headers: HeaderList): ExtensionOffer[] {
  const values = getHeaderValues(headers, "Sec-WebSocket-Extensions");
  return values.length === 0 ? [] : parseExtensionHeader(values.join(", "));
}

/** @internal Shared with the HTTP/2 handshake (http2-handshake.ts). */
export function chosenProtocol(protocol: string, request: UpgradeRequest): string {
  // §4.2.2 step 5.4: the subprotocol must be one of the values the client sent.
  if (!request.protocols.includes(protocol)) {
    throw new UsageError("WS_ERR_INVALID_ARGUMENT", `Invalid subprotocol, not offered by the client: ${protocol}`);
  }
  return protocol;
}

/** @internal Shared with the HTTP/2 handshake (http2-handshake.ts). */
export function chosenExtensions(extensions: string, request: UpgradeRequest): string {
  const offered = new Set(request.extensions.map((e) => e.name));
  const notOffered = parseOwnExtensions(extensions).find((e) => !offered.has(e.name));
  if (notOffered !== undefined) {
    throw new UsageError("WS_ERR_INVALID_ARGUMENT", `Invalid extension, not offered by the client: ${notOffered.name}`);
  }
  return extensions;
}

// ---------------------------------------------------------------------------------------------
// Client checks, RFC 6455 §4.1

export function webSocketUrl(input: string | URL): URL {
  let url: URL;
  try {
    url = new URL(String(input));
  } catch {
    throw invalidUrl(`Invalid URL: ${brief(String(input))}`);
  }
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    throw invalidUrl(`Invalid URL scheme, expected ws or wss: ${url.protocol}`);
  }
  // The serialized URL holds a "#" exactly when there is a fragment, even an empty one.
  if (url.href.includes("#")) throw invalidUrl(`Invalid URL, fragments are not allowed: ${brief(url.href)}`);
  return url;
}

/** §3 "resource name": the path, then `?` and the query if there is one, even empty. */
function resourceName(url: URL): string {
  const query = url.search !== "" ? url.search : url.href.endsWith("?") ? "?" : "";
  return url.pathname + query;
}

export function checkProtocols(protocols: readonly string[]): string[] {
  const seen = new Set<string>();
  for (const protocol of protocols) {
    if (typeof protocol !== "string" || !isToken(protocol) || seen.has(protocol)) {
      throw new UsageError("WS_ERR_INVALID_ARGUMENT", `Invalid subprotocol, not a unique token: ${JSON.stringify(protocol)}`);
    }
    seen.add(protocol);
  }
  return [...protocols];
}

/** @internal Shared with the HTTP/2 handshake (http2-handshake.ts). */
export function offeredExtensionNames(extensions: string): string[] {
  if (extensions === "") return [];
  return [...new Set(parseOwnExtensions(extensions).map((e) => e.name))];
}

function checkAccept(headers: HeaderList, acceptKey: string, status: number): void {
  // §4.1 item 4: the accept value must be the hash of the key we sent, byte for byte.
  const accept = getHeader(headers, "Sec-WebSocket-Accept");
  if (accept !== acceptKey) {
    throw new HandshakeError("WS_ERR_INVALID_ACCEPT", status, missingOrInvalid("Sec-WebSocket-Accept", accept));
  }
}

/** @internal Shared with the HTTP/2 handshake (http2-handshake.ts). */
export function acceptedProtocol(headers: HeaderList, offered: readonly string[], status: number): string {
  // §4.1 item 6: absent, or exactly one value among those offered.
  const values = getHeaderValues(headers, "Sec-WebSocket-Protocol");
  if (values.length === 0) return "";
  const protocol = values[0]!;
  if (values.length > 1 || !offered.includes(protocol)) {
    throw new HandshakeError(
      "WS_ERR_INVALID_SUBPROTOCOL",
      status,
      `Invalid Sec-WebSocket-Protocol, not one offered: ${brief(values.join(", "))}`,
    );
  }
  return protocol;
}

/** @internal Shared with the HTTP/2 handshake (http2-handshake.ts). */
export function acceptedExtensions(headers: HeaderList, offered: readonly string[], status: number): ExtensionOffer[] {
  // §4.1 item 5: every extension in the response must be one the client asked for.
  const values = getHeaderValues(headers, "Sec-WebSocket-Extensions");
  if (values.length === 0) return [];
  let extensions: ExtensionOffer[];
  try {
    extensions = parseExtensionHeader(values.join(", "));
  } catch (error) {
    if (!(error instanceof HandshakeError)) throw error;
    throw new HandshakeError(error.code, status, error.message);
  }
  const notOffered = extensions.find((e) => !offered.includes(e.name));
  if (notOffered !== undefined) {
    throw new HandshakeError(
      "WS_ERR_INVALID_EXTENSION",
      status,
      `Invalid Sec-WebSocket-Extensions, not offered: ${brief(notOffered.name)}`,
    );
  }
  return extensions;
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** Whether a comma-separated header value lists `token` (compared case-insensitively). */
function listHas(value: string | undefined, token: string): boolean {
  if (value === undefined) return false;
  // One pass over the elements, without splitting: this runs twice per handshake.
  for (let start = 0; start <= value.length;) {
    let end = value.indexOf(",", start);
    if (end < 0) end = value.length;
    if (value.slice(start, end).trim().toLowerCase() === token) return true;
    start = end + 1;
  }
  return false;
}

/** The elements of list-valued field lines, trimmed, empty elements dropped (RFC 9110 §5.6.1). */
function splitList(values: readonly string[]): string[] {
  return values.flatMap((v) => v.split(",")).map((t) => t.trim()).filter((t) => t !== "");
}

/** Parses extensions the local side supplied: a syntax error is a usage error, not the peer's. */
function parseOwnExtensions(extensions: string): ExtensionOffer[] {
  try {
    return parseExtensionHeader(extensions);
  } catch (error) {
    if (!(error instanceof HandshakeError)) throw error;
    throw new UsageError("WS_ERR_INVALID_ARGUMENT", error.message);
  }
}

/** @internal Shared with the HTTP/2 handshake (http2-handshake.ts). */
export function headerFields(init: HeaderInit | undefined, reserved: ReadonlySet<string>): Array<readonly [string, string]> {
  if (init === undefined) return [];
  const entries = isIterable(init) ? init : Object.entries(init);
  return Array.from(entries, ([name, value]) => checkedField(name, value, reserved));
}

function isIterable(init: HeaderInit): init is Iterable<readonly [string, string]> {
  return typeof (init as Partial<Iterable<unknown>>)[Symbol.iterator] === "function";
}

/** Validates an outgoing field: a token name not `reserved`, a value without CR, LF, NUL or non-Latin-1. */
function checkedField(name: string, value: string, reserved: ReadonlySet<string>): readonly [string, string] {
  if (typeof name !== "string" || !isToken(name)) {
    throw new UsageError("WS_ERR_INVALID_HEADER", `Invalid header name: ${JSON.stringify(name)}`);
  }
  if (reserved.has(name.toLowerCase())) {
    throw new UsageError("WS_ERR_INVALID_HEADER", `Invalid header, set by the handshake itself: ${name}`);
  }
  if (typeof value !== "string" || BAD_HEADER_VALUE.test(value)) {
    throw new UsageError("WS_ERR_INVALID_HEADER", `Invalid header value for ${name}: ${JSON.stringify(value)}`);
  }
  // Like fetch's header normalization: leading and trailing whitespace is not part of the value.
  return [name, value.replace(/^[ \t]+|[ \t]+$/g, "")];
}

/** A head (every character already checked to be Latin-1) and an optional body, as bytes. */
function serialize(startLine: string, fields: ReadonlyArray<readonly [string, string]>, body: Uint8Array = EMPTY): Uint8Array {
  let head = `${startLine}\r\n`;
  for (const [name, value] of fields) head += `${name}: ${value}\r\n`;
  head += "\r\n";
  const out = new Uint8Array(head.length + body.length);
  for (let i = 0; i < head.length; i++) out[i] = head.charCodeAt(i);
  out.set(body, head.length);
  return out;
}

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** RFC 4648 base64 with padding; `btoa` over a spread of the bytes cost more than the hash on Node 20. */
function base64(bytes: Uint8Array): string {
  let out = "";
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += BASE64[n >> 18]! + BASE64[(n >> 12) & 63]! + BASE64[(n >> 6) & 63]! + BASE64[n & 63]!;
  }
  if (i + 1 === bytes.length) {
    const n = bytes[i]! << 16;
    out += `${BASE64[n >> 18]!}${BASE64[(n >> 12) & 63]!}==`;
  } else if (i + 2 === bytes.length) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += `${BASE64[n >> 18]!}${BASE64[(n >> 12) & 63]!}${BASE64[(n >> 6) & 63]!}=`;
  }
  return out;
}


/** @internal Shared with the HTTP/2 handshake (http2-handshake.ts). */
export function missingOrInvalid(name: string, value: string | undefined): string {
  return value === undefined ? `Missing ${name} header` : `Invalid ${name}: ${brief(value)}`;
}

function invalidUrl(message: string): HandshakeError {
  return new HandshakeError("WS_ERR_INVALID_URL", 0, message);
}

/** Cuts a peer-supplied value short for an error message. */
/** @internal Shared with the HTTP/2 handshake (http2-handshake.ts). */
export function brief(s: string): string {
  return s.length > 100 ? `${s.slice(0, 100)}...` : s;
}
