/**
 * The fuzzing server: tests a client by playing the server's side of each case. It speaks the
 * Autobahn TestSuite's client protocol, so a driver written for the real fuzzing server works
 * here unchanged:
 *
 * - `GET /getCaseCount`: one text message with the number of cases, then a Close (1000).
 * - `GET /runCase?case=N&agent=NAME`: case N (1-based); the client echoes every message.
 * - `GET /updateReports?agent=NAME`: a Close (1000); marks the agent's run as finished.
 *
 * @module
 */
import { createServer, type Socket } from "node:net";
import type { CaseDefinition, CaseResult } from "./case.ts";
import { negotiateAsServer } from "./deflate.ts";
import { Opcode } from "./frame.ts";
import { answerUpgrade, readRequest } from "./handshake.ts";
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
  const sockets = new Set<Socket>();
  const handshakeTimeout = options.handshakeTimeoutMs ?? 5000;

  const resultsOf = (agent: string): CaseResult[] =>
    [...(byAgent.get(agent) ?? new Map<number, CaseResult>()).entries()].sort(([a], [b]) => a - b).map(([, r]) => r);

  const markFinished = (agent: string): void => {
    finishedAgents.add(agent);
    options.onReportsRequested?.(agent, resultsOf(agent));
    for (const wake of waiters.get(agent) ?? []) wake();
    waiters.delete(agent);
  };

  const handle = async (socket: Socket): Promise<void> => {
    socket.setNoDelay(true);
    const { request, rest } = await readRequest(socket, handshakeTimeout);
    const target = new URL(request.target, "ws://fuzzing-server");
    const agent = target.searchParams.get("agent") ?? "unknown";
    const route = target.pathname;
    if (route === "/runCase") {
      const n = Number(target.searchParams.get("case"));
      const definition = Number.isInteger(n) ? cases[n - 1] : undefined;
      if (definition === undefined) {
        socket.end(`HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
        return;
      }
      // permessage-deflate only in the cases that negotiate it; the others decline every offer.
      const negotiation = definition.deflate === undefined ? undefined : negotiateAsServer(request.headers.get("sec-websocket-extensions"), definition.deflate);
      if (answerUpgrade(socket, request, negotiation?.agreement?.response) !== undefined) return;
      const result = await runCase(definition, socket, rest, "server", negotiation);
      let results = byAgent.get(agent);
      if (results === undefined) byAgent.set(agent, (results = new Map()));
      results.set(n, result);
      options.onResult?.(agent, result);
      return;
    }
    if (route === "/getCaseCount" || route === "/updateReports") {
      if (answerUpgrade(socket, request) !== undefined) return;
      const count = route === "/getCaseCount" ? String(cases.length) : undefined;
      await runCase(controlCase(count), socket, rest, "server");
      if (route === "/updateReports") markFinished(agent);
      return;
    }
    socket.end(`HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
  };

  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    handle(socket).catch(() => socket.destroy());
  });
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
      for (const socket of sockets) socket.destroy();
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
