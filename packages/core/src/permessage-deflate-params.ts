/**
 * permessage-deflate (RFC 7692 §7) parameter negotiation, as pure functions over parsed
 * `Sec-WebSocket-Extensions` values. The client builds its offer with {@link deflateOffer}, the
 * server picks one with {@link acceptDeflateOffer}, and the client checks the answer with
 * {@link acceptDeflateResponse}. Both ends come out with the same {@link DeflateParams}.
 *
 * The four parameters (§7.1), in an offer and in the response to it:
 *
 * - `server_no_context_takeover`: a request; the response must carry it if offered, may add it.
 * - `client_no_context_takeover`: a hint; the response may carry it either way.
 * - `server_max_window_bits=N`: a request; the response must carry it (≤ N) if offered, may add it.
 * - `client_max_window_bits[=N]`: "I support it" (and a hint); the response may carry it, with a
 *   value, only if offered.
 *
 * RFC 7692 §5: "A request in a PMCE negotiation offer indicates constraints on the server's
 * behavior that must be satisfied if the server accepts the offer. [...] A hint in a PMCE
 * negotiation offer provides information about the client's behavior that the server may either
 * safely ignore or refer to when the server decides its behavior."
 *
 * Errors: a client offer that breaks §7 is declined (skipped), never thrown; a server response
 * that breaks it is a {@link HandshakeError} `WS_ERR_INVALID_EXTENSION` with status 101, since
 * "A client MUST _Fail the WebSocket Connection_" then (§7). Bad local options (window bits
 * outside 8-15) are a {@link UsageError} `WS_ERR_INVALID_ARGUMENT`.
 *
 * @module
 */
import { HandshakeError, UsageError } from "./errors.ts";
import type { ExtensionOffer } from "./extension-header.ts";

/**
 * What a permessage-deflate negotiation agreed, the same on both ends. Each endpoint compresses
 * with its own side's values (the client with `client*`, the server with `server*`) and inflates
 * with the peer's.
 *
 * Window bits 8: RFC 7692 allows it, so it is agreed like any other value, but zlib cannot
 * compress with a 256-byte window. zlib 1.2.9 and later refuse raw deflate with `windowBits` 8
 * (madler/zlib#752), and Node raises it to 9 without saying so (nodejs/node#16511). A stream
 * made with a 512-byte window may refer back up to 512 bytes, which a peer inflating with the
 * agreed 256-byte window rejects ("invalid distance too far back", madler/zlib#171). So a
 * compressor whose agreed window is 8 must not fall back to 9: it sends its messages
 * uncompressed (RSV1 clear, which RFC 7692 §6 allows for any message) or as stored DEFLATE blocks
 * only, which never refer back. The same fallback serves any compressor that cannot shrink its
 * window (`CompressionStream("deflate-raw")` always uses 15). Inflating has no such problem: an
 * inflater with a window of at least the agreed size reads the stream, so 15 always works.
 */
export interface DeflateParams {
  /** The server starts each message with an empty window (§7.1.1.1). */
  readonly serverNoContextTakeover: boolean;
  /** The client starts each message with an empty window (§7.1.1.2). */
  readonly clientNoContextTakeover: boolean;
  /** The base-2 logarithm of the server's LZ77 window, 8-15; 15 when not negotiated (§7.1.2.1). */
  readonly serverMaxWindowBits: number;
  /** The base-2 logarithm of the client's LZ77 window, 8-15; 15 when not negotiated (§7.1.2.2). */
  readonly clientMaxWindowBits: number;
}

/**
 * What one endpoint wants from a permessage-deflate negotiation. Every field is optional; window
 * bits are integers from 8 to 15 (see {@link DeflateParams} about 8).
 *
 * On the client, `server*` fields are requests the server must honour or the connection fails;
 * `client*` fields are promises about our own compressor, sent as hints. On the server, every field
 * is a preference applied within what the client allows: a server never declines a valid offer
 * because of its options, because any offer can be met (at worst by sending messages uncompressed).
 */
