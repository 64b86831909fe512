/**
 * A deliberately imperfect echo server, built from the harness's own codec, to check that the
 * harness notices each way of getting things wrong. It always checks UTF-8 only once a text
 * message is complete (not fail-fast); each quirk turns one more behaviour off.
 */
import { createServer, type Server, type Socket } from "node:net";
import { isValidUtf8 } from "../../src/bytes.ts";
import { closePayload, encodeFrame, FrameParser, Opcode } from "../../src/frame.ts";
import { answerUpgrade, readRequest } from "../../src/handshake.ts";

export interface Quirks {
  /** After the closing handshake, leave TCP open (the client has to close it). */
  readonly keepTcpOpen?: boolean;
  /** On a protocol error, drop TCP without sending a Close. */
  readonly dropOnError?: boolean;
  /** Ignore RSV bits and reserved opcodes instead of failing (and keep answering Pings). */
  readonly lenient?: boolean;
  /** Answer a Close with this code instead of echoing it. */
  readonly closeReplyCode?: number;
}

export interface SloppyServer {
  readonly url: string;
  close(): Promise<void>;
}

export async function startSloppyServer(quirks: Quirks): Promise<SloppyServer> {
  const sockets = new Set<Socket>();
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    void serveOne(socket, quirks).catch(() => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return {
    url: `ws://127.0.0.1:${port}`,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

async function serveOne(socket: Socket, quirks: Quirks): Promise<void> {
  const { request, rest } = await readRequest(socket, 2000);
  if (answerUpgrade(socket, request) !== undefined) return;
  const parser = new FrameParser();
  const send = (opcode: number, payload: Uint8Array): void => {
    if (socket.writable) socket.write(encodeFrame({ opcode, payload }, false));
  };
  let message: { opcode: number; parts: Uint8Array[] } | undefined;
  let done = false;
  const fail = (code: number): void => {
    done = true;
    if (quirks.dropOnError === true) {
      socket.destroy();
      return;
    }
    send(Opcode.Close, closePayload(code));
    socket.end();
  };
  const onData = (chunk: Uint8Array): void => {
    if (done) return;
    for (const frame of parser.push(chunk)) {
      if (done) return;
      const reserved = frame.rsv !== 0 || ![0, 1, 2, 8, 9, 10].includes(frame.opcode);
      if (reserved && quirks.lenient !== true) return fail(1002);
      if (frame.opcode === Opcode.Ping) send(Opcode.Pong, frame.payload);
      else if (frame.opcode === Opcode.Close) {
        done = true;
        const code = frame.payload.length >= 2 ? (frame.payload[0]! << 8) | frame.payload[1]! : undefined;
        send(Opcode.Close, closePayload(quirks.closeReplyCode ?? code));
        if (quirks.keepTcpOpen !== true) socket.end();
      } else if (frame.opcode === Opcode.Text || frame.opcode === Opcode.Binary || frame.opcode === Opcode.Continuation) {
        if (frame.opcode !== Opcode.Continuation) message = { opcode: frame.opcode, parts: [] };
        if (message === undefined) return fail(1002);
        message.parts.push(frame.payload);
        const soFar = Buffer.concat(message.parts);
        if (frame.fin) {
          if (message.opcode === Opcode.Text && !isValidUtf8(soFar)) return fail(1007);
          send(message.opcode, soFar);
          message = undefined;
        }
      }
    }
  };
  if (rest.length > 0) onData(rest);
  socket.on("data", onData);
  socket.on("end", () => socket.end());
  socket.resume();
}
