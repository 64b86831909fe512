/**
 * The WebSocket side shared by the three framework examples (express.ts, fastify.ts, hono.ts):
 * two paths on the framework's own `node:http` server, `/ws/echo` and `/ws/chat`, each for
 * signed-in users only.
 *
 * Every framework here runs on a `node:http` server and leaves its `'upgrade'` event alone, so
 * `handleUpgrade()` takes the socket from there. The `upgrade` hook runs before the 101 is sent:
 * it refuses unknown paths with 404 and strangers with 401, and the handler is never called for
 * them. A browser cannot set headers on a WebSocket request, so the hook reads the session from
 * the `session` cookie as well as from `Authorization: Bearer <token>`.
 *
 * @module
 */
import type { Server } from "node:http";
import { handleUpgrade, type WebSocketStreamBase } from "@wsstream/node";

/** Session tokens and the user each one signs in. */
export type Sessions = ReadonlyMap<string, string>;

/** The user a request signs in as (`session` cookie or `Authorization: Bearer`), if any. */
export function userOf(headers: Headers, sessions: Sessions): string | undefined {
  const bearer = /^Bearer (\S+)$/.exec(headers.get("authorization") ?? "")?.[1];
  if (bearer !== undefined) return sessions.get(bearer);
  for (const pair of (headers.get("cookie") ?? "").split(";")) {
    const [name, value] = pair.trim().split("=", 2);
    if (name === "session" && value !== undefined) return sessions.get(decodeURIComponent(value));
  }
  return undefined;
}

type Route = (ws: WebSocketStreamBase, user: string) => Promise<void>;

/** Sends every message back unchanged. */
const echo: Route = async (ws) => {
  const { readable, writable } = await ws.opened;
  await readable.pipeTo(writable);
};

/** The WebSocket endpoints of one server; `close()` closes their connections with 1001. */
export interface WebSockets {
  close(): Promise<void>;
}

/** Serves `/ws/echo` and `/ws/chat` on `server`'s `'upgrade'` event. */
export function attachWebSockets(server: Server, sessions: Sessions): WebSockets {
  const open = new Set<WebSocketStreamBase>();
  const room = new Set<WritableStreamDefaultWriter<string>>();

  /** Every text message goes to every member of the room as `user: text`. */
  const chat: Route = async (ws, user) => {
    const { readable, writable } = await ws.opened;
    const writer = writable.getWriter();
    const reader = readable.getReader();
    room.add(writer);
    try {
      for (;;) {
        const { done, value: message } = await reader.read();
        if (done) break;
        if (typeof message !== "string") continue;
        for (const member of room) {
          // A member more than a message behind its 1 MiB of unsent bytes is not keeping up.
          if ((member.desiredSize ?? 0) <= 0) {
            room.delete(member);
            void member.abort(new Error("too slow")).catch(() => {});
            continue;
          }
          member.write(`${user}: ${message}`).catch(() => room.delete(member));
        }
      }
    } finally {
      room.delete(writer);
    }
  };
  const routes = new Map<string, Route>([["/ws/echo", echo], ["/ws/chat", chat]]);

  server.on("upgrade", (request, socket, head) => {
    handleUpgrade(request, socket, head, {
      upgrade: (req) => {
        if (!routes.has(new URL(req.url).pathname)) return new Response("No such endpoint", { status: 404 });
        if (userOf(req.headers, sessions) === undefined) {
          return new Response("Sign in first", { status: 401, headers: { "WWW-Authenticate": "Bearer" } });
        }
        return undefined;
      },
      handler: async (ws, req) => {
        open.add(ws);
        ws.closed.then(() => open.delete(ws), () => open.delete(ws));
        await routes.get(new URL(req.url).pathname)!(ws, userOf(req.headers, sessions)!);
      },
    }).catch(() => socket.destroy());
  });

  return {
    async close() {
      const closing = [...open].map((ws) => {
        ws.close({ closeCode: 1001, reason: "server closing" });
        return ws.closed.catch(() => {});
      });
      await Promise.all(closing);
    },
  };
}

/** What each example's `start()` returns. */
export interface RunningApp {
  readonly port: number;
  close(): Promise<void>;
}

/** The sessions the examples sign in when run by hand (`session=demo` signs in "demo"). */
export const DEMO_SESSIONS: Sessions = new Map([["demo", "demo"]]);
