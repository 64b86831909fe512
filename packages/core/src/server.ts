/**
 * The server end, sans-I/O: the opening handshake of RFC 6455 §4.2, then a {@link Connection}.
 *
 * @module
 */
import { Connection, type ConnectionOptions } from "./connection.ts";
import { HandshakeError, UsageError } from "./errors.ts";
import {
  type AcceptOptions,
  acceptResponse,
  rejectionFor,
  type RejectOptions,
  rejectResponse,
  type UpgradeRequest,
  validateUpgradeRequest,
} from "./handshake.ts";
import { type HttpHeadLimits, type RequestHead, RequestHeadParser } from "./http-head.ts";
import { State } from "./state.ts";

/** Options of a {@link ServerConnection}: the head parser's limits and the connection's. */
export interface ServerConnectionOptions extends ConnectionOptions, HttpHeadLimits {}

/**
 * A server connection. Feed the client's bytes: a `request` event comes once a valid upgrade
 * request is in (an invalid one is answered with 400, 426 or 431 by itself and reported as a
 * `handshake-error`). Then {@link accept} or {@link reject}. Bytes that arrive meanwhile are kept
 * and read as frames once accepted.
 */
export class ServerConnection extends Connection {
  #parser: RequestHeadParser | undefined;
  #request: UpgradeRequest | undefined;
  #handshakeError: HandshakeError | undefined;
  // Bytes received after the request head, before accept().
  #early: Uint8Array[] = [];
  #answered = false;

  constructor(options: ServerConnectionOptions = {}) {
    super("server", options, State.CONNECTING);
    this.#parser = new RequestHeadParser(options);
  }

  /** The validated upgrade request, once received. */
  get request(): UpgradeRequest | undefined {
    return this.#request;
  }

  /** Why the handshake failed, if it did. */
  get handshakeError(): HandshakeError | undefined {
    return this.#handshakeError;
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
   * Accepts the upgrade: queues the 101 response (with the chosen subprotocol, extensions and
   * headers) and opens the connection. Rejects with `UsageError` for a subprotocol the client did
   * not offer or a bad header, leaving the handshake unanswered.
   */
  async accept(options: AcceptOptions = {}): Promise<void> {
    const request = this.#awaitingAnswer("accept");
    const response = await acceptResponse(request, options);
    if (this.state !== State.CONNECTING || this.#answered) return;
    this.#answered = true;
    this.queueBytes(response);
    const early = this.#early;
    this.#early = [];
    this.openConnection(new Uint8Array(0));
    for (const chunk of early) this.receiveData(chunk);
  }

  /** Refuses the upgrade with an HTTP response (e.g. 403); the transport should then close. */
  reject(status: number, options: RejectOptions = {}): void {
    this.#awaitingAnswer("reject");
    const response = rejectResponse(status, options);
    this.#answered = true;
    this.#early = [];
    this.queueBytes(response);
    this.abortHandshake();
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
    this.queueBytes(rejectionFor(error));
    this.emit({ type: "handshake-error", error });
    this.abortHandshake();
  }
}
