/**
 * The sans-I/O WebSocket connection, RFC 6455 §5-§7: bytes in, events out, bytes to send.
 * This file is the one place that assigns the connection's state.
 *
 * Driving it (see the package README):
 * 1. Feed every chunk the transport receives to {@link Connection.receiveData}, and its end to
 *    {@link Connection.receiveEof}.
 * 2. Take {@link Connection.events} and act on them.
 * 3. Write {@link Connection.dataToSend} to the transport, in order.
 * 4. When {@link Connection.shouldCloseTransport} is true, close the transport once written;
 *    while {@link Connection.closeExpected} is true, arm a timer that drops the transport.
 *
 * Peer errors never throw out of `receiveData`: they become an `error` event, a Close frame with
 * the right code, and discarded input. Local misuse (sending when not OPEN, an invalid close
 * code) throws {@link UsageError} at once.
 *
 * @module
 */
import {
  type ClosePayload,
  CloseCode,
  encodeClosePayload,
  parseClosePayload,
} from "./close.ts";
import { type DebugLogger, type DebugOption, debugLogger, describeFrame } from "./debug-log.ts";
import { ProtocolError, UsageError } from "./errors.ts";
import type { BinaryEvent, ConnectionEvent, EncodedEvent, TextEvent } from "./events.ts";
import type { Extension } from "./extension.ts";
import { encodeFrame, frameHeaderLength, nextMaskKey, writeFrameHeader } from "./frame.ts";
import { type FramePiece, FrameDecoder } from "./frame-decoder.ts";
import { applyMask } from "./mask.ts";
import { MessageAssembler } from "./message-assembler.ts";
import { OutputQueue } from "./output-queue.ts";
import { Opcode } from "./opcode.ts";
import { State, stateName } from "./state.ts";
import { StatsCounters } from "./stats.ts";

/** 16 MiB: large enough for every message of the conformance suite's limits group. */
export const DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024;
/** 2^17 frames: a 4 MiB message in 64-byte fragments still fits. */
export const DEFAULT_MAX_FRAGMENTS = 131_072;

/** Options of a {@link Connection}. Every limit has a safe default. */
export interface ConnectionOptions {
  /** Largest message accepted, in bytes; beyond it the connection fails with 1009. Default 16 MiB. */
  readonly maxMessageSize?: number;
  /**
   * Largest single frame accepted, in bytes (1009 beyond). Default: `maxMessageSize`, or with
   * `streamMessages` the larger of it and `maxStreamedMessageSize` (a streamed frame is not
   * buffered).
   */
  readonly maxFrameSize?: number;
  /**
   * Receive messages as streams: each data-frame piece comes out as a `message-chunk` event as
   * it arrives (text checked as UTF-8 on the way, fail-fast), never buffered whole. A message
   * compressed by an extension is still assembled whole (under `maxMessageSize`). Default false.
   */
  readonly streamMessages?: boolean;
  /**
   * Largest message received as a stream, in bytes (1009 beyond); `maxMessageSize` and
   * `maxFragments` do not apply to it. Default: no limit (`Infinity`).
   */
  readonly maxStreamedMessageSize?: number;
  /** Most frames one message may span (1009 beyond). Default 131072. */
  readonly maxFragments?: number;
  /** Answer every Ping with a Pong (§5.5.2). Default true. */
  readonly autoPong?: boolean;
  /**
   * Hold back the Close frame that answers the peer's Close, or that fails the connection on a
   * protocol error, until {@link Connection.completeClose} is called. Lets the caller first
   * answer the messages that arrived before it (§5.5.1 allows finishing the current message).
   * Default false: the Close frame is queued at once.
   */
  readonly deferClose?: boolean;
  /** RSV bits owned by negotiated extensions (RSV1 = 0b100). Default 0. */
  readonly allowedRsv?: number;
  /**
   * Makes the buffer of `size` bytes that a message received in several pieces (frames, or reads
   * of the transport) is joined into. Every byte is overwritten, so it need not be zero-filled:
   * the Node and Bun adapters pass their runtime's unzeroed allocation (see their `allocate.ts`),
   * which skips the zero-fill of `new Uint8Array(size)` (the default). It must return a fresh
   * buffer each time, not shared with anything else.
   */
  readonly allocate?: (size: number) => Uint8Array;
  /**
   * Logs every frame sent and received, one line each: `true` to `console.error`, or a function
   * that takes each line. Off by default (see `debug-log.ts` for the format).
   */
  readonly debug?: DebugOption;
}

