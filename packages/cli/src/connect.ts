/**
 * `wsstream connect <url>`: a client that sends each line of stdin as a message and prints each
 * message it receives, like wscat.
 *
 * @module
 */
import { createInterface } from "node:readline";
import { connectWebSocket } from "@wsstream/core";
import { deflate, openSocket, WebSocketError } from "@wsstream/node";
import type { Command } from "./args.ts";
import { FrameWatcher, tapTransport } from "./frame-tap.ts";
import { binaryText, frameLine, Stats } from "./report.ts";

/** Runs the client until the connection ends; resolves with the exit code. */
export async function connect(command: Extract<Command, { kind: "connect" }>): Promise<number> {
  const stats = new Stats();
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  const watch = command.frames
    ? {
        incoming: new FrameWatcher("client", (frame) => {
          stats.framesIn += 1;
          log(frameLine("<", frame));
        }, (error) => log(`frames: stopped decoding received bytes: ${error.message}`)),
        outgoing: new FrameWatcher("server", (frame) => {
          stats.framesOut += 1;
          log(frameLine(">", frame));
        }, (error) => log(`frames: stopped decoding sent bytes: ${error.message}`)),
      }
    : undefined;

  const ws = connectWebSocket(command.url, async (url, signal) => tapTransport(await openSocket(url, undefined, signal), stats, watch), {
    protocols: command.protocols,
    headers: command.headers,
    extensions: command.deflate ? [deflate()] : [],
  });
  const interrupt = (): void => ws.close({ closeCode: 1000, reason: "interrupted" });
  process.once("SIGINT", interrupt);
  process.once("SIGTERM", interrupt);

  let opened;
  try {
    opened = await ws.opened;
  } catch (error) {
    log(`error: ${describe(error)}`);
    return 1;
  }
  const details = [opened.protocol && `protocol ${opened.protocol}`, opened.extensions && `extensions ${opened.extensions}`].filter(Boolean);
  log(`connected to ${ws.url}${details.length > 0 ? ` (${details.join(", ")})` : ""}`);

  const writer = opened.writable.getWriter();
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  const sending = (async () => {
    for await (const line of lines) {
      const message = command.binary ? new TextEncoder().encode(line) : line;
      await writer.write(message);
      stats.sent(message);
    }
    // stdin ended: close once everything written has gone out.
    ws.close({ closeCode: 1000 });
  })().catch(() => {});

  const reader = opened.readable.getReader();
  let code = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      stats.received(value);
      process.stdout.write(`${typeof value === "string" ? value : binaryText(value)}\n`);
    }
    const { closeCode, reason } = await ws.closed;
    log(`closed: ${closeCode}${reason ? ` ${reason}` : ""}`);
  } catch (error) {
    log(`error: ${describe(error)}`);
    code = 1;
  }
  lines.close();
  process.stdin.destroy();
  void sending;
  log(stats.summary({ frames: command.frames, connections: false }));
  return code;
}

function describe(error: unknown): string {
  if (error instanceof WebSocketError) {
    const cause = error.cause as { status?: number } | undefined;
    const status = typeof cause?.status === "number" && cause.status > 0 ? ` (HTTP ${cause.status})` : "";
    return `${error.message}${status}${error.closeCode !== null ? `, close code ${error.closeCode}` : ""}`;
  }
  return error instanceof Error ? error.message : String(error);
}
