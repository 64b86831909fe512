/**
 * The harness's own permessage-deflate (RFC 7692), independent of `@wsstream/core` and
 * `@wsstream/zlib` like the rest of the harness: the `Sec-WebSocket-Extensions` grammar, the
 * negotiation rules of §7 from both ends, a compressor on `node:zlib`, and an inflater of its own.
 *
 * The inflater is written here rather than taken from `node:zlib` because zlib cannot check what
 * the cases check: zlib's inflate accepts a back-reference as long as the bytes are still in its
 * output buffer, so a window of 2^N bytes is only enforced across `inflate()` calls, and it cannot
 * tell a reference into the previous message from one into the current one. This one knows every
 * distance: a reference further back than the agreed window (`*_max_window_bits`, §7.1.2) or into
 * an earlier message when `*_no_context_takeover` was agreed (§7.1.1) is reported as such.
 *
 * @module
 */
import { constants, deflateRawSync } from "node:zlib";

// ---------------------------------------------------------------------------------------------
// Sec-WebSocket-Extensions (RFC 6455 §9.1)

/** One element of a `Sec-WebSocket-Extensions` value: a name and its parameters, in order. */
export interface ExtensionElement {
  readonly name: string;
  /** Parameters as written; a quoted value is unquoted; `null` for a parameter without value. */
  readonly params: ReadonlyArray<readonly [string, string | null]>;
}

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/**
 * Parses a `Sec-WebSocket-Extensions` value (`extension-list` of RFC 6455 §9.1, with the
 * quoted-string values of RFC 7230). Returns the reason when the value does not follow the grammar.
 */
export function parseExtensions(value: string): ExtensionElement[] | { readonly error: string } {
  const elements: ExtensionElement[] = [];
  let i = 0;
  const skipSpace = (): void => {
    while (value[i] === " " || value[i] === "\t") i++;
  };
  const token = (): string => {
    const start = i;
    while (i < value.length && TCHAR.test(value[i]!)) i++;
    return value.slice(start, i);
  };
  for (;;) {
    skipSpace();
    // RFC 7230 §7: empty list elements (", ,") are allowed and ignored.
    if (value[i] === ",") {
      i++;
      continue;
    }
    if (i >= value.length) break;
    const name = token();
    if (name === "") return { error: `expected an extension name at offset ${i}: ${JSON.stringify(value)}` };
    const params: Array<readonly [string, string | null]> = [];
    skipSpace();
    while (value[i] === ";") {
      i++;
      skipSpace();
      const param = token();
      if (param === "") return { error: `expected a parameter name at offset ${i}: ${JSON.stringify(value)}` };
      skipSpace();
      let paramValue: string | null = null;
      if (value[i] === "=") {
        i++;
        skipSpace();
        if (value[i] === '"') {
          i++;
          let text = "";
          while (i < value.length && value[i] !== '"') {
            if (value[i] === "\\") i++;
            text += value[i] ?? "";
            i++;
          }
          if (value[i] !== '"') return { error: `unterminated quoted string: ${JSON.stringify(value)}` };
          i++;
          // RFC 6455 §9.1: a quoted value must be a token once unquoted.
          if (text === "" || ![...text].every((c) => TCHAR.test(c))) return { error: `quoted value is not a token: ${JSON.stringify(text)}` };
          paramValue = text;
        } else {
          paramValue = token();
          if (paramValue === "") return { error: `expected a value for ${param} at offset ${i}: ${JSON.stringify(value)}` };
        }
        skipSpace();
      }
      params.push([param, paramValue]);
    }
    elements.push({ name, params });
    skipSpace();
    if (i >= value.length) break;
    if (value[i] !== ",") return { error: `unexpected ${JSON.stringify(value[i])} at offset ${i}: ${JSON.stringify(value)}` };
    i++;
  }
  return elements;
}

/** An element written back as header text. */
export function formatExtension(element: ExtensionElement): string {
  return [element.name, ...element.params.map(([k, v]) => (v === null ? k : `${k}=${v}`))].join("; ");
}

// ---------------------------------------------------------------------------------------------
// permessage-deflate parameters (RFC 7692 §7.1)

export const PERMESSAGE_DEFLATE = "permessage-deflate";

