/** Frame helpers: bytes as the peer of a connection would send them, and whole-frame decoding. */
import { encodeFrame, type Frame } from "../../src/frame.ts";
import { FrameDecoder } from "../../src/frame-decoder.ts";
import { concat } from "./chunking.ts";

export type Role = "client" | "server";
export const roles: readonly Role[] = ["client", "server"];

/** The other end. */
export function peerOf(role: Role): Role {
  return role === "client" ? "server" : "client";
}

/** A frame as the peer of a `role` end sends it: masked when `role` is the server. */
export function fromPeer(role: Role, opcode: number, payload: Uint8Array | string = new Uint8Array(0), fin = true, rsv = 0): Uint8Array {
  const bytes = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
  return encodeFrame({ fin, opcode, payload: bytes, rsv }, role === "server");
}

/** Decodes every whole frame in `chunks` with a decoder of `role`, joining pieces. */
export function decodeAll(role: Role, chunks: Uint8Array[], maxFrameSize = 1 << 24, allowedRsv = 0): Frame[] {
  const decoder = new FrameDecoder({ role, maxFrameSize, allowedRsv });
  const frames: Frame[] = [];
  let parts: Uint8Array[] = [];
  for (const chunk of chunks) {
    decoder.push(chunk);
    for (let piece = decoder.next(); piece !== undefined; piece = decoder.next()) {
      parts.push(piece.payload.slice());
      if (piece.last) {
        frames.push({ fin: piece.fin, opcode: piece.opcode, rsv: piece.rsv, payload: concat(...parts) });
        parts = [];
      }
    }
  }
  return frames;
}

/** Reads the frames a connection wrote (`chunks` from dataToSend), as its peer would. */
export function framesSentBy(role: Role, chunks: Uint8Array[]): Frame[] {
  return decodeAll(peerOf(role), chunks);
}
