/**
 * `WSSTREAM_DEBUG`: set (to anything but `""`, `0` or `false`), every connection without a
 * `debug` option logs its frames and state changes to
 * [`Deno.stderr`](https://docs.deno.com/api/deno/~/Deno.stderr). Reading it needs
 * `--allow-env` (or `--allow-env=WSSTREAM_DEBUG`): without that permission the variable is not
 * read, and nothing is asked or thrown
 * ([`Deno.permissions.querySync`](https://docs.deno.com/api/deno/~/Deno.Permissions.querySync)).
 *
 * @module
 */
import type { DebugLogger } from "@wsstream/core";

let logger: DebugLogger | null | undefined;
const encoder = new TextEncoder();

/** The stderr logger when `WSSTREAM_DEBUG` is set and may be read, else `undefined`; read once. */
export function envDebug(): DebugLogger | undefined {
  if (logger === undefined) {
    const value = readEnv("WSSTREAM_DEBUG");
    logger = value === undefined || value === "" || value === "0" || value === "false" ? null : writeLine;
  }
  return logger ?? undefined;
}

function readEnv(name: string): string | undefined {
  try {
    if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") return undefined;
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

function writeLine(line: string): void {
  const bytes = encoder.encode(`${line}\n`);
  try {
    for (let written = 0; written < bytes.length;) written += Deno.stderr.writeSync(bytes.subarray(written));
  } catch {
    // stderr is closed: nothing to log to.
  }
}
