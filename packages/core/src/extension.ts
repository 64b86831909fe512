/**
 * The extension API (RFC 6455 §9): an extension is negotiated in the opening handshake, owns RSV
 * bits, and transforms whole messages. permessage-deflate is one such plug-in; users can write
 * others.
 *
 * @module
 */
import type { ExtensionOffer } from "./extension-header.ts";

/** An extension in use on one connection, after negotiation. */
export interface Extension {
  readonly name: string;
  /** The RSV bits it owns (RSV1 = 0b100). Frames may carry them only on a message's first frame. */
  readonly rsv: number;
  /**
   * Turns a received message's payload back into the message. `rsv` is the RSV bits of its first
   * frame. Must stop with a `ProtocolError` of 1009 as soon as the output passes `maxSize`, and
   * fail with a `ProtocolError` (1007 for undecodable data) otherwise. Called one message at a
   * time, in order.
   */
  decode(data: Uint8Array, rsv: number, maxSize: number): Promise<Uint8Array>;
  /**
   * Transforms a message to send; returns the payload and the RSV bits for its first frame.
   * Called one message at a time, in order.
   */
  encode(data: Uint8Array, opcode: number): Promise<{ readonly data: Uint8Array; readonly rsv: number }>;
  /** Releases what it holds (compression contexts); called once the connection is closed. */
  close(): void;
  /**
   * Optional, for encoding a message once for many connections (pub/sub): set when this
   * connection's {@link encode} depends on nothing of its own (no state kept between messages),
   * to a key naming everything the output depends on. Connections whose extensions have equal
   * keys send the same bytes for the same message.
   */
  readonly sharedEncodingKey?: string | undefined;
  /**
   * With {@link sharedEncodingKey}: what {@link encode} would return, without touching this
   * connection's state (it may run while this connection encodes messages of its own).
   */
  encodeShared?(data: Uint8Array, opcode: number): Promise<{ readonly data: Uint8Array; readonly rsv: number }>;
}

/** Negotiates one extension by name: offered by a client, accepted by a server. */
export interface ExtensionFactory {
  readonly name: string;
  /** Client: the offer to send in `Sec-WebSocket-Extensions`. */
  offer(): ExtensionOffer;
  /** Client: the extension for the server's answer; throws `HandshakeError` to fail the handshake. */
  fromResponse(response: ExtensionOffer): Extension;
  /** Server: picks among the client's offers of this name; `undefined` declines them all. */
  accept(offers: readonly ExtensionOffer[]): { readonly response: ExtensionOffer; readonly extension: Extension } | undefined;
}
