/**
 * The handshake's SHA-1 on Node: [`crypto.createHash`](https://nodejs.org/api/crypto.html#cryptocreatehashalgorithm-options),
 * synchronous. `crypto.subtle.digest`, the core's default, runs each hash as a job on the libuv
 * thread pool and resolves a promise: in a profile of 2,000 handshakes it took 30% of the
 * server's CPU time; `createHash` costs 1.5 to 3 µs per hash.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { Sha1 } from "@wsstream/core";

/** SHA-1 of `data`, at once. Passed as `sha1` to the core by `serve()`, `handleUpgrade()` and the clients. */
export const sha1: Sha1 = (data) => createHash("sha1").update(data).digest();
