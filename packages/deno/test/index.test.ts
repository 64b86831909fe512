// Pins the public API: a change here is a change users see.
import { describe, expect, it } from "vitest";
import * as core from "@wsstream/core";
import * as deno from "../src/index.ts";

describe("the package root", () => {
  it("exports exactly the public runtime names", () => {
    expect(Object.keys(deno).sort()).toEqual([
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
      "UsageError",
      "WebSocket",
      "WebSocketBase",
      "WebSocketError",
      "WebSocketEvent",
      "WebSocketStream",
      "WebSocketStreamBase",
      "connTransport",
      "connectionHandler",
      "deflate",
      "handleConnection",
      "openSocket",
      "permessageDeflate",
      "serve",
      "socketToStreams",
      "zlibBackend",
    ]);
  });

  it("re-exports the core's classes themselves, so instanceof works across both packages", () => {
    expect(deno.WebSocketStreamBase).toBe(core.WebSocketStreamBase);
    expect(deno.WebSocketError).toBe(core.WebSocketError);
    expect(deno.ReconnectingWebSocketBase).toBe(core.ReconnectingWebSocketBase);
    const ws = new deno.WebSocketStream("ws://127.0.0.1:1/", { signal: AbortSignal.abort() });
    expect(ws).toBeInstanceOf(core.WebSocketStreamBase);
  });
});
