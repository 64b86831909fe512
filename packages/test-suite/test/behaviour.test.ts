/**
 * The shared behaviour suite (STYLE.md practice 13): the same cases for every runtime, as server
 * and as client, against real processes. Each runtime's behaviour server
 * (`src/behaviour/server.<runtime>.ts`) is spawned once on port 0; each runtime's client program
 * (`src/behaviour/client.<runtime>.ts`) is spawned once per server and prints one JSON line per
 * scenario. `ws`, the Node reference, plays both roles in this process, so every adapter is also
 * checked against an implementation that shares no code with it. The matrix is
 * {node, deno, bun, ws} servers × {node, deno, bun, ws} clients without ws × ws.
 *
 * The programs report what they observed; the assertions are all here.
 */
import type { ChildProcess } from "node:child_process";
import { createServer, type IncomingMessage, STATUS_CODES } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type RawData, WebSocket, WebSocketServer } from "ws";
import {
  BEHAVIOUR_HEADER,
  MAX_MESSAGE_SIZE,
  PATHS,
  REJECT_BODY,
  REJECT_STATUS,
  type RequestInfo,
  SERVER_CLOSE,
  type ServerEvent,
} from "../src/behaviour/behaviour.ts";
import {
  compressionMessages,
  digest,
  echoMessages,
  expectedCompressionDigests,
  expectedDigests,
  type MessageDigest,
} from "../src/behaviour/messages.ts";
import {
  CLIENT_CLOSE,
  describeError,
  OFFERED_PROTOCOLS,
  SCENARIO_PATH,
  SCENARIO_TIMEOUT_MS,
  scenarioQuery,
  SCENARIOS,
  type ScenarioName,
  type ScenarioResult,
  type Settled,
  TEST_HEADER_VALUE,
} from "../src/behaviour/scenarios.ts";
import { ROOT, type Runtime, RUNTIMES, type Spawned, spawnCommand } from "../src/runtimes.ts";

type Peer = Runtime | "ws";
const PEERS: readonly Peer[] = [...RUNTIMES, "ws"];

/** Every bound, in milliseconds. */
const SERVER_START_MS = 30_000;
const CLIENT_RUN_MS = SCENARIOS.length * SCENARIO_TIMEOUT_MS + 10_000;
/** After its last line, how long a client program gets to exit by itself before it is stopped. */
const CLIENT_EXIT_MS = 5_000;
const SERVER_EVENT_MS = 5_000;
/** A test may wait for the client runs queued before its own. */
const TEST_MS = 90_000;
/** Client runs at a time: each spawns a runtime, and the machine may have 2 cores. */
const CLIENT_CONCURRENCY = 3;

const BEHAVIOUR = join(ROOT, "packages/test-suite/src/behaviour");
const DENO = "deno run --conditions=wsstream-source --config packages/deno/deno.json";
const serverCommand: Record<Runtime, string> = {
  node: `tsx --conditions=wsstream-source ${BEHAVIOUR}/server.node.ts`,
  deno: `${DENO} --allow-net=127.0.0.1 --allow-env=PORT ${BEHAVIOUR}/server.deno.ts`,
  bun: `bun --conditions=wsstream-source ${BEHAVIOUR}/server.bun.ts`,
};
const clientCommand: Record<Runtime, string> = {
  node: `tsx --conditions=wsstream-source ${BEHAVIOUR}/client.node.ts`,
  deno: `${DENO} --allow-net=127.0.0.1 ${BEHAVIOUR}/client.deno.ts`,
  bun: `bun --conditions=wsstream-source ${BEHAVIOUR}/client.bun.ts`,
};

// ---------------------------------------------------------------------------------------------
// Servers

/** A running behaviour server and what it reported. */
interface BehaviourServer {
  readonly url: string;
  /** The first event about the connection whose query is `query` (bounded wait). */
  event(query: string): Promise<ServerEvent>;
  /** What it printed, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/** Server events as they arrive, and waiters for the ones not yet seen. */
class EventLog {
  readonly #events: ServerEvent[] = [];
  readonly #waiters = new Set<() => void>();

