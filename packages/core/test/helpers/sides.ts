/**
 * One end of a connection under test, either role and either interface, over a
 * {@link TestTransport}, with its peer a sans-I/O {@link Connection} driven by the test: what the
 * end writes is fed to the peer with {@link Side.toPeer}, what the peer queues is pushed to the
 * end with {@link Side.fromPeer}. Byte-exact, and on the injected clock.
 */
import { ClientConnection } from "../../src/client.ts";
import { ConnectionGroup } from "../../src/connection-group.ts";
import type { Connection } from "../../src/connection.ts";
import type { ConnectionEvent } from "../../src/events.ts";
import type { ExtensionFactory } from "../../src/extension.ts";
import { ServerConnection } from "../../src/server.ts";
import type { ServerOptions } from "../../src/upgrade.ts";
import { WebSocketBase } from "../../src/websocket.ts";
import { connectWebSocket, type WebSocketStreamBase, type WebSocketStreamOptions } from "../../src/websocket-stream.ts";
import { until } from "./fake-clock.ts";
import { within } from "./memory-transport.ts";
import { TestTransport } from "./test-transport.ts";

export type Api = "stream" | "websocket";
export const apis: readonly Api[] = ["stream", "websocket"];

/** An open end under test and its hand-driven peer. */
export interface Side {
  readonly role: "client" | "server";
  readonly api: Api;
  readonly ws: WebSocketBase | WebSocketStreamBase;
  readonly transport: TestTransport;
  readonly peer: Connection;
  /** The server's group (server side only). */
  readonly group: ConnectionGroup<"stream" | "websocket"> | undefined;
  /** Messages the end received, in order. */
  readonly received: (string | Uint8Array)[];
  /** Sends a message through the interface. */
  send(data: string | Uint8Array): Promise<void>;
  /** Feeds everything the end wrote since the last call to the peer; returns the peer's events. */
  toPeer(): ConnectionEvent[];
  /** Pushes what the peer queued to the end. */
  fromPeer(): void;
  /** Resolves once the end is closed (either way). */
  readonly ended: Promise<void>;
  /** Every chunk the end wrote after the handshake, as fed to the peer. */
  readonly wrote: Uint8Array[];
  /** Every chunk pushed to the end after the handshake. */
  readonly pushed: Uint8Array[];
}

/** Options of the end under test, and the extensions of its peer. */
export interface SideOptions extends WebSocketStreamOptions, Partial<Omit<ServerOptions, keyof WebSocketStreamOptions>> {
  readonly peerExtensions?: readonly ExtensionFactory[];
}

/** Opens an end of `role` with interface `api`, the handshake done with its peer. */
export async function openSide(role: "client" | "server", api: Api, options: SideOptions = {}): Promise<Side> {
  const transport = new TestTransport();
  const received: (string | Uint8Array)[] = [];
  const wrote: Uint8Array[] = [];
  const pushed: Uint8Array[] = [];
  let ws: WebSocketBase | WebSocketStreamBase;
  let peer: Connection;
  let group: ConnectionGroup<"stream" | "websocket"> | undefined;
  if (role === "server") {
    const client = await ClientConnection.create("ws://test.invalid/", { extensions: options.peerExtensions ?? [] });
    transport.push(client.dataToSend()[0]!);
    let accept!: (ws: WebSocketBase | WebSocketStreamBase) => void;
    const accepted = new Promise<WebSocketBase | WebSocketStreamBase>((resolve) => (accept = resolve));
    group = new ConnectionGroup<"stream" | "websocket">({ ...options, api, handler: (socket: WebSocketBase | WebSocketStreamBase) => accept(socket) } as never);
    void group.accept(transport, { scheme: "ws:" });
    ws = await within(accepted, 2000, "accept");
    await until(() => transport.written.length > 0, 2000, "the 101");
    for (const chunk of transport.written.splice(0)) client.receiveData(chunk);
    const [open] = client.events();
    if (open?.type !== "open") throw new Error(`expected the peer to open, got ${open?.type}`);
    peer = client;
  } else {
    ws = api === "stream"
      ? connectWebSocket("ws://test.invalid/", transport, options)
      : new WebSocketBase("ws://test.invalid/", undefined, transport, options);
    await until(() => transport.written.length > 0, 2000, "the request");
    const server = new ServerConnection({ extensions: options.peerExtensions ?? [] });
    for (const chunk of transport.written.splice(0)) server.receiveData(chunk);
    const [request] = server.events();
    if (request?.type !== "request") throw new Error(`expected a request, got ${request?.type}`);
    await server.accept({});
    transport.push(server.dataToSend()[0]!);
    peer = server;
  }
  let send: (data: string | Uint8Array) => Promise<void>;
  let ended: Promise<void>;
  if (ws instanceof WebSocketBase) {
    const socket = ws;
    socket.binaryType = "bytes";
    if (role === "client") await within(new Promise((resolve) => socket.addEventListener("open", resolve, { once: true })), 2000, "open");
    socket.addEventListener("message", (event) => received.push((event as MessageEvent).data as string | Uint8Array));
    ended = new Promise((resolve) => socket.addEventListener("close", () => resolve(), { once: true }));
    send = (data) => {
      socket.send(data);
      return Promise.resolve();
    };
  } else {
    const { readable, writable } = await within(ws.opened, 2000, "opened");
    const writer = writable.getWriter();
    void (async () => {
      try {
        for await (const message of readable as unknown as AsyncIterable<string | Uint8Array>) received.push(message);
      } catch {
        // Failed: `closed` says why.
      }
    })();
    ended = ws.closed.then(() => undefined, () => undefined);
    send = (data) => writer.write(data);
  }
  return {
    role,
    api,
    ws,
    transport,
    peer,
    group,
    received,
    send,
    ended,
    wrote,
    pushed,
    toPeer() {
      for (const chunk of transport.written.splice(0)) {
        wrote.push(chunk);
        peer.receiveData(chunk.slice());
      }
      return peer.events();
    },
    fromPeer() {
      for (const chunk of peer.dataToSend()) {
        pushed.push(chunk.slice());
        transport.push(chunk.slice());
      }
    },
  };
}
