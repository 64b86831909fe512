/**
 * What a connection reports: plain, immutable data returned by {@link Connection.events}, never
 * emitted, so user code never runs inside the parse loop.
 *
 * @module
 */
import type { HandshakeError, ProtocolError } from "./errors.ts";
import type { ExtensionOffer } from "./extension-header.ts";
import type { UpgradeRequest } from "./handshake.ts";

/** A complete text message. */
export interface TextEvent {
  readonly type: "text";
  readonly data: string;
}

/** A complete binary message. */
export interface BinaryEvent {
  readonly type: "binary";
  readonly data: Uint8Array;
}

/**
 * A complete message whose first frame carried RSV bits owned by a negotiated extension: pass it
 * to {@link Connection.decode} to get the text or binary message.
 */
export interface EncodedEvent {
  readonly type: "encoded";
  readonly messageType: "text" | "binary";
  readonly data: Uint8Array;
  readonly rsv: number;
}

/**
 * A piece of a message received as a stream (the `streamMessages` option): its bytes as they
 * arrive, text already checked as UTF-8 up to here. `first` starts the message, `last` ends it
 * (both on a message in one piece); `data` may be empty on either.
 */
export interface MessageChunkEvent {
  readonly type: "message-chunk";
  readonly messageType: "text" | "binary";
  readonly data: Uint8Array;
  readonly first: boolean;
  readonly last: boolean;
}

/** A Ping was received (already answered unless `autoPong` is off). */
export interface PingEvent {
  readonly type: "ping";
  readonly data: Uint8Array;
}

/** A Pong was received, solicited or not. */
export interface PongEvent {
  readonly type: "pong";
  readonly data: Uint8Array;
}

/** The peer's Close frame arrived; `code` is 1005 when it carried none. Later input is ignored. */
export interface CloseEvent {
  readonly type: "close";
  readonly code: number;
  readonly reason: string;
}

/** The peer broke the protocol; the connection fails with `error.closeCode`. Later input is ignored. */
export interface ErrorEvent {
  readonly type: "error";
  readonly error: ProtocolError;
}

/** Server: a valid upgrade request arrived; answer with `accept()` or `reject()`. */
export interface RequestEvent {
  readonly type: "request";
  readonly request: UpgradeRequest;
}

/** Client: the server accepted the upgrade; the connection is OPEN. */
export interface OpenEvent {
  readonly type: "open";
  readonly protocol: string;
  readonly extensions: readonly ExtensionOffer[];
}

/**
 * The opening handshake failed. A server has queued the HTTP rejection; either way the transport
 * should close.
 */
export interface HandshakeErrorEvent {
  readonly type: "handshake-error";
  readonly error: HandshakeError;
}

/** Everything {@link Connection.events} returns, discriminated on `type`. */
export type ConnectionEvent =
  | TextEvent
  | BinaryEvent
  | EncodedEvent
  | MessageChunkEvent
  | PingEvent
  | PongEvent
  | CloseEvent
  | ErrorEvent
  | RequestEvent
  | OpenEvent
  | HandshakeErrorEvent;