  push(event: ServerEvent): void {
    this.#events.push(event);
    for (const wake of this.#waiters) wake();
  }

  async find(query: string, describe: () => string): Promise<ServerEvent> {
    const found = (): ServerEvent | undefined => this.#events.find((event) => event.query === query);
    const event = found();
    if (event !== undefined) return event;
    return new Promise((resolve, reject) => {
      const wake = (): void => {
        const match = found();
        if (match === undefined) return;
        finish();
        resolve(match);
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`The server reported nothing about ${query} within ${SERVER_EVENT_MS} ms. ${describe()}`));
      }, SERVER_EVENT_MS);
      const finish = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(wake);
      };
      this.#waiters.add(wake);
    });
  }
}

/** Calls `onLine` for each line `child` prints on stdout. */
function onStdoutLine(child: ChildProcess, onLine: (line: string) => void): void {
  createInterface({ input: child.stdout!, crlfDelay: Infinity }).on("line", onLine);
}

/** Spawns `runtime`'s behaviour server on port 0 and waits for its `listening on` line. */
async function startProcessServer(runtime: Runtime): Promise<BehaviourServer> {
  const spawned = spawnCommand(serverCommand[runtime], { PORT: "0" });
  processes.add(spawned);
  const log = new EventLog();
  const describe = (): string => `Output of the ${runtime} server:\n${spawned.output()}`;
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`The ${runtime} server did not listen within ${SERVER_START_MS} ms. ${describe()}`)), SERVER_START_MS);
    void spawned.exited.then((code) => reject(new Error(`The ${runtime} server exited with ${code}. ${describe()}`)));
    onStdoutLine(spawned.child, (line) => {
      const listening = /^listening on (ws:\/\/127\.0\.0\.1:\d+)$/.exec(line);
      if (listening !== null) {
        clearTimeout(timer);
        resolve(listening[1]!);
      } else if (line.startsWith("{")) {
        log.push(JSON.parse(line) as ServerEvent);
      }
    });
  });
  return {
    url,
    event: (query) => log.find(query, describe),
    output: spawned.output,
    stop: () => spawned.stop(),
  };
}