/** The parameters of one permessage-deflate offer, checked against §7.1. */
export interface DeflateOffer {
  readonly serverNoContextTakeover: boolean;
  readonly clientNoContextTakeover: boolean;
  readonly serverMaxWindowBits: number | undefined;
  /** `null`: present without a value ("I support it"). */
  readonly clientMaxWindowBits: number | null | undefined;
  /** The element as the client wrote it. */
  readonly text: string;
}

/** What both ends agreed: each compresses with its own side's values, inflates with the peer's. */
export interface DeflateAgreement {
  readonly serverNoContextTakeover: boolean;
  readonly clientNoContextTakeover: boolean;
  readonly serverMaxWindowBits: number;
  readonly clientMaxWindowBits: number;
  /** The server's response element, as sent. */
  readonly response: string;
}

/**
 * A case's permessage-deflate setup, as Autobahn's 12.x/13.x cases have it: what its fuzzing
 * client offers, and how its fuzzing server answers a client's offers.
 */
export interface DeflateCase {
  /** The offers the fuzzing client sends, highest preference first (one header element each). */
  readonly offers: readonly string[];
  /**
   * The fuzzing server's answer to the client's valid offers: the offer it accepts and the
   * response element, or `undefined` to decline them all.
   */
  readonly answer: (offers: readonly DeflateOffer[]) => { readonly offer: DeflateOffer; readonly response: string } | undefined;
}

// §7.1.2: "a decimal integer value without leading zeroes between 8 to 15, inclusive".
const WINDOW_BITS = /^(?:[89]|1[0-5])$/;

/** Reads the parameters of an offer or a response element, or says what breaks §7. */
export function readDeflateParams(element: ExtensionElement, side: "offer" | "response"): DeflateOffer | { readonly error: string } {
  let serverNoContextTakeover = false;
  let clientNoContextTakeover = false;
  let serverMaxWindowBits: number | undefined;
  let clientMaxWindowBits: number | null | undefined;
  const seen = new Set<string>();
  for (const [name, value] of element.params) {
    // §7: "multiple extension parameters with the same name" make an offer declined, a response fail.
    if (seen.has(name)) return { error: `the parameter ${name} appears twice (RFC 7692 §7)` };
    seen.add(name);
    switch (name) {
      case "server_no_context_takeover":
      case "client_no_context_takeover":
        if (value !== null) return { error: `${name} has a value, ${JSON.stringify(value)} (RFC 7692 §7.1.1: it has none)` };
        if (name === "server_no_context_takeover") serverNoContextTakeover = true;
        else clientNoContextTakeover = true;
        break;
      case "server_max_window_bits":
        if (value === null || !WINDOW_BITS.test(value)) return { error: `server_max_window_bits=${value ?? ""} is not 8-15 (RFC 7692 §7.1.2.1)` };
        serverMaxWindowBits = Number(value);
        break;
      case "client_max_window_bits":
        // §7.1.2.2: without a value only in an offer.
        if (value === null && side === "offer") {
          clientMaxWindowBits = null;
          break;
        }
        if (value === null || !WINDOW_BITS.test(value)) {
          return { error: `client_max_window_bits${value === null ? " without a value" : `=${value}`} in a ${side}, not 8-15 (RFC 7692 §7.1.2.2)` };
        }
        clientMaxWindowBits = Number(value);
        break;
      default:
        return { error: `unknown parameter ${name} (RFC 7692 §7)` };
    }
  }
  return { serverNoContextTakeover, clientNoContextTakeover, serverMaxWindowBits, clientMaxWindowBits, text: formatExtension(element) };
}

/** How the fuzzing client judges a server's answer to its offers. */
export type ResponseJudgement =
  | { readonly kind: "declined" }
  | { readonly kind: "invalid"; readonly reason: string }
  | { readonly kind: "agreed"; readonly agreement: DeflateAgreement; readonly note: string | undefined };

/**
 * Checks the server's `Sec-WebSocket-Extensions` (undefined when absent) against the offers the
 * harness sent: the response must be one permessage-deflate element whose parameters are valid in
 * a response and meet one of the offers (§7: a requested `server_no_context_takeover` and
 * `server_max_window_bits` honoured, `client_max_window_bits` only where offered). Meeting only a
 * later offer is agreed with a note: §5 recommends accepting the offer of higher preference.
 */
