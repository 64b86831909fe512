/**
 * Hono on its Node server (`@hono/node-server`) and wsstream on one port: HTTP routes from Hono,
 * `/ws/echo` and `/ws/chat` from {@link attachWebSockets} on the `node:http` server that
 * `serve()` returns, signed in by cookie or bearer token.
 *
 * `@hono/node-server` listens to `'upgrade'` only when given its own `websocket` option, so
 * leave that out: the event is ours.
 *
 * Run: `npx tsx --conditions=wsstream-source examples/frameworks/hono.ts` (PORT, default 8080),
 * then connect with `session=demo` as a cookie or `Authorization: Bearer demo`.
 *
 * @module
 */
import type { Server } from "node:http";
import { pathToFileURL } from "node:url";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { attachWebSockets, DEMO_SESSIONS, type RunningApp, type Sessions, userOf } from "./websockets.ts";

export async function start(options: { port?: number; hostname?: string; sessions: Sessions }): Promise<RunningApp> {
  const app = new Hono();
  app.get("/", (c) => c.text("Hono with WebSockets at /ws/echo and /ws/chat\n"));
  app.get("/api/whoami", (c) => {
    const user = userOf(c.req.raw.headers, options.sessions);
    return user === undefined ? c.json({ error: "Sign in first" }, 401) : c.json({ user });
  });

  let server!: Server;
  const port = await new Promise<number>((resolve) => {
    server = serve({ fetch: app.fetch, port: options.port ?? 0, hostname: options.hostname ?? "127.0.0.1" }, (info) =>
      resolve(info.port),
    ) as Server;
  });
  const sockets = attachWebSockets(server, options.sessions);
  return {
    port,
    async close() {
      await sockets.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { port } = await start({ port: Number(process.env.PORT ?? 8080), sessions: DEMO_SESSIONS });
  console.log(`hono on http://127.0.0.1:${port}`);
}