/** The behaviour server of `behaviour.ts`, written again on `ws` in this process. */
async function startWsServer(): Promise<BehaviourServer> {
  const log = new EventLog();
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_MESSAGE_SIZE,
    // permessage-deflate, accepted whenever a client offers it, like our servers.
    perMessageDeflate: { threshold: 0 },
    handleProtocols: (protocols) => [...protocols].at(-1) ?? false,
  });
  wss.on("headers", (headers) => headers.push(`${BEHAVIOUR_HEADER}: ws`));
  const http = createServer((_request, response) => response.writeHead(426).end());
  http.on("upgrade", (request: IncomingMessage, socket, head) => {
    // node:http leaves the upgraded socket without an error listener; a client that drops a
    // refused handshake without reading the body resets it.
    socket.on("error", () => {});
    const url = new URL(request.url ?? "/", "http://127.0.0.1");
    if (url.pathname === "/reject" || !PATHS.includes(url.pathname)) {
      const status = url.pathname === "/reject" ? REJECT_STATUS : 404;
      const body = status === 404 ? "not found" : REJECT_BODY;
      log.push({ event: "rejected", path: url.pathname, query: url.search, status });
      socket.end(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: text/plain;charset=UTF-8\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      const { pathname: path, search: query } = url;
      ws.addEventListener("close", ({ code, reason, wasClean }) => log.push({ event: "closed", path, query, closeCode: code, reason, clean: wasClean }));
      if (path === "/info") {
        const header = request.headers["x-test"];
        const info: RequestInfo = { path, query, header: Array.isArray(header) ? header.join(", ") : header ?? null, protocol: ws.protocol };
        ws.send(JSON.stringify(info));
      }
      let closing = false;
      ws.on("message", (data, isBinary) => {
        if (path !== "/server-close") ws.send(data, { binary: isBinary });
        else if (!closing) {
          closing = true;
          ws.close(SERVER_CLOSE.closeCode, SERVER_CLOSE.reason);
        }
      });
    });
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    event: (query) => log.find(query, () => "(the in-process ws server)"),
    output: () => "(the in-process ws server)",
    stop: async () => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      const closed = new Promise<void>((resolve) => http.close(() => resolve()));
      http.closeAllConnections();
      await closed;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Clients

/** What one client printed against one server. */
interface ClientRun {
  readonly results: ReadonlyMap<ScenarioName, ScenarioResult>;
  /** The program's output (or a note for the ws client), for failure messages. */
  readonly output: string;
}

/**
 * Spawns `runtime`'s client program against `url` and reads its results until it printed every
 * scenario (then it gets a moment to exit by itself), exited, or ran out of time.
 */
async function runProcessClient(runtime: Runtime, url: string): Promise<ClientRun> {
  const spawned = spawnCommand(`${clientCommand[runtime]} --url ${url}`);
  processes.add(spawned);
  const results = new Map<ScenarioName, ScenarioResult>();
  let allPrinted!: () => void;
  const printed = new Promise<"printed">((resolve) => (allPrinted = () => resolve("printed")));
  onStdoutLine(spawned.child, (line) => {
    if (!line.startsWith("{")) return;
    const result = JSON.parse(line) as ScenarioResult;
    results.set(result.scenario, result);
    if (results.size === SCENARIOS.length) allPrinted();
  });
  // 'close' comes after stdout is drained, so every line has been read by then.
  const closed = new Promise<string>((resolve) => spawned.child.once("close", (code, signal) => resolve(`exited with ${code ?? signal}`)));
  const first = await Promise.race([closed, printed, delay(CLIENT_RUN_MS).then(() => "timeout" as const)]);
  let ending: string;
  if (first === "timeout") ending = `printed ${results.size} of ${SCENARIOS.length} results in ${CLIENT_RUN_MS} ms and was stopped`;
  else if (first === "printed") {
    const exit = await Promise.race([closed, delay(CLIENT_EXIT_MS).then(() => undefined)]);
    ending = exit ?? `printed every result but did not exit within ${CLIENT_EXIT_MS} ms, and was stopped`;
  } else ending = first;
  await spawned.stop(1000);
  processes.delete(spawned);
  return { results, output: `The ${runtime} client ${ending}. Output:\n${spawned.output()}` };
}

/** Every ws client connection not yet closed, so a timed-out scenario leaves nothing open. */
const wsClients = new Set<WebSocket>();
function track(ws: WebSocket): WebSocket {
  wsClients.add(ws);
  ws.once("close", () => wsClients.delete(ws));
  return ws;
}

/** A `ws` connection with its messages as a queue and its close as a promise. */
class WsConnection {
  readonly ws: WebSocket;
  readonly opened: Promise<void>;
  readonly closed: Promise<Settled<{ closeCode: number; reason: string }>>;
  /** The server's `X-Behaviour` response header. */
  behaviourHeader: string | undefined;
  readonly #messages: Array<string | Uint8Array> = [];
  #wake: (() => void) | undefined;
  #ended = false;

  constructor(url: string, protocols: readonly string[] = [], headers: Record<string, string> = {}, perMessageDeflate = false) {
    this.ws = track(new WebSocket(url, [...protocols], { headers, maxPayload: MAX_MESSAGE_SIZE, perMessageDeflate }));
    this.ws.on("upgrade", (response) => {
      this.behaviourHeader = response.headers[BEHAVIOUR_HEADER.toLowerCase()] as string | undefined;
    });
    this.ws.on("message", (data: RawData, isBinary) => {
      const buffer = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      this.#messages.push(isBinary ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength) : buffer.toString("utf8"));
      this.#wake?.();
    });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once("open", () => resolve());
      this.ws.once("error", reject);
    });
    this.opened.catch(() => {});
    this.closed = new Promise((resolve) => {
      this.ws.addEventListener("close", ({ code, reason, wasClean }) => {
        this.#ended = true;
        this.#wake?.();
        resolve(wasClean
          ? { status: "resolved", value: { closeCode: code, reason } }
          : { status: "rejected", error: { name: "CloseEvent", message: "not clean", closeCode: code, reason } });
      });
    });
  }

  /** The next message, or `undefined` once the connection ended. */
  async next(): Promise<string | Uint8Array | undefined> {
    while (this.#messages.length === 0 && !this.#ended) {
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
    }
    return this.#messages.shift();
  }

  async roundTrip(message: string | Uint8Array): Promise<string | Uint8Array | undefined> {
    this.ws.send(message, { binary: typeof message !== "string" });
    return this.next();
  }
}