export function judgeDeflateResponse(offers: readonly string[], header: string | undefined): ResponseJudgement {
  if (header === undefined || header.trim() === "") return { kind: "declined" };
  const elements = parseExtensions(header);
  if ("error" in elements) return { kind: "invalid", reason: `Sec-WebSocket-Extensions is not valid: ${elements.error}` };
  if (elements.length === 0) return { kind: "declined" };
  const other = elements.find((e) => e.name.toLowerCase() !== PERMESSAGE_DEFLATE);
  if (other !== undefined) return { kind: "invalid", reason: `the server accepted ${other.name}, which was not offered (RFC 6455 §9.1)` };
  if (elements.length > 1) return { kind: "invalid", reason: `the server accepted permessage-deflate ${elements.length} times: ${header}` };
  const response = readDeflateParams(elements[0]!, "response");
  if ("error" in response) return { kind: "invalid", reason: `the response ${JSON.stringify(header)} breaks RFC 7692: ${response.error}` };
  const mismatches: string[] = [];
  for (const [index, text] of offers.entries()) {
    const offer = offerFrom(text);
    const mismatch = responseMismatch(offer, response);
    if (mismatch !== undefined) {
      mismatches.push(`offer ${index + 1}: ${mismatch}`);
      continue;
    }
    // §5: "An element preceding another element has higher preference. It is recommended that a
    // server accepts PMCEs with higher preference if the server supports them."
    const note =
      index === 0
        ? undefined
        : `The server accepted offer ${index + 1} (${text}) rather than offer 1 (${offers[0]}): ${mismatches[0]}; ` +
          "RFC 7692 §5 recommends accepting the offer of higher preference";
    return { kind: "agreed", agreement: agreementFrom(offer, response), note };
  }
  return { kind: "invalid", reason: `the response ${JSON.stringify(header)} meets none of the offers: ${mismatches.join("; ")}` };
}

/** Why `response` does not accept `offer` (RFC 7692 §7.1), or undefined when it does. */
function responseMismatch(offer: DeflateOffer, response: DeflateOffer): string | undefined {
  // §7.1.1.1: "A server accepts an extension negotiation offer that includes the
  // "server_no_context_takeover" extension parameter by including the
  // "server_no_context_takeover" extension parameter in the corresponding extension negotiation
  // response".
  if (offer.serverNoContextTakeover && !response.serverNoContextTakeover) return "server_no_context_takeover was requested but is missing (RFC 7692 §7.1.1.1)";
  // §7.1.2.1: "A server accepts an extension negotiation offer with this parameter by including
  // the "server_max_window_bits" extension parameter in the extension negotiation response to
  // send back to the client with the same or smaller value as the offer."
  if (offer.serverMaxWindowBits !== undefined) {
    if (response.serverMaxWindowBits === undefined) return `server_max_window_bits=${offer.serverMaxWindowBits} was requested but is missing (RFC 7692 §7.1.2.1)`;
    if (response.serverMaxWindowBits > offer.serverMaxWindowBits) {
      return `server_max_window_bits=${response.serverMaxWindowBits} is above the ${offer.serverMaxWindowBits} requested (RFC 7692 §7.1.2.1)`;
    }
  }
  // §7.1.2.2: "If a received extension negotiation offer doesn't have the
  // "client_max_window_bits" extension parameter, the corresponding extension negotiation
  // response to the offer MUST NOT include the "client_max_window_bits" extension parameter."
  if (response.clientMaxWindowBits != null) {
    if (offer.clientMaxWindowBits === undefined) return "client_max_window_bits was not offered but is in the response (RFC 7692 §7.1.2.2)";
    if (offer.clientMaxWindowBits !== null && response.clientMaxWindowBits > offer.clientMaxWindowBits) {
      return `client_max_window_bits=${response.clientMaxWindowBits} is above the ${offer.clientMaxWindowBits} offered (RFC 7692 §7.1.2.2)`;
    }
  }
  return undefined;
}

/**
 * What both ends use once `response` accepted `offer`. The offer's `client_*` parameters are the
 * client's promises (§7.1.1.2, §7.1.2.2 "hints"), so they bind the client even when the response
 * leaves them out.
 */
export function agreementFrom(offer: DeflateOffer, response: DeflateOffer): DeflateAgreement {
  return {
    serverNoContextTakeover: response.serverNoContextTakeover,
    clientNoContextTakeover: response.clientNoContextTakeover || offer.clientNoContextTakeover,
    serverMaxWindowBits: response.serverMaxWindowBits ?? 15,
    clientMaxWindowBits: Math.min(response.clientMaxWindowBits ?? 15, offer.clientMaxWindowBits ?? 15),
    response: response.text,
  };
}

