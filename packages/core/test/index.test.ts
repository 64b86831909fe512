// Pins the public API: a change here is a change users see.
import { describe, expect, it } from "vitest";
import * as core from "../src/index.ts";

describe("the package root", () => {
  it("exports exactly the public runtime names", () => {
    expect(Object.keys(core).sort()).toEqual([
      "ClientConnection",
      "CloseCode",
      "CloseEvent",
      "Connection",
      "ConnectionGroup",
      "DEFAULT_MAX_FRAGMENTS",
      "DEFAULT_MAX_MESSAGE_SIZE",
      "DEFAULT_READ_BUFFER_SIZE",
      "DropEvent",
      "Endpoint",
      "ErrorEvent",
      "FrameDecoder",
      "HandshakeError",
      "Hub",
      "MAX_CLOSE_REASON_BYTES",
      "MessageEvent",
      "MessageStream",
      "Opcode",
      "OpenConnections",
      "ProtocolError",
      "ReadAhead",
      "ReconnectEvent",
      "ReconnectingWebSocketBase",
      "RequestHeadParser",
      "ResponseHeadParser",
      "ServerConnection",
      "State",
      "TRANSITIONS",
      "UsageError",
      "WEBSOCKET_GUID",
      "WebSocketBase",
      "WebSocketError",
      "WebSocketEvent",
      "WebSocketEventTarget",
      "WebSocketStreamBase",
      "acceptConnectResponse",
      "acceptDeflateOffer",
      "acceptDeflateResponse",
      "acceptResponse",
      "acceptResponseWithKey",
      "acceptWebSocket",
      "applyMask",
      "checkReadBufferSize",
      "checkTransition",
      "computeAcceptKey",
      "connectRejectionFor",
      "connectTarget",
      "connectWebSocket",
      "createClientRequest",
      "createConnectRequest",
      "decideUpgrade",
      "defaultClock",
      "defaultSchedule",
      "defaultShouldReconnect",
      "deflateOffer",
      "encodeClosePayload",
      "encodeFrame",
      "formatExtensionHeader",
      "generateKey",
      "getHeader",
      "getHeaderValues",
      "isValidWireCloseCode",
      "parseClosePayload",
      "parseExtensionHeader",
      "permessageDeflate",
      "rejectConnectResponse",
      "rejectResponse",
      "rejectionFor",
      "toTransport",
      "toWebRequest",
      "transitionTable",
      "transportToStreams",
      "validateConnectRequest",
      "validateConnectResponse",
      "validateUpgradeRequest",
      "validateUpgradeResponse",
      "webDeflateBackend",
    ]);
  });

  it("computes the RFC 6455 sample accept key from the root export", async () => {
    expect(await core.computeAcceptKey("dGhlIHNhbXBsZSBub25jZQ==")).toBe("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    expect(atob(core.generateKey()).length).toBe(16);
  });

  it("keeps instanceof working across two copies of the package (Symbol.for brands)", () => {
    class Foreign extends Error {}
    const foreign = new Foreign("from another copy");
    Object.defineProperty(foreign, Symbol.for("wsstream.ProtocolError"), { value: true });
    expect(foreign).toBeInstanceOf(core.ProtocolError);
    expect(new Error("plain")).not.toBeInstanceOf(core.ProtocolError);
    const webError = new core.WebSocketError("x", { closeCode: 4000, reason: "r" });
    expect(webError).toBeInstanceOf(core.WebSocketError);
    expect(webError.name).toBe("WebSocketError");
    expect(new core.UsageError("WS_ERR_INVALID_STATE", "m").name).toBe("UsageError");
  });
});