/** The scenarios of `scenarios.ts`, written again on `ws`, with results of the same shape. */
const wsScenarios: Record<ScenarioName, (url: string, details: Record<string, unknown>) => Promise<void>> = {
  async compression(url, details) {
    const conn = new WsConnection(url, [], {}, true);
    await conn.opened;
    details.extensions = conn.ws.extensions;
    const received: MessageDigest[] = [];
    details.received = received;
    for (const message of compressionMessages()) {
      const echoed = await conn.roundTrip(message.data);
      if (echoed === undefined) break;
      received.push(await digest(message.name, echoed));
    }
    conn.ws.close(1000, "done");
    details.closed = await conn.closed;
  },
  async echo(url, details) {
    const conn = new WsConnection(url);
    await conn.opened;
    const received: MessageDigest[] = [];
    details.received = received;
    for (const message of echoMessages()) {
      const echoed = await conn.roundTrip(message.data);
      if (echoed === undefined) break;
      received.push(await digest(message.name, echoed));
    }
    conn.ws.close(1000, "done");
    details.closed = await conn.closed;
  },
  async "subprotocol-offered"(url, details) {
    const conn = new WsConnection(url, OFFERED_PROTOCOLS);
    await conn.opened;
    Object.assign(details, { offered: OFFERED_PROTOCOLS, protocol: conn.ws.protocol, behaviourHeader: conn.behaviourHeader });
    conn.ws.close(1000, "done");
    details.closed = await conn.closed;
  },
  async "subprotocol-none"(url, details) {
    const conn = new WsConnection(url);
    await conn.opened;
    Object.assign(details, { offered: [], protocol: conn.ws.protocol, behaviourHeader: conn.behaviourHeader });
    conn.ws.close(1000, "done");
    details.closed = await conn.closed;
  },
  async "request-info"(url, details) {
    const conn = new WsConnection(url, ["info"], { "X-Test": TEST_HEADER_VALUE });
    await conn.opened;
    details.protocol = conn.ws.protocol;
    const first = await conn.next();
    details.info = typeof first === "string" ? JSON.parse(first) : first === undefined ? null : { binary: first.length };
    details.echoed = await conn.roundTrip("after info") ?? null;
    conn.ws.close(1000, "done");
    details.closed = await conn.closed;
  },
  // ws reports a refusal as 'unexpected-response'; handling it means ending the request here.
  async rejection(url, details) {
    const ws = track(new WebSocket(url));
    details.unexpectedResponse = await new Promise((resolve) => {
      ws.once("open", () => resolve(null));
      ws.on("error", (error) => resolve({ error: describeError(error) }));
      ws.once("unexpected-response", (request, response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => (body += chunk));
        response.on("end", () => {
          request.destroy();
          resolve({ status: response.statusCode, body });
        });
      });
    });
    ws.terminate();
  },
  async "client-close"(url, details) {
    const conn = new WsConnection(url);
    await conn.opened;
    details.echoed = await conn.roundTrip("before close") ?? null;
    conn.ws.close(CLIENT_CLOSE.closeCode, CLIENT_CLOSE.reason);
    details.closed = await conn.closed;
  },
  async "server-close"(url, details) {
    const conn = new WsConnection(url);
    await conn.opened;
    const read = await conn.roundTrip("hello");
    details.read = { status: "resolved", value: read === undefined ? "ended" : { message: typeof read } };
    details.closed = await conn.closed;
  },
};