/** An offer written in a case definition, parsed (the harness's own offers are valid). */
export function offerFrom(text: string): DeflateOffer {
  return ownElement(text, "offer");
}

/** A response written by a case's answer, parsed. */
export function responseFrom(text: string): DeflateOffer {
  return ownElement(text, "response");
}

function ownElement(text: string, side: "offer" | "response"): DeflateOffer {
  const elements = parseExtensions(text);
  const element = "error" in elements ? undefined : elements[0];
  const params = element === undefined ? undefined : readDeflateParams(element, side);
  if (params === undefined || "error" in params) throw new Error(`Invalid permessage-deflate ${side} in a case: ${text}`);
  return params;
}

/** What the fuzzing server makes of a client's `Sec-WebSocket-Extensions`. */
export interface ServerNegotiation {
  readonly agreement: DeflateAgreement | undefined;
  /** Offers that break RFC 7692 §7 (declined, and a fault of the client's). */
  readonly violations: readonly string[];
}

/** Reads the client's offers (undefined when none) and answers them as the case does. */
export function negotiateAsServer(header: string | undefined, deflateCase: DeflateCase): ServerNegotiation {
  if (header === undefined || header.trim() === "") return { agreement: undefined, violations: [] };
  const elements = parseExtensions(header);
  if ("error" in elements) return { agreement: undefined, violations: [`an invalid Sec-WebSocket-Extensions header (RFC 6455 §9.1): ${elements.error}`] };
  const violations: string[] = [];
  const offers: DeflateOffer[] = [];
  for (const element of elements) {
    if (element.name.toLowerCase() !== PERMESSAGE_DEFLATE) continue;
    const offer = readDeflateParams(element, "offer");
    if ("error" in offer) violations.push(`an invalid permessage-deflate offer, ${JSON.stringify(formatExtension(element))}: ${offer.error}`);
    else offers.push(offer);
  }
  const answer = offers.length === 0 ? undefined : deflateCase.answer(offers);
  if (answer === undefined) return { agreement: undefined, violations };
  return { agreement: agreementFrom(answer.offer, responseFrom(answer.response)), violations };
}

// ---------------------------------------------------------------------------------------------
// Compressing (node:zlib)

const TAIL = Uint8Array.of(0x00, 0x00, 0xff, 0xff);

/**
 * Compresses the messages of one direction as RFC 7692 §7.2.1 says: raw DEFLATE ending in a sync
 * flush, whose trailing `00 00 ff ff` is removed. With context takeover the previous messages
 * (their last 2^windowBits bytes) are the preset dictionary, which is exactly the LZ77 window a
 * compressor keeps between messages; without it every message starts empty.
 *
 * zlib refuses raw DEFLATE with an 8-bit window (Node silently raises it to 9), but it never
 * refers further back than its window minus 262 bytes (`MAX_DIST`), so a 9-bit zlib stream only
 * refers back 250 bytes: within the 256-byte window agreed as 8.
 */
export class MessageDeflater {
  readonly #windowBits: number;
  readonly #takeover: boolean;
  #history: Uint8Array = new Uint8Array(0);

  constructor(windowBits: number, noContextTakeover: boolean) {
    this.#windowBits = windowBits;
    this.#takeover = !noContextTakeover;
  }

