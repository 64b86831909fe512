/**
 * The `wsstream` command, spawned as a process (from its sources, through tsx) and driven over
 * loopback: connect and listen against each other and against an in-process server.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { serve, type Server, WebSocketStream } from "@wsstream/node";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const MAIN = "packages/cli/src/main.ts";

async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A running `wsstream` process and what it printed. */
class Cli {
  readonly child: ChildProcess;
  stdout = "";
  stderr = "";
  readonly exited: Promise<number | NodeJS.Signals>;
  readonly #waiters: (() => void)[] = [];

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [`${ROOT}node_modules/tsx/dist/cli.mjs`, "--conditions=wsstream-source", MAIN, ...args], {
      cwd: ROOT,
      stdio: ["pipe", "pipe", "pipe"],
      detached: true,
    });
    this.child.stdout!.setEncoding("utf8").on("data", (text: string) => this.#append("stdout", text));
    this.child.stderr!.setEncoding("utf8").on("data", (text: string) => this.#append("stderr", text));
    this.exited = new Promise((resolve) => this.child.once("exit", (code, signal) => resolve(code ?? signal ?? -1)));
    running.push(this);
  }

  #append(stream: "stdout" | "stderr", text: string): void {
    this[stream] += text;
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** Waits until `stream` matches `pattern`; returns the match. */
  async until(ms: number, stream: "stdout" | "stderr", pattern: RegExp): Promise<RegExpExecArray> {
    return within(ms, `${pattern} on ${stream}; so far:\n${this.stdout}\n${this.stderr}`, (async () => {
      for (;;) {
        const found = pattern.exec(this[stream]);
        if (found !== null) return found;
        const exited = await Promise.race([this.exited.then(() => true), new Promise<false>((resolve) => this.#waiters.push(() => resolve(false)))]);
        if (exited) {
          const last = pattern.exec(this[stream]);
          if (last !== null) return last;
          throw new Error(`wsstream exited before printing ${pattern}:\n${this.stdout}\n${this.stderr}`);
        }
      }
    })());
  }

  kill(): void {
    try {
      process.kill(-this.child.pid!, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

const running: Cli[] = [];
const servers: Server[] = [];

afterEach(async () => {
  for (const cli of running.splice(0)) cli.kill();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function startListen(...args: string[]): Promise<{ cli: Cli; port: number }> {
  const cli = new Cli(["listen", "0", ...args]);
  const match = await cli.until(15_000, "stderr", /listening on ws:\/\/127\.0\.0\.1:(\d+)/);
  return { cli, port: Number(match[1]) };
}

describe("wsstream connect and listen", () => {
  it("exchange lines with a subprotocol and deflate, printing frames and the stats on exit", async () => {
    const { cli: server, port } = await startListen("--deflate", "-s", "chat");
    const client = new Cli(["connect", `ws://127.0.0.1:${port}/room`, "--deflate", "-s", "other", "-s", "chat", "--frames"]);
    await client.until(15_000, "stderr", /connected to ws:\/\/127\.0\.0\.1:\d+\/room \(protocol chat, extensions permessage-deflate\)/);
    client.child.stdin!.write("hello\n");
    await client.until(5000, "stdout", /^hello$/m);
    client.child.stdin!.write("héllo wörld\n");
    await client.until(5000, "stdout", /^héllo wörld$/m);
    client.child.stdin!.end();
    expect(await within(10_000, "the client to exit", client.exited)).toBe(0);
    expect(client.stderr).toMatch(/^\d\d:\d\d:\d\d\.\d{3} > frame text fin 5 B$/m);
    expect(client.stderr).toMatch(/^\d\d:\d\d:\d\d\.\d{3} < frame text fin 13 B$/m);
    expect(client.stderr).toMatch(/> frame close fin 2 B code 1000/);
    expect(client.stderr).toMatch(/^closed: 1000$/m);
    expect(client.stderr).toMatch(/^stats: [\d.]+ s, sent 2 messages \(18 B\), received 2 messages \(18 B\), on the wire \d+ B out, \d+ B in, frames 3 out, 3 in$/m);
    expect(server.stdout).toMatch(/#1 < \[text 5 B\] hello/);
    expect(server.stderr).toMatch(/#1 connected from 127\.0\.0\.1:\d+ to \/room \(protocol chat, extensions permessage-deflate\)/);
  });

  it("listen --broadcast sends each message to every connection", async () => {
    const { port } = await startListen("--broadcast");
    const alice = new Cli(["connect", `ws://127.0.0.1:${port}/`]);
    const bob = new Cli(["connect", `ws://127.0.0.1:${port}/`]);
    await alice.until(15_000, "stderr", /connected/);
    await bob.until(15_000, "stderr", /connected/);
    alice.child.stdin!.write("to everyone\n");
    await alice.until(5000, "stdout", /^to everyone$/m);
    await bob.until(5000, "stdout", /^to everyone$/m);
  });

  it("listen closes its connections with 1001 on SIGINT and prints its stats", async () => {
    const { cli, port } = await startListen();
    const ws = new WebSocketStream(`ws://127.0.0.1:${port}/`);
    const { readable, writable } = await within(5000, "opened", ws.opened);
    await writable.getWriter().write(new Uint8Array([1, 2, 3]));
    expect((await within(5000, "the echo", readable.getReader().read())).value).toEqual(new Uint8Array([1, 2, 3]));
    await cli.until(5000, "stdout", /#1 < \[binary 3 B\] 010203/);
    cli.child.kill("SIGINT");
    expect(await within(5000, "closed", ws.closed)).toMatchObject({ closeCode: 1001 });
    expect(await within(10_000, "listen to exit", cli.exited)).toBe(0);
    expect(cli.stderr).toMatch(/^stats: [\d.]+ s, 1 connections, sent 1 messages \(3 B\), received 1 messages \(3 B\)/m);
  });

  it("connect sends its headers, sends lines as binary with --binary, and reports a refusal", async () => {
    const seen: string[] = [];
    const server = await serve({
      port: 0,
      upgrade: (request) => {
        seen.push(request.headers.get("x-token") ?? "");
        return request.headers.get("x-token") === "s3cret" ? undefined : new Response("no", { status: 403 });
      },
      handler: async (ws) => {
        const { readable, writable } = await ws.opened;
        await readable.pipeTo(writable);
      },
    });
    servers.push(server);
    const client = new Cli(["connect", `ws://127.0.0.1:${server.port}/`, "-H", "X-Token: s3cret", "--binary"]);
    await client.until(15_000, "stderr", /connected/);
    client.child.stdin!.end("abc\n");
    await client.until(5000, "stdout", /^\[binary 3 B\] 616263$/m);
    expect(await within(10_000, "the client to exit", client.exited)).toBe(0);

    const refused = new Cli(["connect", `ws://127.0.0.1:${server.port}/`, "-H", "X-Token: wrong"]);
    expect(await within(15_000, "the refused client to exit", refused.exited)).toBe(1);
    expect(refused.stderr).toMatch(/^error: .*\(HTTP 403\)/m);
    expect(seen).toEqual(["s3cret", "wrong"]);
  });

  it("exits with 2 and the usage on a bad command line", async () => {
    const cli = new Cli(["listen", "not-a-port"]);
    expect(await within(15_000, "exit", cli.exited)).toBe(2);
    expect(cli.stderr).toMatch(/listen needs a port from 0 to 65535: not-a-port/);
    expect(cli.stderr).toMatch(/Usage:/);
  });
});
