/**
 * `WSSTREAM_DEBUG`: set (to anything but `""`, `0` or `false`), every connection without a
 * `debug` option logs its frames and state changes to stderr (through `console.error`, which
 * Bun writes to stderr at once). Read from [`Bun.env`](https://bun.com/docs/runtime/env).
 *
 * @module
 */
import type { DebugLogger } from "@wsstream/core";

let logger: DebugLogger | null | undefined;

/** The stderr logger when `WSSTREAM_DEBUG` is set, else `undefined`; read once. */
export function envDebug(): DebugLogger | undefined {
  if (logger === undefined) {
    const value = Bun.env.WSSTREAM_DEBUG;
    logger = value === undefined || value === "" || value === "0" || value === "false" ? null : (line) => console.error(line);
  }
  return logger ?? undefined;
}
