/**
 * The fuzzing server: tests a client by playing the server's side of each case. It speaks the
 * Autobahn TestSuite's client protocol, so a driver written for the real fuzzing server works
 * here unchanged:
 *
 * - `GET /getCaseCount`: one text message with the number of cases, then a Close (1000).
 * - `GET /runCase?case=N&agent=NAME`: case N (1-based); the client echoes every message.
 * - `GET /updateReports?agent=NAME`: a Close (1000); marks the agent's run as finished.
 *
 * With `http2` it serves the same protocol over HTTP/2: each `GET` above is an extended CONNECT
 * stream (RFC 8441) with that `:path`.
 *
 * @module
 */
import type { Http2Server, ServerHttp2Session } from "node:http2";
import { createServer, type Server as NetServer, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { CaseDefinition, CaseResult } from "./case.ts";
import { negotiateAsServer } from "./deflate.ts";
import { Opcode } from "./frame.ts";
import { answerUpgrade, readRequest } from "./handshake.ts";
import { answerConnect, createHttp2Server, headerValue, refuseStream } from "./http2.ts";
import { limit } from "./cases/helpers.ts";
import { runCase } from "./session.ts";

/** Options of {@link startFuzzingServer}. */
export interface FuzzingServerOptions {
  readonly cases: readonly CaseDefinition[];
  /** Default 0: a free port. */
  readonly port?: number;
  /** Default `127.0.0.1`. */
  readonly hostname?: string;
  /** Called after each case with the agent that ran it. */
  readonly onResult?: (agent: string, result: CaseResult) => void;
  /** Called when an agent asks for `/updateReports`, with its results. */
  readonly onReportsRequested?: (agent: string, results: CaseResult[]) => void;
  /** Milliseconds a client may take to send its request head. Default 5000. */
  readonly handshakeTimeoutMs?: number;
  /**
   * Serve over cleartext HTTP/2 (h2c with prior knowledge) instead of HTTP/1.1: SETTINGS enable
   * the extended CONNECT protocol and every case runs on an extended CONNECT stream (RFC 8441).
   * Only HTTP/2 is spoken then, so a client that fell back to HTTP/1.1 fails every case.
   * Default false.
   */
  readonly http2?: boolean;
}

// An opening handshake the fuzzing server has read, over HTTP/1.1 or HTTP/2.
interface Incoming {
  readonly target: string;
  /** The client's Sec-WebSocket-Extensions. */
  readonly extensions: string | undefined;
  readonly socket: Duplex;
  readonly rest: Uint8Array;
  /** Answers the handshake (with `extensions` agreed); false when the request was refused instead. */
  accept(extensions?: string): boolean;
  notFound(): void;
}

/** A running fuzzing server. */
export interface FuzzingServer {
  readonly port: number;
  /** `ws://HOST:PORT`, for the client driver's `--url`. */
  readonly url: string;
  /** The results so far of `agent`, in case order. */
  results(agent: string): CaseResult[];
  /** Resolves with the agent's results once it asked for `/updateReports`. */
  finished(agent: string): Promise<CaseResult[]>;
  /** Stops listening and drops every connection. */
  close(): Promise<void>;
}

/** Starts a fuzzing server for `cases`. */
export async function startFuzzingServer(options: FuzzingServerOptions): Promise<FuzzingServer> {
  const { cases } = options;
  const byAgent = new Map<string, Map<number, CaseResult>>();
  const finishedAgents = new Set<string>();
  const waiters = new Map<string, Array<() => void>>();
  let dropAll = (): void => undefined;
  const handshakeTimeout = options.handshakeTimeoutMs ?? 5000;

  const resultsOf = (agent: string): CaseResult[] =>
    [...(byAgent.get(agent) ?? new Map<number, CaseResult>()).entries()].sort(([a], [b]) => a - b).map(([, r]) => r);

  const markFinished = (agent: string): void => {
    finishedAgents.add(agent);
    options.onReportsRequested?.(agent, resultsOf(agent));
    for (const wake of waiters.get(agent) ?? []) wake();
    waiters.delete(agent);
  };

  // One connection of the protocol, whichever HTTP version brought it.
  const handle = async (incoming: Incoming): Promise<void> => {
    const target = new URL(incoming.target, "ws://fuzzing-server");
    const agent = target.searchParams.get("agent") ?? "unknown";
    const route = target.pathname;
    if (route === "/runCase") {
      const n = Number(target.searchParams.get("case"));
      const definition = Number.isInteger(n) ? cases[n - 1] : undefined;
      if (definition === undefined) {
        incoming.notFound();
        return;
      }
      // permessage-deflate only in the cases that negotiate it; the others decline every offer.
      const negotiation = definition.deflate === undefined ? undefined : negotiateAsServer(incoming.extensions, definition.deflate);
      if (!incoming.accept(negotiation?.agreement?.response)) return;
      const result = await runCase(definition, incoming.socket, incoming.rest, "server", negotiation);
      let results = byAgent.get(agent);
      if (results === undefined) byAgent.set(agent, (results = new Map()));
      results.set(n, result);
      options.onResult?.(agent, result);
      return;
    }
    if (route === "/getCaseCount" || route === "/updateReports") {
      if (!incoming.accept()) return;
      const count = route === "/getCaseCount" ? String(cases.length) : undefined;
      await runCase(controlCase(count), incoming.socket, incoming.rest, "server");
      if (route === "/updateReports") markFinished(agent);
      return;
    }
    incoming.notFound();
  };

  let server: NetServer | Http2Server;
  if (options.http2 === true) {
    const sessions = new Set<ServerHttp2Session>();
    const h2 = createHttp2Server(({ stream, target, headers }) => {
      handle({
        target,
        extensions: headerValue(headers["sec-websocket-extensions"]),
        socket: stream,
        rest: new Uint8Array(0),
        accept(extensions) {
          answerConnect(stream, extensions);
          return true;
        },
        notFound: () => refuseStream(stream, 404),
      }).catch(() => stream.destroy());
    });
    h2.on("session", (session) => {
      sessions.add(session);
      session.once("close", () => sessions.delete(session));
    });
    dropAll = () => {
      for (const session of sessions) session.destroy();
    };
    server = h2;
  } else {
    const sockets = new Set<Socket>();
    server = createServer({ allowHalfOpen: true }, (socket) => {
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
      socket.on("error", () => undefined);
      socket.setNoDelay(true);
      readRequest(socket, handshakeTimeout)
        .then(({ request, rest }) =>
          handle({
            target: request.target,
            extensions: request.headers.get("sec-websocket-extensions"),
            socket,
            rest,
            accept: (extensions) => answerUpgrade(socket, request, extensions) === undefined,
            notFound: () => socket.end(`HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`),
          }),
        )
        .catch(() => socket.destroy());
    });
    dropAll = () => {
      for (const socket of sockets) socket.destroy();
    };
  }
  const hostname = options.hostname ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, hostname, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return {
    port,
    url: `ws://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`,
    results: resultsOf,
    finished(agent) {
      if (finishedAgents.has(agent)) return Promise.resolve(resultsOf(agent));
      return new Promise((resolve) => {
        const list = waiters.get(agent) ?? [];
        list.push(() => resolve(resultsOf(agent)));
        waiters.set(agent, list);
      });
    },
    close() {
      dropAll();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

// The protocol's own connections: optionally one text message, then the harness closes.
function controlCase(text: string | undefined): CaseDefinition {
  return {
    id: "control",
    description: "Fuzzing server protocol connection",
    expectation: "",
    close: { byHarness: true, codes: [1000], requireClean: false },
    timeoutMs: limit(1000),
    async run(ctx) {
      if (text !== undefined) await ctx.send({ opcode: Opcode.Text, payload: text });
      await ctx.close(1000);
    },
  };
}
