/**
 * The `@wsstream/browser` entry point under Deno (the `deno` export condition): the
 * `WebSocketStream` of `@wsstream/deno`, with the browser entry point's other exports.
 *
 * @module
 */
export { WebSocketError, WebSocketStream } from "@wsstream/deno";
export { FallbackWebSocketStream } from "./fallback.ts";
export { NativeWebSocketStream } from "./native.ts";
export { FallbackWebSocketError } from "./web-socket-error.ts";

/** Which `WebSocketStream` this runtime got. */
export const implementation = "@wsstream/deno";
