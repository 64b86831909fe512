/**
 * A scripted exchange for the `WSSTREAM_DEBUG` test, run as its own process by each adapter's
 * `test/fixtures/debug-exchange.ts`, which passes its entry points here: a `serve()` echo
 * server; a raw client (the sans-I/O core over `openSocket`) that sends text, binary, a
 * fragmented message, a Ping and a Close; then the adapter's `WebSocket` client with a message,
 * `ping()` and a close. The debug lines go to stderr; stdout gets one JSON line at the end.
 */
import type { ClientConnection, ConnectionEvent, Transport, WebSocketBase } from "@wsstream/core";

/** What the exchange drives: the adapter's server, socket and client, and the core's connection. */
export interface DebugExchangeAdapter {
  readonly ClientConnection: { create(url: URL): Promise<ClientConnection> };
  readonly openSocket: (url: URL, options: undefined, signal: AbortSignal) => Promise<Transport>;
  readonly serve: (options: { api: "websocket"; handler: (ws: WebSocketBase) => void }) => Promise<{
    readonly port: number;
    readonly stats: unknown;
    close(): Promise<unknown>;
  }>;
  readonly WebSocket: new (url: URL) => WebSocketBase & { ping(): Promise<number> };
}

/** Runs the exchange with one adapter's entry points and prints the result on stdout. */
export async function runDebugExchange({ ClientConnection, openSocket, serve, WebSocket }: DebugExchangeAdapter): Promise<void> {
  const server = await serve({
    api: "websocket",
    handler: (ws) => {
      ws.binaryType = "bytes";
      ws.onmessage = (event) => ws.send(event.data as string | Uint8Array);
    },
  });
  const url = new URL(`ws://127.0.0.1:${server.port}/`);

  // The raw client.
  const conn = await ClientConnection.create(url);
  const transport: Transport = await openSocket(url, undefined, new AbortController().signal);
  const events: ConnectionEvent[] = [];
  const flush = async (): Promise<void> => {
    const chunks = conn.dataToSend();
    if (chunks.length > 0) await transport.write(chunks);
  };
  const readUntil = async (done: () => boolean): Promise<void> => {
    while (!done()) {
      const chunk = await transport.read();
      if (chunk === null) return;
      conn.receiveData(chunk);
      events.push(...conn.events());
      await flush();
    }
  };
  await flush();
  await readUntil(() => events.some((e) => e.type === "open"));
  conn.sendText("hello");
  conn.sendBinary(Uint8Array.of(1, 2, 3));
  conn.sendText("frag", false);
  conn.sendContinuation("mented", true);
  conn.sendPing(Uint8Array.of(7));
  await flush();
  await readUntil(() => events.filter((e) => e.type === "text" || e.type === "binary").length === 3 && events.some((e) => e.type === "pong"));
  conn.sendClose(1000, "done");
  await flush();
  // Until the server closes the TCP connection.
  await readUntil(() => false);
  transport.destroy();

  // The adapter's client.
  const ws = new WebSocket(url);
  await new Promise((resolve) => (ws.onopen = resolve));
  const echoed = new Promise((resolve) => (ws.onmessage = resolve));
  ws.send("hi");
  await echoed;
  const rtt = await ws.ping();
  const closed = new Promise((resolve) => (ws.onclose = resolve));
  ws.close(1000);
  await closed;
  await server.close();
  console.log(JSON.stringify({ rtt, events: events.map((e) => e.type), stats: server.stats }));
}
