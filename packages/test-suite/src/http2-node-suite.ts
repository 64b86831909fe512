/**
 * The shared suite for what a runtime's node:http2 allows (see the Bun and Deno READMEs' "WebSockets
 * over HTTP/2"): the HTTP/2 entry points of @wsstream/node, run on that runtime, over TLS and in
 * cleartext, many WebSockets on one session. Bun's and Deno's `test/http2-node.test.ts` pass the
 * test certificate here.
 */
import { afterEach, expect, it } from "vitest";
import { openHttp2Session, serve, type Server, WebSocket } from "../../node/src/index.ts";

/** The PEM key and certificate for `localhost` that the server presents and the client trusts. */
export interface Certificate {
  readonly key: string;
  readonly cert: string;
}

function opened(ws: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error("a WebSocket failed to open"));
  });
}

/** Defines the suite's tests (inside the caller's `describe`). */
export function defineHttp2NodeSuite(certificate: Certificate): void {
  const servers: Server<"websocket">[] = [];

  afterEach(async () => {
    for (const server of servers.splice(0)) await server.close();
  });

  for (const secure of [true, false]) {
    it(`open ten WebSockets as streams of one session and echo on each (${secure ? "h2 over TLS" : "h2c"})`, async () => {
      const methods: string[] = [];
      const server = await serve({
        http2: true,
        ...(secure ? { tls: { key: certificate.key, cert: certificate.cert } } : {}),
        api: "websocket",
        upgrade: (_request, info) => void methods.push(info.method),
        handler: (ws) => {
          ws.onmessage = (event) => ws.send(event.data as string);
        },
      });
      servers.push(server);
      const url = `${secure ? "wss" : "ws"}://localhost:${server.port}/`;
      const session = await openHttp2Session(url, { tls: { ca: certificate.cert } });
      try {
        const sockets = Array.from({ length: 10 }, () => new WebSocket(url, { http2: session }));
        await Promise.all(sockets.map(opened));
        const echoes = sockets.map((ws, i) => new Promise((resolve) => {
          ws.onmessage = (event) => resolve(event.data);
          ws.send(`hello ${i}`);
        }));
        expect(await Promise.all(echoes)).toEqual(sockets.map((_, i) => `hello ${i}`));
        expect(methods).toEqual(sockets.map(() => "CONNECT"));
        expect(new Set([...server.connections].map((ws) => ws.remotePort)).size).toBe(1);
        for (const ws of sockets) ws.close();
      } finally {
        session.close();
      }
    });
  }
}
