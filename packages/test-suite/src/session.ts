/**
 * One case on one open connection: runs the case's script, reads and checks every frame the peer
 * sends, answers Pings and Close frames like a well-behaved endpoint, and records what happened
 * for the verdict. Every wait is bounded: the case's own timers, the closing-handshake timers
 * below, and the case's hard limit.
 *
 * Writes go through one queue, so an automatic Pong or Close never lands in the middle of a
 * frame the script is writing in chops. Frames sent without `sync` or `chop` are batched until
 * the next turn of the event loop, so a script's consecutive frames reach the peer in one TCP
 * write, as in Autobahn.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { Duplex } from "node:stream";
import { concat, isValidUtf8, repeat } from "./bytes.ts";
import {
  type CaseContext,
  type CaseDefinition,
  type CaseResult,
  type FrameSpec,
  isStrictlyOk,
  type Observation,
  type PeerEvent,
  type Role,
  sameEvents,
  toBytes,
} from "./case.ts";
import { type DeflateAgreement, MessageDeflater, MessageInflater } from "./deflate.ts";
import { closePayload, encodeFrame, type IncomingFrame, Opcode, FrameParser } from "./frame.ts";
import { judge } from "./verdict.ts";

/**
 * How long the harness waits for the peer's Close after sending its own, and (as the client)
 * for the server to close TCP after the closing handshake: Autobahn's `closeHandshakeTimeout`
 * and `serverConnectionDropTimeout`, 1 s each.
 */
export const CLOSE_TIMEOUT_MS = 1000;

/** What the opening handshake settled about extensions, for {@link runCase}. */
export interface Negotiated {
  /** permessage-deflate as agreed, or undefined when it was not. */
  readonly agreement: DeflateAgreement | undefined;
  /** Why the agreement is allowed but not the strictest, if it is not. */
  readonly note?: string | undefined;
  /** The peer's faults during the handshake (an invalid offer), recorded as violations. */
  readonly violations?: readonly string[];
}

/** Largest message the harness inflates (as its frame parser's limit). */
const MAX_INFLATED = 64 * 1024 * 1024;

/**
 * Runs `definition` on `socket` (already upgraded; `rest` are the bytes after the handshake),
 * with the extensions the handshake agreed, if any. `socket` is a TCP socket (HTTP/1.1) or an
 * extended CONNECT stream (HTTP/2, RFC 8441): for a stream, "closing TCP" is ending the stream
 * (END_STREAM) and dropping it is a RST_STREAM.
 */
export async function runCase(definition: CaseDefinition, socket: Duplex, rest: Uint8Array, role: Role, negotiated?: Negotiated): Promise<CaseResult> {
  const run = new CaseRun(definition, socket, role, negotiated);
  return compact(judge(definition, await run.start(rest)));
}

// A passing case's events are never reported: keep a run's memory small (9.x echoes 16 MiB).
function compact(result: CaseResult): CaseResult {
  if (!isStrictlyOk(result)) return result;
  const received = result.observation.received.map((e) => ("payload" in e && e.payload.length > 256 ? { ...e, payload: e.payload.slice(0, 256) } : e));
  return { ...result, observation: { ...result.observation, received } };
}

/** The result of a case that never got an open connection; `why` says what happened. */
export function notRun(definition: CaseDefinition, role: Role, why: string): CaseResult {
  return judge(definition, {
    role,
    received: [],
    violations: [],
    firstClose: undefined,
    harnessSentClose: false,
    peerClose: undefined,
    tcpClosedFirst: undefined,
    dropped: undefined,
    handshakeError: why,
    harnessError: undefined,
    durationMs: 0,
  });
}

type MessageEvent = Extract<PeerEvent, { type: "message" }>;

const RSV1 = 0b100;

