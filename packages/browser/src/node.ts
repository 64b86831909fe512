/**
 * The `@wsstream/browser` entry point under Node (the `node` export condition): the
 * `WebSocketStream` of `@wsstream/node`, with the browser entry point's other exports.
 *
 * @module
 */
export { WebSocketError, WebSocketStream } from "@wsstream/node";
export { FallbackWebSocketStream } from "./fallback.ts";
export { NativeWebSocketStream } from "./native.ts";
export { FallbackWebSocketError } from "./web-socket-error.ts";

/** Which `WebSocketStream` this runtime got. */
export const implementation = "@wsstream/node";
