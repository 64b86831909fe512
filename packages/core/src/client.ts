/**
 * The client end, sans-I/O: the opening handshake of RFC 6455 §4.1, then a {@link Connection}.
 *
 * @module
 */
import { Connection, type ConnectionOptions } from "./connection.ts";
import { HandshakeError, UsageError } from "./errors.ts";
import type { Extension, ExtensionFactory } from "./extension.ts";
import { formatExtensionHeader } from "./extension-header.ts";
import {
  type ClientRequest,
  type ClientRequestOptions,
  createClientRequest,
  type HandshakeResponse,
  validateUpgradeResponse,
} from "./handshake.ts";
import { type HttpHeadLimits, ResponseHeadParser } from "./http-head.ts";
import { type ConnectRequest, type ConnectResponse, createConnectRequest, validateConnectResponse } from "./http2-handshake.ts";
import { State } from "./state.ts";

/** Options of a {@link ClientConnection}: the handshake's, the head parser's and the connection's. */
export interface ClientConnectionOptions extends ConnectionOptions, Omit<ClientRequestOptions, "extensions">, HttpHeadLimits {
  /** Extensions to offer, most preferred first (e.g. permessage-deflate); the server picks. */
  readonly extensions?: readonly ExtensionFactory[];
}

/**
 * A client connection. Create it with {@link ClientConnection.create}, write
 * {@link Connection.dataToSend} (the upgrade request), then feed the server's bytes: an `open`
 * event (or a `handshake-error`) comes first, then messages.
 */
export class ClientConnection extends Connection {
  /** The request sent, with the values the response is checked against. */
  readonly request: ClientRequest;
  readonly #factories: readonly ExtensionFactory[];
  #parser: ResponseHeadParser | undefined;
  #response: HandshakeResponse | undefined;
  #handshakeError: HandshakeError | undefined;
  readonly #options: ClientConnectionOptions;
  #connectRequest: ConnectRequest | undefined;

  /**
   * Builds the upgrade request for `url` (the accept key is computed now, so the handshake can be
   * checked synchronously later). Rejects with `HandshakeError` / `UsageError` for a bad URL or
   * bad options.
   */
  static async create(url: string | URL, options: ClientConnectionOptions = {}): Promise<ClientConnection> {
    const offers = (options.extensions ?? []).map((factory) => factory.offer());
    const request = await createClientRequest(url, { ...options, extensions: formatExtensionHeader(offers) });
    return new ClientConnection(request, options);
  }

  /** Prefer {@link ClientConnection.create}; this takes a request built by `createClientRequest`. */
  constructor(request: ClientRequest, options: ClientConnectionOptions = {}) {
    super("client", options, State.CONNECTING);
    this.request = request;
    this.#factories = options.extensions ?? [];
    this.#options = options;
    this.#parser = new ResponseHeadParser(options);
    this.queueBytes(request.bytes);
  }

  /**
   * HTTP/2 (RFC 8441): the extended CONNECT request with the same URL, subprotocols, origin,
   * headers and extension offers as {@link request}, built on first use. Send it as a stream's
   * headers, then pass the response to {@link receiveConnectResponse}.
   */
  connectRequest(): ConnectRequest {
    const options = this.#options;
    return (this.#connectRequest ??= createConnectRequest(this.request.url, {
      protocols: this.request.protocols,
      origin: options.origin,
      headers: options.headers,
      extensions: formatExtensionHeader(this.#factories.map((factory) => factory.offer())),
    }));
  }

  /**
   * HTTP/2: the handshake went out of band, as {@link connectRequest} on a stream: check the
   * server's response in place of a 101. The HTTP/1.1 request queued at construction is dropped
   * (never take it). Emits `open`, after which the stream's data is fed with `receiveData` as
   * frames, or `handshake-error`.
   */
  receiveConnectResponse(response: Omit<ConnectResponse, "body">): void {
    if (this.state !== State.CONNECTING || this.#parser === undefined) {
      throw new UsageError("WS_ERR_INVALID_STATE", "Cannot take a response: the handshake is over");
    }
    this.#parser = undefined;
    // The HTTP/1.1 request was not sent: the request went as the stream's headers.
    this.dataToSend();
    try {
      this.#response = validateConnectResponse(response, this.connectRequest());
      this.useExtensions(this.#negotiate(this.#response));
    } catch (error) {
      if (!(error instanceof HandshakeError)) throw error;
      this.#fail(error);
      return;
    }
    this.emit({ type: "open", protocol: this.#response.protocol, extensions: this.#response.extensions });
    this.openConnection(new Uint8Array(0));
  }

  /** What the server agreed to, once the handshake succeeded. */
  get response(): HandshakeResponse | undefined {
    return this.#response;
  }

  /** Why the handshake failed, if it did. */
  get handshakeError(): HandshakeError | undefined {
    return this.#handshakeError;
  }

  override receiveEof(): void {
    if (this.state === State.CONNECTING) {
      this.#fail(new HandshakeError("WS_ERR_HANDSHAKE_EOF", 0, "Handshake failed: the connection closed before the response"));
    }
    super.receiveEof();
  }

  protected override receiveHandshakeData(chunk: Uint8Array): void {
    const parser = this.#parser;
    if (parser === undefined) return;
    const result = parser.receiveData(chunk);
    if (result.kind === "incomplete") return;
    this.#parser = undefined;
    if (result.kind === "error") {
      this.#fail(result.error);
      return;
    }
    try {
      this.#response = validateUpgradeResponse(result.head, this.request);
      this.useExtensions(this.#negotiate(this.#response));
    } catch (error) {
      if (!(error instanceof HandshakeError)) throw error;
      this.#fail(error);
      return;
    }
    this.emit({ type: "open", protocol: this.#response.protocol, extensions: this.#response.extensions });
    this.openConnection(result.rest);
  }

  // RFC 6455 §9.1: the server names the extensions in use, each one the client offered; each
  // factory checks its parameters. Two extensions may not claim the same RSV bit.
  #negotiate(response: HandshakeResponse): Extension[] {
    const extensions: Extension[] = [];
    let rsv = 0;
    for (const accepted of response.extensions) {
      const factory = this.#factories.find((f) => f.name === accepted.name);
      if (factory === undefined) continue;
      const extension = factory.fromResponse(accepted);
      if ((extension.rsv & rsv) !== 0 || extensions.some((e) => e.name === extension.name)) {
        throw new HandshakeError("WS_ERR_INVALID_EXTENSION", 101, `Invalid Sec-WebSocket-Extensions, conflicting extensions: ${accepted.name}`);
      }
      rsv |= extension.rsv;
      extensions.push(extension);
    }
    return extensions;
  }

  #fail(error: HandshakeError): void {
    this.#parser = undefined;
    this.#handshakeError = error;
    this.emit({ type: "handshake-error", error });
    this.abortHandshake();
  }
}
