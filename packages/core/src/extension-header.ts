/**
 * The `Sec-WebSocket-Extensions` header (RFC 6455 §9.1), parsed into offers and formatted back:
 *
 * ```
 * extension-list  = 1#extension
 * extension       = extension-token *( ";" extension-param )
 * extension-param = token [ "=" (token | quoted-string) ]
 * ```
 *
 * A client may offer the same extension several times, most preferred first (RFC 7692 §5:
 * `permessage-deflate; client_max_window_bits, permessage-deflate`), so offers are a list, never
 * a map. Optional whitespace is accepted around `,`, `;` and `=`, and empty list elements are
 * ignored (RFC 9110 §5.6.1). §9.1 says a quoted value MUST unescape to a token; we accept any
 * quoted-string so that what {@link formatExtensionHeader} writes always parses back, and leave
 * the meaning of values to each extension (permessage-deflate checks its own).
 *
 * @module
 */
import { HandshakeError, UsageError } from "./errors.ts";
import { isToken } from "./http-head.ts";

/** One extension offered (or accepted) with its parameters, in order. */
export interface ExtensionOffer {
  /** The extension token, e.g. `permessage-deflate`. */
  readonly name: string;
  /** Parameters in the order written; the value is `null` for a parameter written without `=`. */
  readonly params: ReadonlyArray<readonly [name: string, value: string | null]>;
}

const TOKEN_AT = /[!#$%&'*+\-.^_`|~0-9A-Za-z]+/y;
// qdtext (RFC 9110 §5.6.4): HTAB, SP, VCHAR except `"` and `\`, obs-text.
const QDTEXT = /[\t\x20\x21\x23-\x5b\x5d-\x7e\x80-\xff]/;
// What may follow a backslash in a quoted-pair.
const QUOTABLE = /[\t\x20-\x7e\x80-\xff]/;

/**
 * Parses a `Sec-WebSocket-Extensions` value (several header lines joined with `, `) into offers,
 * in order. Throws {@link HandshakeError} `WS_ERR_INVALID_EXTENSION` (status 400) on bad syntax
 * or when no extension is named.
 *
 * @example
 * ```ts
 * parseExtensionHeader("permessage-deflate; client_max_window_bits=10, x-foo");
 * // [{ name: "permessage-deflate", params: [["client_max_window_bits", "10"]] },
 * //  { name: "x-foo", params: [] }]
 * ```
 */
export function parseExtensionHeader(value: string): ExtensionOffer[] {
  const cursor = new Cursor(value);
  const offers: ExtensionOffer[] = [];
  for (;;) {
    cursor.skipWhitespace();
    if (cursor.atEnd()) break;
    if (cursor.accept(",")) continue;
    offers.push(parseOffer(cursor));
    cursor.skipWhitespace();
    if (!cursor.atEnd() && !cursor.accept(",")) throw cursor.error("expected a comma");
  }
  if (offers.length === 0) throw cursor.error("no extension named");
  return offers;
}

/**
 * Formats offers as a `Sec-WebSocket-Extensions` value: `name; param; param=value, name2`.
 * Values that are tokens are written bare, others as quoted-strings. A name that is not a token,
 * or a value no quoted-string can carry (control characters, code points above U+00FF), throws
 * {@link UsageError} `WS_ERR_INVALID_ARGUMENT`. An empty list formats as `""`: send no header then.
 */
export function formatExtensionHeader(offers: readonly ExtensionOffer[]): string {
  return offers.map(formatOffer).join(", ");
}

function parseOffer(cursor: Cursor): ExtensionOffer {
  const name = cursor.token("expected an extension name");
  const params: Array<readonly [string, string | null]> = [];
  for (;;) {
    cursor.skipWhitespace();
    if (!cursor.accept(";")) break;
    cursor.skipWhitespace();
    params.push(parseParam(cursor));
  }
  return { name, params };
}

function parseParam(cursor: Cursor): readonly [string, string | null] {
  const name = cursor.token("expected a parameter name");
  cursor.skipWhitespace();
  if (!cursor.accept("=")) return [name, null];
  cursor.skipWhitespace();
  const value = cursor.peek() === '"' ? cursor.quotedString() : cursor.token("expected a parameter value");
  return [name, value];
}

function formatOffer(offer: ExtensionOffer): string {
  checkToken(offer.name, "extension name");
  let out = offer.name;
  for (const [name, value] of offer.params) {
    checkToken(name, "extension parameter name");
    out += value === null ? `; ${name}` : `; ${name}=${formatValue(value)}`;
  }
  return out;
}

function formatValue(value: string): string {
  if (isToken(value)) return value;
  let out = '"';
  for (const c of value) {
    if (QDTEXT.test(c)) out += c;
    else if (QUOTABLE.test(c)) out += `\\${c}`;
    else throw new UsageError("WS_ERR_INVALID_ARGUMENT", `Invalid extension parameter value: ${JSON.stringify(value)}`);
  }
  return `${out}"`;
}

function checkToken(s: string, what: string): void {
  if (!isToken(s)) throw new UsageError("WS_ERR_INVALID_ARGUMENT", `Invalid ${what}: ${JSON.stringify(s)}`);
}

/** A read position in a header value; every failure names the position and the whole value. */
class Cursor {
  readonly #s: string;
  #i = 0;

  constructor(s: string) {
    this.#s = s;
  }

  atEnd(): boolean {
    return this.#i >= this.#s.length;
  }

  peek(): string | undefined {
    return this.#s[this.#i];
  }

  /** Consumes `c` if it is next. */
  accept(c: string): boolean {
    if (this.#s[this.#i] !== c) return false;
    this.#i++;
    return true;
  }

  skipWhitespace(): void {
    while (this.#s[this.#i] === " " || this.#s[this.#i] === "\t") this.#i++;
  }

  token(expected: string): string {
    TOKEN_AT.lastIndex = this.#i;
    const match = TOKEN_AT.exec(this.#s);
    if (match === null) throw this.error(expected);
    this.#i = TOKEN_AT.lastIndex;
    return match[0];
  }

  /** `DQUOTE *( qdtext / quoted-pair ) DQUOTE`, unescaped. */
  quotedString(): string {
    this.#i++; // the opening quote
    let out = "";
    for (;;) {
      const c = this.#s[this.#i++];
      if (c === '"') return out;
      if (c === "\\") {
        const escaped = this.#s[this.#i++];
        if (escaped === undefined || !QUOTABLE.test(escaped)) throw this.error("invalid escape");
        out += escaped;
      } else if (c === undefined) {
        throw this.error("unterminated quoted string");
      } else if (QDTEXT.test(c)) {
        out += c;
      } else {
        throw this.error("invalid character in quoted string");
      }
    }
  }

  error(reason: string): HandshakeError {
    const shown = this.#s.length > 200 ? `${this.#s.slice(0, 200)}...` : this.#s;
    return new HandshakeError(
      "WS_ERR_INVALID_EXTENSION",
      400,
      `Invalid Sec-WebSocket-Extensions, ${reason} at ${this.#i}: ${shown}`,
    );
  }
}
