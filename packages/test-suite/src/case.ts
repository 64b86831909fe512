/**
 * What a conformance case is: an Autobahn id and description, a script that drives the peer
 * from the harness's side, and what the peer must do in return. One definition serves both
 * directions: the harness masks its frames when it plays the client and not when it plays the
 * server.
 *
 * @module
 */
import { equalBytes, utf8 } from "./bytes.ts";
import type { DeflateAgreement, DeflateCase } from "./deflate.ts";

/** Verdict on what the peer did with the frames (`behavior` in Autobahn's reports). */
export type Verdict = "OK" | "NON-STRICT" | "FAILED" | "INFORMATIONAL" | "UNIMPLEMENTED";

/** Verdict on the closing handshake (`behaviorClose`). */
export type CloseVerdict = "OK" | "WRONG CODE" | "UNCLEAN" | "FAILED BY CLIENT" | "FAILED" | "INFORMATIONAL" | "UNIMPLEMENTED";

/** Which end the harness plays. */
export type Role = "client" | "server";

/** What the harness saw the peer do, in order. `pause` marks a scripted wait that ran out. */
export type PeerEvent =
  | { readonly type: "message"; readonly binary: boolean; readonly payload: Uint8Array }
  | { readonly type: "ping"; readonly payload: Uint8Array }
  | { readonly type: "pong"; readonly payload: Uint8Array }
  | { readonly type: "pause"; readonly tag: string };

/** A frame the script sends. Anything can be written, valid or not. */
export interface FrameSpec {
  readonly opcode: number;
  /** Bytes, or text sent as UTF-8. Default empty. */
  readonly payload?: Uint8Array | string;
  /** Default true. */
  readonly fin?: boolean;
  /** RSV bits as a number 0-7 (RSV1 = 4). Default 0. */
  readonly rsv?: number;
  /** Repeat `payload` up to this many bytes (Autobahn's `payload_len`). */
  readonly length?: number;
  /** Write the frame in TCP writes of this many bytes, one after another. */
  readonly chop?: number;
  /** Write the frame as a TCP write of its own (Autobahn's `sync`), not batched with others. */
  readonly sync?: boolean;
}

/** The harness's side of a running case, handed to the case's script. */
export interface CaseContext {
  readonly role: Role;
  /** Whether no Close was sent or received yet and TCP is up (Autobahn's STATE_OPEN). */
  readonly open: boolean;
  /**
   * permessage-deflate as agreed for this connection (RFC 7692), or undefined when it was not.
   * When agreed, {@link sendMessage} compresses every message.
   */
  readonly deflate: DeflateAgreement | undefined;
  /** Sends one frame (see {@link FrameSpec} for batching, chopping and sync writes). */
  send(frame: FrameSpec): Promise<void>;
  /**
   * Sends a data message, split into frames of `fragmentSize` bytes when given. With
   * permessage-deflate agreed the message is compressed first (RSV1 on its first frame) and the
   * compressed bytes are split (Autobahn's `autoFragmentSize`).
   */
  sendMessage(payload: Uint8Array | string, options?: { binary?: boolean; fragmentSize?: number; sync?: boolean }): Promise<void>;
  /** Encodes one frame without sending it (to write it in parts with {@link write}). */
  encode(frame: FrameSpec): Uint8Array;
  /** Writes raw bytes as one TCP write of their own. */
  write(bytes: Uint8Array): Promise<void>;
  /**
   * Starts the closing handshake: a Close frame with `code` (none when omitted) and `reason`.
   * Frames the script sends afterwards still go out (to test what the peer does with them).
   */
  close(code?: number, reason?: Uint8Array | string): Promise<void>;
  /**
   * Waits `ms`; records `{ type: "pause", tag }` and resolves true if the connection is still
   * open then (Autobahn's `continueLater` with a state check), false otherwise.
   */
  pause(ms: number, tag: string): Promise<boolean>;
  /** Drops TCP after `ms` if the connection is not closed by then (Autobahn's `killAfter`). */
  killAfter(ms: number): void;
  /** Starts the closing handshake (1000) after `ms` if still open (Autobahn's `closeAfter`). */
  closeAfter(ms: number): void;
  /** The next message the peer sends, or undefined once the connection is closing or closed. */
  nextMessage(): Promise<Extract<PeerEvent, { type: "message" }> | undefined>;
}

/** How the connection must end. */
export interface CloseExpectation {
  /** Whether the harness starts the closing handshake (false: the peer must fail the connection). */
  readonly byHarness: boolean;
  /** Close codes the peer may send. An empty Close is accepted only where 1000 is. */
  readonly codes: readonly number[];
  /** Whether Close frames must be exchanged both ways (false: the peer may also just fail). */
  readonly requireClean: boolean;
}

