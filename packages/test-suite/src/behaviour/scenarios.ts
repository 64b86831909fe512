/**
 * The client scenarios, written once for every runtime: `client.<runtime>.ts` hands in its
 * adapter's `WebSocketStream` and the `--url` of a behaviour server (see `behaviour.ts`), and
 * each scenario prints one JSON line, {@link ScenarioResult}. A scenario reports what it
 * observed, not a verdict: the test that spawned the program compares `details` with what it
 * expects. `ok` only says the scenario ran to its end (no timeout, no unexpected throw).
 *
 * Every connection's query carries `scenario` and a random `id`, so the test can find the
 * server's report of the same connection.
 *
 * Runtime-neutral: only Web APIs and the constructor passed in.
 *
 * @module
 */
import { MAX_MESSAGE_SIZE } from "./behaviour.ts";
import { compressionMessages, digest, echoMessages, type MessageDigest } from "./messages.ts";

/** The scenarios, in the order they run. */
export const SCENARIOS = [
  "echo",
  "subprotocol-offered",
  "subprotocol-none",
  "request-info",
  "rejection",
  "client-close",
  "server-close",
  "compression",
] as const;

export type ScenarioName = (typeof SCENARIOS)[number];

/** The behaviour server path each scenario opens. */
export const SCENARIO_PATH: Readonly<Record<ScenarioName, string>> = {
  echo: "/echo",
  "subprotocol-offered": "/echo",
  "subprotocol-none": "/echo",
  "request-info": "/info",
  rejection: "/reject",
  "client-close": "/echo",
  "server-close": "/server-close",
  compression: "/echo",
};

/**
 * A fresh query for one connection of `scenario`: the scenario, a random id (which the server's
 * report of the connection repeats) and, for `request-info`, a percent-encoded parameter.
 */
export function scenarioQuery(scenario: ScenarioName): string {
  const extra = scenario === "request-info" ? "&word=caf%C3%A9" : "";
  return `?scenario=${scenario}&id=${crypto.randomUUID()}${extra}`;
}

/** One printed line. */
export interface ScenarioResult {
  readonly scenario: ScenarioName;
  /** The scenario ran to its end; `details` says what happened. */
  readonly ok: boolean;
  readonly details: Record<string, unknown>;
}

/** The close the `client-close` scenario sends. */
export const CLIENT_CLOSE = { closeCode: 4000, reason: "client bye" } as const;

/** The `X-Test` header the `request-info` scenario sends. */
export const TEST_HEADER_VALUE = "v";

/** The subprotocols the `subprotocol-offered` scenario offers. */
export const OFFERED_PROTOCOLS: readonly string[] = ["a", "b"];

/** How long one scenario may take before it is reported as timed out. */
export const SCENARIO_TIMEOUT_MS = 10_000;

/** How an error looked: enough to tell a `WebSocketError` from a `HandshakeError` and why. */
export interface ErrorReport {
  readonly name: string;
  readonly message: string;
  readonly closeCode?: number | null;
  readonly reason?: string;
  readonly code?: string;
  readonly status?: number;
  readonly cause?: ErrorReport;
}

/** How a promise settled. */
export type Settled<T> = { readonly status: "resolved"; readonly value: T } | { readonly status: "rejected"; readonly error: ErrorReport };

/** The part of an adapter's `WebSocketStream` the scenarios use. */
export interface ClientStream {
  readonly opened: Promise<{
    readonly readable: ReadableStream<string | Uint8Array>;
    readonly writable: WritableStream<string | ArrayBuffer | ArrayBufferView>;
    readonly protocol: string;
    readonly extensions: string;
  }>;
  readonly closed: Promise<{ readonly closeCode?: number; readonly reason?: string }>;
  close(closeInfo?: { closeCode?: number; reason?: string }): void;
}

/** The options the scenarios pass. */
export interface ClientStreamOptions {
  readonly protocols?: readonly string[];
  readonly headers?: Readonly<Record<string, string>>;
  readonly maxMessageSize?: number;
  /** The adapter's `deflate()`, for the compression scenario (typed loosely: any adapter's). */
  readonly extensions?: readonly never[];
}

/** An adapter's `WebSocketStream` class. */
export type ClientStreamConstructor = new (url: string, options?: ClientStreamOptions) => ClientStream;

