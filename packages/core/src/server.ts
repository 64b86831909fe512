/**
 * The server end, sans-I/O: the opening handshake of RFC 6455 §4.2, then a {@link Connection}.
 *
 * @module
 */
import { Connection, type ConnectionOptions } from "./connection.ts";
import { HandshakeError, UsageError } from "./errors.ts";
import type { Extension, ExtensionFactory } from "./extension.ts";
import { type ExtensionOffer, formatExtensionHeader } from "./extension-header.ts";
import {
  type AcceptOptions,
  acceptResponseWithKey,
  computeAcceptKey,
  type HandshakeHashOptions,
  rejectionFor,
  type RejectOptions,
  rejectResponse,
  type Sha1,
  type UpgradeRequest,
  validateUpgradeRequest,
} from "./handshake.ts";
import { type HttpHeadLimits, type RequestHead, RequestHeadParser } from "./http-head.ts";
import {
  acceptConnectResponse,
  connectRejectionFor,
  type ConnectRequestHead,
  type ConnectResponse,
  rejectConnectResponse,
  validateConnectRequest,
} from "./http2-handshake.ts";
import { State } from "./state.ts";

/** Options of a {@link ServerConnection}: the head parser's limits, the connection's and the handshake's hash. */
export interface ServerConnectionOptions extends ConnectionOptions, HttpHeadLimits, HandshakeHashOptions {
  /** Extensions this server supports, most preferred first; each accepts or declines the client's offers. */
  readonly extensions?: readonly ExtensionFactory[];
}

/**
 * A server connection. Feed the client's bytes: a `request` event comes once a valid upgrade
 * request is in (an invalid one is answered with 400, 426 or 431 by itself and reported as a
 * `handshake-error`). Then {@link accept} or {@link reject}. Bytes that arrive meanwhile are kept
 * and read as frames once accepted.
 */
export class ServerConnection extends Connection {
  readonly #factories: readonly ExtensionFactory[];
  readonly #sha1: Sha1 | undefined;
  #parser: RequestHeadParser | undefined;
  #request: UpgradeRequest | undefined;
  #handshakeError: HandshakeError | undefined;
  // Bytes received after the request head, before accept().
  #early: Uint8Array[] = [];
  #answered = false;
  #agreedExtensions = "";
  // HTTP/2 (RFC 8441): the request came as an extended CONNECT, and the answer is a response to
  // send as the stream's headers rather than bytes.
  #http2 = false;
  #response: ConnectResponse | undefined;

  constructor(options: ServerConnectionOptions = {}) {
    super("server", options, State.CONNECTING);
    this.#factories = options.extensions ?? [];
    this.#sha1 = options.sha1;
    this.#parser = new RequestHeadParser(options);
  }

  /**
   * The validated upgrade request, from its arrival until it is answered: an answered one is
   * dropped, so an open connection keeps none of its headers.
   */
  get request(): UpgradeRequest | undefined {
    return this.#request;
  }

  /** Why the handshake failed, if it did. */
  get handshakeError(): HandshakeError | undefined {
    return this.#handshakeError;
  }

  /** The `Sec-WebSocket-Extensions` value this server answered with, or `""`. */
  get agreedExtensions(): string {
    return this.#agreedExtensions;
  }

  /**
   * Starts from a request head parsed elsewhere (e.g. by `node:http` before its `'upgrade'`
   * event), with the bytes that followed it. Emits `request` or `handshake-error` as if the head
   * had been received here.
   */
  receiveRequestHead(head: RequestHead, rest: Uint8Array = new Uint8Array(0)): void {
    if (this.#parser === undefined) {
      throw new UsageError("WS_ERR_INVALID_STATE", "Cannot take a request head: one was already received");
    }
    this.#parser = undefined;
    this.#validate(head, rest);
  }

