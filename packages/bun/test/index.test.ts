// Pins the public API: a change here is a change users see.
import { describe, expect, it } from "vitest";
import * as core from "@wsstream/core";
import * as bun from "../src/index.ts";

describe("the package root", () => {
  it("exports exactly the public runtime names", () => {
    expect(Object.keys(bun).sort()).toEqual([
      "CloseCode",
      "CloseEvent",
      "DropEvent",
      "ErrorEvent",
      "HandshakeError",
      "MessageEvent",
      "MessageStream",
      "ProtocolError",
      "ReconnectEvent",
      "ReconnectingWebSocket",
      "ReconnectingWebSocketBase",
      "SocketStreams",
      "SocketTransport",
      "UsageError",
      "WebSocket",
      "WebSocketBase",
      "WebSocketError",
      "WebSocketEvent",
      "WebSocketStream",
      "WebSocketStreamBase",
      "deflate",
      "openSocket",
      "permessageDeflate",
      "serve",
      "zlibBackend",
    ]);
  });

  it("re-exports the core's classes themselves, so instanceof works across both packages", () => {
    expect(bun.WebSocketStreamBase).toBe(core.WebSocketStreamBase);
    expect(bun.WebSocketError).toBe(core.WebSocketError);
    expect(bun.ReconnectingWebSocketBase).toBe(core.ReconnectingWebSocketBase);
    expect(new bun.WebSocketStream("ws://127.0.0.1:1/", { signal: AbortSignal.abort() })).toBeInstanceOf(core.WebSocketStreamBase);
  });
});
