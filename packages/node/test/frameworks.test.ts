/**
 * The framework examples (examples/frameworks: Express, Fastify, Hono's Node server), each
 * started on port 0 and driven over loopback: HTTP routes and two WebSocket paths on one port,
 * and the upgrade hook's sign-in from a cookie or a bearer token.
 */
import { afterEach, describe, expect, it } from "vitest";
import { HandshakeError, WebSocketStream } from "@wsstream/node";
import { start as startExpress } from "../../../examples/frameworks/express.ts";
import { start as startFastify } from "../../../examples/frameworks/fastify.ts";
import { start as startHono } from "../../../examples/frameworks/hono.ts";
import type { RunningApp, Sessions } from "../../../examples/frameworks/websockets.ts";
import { rejectionOf, within } from "./fixtures/helpers.ts";

const sessions: Sessions = new Map([["tok-alice", "alice"], ["tok-bob", "bob"]]);
const running: RunningApp[] = [];
const clients: WebSocketStream[] = [];

afterEach(async () => {
  for (const ws of clients.splice(0)) ws.close();
  await within(10_000, "the examples to close", Promise.all(running.splice(0).map((app) => app.close())));
});

async function connect(port: number, path: string, headers: Record<string, string>) {
  const ws = new WebSocketStream(`ws://127.0.0.1:${port}${path}`, { headers });
  clients.push(ws);
  const { readable, writable } = await within(5000, `${path} to open`, ws.opened);
  return { ws, reader: readable.getReader(), writer: writable.getWriter() };
}

async function refusal(port: number, path: string, headers: Record<string, string>): Promise<number | undefined> {
  const ws = new WebSocketStream(`ws://127.0.0.1:${port}${path}`, { headers });
  ws.closed.catch(() => {});
  const error = (await rejectionOf(ws.opened, 5000, "opened")) as { cause?: unknown };
  return error.cause instanceof HandshakeError ? error.cause.status : undefined;
}

const frameworks = { express: startExpress, fastify: startFastify, hono: startHono };

for (const [name, start] of Object.entries(frameworks)) {
  describe(`the ${name} example`, () => {
    async function launch(): Promise<number> {
      const app = await within(10_000, `${name} to listen`, start({ port: 0, sessions }));
      running.push(app);
      return app.port;
    }

    it("serves its HTTP routes on the port it shares with the WebSocket paths", async () => {
      const port = await launch();
      const home = await within(5000, "GET /", fetch(`http://127.0.0.1:${port}/`));
      expect(home.status).toBe(200);
      expect(await home.text()).toMatch(/\/ws\/echo and \/ws\/chat/);
      const whoami = await within(5000, "GET /api/whoami", fetch(`http://127.0.0.1:${port}/api/whoami`, { headers: { cookie: "session=tok-bob" } }));
      expect(await whoami.json()).toEqual({ user: "bob" });
      const stranger = await within(5000, "GET /api/whoami", fetch(`http://127.0.0.1:${port}/api/whoami`));
      expect(stranger.status).toBe(401);
      await stranger.body?.cancel();
    });

    it("echoes text and binary on /ws/echo for a bearer token", async () => {
      const port = await launch();
      const { reader, writer } = await connect(port, "/ws/echo", { authorization: "Bearer tok-alice" });
      await writer.write("hello");
      await writer.write(new Uint8Array([1, 2, 3]));
      expect((await within(5000, "the text echo", reader.read())).value).toBe("hello");
      expect((await within(5000, "the binary echo", reader.read())).value).toEqual(new Uint8Array([1, 2, 3]));
    });

    it("broadcasts on /ws/chat to every member signed in by cookie, named by the session", async () => {
      const port = await launch();
      const alice = await connect(port, "/ws/chat", { cookie: "theme=dark; session=tok-alice" });
      const bob = await connect(port, "/ws/chat", { cookie: "session=tok-bob" });
      await alice.writer.write("hi bob");
      expect((await within(5000, "alice's own copy", alice.reader.read())).value).toBe("alice: hi bob");
      expect((await within(5000, "bob's copy", bob.reader.read())).value).toBe("alice: hi bob");
    });

    it("refuses an upgrade without a session with 401 and an unknown path with 404", async () => {
      const port = await launch();
      expect(await refusal(port, "/ws/echo", {})).toBe(401);
      expect(await refusal(port, "/ws/chat", { cookie: "session=forged" })).toBe(401);
      expect(await refusal(port, "/ws/elsewhere", { authorization: "Bearer tok-alice" })).toBe(404);
    });

    it("closes open connections with 1001 when the app closes", async () => {
      const port = await launch();
      const { ws } = await connect(port, "/ws/echo", { authorization: "Bearer tok-alice" });
      await within(10_000, "the app to close", running.pop()!.close());
      expect(await within(5000, "closed", ws.closed)).toMatchObject({ closeCode: 1001 });
    });
  });
}