  /**
   * HTTP/2 (RFC 8441): starts from an extended CONNECT request received as a stream's headers by
   * the runtime's HTTP/2 implementation. Emits `request` or `handshake-error` as
   * {@link receiveRequestHead} does, but the answer (accept, reject, or the refusal of an invalid
   * request) is not queued as bytes: it is {@link response}, to send as the stream's response.
   * The stream's data is then fed with `receiveData` as frames.
   */
  receiveConnectRequest(head: ConnectRequestHead): void {
    if (this.#parser === undefined) {
      throw new UsageError("WS_ERR_INVALID_STATE", "Cannot take a request head: one was already received");
    }
    this.#parser = undefined;
    this.#http2 = true;
    try {
      this.#request = validateConnectRequest(head);
    } catch (error) {
      if (!(error instanceof HandshakeError)) throw error;
      this.#fail(error);
      return;
    }
    this.emit({ type: "request", request: this.#request });
  }

  /** True when the request came as an HTTP/2 extended CONNECT ({@link receiveConnectRequest}). */
  get http2(): boolean {
    return this.#http2;
  }

  /**
   * HTTP/2: the response decided by {@link accept}, {@link reject} or a failed validation, once
   * there is one. Send it as the stream's response headers (and a refusal's body, then end the
   * stream).
   */
  get response(): ConnectResponse | undefined {
    return this.#response;
  }

  /**
   * Accepts the upgrade: queues the 101 response (with the chosen subprotocol, extensions and
   * headers) and opens the connection. Rejects with `UsageError` for a subprotocol the client did
   * not offer or a bad header, leaving the handshake unanswered. With a synchronous `sha1` option
   * nothing is awaited: the 101 is queued (or the promise rejected) before this returns.
   */
  async accept(options: AcceptOptions = {}): Promise<void> {
    const request = this.#awaitingAnswer("accept");
    if (this.#http2) {
      // RFC 8441 §5: a 200 with the same negotiation as a 101, and no accept key to compute.
      this.#agree(request, options, (agreed) => acceptConnectResponse(request, agreed));
      return;
    }
    const sha1 = this.#sha1;
    const acceptKey = sha1 === undefined ? await computeAcceptKey(request.key) : computeAcceptKey(request.key, sha1);
    // Answered, or closed, while the hash was computed.
    if (this.state !== State.CONNECTING || this.#answered) return;
    this.#agree(request, options, (agreed) => acceptResponseWithKey(request, acceptKey, agreed));
  }

  /**
   * Refuses the upgrade with an HTTP response (e.g. 403); the transport should then close. Over
   * HTTP/2 the status must be 300-599 (a 2xx would open the tunnel), else `UsageError`.
   */
  reject(status: number, options: RejectOptions = {}): void {
    this.#awaitingAnswer("reject");
    const response = this.#http2 ? rejectConnectResponse(status, options) : rejectResponse(status, options);
    this.#answered = true;
    this.#request = undefined;
    this.#early = [];
    if (response instanceof Uint8Array) this.queueBytes(response);
    else this.#response = response;
    this.abortHandshake();
  }

  // Both answers: negotiates the extensions, builds the response with them (a failure closes
  // them and leaves the handshake unanswered), queues it (bytes) or keeps it (HTTP/2), and opens
  // the connection, then reads what arrived early.
  #agree(request: UpgradeRequest, options: AcceptOptions, build: (options: AcceptOptions) => Uint8Array | ConnectResponse): void {
    const { responses, extensions } = this.#negotiate(request);
    const agreedExtensions = responses.length > 0 ? formatExtensionHeader(responses) : "";
    let response: Uint8Array | ConnectResponse;
    try {
      response = build(agreedExtensions === "" ? options : { ...options, extensions: agreedExtensions });
    } catch (error) {
      for (const extension of extensions) extension.close();
      throw error;
    }
    this.#answered = true;
    this.#request = undefined;
    this.#agreedExtensions = agreedExtensions;
    this.useExtensions(extensions);
    if (response instanceof Uint8Array) this.queueBytes(response);
    else this.#response = response;
    const early = this.#early;
    this.#early = [];
    this.openConnection(new Uint8Array(0));
    for (const chunk of early) this.receiveData(chunk);
  }

  override receiveEof(): void {
    if (this.state === State.CONNECTING && this.#request === undefined && this.#handshakeError === undefined) {
      this.#handshakeError = new HandshakeError("WS_ERR_HANDSHAKE_EOF", 400, "Handshake failed: the connection closed before the request ended");
      this.emit({ type: "handshake-error", error: this.#handshakeError });
    }
    super.receiveEof();
  }

  protected override receiveHandshakeData(chunk: Uint8Array): void {
    const parser = this.#parser;
    if (parser === undefined) {
      // The request is in and awaits accept(): keep what follows for the frame decoder.
      if (this.#request !== undefined && !this.#answered) this.#early.push(chunk);
      return;
    }
    const result = parser.receiveData(chunk);
    if (result.kind === "incomplete") return;
    this.#parser = undefined;
    if (result.kind === "error") this.#fail(result.error);
    else this.#validate(result.head, result.rest);
  }

  #validate(head: RequestHead, rest: Uint8Array): void {
    try {
      this.#request = validateUpgradeRequest(head);
    } catch (error) {
      if (!(error instanceof HandshakeError)) throw error;
      this.#fail(error);
      return;
    }
    if (rest.length > 0) this.#early.push(rest);
    this.emit({ type: "request", request: this.#request });
  }

  // RFC 6455 §9.1: the server picks among the offers; each supported extension accepts one of
  // its offers or declines them all. Extensions that would share an RSV bit are left out.
  #negotiate(request: UpgradeRequest): { responses: ExtensionOffer[]; extensions: Extension[] } {
    const responses: ExtensionOffer[] = [];
    const extensions: Extension[] = [];
    let rsv = 0;
    for (const factory of this.#factories) {
      const offers = request.extensions.filter((offer) => offer.name === factory.name);
      if (offers.length === 0) continue;
      const accepted = factory.accept(offers);
      if (accepted === undefined) continue;
      if ((accepted.extension.rsv & rsv) !== 0) {
        accepted.extension.close();
        continue;
      }
      rsv |= accepted.extension.rsv;
      responses.push(accepted.response);
      extensions.push(accepted.extension);
    }
    return { responses, extensions };
  }

  #awaitingAnswer(what: string): UpgradeRequest {
    if (this.#request === undefined || this.#answered || this.state !== State.CONNECTING) {
      throw new UsageError("WS_ERR_INVALID_STATE", `Cannot ${what}: no upgrade request is awaiting an answer`);
    }
    return this.#request;
  }

  // An invalid request is answered with its status (400, 405, 426, 431) and the transport closed.
  #fail(error: HandshakeError): void {
    this.#handshakeError = error;
    this.#answered = true;
    if (this.#http2) this.#response = connectRejectionFor(error);
    else this.queueBytes(rejectionFor(error));
    this.emit({ type: "handshake-error", error });
    this.abortHandshake();
  }
}
