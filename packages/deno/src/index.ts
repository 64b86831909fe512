/**
 * `@wsstream/deno`: the wsstream WebSocket client and server on Deno's connections.
 *
 * @module
 */
export {
  openSocket,
  ReconnectingWebSocket,
  type ReconnectingWebSocketOptions,
  WebSocket,
  type WebSocketOptions,
  WebSocketStream,
  type WebSocketStreamOptions,
} from "./client.ts";
export {
  connectionHandler,
  type ConnectionHandlerOf,
  type Handler,
  handleConnection,
  type ListenOptions,
  serve,
  type ServeOptions,
  type Server,
  type UpgradeOptions,
} from "./server.ts";
export {
  connTransport,
  type ConnTransportOptions,
  socketToStreams,
  type SocketStreams,
  type SocketStreamsOptions,
} from "./socket.ts";
export {
  CloseCode,
  CloseEvent,
  type DisconnectInfo,
  DropEvent,
  ErrorEvent,
  HandshakeError,
  MessageEvent,
  type MessageSource,
  MessageStream,
  permessageDeflate,
  ProtocolError,
  ReconnectEvent,
  ReconnectingWebSocketBase,
  UsageError,
  WebSocketBase,
  WebSocketError,
  WebSocketEvent,
  type WebSocketHandler,
  WebSocketStreamBase,
  type WebSocketCloseInfo,
  type WebSocketStreamOpen,
  type ConnectionStats,
  type ServerStats,
  type DebugLogger,
  type DebugOption,
} from "@wsstream/core";
export { deflate, zlibBackend, type ZlibOptions } from "@wsstream/zlib";
