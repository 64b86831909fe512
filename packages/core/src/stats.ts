/**
 * Counters of one connection and of one server: bytes and frames on the wire, messages, what
 * compression did, and the last round-trip time. Plain number fields incremented where the
 * bytes already pass (the connection's frame decoder and output queue), so they stay on: no
 * object per message, and a snapshot is built only when read.
 *
 * @module
 */

/**
 * What one connection has done so far, as a snapshot (read `ws.stats` again for newer figures).
 *
 * Bytes and frames are those of WebSocket frames (headers included) once the opening handshake
 * is over; the HTTP request and response are not counted. `bytesOut` counts frames queued for the
 * transport (`bufferedAmount` tells how much of it is not yet written).
 */
export interface ConnectionStats {
  /** Bytes received after the opening handshake (every frame's header and payload). */
  readonly bytesIn: number;
  /** Bytes of frames sent (queued for the transport), headers included. */
  readonly bytesOut: number;
  /** Frames received (counted when their header is read), control frames included. */
  readonly framesIn: number;
  /** Frames sent, control frames included. */
  readonly framesOut: number;
  /** Data messages received (a fragmented message counts once, when its last frame arrives). */
  readonly messagesIn: number;
  /** Data messages sent (a fragmented message counts once, with its last frame). */
  readonly messagesOut: number;
  /** Payload bytes of compressed messages received, as they came (permessage-deflate, RSV1 set). */
  readonly compressedBytesIn: number;
  /** The same messages' bytes once decompressed. */
  readonly decompressedBytesIn: number;
  /** Payload bytes of messages sent compressed, before compression (messages sent uncompressed are not counted). */
  readonly uncompressedBytesOut: number;
  /** The same messages' bytes after compression, as sent. */
  readonly compressedBytesOut: number;
  /** Milliseconds between the last answered Ping (from `ping()` or keepalive) and its Pong; `undefined` before one. */
  readonly lastRtt: number | undefined;
}

/** A server's figures: the sums over every connection it accepted, closed ones included. */
export interface ServerStats extends ConnectionStats {
  /** Connections open now. */
  readonly openConnections: number;
  /** Connections accepted so far (the opening handshake completed), open or closed. */
  readonly acceptedConnections: number;
}

/**
 * The mutable counters behind {@link ConnectionStats}, one per connection. Incremented in place
 * by the connection and its endpoint; read through {@link snapshot}.
 */
export class StatsCounters {
  bytesIn = 0;
  bytesOut = 0;
  framesIn = 0;
  framesOut = 0;
  messagesIn = 0;
  messagesOut = 0;
  compressedBytesIn = 0;
  decompressedBytesIn = 0;
  uncompressedBytesOut = 0;
  compressedBytesOut = 0;
  lastRtt: number | undefined = undefined;
  /** When {@link lastRtt} was measured (clock milliseconds), to find a server's latest. */
  lastRttAt = -Infinity;

  /** Adds `other`'s counts to these; the later RTT of the two wins. */
  add(other: StatsCounters): void {
    this.bytesIn += other.bytesIn;
    this.bytesOut += other.bytesOut;
    this.framesIn += other.framesIn;
    this.framesOut += other.framesOut;
    this.messagesIn += other.messagesIn;
    this.messagesOut += other.messagesOut;
    this.compressedBytesIn += other.compressedBytesIn;
    this.decompressedBytesIn += other.decompressedBytesIn;
    this.uncompressedBytesOut += other.uncompressedBytesOut;
    this.compressedBytesOut += other.compressedBytesOut;
    if (other.lastRtt !== undefined && other.lastRttAt >= this.lastRttAt) {
      this.lastRtt = other.lastRtt;
      this.lastRttAt = other.lastRttAt;
    }
  }

  /** A frozen copy of the counts. */
  snapshot(): ConnectionStats {
    return Object.freeze({
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      framesIn: this.framesIn,
      framesOut: this.framesOut,
      messagesIn: this.messagesIn,
      messagesOut: this.messagesOut,
      compressedBytesIn: this.compressedBytesIn,
      decompressedBytesIn: this.decompressedBytesIn,
      uncompressedBytesOut: this.uncompressedBytesOut,
      compressedBytesOut: this.compressedBytesOut,
      lastRtt: this.lastRtt,
    });
  }
}
