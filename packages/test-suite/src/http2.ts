/**
 * The opening handshake of WebSockets over HTTP/2 (RFC 8441) done by hand on `node:http2`, for
 * both roles of the harness: the fuzzing client opens an extended CONNECT stream, the fuzzing
 * server accepts one. After `:status 200` the stream carries the same frames a TCP connection
 * would, so every case runs unchanged on it (see session.ts): the peer "closing TCP" becomes the
 * peer ending its stream (END_STREAM), and the harness dropping the connection becomes a
 * RST_STREAM.
 *
 * The harness's own receive windows are large, so HTTP/2 flow control on its side never slows
 * the 9.x cases; the peer's windows are the peer's business.
 *
 * @module
 */
import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  connect,
  createServer,
  type Http2Server,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from "node:http2";

/** The receive window the harness advertises, per stream and per session: 32 MiB. */
const WINDOW = 32 * 1024 * 1024;

/** An extended CONNECT stream after the handshake. */
export interface Http2Upgraded {
  readonly stream: ClientHttp2Stream;
  /** The server's `sec-websocket-extensions`, when extensions were offered and it sent one. */
  readonly extensions?: string | undefined;
  /** Closes the session the stream runs on (one session per case, as one TCP connection per case). */
  close(): void;
}

/**
 * Opens a new HTTP/2 session to `url`'s origin (`ws:` → h2c with prior knowledge, `wss:` → TLS
 * with ALPN `h2`, any certificate accepted: the harness tests the WebSocket, not the PKI), waits
 * for the server's SETTINGS and runs the RFC 8441 §4 handshake on one stream, offering
 * `extensions` when given. Rejects (and closes the session) when the server does not enable the
 * extended CONNECT protocol (RFC 8441 §3), refuses, or answers wrongly.
 */
export async function openHttp2Client(url: URL, timeoutMs: number, extensions?: string): Promise<Http2Upgraded> {
  if (url.protocol !== "ws:" && url.protocol !== "wss:") throw new Error(`Only ws: and wss: URLs are supported: ${url.href}`);
  const origin = `${url.protocol === "wss:" ? "https" : "http"}://${url.host}`;
  const session = connect(origin, {
    settings: { initialWindowSize: WINDOW },
    ...(url.protocol === "wss:" ? { rejectUnauthorized: false, ALPNProtocols: ["h2"] } : {}),
  });
  session.on("error", () => undefined);
  let timer: NodeJS.Timeout | undefined;
  let fail: (error: Error) => void = () => undefined;
  const onClose = (): void => fail(new Error("The HTTP/2 session closed during the opening handshake"));
  const onError = (error: Error): void => fail(error);
  try {
    return await new Promise<Http2Upgraded>((resolve, reject) => {
      fail = reject;
      timer = setTimeout(() => reject(new Error(`No HTTP/2 handshake with ${url.host} within ${timeoutMs} ms`)), timeoutMs);
      session.once("error", onError);
      session.once("close", onClose);
      session.once("remoteSettings", (settings) => {
        if (session.destroyed) return;
        session.setLocalWindowSize(WINDOW);
        // RFC 8441 §3: "A client MUST NOT send a :protocol pseudo-header unless the server has
        // sent SETTINGS_ENABLE_CONNECT_PROTOCOL with a value of 1."
        if (settings.enableConnectProtocol !== true) {
          reject(new Error("The server's SETTINGS do not enable the extended CONNECT protocol (RFC 8441 §3)"));
          return;
        }
        // RFC 8441 §4: :method CONNECT, :protocol websocket, :scheme, :path and :authority.
        const stream = session.request(
          {
            ":method": "CONNECT",
            ":protocol": "websocket",
            ":scheme": url.protocol === "wss:" ? "https" : "http",
            ":path": `${url.pathname || "/"}${url.search}`,
            ":authority": url.host,
            "sec-websocket-version": "13",
            ...(extensions === undefined ? {} : { "sec-websocket-extensions": extensions }),
            "user-agent": "wsstream-test-suite",
          },
          { endStream: false },
        );
        stream.on("error", () => undefined);
        stream.once("close", () => reject(new Error(`The server reset the CONNECT stream (code ${stream.rstCode})`)));
        stream.once("response", (headers) => {
          const status = Number(headers[":status"]);
          // RFC 8441 §5: a 2xx answer opens the WebSocket; anything else refuses it.
          if (status < 200 || status > 299) {
            reject(new Error(`Handshake refused: :status ${status}`));
            return;
          }
          if (headers["sec-websocket-accept"] !== undefined) {
            reject(new Error("Handshake response with Sec-WebSocket-Accept, which RFC 8441 §5 leaves out"));
            return;
          }
          const answer = headerValue(headers["sec-websocket-extensions"]);
          if (extensions === undefined && answer !== undefined) {
            reject(new Error(`Server agreed to an extension nobody offered: ${answer}`));
            return;
          }
          stream.pause();
          resolve({ stream, extensions: answer, close: () => closeSession(session) });
        });
      });
    });
  } catch (error) {
    session.destroy();
    throw error;
  } finally {
    clearTimeout(timer);
    session.off("error", onError);
    session.off("close", onClose);
  }
}

