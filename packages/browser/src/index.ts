/**
 * `@wsstream/browser`: one `WebSocketStream` for every runtime. In a browser it is the native
 * `WebSocketStream` where there is one, else {@link FallbackWebSocketStream} on `WebSocket`.
 * Under Node, Deno and Bun the package's export conditions pick the runtime's adapter instead
 * (`node.ts`, `deno.ts`, `bun.ts`), so the same client code runs everywhere.
 *
 * @example
 * ```ts
 * import { WebSocketStream } from "@wsstream/browser";
 *
 * const ws = new WebSocketStream("wss://example.com/chat", { protocols: ["chat.v2"] });
 * const { readable, writable } = await ws.opened;
 * await writable.getWriter().write("hello");
 * ```
 *
 * @module
 */
import { FallbackWebSocketStream } from "./fallback.ts";
import { NativeWebSocketStream, nativeWebSocketStream } from "./native.ts";
import type { WebSocketStreamConstructor } from "./types.ts";

export { FallbackWebSocketStream } from "./fallback.ts";
export { NativeWebSocketStream } from "./native.ts";
export type {
  WebSocketCloseInfo,
  WebSocketStreamConstructor,
  WebSocketStreamLike,
  WebSocketStreamOpen,
  WebSocketStreamOptions,
} from "./types.ts";
export { FallbackWebSocketError, WebSocketError } from "./web-socket-error.ts";

/** Which `WebSocketStream` this runtime got. */
export const implementation: "native" | "fallback" | "@wsstream/node" | "@wsstream/deno" | "@wsstream/bun" =
  nativeWebSocketStream === undefined ? "fallback" : "native";

/** The native `WebSocketStream` where the browser has one, else the fallback on `WebSocket`. */
export const WebSocketStream: WebSocketStreamConstructor = nativeWebSocketStream === undefined ? FallbackWebSocketStream : NativeWebSocketStream;