export interface DeflateOptions {
  /** Client: request that the server reset its window per message. Server: reset ours anyway. */
  readonly serverNoContextTakeover?: boolean;
  /** Client: promise to reset our window per message. Server: require the client to. */
  readonly clientNoContextTakeover?: boolean;
  /** Client: the largest window the server may compress with. Server: the largest we use. */
  readonly serverMaxWindowBits?: number;
  /** Client: the largest window we compress with. Server: the largest we ask the client to use. */
  readonly clientMaxWindowBits?: number;
}

/** What {@link acceptDeflateOffer} answers: the extension to send back, and the agreement. */
export interface AcceptedDeflateOffer {
  /** The `permessage-deflate` element for the response's `Sec-WebSocket-Extensions`. */
  readonly response: ExtensionOffer;
  /** What both ends now use. */
  readonly params: DeflateParams;
}

const NAME = "permessage-deflate";
const MAX_WINDOW_BITS = 15;
// §7.1.2.1 / §7.1.2.2: "a decimal integer value without leading zeroes between 8 to 15".
const WINDOW_BITS = /^(?:[89]|1[0-5])$/;

/** The parameters of one offer or response, checked against §7.1 and not yet negotiated. */
interface Parsed {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | undefined;
  /** `null` when present without a value, which only an offer may do. */
  clientMaxWindowBits: number | null | undefined;
}

type ParseResult = { readonly ok: true; readonly params: Parsed } | { readonly ok: false; readonly reason: string };

type Side = "offer" | "response";

// ---------------------------------------------------------------------------------------------
// Client side

/**
 * The client's permessage-deflate offer, to format with `formatExtensionHeader` into the
 * request's `Sec-WebSocket-Extensions`. It always carries `client_max_window_bits`: without a
 * value it says the client can use whatever window the server picks (what browsers send), with
 * `options.clientMaxWindowBits` it also promises to stay within that. Check the server's answer
 * with {@link acceptDeflateResponse} and the same options. Throws {@link UsageError}
 * `WS_ERR_INVALID_ARGUMENT` for window bits that are not integers from 8 to 15.
 *
 * @example
 * ```ts
 * deflateOffer(); // { name: "permessage-deflate", params: [["client_max_window_bits", null]] }
 * deflateOffer({ serverMaxWindowBits: 10 });
 * // { name: "permessage-deflate",
 * //   params: [["server_max_window_bits", "10"], ["client_max_window_bits", null]] }
 * ```
 */
export function deflateOffer(options: DeflateOptions = {}): ExtensionOffer {
  checkOptions(options);
  const params: Array<readonly [string, string | null]> = [];
  if (options.serverNoContextTakeover === true) params.push(["server_no_context_takeover", null]);
  if (options.clientNoContextTakeover === true) params.push(["client_no_context_takeover", null]);
  if (options.serverMaxWindowBits !== undefined) {
    params.push(["server_max_window_bits", String(options.serverMaxWindowBits)]);
  }
  params.push(["client_max_window_bits", optionalString(options.clientMaxWindowBits)]);
  return { name: NAME, params };
}

/**
 * Checks the server's permessage-deflate answer (the `permessage-deflate` element of the 101's
 * `Sec-WebSocket-Extensions`) against the offer made by {@link deflateOffer} with `offered`, and
 * returns what both ends now use. Throws {@link HandshakeError} `WS_ERR_INVALID_EXTENSION` with
 * status 101 when RFC 7692 §7 says the client must fail the connection: an unknown or repeated
 * parameter, a value where none is allowed, window bits that are missing or not 8-15 written
 * plainly, a requested `server_no_context_takeover` left out, or a `server_max_window_bits`
 * missing or above the one requested. Throws {@link UsageError} `WS_ERR_INVALID_ARGUMENT` for
 * another extension's element or bad `offered` window bits.
 */
