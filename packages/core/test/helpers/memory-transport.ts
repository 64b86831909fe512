/** An in-memory byte transport pair, and a raw peer that speaks bytes for protocol tests. */
import { type ByteStreams, toTransport, type Transport, type TransportSink } from "../../src/transport.ts";

/** Two connected ends: what one writes the other reads. Closing a writable ends the other readable. */
export function memoryPair(): [ByteStreams, ByteStreams] {
  const aToB = new TransformStream<Uint8Array, Uint8Array>();
  const bToA = new TransformStream<Uint8Array, Uint8Array>();
  return [
    { readable: bToA.readable, writable: aToB.writable },
    { readable: aToB.readable, writable: bToA.writable },
  ];
}

/** A peer driven by hand: send raw bytes, collect everything received, see when the other end closed. */
export class RawPeer {
  readonly received: Uint8Array[] = [];
  readonly ended: Promise<"eof" | "error">;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  #waiters: (() => void)[] = [];

  constructor(streams: ByteStreams, options: { endOnEof?: boolean } = {}) {
    const endOnEof = options.endOnEof ?? true;
    this.#writer = streams.writable.getWriter();
    this.#writer.closed.catch(() => {});
    const reader = streams.readable.getReader();
    this.ended = (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) {
            // Like a TCP socket without half-open support: the peer's FIN closes this side too.
            if (endOnEof) await this.end();
            return "eof";
          }
          this.received.push(value.slice());
          for (const wake of this.#waiters.splice(0)) wake();
        }
      } catch {
        return "error";
      } finally {
        for (const wake of this.#waiters.splice(0)) wake();
      }
    })();
  }

  /** Writes bytes to the other end. */
  async send(bytes: Uint8Array): Promise<void> {
    await this.#writer.write(bytes);
  }

  /** Ends this side's writing (EOF for the other end). */
  async end(): Promise<void> {
    await this.#writer.close().catch(() => {});
  }

  /** All bytes received so far, joined. */
  bytes(): Uint8Array {
    const total = this.received.reduce((n, c) => n + c.length, 0);
    const out = new Uint8Array(total);
    let offset = 0;
    for (const chunk of this.received) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  }

  /** Waits (at most `ms`) until `predicate` holds over what was received. */
  async until(predicate: () => boolean, ms = 2000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!predicate()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("RawPeer.until timed out");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

/** Resolves `value` or rejects after `ms`: keeps every wait in a test bounded. */
export function within<T>(promise: Promise<T>, ms = 2000, what = "operation"): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** Whether `promise` is still pending after `ms`. */
export async function stillPending(promise: Promise<unknown>, ms = 100): Promise<boolean> {
  let settled = false;
  promise.then(() => (settled = true), () => (settled = true));
  await new Promise((resolve) => setTimeout(resolve, ms));
  return !settled;
}

/**
 * Byte streams as a transport in push mode (`listen`, `pause`, `resume`), as the Node and Bun
 * adapters offer: chunks are handed to the sink as they come, and none while paused.
 */
export function pushTransport(streams: ByteStreams): Transport {
  const inner = toTransport(streams);
  let sink: TransportSink | undefined;
  let paused = false;
  let reading = false;
  const pump = async (): Promise<void> => {
    if (reading) return;
    reading = true;
    try {
      while (sink !== undefined && !paused) {
        const chunk = await inner.read();
        if (chunk === null) {
          sink.end();
          return;
        }
        sink.data(chunk);
      }
    } catch (error) {
      sink?.error(error);
    } finally {
      reading = false;
    }
  };
  return {
    read: () => inner.read(),
    write: (chunks) => inner.write(chunks),
    end: () => inner.end(),
    destroy: (reason) => inner.destroy(reason),
    listen: (target) => {
      sink = target;
      void pump();
      return true;
    },
    pause: () => {
      paused = true;
    },
    resume: () => {
      paused = false;
      void pump();
    },
  };
}

/**
 * {@link memoryPair} with a kill switch: `kill()` errors both directions at once, as a peer
 * process dying does to a TCP connection (reads and writes on both ends fail).
 */
export function killablePair(): { client: ByteStreams; server: ByteStreams; kill(reason?: unknown): void } {
  const controllers: TransformStreamDefaultController<Uint8Array>[] = [];
  const pipe = () => new TransformStream<Uint8Array, Uint8Array>({ start: (controller) => void controllers.push(controller) });
  const aToB = pipe();
  const bToA = pipe();
  return {
    client: { readable: bToA.readable, writable: aToB.writable },
    server: { readable: aToB.readable, writable: bToA.writable },
    kill: (reason = new Error("The peer was killed")) => {
      for (const controller of controllers) {
        try {
          controller.error(reason);
        } catch {
          // Already errored or closed.
        }
      }
    },
  };
}
