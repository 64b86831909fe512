/**
 * The control channel between a benchmark and the servers it runs, each in its own child process.
 *
 * Parent side: {@link startServer} bundles `bench/servers/NAME.ts` (see {@link buildServer}),
 * spawns it with an IPC channel and waits for its port; {@link ServerProcess.stats} asks for `process.memoryUsage()` (after a forced GC when
 * the child runs with `--expose-gc`), `process.cpuUsage()` and the count of open connections.
 * Child side: {@link serveControl} answers those requests.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { getHeapSpaceStatistics } from "node:v8";

/** The repository root: children run from it so `--import tsx` resolves. */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

// Bundles go where build tools keep caches: ignored by git, and bare imports (`ws`) resolve.
const BUILD_DIR = join(ROOT, "node_modules", ".cache", "wsstream-bench");
const builds = new Map<string, Promise<string>>();

/** The part of esbuild's API used here. */
interface Esbuild {
  build(options: Record<string, unknown>): Promise<unknown>;
}

/**
 * Bundles a server script and the workspace sources it imports (the `wsstream-source`
 * condition) into one ES module, with the esbuild that tsup builds the packages with and tsup's
 * settings (ESM, ES2022, names not kept): the code a user runs from the published package.
 * Running the sources through tsx instead measures tsx too: it compiles with `keepNames`, so
 * every named closure created at run time goes through an `Object.defineProperty` call and gets
 * a dictionary of properties (here 3.6 KiB more heap per idle connection and 10-20% more CPU per
 * message). `ws` and `ioredis` (plain JavaScript that tsx leaves alone) stay imports. Resolves with the
 * bundle's path; each script is built once per process.
 */
export function buildServer(file: string): Promise<string> {
  let build = builds.get(file);
  if (build === undefined) {
    build = (async () => {
      const require = createRequire(import.meta.url);
      // tsup's own esbuild: not a dependency of the repository root, reached through tsup.
      const esbuild = createRequire(require.resolve("tsup"))("esbuild") as Esbuild;
      const outfile = join(BUILD_DIR, `${file}.mjs`);
      await esbuild.build({
        entryPoints: [join(ROOT, "bench", "servers", `${file}.ts`)],
        outfile,
        bundle: true,
        platform: "node",
        format: "esm",
        target: "es2022",
        conditions: ["wsstream-source"],
        external: ["ws", "bufferutil", "ioredis"],
        keepNames: false,
        logLevel: "warning",
      });
      return outfile;
    })();
    builds.set(file, build);
  }
  return build;
}

/** Flags that run a TypeScript file with workspace packages resolved to their sources. */
export const TS_FLAGS = ["--import", "tsx", "--conditions=wsstream-source"] as const;

/** What a server reports about itself. */
export interface ServerStats {
  readonly memory: NodeJS.MemoryUsage;
  /** Bytes reserved by V8's young generation (both semi-spaces): it grows with the allocation rate, not with what is kept. */
  readonly newSpace: number;
  /** `process.cpuUsage()`: user and system microseconds since the process started. */
  readonly cpu: NodeJS.CpuUsage;
  /** WebSocket (or TCP) connections open right now. */
  readonly open: number;
  /** Connections opened since the start. */
  readonly accepted: number;
}

type Request = { readonly id: number; readonly type: "stats" | "exit" };
type Reply = { readonly id: number; readonly stats?: ServerStats };

/** A server child process. */
export interface ServerProcess {
  readonly name: string;
  readonly port: number;
  readonly child: ChildProcess;
  /** GCs (when `--expose-gc`), then reports memory, CPU time and connection counts. */
  stats(): Promise<ServerStats>;
  /** Asks the server to exit (so `--cpu-prof` writes its profile) and waits for it. */
  stop(): Promise<void>;
}

