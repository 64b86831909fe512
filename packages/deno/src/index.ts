/**
 * `@wsstream/deno`: the wsstream WebSocket client and server on Deno's connections.
 *
 * @module
 */
export { openSocket, WebSocketStream, type WebSocketStreamOptions } from "./client.ts";
export { type Handler, handleConnection, serve, type ServeOptions, type Server, type UpgradeOptions } from "./server.ts";
export {
  connTransport,
  type ConnTransportOptions,
  socketToStreams,
  type SocketStreams,
  type SocketStreamsOptions,
} from "./socket.ts";
export {
  CloseCode,
  HandshakeError,
  permessageDeflate,
  ProtocolError,
  UsageError,
  WebSocketError,
  WebSocketStreamBase,
  type WebSocketCloseInfo,
  type WebSocketStreamOpen,
} from "@wsstream/core";
export { deflate, zlibBackend, type ZlibOptions } from "@wsstream/zlib";
