/**
 * Every core: one server on all cores with [`node:cluster`](https://nodejs.org/api/cluster.html).
 * The primary process forks workers; each calls `serve()` (or `listen()` on its own HTTP server)
 * on the same port, and node:cluster shares the listening socket between them. A rolling restart
 * replaces the workers one at a time: a new one listens before the old one stops accepting,
 * closes its connections with 1001 (after the messages already queued) and exits.
 *
 * Pub/sub stays per process: add `@wsstream/redis` for a publish to reach the other workers.
 *
 * @module
 */
import cluster, { type Worker } from "node:cluster";
import { availableParallelism } from "node:os";

/** What a worker's `start` returns: a server, or anything that closes what it started. */
export interface Closable {
  close(): Promise<unknown>;
}

/** Options of {@link clusterServe}. */
export interface ClusterOptions<T extends Closable> {
  /** How many worker processes. Default `os.availableParallelism()`. */
  readonly workers?: number;
  /**
   * Runs in each worker: starts its server on the shared port (a fixed one, or 0: every worker
   * gets the same port) and returns it. Its `close()` is called at a restart or a shutdown; the
   * worker exits once it resolves.
   */
  readonly start: () => Promise<T> | T;
  /** How long a new worker may take to listen, in ms. Default 30 000. */
  readonly startTimeout?: number;
  /** How long an old worker may take to close before it is killed, in ms. Default 30 000. */
  readonly closeTimeout?: number;
}

/** The primary process's side of {@link clusterServe}. */
export interface ClusterPrimary {
  readonly role: "primary";
  /** The port the workers listen on. */
  readonly port: number;
  /** The process ids of the workers serving now. */
  readonly workers: readonly number[];
  /**
   * Replaces every worker, one at a time: forks a new one, waits until it listens, then closes
   * the old one (1001 to its connections) and waits for it to exit. Calls are queued.
   */
  restart(): Promise<void>;
  /** Closes every worker (1001 to their connections) and resolves once all have exited. */
  close(): Promise<void>;
}

/** A worker's side of {@link clusterServe}: the server its `start` returned. */
export interface ClusterWorker<T extends Closable> {
  readonly role: "worker";
  readonly server: T;
}

const CLOSE = "wsstream:close";

/**
 * Runs `start` in `workers` processes that share one port. Call it at the top of your program:
 * in the primary it forks the workers and resolves once all listen; in each worker it runs
 * `start` and resolves with its server. A worker that dies is replaced.
 *
 * @example
 * ```ts
 * import { clusterServe, serve } from "@wsstream/node";
 *
 * const node = await clusterServe({
 *   workers: 4,
 *   start: () => serve({ port: 8080, handler: (ws) => echo(ws) }),
 * });
 * if (node.role === "primary") {
 *   process.on("SIGHUP", () => void node.restart()); // rolling restart
 *   process.on("SIGTERM", () => void node.close().then(() => process.exit(0)));
 * }
 * ```
 */
export async function clusterServe<T extends Closable>(options: ClusterOptions<T>): Promise<ClusterPrimary | ClusterWorker<T>> {
  if (typeof options?.start !== "function") throw new TypeError("clusterServe() needs a start function");
  const count = options.workers ?? availableParallelism();
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`workers must be a whole number, 1 or more: ${String(count)}`);
  if (cluster.isWorker) return runWorker(options.start);
  return runPrimary(count, options.startTimeout ?? 30_000, options.closeTimeout ?? 30_000);
}

async function runWorker<T extends Closable>(start: () => Promise<T> | T): Promise<ClusterWorker<T>> {
  const server = await start();
  let closing = false;
  const close = (): void => {
    if (closing) return;
    closing = true;
    // Stop accepting, close every connection with 1001 after what is queued, then leave.
    server.close().then(() => process.exit(0), (error: unknown) => {
      console.error(error);
      process.exit(1);
    });
  };
  process.on("message", (message: unknown) => {
    if (message === CLOSE) close();
  });
  // The primary is gone: nobody will hand this worker connections any more.
  process.on("disconnect", close);
  return { role: "worker", server };
}

async function runPrimary(count: number, startTimeout: number, closeTimeout: number): Promise<ClusterPrimary> {
  const serving = new Set<Worker>();
  const retiring = new Set<Worker>();
  let port = 0;
  let closing = false;

  const fork = (): Promise<Worker> => {
    const worker = cluster.fork();
    return new Promise<Worker>((resolve, reject) => {
      const timer = setTimeout(() => {
        worker.process.kill("SIGKILL");
        reject(new Error(`A worker did not listen within ${startTimeout} ms`));
      }, startTimeout);
      const onExit = (code: number | null, signal: string | null): void => {
        clearTimeout(timer);
        reject(new Error(`A worker exited (${code ?? signal}) before it listened`));
      };
      worker.once("exit", onExit);
      worker.once("listening", (address) => {
        clearTimeout(timer);
        worker.off("exit", onExit);
        port ||= address.port;
        serving.add(worker);
        // A worker that dies on its own is replaced (not one being retired or at shutdown).
        worker.once("exit", () => {
          const replace = serving.delete(worker) && !closing;
          if (replace) fork().catch((error: unknown) => console.error("clusterServe: could not replace a worker:", error));
        });
        resolve(worker);
      });
    });
  };

  const retire = (worker: Worker): Promise<void> => {
    serving.delete(worker);
    retiring.add(worker);
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => worker.process.kill("SIGKILL"), closeTimeout);
      worker.once("exit", () => {
        clearTimeout(timer);
        retiring.delete(worker);
        resolve();
      });
      if (worker.isConnected()) worker.send(CLOSE);
      else worker.process.kill("SIGTERM");
    });
  };

  try {
    await Promise.all(Array.from({ length: count }, fork));
  } catch (error) {
    closing = true;
    await Promise.all([...serving].map(retire));
    throw error;
  }

  let queue = Promise.resolve();
  return {
    role: "primary",
    get port() {
      return port;
    },
    get workers() {
      return [...serving].map((worker) => worker.process.pid!);
    },
    restart() {
      const run = async (): Promise<void> => {
        for (const old of [...serving]) {
          if (closing) return;
          await fork();
          await retire(old);
        }
      };
      const next = queue.then(run);
      queue = next.catch(() => {});
      return next;
    },
    async close() {
      closing = true;
      await queue;
      await Promise.all([...serving, ...retiring].map((worker) => retiring.has(worker) ? new Promise<void>((resolve) => {
        if (worker.isDead()) resolve();
        else worker.once("exit", () => resolve());
      }) : retire(worker)));
    },
  };
}
