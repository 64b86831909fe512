/**
 * `WSSTREAM_DEBUG`: set (to anything but `""`, `0` or `false`), every connection without a
 * `debug` option logs its frames and state changes to
 * [`process.stderr`](https://nodejs.org/api/process.html#processstderr).
 *
 * @module
 */
import type { DebugLogger } from "@wsstream/core";

let logger: DebugLogger | null | undefined;

/** The stderr logger when `WSSTREAM_DEBUG` is set, else `undefined`; read once. */
export function envDebug(): DebugLogger | undefined {
  if (logger === undefined) {
    const value = process.env.WSSTREAM_DEBUG;
    logger = value === undefined || value === "" || value === "0" || value === "false" ? null : (line) => void process.stderr.write(`${line}\n`);
  }
  return logger ?? undefined;
}