const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
// ignoreBOM keeps a leading U+FEFF: a message comes out exactly as it was sent.
const strictDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
// Payloads up to this size are copied next to their header into the staging slab; larger ones
// are sent as a separate chunk (server side), so big messages are never copied.
// At least 125: a control frame's payload is then always copied, so a pong never keeps a view of
// the ping's input chunk (which Transport.recycle relies on).
const COPY_THRESHOLD = 16 * 1024;
// Strings up to this many UTF-16 units (at most 3 bytes each in UTF-8) are encoded straight into
// the staging slab.
const INLINE_TEXT_UNITS = 5_461;

// The connection's phases: the four states, and "the Close reply is held back" between OPEN and
// CLOSING (see `deferClose`).
const REPLY_PENDING = 4;
type Phase = State | typeof REPLY_PENDING;

/** A WebSocket connection of either role, from the opening handshake on. */
export class Connection {
  /** Which end this is: a client masks what it sends and expects unmasked frames. */
  readonly role: "client" | "server";
  readonly #autoPong: boolean;
  readonly #deferClose: boolean;
  readonly #decoder: FrameDecoder;
  readonly #assembler: MessageAssembler;
  readonly #maxMessageSize: number;
  #extensions: readonly Extension[] = [];
  #extensionRsv = 0;
  // What a message's encoding depends on (see sharedEncodingKey), set with the extensions.
  #sharedEncodingKey: string | undefined = "";
  // The one state value. REPLY_PENDING is "the peer's Close (or a failure) is in, our Close is
  // held back by deferClose": the WHATWG readyState still says OPEN, and sending is still allowed.
  #phase: Phase;
  #events: ConnectionEvent[] = [];
  readonly #out = new OutputQueue();
  // Input after a Close frame or a protocol error is discarded (§7.1.7, §5.5.1).
  #discarding = false;
  #shouldCloseTransport = false;
  #closeSent: ClosePayload | undefined;
  #closeReceived: ClosePayload | undefined;
  #error: ProtocolError | undefined;
  // The Close held back by `deferClose` (set exactly while the phase is REPLY_PENDING).
  #pendingClose: { readonly payload: Uint8Array; readonly code: number } | undefined;
  // Opcode of the fragmented message being sent, 0 when none.
  #sendingOpcode = 0;
  // Frame logging; undefined when off (one check per frame).
  readonly #log: DebugLogger | undefined;
  /** What this connection has sent and received so far (bytes, frames, messages, compression); incremented in place, read with `stats.snapshot()`. */
  readonly stats: StatsCounters = new StatsCounters();