/** Describes an error (and its cause, one level down) as plain data. */
export function describeError(error: unknown, depth = 0): ErrorReport {
  if (typeof error !== "object" || error === null) return { name: typeof error, message: String(error) };
  const e = error as Record<string, unknown>;
  const report: { -readonly [K in keyof ErrorReport]: ErrorReport[K] } = {
    name: typeof e.name === "string" ? e.name : "unknown",
    message: typeof e.message === "string" ? e.message : String(error),
  };
  if (typeof e.closeCode === "number" || e.closeCode === null) report.closeCode = e.closeCode;
  if (typeof e.reason === "string") report.reason = e.reason;
  if (typeof e.code === "string") report.code = e.code;
  if (typeof e.status === "number") report.status = e.status;
  if (e.cause !== undefined && depth < 2) report.cause = describeError(e.cause, depth + 1);
  return report;
}

/** Waits for `promise` and says how it settled; `map` turns a value into plain data. */
export async function settle<T, U = T>(promise: Promise<T>, map: (value: T) => U = (value) => value as unknown as U): Promise<Settled<U>> {
  try {
    return { status: "resolved", value: map(await promise) };
  } catch (error) {
    return { status: "rejected", error: describeError(error) };
  }
}

const closeInfo = (info: { closeCode?: number; reason?: string }) => ({ closeCode: info.closeCode ?? null, reason: info.reason ?? "" });

/** One scenario's run: the connections it opened (closed on timeout) and what it observed. */
class Run {
  readonly details: Record<string, unknown> = {};
  readonly #streams: ClientStream[] = [];
  readonly #url: string;
  readonly #Stream: ClientStreamConstructor;
  readonly #scenario: ScenarioName;

  /** The adapter's permessage-deflate factory, offered by the compression scenario. */
  readonly extensions: readonly unknown[];

  constructor(Stream: ClientStreamConstructor, url: string, scenario: ScenarioName, extensions: readonly unknown[]) {
    this.extensions = extensions;
    this.#Stream = Stream;
    this.#url = url;
    this.#scenario = scenario;
  }