/** Runs every scenario with `ws` against `url`, each bounded like the programs' own. */
async function runWsClient(url: string): Promise<ClientRun> {
  const results = new Map<ScenarioName, ScenarioResult>();
  for (const scenario of SCENARIOS) {
    const details: Record<string, unknown> = {};
    const query = scenarioQuery(scenario);
    details.query = query;
    let ok = true;
    try {
      const outcome = await Promise.race([wsScenarios[scenario](`${url}${SCENARIO_PATH[scenario]}${query}`, details), delay(SCENARIO_TIMEOUT_MS).then(() => "timeout")]);
      if (outcome === "timeout") {
        ok = false;
        details.timedOut = SCENARIO_TIMEOUT_MS;
      }
    } catch (error) {
      ok = false;
      details.error = describeError(error);
    }
    if (!ok) for (const ws of wsClients) ws.terminate();
    results.set(scenario, { scenario, ok, details });
  }
  return { results, output: "(the in-process ws client)" };
}

// ---------------------------------------------------------------------------------------------
// The matrix

const processes = new Set<Spawned>();
const servers = new Map<Peer, BehaviourServer>();
const runs = new Map<string, Promise<ClientRun>>();
const pairs = PEERS.flatMap((server) => PEERS.filter((client) => !(server === "ws" && client === "ws")).map((client) => ({ server, client })));
const pairKey = (server: Peer, client: Peer): string => `${client}→${server}`;

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

let active = 0;
const queued: Array<() => void> = [];
async function slot<T>(work: () => Promise<T>): Promise<T> {
  if (active >= CLIENT_CONCURRENCY) await new Promise<void>((resolve) => queued.push(resolve));
  active++;
  try {
    return await work();
  } finally {
    active--;
    queued.shift()?.();
  }
}