// GOAWAY and close; a session whose last stream is stuck is destroyed after a second.
function closeSession(session: ClientHttp2Session): void {
  if (session.destroyed) return;
  const timer = setTimeout(() => session.destroy(), 1000);
  session.close(() => clearTimeout(timer));
}

/** An accepted extended CONNECT stream, as the fuzzing server sees it. */
export interface Http2Request {
  readonly stream: ServerHttp2Stream;
  /** The request target (`:path`). */
  readonly target: string;
  readonly headers: IncomingHttpHeaders;
}

/**
 * A cleartext HTTP/2 server (h2c with prior knowledge) that sends SETTINGS_ENABLE_CONNECT_PROTOCOL
 * (RFC 8441 §3) and hands every valid extended CONNECT stream to `onWebSocket`; any other stream
 * gets a 400 with the reason.
 */
export function createHttp2Server(onWebSocket: (request: Http2Request) => void): Http2Server {
  const server = createServer({ settings: { enableConnectProtocol: true, initialWindowSize: WINDOW } });
  server.on("session", (session) => {
    session.on("error", () => undefined);
    session.once("localSettings", () => session.setLocalWindowSize(WINDOW));
  });
  server.on("stream", (stream, headers) => {
    stream.on("error", () => undefined);
    const problem = connectProblem(headers);
    if (problem !== undefined) {
      stream.respond({ ":status": 400, "content-type": "text/plain" });
      stream.end(problem);
      return;
    }
    onWebSocket({ stream, target: String(headers[":path"]), headers });
  });
  return server;
}

/**
 * Answers an accepted extended CONNECT stream with `:status 200` (RFC 8441 §5) and
 * `sec-websocket-extensions: extensions` when given.
 */
export function answerConnect(stream: ServerHttp2Stream, extensions?: string): void {
  stream.respond({ ":status": 200, ...(extensions === undefined ? {} : { "sec-websocket-extensions": extensions }), server: "wsstream-test-suite" });
}

/** Answers a stream with `status` and no body. */
export function refuseStream(stream: ServerHttp2Stream, status: number): void {
  stream.respond({ ":status": status }, { endStream: true });
}

// RFC 8441 §4-5: what an extended CONNECT that opens a WebSocket carries.
function connectProblem(headers: IncomingHttpHeaders): string | undefined {
  if (headers[":method"] !== "CONNECT") return `:method must be CONNECT, got ${String(headers[":method"])}`;
  if (headers[":protocol"] !== "websocket") return `:protocol must be websocket, got ${String(headers[":protocol"])}`;
  if (headers[":scheme"] === undefined || headers[":path"] === undefined || headers[":authority"] === undefined) return "Missing :scheme, :path or :authority";
  if (headers["sec-websocket-version"] !== "13") return "sec-websocket-version must be 13";
  if (headers["sec-websocket-key"] !== undefined) return "sec-websocket-key is not used over HTTP/2 (RFC 8441 §5)";
  return undefined;
}

/** One header's value; a repeated header joined with `, `. */
export function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(", ") : value;
}
