/**
 * What the tool prints: timestamps, frame and message lines, and the statistics at exit.
 *
 * @module
 */
import type { FrameSeen, WireCounts } from "./frame-tap.ts";

const OPCODE_NAMES: Record<number, string> = { 0: "continuation", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong" };

/** `HH:MM:SS.mmm` in UTC. */
export function timestamp(date = new Date()): string {
  return date.toISOString().slice(11, 23);
}

/** `1.2 KiB` style sizes; bytes below 1 KiB exactly. */
export function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** One frame: `12:00:00.123 > text fin 5 B`, with `rsv1` and a close code when present. */
export function frameLine(direction: ">" | "<", frame: FrameSeen, prefix = ""): string {
  const name = OPCODE_NAMES[frame.opcode] ?? `opcode ${frame.opcode}`;
  const flags = [frame.fin ? "fin" : "", frame.rsv & 0b100 ? "rsv1" : ""].filter(Boolean).join(" ");
  const close = frame.closeCode === undefined ? "" : ` code ${frame.closeCode}`;
  return `${timestamp()} ${prefix}${direction} frame ${name}${flags ? ` ${flags}` : ""} ${size(frame.length)}${close}`;
}

/** Byte length of a message as sent: UTF-8 for text. */
export function messageBytes(message: string | Uint8Array): number {
  return typeof message === "string" ? Buffer.byteLength(message) : message.length;
}

/** A binary message, shown as its size and up to 32 bytes in hex. */
export function binaryText(bytes: Uint8Array): string {
  const hex = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, 32)).toString("hex");
  return `[binary ${size(bytes.length)}] ${hex}${bytes.length > 32 ? "..." : ""}`;
}

/** Messages and bytes, each way. */
export class Stats implements WireCounts {
  readonly startedAt = Date.now();
  messagesIn = 0;
  messagesOut = 0;
  payloadIn = 0;
  payloadOut = 0;
  bytesIn = 0;
  bytesOut = 0;
  framesIn = 0;
  framesOut = 0;
  connections = 0;

  received(message: string | Uint8Array): void {
    this.messagesIn += 1;
    this.payloadIn += messageBytes(message);
  }

  sent(message: string | Uint8Array): void {
    this.messagesOut += 1;
    this.payloadOut += messageBytes(message);
  }

  /** The summary printed at exit. */
  summary(options: { frames: boolean; connections: boolean }): string {
    const seconds = ((Date.now() - this.startedAt) / 1000).toFixed(2);
    const parts = [
      `${seconds} s`,
      ...(options.connections ? [`${this.connections} connections`] : []),
      `sent ${this.messagesOut} messages (${size(this.payloadOut)})`,
      `received ${this.messagesIn} messages (${size(this.payloadIn)})`,
      `on the wire ${size(this.bytesOut)} out, ${size(this.bytesIn)} in`,
      ...(options.frames ? [`frames ${this.framesOut} out, ${this.framesIn} in`] : []),
    ];
    return `stats: ${parts.join(", ")}`;
  }
}
