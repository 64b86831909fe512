/**
 * The Autobahn TestSuite client protocol, written once for every runtime's driver: `node.ts`,
 * `deno.ts` and `bun.ts` only hand in their adapter's `WebSocketStream`, `WebSocket` and
 * `deflate`. `--api stream` (the default) runs every case through `WebSocketStream`,
 * `--api websocket` through the WHATWG `WebSocket`.
 *
 * The protocol: `/getCaseCount` sends the number of cases as a text message; each case N runs
 * on `/runCase?case=N&agent=NAME`, where the driver echoes every message (text as text, binary
 * as binary) until the server closes; `/updateReports?agent=NAME` asks the server to write its
 * reports. Case verdicts are the fuzzing server's to judge.
 *
 * `--http2` (Node only) opens every WebSocket with `{ http2: true }`: over HTTP/2 (RFC 8441),
 * each on a new session, for the fuzzing server's HTTP/2 mode (`conformance --serve --http2`).
 *
 * @module
 */

/** The part of an adapter's `WebSocketStream` the driver uses. */
interface DriverStream {
  readonly opened: Promise<{
    readonly readable: ReadableStream<string | Uint8Array>;
    readonly writable: WritableStream<string | ArrayBuffer | ArrayBufferView>;
  }>;
  readonly closed: Promise<unknown>;
}

/** An adapter's `WebSocketStream` constructor, as far as the driver needs it. */
export type DriverStreamConstructor = new (
  url: string,
  options: { maxMessageSize: number; extensions: readonly never[]; http2?: true },
) => DriverStream;

/** The part of an adapter's `WebSocket` the driver uses. */
interface DriverSocket {
  binaryType: string;
  onmessage: ((this: never, event: MessageEvent) => unknown) | null;
  onclose: ((this: never, event: never) => unknown) | null;
  send(data: string | ArrayBuffer): void;
}

/** An adapter's `WebSocket` constructor, as far as the driver needs it. */
export type DriverSocketConstructor = new (
  url: string,
  protocols: undefined,
  options: { maxMessageSize: number; extensions: readonly never[]; http2?: true },
) => DriverSocket;

/** The interfaces an adapter hands the driver. */
export interface DriverApis {
  readonly WebSocketStream: DriverStreamConstructor;
  readonly WebSocket: DriverSocketConstructor;
}

/**
 * The `--url`, `--agent` and `--api` values (`--name VALUE` or `--name=VALUE`, else the
 * defaults) and the `--http2` flag, which throws unless the adapter supports HTTP/2 (`http2`).
 */
export function driverArguments(
  args: readonly string[],
  defaultAgent: string,
  supports: { http2?: boolean } = {},
): { url: string; agent: string; api: "stream" | "websocket"; http2: boolean } {
  const list = args.filter((arg) => arg !== "--");
  const value = (name: string, fallback: string): string => {
    const at = list.indexOf(`--${name}`);
    if (at !== -1 && list[at + 1] !== undefined) return list[at + 1]!;
    return list.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
  };
  const api = value("api", "stream");
  if (api !== "stream" && api !== "websocket") throw new Error(`--api must be stream or websocket: ${api}`);
  const http2 = list.includes("--http2");
  if (http2 && supports.http2 !== true) throw new Error("--http2: this runtime's adapter has no HTTP/2 client");
  return { url: value("url", "ws://127.0.0.1:9001"), agent: value("agent", defaultAgent), api, http2 };
}

/**
 * Runs every case of the fuzzing server at `url` as `agent`. Resolves with `true` once the
 * reports were updated, `false` when the case count could not be read (the server is not there).
 */
export async function runAutobahnClient(
  apis: DriverApis,
  extensions: readonly unknown[],
  url: string,
  agent: string,
  api: "stream" | "websocket" = "stream",
  http2 = false,
): Promise<boolean> {
  const Stream = apis.WebSocketStream;
  // Autobahn's 9.x cases send messages up to 16 MiB; leave room above that. Every connection
  // offers the extensions (permessage-deflate); the fuzzing server answers them in 12.x and 13.x
  // as each case says and declines them elsewhere.
  const options = { maxMessageSize: 64 * 1024 * 1024, extensions: extensions as readonly never[], ...(http2 ? { http2: true as const } : {}) };
  const base = url.replace(/\/+$/, "");
  const name = encodeURIComponent(agent);

  // Opens `path`, reads every message until the server closes, returns them.
  const readAll = async (path: string): Promise<Array<string | Uint8Array>> => {
    const ws = new Stream(`${base}${path}`, options);
    const { readable } = await ws.opened;
    const messages: Array<string | Uint8Array> = [];
    const reader = readable.getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) messages.push(r.value);
    await ws.closed;
    return messages;
  };

  // One case through the WHATWG WebSocket: echo from onmessage until the close event.
  const runSocketCase = (n: number): Promise<void> =>
    new Promise<void>((resolve) => {
      const ws = new apis.WebSocket(`${base}/runCase?case=${n}&agent=${name}`, undefined, options);
      ws.binaryType = "arraybuffer";
      ws.onmessage = (event) => ws.send(event.data as string | ArrayBuffer);
      ws.onclose = () => resolve();
    });

  // One case: echo until the server closes or fails the connection (on purpose, in many cases).
  const runCase = async (n: number): Promise<void> => {
    if (api === "websocket") return runSocketCase(n);
    const ws = new Stream(`${base}/runCase?case=${n}&agent=${name}`, options);
    try {
      const { readable, writable } = await ws.opened;
      await readable.pipeTo(writable);
    } catch {
      // The verdict is the server's to give.
    }
    await ws.closed.catch(() => {});
  };

  let count: number;
  try {
    const [first] = await readAll("/getCaseCount");
    count = Number(JSON.parse(String(first)));
  } catch (error) {
    console.error(`Could not get the case count from ${base}: ${error instanceof Error ? error.message : String(error)}`);
    return false;
  }
  console.log(`Running ${count} cases against ${base} as ${agent} through ${api === "websocket" ? "WebSocket" : "WebSocketStream"}${http2 ? " over HTTP/2" : ""}`);
  for (let n = 1; n <= count; n++) await runCase(n);
  await readAll(`/updateReports?agent=${name}`);
  console.log("Done: reports updated");
  return true;
}
