/**
 * Messages as streams, both ways (opt-in): a received message as a {@link MessageStream} of its
 * bytes as they arrive, and a `ReadableStream` or async iterable sent as one fragmented message.
 * The endpoint drives both; this file holds the stream objects and the source reader.
 *
 * Backpressure: a message stream queues at most its high-water mark of bytes (plus the rest of
 * the transport chunk being read); past it the endpoint stops reading the transport until the
 * stream is pulled again. A message stream relayed by a streamed send (BYOB, see
 * {@link SourceBuffers}) queues nothing: its connection is read only while the send's read waits.
 *
 * @module
 */

/**
 * A message received as a stream (the `streamMessages` option): a byte `ReadableStream`
 * (`type: "bytes"`) of the message's bytes as its fragments arrive, text as UTF-8 already checked
 * up to each chunk's end. It closes when the message ends; it errors with a `WebSocketError` if
 * the connection closes or fails before that (an invalid UTF-8 byte fails the connection with
 * 1007 at once).
 *
 * Read it or cancel it: while it is full and unread, the connection is not read. Cancelling it
 * discards the rest of this message; the messages after it still arrive.
 *
 * The bytes are copied out of what the connection received, so reading never pins the
 * connection's read buffers. A default reader gets each piece as a new `Uint8Array`; a BYOB reader
 * (`getReader({ mode: "byob" })`) gets them in its own buffer, so reading a message of any size
 * allocates nothing per chunk: everything a transport chunk holds for a pending read lands in
 * that read's buffer, as far as it has room. Sending a message stream on (e.g. an echo) reads it
 * that way, on transports that tell when they are done with what was written (every adapter's).
 *
 * @example
 * ```ts
 * for await (const message of readable) {
 *   let size = 0;
 *   for await (const chunk of message as MessageStream) size += chunk.length;
 *   console.log(`${message.type} message of ${size} bytes`);
 * }
 * ```
 */
export class MessageStream extends ReadableStream<Uint8Array> {
  /** `"text"` (the chunks are UTF-8) or `"binary"`. */
  readonly type: "text" | "binary";

  /** @internal Made by the endpoint for each message received as a stream. */
  constructor(type: "text" | "binary", source: UnderlyingByteSource, highWaterMark: number) {
    // The lib types offer the byte-source constructor only without a type argument, which a
    // subclass of ReadableStream<Uint8Array> cannot pick: the source is a byte source all the same.
    super(source as unknown as UnderlyingDefaultSource<Uint8Array>, { highWaterMark });
    this.type = type;
  }

  /** Reads the whole message as a string (UTF-8), e.g. a text message known to be small. */
  async text(): Promise<string> {
    const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
    let text = "";
    const reader = this.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return text + decoder.decode();
      text += decoder.decode(value, { stream: true });
    }
  }

  /** Reads the whole message into one `Uint8Array`. */
  async bytes(): Promise<Uint8Array> {
    const chunks: Uint8Array[] = [];
    let size = 0;
    const reader = this.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
    const out = new Uint8Array(size);
    let offset = 0;
    for (const chunk of chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  }
}

const incoming = new WeakMap<MessageStream, IncomingMessage>();

/** What the endpoint hears from one received message stream. */
export interface IncomingMessageHooks {
  /** The reader wants more: read the transport again. */
  pull(): void;
  /** The reader gave up on the message: discard its rest and read on. */
  cancel(): void;
}

/**
 * The endpoint's side of one received {@link MessageStream}: it pushes the message's chunks,
 * then ends or errors it. Everything after a cancel is dropped.
 *
 * A pushed chunk is never kept: it is copied into the pending BYOB read's buffer where there is
 * one, the rest into a new chunk queued in the stream. A BYOB read is answered once the buffer is
 * full, or in a microtask, so the pieces of one transport chunk (the end of one fragment, the
 * start of the next) land in one buffer.
 */
export class IncomingMessage {
  /** The endpoint's side of a message stream (for a streamed send that relays it). */
  static of(stream: MessageStream): IncomingMessage | undefined {
    return incoming.get(stream);
  }