export function acceptDeflateResponse(response: ExtensionOffer, offered: DeflateOptions): DeflateParams {
  checkOptions(offered);
  if (response.name !== NAME) {
    throw new UsageError("WS_ERR_INVALID_ARGUMENT", `Invalid extension, expected ${NAME}: ${response.name}`);
  }
  // §7: "A client MUST _Fail the WebSocket Connection_ if the peer server accepted an extension
  // negotiation offer for this extension with an extension negotiation response meeting any of
  // the following conditions: [...] an extension parameter not defined for use in a response
  // [...] an extension parameter with an invalid value [...] multiple extension parameters with
  // the same name [...] The client does not support the configuration that the response
  // represents."
  const parsed = parseParams(response.params, "response");
  if (!parsed.ok) throw responseError(parsed.reason);
  checkServerNoContextTakeover(parsed.params, offered);
  checkServerMaxWindowBits(parsed.params, offered);
  // §7.1.2.2: "If a received extension negotiation offer doesn't have the
  // "client_max_window_bits" extension parameter, the corresponding extension negotiation
  // response to the offer MUST NOT include the "client_max_window_bits" extension parameter."
  // deflateOffer always includes it, so the server may always answer with one.
  return {
    serverNoContextTakeover: parsed.params.serverNoContextTakeover,
    clientNoContextTakeover: agreedClientNoContextTakeover(parsed.params, offered),
    serverMaxWindowBits: parsed.params.serverMaxWindowBits ?? MAX_WINDOW_BITS,
    clientMaxWindowBits: agreedClientWindow(parsed.params, offered),
  };
}

function checkServerNoContextTakeover(answer: Parsed, offered: DeflateOptions): void {
  // §7.1.1.1: "A server accepts an extension negotiation offer that includes the
  // "server_no_context_takeover" extension parameter by including the
  // "server_no_context_takeover" extension parameter in the corresponding extension negotiation
  // response to send back to the client." Left out, the server would take over its context,
  // which we asked it not to: a configuration the client does not support (§7).
  if (offered.serverNoContextTakeover === true && !answer.serverNoContextTakeover) {
    throw responseError("server_no_context_takeover was requested but is missing");
  }
}

function checkServerMaxWindowBits(answer: Parsed, offered: DeflateOptions): void {
  // §7.1.2.1: "A server accepts an extension negotiation offer with this parameter by including
  // the "server_max_window_bits" extension parameter in the extension negotiation response to
  // send back to the client with the same or smaller value as the offer." Unrequested, "A server
  // MAY include the "server_max_window_bits" extension parameter in an extension negotiation
  // response even if the extension negotiation offer being accepted by the response didn't
  // include [it]", with any valid value.
  const requested = offered.serverMaxWindowBits;
  if (requested === undefined) return;
  if (answer.serverMaxWindowBits === undefined) {
    throw responseError(`server_max_window_bits was requested but is missing: ${requested}`);
  }
  if (answer.serverMaxWindowBits > requested) {
    throw responseError(`server_max_window_bits is above the ${requested} requested: ${answer.serverMaxWindowBits}`);
  }
}

function agreedClientNoContextTakeover(answer: Parsed, offered: DeflateOptions): boolean {
  // §7.1.1.2: by offering "client_no_context_takeover" the client "informs the peer server of a
  // hint that even if the server doesn't include the "client_no_context_takeover" extension
  // parameter in the corresponding extension negotiation response to the offer, the client is
  // not going to use context takeover". And "A client MUST support the
  // "client_no_context_takeover" extension parameter" when the server includes it unasked.
  return answer.clientNoContextTakeover || offered.clientNoContextTakeover === true;
}

function agreedClientWindow(answer: Parsed, offered: DeflateOptions): number {
  // §7.1.2.2: an offered value is a hint "that even if the server doesn't include the
  // "client_max_window_bits" extension parameter in the corresponding extension negotiation
  // response with a value greater than the one in the extension negotiation offer or if the
  // server doesn't include the extension parameter at all, the client is not going to use an
  // LZ77 sliding window size greater than the size specified by the value in the extension
  // negotiation offer". A larger value in the response is thus foreseen, not a failure: the
  // server lets us use up to it, and we keep the smaller window we promised.
  return Math.min(answer.clientMaxWindowBits ?? MAX_WINDOW_BITS, offered.clientMaxWindowBits ?? MAX_WINDOW_BITS);
}

function responseError(reason: string): HandshakeError {
  return new HandshakeError("WS_ERR_INVALID_EXTENSION", 101, `Invalid ${NAME} response, ${reason}`);
}

// ---------------------------------------------------------------------------------------------
// Server side

