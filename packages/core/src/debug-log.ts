/**
 * Debug logging: one line per frame sent or received and per change of a connection's phase,
 * for a function the application gives (`debug` option) or, with `debug: true`, `console.error`.
 * Off by default; when off, the hot path pays one `undefined` check per frame. The adapters
 * switch it on from the `WSSTREAM_DEBUG` environment variable (the core reads no environment).
 *
 * A line looks like:
 * ```
 * wsstream client#1 out TEXT fin=1 rsv=000 len=5 "hello"
 * wsstream server#1 in CLOSE fin=1 rsv=000 len=2 code=1000 reason=""
 * wsstream client#1 state open -> close-sent
 * ```
 *
 * @module
 */
import { Opcode } from "./opcode.ts";

/** A function that receives one log line per event (no trailing newline). */
export type DebugLogger = (line: string) => void;

/** The `debug` option: `true` logs to `console.error`, a function receives each line, `false` or omitted logs nothing. */
export type DebugOption = boolean | DebugLogger;

/** The logger a `debug` option stands for, or `undefined` when logging is off. */
export function debugLogger(option: DebugOption | undefined): DebugLogger | undefined {
  if (option === undefined || option === false) return undefined;
  if (option === true) return consoleLogger;
  if (typeof option !== "function") return undefined;
  return option;
}

const consoleLogger: DebugLogger = (line) => console.error(line);

let nextId = 0;

/** A logger whose lines start with `wsstream <role>#<n>`, a number per connection in this process. */
export function connectionLogger(log: DebugLogger, role: "client" | "server"): DebugLogger {
  const prefix = `wsstream ${role}#${++nextId} `;
  return (line) => log(prefix + line);
}

const OPCODE_NAMES: Record<number, string> = {
  [Opcode.CONTINUATION]: "CONT",
  [Opcode.TEXT]: "TEXT",
  [Opcode.BINARY]: "BINARY",
  [Opcode.CLOSE]: "CLOSE",
  [Opcode.PING]: "PING",
  [Opcode.PONG]: "PONG",
};

const PREVIEW_BYTES = 32;
const lenientDecoder = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * One frame as a log line: direction, opcode, FIN, RSV bits, payload length, and a short
 * preview (text quoted, other bytes in hex, a Close's code and reason; none for a frame an
 * extension encoded). `payload` is the start of the payload, or the text being sent.
 */
export function describeFrame(direction: "in" | "out", opcode: number, fin: boolean, rsv: number, length: number, payload: Uint8Array | string): string {
  const name = OPCODE_NAMES[opcode] ?? `OP${opcode}`;
  const head = `${direction} ${name} fin=${fin ? 1 : 0} rsv=${rsv.toString(2).padStart(3, "0")} len=${length}`;
  return rsv !== 0 ? head : `${head}${preview(opcode, payload)}`;
}

function preview(opcode: number, payload: Uint8Array | string): string {
  if (typeof payload === "string") return ` ${quote(payload)}`;
  if (opcode === Opcode.CLOSE) {
    if (payload.length < 2) return "";
    const code = (payload[0]! << 8) | payload[1]!;
    return ` code=${code} reason=${quote(lenientDecoder.decode(payload.subarray(2)))}`;
  }
  if (payload.length === 0) return "";
  if (opcode === Opcode.TEXT) return ` ${quote(lenientDecoder.decode(payload.subarray(0, PREVIEW_BYTES)))}`;
  let hex = "";
  const n = Math.min(payload.length, PREVIEW_BYTES / 2);
  for (let i = 0; i < n; i++) hex += payload[i]!.toString(16).padStart(2, "0");
  return ` 0x${hex}${payload.length > n ? "..." : ""}`;
}

function quote(text: string): string {
  return JSON.stringify(text.length > PREVIEW_BYTES ? `${text.slice(0, PREVIEW_BYTES)}...` : text);
}
