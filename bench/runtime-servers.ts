/**
 * Starts a benchmark server on Node, Deno or Bun and measures it from outside: the parent side of
 * bench/servers/stdio-control.ts. The port and the connection counts come over the child's stdin
 * and stdout; CPU time and resident memory are read from /proc/PID (`utime` + `stime` of
 * /proc/PID/stat, `VmRSS` of /proc/PID/status), so every runtime is measured the same way, all
 * threads included (GC, JIT, zlib and I/O threads).
 *
 * Each runtime runs the TypeScript sources with workspace packages resolved to their sources, as
 * the root package.json's `echo:*` scripts do: Deno with `--conditions=wsstream-source --config
 * packages/deno/deno.json`, Bun with `--conditions=wsstream-source`. Node runs the server bundled
 * by control.ts's {@link buildServer} (what a user runs from the published package; tsx would
 * add its own cost). The Deno and Bun binaries are started directly, not through
 * node_modules/.bin (whose scripts run them as a child of a shell or of Node), so the PID read is
 * the server's own.
 *
 * @module
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { buildServer, ROOT, withTimeout } from "./servers/control.ts";

export type Runtime = "node" | "deno" | "bun";

/** How to start one server. */
export interface ServerSpec {
  /** Shown in tables. */
  readonly name: string;
  readonly runtime: Runtime;
  /** File name under bench/servers, without `.ts`. */
  readonly file: string;
  readonly args?: readonly string[];
}

/** A server's counters, and its CPU time and memory as /proc shows them. */
export interface ServerStats {
  readonly open: number;
  readonly accepted: number;
  /** User + system CPU seconds since the process started. */
  readonly cpuSeconds: number;
  /** Resident set size, bytes. */
  readonly rss: number;
}

/** A running server process. */
export interface RuntimeServer {
  readonly spec: ServerSpec;
  readonly port: number;
  readonly child: ChildProcess;
  /** CPU seconds so far, read from /proc without asking the server. */
  cpuSeconds(): number;
  /** Forces a GC in the server (where the runtime allows it), then reads its counters and /proc. */
  stats(): Promise<ServerStats>;
  /**
   * Sends one command line (`stats`, or one a server adds, such as bench/servers/publish-control.ts's
   * `publish`) and resolves with the JSON line it answers; one request at a time, in order.
   */
  request(line: string, timeoutMs?: number): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

/** Options of {@link startRuntimeServer}. */
export interface StartOptions {
  /** Expose the garbage collector (`--expose-gc` on Node and Deno; Bun always has `Bun.gc`). */
  readonly gc?: boolean;
  /** Start through bash with `ulimit -n` raised to the hard limit (many connections). */
  readonly raiseFdLimit?: boolean;
  /** Extra flags for a Node server (`--cpu-prof`, ...); ignored on Deno and Bun. */
  readonly nodeFlags?: readonly string[];
}

const require = createRequire(import.meta.url);

/** The Deno binary the `deno` npm package installed (its bin script would run it as a child). */
function denoBinary(): string {
  return join(dirname(require.resolve("deno/package.json")), "deno");
}

/** The Bun binary the `bun` npm package installed. */
function bunBinary(): string {
  return join(dirname(require.resolve("bun/package.json")), "bin", "bun.exe");
}

/** The command line that runs `spec` (binary first). */
async function commandLine(spec: ServerSpec, options: StartOptions): Promise<string[]> {
  const script = `bench/servers/${spec.file}.ts`;
  const args = spec.args ?? [];
  switch (spec.runtime) {
    case "node":
      return [process.execPath, ...(options.gc ? ["--expose-gc"] : []), ...(options.nodeFlags ?? []), await buildServer(spec.file), ...args];
    case "deno":
      return [
        denoBinary(),
        "run",
        "--allow-net",
        "--conditions=wsstream-source",
        "--config",
        "packages/deno/deno.json",
        ...(options.gc ? ["--v8-flags=--expose-gc"] : []),
        script,
        ...args,
      ];
    case "bun":
      return [bunBinary(), "--conditions=wsstream-source", script, ...args];
  }
}

/** `utime` + `stime` of /proc/PID/stat, in seconds. */
export function procCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The fields after the command name (which may hold spaces), from field 3 (state) on.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** `VmRSS` of /proc/PID/status, in bytes. */
export function procRss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = /^VmRSS:\s*(\d+) kB/m.exec(status)?.[1];
  if (kib === undefined) throw new Error(`No VmRSS in /proc/${pid}/status`);
  return Number(kib) * 1024;
}

// USER_HZ: 100 on every Linux architecture Node runs on (`getconf CLK_TCK`).
const CLOCK_TICKS = 100;

/** Starts a server and waits for its port. */
export async function startRuntimeServer(spec: ServerSpec, options: StartOptions = {}): Promise<RuntimeServer> {
  const [binary, ...args] = await commandLine(spec, options);
  const stdio = ["pipe", "pipe", "inherit"] as const;
  const child = options.raiseFdLimit
    ? spawn("bash", ["-c", 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', "bash", binary!, ...args], { cwd: ROOT, stdio: [...stdio] })
    : spawn(binary!, args, { cwd: ROOT, stdio: [...stdio] });
  const lines = createInterface({ input: child.stdout! });
  const waiting: Array<(line: Record<string, number>) => void> = [];
  const first = new Promise<Record<string, number>>((resolve) => waiting.push(resolve));
  lines.on("line", (line) => {
    let message: Record<string, number>;
    try {
      message = JSON.parse(line) as Record<string, number>;
    } catch {
      console.error(`  [${spec.name}] ${line}`);
      return;
    }
    waiting.shift()?.(message);
  });
  const exited = new Promise<never>((_, reject) => {
    child.once("exit", (code, signal) => reject(new Error(`${spec.name} exited (${code ?? signal})`)));
  });
  exited.catch(() => undefined);
  const { port } = await withTimeout(30_000, `${spec.name} to start`, Promise.race([first, exited]));
  const pid = child.pid!;
  let queue = Promise.resolve();
  const request = (line: string, timeoutMs = 60_000): Promise<Record<string, number>> => {
    // One request at a time: replies carry no id.
    const next = queue.then(async () => {
      const reply = new Promise<Record<string, number>>((resolve) => waiting.push(resolve));
      child.stdin!.write(`${line}\n`);
      return await withTimeout(timeoutMs, `${spec.name} to answer ${line}`, Promise.race([reply, exited]));
    });
    queue = next.then(() => undefined, () => undefined);
    return next;
  };
  const stats = async (): Promise<ServerStats> => {
    const { open, accepted } = await request("stats");
    return { open: open!, accepted: accepted!, cpuSeconds: procCpuSeconds(pid), rss: procRss(pid) };
  };
  return {
    spec,
    port: port!,
    child,
    cpuSeconds: () => procCpuSeconds(pid),
    stats,
    request,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.stdin!.end("exit\n");
      await withTimeout(15_000, `${spec.name} to exit`, gone).catch(() => child.kill("SIGKILL"));
    },
  };
}

/** Runtime versions, for the results' header. */
export function runtimeVersions(): string {
  const run = (binary: string): string => {
    try {
      return execFileSync(binary, ["--version"], { encoding: "utf8" }).split("\n")[0]!.trim();
    } catch {
      return "unavailable";
    }
  };
  return `Node ${process.version}, ${run(denoBinary())}, Bun ${run(bunBinary())}`;
}
