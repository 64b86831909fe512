/**
 * The control channel of the servers that run on any runtime (Node, Deno, Bun): line-based JSON
 * over stdin and stdout, where control.ts uses Node's IPC channel (which Deno and Bun do not
 * offer to a Node parent).
 *
 * Child side only; the parent side is bench/runtime-servers.ts. Once listening, the server prints
 * `{"port":N}` on a line of its own. Then, for each line `stats` read from stdin, it forces a
 * garbage collection where the runtime allows it (`--expose-gc` on Node, `--v8-flags=--expose-gc`
 * on Deno, `Bun.gc(true)` on Bun) and prints `{"open":N,"accepted":N}`; `exit`, or the end of
 * stdin (the parent went away), ends the process. CPU time and memory are read by the parent from
 * /proc, the same way for every runtime.
 *
 * @module
 */
import process from "node:process";

/** Connection counts, kept by each server script. */
export class ConnectionCount {
  open = 0;
  accepted = 0;

  /** Counts one connection until the returned function is called (once; later calls do nothing). */
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

/** Forces a full garbage collection when the runtime exposes one. */
function collectGarbage(): void {
  const bun = (globalThis as { Bun?: { gc(force: boolean): void } }).Bun;
  if (bun !== undefined) {
    bun.gc(true);
    return;
  }
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc !== undefined) {
    gc();
    gc();
  }
}

/** Prints the port for the parent, then answers `stats` and `exit` lines from stdin. */
export function serveStdioControl(port: number, count: ConnectionCount): void {
  console.log(JSON.stringify({ port }));
  let pending = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (text: string) => {
    pending += text;
    for (let end = pending.indexOf("\n"); end !== -1; end = pending.indexOf("\n")) {
      const line = pending.slice(0, end).trim();
      pending = pending.slice(end + 1);
      if (line === "exit") process.exit(0);
      if (line === "stats") {
        collectGarbage();
        console.log(JSON.stringify({ open: count.open, accepted: count.accepted }));
      }
    }
  });
  process.stdin.on("end", () => process.exit(0));
}