  /** Opens the scenario's path with a fresh {@link scenarioQuery}; records the query. */
  open(options: ClientStreamOptions = {}): ClientStream {
    const query = scenarioQuery(this.#scenario);
    this.details.query = query;
    const ws = new this.#Stream(`${this.#url}${SCENARIO_PATH[this.#scenario]}${query}`, options);
    this.#streams.push(ws);
    return ws;
  }

  /** Ends every connection still open, so a timed-out scenario leaves nothing behind. */
  abandon(): void {
    for (const ws of this.#streams) {
      try {
        ws.close({ closeCode: 1000, reason: "scenario timed out" });
      } catch {
        // Already closed.
      }
    }
  }
}

/** Sends `message`, then reads one message. */
async function roundTrip(
  writer: WritableStreamDefaultWriter<string | ArrayBuffer | ArrayBufferView>,
  reader: ReadableStreamDefaultReader<string | Uint8Array>,
  message: string | Uint8Array,
): Promise<string | Uint8Array | undefined> {
  await writer.write(message);
  const { value, done } = await reader.read();
  return done ? undefined : value;
}

const scenarios: Record<ScenarioName, (run: Run) => Promise<void>> = {
  // Every message kind and frame length boundary, one round trip each, on one connection.
  async echo(run) {
    const ws = run.open({ maxMessageSize: MAX_MESSAGE_SIZE });
    const { readable, writable } = await ws.opened;
    const reader = readable.getReader();
    const writer = writable.getWriter();
    const received: MessageDigest[] = [];
    run.details.received = received;
    for (const message of echoMessages()) {
      const echoed = await roundTrip(writer, reader, message.data);
      if (echoed === undefined) {
        run.details.endedEarly = true;
        break;
      }
      received.push(await digest(message.name, echoed));
    }
    ws.close({ closeCode: 1000, reason: "done" });
    run.details.closed = await settle(ws.closed, closeInfo);
  },

  // permessage-deflate: offered, agreed, and compressible messages echoed intact.
  async compression(run) {
    const ws = run.open({ maxMessageSize: MAX_MESSAGE_SIZE, extensions: run.extensions as readonly never[] });
    const { readable, writable, extensions } = await ws.opened;
    run.details.extensions = extensions;
    const reader = readable.getReader();
    const writer = writable.getWriter();
    const received: MessageDigest[] = [];
    run.details.received = received;
    for (const message of compressionMessages()) {
      const echoed = await roundTrip(writer, reader, message.data);
      if (echoed === undefined) break;
      received.push(await digest(message.name, echoed));
    }
    ws.close({ closeCode: 1000, reason: "done" });
    run.details.closed = await settle(ws.closed, closeInfo);
  },

  async "subprotocol-offered"(run) {
    const ws = run.open({ protocols: OFFERED_PROTOCOLS });
    run.details.offered = OFFERED_PROTOCOLS;
    run.details.protocol = (await ws.opened).protocol;
    ws.close({ closeCode: 1000, reason: "done" });
    run.details.closed = await settle(ws.closed, closeInfo);
  },

  async "subprotocol-none"(run) {
    const ws = run.open();
    run.details.offered = [];
    run.details.protocol = (await ws.opened).protocol;
    ws.close({ closeCode: 1000, reason: "done" });
    run.details.closed = await settle(ws.closed, closeInfo);
  },

  // What the server saw of path, query, header and subprotocol; then that it echoes.
  async "request-info"(run) {
    const ws = run.open({ headers: { "X-Test": TEST_HEADER_VALUE }, protocols: ["info"] });
    const { readable, writable, protocol } = await ws.opened;
    run.details.protocol = protocol;
    const reader = readable.getReader();
    const first = await reader.read();
    run.details.info = first.done ? null : typeof first.value === "string" ? JSON.parse(first.value) : { binary: first.value.length };
    run.details.echoed = await roundTrip(writable.getWriter(), reader, "after info") ?? null;
    ws.close({ closeCode: 1000, reason: "done" });
    run.details.closed = await settle(ws.closed, closeInfo);
  },

  async rejection(run) {
    const ws = run.open();
    run.details.opened = await settle(ws.opened, ({ protocol }) => ({ protocol }));
    if ((run.details.opened as Settled<unknown>).status === "resolved") ws.close({ closeCode: 1000, reason: "should not open" });
    run.details.closed = await settle(ws.closed, closeInfo);
  },

  async "client-close"(run) {
    const ws = run.open();
    const { readable, writable } = await ws.opened;
    run.details.echoed = await roundTrip(writable.getWriter(), readable.getReader(), "before close") ?? null;
    ws.close(CLIENT_CLOSE);
    run.details.closed = await settle(ws.closed, closeInfo);
  },

  // The server closes after the first message, without echoing it: the readable just ends.
  async "server-close"(run) {
    const ws = run.open();
    const { readable, writable } = await ws.opened;
    const reader = readable.getReader();
    await writable.getWriter().write("hello");
    const read = await settle(reader.read(), ({ done, value }) => (done ? "ended" : { message: typeof value }));
    run.details.read = read;
    run.details.closed = await settle(ws.closed, closeInfo);
  },
};

/**
 * Runs every scenario, one after the other, against the behaviour server at `url`
 * (`ws://127.0.0.1:PORT`), and prints each result as one JSON line.
 */
export async function runScenarios(
  Stream: ClientStreamConstructor,
  url: string,
  extensions: readonly unknown[],
  print: (line: string) => void = (line) => console.log(line),
): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = [];
  for (const scenario of SCENARIOS) {
    const run = new Run(Stream, url, scenario, extensions);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), SCENARIO_TIMEOUT_MS);
    });
    let ok = true;
    try {
      if (await Promise.race([scenarios[scenario](run), timeout]) === "timeout") {
        ok = false;
        run.details.timedOut = SCENARIO_TIMEOUT_MS;
        run.abandon();
      }
    } catch (error) {
      ok = false;
      run.details.error = describeError(error);
      run.abandon();
    } finally {
      clearTimeout(timer);
    }
    const result: ScenarioResult = { scenario, ok, details: run.details };
    results.push(result);
    print(JSON.stringify(result));
  }
  return results;
}

/** The `--url ws://HOST:PORT` argument, without a trailing slash. */
export function urlArgument(args: readonly string[]): string {
  const index = args.indexOf("--url");
  const url = index === -1 ? undefined : args[index + 1];
  if (url === undefined || !/^wss?:\/\/[^/]+\/?$/.test(url)) {
    throw new Error(`Usage: --url ws://HOST:PORT (got: ${args.join(" ")})`);
  }
  return url.replace(/\/$/, "");
}
