/**
 * The read side of a transport over a socket that calls back with each chunk (Node's and Bun's):
 * what both adapters need for {@link Transport.read} and for push mode ({@link Transport.listen}),
 * in one place.
 *
 * @module
 */
import type { Transport, TransportSink } from "./transport.ts";

/** What a {@link ReadAhead} asks of the transport that owns it. */
export interface ReadAheadOwner {
  /** Stop reading the socket (its read-ahead buffer is full). */
  pauseInput(): void;
  /** Read the socket again. */
  resumeInput(): void;
  /** Why input failed: asked for only when a reader or the sink must be told. */
  inputError(): unknown;
}

/**
 * Chunks from a socket, handed to whoever reads them. Pulled with {@link read}: chunks queue
 * while nobody reads, and past the high-water mark the socket is paused until the queue drains.
 * Pushed after {@link listen}: each chunk goes to the sink from the socket's own event; a
 * {@link pause} stops the sink only, so chunks read meanwhile queue up to the same high-water
 * mark before the socket is paused (a consumer that pauses between messages costs no system
 * call). The end or a failure reaches the sink once, after what was queued before it.
 */
export class ReadAhead {
  readonly #owner: ReadAheadOwner;
  readonly #highWaterMark: number;
  #state: "open" | "ended" | "failed" = "open";
  #queue: Uint8Array[] | undefined;
  #queued = 0;
  #socketPaused = false;
  #readResolve: ((chunk: Uint8Array | null) => void) | undefined;
  #readReject: ((error: unknown) => void) | undefined;
  #sink: TransportSink | undefined;
  #sinkPaused = false;
  #sinkDone = false;

  constructor(owner: ReadAheadOwner, highWaterMark: number) {
    this.#owner = owner;
    this.#highWaterMark = highWaterMark;
  }

  /** `"open"`, or how input ended: `"ended"` (the peer's end) or `"failed"`. */
  get state(): "open" | "ended" | "failed" {
    return this.#state;
  }

  // ---------------------------------------------------------------------------------------------
  // The socket's side

  /** A chunk from the socket (ignored once input ended or failed). */
  push(chunk: Uint8Array): void {
    if (this.#state !== "open") return;
    const sink = this.#sink;
    if (sink !== undefined && !this.#sinkPaused && this.#queue === undefined) {
      sink.data(chunk);
      return;
    }
    const resolve = this.#readResolve;
    if (resolve !== undefined) {
      this.#readResolve = this.#readReject = undefined;
      resolve(chunk);
      return;
    }
    (this.#queue ??= []).push(chunk);
    this.#queued += chunk.length;
    if (this.#queued >= this.#highWaterMark && !this.#socketPaused) {
      this.#socketPaused = true;
      this.#owner.pauseInput();
    }
  }

  /** The end of input: read() gives `null`, and the sink its end, once what was queued is taken. */
  end(): void {
    if (this.#state !== "open") return;
    this.#state = "ended";
    if (this.#sink !== undefined) {
      if (this.#queue === undefined && !this.#sinkPaused) this.#endSink();
      return;
    }
    const resolve = this.#readResolve;
    this.#readResolve = this.#readReject = undefined;
    resolve?.(null);
  }

  /** Input failed (a reset, a local destroy): what was queued is dropped, readers and the sink are told. */
  fail(): void {
    if (this.#state !== "open") return;
    this.#state = "failed";
    if (this.#sink !== undefined) {
      this.clear();
      this.#endSink();
      return;
    }
    const reject = this.#readReject;
    this.#readResolve = this.#readReject = undefined;
    reject?.(this.#owner.inputError());
  }

  /** Drops what is queued (the transport was destroyed). */
  clear(): void {
    this.#queue = undefined;
    this.#queued = 0;
  }

  // ---------------------------------------------------------------------------------------------
  // The connection's side (Transport.read, listen, pause, resume)

  /** {@link Transport.read}: the next chunk, `null` at the end; rejects once input failed. */
  read(): Promise<Uint8Array | null> {
    const chunk = this.#queue?.shift();
    if (chunk !== undefined) {
      this.#queued -= chunk.length;
      if (this.#queue!.length === 0) this.#queue = undefined;
      this.#resumeSocketIfRoom();
      return Promise.resolve(chunk);
    }
    if (this.#state === "ended") return Promise.resolve(null);
    if (this.#state === "failed") return Promise.reject(this.#owner.inputError());
    return new Promise((resolve, reject) => {
      this.#readResolve = resolve;
      this.#readReject = reject;
    });
  }

  /** {@link Transport.listen}: from now on input goes to `sink`, what was queued first. */
  listen(sink: TransportSink): boolean {
    this.#sink = sink;
    this.#deliverQueued();
    return true;
  }

  /** {@link Transport.pause}: the sink gets nothing until {@link resume}. */
  pause(): void {
    this.#sinkPaused = true;
  }

  /** {@link Transport.resume}: the sink gets what queued meanwhile, then the socket's chunks again. */
  resume(): void {
    if (!this.#sinkPaused) return;
    this.#sinkPaused = false;
    this.#deliverQueued();
  }

  // Hands the queued chunks to the sink, in order, until it pauses; then the end, if it came.
  #deliverQueued(): void {
    if (this.#sinkDone) return;
    const sink = this.#sink!;
    const queue = this.#queue;
    if (queue !== undefined) {
      while (!this.#sinkPaused && queue.length > 0) {
        const chunk = queue.shift()!;
        this.#queued -= chunk.length;
        sink.data(chunk);
      }
      if (queue.length === 0 && this.#queue === queue) this.#queue = undefined;
    }
    this.#resumeSocketIfRoom();
    if (this.#queue === undefined && !this.#sinkPaused && this.#state !== "open") this.#endSink();
  }

  #resumeSocketIfRoom(): void {
    if (this.#socketPaused && this.#queued < this.#highWaterMark && this.#state === "open") {
      this.#socketPaused = false;
      this.#owner.resumeInput();
    }
  }

  // The sink's end or failure, told once.
  #endSink(): void {
    if (this.#sinkDone) return;
    this.#sinkDone = true;
    if (this.#state === "ended") this.#sink!.end();
    else this.#sink!.error(this.#owner.inputError());
  }
}
