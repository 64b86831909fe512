/**
 * The messages of the echo case, and how a received message is described: every client (the
 * runtime programs and the in-process `ws` client) sends the same list and reports what came
 * back as {@link MessageDigest}s, which the test compares with {@link expectedDigests}.
 *
 * Runtime-neutral: Web APIs only (`TextEncoder`, `crypto.subtle`).
 *
 * @module
 */

/** One message to echo: `string` is sent as text, `Uint8Array` as binary. */
export interface EchoMessage {
  /** What it is, for reports: "1048576-byte binary". */
  readonly name: string;
  readonly data: string | Uint8Array;
}

/** What a received (or sent) message was: its type, its size in bytes and a SHA-256 of them. */
export interface MessageDigest {
  readonly name: string;
  readonly type: "text" | "binary";
  /** Length in bytes (UTF-8 for text). */
  readonly bytes: number;
  readonly sha256: string;
}

/** The frame length boundaries of RFC 6455 §5.2 (7-bit, 16-bit, 64-bit lengths) and 1 MiB. */
export const ECHO_SIZES: readonly number[] = [125, 126, 127, 65535, 65536, 1024 * 1024];

/**
 * Text with characters of every UTF-8 length, starting with U+FEFF (a decoder that strips a
 * "BOM" loses it) and including a 4-byte character (a surrogate pair in UTF-16).
 */
export const MULTI_BYTE_TEXT = "\uFEFFa é € 😀 𝄞 — ünïcödé, 你好, Ωmega";

const encoder = new TextEncoder();

/** Every message of the echo case, in the order sent. */
export function echoMessages(): EchoMessage[] {
  const messages: EchoMessage[] = [
    { name: "multi-byte UTF-8 text", data: MULTI_BYTE_TEXT },
    { name: "binary with all 256 byte values", data: Uint8Array.from({ length: 256 }, (_, i) => i) },
    { name: "empty text", data: "" },
    { name: "empty binary", data: new Uint8Array(0) },
  ];
  for (const size of ECHO_SIZES) {
    messages.push({ name: `${size}-byte text`, data: textOfBytes(size) });
    messages.push({ name: `${size}-byte binary`, data: pseudoRandomBytes(size, size) });
  }
  return messages;
}

/** Text whose UTF-8 encoding is exactly `size` bytes, mixing 1- to 4-byte characters. */
export function textOfBytes(size: number): string {
  // 1 + 2 + 3 + 4 bytes; the tail is padded with ASCII to land on `size` exactly.
  const unit = "aé€😀";
  const unitBytes = 10;
  const text = unit.repeat(Math.floor(size / unitBytes)) + "z".repeat(size % unitBytes);
  if (encoder.encode(text).length !== size) throw new Error(`textOfBytes built the wrong size: ${size}`);
  return text;
}

/** `size` bytes from a xorshift32 generator seeded with `seed`: the same on every runtime. */
export function pseudoRandomBytes(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size);
  let x = seed | 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

/** Describes a message: text is hashed as its UTF-8 bytes. */
export async function digest(name: string, data: string | Uint8Array): Promise<MessageDigest> {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  // A copy, so the digest never depends on the offset or type of the view it was handed.
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes.slice()));
  let sha256 = "";
  for (const byte of hash) sha256 += byte.toString(16).padStart(2, "0");
  return { name, type: typeof data === "string" ? "text" : "binary", bytes: bytes.length, sha256 };
}

/** What the echo case must receive back: the digests of {@link echoMessages}, in order. */
export function expectedDigests(): Promise<MessageDigest[]> {
  return Promise.all(echoMessages().map((message) => digest(message.name, message.data)));
}

/** The messages of the compression scenario: compressible text and binary, and one under any threshold. */
export function compressionMessages(): EchoMessage[] {
  const text = "wsstream compresses this sentence again and again. ".repeat(2000);
  const binary = new Uint8Array(200_000).map((_, i) => (i * 7) % 13);
  return [
    { name: "compressible text", data: text },
    { name: "compressible binary", data: binary },
    { name: "short text", data: "tiny" },
  ];
}

/** What the compression scenario must get back. */
export function expectedCompressionDigests(): Promise<MessageDigest[]> {
  return Promise.all(compressionMessages().map((message) => digest(message.name, message.data)));
}

