/**
 * `@wsstream/core`: a sans-I/O WebSocket (RFC 6455) engine over `Uint8Array`, for any runtime.
 *
 * @module
 */
export { ClientConnection, type ClientConnectionOptions } from "./client.ts";
export {
  type AcceptContext,
  type CloseReport,
  type ConnectionHandler,
  ConnectionGroup,
  type HandlerFor,
  OpenConnections,
  type ServeCommonOptions,
  type ServerApi,
  type ServerConnections,
  type ServerSocketFor,
  type ServeConnectionOptions,
  type ServerWebSocket,
  type WebSocketHandler,
} from "./connection-group.ts";
export {
  CloseCode,
  type ClosePayload,
  encodeClosePayload,
  isValidWireCloseCode,
  MAX_CLOSE_REASON_BYTES,
  parseClosePayload,
} from "./close.ts";
export {
  Connection,
  type ConnectionOptions,
  DEFAULT_MAX_FRAGMENTS,
  DEFAULT_MAX_MESSAGE_SIZE,
} from "./connection.ts";
export {
  HandshakeError,
  type HandshakeErrorCode,
  ProtocolError,
  type ProtocolErrorCode,
  UsageError,
  type UsageErrorCode,
  WebSocketError,
} from "./errors.ts";
export type {
  BinaryEvent,
  CloseEvent as CloseFrameEvent,
  EncodedEvent,
  ConnectionEvent,
  ErrorEvent as ProtocolErrorEvent,
  HandshakeErrorEvent,
  MessageChunkEvent,
  OpenEvent,
  PingEvent,
  PongEvent,
  RequestEvent,
  TextEvent,
} from "./events.ts";
export type { Extension, ExtensionFactory } from "./extension.ts";
export { type ExtensionOffer, formatExtensionHeader, parseExtensionHeader } from "./extension-header.ts";
export { encodeFrame, type Frame } from "./frame.ts";
export { FrameDecoder, type FrameDecoderOptions, type FramePiece } from "./frame-decoder.ts";
export {
  type AcceptOptions,
  acceptResponse,
  acceptResponseWithKey,
  type ClientRequest,
  type ClientRequestOptions,
  computeAcceptKey,
  createClientRequest,
  generateKey,
  type HandshakeHashOptions,
  type HandshakeResponse,
  type HeaderInit,
  rejectionFor,
  type RejectOptions,
  rejectResponse,
  type Sha1,
  type UpgradeRequest,
  validateUpgradeRequest,
  validateUpgradeResponse,
  WEBSOCKET_GUID,
} from "./handshake.ts";
export {
  getHeader,
  getHeaderValues,
  type HeaderList,
  type HeadResult,
  type HttpHeadLimits,
  type RequestHead,
  RequestHeadParser,
  type ResponseHead,
  ResponseHeadParser,
} from "./http-head.ts";
export {
  acceptConnectResponse,
  connectRejectionFor,
  type ConnectRequest,
  type ConnectRequestHead,
  type ConnectResponse,
  createConnectRequest,
  rejectConnectResponse,
  validateConnectRequest,
  validateConnectResponse,
} from "./http2-handshake.ts";
export { applyMask } from "./mask.ts";
export { Opcode } from "./opcode.ts";
export { ServerConnection, type ServerConnectionOptions } from "./server.ts";
export { State } from "./state.ts";
export {
  type Compressor,
  type DeflateBackend,
  type Decompressor,
  permessageDeflate,
  type PermessageDeflateOptions,
} from "./permessage-deflate.ts";
export {
  acceptDeflateOffer,
  type AcceptedDeflateOffer,
  acceptDeflateResponse,
  deflateOffer,
  type DeflateOptions,
  type DeflateParams,
} from "./permessage-deflate-params.ts";
export { webDeflateBackend } from "./web-deflate.ts";
export {
  type ClientEndpointOptions,
  type ClientHandshake,
  type CloseResult,
  type ConnectTunnel,
  Endpoint,
  type EndpointOptions,
  type EndpointOwner,
  type OpenInfo,
  type TransportSource,
} from "./endpoint.ts";
export { type KeepaliveOptions } from "./keepalive.ts";
export { Hub, type LocalHub, type PubSubBridge, type PubSubBridgeLink, type PublishData, type PublishOptions, type PubSubOptions } from "./pubsub.ts";
export { checkTransition, type Phase, type Transition, TRANSITIONS, transitionTable } from "./lifecycle.ts";
export {
  type ByteStreams,
  checkReadBufferSize,
  type Clock,
  connectTarget,
  type ConnectTarget,
  DEFAULT_READ_BUFFER_SIZE,
  defaultClock,
  defaultSchedule,
  toTransport,
  type Transport,
  type TransportSink,
  type TransportLike,
  transportToStreams,
} from "./transport.ts";
export { ReadAhead, type ReadAheadOwner } from "./read-ahead.ts";
export { decideUpgrade, type ServerOptions, toWebRequest, type UpgradeDecision, type UpgradeOutcome } from "./upgrade.ts";
export {
  acceptWebSocket,
  type AcceptedWebSocket,
  type ClientOptions,
  connectWebSocket,
  type MessageInput,
  type WebSocketCloseInfo,
  WebSocketStreamBase,
  type WebSocketStreamOpen,
  type WebSocketStreamOptions,
} from "./websocket-stream.ts";
export {
  CloseEvent,
  ErrorEvent,
  type EventListenerLike,
  type ListenerOptions,
  MessageEvent,
  type SocketCloseEvent,
  type SocketErrorEvent,
  type SocketEvent,
  type SocketMessageEvent,
  WebSocketEvent,
  WebSocketEventTarget,
} from "./event-target.ts";
export { type BinaryType, type WebSocketData, WebSocketBase, type WebSocketOptions } from "./websocket.ts";
export {
  type ConnectSocket,
  defaultShouldReconnect,
  type DisconnectInfo,
  DropEvent,
  type DropReason,
  type Jitter,
  type ReconnectableSocket,
  ReconnectEvent,
  type ReconnectOptions,
  type ReconnectPhase,
  ReconnectingWebSocketBase,
} from "./reconnecting.ts";
export { type ConnectionStats, type ServerStats, type StatsCounters } from "./stats.ts";
export { type DebugLogger, type DebugOption } from "./debug-log.ts";
export { type MessageSource, MessageStream } from "./message-stream.ts";