/**
 * Chooses among a client's extension offers (e.g. `UpgradeRequest.extensions`) the first
 * `permessage-deflate` offer that is valid, and answers it. Put `response` (formatted with
 * `formatExtensionHeader`, along with any other extensions accepted) in the 101's
 * `Sec-WebSocket-Extensions`, and set up compression from `params`. Returns `undefined` when no
 * offer can be accepted: then send no permessage-deflate and compress nothing.
 *
 * An offer with an unknown or repeated parameter, a value where none is allowed, or window bits
 * that are missing (for `server_max_window_bits`) or not 8-15 written plainly is declined, and
 * the next one is tried (§7). `options` are preferences applied within each offer (see
 * {@link DeflateOptions}). Throws {@link UsageError} `WS_ERR_INVALID_ARGUMENT` for window bits in
 * `options` that are not integers from 8 to 15.
 *
 * @example
 * ```ts
 * const offers = parseExtensionHeader("permessage-deflate; client_max_window_bits; server_max_window_bits=10");
 * acceptDeflateOffer(offers, { clientMaxWindowBits: 12 });
 * // { response: { name: "permessage-deflate",
 * //               params: [["server_max_window_bits", "10"], ["client_max_window_bits", "12"]] },
 * //   params: { serverNoContextTakeover: false, clientNoContextTakeover: false,
 * //             serverMaxWindowBits: 10, clientMaxWindowBits: 12 } }
 * ```
 */
export function acceptDeflateOffer(
  offers: readonly ExtensionOffer[],
  options: DeflateOptions = {},
): AcceptedDeflateOffer | undefined {
  checkOptions(options);
  // §5: "A client may also offer multiple PMCE choices to the server by including multiple
  // elements in the "Sec-WebSocket-Extensions" header, one for each PMCE offered. [...] An
  // element preceding another element has higher preference. It is recommended that a server
  // accepts PMCEs with higher preference if the server supports them."
  for (const offer of offers) {
    if (offer.name !== NAME) continue;
    // §7: "A server MUST decline an extension negotiation offer for this extension if any of the
    // following conditions are met: [...] an extension parameter not defined for use in an offer
    // [...] an extension parameter with an invalid value [...] multiple extension parameters with
    // the same name [...] The server doesn't support the offered configuration."
    const parsed = parseParams(offer.params, "offer");
    if (parsed.ok) return answerOffer(parsed.params, options);
  }
  return undefined;
}

function answerOffer(offer: Parsed, options: DeflateOptions): AcceptedDeflateOffer {
  const params: DeflateParams = {
    // §7.1.1.1: a requested server_no_context_takeover is accepted by including it, and "A
    // server MAY include the "server_no_context_takeover" extension parameter in an extension
    // negotiation response even if the extension negotiation offer being accepted by the
    // extension negotiation response didn't include [it]".
    serverNoContextTakeover: offer.serverNoContextTakeover || options.serverNoContextTakeover === true,
    // §7.1.1.2: "A server MAY include the "client_no_context_takeover" extension parameter in an
    // extension negotiation response." We do when asked to, and we echo the client's hint, which
    // the RFC suggests "to avoid taking over the LZ77 sliding window unnecessarily".
    clientNoContextTakeover: offer.clientNoContextTakeover || options.clientNoContextTakeover === true,
    serverMaxWindowBits: serverWindow(offer, options),
    clientMaxWindowBits: clientWindow(offer, options),
  };
  return { response: { name: NAME, params: responseParams(params, offer) }, params };
}

/** §7.1.2.1: never above what the client requested, nor above our own preference. */
function serverWindow(offer: Parsed, options: DeflateOptions): number {
  return Math.min(offer.serverMaxWindowBits ?? MAX_WINDOW_BITS, options.serverMaxWindowBits ?? MAX_WINDOW_BITS);
}

/**
 * §7.1.2.2: without `client_max_window_bits` in the offer we cannot limit the client. With it we
 * may, "with a value equal to or smaller than the received value"; an offered value is also the
 * client's promise, so it caps the window even when we have no preference.
 */
function clientWindow(offer: Parsed, options: DeflateOptions): number {
  if (offer.clientMaxWindowBits === undefined) return MAX_WINDOW_BITS;
  return Math.min(offer.clientMaxWindowBits ?? MAX_WINDOW_BITS, options.clientMaxWindowBits ?? MAX_WINDOW_BITS);
}

