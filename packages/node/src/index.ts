/**
 * `@wsstream/node`: the wsstream WebSocket client and server on Node's sockets.
 *
 * @module
 */
export {
  type Http2ClientOptions,
  type Http2SessionOptions,
  openHttp2Session,
  openSocket,
  ReconnectingWebSocket,
  type ReconnectingWebSocketOptions,
  WebSocket,
  type WebSocketOptions,
  WebSocketStream,
  type WebSocketStreamOptions,
} from "./client.ts";
export { type Closable, type ClusterOptions, type ClusterPrimary, clusterServe, type ClusterWorker } from "./cluster.ts";
export {
  type Handler,
  handleStream,
  handleUpgrade,
  type ListenOptions,
  serve,
  type ServeOptions,
  type Server,
  type UpgradeHandler,
  upgradeHandler,
  type UpgradeOptions,
} from "./server.ts";
export { socketToStreams, type SocketStreams, type SocketStreamsOptions, socketTransport } from "./socket.ts";
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
