/**
 * The handshake's SHA-1 on Bun:
 * [`Bun.CryptoHasher.hash`](https://bun.com/reference/bun/CryptoHasher), synchronous. In a
 * microbenchmark on Bun 1.4 it took 0.3 to 0.9 µs per hash, like `node:crypto`'s `createHash`
 * (0.5 µs) and Bun's `SHA1.hash`; `crypto.subtle.digest`, the core's default, 1.9 µs and a
 * promise.
 *
 * @module
 */
import type { Sha1 } from "@wsstream/core";

/** SHA-1 of `data`, at once. Passed as `sha1` to the core by `serve()` and the clients. */
export const sha1: Sha1 = (data) => Bun.CryptoHasher.hash("sha1", data);
