/**
 * The buffer a message received in pieces is joined into, without the zero-fill of
 * `new Uint8Array(size)`: passed as `allocate` to the core by `serve()` and the clients (see
 * `ConnectionOptions.allocate`). [`Buffer.allocUnsafeSlow`](https://nodejs.org/api/buffer.html#static-method-bufferallocunsafeslowsize)
 * gives a buffer of its own (never a slice of the shared pool), handed out as a plain
 * `Uint8Array` view.
 *
 * @module
 */
import { Buffer } from "node:buffer";

/** A fresh buffer of `size` bytes whose contents are left as they were; the caller overwrites every byte. */
export function allocate(size: number): Uint8Array {
  const buffer = Buffer.allocUnsafeSlow(size);
  return new Uint8Array(buffer.buffer, buffer.byteOffset, size);
}