/** The response's parameters for `params`, in the order of §7.1. */
function responseParams(params: DeflateParams, offer: Parsed): Array<readonly [string, string | null]> {
  const out: Array<readonly [string, string | null]> = [];
  if (params.serverNoContextTakeover) out.push(["server_no_context_takeover", null]);
  if (params.clientNoContextTakeover) out.push(["client_no_context_takeover", null]);
  // A requested server_max_window_bits must be answered (§7.1.2.1); otherwise only a limit is.
  if (offer.serverMaxWindowBits !== undefined || params.serverMaxWindowBits < MAX_WINDOW_BITS) {
    out.push(["server_max_window_bits", String(params.serverMaxWindowBits)]);
  }
  // clientWindow is below 15 only when the offer carried client_max_window_bits (§7.1.2.2).
  if (params.clientMaxWindowBits < MAX_WINDOW_BITS) {
    out.push(["client_max_window_bits", String(params.clientMaxWindowBits)]);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Parameters, §7.1

/** Reads the parameters of an offer or a response, or says what is wrong with them. */
function parseParams(params: ExtensionOffer["params"], side: Side): ParseResult {
  const parsed: Parsed = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
  };
  const seen = new Set<string>();
  for (const [name, value] of params) {
    if (seen.has(name)) return { ok: false, reason: `repeated parameter: ${name}` };
    seen.add(name);
    const reason = readParam(parsed, name, value, side);
    if (reason !== undefined) return { ok: false, reason };
  }
  return { ok: true, params: parsed };
}

/** Stores one parameter into `parsed`; returns why it is invalid, or `undefined`. */
function readParam(parsed: Parsed, name: string, value: string | null, side: Side): string | undefined {
  switch (name) {
    case "server_no_context_takeover":
    case "client_no_context_takeover":
      // §7.1.1.1 and §7.1.1.2, in offers and in responses: "This extension parameter has no value."
      if (value !== null) return `${name} takes no value: ${JSON.stringify(value)}`;
      if (name === "server_no_context_takeover") parsed.serverNoContextTakeover = true;
      else parsed.clientNoContextTakeover = true;
      return undefined;
    case "server_max_window_bits":
      // §7.1.2.1, in offers and in responses: "This parameter has a decimal integer value without
      // leading zeroes between 8 to 15, inclusive, [...] and MUST conform to the ABNF below."
      parsed.serverMaxWindowBits = windowBits(value);
      return parsed.serverMaxWindowBits === undefined ? invalidWindowBits(name, value) : undefined;
    case "client_max_window_bits":
      // §7.1.2.2: in an offer "This parameter has no value or a decimal integer value without
      // leading zeroes between 8 to 15 inclusive"; in a response it "has a decimal integer value
      // without leading zeroes between 8 to 15 inclusive".
      if (value === null && side === "offer") {
        parsed.clientMaxWindowBits = null;
        return undefined;
      }
      parsed.clientMaxWindowBits = windowBits(value);
      return parsed.clientMaxWindowBits === undefined ? invalidWindowBits(name, value) : undefined;
    default:
      return `unknown parameter: ${name}`;
  }
}

/** A window-bits value from the header (already unquoted), if it is 8-15 written plainly. */
function windowBits(value: string | null): number | undefined {
  return value !== null && WINDOW_BITS.test(value) ? Number(value) : undefined;
}

function invalidWindowBits(name: string, value: string | null): string {
  return value === null
    ? `${name} needs a value from 8 to 15`
    : `${name} is not a number from 8 to 15: ${JSON.stringify(value)}`;
}

// ---------------------------------------------------------------------------------------------
// Options

function checkOptions(options: DeflateOptions): void {
  checkWindowBits("serverMaxWindowBits", options.serverMaxWindowBits);
  checkWindowBits("clientMaxWindowBits", options.clientMaxWindowBits);
}

function checkWindowBits(name: string, bits: number | undefined): void {
  if (bits === undefined) return;
  if (!Number.isInteger(bits) || bits < 8 || bits > MAX_WINDOW_BITS) {
    throw new UsageError("WS_ERR_INVALID_ARGUMENT", `Invalid ${name}, expected an integer from 8 to 15: ${bits}`);
  }
}

function optionalString(bits: number | undefined): string | null {
  return bits === undefined ? null : String(bits);
}