/** How to start a server. */
export interface StartOptions {
  /** File name under bench/servers, without `.ts`. */
  readonly file: "wsstream-node" | "ws-node" | "tcp-echo";
  /** Arguments for the server script. */
  readonly args?: readonly string[];
  /** Extra node flags (`--expose-gc`, `--cpu-prof`, ...). */
  readonly nodeFlags?: readonly string[];
  /** Run through bash with the fd limit raised to the hard limit (many connections). */
  readonly raiseFdLimit?: boolean;
  /**
   * Run the TypeScript sources through tsx instead of a bundle: a profile then names each source
   * file (at the cost of tsx's `keepNames`, see {@link buildServer}).
   */
  readonly fromSource?: boolean;
}

/** Bundles and spawns a server, waits for its port, and returns its handle. */
export async function startServer(name: string, options: StartOptions): Promise<ServerProcess> {
  const script = options.fromSource
    ? [...TS_FLAGS, `bench/servers/${options.file}.ts`]
    : [await buildServer(options.file)];
  const nodeArgs = [...(options.nodeFlags ?? []), ...script, ...(options.args ?? [])];
  const child = spawnNode(nodeArgs, options.raiseFdLimit ?? false);
  const [first] = (await withTimeout(15_000, `${name} to start`, once(child, "message"))) as [{ port: number }];
  let nextId = 0;
  const pending = new Map<number, (reply: Reply) => void>();
  child.on("message", (reply: Reply) => {
    pending.get(reply.id)?.(reply);
    pending.delete(reply.id);
  });
  const request = (type: Request["type"]): Promise<Reply> => {
    const id = ++nextId;
    const promise = new Promise<Reply>((resolve) => pending.set(id, resolve));
    child.send({ id, type } satisfies Request);
    return withTimeout(30_000, `${name} to answer ${type}`, promise);
  };
  return {
    name,
    port: first.port,
    child,
    stats: async () => (await request("stats")).stats!,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = once(child, "exit");
      child.send({ id: ++nextId, type: "exit" } satisfies Request);
      await withTimeout(15_000, `${name} to exit`, exited).catch(() => child.kill("SIGKILL"));
    },
  };
}

/**
 * Spawns `node ARGS` from the repository root with an IPC channel. With `raiseFdLimit`, through
 * bash so `ulimit -n` can lift the soft descriptor limit to the hard one first.
 */
export function spawnNode(nodeArgs: readonly string[], raiseFdLimit: boolean): ChildProcess {
  const stdio = ["ignore", "inherit", "inherit", "ipc"] as const;
  if (!raiseFdLimit) return spawn(process.execPath, nodeArgs, { cwd: ROOT, stdio: [...stdio] });
  return spawn(
    "bash",
    ["-c", 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', "bash", process.execPath, ...nodeArgs],
    { cwd: ROOT, stdio: [...stdio] },
  );
}

/** Rejects with a message naming `what` if `promise` takes longer than `ms`. */
export async function withTimeout<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Connection counts, kept by each server script. */
export class ConnectionCount {
  open = 0;
  accepted = 0;

  /** Counts one connection until `closed` is called. */
  opened(): () => void {
    this.open++;
    this.accepted++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.open--;
    };
  }
}

/**
 * Child side: reports `port` to the parent, then answers `stats` and `exit` requests. Exits when
 * the parent goes away.
 */
export function serveControl(port: number, count: ConnectionCount): void {
  if (process.send === undefined) {
    console.log(`listening on 127.0.0.1:${port} (no IPC channel: started by hand)`);
    return;
  }
  process.on("message", (request: Request) => {
    if (request.type === "exit") {
      process.exit(0);
    }
    const gc = (globalThis as { gc?: () => void }).gc;
    if (gc !== undefined) {
      gc();
      gc();
    }
    const stats: ServerStats = {
      memory: process.memoryUsage(),
      newSpace: getHeapSpaceStatistics().find((space) => space.space_name === "new_space")?.space_size ?? 0,
      cpu: process.cpuUsage(),
      open: count.open,
      accepted: count.accepted,
    };
    process.send!({ id: request.id, stats } satisfies Reply);
  });
  process.on("disconnect", () => process.exit(0));
  process.send({ port });
}