/** permessage-deflate on one connection: ours to send, the peer's to inflate. */
interface DeflateState {
  readonly agreement: DeflateAgreement;
  readonly note: string | undefined;
  readonly deflater: MessageDeflater;
  readonly inflater: MessageInflater;
  /** Set once an inflation failed: the peer's window is lost, later messages are not inflated. */
  broken: boolean;
}

function deflateState(role: Role, negotiated: Negotiated | undefined): DeflateState | undefined {
  const agreement = negotiated?.agreement;
  if (agreement === undefined) return undefined;
  // RFC 7692 §7.1: each end compresses with its own side's parameters.
  const client = role === "client";
  const peer = client ? "server" : "client";
  return {
    agreement,
    note: negotiated?.note,
    deflater: client
      ? new MessageDeflater(agreement.clientMaxWindowBits, agreement.clientNoContextTakeover)
      : new MessageDeflater(agreement.serverMaxWindowBits, agreement.serverNoContextTakeover),
    inflater: new MessageInflater(
      client ? agreement.serverMaxWindowBits : agreement.clientMaxWindowBits,
      client ? agreement.serverNoContextTakeover : agreement.clientNoContextTakeover,
      { windowBits: `${peer}_max_window_bits`, noContextTakeover: `${peer}_no_context_takeover` },
    ),
    broken: false,
  };
}

class CaseRun implements CaseContext {
  readonly role: Role;
  readonly #definition: CaseDefinition;
  readonly #socket: Duplex;
  readonly #mask: boolean;
  readonly #parser = new FrameParser();
  readonly #received: PeerEvent[] = [];
  readonly #violations: string[] = [];
  readonly #deflate: DeflateState | undefined;
  readonly #timers = new Set<NodeJS.Timeout>();
  #firstClose: "harness" | "peer" | undefined;
  #harnessSentClose = false;
  #peerClose: { code: number | null; reason: string } | undefined;
  #tcpClosedFirst: "harness" | "peer" | undefined;
  #dropped: Observation["dropped"];
  #harnessError: string | undefined;
  #state: "open" | "closing" | "closed" = "open";
  #muted = false;
  #fragments: { opcode: number; compressed: boolean; parts: Uint8Array[] } | undefined;
  #unread: MessageEvent[] = [];
  #messageWaiters: Array<(message: MessageEvent | undefined) => void> = [];
  #chain: Promise<void> = Promise.resolve();
  #pending: Uint8Array[] = [];
  #flushScheduled = false;
  #closed!: Promise<void>;
  #started = 0;

  constructor(definition: CaseDefinition, socket: Duplex, role: Role, negotiated: Negotiated | undefined) {
    this.#definition = definition;
    this.#socket = socket;
    this.role = role;
    this.#mask = role === "client";
    this.#deflate = deflateState(role, negotiated);
    for (const violation of negotiated?.violations ?? []) this.#violation(violation);
  }

