/**
 * The `@wsstream/browser` entry point under Bun (the `bun` export condition): the
 * `WebSocketStream` of `@wsstream/bun`, with the browser entry point's other exports.
 *
 * @module
 */
export { WebSocketError, WebSocketStream } from "@wsstream/bun";
export { FallbackWebSocketStream } from "./fallback.ts";
export { NativeWebSocketStream } from "./native.ts";
export { FallbackWebSocketError } from "./web-socket-error.ts";

/** Which `WebSocketStream` this runtime got. */
export const implementation = "@wsstream/bun";
