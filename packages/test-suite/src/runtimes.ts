/**
 * Spawning each runtime's processes: its echo server (`pnpm echo:<runtime>` with `PORT=0`) and
 * its Autobahn client driver (`pnpm autobahn-client:<runtime>`). The command is the root
 * package.json script of that name run through `sh` with `node_modules/.bin` on the PATH, as
 * pnpm would, without pnpm's start-up cost; a built-in default covers a missing script. Each
 * process gets its own process group, so stopping it stops its children too.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** A runtime with an adapter. */
export type Runtime = "node" | "deno" | "bun";

export const RUNTIMES: readonly Runtime[] = ["node", "deno", "bun"];

/** The interface an echo server's handler or a client driver uses: WHATWG `WebSocket` or `WebSocketStream`. */
export type Api = "websocket" | "stream";

/** Both interfaces. */
export const APIS: readonly Api[] = ["websocket", "stream"];

/** The monorepo root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

const run: Record<Runtime, string> = {
  node: "tsx --conditions=wsstream-source",
  deno: "deno run --allow-net --allow-env=PORT,HOST,ECHO_API --conditions=wsstream-source --config packages/deno/deno.json",
  bun: "bun --conditions=wsstream-source",
};

/** The echo server example of a runtime. */
export function echoServerFile(runtime: Runtime): string {
  return join(ROOT, "examples/echo-server", `${runtime}.ts`);
}

/** The Autobahn client driver example of a runtime. */
export function clientDriverFile(runtime: Runtime): string {
  return join(ROOT, "examples/autobahn-client", `${runtime}.ts`);
}

/** The command of root script `name`, or `fallback` when there is none. */
export function scriptCommand(name: string, fallback: string): string {
  const scripts = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts?: Record<string, string> }).scripts ?? {};
  return scripts[name] ?? fallback;
}

/** A spawned process and a way to stop it. */
export interface Spawned {
  readonly child: ChildProcess;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Resolves with the exit code (or signal name) once it exits. */
  readonly exited: Promise<number | string>;
  /** SIGTERM to its process group, SIGKILL after `graceMs`; resolves once it exited. */
  stop(graceMs?: number): Promise<void>;
}

/** Spawns `command` (a shell command line) from the repo root. */
export function spawnCommand(command: string, env: Record<string, string> = {}): Spawned {
  const child = spawn("sh", ["-c", command], {
    cwd: ROOT,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, PATH: `${join(ROOT, "node_modules/.bin")}${delimiter}${process.env.PATH ?? ""}`, ...env },
  });
  let output = "";
  const keep = (chunk: Buffer): void => {
    output += chunk.toString("utf8");
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  const exited = new Promise<number | string>((resolveExit) => {
    child.once("exit", (code, signal) => resolveExit(code ?? signal ?? "unknown"));
    child.once("error", (error) => resolveExit(error.message));
  });
  let gone = false;
  void exited.then(() => (gone = true));
  const signalGroup = (signal: NodeJS.Signals): void => {
    if (gone || child.pid === undefined) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // Already gone.
    }
  };
  return {
    child,
    output: () => output,
    exited,
    async stop(graceMs = 3000) {
      signalGroup("SIGTERM");
      const timer = setTimeout(() => signalGroup("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
      // The shell may exit before its child: make sure the whole group is gone.
      signalGroup("SIGKILL");
    },
  };
}

/** A running echo server. */
export interface EchoServer extends Spawned {
  /** `ws://HOST:PORT` from its `listening on` line. */
  readonly url: string;
}

/**
 * Starts `runtime`'s echo server on a free port and waits (up to `timeoutMs`) for its
 * `listening on ws://HOST:PORT` line. `command` overrides the script; `http2` sets
 * `ECHO_HTTP2=1` (Node's echo server then serves h2c, RFC 8441, on that port).
 */
export async function startEchoServer(runtime: Runtime, options: { command?: string; timeoutMs?: number; api?: Api; http2?: boolean } = {}): Promise<EchoServer> {
  const command = options.command ?? scriptCommand(`echo:${runtime}`, `${run[runtime]} ${echoServerFile(runtime)}`);
  const spawned = spawnCommand(command, {
    PORT: "0",
    HOST: "127.0.0.1",
    ECHO_API: options.api ?? "websocket",
    ...(options.http2 === true ? { ECHO_HTTP2: "1" } : {}),
  });
  const timeoutMs = options.timeoutMs ?? 30_000;
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => fail(`did not print "listening on ws://HOST:PORT" within ${timeoutMs} ms`), timeoutMs);
    const check = (): void => {
      const match = /listening on (ws:\/\/\S+)/.exec(spawned.output());
      if (match !== null) {
        clearTimeout(timer);
        spawned.child.stdout!.off("data", check);
        resolveUrl(match[1]!);
      }
    };
    const fail = (why: string): void => {
      clearTimeout(timer);
      reject(new Error(`The ${runtime} echo server (${command}) ${why}. Output:\n${spawned.output()}`));
    };
    spawned.child.stdout!.on("data", check);
    void spawned.exited.then((code) => fail(`exited with ${code}`));
  }).catch(async (error: unknown) => {
    await spawned.stop(500);
    throw error;
  });
  return { ...spawned, url };
}

/**
 * Spawns `runtime`'s Autobahn client driver against a fuzzing server at `url` as `agent`.
 * `command` overrides the script; `http2` adds `--http2` (Node's driver then opens every
 * WebSocket with `{ http2: true }`).
 */
export function startClientDriver(runtime: Runtime, url: string, agent: string, options: { command?: string; api?: Api; http2?: boolean } = {}): Spawned {
  const base = options.command ?? scriptCommand(`autobahn-client:${runtime}`, `${run[runtime]} ${clientDriverFile(runtime)}`);
  return spawnCommand(`${base} --url ${url} --agent ${agent} --api ${options.api ?? "stream"}${options.http2 === true ? " --http2" : ""}`);
}

/** Runtimes whose echo server example exists (node always: a built-in echo server stands in). */
export function runtimesWithEchoServer(): Runtime[] {
  return RUNTIMES.filter((rt) => rt === "node" || existsSync(echoServerFile(rt)));
}

/** Runtimes whose client driver example exists. */
export function runtimesWithClientDriver(): Runtime[] {
  return RUNTIMES.filter((rt) => existsSync(clientDriverFile(rt)));
}

/** The built-in Node echo server, used for node while its example does not exist yet. */
export const FALLBACK_NODE_ECHO = `tsx --conditions=wsstream-source ${join(ROOT, "packages/test-suite/src/echo-server.ts")}`;

/** The echo server command for `runtime`: its script, or the fallback for node. */
export function echoCommand(runtime: Runtime): string | undefined {
  if (existsSync(echoServerFile(runtime))) return undefined;
  return runtime === "node" ? FALLBACK_NODE_ECHO : undefined;
}

/** The resident set of `pid` and all its descendants, in bytes (0 once gone). */
export function treeRss(pid: number): number {
  let total = 0;
  const visit = (id: number): void => {
    try {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${id}/status`, "utf8"));
      if (match) total += Number(match[1]) * 1024;
      for (const task of readdirSync(`/proc/${id}/task`)) {
        const children = readFileSync(`/proc/${id}/task/${task}/children`, "utf8").trim();
        for (const child of children.split(/\s+/).filter(Boolean)) visit(Number(child));
      }
    } catch {
      // Gone meanwhile.
    }
  };
  visit(pid);
  return total;
}
