/**
 * `@wsstream/node`: the wsstream WebSocket client and server on Node's sockets.
 *
 * @module
 */
export { openSocket, WebSocketStream, type WebSocketStreamOptions } from "./client.ts";
export { type Handler, handleUpgrade, serve, type ServeOptions, type Server, type UpgradeOptions } from "./server.ts";
export { socketToStreams, type SocketStreams, type SocketStreamsOptions, socketTransport } from "./socket.ts";
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