  readonly stream: MessageStream;
  #controller!: ReadableByteStreamController;
  #open = true;
  #cancelled = false;
  // The BYOB request being filled, and how many bytes of its view are filled.
  #request: ReadableStreamBYOBRequest | undefined;
  #filled = 0;
  #respondScheduled = false;
  #relayed = false;
  readonly #respondCallback = (): void => {
    this.#respondScheduled = false;
    this.#respond();
  };

  constructor(type: "text" | "binary", highWaterMark: number, hooks: IncomingMessageHooks) {
    this.stream = new MessageStream(type, {
      type: "bytes",
      start: (controller) => {
        this.#controller = controller;
      },
      pull: (controller) => {
        if (!this.#relayed || controller.byobRequest !== null) hooks.pull();
      },
      cancel: () => {
        this.#open = false;
        this.#cancelled = true;
        this.#request = undefined;
        this.#filled = 0;
        hooks.cancel();
      },
    }, highWaterMark);
    incoming.set(this.stream, this);
  }

  /**
   * The stream is being sent on by a streamed send that reads it in BYOB mode to the end: from
   * now on the connection is read only while that send has a read pending, so everything it
   * receives lands in the send's own buffers and nothing is queued ahead in new chunks.
   */
  relay(): void {
    this.#relayed = true;
  }

  /** Whether the reader cancelled the stream. */
  get cancelled(): boolean {
    return this.#cancelled;
  }

  /** Copies a chunk in (see the class notes); returns false once the stream is full (pause reading). */
  push(data: Uint8Array): boolean {
    if (!this.#open) return true;
    const controller = this.#controller;
    let offset = 0;
    while (offset < data.length) {
      const request = this.#request ?? controller.byobRequest ?? undefined;
      if (request === undefined) {
        controller.enqueue(data.slice(offset));
        break;
      }
      const target: ArrayBufferView = request.view!;
      // The reader's view may be of any element type: fill its bytes.
      const view = target instanceof Uint8Array ? target : new Uint8Array(target.buffer, target.byteOffset, target.byteLength);
      const take = Math.min(view.byteLength - this.#filled, data.length - offset);
      view.set(offset === 0 && take === data.length ? data : data.subarray(offset, offset + take), this.#filled);
      this.#filled += take;
      offset += take;
      if (this.#filled === view.byteLength) {
        this.#request = request;
        this.#respond();
      } else if (this.#request === undefined) {
        this.#request = request;
        if (!this.#respondScheduled) {
          this.#respondScheduled = true;
          queueMicrotask(this.#respondCallback);
        }
      }
    }
    // Relayed: nothing is read ahead (see relay()).
    return !this.#relayed && (controller.desiredSize ?? 1) > 0;
  }

  /** The message ended: the stream closes once read. */
  end(): void {
    if (!this.#open) return;
    this.#respond();
    this.#open = false;
    const controller = this.#controller;
    try {
      controller.close();
      // A BYOB read still pending learns of the end only through an empty answer.
      controller.byobRequest?.respond(0);
    } catch {
      // A pending read of a wider element type (a Uint16Array) holding part of an element: the
      // stream errored itself with a TypeError, which the reader gets.
    }
  }

  /** The message will not end: the stream errors with `error`. */
  error(error: unknown): void {
    if (!this.#open) return;
    this.#open = false;
    this.#request = undefined;
    this.#filled = 0;
    this.#controller.error(error);
  }

  // Answers the BYOB request being filled with what it holds.
  #respond(): void {
    const request = this.#request;
    if (request === undefined) return;
    const filled = this.#filled;
    this.#request = undefined;
    this.#filled = 0;
    if (!this.#open) return;
    try {
      request.respond(filled);
    } catch {
      // The stream is no longer readable (cancelled or errored meanwhile): nobody reads on.
    }
  }
}

/**
 * What can be sent as one fragmented message: a stream or an async iterable of chunks, each a
 * string (sent as UTF-8) or bytes.
 */
export type MessageSource =
  | ReadableStream<string | ArrayBuffer | ArrayBufferView>
  | AsyncIterable<string | ArrayBuffer | ArrayBufferView>;

/** Whether `value` is a {@link MessageSource} (a `ReadableStream` or an async iterable). */
export function isMessageSource(value: unknown): value is MessageSource {
  if (typeof value !== "object" || value === null) return false;
  if (value instanceof ReadableStream) return true;
  return typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function";
}

/** Reads a {@link MessageSource} chunk by chunk, and gives up on it. */
export interface SourceReader {
  /**
   * Whether the source is a byte stream read in BYOB mode: then {@link next} reads into the
   * buffer it is given, and the chunk it resolves with is a view of that memory.
   */
  readonly byob: boolean;
  /**
   * The next chunk. In BYOB mode it is read into `into` (whose buffer is taken: detached), or
   * into a new buffer when `into` is omitted.
   */
  next(into?: Uint8Array): Promise<IteratorResult<unknown>>;
  /** Stops the source (cancels the stream, returns the iterator); never rejects. */
  cancel(reason: unknown): Promise<void>;
}

/** Size of a BYOB read into a new buffer (one transport chunk of a relayed message fits). */
const SOURCE_READ_SIZE = 64 * 1024;
/** Most buffers one streamed send reads into at a time (see {@link SourceBuffers}). */
const SOURCE_BUFFERS = 8;

/**
 * The buffers a streamed send reads a byte stream into (BYOB), on a transport that tells when it
 * is done with what it was given (`Transport.released`): each buffer a frame went out in is in
 * flight until a release made after that write resolves, then read into again. A message relayed
 * to the socket this way allocates nothing per chunk. Each read takes a whole buffer: a BYOB read
 * detaches its buffer, so it must not be one a frame in flight is a view of. At most
 * {@link SOURCE_BUFFERS} are made; past that the send waits for a release.
 */
export class SourceBuffers {
  readonly #free: ArrayBufferLike[] = [];
  #inFlight: ArrayBufferLike[] = [];
  #made = 0;

  /** Buffers whose frames were handed on and not yet released. */
  get inFlight(): number {
    return this.#inFlight.length;
  }

  /** A buffer to read into, or `undefined` while every buffer is in flight (release some). */
  target(): Uint8Array | undefined {
    const free = this.#free.pop();
    if (free !== undefined) return new Uint8Array(free);
    if (this.#made === SOURCE_BUFFERS) return undefined;
    this.#made++;
    return new Uint8Array(SOURCE_READ_SIZE);
  }

  /**
   * What a read returned: a view of the target's memory, in the buffer that replaced the detached
   * one; in flight once its frame is handed on (`sent`), free again at once otherwise.
   */
  filled(chunk: Uint8Array, sent: boolean): void {
    if (sent) this.#inFlight.push(chunk.buffer);
    else this.#free.push(chunk.buffer);
  }

  /**
   * Frees the buffers in flight now once `released` resolves (the transport's release, asked for
   * after their frames were written to it). Never rejects: buffers of a failed release stay
   * taken, and reads go on into new ones.
   */
  release(released: Promise<void>): Promise<void> {
    const batch = this.#inFlight;
    this.#inFlight = [];
    return released.then(() => {
      for (const buffer of batch) this.#free.push(buffer);
    }, () => {});
  }
}

/**
 * A {@link SourceReader} over `source`, in BYOB mode when `byob` is asked for and the source is a
 * byte stream. Throws a `TypeError` when it is locked.
 */
export function readSource(source: MessageSource, byob = false): SourceReader {
  if (source instanceof ReadableStream) {
    if (byob && !source.locked) {
      let reader: ReadableStreamBYOBReader | undefined;
      try {
        reader = source.getReader({ mode: "byob" });
      } catch {
        // Not a byte stream: read it the default way.
      }
      if (reader !== undefined) {
        const byobReader = reader;
        // One of our message streams, read to its end into the send's buffers: read the
        // connection for it only on demand.
        if (source instanceof MessageStream) IncomingMessage.of(source)?.relay();
        return {
          byob: true,
          next: (into) => byobReader.read(into ?? new Uint8Array(SOURCE_READ_SIZE)) as Promise<IteratorResult<unknown>>,
          cancel: (reason) => byobReader.cancel(reason).catch(() => {}),
        };
      }
    }
    const reader = source.getReader();
    return {
      byob: false,
      next: () => reader.read() as Promise<IteratorResult<unknown>>,
      cancel: (reason) => reader.cancel(reason).catch(() => {}),
    };
  }
  const iterator = source[Symbol.asyncIterator]();
  return {
    byob: false,
    next: () => iterator.next(),
    cancel: async (reason) => {
      try {
        await iterator.return?.(reason);
      } catch {
        // The source failed while stopping: it is stopped either way.
      }
    },
  };
}