  constructor(role: "client" | "server", options: ConnectionOptions = {}, state: State = State.OPEN) {
    this.role = role;
    const maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    this.#maxMessageSize = maxMessageSize;
    this.#autoPong = options.autoPong ?? true;
    this.#deferClose = options.deferClose ?? false;
    const streaming = options.streamMessages ?? false;
    const maxStreamedMessageSize = options.maxStreamedMessageSize ?? Number.POSITIVE_INFINITY;
    const largest = streaming ? Math.max(maxMessageSize, maxStreamedMessageSize) : maxMessageSize;
    this.#decoder = new FrameDecoder({
      role,
      maxFrameSize: Math.min(options.maxFrameSize ?? largest, largest),
      allowedRsv: options.allowedRsv ?? 0,
    });
    this.#assembler = new MessageAssembler({
      maxMessageSize,
      maxFragments: options.maxFragments ?? DEFAULT_MAX_FRAGMENTS,
      streaming,
      maxStreamedMessageSize,
      allocate: options.allocate,
    });
    this.#phase = state;
    this.#log = debugLogger(options.debug);
  }

  /** The current state (the WHATWG `readyState` numbering; a pending Close reply is still OPEN). */
  get state(): State {
    return this.#phase === REPLY_PENDING ? State.OPEN : this.#phase;
  }

  /** The extensions agreed in the opening handshake, in the order they apply to sent messages. */
  get extensions(): readonly Extension[] {
    return this.#extensions;
  }

  /** The Close the peer sent, once received. */
  get closeReceived(): ClosePayload | undefined {
    return this.#closeReceived;
  }

  /** The Close this end sent (or holds back under `deferClose`), once queued. */
  get closeSent(): ClosePayload | undefined {
    return this.#closeSent;
  }

  /** The protocol error that failed the connection, if any. */
  get error(): ProtocolError | undefined {
    return this.#error;
  }

  /**
   * True while the Close that answers the peer (or fails the connection) is held back by
   * `deferClose`; {@link completeClose} sends it. Messages may still be sent meanwhile.
   */
  get closePending(): boolean {
    return this.#phase === REPLY_PENDING;
  }

  /**
   * True once this end should close the transport after writing {@link dataToSend}: a server
   * closes TCP first (§7.1.1), a client waits for the server to do so.
   */
  get shouldCloseTransport(): boolean {
    return this.#shouldCloseTransport;
  }

  /**
   * True while the transport is expected to close soon (a Close was sent or received): the
   * caller arms a timer and drops the transport if it has not closed when the timer fires.
   */
  get closeExpected(): boolean {
    return this.#phase === State.CLOSING || this.#phase === REPLY_PENDING || this.#closeReceived !== undefined || this.#error !== undefined;
  }

  /** Bytes queued for the transport and not yet taken by {@link dataToSend}. */
  get bufferedAmount(): number {
    return this.#out.length;
  }

  /**
   * Whether the connection still keeps views of received chunks: a partial frame, or the pieces of
   * a message not yet complete. Views in the events it returned are the caller's to track. The
   * caller may reuse a chunk's memory (see `Transport.recycle`) only when this is false and no
   * event it took kept a view.
   */
  get holdsInput(): boolean {
    return this.#decoder.bufferedBytes > 0 || this.#assembler.holdsInput;
  }

  /** Whether the closing handshake completed: a Close sent, a Close received and the transport closed. */
  get wasClean(): boolean {
    return this.#phase === State.CLOSED && this.#closeSent !== undefined && this.#closeReceived !== undefined;
  }

  /**
   * Feeds bytes received from the transport. The connection takes the chunk: payloads are
   * unmasked in place and message data may be views of it. Never throws for anything the peer
   * sent; take {@link events} afterwards.
   */
  receiveData(chunk: Uint8Array): void {
    if (this.#phase === State.CONNECTING) {
      this.receiveHandshakeData(chunk);
      return;
    }
    if (this.#phase === State.CLOSED) return;
    const stats = this.stats;
    stats.bytesIn += chunk.length;
    if (this.#discarding) return;
    const decoder = this.#decoder;
    decoder.push(chunk);
    for (;;) {
      let piece: FramePiece | undefined;
      try {
        piece = decoder.next();
        if (piece === undefined) return;
        if (piece.first) {
          stats.framesIn++;
          if (this.#log !== undefined) this.#log(describeFrame("in", piece.opcode, piece.fin, piece.rsv, piece.frameLength, piece.payload));
        }
        if (piece.opcode < Opcode.CLOSE) {
          const message = this.#assembler.feed(piece);
          if (message !== undefined) this.#events.push(message);
          if (piece.fin && piece.last) stats.messagesIn++;
        } else {
          this.#receiveControl(piece.opcode, piece.payload);
          if (this.#discarding) return;
        }
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        this.#fail(error.closeCode, "", error);
        return;
      }
    }
  }

  /**
   * Tells the connection the transport has ended (EOF, reset, or dropped by the caller).
   * The state becomes CLOSED; without a received Close the close is abnormal (1006).
   */
  receiveEof(): void {
    if (this.#phase === State.CLOSED) return;
    this.#enter(State.CLOSED);
    this.#discarding = true;
    for (const extension of this.#extensions) extension.close();
  }

  /** Takes the events produced since the last call, oldest first. */
  events(): ConnectionEvent[] {
    const events = this.#events;
    if (events.length === 0) return events;
    this.#events = [];
    return events;
  }

  /**
   * Takes the bytes to write to the transport, in order. Small frames queued together come as one
   * chunk (a view of a shared staging buffer: write it, never modify it).
   */
  dataToSend(): Uint8Array[] {
    return this.#out.take();
  }

  /**
   * Sends a text message, or a fragment of one with `fin` false (then continue with
   * {@link sendContinuation}). A `Uint8Array` is taken as already-encoded UTF-8.
   */
  sendText(data: string | Uint8Array, fin = true, rsv = 0): void {
    this.#startMessage(Opcode.TEXT, fin, rsv);
    if (typeof data === "string" && rsv === 0) this.#sendString(data, fin);
    else this.#sendFrame(Opcode.TEXT, typeof data === "string" ? encoder.encode(data) : data, fin, rsv);
  }

  /**
   * Sends a binary message, or its first fragment with `fin` false. `rsv` marks a message an
   * extension encoded (see {@link encode}); it must be bits a negotiated extension owns.
   */
  sendBinary(data: Uint8Array, fin = true, rsv = 0): void {
    this.#startMessage(Opcode.BINARY, fin, rsv);
    this.#sendFrame(Opcode.BINARY, data, fin, rsv);
  }

  /**
   * Queues a whole data frame already encoded by {@link encodeFrame} (unmasked, FIN set, any RSV
   * bits owned by this connection's extensions), as it is: pub/sub hands the same bytes to every
   * subscriber. Server only: a client must mask each frame with a fresh key (§5.3).
   * `uncompressedLength` is the message's size before compression, for {@link stats}.
   */
  sendFrameBytes(frame: Uint8Array, uncompressedLength?: number): void {
    if (this.role !== "server") throw new UsageError("WS_ERR_INVALID_STATE", "Cannot send encoded frame bytes: a client masks each frame itself");
    const first = frame[0] ?? 0;
    const opcode = first & 0x0f;
    if ((first & 0x80) === 0 || (opcode !== Opcode.TEXT && opcode !== Opcode.BINARY) || ((frame[1] ?? 0x80) & 0x80) !== 0) {
      throw new UsageError("WS_ERR_INVALID_ARGUMENT", "Invalid encoded frame: not one unmasked, final text or binary frame");
    }
    const rsv = (first >> 4) & 0b111;
    this.#startMessage(opcode, true, rsv);
    this.#out.push(frame);
    // Counted as #sendFrame counts: the header's length from its length field.
    const lengthField = (frame[1] ?? 0) & 0x7f;
    const headerLength = lengthField === 127 ? 10 : lengthField === 126 ? 4 : 2;
    const payloadLength = frame.length - headerLength;
    const stats = this.stats;
    stats.framesOut++;
    stats.bytesOut += frame.length;
    stats.messagesOut++;
    if (rsv !== 0) {
      stats.compressedBytesOut += payloadLength;
      stats.uncompressedBytesOut += uncompressedLength ?? payloadLength;
    }
    if (this.#log !== undefined) this.#log(describeFrame("out", opcode, true, rsv, payloadLength, frame.subarray(headerLength)));
  }

  /**
   * Encodes a message to send for many connections at once: the extensions' shared encoding
   * (see `Extension.sharedEncodingKey`), or the data as it is without extensions. Rejects when an
   * extension has no shared encoding ({@link sharedEncodingKey} is `undefined`).
   */
  async encodeShared(data: Uint8Array, type: "text" | "binary"): Promise<{ data: Uint8Array; rsv: number }> {
    const opcode = type === "text" ? Opcode.TEXT : Opcode.BINARY;
    let result = { data, rsv: 0 };
    for (const extension of this.#extensions) {
      if (extension.encodeShared === undefined || extension.sharedEncodingKey === undefined) {
        throw new UsageError("WS_ERR_INVALID_STATE", `Cannot encode once for many connections: ${extension.name} keeps state between messages`);
      }
      const encoded = await extension.encodeShared(result.data, opcode);
      result = { data: encoded.data, rsv: result.rsv | encoded.rsv };
    }
    return result;
  }

  /**
   * What a message's encoding depends on: `""` without extensions, the extensions' shared keys
   * joined, or `undefined` when one keeps state between messages (then encode per connection).
   */
  get sharedEncodingKey(): string | undefined {
    return this.#sharedEncodingKey;
  }

  /**
   * Runs a message to send through the negotiated extensions, in order: send the result with
   * `sendText`/`sendBinary` and its `rsv`. Without extensions the data comes back as it is.
   */
  async encode(data: Uint8Array, type: "text" | "binary"): Promise<{ data: Uint8Array; rsv: number }> {
    const opcode = type === "text" ? Opcode.TEXT : Opcode.BINARY;
    let result = { data, rsv: 0 };
    for (const extension of this.#extensions) {
      const encoded = await extension.encode(result.data, opcode);
      result = { data: encoded.data, rsv: result.rsv | encoded.rsv };
    }
    if (result.rsv !== 0) {
      this.stats.uncompressedBytesOut += data.length;
      this.stats.compressedBytesOut += result.data.length;
    }
    return result;
  }

  /**
   * Turns an `encoded` event into the message, running the extensions in reverse order and
   * checking text as UTF-8 (§8.1). Rejects with a {@link ProtocolError} (1007 for undecodable
   * data or bad UTF-8, 1009 past `maxMessageSize`); pass it to {@link fail}.
   */
  async decode(event: EncodedEvent): Promise<TextEvent | BinaryEvent> {
    let data = event.data;
    for (let i = this.#extensions.length - 1; i >= 0; i--) {
      const extension = this.#extensions[i]!;
      if ((event.rsv & extension.rsv) !== 0) data = await extension.decode(data, event.rsv, this.#maxMessageSize);
    }
    this.stats.compressedBytesIn += event.data.length;
    this.stats.decompressedBytesIn += data.length;
    if (event.messageType === "binary") return { type: "binary", data };
    try {
      return { type: "text", data: strictDecoder.decode(data) };
    } catch {
      throw new ProtocolError("WS_ERR_INVALID_UTF8", CloseCode.INVALID_FRAME_PAYLOAD_DATA, "Invalid text message: not valid UTF-8");
    }
  }

  /**
   * Fails the connection for a protocol error found outside `receiveData` (e.g. by
   * {@link decode}): the same as if the frame parser had found it.
   */
  fail(error: ProtocolError): void {
    this.#fail(error.closeCode, "", error);
  }

  /** Sends the next fragment of the message started with `fin` false; `fin` true ends it. */
  sendContinuation(data: string | Uint8Array, fin: boolean): void {
    this.#checkOpen("send a continuation frame");
    if (this.#sendingOpcode === 0) {
      throw new UsageError("WS_ERR_INVALID_STATE", "Cannot send a continuation frame: no fragmented message was started");
    }
    if (fin) this.#sendingOpcode = 0;
    this.#sendFrame(Opcode.CONTINUATION, typeof data === "string" ? encoder.encode(data) : data, fin);
  }

  /** Sends a Ping (§5.5.2) with up to 125 bytes of application data. */
  sendPing(data: Uint8Array = EMPTY): void {
    this.#checkOpen("send a ping");
    this.#sendControl(Opcode.PING, data);
  }

  /** Sends a Pong (§5.5.3), e.g. as a unidirectional heartbeat or with `autoPong` off. */
  sendPong(data: Uint8Array = EMPTY): void {
    this.#checkOpen("send a pong");
    this.#sendControl(Opcode.PONG, data);
  }

  /**
   * Starts the closing handshake (§7.1.2): sends a Close frame with `code` (none when omitted)
   * and `reason` (at most 123 bytes of UTF-8). Throws while a Close reply is held back by
   * `deferClose`: the peer already started the closing handshake, so {@link completeClose} is
   * the only Close left to send.
   */
  sendClose(code?: number, reason = ""): void {
    if (this.#phase === REPLY_PENDING) {
      throw new UsageError("WS_ERR_INVALID_STATE", "Cannot send a close frame: the reply to the peer's Close is pending (completeClose() sends it)");
    }
    this.#checkOpen("send a close frame");
    const payload = encodeClosePayload(code, reason);
    this.#startClosingHandshake(payload, code ?? CloseCode.NO_STATUS_RCVD, reason);
  }

  /**
   * Fails the connection from this end (§7.1.7), e.g. on a keepalive timeout (1011) or a policy
   * violation (1008): sends a Close with `code` if none was sent yet and ignores further input.
   */
  failConnection(code: number, reason = ""): void {
    // Checked first: a bad code is the caller's mistake and must change nothing.
    encodeClosePayload(code, reason);
    this.#fail(code, reason, undefined);
  }

  /** Sends the Close frame held back by `deferClose`; does nothing when none is pending. */
  completeClose(): void {
    const pending = this.#pendingClose;
    if (pending === undefined) return;
    this.#pendingClose = undefined;
    this.#startClosingHandshake(pending.payload, pending.code, "");
  }

  /**
   * Handshake bytes received while CONNECTING. The client and server connections override it;
   * a bare connection is created OPEN.
   */
  protected receiveHandshakeData(_chunk: Uint8Array): void {
    throw new UsageError("WS_ERR_INVALID_STATE", "Cannot receive data: the connection has no opening handshake");
  }

  /** Adds an event for {@link events} (the handshake events of the client and server). */
  protected emit(event: ConnectionEvent): void {
    this.#events.push(event);
  }

  /** Queues raw bytes (the handshake response or request) for the transport. */
  protected queueBytes(bytes: Uint8Array): void {
    this.#out.push(bytes);
  }

  /** Activates the extensions the handshake agreed on: their RSV bits become valid. */
  protected useExtensions(extensions: readonly Extension[]): void {
    let rsv = 0;
    for (const extension of extensions) rsv |= extension.rsv;
    this.#extensions = extensions;
    this.#extensionRsv = rsv;
    this.#decoder.setAllowedRsv(rsv);
    // Fixed from now on: made once here, not per publish and subscriber.
    let key: string | undefined = "";
    for (const extension of extensions) {
      if (extension.sharedEncodingKey === undefined || extension.encodeShared === undefined) {
        key = undefined;
        break;
      }
      key += `${extension.sharedEncodingKey}\n`;
    }
    this.#sharedEncodingKey = key;
  }

  /** Ends the opening handshake: the state becomes OPEN and `rest` is read as frames. */
  protected openConnection(rest: Uint8Array): void {
    if (this.#phase !== State.CONNECTING) {
      throw new UsageError("WS_ERR_INVALID_STATE", `Cannot open the connection: it is ${stateName(this.state)}`);
    }
    this.#enter(State.OPEN);
    if (rest.length > 0) this.receiveData(rest);
  }

  /** Abandons the opening handshake: nothing more is read and the transport should close. */
  protected abortHandshake(): void {
    this.#discarding = true;
    this.#shouldCloseTransport = true;
    this.#enter(State.CLOSED);
  }

  // §5.5: control frames may arrive between the fragments of a message.
  #receiveControl(opcode: number, payload: Uint8Array): void {
    if (opcode === Opcode.PING) {
      this.#events.push({ type: "ping", data: payload });
      if (this.#autoPong && this.#phase !== State.CLOSED) this.#sendControl(Opcode.PONG, payload);
    } else if (opcode === Opcode.PONG) {
      this.#events.push({ type: "pong", data: payload });
    } else {
      this.#receiveClose(parseClosePayload(payload));
    }
  }

  // §7.1.3: the closing handshake is started when a Close frame is received; §5.5.1: answer with a
  // Close frame (echoing the code) unless one was sent already; after it, nothing more is read.
  #receiveClose(close: ClosePayload): void {
    this.#closeReceived = close;
    this.#discarding = true;
    this.#events.push({ type: "close", code: close.code, reason: close.reason });
    if (this.#closeSent === undefined) {
      const reply = close.code === CloseCode.NO_STATUS_RCVD ? EMPTY : encodeClosePayload(close.code);
      if (this.#deferClose) {
        this.#holdClose(reply, close.code);
        return;
      }
      this.#startClosingHandshake(reply, close.code, "");
    } else if (this.role === "server") {
      // §7.1.1: the server closes the TCP connection first.
      this.#shouldCloseTransport = true;
    }
  }

  // §7.1.7 Fail the WebSocket Connection, the one failure path: for a peer's protocol error (from
  // the frame parser or an extension's decode, `error` set) and for a local failure such as a
  // keepalive timeout. "If the WebSocket connection is established, the endpoint MUST send a Close
  // frame with an appropriate status code", then close: a server closes TCP at once, a client
  // waits for the server. Later input is discarded. Under `deferClose`, a peer error's Close waits
  // for completeClose() so the messages before it can still be answered; a local failure does not.
  #fail(code: number, reason: string, error: ProtocolError | undefined): void {
    if (this.#phase === State.CLOSED || this.#error !== undefined) return;
    this.#discarding = true;
    if (error !== undefined) {
      this.#error = error;
      this.#events.push({ type: "error", error });
    }
    if (this.#closeSent !== undefined) {
      if (this.role === "server" || this.#closeReceived !== undefined) this.#shouldCloseTransport = true;
      return;
    }
    const payload = encodeClosePayload(code, reason);
    if (error !== undefined && this.#deferClose) {
      if (this.#pendingClose === undefined) this.#holdClose(payload, code);
      return;
    }
    this.#pendingClose = undefined;
    this.#startClosingHandshake(payload, code, reason);
    if (this.role === "server" || this.#closeReceived !== undefined) this.#shouldCloseTransport = true;
  }

  // deferClose: the Close to send is decided, and held until completeClose().
  #holdClose(payload: Uint8Array, code: number): void {
    this.#pendingClose = { payload, code };
    this.#enter(REPLY_PENDING);
  }

  // The only place the phase changes.
  #enter(phase: Phase): void {
    this.#phase = phase;
    if (phase !== REPLY_PENDING) this.#pendingClose = undefined;
  }

  // §7.1.2 Start the WebSocket Closing Handshake: send a Close frame; the state becomes CLOSING.
  #startClosingHandshake(payload: Uint8Array, code: number, reason: string): void {
    this.#sendControl(Opcode.CLOSE, payload);
    this.#closeSent = { code, reason };
    this.#enter(State.CLOSING);
    if (this.role === "server" && (this.#closeReceived !== undefined || this.#error !== undefined)) {
      this.#shouldCloseTransport = true;
    }
  }

  #checkOpen(what: string): void {
    if ((this.#phase !== State.OPEN && this.#phase !== REPLY_PENDING) || this.#closeSent !== undefined) {
      throw new UsageError("WS_ERR_INVALID_STATE", `Cannot ${what}: the connection is ${stateName(this.state)}`);
    }
  }

  #startMessage(opcode: number, fin: boolean, rsv: number): void {
    this.#checkOpen(opcode === Opcode.TEXT ? "send a text message" : "send a binary message");
    if ((rsv & ~this.#extensionRsv) !== 0) {
      throw new UsageError("WS_ERR_INVALID_ARGUMENT", `Invalid RSV bits, no extension owns them: ${rsv.toString(2).padStart(3, "0")}`);
    }
    if (this.#sendingOpcode !== 0) {
      throw new UsageError(
        "WS_ERR_INVALID_STATE",
        "Cannot start a message: a fragmented message is still being sent",
      );
    }
    if (!fin) this.#sendingOpcode = opcode;
  }

  #sendControl(opcode: number, payload: Uint8Array): void {
    if (payload.length > 125) {
      throw new UsageError("WS_ERR_CONTROL_FRAME_TOO_LONG", `Control frame too long: ${payload.length} bytes is over 125`);
    }
    this.#sendFrame(opcode, payload, true);
  }

  #sendFrame(opcode: number, payload: Uint8Array, fin: boolean, rsv = 0): void {
    const masked = this.role === "client";
    const length = payload.length;
    const headerLength = frameHeaderLength(length, masked);
    const stats = this.stats;
    stats.framesOut++;
    stats.bytesOut += headerLength + length;
    if (fin && opcode < Opcode.CLOSE) stats.messagesOut++;
    if (this.#log !== undefined) this.#log(describeFrame("out", opcode, fin, rsv, length, payload));
    if (length <= COPY_THRESHOLD) {
      const { slab, offset } = this.#out.reserve(headerLength + length);
      const at = writeFrameHeader(slab, offset, fin, rsv, opcode, length, masked);
      if (masked) {
        const key = nextMaskKey();
        slab.set(key, at);
        slab.set(payload, at + 4);
        applyMask(slab.subarray(at + 4, at + 4 + length), key);
      } else {
        slab.set(payload, at);
      }
      this.#out.commit(headerLength + length);
      return;
    }
    if (masked) {
      // A client copies every payload anyway to mask it: one buffer for the whole frame.
      this.#out.push(encodeFrame({ fin, opcode, payload, rsv }, true));
      return;
    }
    const { slab, offset } = this.#out.reserve(headerLength);
    writeFrameHeader(slab, offset, fin, rsv, opcode, length, false);
    this.#out.commit(headerLength);
    this.#out.push(payload);
  }

  // Encodes a string straight into the staging slab after room for the longest header, then
  // closes the gap once the UTF-8 length (and so the header's) is known.
  #sendString(data: string, fin: boolean): void {
    if (data.length > INLINE_TEXT_UNITS) {
      this.#sendFrame(Opcode.TEXT, encoder.encode(data), fin);
      return;
    }
    const masked = this.role === "client";
    const room = 4 + (masked ? 4 : 0);
    const { slab, offset } = this.#out.reserve(room + data.length * 3);
    const textStart = offset + room;
    const { written } = encoder.encodeInto(data, slab.subarray(textStart, textStart + data.length * 3));
    const headerLength = frameHeaderLength(written, masked);
    const stats = this.stats;
    stats.framesOut++;
    stats.bytesOut += headerLength + written;
    if (fin) stats.messagesOut++;
    if (this.#log !== undefined) this.#log(describeFrame("out", Opcode.TEXT, fin, 0, written, data));
    if (headerLength < room) slab.copyWithin(offset + headerLength, textStart, textStart + written);
    const at = writeFrameHeader(slab, offset, fin, 0, Opcode.TEXT, written, masked);
    if (masked) {
      const key = nextMaskKey();
      slab.set(key, at);
      applyMask(slab.subarray(at + 4, at + 4 + written), key);
    }
    this.#out.commit(headerLength + written);
  }
}
