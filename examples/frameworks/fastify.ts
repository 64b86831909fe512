/**
 * Fastify and wsstream on one port: HTTP routes from Fastify, `/ws/echo` and `/ws/chat` from
 * {@link attachWebSockets} on Fastify's own `node:http` server (`app.server`), signed in by
 * cookie or bearer token. No Fastify plugin is involved.
 *
 * Run: `npx tsx --conditions=wsstream-source examples/frameworks/fastify.ts` (PORT, default 8080),
 * then connect with `session=demo` as a cookie or `Authorization: Bearer demo`.
 *
 * @module
 */
import { pathToFileURL } from "node:url";
import Fastify from "fastify";
import { attachWebSockets, DEMO_SESSIONS, type RunningApp, type Sessions, userOf } from "./websockets.ts";

export async function start(options: { port?: number; hostname?: string; sessions: Sessions }): Promise<RunningApp> {
  const app = Fastify();
  app.get("/", async (_request, reply) => {
    reply.type("text/plain");
    return "Fastify with WebSockets at /ws/echo and /ws/chat\n";
  });
  app.get("/api/whoami", async (request, reply) => {
    const user = userOf(new Headers(request.headers as Record<string, string>), options.sessions);
    if (user === undefined) return reply.code(401).send({ error: "Sign in first" });
    return { user };
  });

  // Fastify does not listen to 'upgrade' unless a WebSocket plugin is registered.
  const sockets = attachWebSockets(app.server, options.sessions);
  await app.listen({ port: options.port ?? 0, host: options.hostname ?? "127.0.0.1" });
  return {
    port: (app.server.address() as { port: number }).port,
    async close() {
      await sockets.close();
      await app.close();
    },
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { port } = await start({ port: Number(process.env.PORT ?? 8080), sessions: DEMO_SESSIONS });
  console.log(`fastify on http://127.0.0.1:${port}`);
}