/** Everything observed during one case, the input of the verdict. */
export interface Observation {
  readonly role: Role;
  readonly received: readonly PeerEvent[];
  /** Frames or bytes from the peer that break RFC 6455, in order. */
  readonly violations: readonly string[];
  /** Who sent the first Close frame. */
  readonly firstClose: "harness" | "peer" | undefined;
  readonly harnessSentClose: boolean;
  /** The peer's Close: its code (null for an empty Close) and reason. */
  readonly peerClose: { readonly code: number | null; readonly reason: string } | undefined;
  /** Who closed TCP first. */
  readonly tcpClosedFirst: "harness" | "peer" | undefined;
  /**
   * Why the harness dropped TCP before the peer closed it, if it did: a case timer (`kill`), the
   * case's hard limit, no answer to its Close (`close-timeout`), or (as the client) the server
   * not closing TCP after the closing handshake (`tcp-timeout`).
   */
  readonly dropped: "kill" | "case-timeout" | "close-timeout" | "tcp-timeout" | undefined;
  /** Why the case never got an open connection (a failed handshake, a driver that never came). */
  readonly handshakeError: string | undefined;
  /** A bug in the harness itself (a case script threw): the case proves nothing. */
  readonly harnessError: string | undefined;
  readonly durationMs: number;
  /**
   * permessage-deflate as agreed, when it was; `note` says why the agreement is allowed but not
   * the strictest (the server took a later offer over the first).
   */
  readonly deflate?: { readonly agreement: DeflateAgreement; readonly note: string | undefined };
}

/** A conformance case. */
export interface CaseDefinition {
  /** The Autobahn id, e.g. "6.4.3". */
  readonly id: string;
  readonly description: string;
  readonly expectation: string;
  /** Drives the case from the harness's side once the connection is open. */
  readonly run: (ctx: CaseContext) => Promise<void>;
  /** Event lists that earn OK and NON-STRICT (checked in that order); anything else fails. */
  readonly expected?: { readonly ok: readonly PeerEvent[]; readonly nonStrict?: readonly PeerEvent[] };
  readonly close: CloseExpectation;
  /** When the received events match `expected.ok`, start the closing handshake (Autobahn's `finishWhenDone`). */
  readonly closeWhenDone?: boolean;
  /** Verdicts are INFORMATIONAL: the RFC leaves the outcome open. */
  readonly informational?: boolean;
  /** A WRONG CODE close verdict also fails the behaviour (the 7.x cases). */
  readonly wrongCodeFails?: boolean;
  /** Hard limit for the whole case, pauses included; the harness drops TCP when it runs out. */
  readonly timeoutMs: number;
  /**
   * The case negotiates permessage-deflate (RFC 7692): what the fuzzing client offers and how the
   * fuzzing server answers. Not agreed, the case is UNIMPLEMENTED (Autobahn's 12.x/13.x).
   */
  readonly deflate?: DeflateCase;
  /**
   * Record each message from the peer by its SHA-1 digest (20 bytes in `payload`) instead of its
   * bytes, as Autobahn's 12.x/13.x compare echoes: a thousand 128 KiB echoes are not kept.
   * `expected` then lists digests too.
   */
  readonly digestMessages?: boolean;
}

/** One case's outcome. */
export interface CaseResult {
  readonly id: string;
  readonly description: string;
  readonly expectation: string;
  readonly behavior: Verdict;
  readonly behaviorClose: CloseVerdict;
  /** Why `behavior` is what it is. */
  readonly detail: string;
  /** Why `behaviorClose` is what it is. */
  readonly closeDetail: string;
  readonly observation: Observation;
}

/** Events to expect, written tersely in case definitions. */
export const expect = {
  text: (payload: Uint8Array | string): PeerEvent => ({ type: "message", binary: false, payload: toBytes(payload) }),
  binary: (payload: Uint8Array | string): PeerEvent => ({ type: "message", binary: true, payload: toBytes(payload) }),
  pong: (payload: Uint8Array | string = ""): PeerEvent => ({ type: "pong", payload: toBytes(payload) }),
  pause: (tag: string): PeerEvent => ({ type: "pause", tag }),
};

/** Text as UTF-8, bytes as they are. */
export function toBytes(payload: Uint8Array | string): Uint8Array {
  return typeof payload === "string" ? utf8(payload) : payload;
}

/** Whether two event lists are the same events with the same payloads, in the same order. */
export function sameEvents(a: readonly PeerEvent[], b: readonly PeerEvent[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((x, i) => sameEvent(x, b[i]!));
}

function sameEvent(a: PeerEvent, b: PeerEvent): boolean {
  if (a.type !== b.type) return false;
  if (a.type === "pause") return b.type === "pause" && a.tag === b.tag;
  if (a.type === "message" && b.type === "message" && a.binary !== b.binary) return false;
  return equalBytes(a.payload, (b as { payload: Uint8Array }).payload);
}

/** Whether a case's result counts as passing under the strict reading. */
export function isStrictlyOk(result: CaseResult): boolean {
  const good = (v: string): boolean => v === "OK" || v === "INFORMATIONAL";
  return good(result.behavior) && good(result.behaviorClose);
}