  /** The payload of one compressed message (the frames' RSV1 set on the first). */
  compress(data: Uint8Array): Uint8Array {
    const out = deflateRawSync(data, {
      windowBits: Math.max(9, this.#windowBits),
      finishFlush: constants.Z_SYNC_FLUSH,
      ...(this.#takeover && this.#history.length > 0 ? { dictionary: this.#history } : {}),
    });
    const tail = out.subarray(out.length - TAIL.length);
    if (!tail.every((b, i) => b === TAIL[i])) throw new Error("zlib's sync flush did not end with 00 00 ff ff");
    if (this.#takeover) this.#history = lastBytes(this.#history, data, 1 << this.#windowBits);
    return new Uint8Array(out.buffer, out.byteOffset, out.length - TAIL.length);
  }
}

// The last `size` bytes of `a` followed by `b`.
function lastBytes(a: Uint8Array, b: Uint8Array, size: number): Uint8Array {
  if (b.length >= size) return b.slice(b.length - size);
  const keep = Math.min(a.length, size - b.length);
  const out = new Uint8Array(keep + b.length);
  out.set(a.subarray(a.length - keep));
  out.set(b, keep);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Inflating (our own, RFC 1951)

/** What {@link MessageInflater.inflate} returns. */
export type InflateResult = { readonly ok: true; readonly data: Uint8Array } | { readonly ok: false; readonly reason: string };

/** Names of the agreed parameters of the direction inflated, for the reasons given. */
export interface InflaterLabels {
  /** E.g. `server_max_window_bits`. */
  readonly windowBits: string;
  /** E.g. `server_no_context_takeover`. */
  readonly noContextTakeover: string;
}

class InflateError extends Error {}

/**
 * Inflates the messages of one direction (RFC 7692 §7.2.2: append `00 00 ff ff`, inflate) and
 * checks every back-reference against the agreed window and context takeover. After a failure the
 * direction is unusable; the session reports the failure and stops reading.
 */
export class MessageInflater {
  readonly #windowSize: number;
  readonly #windowBits: number;
  readonly #takeover: boolean;
  readonly #labels: InflaterLabels;
  // The last window's worth of earlier messages: the LZ77 window with context takeover, and
  // without it only kept to tell a reference into an earlier message from plain garbage.
  #history: Uint8Array = new Uint8Array(0);

  constructor(windowBits: number, noContextTakeover: boolean, labels: InflaterLabels) {
    this.#windowBits = windowBits;
    this.#windowSize = 1 << windowBits;
    this.#takeover = !noContextTakeover;
    this.#labels = labels;
  }

  /** Inflates one message's payload (its frames joined), up to `maxSize` bytes of output. */
  inflate(payload: Uint8Array, maxSize: number): InflateResult {
    const input = new Uint8Array(payload.length + TAIL.length);
    input.set(payload);
    input.set(TAIL, payload.length);
    const decoder = new Decoder(input, this.#history, maxSize, (distance, produced, available) => this.#checkDistance(distance, produced, available));
    try {
      decoder.run();
    } catch (error) {
      if (error instanceof InflateError) return { ok: false, reason: error.message };
      throw error;
    }
    const data = decoder.output();
    this.#history = lastBytes(this.#history, data, this.#windowSize);
    return { ok: true, data };
  }

  // `produced`: bytes of this message so far; `available`: those plus the history kept.
  #checkDistance(distance: number, produced: number, available: number): void {
    if (distance > this.#windowSize) {
      throw new InflateError(
        `a back-reference ${distance} bytes back, beyond the ${this.#windowSize}-byte window agreed as ${this.#labels.windowBits}=${this.#windowBits} (RFC 7692 §7.1.2)`,
      );
    }
    if (distance <= produced) return;
    if (distance <= available) {
      if (this.#takeover) return;
      throw new InflateError(`a back-reference ${distance} bytes back into an earlier message, although ${this.#labels.noContextTakeover} was agreed (RFC 7692 §7.1.1)`);
    }
    throw new InflateError(`a back-reference ${distance} bytes back, before the start of the data (RFC 1951 §3.2.3)`);
  }
}

// Length and distance codes (RFC 1951 §3.2.5).
const LENGTH_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LENGTH_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577];
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
// The order of code length code lengths (RFC 1951 §3.2.7).
const CLEN_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/**
 * A Huffman code as a lookup table indexed by the next `bits` input bits (LSB first): each
 * entry is `symbol << 4 | length`, 0 for a bit pattern that is no code.
 */
interface Huffman {
  readonly table: Int32Array;
  readonly bits: number;
}

function buildHuffman(lengths: ArrayLike<number>, what: string, incomplete: "never" | "single"): Huffman {
  let bits = 0;
  const count = new Array<number>(16).fill(0);
  for (let i = 0; i < lengths.length; i++) {
    const len = lengths[i]!;
    count[len]!++;
    if (len > bits) bits = len;
  }
  count[0] = 0;
  // RFC 1951 §3.2.2: canonical codes; an over-subscribed set of lengths is no prefix code.
  let left = 1;
  for (let len = 1; len <= 15; len++) {
    left = left * 2 - count[len]!;
    if (left < 0) throw new InflateError(`an over-subscribed ${what} code (RFC 1951 §3.2.2)`);
  }
  // As zlib: an incomplete code is refused, except a lone 1-bit code (one distance in use).
  if (left > 0 && bits > 0 && (incomplete === "never" || bits !== 1)) throw new InflateError(`an incomplete ${what} code (RFC 1951 §3.2.2)`);
  const next = new Array<number>(16).fill(0);
  let code = 0;
  for (let len = 1; len <= 15; len++) {
    code = (code + count[len - 1]!) << 1;
    next[len] = code;
  }
  const size = 1 << bits;
  const table = new Int32Array(Math.max(size, 1));
  for (let symbol = 0; symbol < lengths.length; symbol++) {
    const len = lengths[symbol]!;
    if (len === 0) continue;
    let c = next[len]!++;
    // Codes are stored MSB first in the stream but read LSB first: reverse.
    let reversed = 0;
    for (let i = 0; i < len; i++) {
      reversed = (reversed << 1) | (c & 1);
      c >>= 1;
    }
    for (let i = reversed; i < size; i += 1 << len) table[i] = (symbol << 4) | len;
  }
  return { table, bits };
}

let fixedCodes: { litlen: Huffman; dist: Huffman } | undefined;
function fixed(): { litlen: Huffman; dist: Huffman } {
  if (fixedCodes === undefined) {
    const lengths = new Array<number>(288);
    for (let i = 0; i < 288; i++) lengths[i] = i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8;
    fixedCodes = { litlen: buildHuffman(lengths, "fixed literal/length", "single"), dist: buildHuffman(new Array<number>(32).fill(5), "fixed distance", "single") };
  }
  return fixedCodes;
}

function truncated(): InflateError {
  return new InflateError(
    "the compressed data ends inside a DEFLATE block once 00 00 ff ff is appended (RFC 7692 §7.2.1: end a message with a sync flush and remove its trailing 00 00 ff ff)",
  );
}

/** One message's DEFLATE data, decoded after the previous messages' window. */
class Decoder {
  readonly #input: Uint8Array;
  readonly #maxSize: number;
  readonly #check: (distance: number, produced: number, available: number) => void;
  readonly #start: number;
  #pos = 0;
  #bitBuf = 0;
  #bitCount = 0;
  #out: Uint8Array;
  #outPos: number;

  constructor(input: Uint8Array, history: Uint8Array, maxSize: number, check: (distance: number, produced: number, available: number) => void) {
    this.#input = input;
    this.#maxSize = maxSize;
    this.#check = check;
    this.#out = new Uint8Array(history.length + Math.max(1024, input.length * 4));
    this.#out.set(history);
    this.#start = history.length;
    this.#outPos = history.length;
  }

  output(): Uint8Array {
    return this.#out.slice(this.#start, this.#outPos);
  }

  run(): void {
    for (;;) {
      const final = this.#bits(1);
      const type = this.#bits(2);
      if (type === 0) this.#stored();
      else if (type === 1) this.#codes(fixed().litlen, fixed().dist);
      else if (type === 2) this.#dynamic();
      else throw new InflateError("a DEFLATE block of reserved type 3 (RFC 1951 §3.2.3)");
      // RFC 7692 §7.2.3: a block with BFINAL set ends the data; what follows (the appended tail) is
      // not part of it.
      if (final === 1) return;
      if (this.#pos === this.#input.length && this.#bitCount === 0) return;
    }
  }

  #need(n: number): void {
    while (this.#bitCount < n) {
      if (this.#pos >= this.#input.length) throw truncated();
      this.#bitBuf |= this.#input[this.#pos++]! << this.#bitCount;
      this.#bitCount += 8;
    }
  }

  #bits(n: number): number {
    this.#need(n);
    const value = this.#bitBuf & ((1 << n) - 1);
    this.#bitBuf >>>= n;
    this.#bitCount -= n;
    return value;
  }

  #decode(code: Huffman): number {
    // Fill up to the table's width, or what is left of the input.
    while (this.#bitCount < code.bits && this.#pos < this.#input.length) {
      this.#bitBuf |= this.#input[this.#pos++]! << this.#bitCount;
      this.#bitCount += 8;
    }
    const entry = code.table[this.#bitBuf & ((1 << code.bits) - 1)]!;
    const len = entry & 15;
    if (len === 0) throw new InflateError("a bit pattern that is no Huffman code of the block (RFC 1951 §3.2.2)");
    if (len > this.#bitCount) this.#need(len);
    this.#bitBuf >>>= len;
    this.#bitCount -= len;
    return entry >> 4;
  }

  #stored(): void {
    // Drop the bits up to the byte boundary and hand back the whole bytes already read.
    this.#bitBuf = 0;
    this.#pos -= this.#bitCount >> 3;
    this.#bitCount = 0;
    const input = this.#input;
    if (this.#pos + 4 > input.length) throw truncated();
    const len = input[this.#pos]! | (input[this.#pos + 1]! << 8);
    const nlen = input[this.#pos + 2]! | (input[this.#pos + 3]! << 8);
    this.#pos += 4;
    if ((len ^ 0xffff) !== nlen) throw new InflateError(`a stored block whose LEN ${len} and NLEN ${nlen} do not match (RFC 1951 §3.2.4)`);
    if (this.#pos + len > input.length) throw truncated();
    this.#reserve(len);
    this.#out.set(input.subarray(this.#pos, this.#pos + len), this.#outPos);
    this.#outPos += len;
    this.#pos += len;
  }

  #dynamic(): void {
    const hlit = this.#bits(5) + 257;
    const hdist = this.#bits(5) + 1;
    const hclen = this.#bits(4) + 4;
    if (hlit > 286 || hdist > 30) throw new InflateError(`a dynamic block with ${hlit} literal/length and ${hdist} distance codes (RFC 1951 §3.2.7)`);
    const clen = new Array<number>(19).fill(0);
    for (let i = 0; i < hclen; i++) clen[CLEN_ORDER[i]!] = this.#bits(3);
    const clenCode = buildHuffman(clen, "code length", "never");
    const lengths = new Array<number>(hlit + hdist).fill(0);
    for (let i = 0; i < hlit + hdist; ) {
      const symbol = this.#decode(clenCode);
      if (symbol < 16) {
        lengths[i++] = symbol;
        continue;
      }
      let repeat: number;
      let value = 0;
      if (symbol === 16) {
        if (i === 0) throw new InflateError("a code length repeat with no previous length (RFC 1951 §3.2.7)");
        value = lengths[i - 1]!;
        repeat = 3 + this.#bits(2);
      } else if (symbol === 17) {
        repeat = 3 + this.#bits(3);
      } else {
        repeat = 11 + this.#bits(7);
      }
      if (i + repeat > hlit + hdist) throw new InflateError("code lengths that run past the number of codes (RFC 1951 §3.2.7)");
      while (repeat-- > 0) lengths[i++] = value;
    }
    if (lengths[256] === 0) throw new InflateError("a dynamic block without an end-of-block code (RFC 1951 §3.2.7)");
    this.#codes(buildHuffman(lengths.slice(0, hlit), "literal/length", "single"), buildHuffman(lengths.slice(hlit), "distance", "single"));
  }

  #codes(litlen: Huffman, dist: Huffman): void {
    for (;;) {
      const symbol = this.#decode(litlen);
      if (symbol < 256) {
        this.#reserve(1);
        this.#out[this.#outPos++] = symbol;
        continue;
      }
      if (symbol === 256) return;
      const li = symbol - 257;
      if (li >= 29) throw new InflateError(`the invalid length code ${symbol} (RFC 1951 §3.2.5)`);
      const length = LENGTH_BASE[li]! + this.#bits(LENGTH_EXTRA[li]!);
      const di = this.#decode(dist);
      if (di >= 30) throw new InflateError(`the invalid distance code ${di} (RFC 1951 §3.2.5)`);
      const distance = DIST_BASE[di]! + this.#bits(DIST_EXTRA[di]!);
      this.#check(distance, this.#outPos - this.#start, this.#outPos);
      this.#reserve(length);
      const out = this.#out;
      let from = this.#outPos - distance;
      let to = this.#outPos;
      const end = to + length;
      while (to < end) out[to++] = out[from++]!;
      this.#outPos = end;
    }
  }

  #reserve(n: number): void {
    const needed = this.#outPos + n;
    if (needed - this.#start > this.#maxSize) throw new InflateError(`the message inflates to more than ${this.#maxSize} bytes, the harness's limit`);
    if (needed <= this.#out.length) return;
    const grown = new Uint8Array(Math.max(needed, this.#out.length * 2));
    grown.set(this.#out.subarray(0, this.#outPos));
    this.#out = grown;
  }
}
