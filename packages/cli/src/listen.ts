/**
 * `wsstream listen <port>`: a server that echoes every message, or broadcasts it to every
 * connection, and prints what it receives.
 *
 * The server is `net.createServer` with the adapter's socket transport and core's
 * `acceptWebSocket`, rather than `serve()`, so that `--frames` can watch each connection's bytes.
 *
 * @module
 */
import { createServer, type Socket } from "node:net";
import { acceptWebSocket, type WebSocketStreamBase } from "@wsstream/core";
import { deflate, socketTransport } from "@wsstream/node";
import type { Command } from "./args.ts";
import { FrameWatcher, tapTransport } from "./frame-tap.ts";
import { binaryText, frameLine, size, Stats, timestamp } from "./report.ts";

const MAX_PENDING_WRITES = 64;

interface Peer {
  readonly id: number;
  readonly ws: WebSocketStreamBase;
  readonly writer: WritableStreamDefaultWriter<string | Uint8Array>;
}

/** Runs the server until SIGINT or SIGTERM; resolves with the exit code. */
export async function listen(command: Extract<Command, { kind: "listen" }>): Promise<number> {
  const stats = new Stats();
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  const peers = new Set<Peer>();
  const sockets = new Set<Socket>();
  let nextId = 1;

  // Broadcast writes are not awaited, so that one slow peer does not hold up the rest. A write
  // stays pending while it is compressed or while 1 MiB is unsent to that peer; a peer with
  // more than MAX_PENDING_WRITES of them is not keeping up, and is dropped.
  const send = (peer: Peer, message: string | Uint8Array): void => {
    if ((peer.writer.desiredSize ?? 0) < 1 - MAX_PENDING_WRITES) {
      log(`${timestamp()} #${peer.id} too slow, closing`);
      peers.delete(peer);
      peer.ws.close({ closeCode: 1008, reason: "too slow" });
      return;
    }
    stats.sent(message);
    peer.writer.write(message).catch(() => peers.delete(peer));
  };

  const serveOne = async (socket: Socket): Promise<void> => {
    const id = nextId++;
    socket.setNoDelay(true);
    const watch = command.frames
      ? {
          incoming: new FrameWatcher("server", (frame) => {
            stats.framesIn += 1;
            log(frameLine("<", frame, `#${id} `));
          }, (error) => log(`#${id} frames: stopped decoding received bytes: ${error.message}`)),
          outgoing: new FrameWatcher("client", (frame) => {
            stats.framesOut += 1;
            log(frameLine(">", frame, `#${id} `));
          }, (error) => log(`#${id} frames: stopped decoding sent bytes: ${error.message}`)),
        }
      : undefined;
    const accepted = await acceptWebSocket(tapTransport(socketTransport(socket), stats, watch), {
      extensions: command.deflate ? [deflate()] : [],
      upgrade: (_request, info) => {
        const protocol = command.protocols.find((name) => info.protocols.includes(name));
        return protocol === undefined ? undefined : { protocol };
      },
    });
    if (accepted === undefined) return;
    const { ws, request } = accepted;
    const { readable, writable, protocol, extensions } = await ws.opened;
    stats.connections += 1;
    const peer: Peer = { id, ws, writer: writable.getWriter() };
    peers.add(peer);
    const details = [protocol && `protocol ${protocol}`, extensions && `extensions ${extensions}`].filter(Boolean);
    log(`${timestamp()} #${id} connected from ${socket.remoteAddress}:${socket.remotePort} to ${new URL(request.url).pathname}${details.length > 0 ? ` (${details.join(", ")})` : ""}`);
    const reader = readable.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        stats.received(value);
        const shown = typeof value === "string" ? value : binaryText(value);
        process.stdout.write(`${timestamp()} #${id} < ${typeof value === "string" ? `[text ${size(Buffer.byteLength(value))}] ` : ""}${shown}\n`);
        if (command.broadcast) {
          for (const other of peers) send(other, value);
        } else {
          // Echo: the next message is read once this one was taken, as pipeTo() would.
          await peer.writer.write(value);
          stats.sent(value);
        }
      }
      const { closeCode, reason } = await ws.closed;
      log(`${timestamp()} #${id} closed: ${closeCode}${reason ? ` ${reason}` : ""}`);
    } catch (error) {
      log(`${timestamp()} #${id} failed: ${(error as Error).message}`);
    } finally {
      peers.delete(peer);
    }
  };

  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    serveOne(socket).catch((error: Error) => {
      log(`${timestamp()} connection failed: ${error.message}`);
      socket.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(command.port, command.host, resolve);
  }).catch((error: Error) => {
    log(`error: cannot listen on ${command.host}:${command.port}: ${error.message}`);
    throw error;
  });
  const { port } = server.address() as { port: number };
  const host = command.host.includes(":") ? `[${command.host}]` : command.host;
  log(`listening on ws://${host}:${port} (${command.broadcast ? "broadcast" : "echo"})`);

  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  // Close every connection with 1001, give the peers a moment to answer, then drop the rest.
  server.close();
  const closing = [...peers].map((peer) => {
    peer.ws.close({ closeCode: 1001, reason: "server closing" });
    return peer.ws.closed.catch(() => {});
  });
  await Promise.race([Promise.all(closing), new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
  for (const socket of sockets) socket.destroy();
  log(stats.summary({ frames: command.frames, connections: true }));
  return 0;
}
