/**
 * Express and wsstream on one port: HTTP routes from Express, `/ws/echo` and `/ws/chat` from
 * {@link attachWebSockets} on the same `node:http` server, signed in by cookie or bearer token.
 *
 * Run: `npx tsx --conditions=wsstream-source examples/frameworks/express.ts` (PORT, default 8080),
 * then connect with `session=demo` as a cookie or `Authorization: Bearer demo`.
 *
 * @module
 */
import { createServer } from "node:http";
import { pathToFileURL } from "node:url";
import express from "express";
import { attachWebSockets, DEMO_SESSIONS, type RunningApp, type Sessions, userOf } from "./websockets.ts";

export async function start(options: { port?: number; hostname?: string; sessions: Sessions }): Promise<RunningApp> {
  const app = express();
  app.get("/", (_req, res) => {
    res.type("text").send("Express with WebSockets at /ws/echo and /ws/chat\n");
  });
  app.get("/api/whoami", (req, res) => {
    const user = userOf(new Headers(req.headers as Record<string, string>), options.sessions);
    if (user === undefined) res.status(401).json({ error: "Sign in first" });
    else res.json({ user });
  });

  // Express handles requests; the 'upgrade' event of its server is left to us.
  const server = createServer(app);
  const sockets = attachWebSockets(server, options.sessions);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.hostname ?? "127.0.0.1", resolve);
  });
  return {
    port: (server.address() as { port: number }).port,
    async close() {
      await sockets.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { port } = await start({ port: Number(process.env.PORT ?? 8080), sessions: DEMO_SESSIONS });
  console.log(`express on http://127.0.0.1:${port}`);
}
