/**
 * `@wsstream/bun`: the wsstream WebSocket client and server on Bun's sockets.
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
export { type Handler, type ListenOptions, serve, type ServeOptions, type Server } from "./server.ts";
export {
  SocketStreams,
  type SocketStreamsOptions,
  SocketTransport,
  type SocketTransportOptions,
  type StreamSocket,
  type TransportSocket,
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
