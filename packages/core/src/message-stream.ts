/**
 * Messages as streams, both ways (opt-in): a received message as a {@link MessageStream} of its
 * bytes as they arrive, and a `ReadableStream` or async iterable sent as one fragmented message.
 * The endpoint drives both; this file holds the stream objects and the source reader.
 *
 * Backpressure: a message stream queues at most its high-water mark of bytes (plus the rest of
 * the transport chunk being read); past it the endpoint stops reading the transport until the
 * stream is pulled again.
 *
 * @module
 */

/**
 * A message received as a stream (the `streamMessages` option): a `ReadableStream` of the
 * message's bytes as its fragments arrive, text as UTF-8 already checked up to each chunk's
 * end. It closes when the message ends; it errors with a `WebSocketError` if the connection
 * closes or fails before that (an invalid UTF-8 byte fails the connection with 1007 at once).
 *
 * Read it or cancel it: while it is full and unread, the connection is not read. Cancelling it
 * discards the rest of this message; the messages after it still arrive.
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
  constructor(type: "text" | "binary", source: UnderlyingDefaultSource<Uint8Array>, highWaterMark: number) {
    super(source, { highWaterMark, size: byteLength });
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

function byteLength(chunk?: Uint8Array): number {
  return chunk === undefined ? 0 : chunk.byteLength;
}

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
 */
export class IncomingMessage {
  readonly stream: MessageStream;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #open = true;
  #cancelled = false;

  constructor(type: "text" | "binary", highWaterMark: number, hooks: IncomingMessageHooks) {
    this.stream = new MessageStream(type, {
      start: (controller) => {
        this.#controller = controller;
      },
      pull: () => hooks.pull(),
      cancel: () => {
        this.#open = false;
        this.#cancelled = true;
        hooks.cancel();
      },
    }, highWaterMark);
  }

  /** Whether the reader cancelled the stream. */
  get cancelled(): boolean {
    return this.#cancelled;
  }

  /** Queues a chunk (a view: not copied); returns false once the stream is full (pause reading). */
  push(data: Uint8Array): boolean {
    if (!this.#open) return true;
    if (data.length > 0) this.#controller.enqueue(data);
    return (this.#controller.desiredSize ?? 1) > 0;
  }

  /** The message ended: the stream closes once read. */
  end(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#controller.close();
  }

  /** The message will not end: the stream errors with `error`. */
  error(error: unknown): void {
    if (!this.#open) return;
    this.#open = false;
    this.#controller.error(error);
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
  next(): Promise<IteratorResult<unknown>>;
  /** Stops the source (cancels the stream, returns the iterator); never rejects. */
  cancel(reason: unknown): Promise<void>;
}

/** A {@link SourceReader} over `source`. Throws a `TypeError` when it is locked. */
export function readSource(source: MessageSource): SourceReader {
  if (source instanceof ReadableStream) {
    const reader = source.getReader();
    return {
      next: () => reader.read() as Promise<IteratorResult<unknown>>,
      cancel: (reason) => reader.cancel(reason).catch(() => {}),
    };
  }
  const iterator = source[Symbol.asyncIterator]();
  return {
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