beforeAll(async () => {
  const started = await Promise.allSettled(PEERS.map(async (peer) => {
    servers.set(peer, peer === "ws" ? await startWsServer() : await startProcessServer(peer));
  }));
  // Client runs start now, a few at a time, in the order the tests read them.
  for (const { server, client } of pairs) {
    const target = servers.get(server);
    const run = target === undefined
      ? Promise.reject(new Error(`The ${server} server did not start`))
      : slot(() => (client === "ws" ? runWsClient(target.url) : runProcessClient(client, target.url)));
    run.catch(() => {});
    runs.set(pairKey(server, client), run);
  }
  const failed = started.filter((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed.length > 0) throw new AggregateError(failed.map((f) => f.reason), "A behaviour server did not start");
}, SERVER_START_MS + 10_000);

afterAll(async () => {
  await Promise.allSettled(runs.values());
  for (const ws of wsClients) ws.terminate();
  await Promise.allSettled([...servers.values()].map((server) => server.stop()));
  await Promise.allSettled([...processes].map((spawned) => spawned.stop(1000)));
}, TEST_MS);

/** The pair's result for `scenario`, checked to have run to its end; `context` names it for failures. */
async function resultOf(server: Peer, client: Peer, scenario: ScenarioName): Promise<{ details: Record<string, unknown>; context: string }> {
  const run = await runs.get(pairKey(server, client))!;
  const result = run.results.get(scenario);
  const pair = `${client} client → ${server} server, ${scenario}`;
  expect(result, `${pair}: no result printed. ${run.output}`).toBeDefined();
  expect(result!.ok, `${pair}: the scenario did not run to its end: ${JSON.stringify(result!.details)}\n${run.output}`).toBe(true);
  return { details: result!.details, context: `${pair}: ${JSON.stringify(result!.details).slice(0, 2000)}` };
}

function serverEvent(server: Peer, details: Record<string, unknown>): Promise<ServerEvent> {
  return servers.get(server)!.event(details.query as string);
}

const resolvedWith = (value: Record<string, unknown>) => ({ status: "resolved", value: expect.objectContaining(value) });

for (const { server, client } of pairs) {
  it(`a ${client} client and a ${server} server echo every message kind`, async () => {
    const { details, context } = await resultOf(server, client, "echo");
    expect(details.received, context).toEqual(await expectedDigests());
    expect(details.closed, context).toEqual(resolvedWith({ closeCode: 1000 }));
    expect(await serverEvent(server, details), context).toMatchObject({ event: "closed", path: "/echo", closeCode: 1000, reason: "done", clean: true });
  }, TEST_MS);

  it(`a ${client} client and a ${server} server agree on permessage-deflate and echo compressible messages`, async () => {
    const { details, context } = await resultOf(server, client, "compression");
    expect(details.extensions, context).toMatch(/^permessage-deflate/);
    expect(details.received, context).toEqual(await expectedCompressionDigests());
    expect(details.closed, context).toEqual(resolvedWith({ closeCode: 1000 }));
  }, TEST_MS);

  it(`a ${server} server gives a ${client} client the last subprotocol offered, and none when none is offered`, async () => {
    const offered = await resultOf(server, client, "subprotocol-offered");
    expect(offered.details.protocol, offered.context).toBe("b");
    const none = await resultOf(server, client, "subprotocol-none");
    expect(none.details.protocol, none.context).toBe("");
    if (client === "ws") {
      // Only ws shows response headers: the server is the one this pair names.
      expect(offered.details.behaviourHeader, offered.context).toBe(server);
      expect(none.details.behaviourHeader, none.context).toBe(server);
    }
  }, TEST_MS);

  it(`a ${client} client's path, query and X-Test header reach a ${server} server`, async () => {
    const { details, context } = await resultOf(server, client, "request-info");
    const expected: RequestInfo = { path: "/info", query: details.query as string, header: TEST_HEADER_VALUE, protocol: "info" };
    expect(details.info, context).toEqual(expected);
    expect(details.protocol, context).toBe("info");
    expect(details.echoed, context).toBe("after info");
  }, TEST_MS);

  it(`a ${server} server's 403 on /reject rejects the opening of a ${client} client`, async () => {
    const { details, context } = await resultOf(server, client, "rejection");
    if (client === "ws") {
      expect(details.unexpectedResponse, context).toEqual({ status: REJECT_STATUS, body: REJECT_BODY });
    } else {
      const refused = {
        status: "rejected",
        error: expect.objectContaining({ name: "WebSocketError", cause: expect.objectContaining({ name: "HandshakeError", status: REJECT_STATUS }) }),
      };
      expect(details.opened, context).toEqual(refused);
      expect(details.closed, context).toEqual(refused);
    }
    expect(await serverEvent(server, details), context).toEqual({ event: "rejected", path: "/reject", query: details.query, status: REJECT_STATUS });
  }, TEST_MS);

  it(`a ${client} client closing with 4000 "client bye" closes a ${server} server cleanly with that code and reason`, async () => {
    const { details, context } = await resultOf(server, client, "client-close");
    expect(details.echoed, context).toBe("before close");
    expect(details.closed, context).toEqual(resolvedWith({ closeCode: CLIENT_CLOSE.closeCode }));
    expect(await serverEvent(server, details), context).toEqual({
      event: "closed",
      path: "/echo",
      query: details.query,
      closeCode: CLIENT_CLOSE.closeCode,
      reason: CLIENT_CLOSE.reason,
      clean: true,
    });
  }, TEST_MS);

  it(`a ${server} server closing with 4001 "server bye" gives a ${client} client that code and reason`, async () => {
    const { details, context } = await resultOf(server, client, "server-close");
    expect(details.read, context).toEqual({ status: "resolved", value: "ended" });
    expect(details.closed, context).toEqual({ status: "resolved", value: { closeCode: SERVER_CLOSE.closeCode, reason: SERVER_CLOSE.reason } });
    expect(await serverEvent(server, details), context).toMatchObject({ event: "closed", path: "/server-close", closeCode: SERVER_CLOSE.closeCode, clean: true });
  }, TEST_MS);
}