  start(rest: Uint8Array): Promise<Observation> {
    this.#started = performance.now();
    const socket = this.#socket;
    this.#closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("end", () => this.#onEnd());
    socket.on("error", () => {
      // A reset: the peer went away. 'close' follows.
      this.#tcpClosedFirst ??= "peer";
    });
    this.#arm(this.#definition.timeoutMs, () => this.#drop("case-timeout"));
    if (rest.length > 0) this.#onData(rest);
    socket.resume();
    void this.#definition.run(this).catch((error: unknown) => {
      this.#harnessError = `The case script threw: ${error instanceof Error ? error.stack ?? error.message : String(error)}`;
      this.#drop("case-timeout");
    });
    return this.#closed.then(() => {
      this.#state = "closed";
      for (const timer of this.#timers) clearTimeout(timer);
      this.#timers.clear();
      this.#wakeMessageWaiters();
      return {
        role: this.role,
        received: this.#received,
        violations: this.#violations,
        firstClose: this.#firstClose,
        harnessSentClose: this.#harnessSentClose,
        peerClose: this.#peerClose,
        tcpClosedFirst: this.#tcpClosedFirst,
        dropped: this.#dropped,
        handshakeError: undefined,
        harnessError: this.#harnessError,
        durationMs: Math.round(performance.now() - this.#started),
        ...(this.#deflate === undefined ? {} : { deflate: { agreement: this.#deflate.agreement, note: this.#deflate.note } }),
      };
    });
  }

  // ---- CaseContext: what scripts call -------------------------------------------------------

  get open(): boolean {
    return this.#state === "open";
  }

  get deflate(): DeflateAgreement | undefined {
    return this.#deflate?.agreement;
  }

  encode(frame: FrameSpec): Uint8Array {
    let payload = toBytes(frame.payload ?? new Uint8Array(0));
    if (frame.length !== undefined) payload = repeat(payload, frame.length);
    return encodeFrame({ opcode: frame.opcode, payload, fin: frame.fin ?? true, rsv: frame.rsv ?? 0 }, this.#mask);
  }

  send(frame: FrameSpec): Promise<void> {
    if (this.#muted) return Promise.resolve();
    const bytes = this.encode(frame);
    if (frame.chop !== undefined) return this.#writeChopped(bytes, frame.chop);
    if (frame.sync === true) return this.#writeSync(bytes);
    return this.#writeBatched(bytes);
  }

  async sendMessage(payload: Uint8Array | string, options: { binary?: boolean; fragmentSize?: number; sync?: boolean } = {}): Promise<void> {
    // RFC 7692 §6.1: a compressed message has RSV1 set on its first frame only.
    const compressed = this.#deflate !== undefined && !this.#muted;
    const bytes = compressed ? this.#deflate!.deflater.compress(toBytes(payload)) : toBytes(payload);
    const opcode = options.binary === true ? Opcode.Binary : Opcode.Text;
    const size = options.fragmentSize ?? Math.max(bytes.length, 1);
    let offset = 0;
    do {
      const end = Math.min(offset + size, bytes.length);
      await this.send({
        opcode: offset === 0 ? opcode : Opcode.Continuation,
        payload: bytes.subarray(offset, end),
        fin: end === bytes.length,
        ...(compressed && offset === 0 ? { rsv: RSV1 } : {}),
        ...(options.sync === true ? { sync: true } : {}),
      });
      offset = end;
    } while (offset < bytes.length);
  }

  write(bytes: Uint8Array): Promise<void> {
    if (this.#muted) return Promise.resolve();
    return this.#writeSync(bytes);
  }

  close(code?: number, reason?: Uint8Array | string): Promise<void> {
    if (this.#muted || this.#state !== "open") return Promise.resolve();
    return this.#startClose(closePayload(code, reason));
  }

  async pause(ms: number, tag: string): Promise<boolean> {
    await this.#enqueue(() => this.#flushPending());
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => {
        timer = this.#arm(ms, resolve);
      }),
      this.#closed,
    ]);
    if (timer !== undefined) this.#disarm(timer);
    if (!this.open) return false;
    this.#record({ type: "pause", tag });
    return true;
  }

  killAfter(ms: number): void {
    this.#arm(ms, () => this.#drop("kill"));
  }

  closeAfter(ms: number): void {
    this.#arm(ms, () => {
      if (this.open) void this.#startClose(closePayload(1000));
    });
  }

  nextMessage(): Promise<MessageEvent | undefined> {
    const next = this.#unread.shift();
    if (next !== undefined) return Promise.resolve(next);
    if (this.#state !== "open") return Promise.resolve(undefined);
    return new Promise((resolve) => this.#messageWaiters.push(resolve));
  }

  // ---- Reading the peer ----------------------------------------------------------------------

  #onData(chunk: Uint8Array): void {
    if (this.#state === "closed") return;
    let frames: IncomingFrame[];
    try {
      frames = this.#parser.push(chunk);
    } catch (error) {
      this.#violation((error as Error).message);
      this.#markHarnessClosedTcp();
      this.#socket.destroy();
      return;
    }
    for (const frame of frames) this.#onFrame(frame);
  }

  #onFrame(frame: IncomingFrame): void {
    const name = opcodeName(frame.opcode);
    if (this.#peerClose !== undefined) {
      this.#violation(`a ${name} frame after its Close (RFC 6455 §5.5.1)`);
      return;
    }
    if (this.role === "client" && frame.masked) this.#violation(`a masked ${name} frame from the server (RFC 6455 §5.1)`);
    if (this.role === "server" && !frame.masked) this.#violation(`an unmasked ${name} frame from the client (RFC 6455 §5.1)`);
    if (frame.rsv !== 0) this.#checkRsv(frame, name);
    if (frame.opcode >= 0x8) {
      if (!frame.fin) this.#violation(`a fragmented ${name} frame (RFC 6455 §5.5)`);
      if (frame.payload.length > 125) this.#violation(`a ${name} frame with ${frame.payload.length} payload bytes (RFC 6455 §5.5)`);
    }
    switch (frame.opcode) {
      case Opcode.Close:
        this.#onClose(frame.payload);
        return;
      case Opcode.Ping:
        this.#record({ type: "ping", payload: frame.payload });
        if (!this.#harnessSentClose) void this.#writeControl(encodeFrame({ opcode: Opcode.Pong, payload: frame.payload }, this.#mask));
        return;
      case Opcode.Pong:
        this.#record({ type: "pong", payload: frame.payload });
        return;
      case Opcode.Continuation:
        if (this.#fragments === undefined) {
          this.#violation("a continuation frame with no message to continue (RFC 6455 §5.4)");
          return;
        }
        this.#fragments.parts.push(frame.payload);
        if (frame.fin) this.#finishMessage();
        return;
      case Opcode.Text:
      case Opcode.Binary:
        if (this.#fragments !== undefined) {
          this.#violation(`a new ${name} frame inside a fragmented message (RFC 6455 §5.4)`);
          return;
        }
        this.#fragments = { opcode: frame.opcode, compressed: this.#deflate !== undefined && (frame.rsv & RSV1) !== 0, parts: [frame.payload] };
        if (frame.fin) this.#finishMessage();
        return;
      default:
        this.#violation(`a frame with reserved opcode ${frame.opcode} (RFC 6455 §5.2)`);
    }
  }

  // RFC 7692 §6: with permessage-deflate agreed RSV1 marks the first frame of a compressed data
  // message; every other RSV bit, and RSV1 anywhere else, breaks the RFC.
  #checkRsv(frame: IncomingFrame, name: string): void {
    if (this.#deflate === undefined) {
      this.#violation(`RSV bits ${frame.rsv} on a ${name} frame with no extension agreed (RFC 6455 §5.2)`);
      return;
    }
    if ((frame.rsv & ~RSV1) !== 0) this.#violation(`RSV bits ${frame.rsv} on a ${name} frame, where only RSV1 belongs to permessage-deflate (RFC 6455 §5.2)`);
    if ((frame.rsv & RSV1) === 0) return;
    if (frame.opcode >= 0x8) this.#violation(`RSV1 on a ${name} frame (RFC 7692 §6.1: control frames are never compressed)`);
    else if (frame.opcode === Opcode.Continuation) this.#violation("RSV1 on a continuation frame (RFC 7692 §6.1: only the first frame of a compressed message has it)");
  }

  #finishMessage(): void {
    const { opcode, compressed, parts } = this.#fragments!;
    this.#fragments = undefined;
    const binary = opcode === Opcode.Binary;
    let payload = parts.length === 1 ? parts[0]! : concat(...parts);
    if (compressed) payload = this.#inflate(payload, binary);
    if (!binary && !isValidUtf8(payload)) this.#violation("a text message that is not valid UTF-8 (RFC 6455 §5.6)");
    const message: MessageEvent = { type: "message", binary, payload };
    this.#record(this.#definition.digestMessages === true ? { ...message, payload: sha1(payload) } : message);
    const waiter = this.#messageWaiters.shift();
    if (waiter !== undefined) waiter(message);
    else this.#unread.push(message);
  }

  // RFC 7692 §7.2.2: append 00 00 ff ff and inflate, within the agreed window and takeover.
  #inflate(payload: Uint8Array, binary: boolean): Uint8Array {
    const deflate = this.#deflate!;
    if (deflate.broken) return new Uint8Array(0);
    const result = deflate.inflater.inflate(payload, MAX_INFLATED);
    if (result.ok) return result.data;
    deflate.broken = true;
    this.#violation(`a compressed ${binary ? "binary" : "text"} message that does not inflate: ${result.reason}`);
    return new Uint8Array(0);
  }

  #onClose(payload: Uint8Array): void {
    let code: number | null = null;
    let reason = "";
    if (payload.length === 1) {
      this.#violation("a Close frame with a 1-byte payload (RFC 6455 §5.5.1)");
    } else if (payload.length >= 2) {
      code = (payload[0]! << 8) | payload[1]!;
      if (!isValidWireCloseCode(code)) this.#violation(`a Close frame with code ${code}, which may not be sent (RFC 6455 §7.4)`);
      const reasonBytes = payload.subarray(2);
      if (!isValidUtf8(reasonBytes)) this.#violation("a Close reason that is not valid UTF-8 (RFC 6455 §5.5.1)");
      reason = new TextDecoder().decode(reasonBytes);
    }
    this.#peerClose = { code, reason };
    this.#firstClose ??= "peer";
    this.#state = "closing";
    this.#muted = true;
    this.#wakeMessageWaiters();
    if (!this.#harnessSentClose) {
      // RFC 6455 §5.5.1: answer with a Close, typically echoing the status code.
      this.#harnessSentClose = true;
      const reply = code === null ? closePayload() : closePayload(isValidWireCloseCode(code) ? code : 1002);
      void this.#writeControl(encodeFrame({ opcode: Opcode.Close, payload: reply }, this.#mask));
    }
    this.#closingHandshakeDone();
  }

  #onEnd(): void {
    this.#tcpClosedFirst ??= "peer";
    this.#muted = true;
    if (this.#state === "open") this.#state = "closing";
    this.#wakeMessageWaiters();
    // Flush what is queued (a Close reply, say), then close our side too.
    void this.#enqueue(() => {
      this.#flushPending();
      this.#socket.end();
    });
    this.#arm(CLOSE_TIMEOUT_MS, () => this.#socket.destroy());
  }

  // ---- Closing ---------------------------------------------------------------------------------

  #startClose(payload: Uint8Array): Promise<void> {
    this.#harnessSentClose = true;
    this.#firstClose ??= "harness";
    this.#state = "closing";
    this.#wakeMessageWaiters();
    this.#arm(CLOSE_TIMEOUT_MS, () => {
      if (this.#peerClose === undefined) this.#drop("close-timeout");
    });
    return this.#writeControl(encodeFrame({ opcode: Opcode.Close, payload }, this.#mask));
  }

  // RFC 6455 §7.1.1: the server closes TCP first; the client waits for it.
  #closingHandshakeDone(): void {
    if (this.role === "server") {
      void this.#enqueue(() => {
        this.#flushPending();
        this.#markHarnessClosedTcp();
        this.#socket.end();
      });
      this.#arm(CLOSE_TIMEOUT_MS, () => this.#socket.destroy());
    } else {
      this.#arm(CLOSE_TIMEOUT_MS, () => {
        if (this.#tcpClosedFirst === undefined) this.#drop("tcp-timeout");
      });
    }
  }

  #drop(reason: NonNullable<Observation["dropped"]>): void {
    if (this.#state === "closed" || this.#socket.destroyed) return;
    // A timer that runs out after the closing handshake is over finds only TCP left open.
    const handshakeDone = this.#harnessSentClose && this.#peerClose !== undefined;
    if (handshakeDone && (reason === "kill" || reason === "case-timeout")) reason = "tcp-timeout";
    if (this.#tcpClosedFirst === undefined) this.#dropped ??= reason;
    this.#markHarnessClosedTcp();
    this.#muted = true;
    this.#socket.destroy();
  }

  #markHarnessClosedTcp(): void {
    this.#tcpClosedFirst ??= "harness";
  }

  // ---- Writing ---------------------------------------------------------------------------------

  #enqueue(op: () => void | Promise<void>): Promise<void> {
    const next = this.#chain.then(op).catch(() => undefined);
    this.#chain = next;
    return next;
  }

  #writeBatched(bytes: Uint8Array): Promise<void> {
    return this.#enqueue(() => {
      this.#pending.push(bytes);
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => {
          this.#flushScheduled = false;
          void this.#enqueue(() => this.#flushPending());
        });
      }
    });
  }

  #writeSync(bytes: Uint8Array): Promise<void> {
    return this.#enqueue(async () => {
      this.#flushPending();
      await this.#writeAndYield(bytes);
    });
  }

  #writeChopped(bytes: Uint8Array, chop: number): Promise<void> {
    return this.#enqueue(async () => {
      this.#flushPending();
      for (let offset = 0; offset < bytes.length; offset += chop) {
        if (!this.#socket.writable) return;
        await this.#writeAndYield(bytes.subarray(offset, offset + chop));
      }
    });
  }

  #writeControl(bytes: Uint8Array): Promise<void> {
    return this.#enqueue(() => {
      this.#flushPending();
      this.#rawWrite(bytes);
    });
  }

  #flushPending(): void {
    if (this.#pending.length === 0) return;
    const bytes = this.#pending.length === 1 ? this.#pending[0]! : concat(...this.#pending);
    this.#pending = [];
    this.#rawWrite(bytes);
  }

  #rawWrite(bytes: Uint8Array): void {
    if (this.#socket.writable) this.#socket.write(bytes);
  }

  // A write of its own: wait until the kernel has it, then let the event loop turn, so the next
  // write leaves in a separate TCP segment (the peer may still read several at once).
  #writeAndYield(bytes: Uint8Array): Promise<void> {
    return new Promise((resolve) => {
      if (!this.#socket.writable) {
        resolve();
        return;
      }
      this.#socket.write(bytes, () => setImmediate(resolve));
    });
  }

  // ---- Bookkeeping -----------------------------------------------------------------------------

  #record(event: PeerEvent): void {
    this.#received.push(event);
    const { closeWhenDone, expected } = this.#definition;
    if (closeWhenDone === true && this.open && expected !== undefined && sameEvents(this.#received, expected.ok)) {
      void this.#startClose(closePayload(1000));
    }
  }

  #violation(what: string): void {
    if (this.#violations.length < 20) this.#violations.push(what);
  }

  #wakeMessageWaiters(): void {
    for (const waiter of this.#messageWaiters.splice(0)) waiter(undefined);
  }

  #arm(ms: number, callback: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      callback();
    }, ms);
    this.#timers.add(timer);
    return timer;
  }

  #disarm(timer: NodeJS.Timeout): void {
    clearTimeout(timer);
    this.#timers.delete(timer);
  }
}

function sha1(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha1").update(bytes).digest());
}

/** Close codes an endpoint may send (RFC 6455 §7.4.1, §7.4.2; IANA registry). */
export function isValidWireCloseCode(code: number): boolean {
  if (code >= 3000 && code <= 4999) return true;
  return [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014].includes(code);
}

function opcodeName(opcode: number): string {
  return ["continuation", "text", "binary"][opcode] ?? ({ 8: "Close", 9: "Ping", 10: "Pong" } as Record<number, string>)[opcode] ?? `opcode-${opcode}`;
}
