// RFC 8441: the extended CONNECT handshake as fields, the server connection answering one, the
// client connection checking the answer, and an endpoint pair over a tunnel opened out of band.
import { describe, expect, it } from "vitest";
import { ClientConnection } from "../src/client.ts";
import { HandshakeError, UsageError } from "../src/errors.ts";
import type { HeaderList } from "../src/http-head.ts";
import {
  acceptConnectResponse,
  connectRejectionFor,
  type ConnectRequestHead,
  type ConnectResponse,
  createConnectRequest,
  rejectConnectResponse,
  validateConnectRequest,
  validateConnectResponse,
} from "../src/http2-handshake.ts";
import { permessageDeflate } from "../src/permessage-deflate.ts";
import { ServerConnection } from "../src/server.ts";
import { State } from "../src/state.ts";
import { webDeflateBackend } from "../src/web-deflate.ts";
import { WebSocketStreamBase, acceptWebSocket } from "../src/websocket-stream.ts";
import { WebSocketBase } from "../src/websocket.ts";
import { memoryPair } from "./helpers/memory-transport.ts";

// The RFC 8441 §5.1 example request.
const EXAMPLE: ConnectRequestHead = {
  method: "CONNECT",
  protocol: "websocket",
  scheme: "https",
  path: "/chat",
  authority: "server.example.com",
  headers: [
    ["sec-websocket-protocol", "chat, superchat"],
    ["sec-websocket-extensions", "permessage-deflate"],
    ["sec-websocket-version", "13"],
    ["origin", "http://www.example.com"],
  ],
};

/** The head a server receives for the fields a client sends. */
function headOf(fields: HeaderList): ConnectRequestHead {
  const pseudo = new Map(fields.filter(([name]) => name.startsWith(":")));
  return {
    method: pseudo.get(":method")!,
    protocol: pseudo.get(":protocol"),
    scheme: pseudo.get(":scheme"),
    path: pseudo.get(":path"),
    authority: pseudo.get(":authority"),
    headers: fields.filter(([name]) => !name.startsWith(":")),
  };
}

function refusal(head: ConnectRequestHead): HandshakeError {
  try {
    validateConnectRequest(head);
  } catch (error) {
    if (error instanceof HandshakeError) return error;
    throw error;
  }
  throw new Error("expected a refusal");
}

describe("validateConnectRequest", () => {
  it("reads the RFC 8441 example request as an upgrade request without a key", () => {
    expect(validateConnectRequest(EXAMPLE)).toEqual({
      method: "CONNECT",
      target: "/chat",
      host: "server.example.com",
      key: "",
      origin: "http://www.example.com",
      protocols: ["chat", "superchat"],
      extensions: [{ name: "permessage-deflate", params: [] }],
      headers: EXAMPLE.headers,
    });
  });

  it("refuses what is not an extended CONNECT for websocket with 400", () => {
    expect(refusal({ ...EXAMPLE, method: "GET" })).toMatchObject({ code: "WS_ERR_INVALID_METHOD", status: 400 });
    expect(refusal({ ...EXAMPLE, protocol: undefined })).toMatchObject({ code: "WS_ERR_INVALID_UPGRADE", status: 400, message: "Missing :protocol pseudo-header" });
    expect(refusal({ ...EXAMPLE, protocol: "webtransport" })).toMatchObject({ code: "WS_ERR_INVALID_UPGRADE", status: 400, message: "Invalid :protocol: webtransport" });
  });

  it("requires :scheme, :path and :authority (RFC 8441 §4)", () => {
    expect(refusal({ ...EXAMPLE, scheme: undefined })).toMatchObject({ code: "WS_ERR_MALFORMED_HTTP", status: 400 });
    expect(refusal({ ...EXAMPLE, scheme: "ftp" })).toMatchObject({ code: "WS_ERR_MALFORMED_HTTP", status: 400 });
    expect(refusal({ ...EXAMPLE, path: undefined })).toMatchObject({ code: "WS_ERR_MALFORMED_HTTP", status: 400 });
    expect(refusal({ ...EXAMPLE, path: "*" })).toMatchObject({ code: "WS_ERR_MALFORMED_HTTP", status: 400 });
    expect(refusal({ ...EXAMPLE, authority: "" })).toMatchObject({ code: "WS_ERR_MISSING_HOST", status: 400 });
  });

  it("refuses another WebSocket version with 400 naming version 13, as a 426 needs an Upgrade field HTTP/2 forbids", () => {
    const error = refusal({ ...EXAMPLE, headers: [["sec-websocket-version", "8"]] });
    expect(error).toMatchObject({ code: "WS_ERR_UNSUPPORTED_VERSION", status: 400 });
    expect(error.headers).toEqual([["sec-websocket-version", "13"]]);
    expect(refusal({ ...EXAMPLE, headers: [] })).toMatchObject({ code: "WS_ERR_UNSUPPORTED_VERSION", message: "Missing Sec-WebSocket-Version header" });
  });

  it("refuses malformed subprotocol and extension offers with 400", () => {
    const version = ["sec-websocket-version", "13"] as const;
    expect(refusal({ ...EXAMPLE, headers: [version, ["sec-websocket-protocol", "a b"]] })).toMatchObject({ code: "WS_ERR_INVALID_SUBPROTOCOL", status: 400 });
    expect(refusal({ ...EXAMPLE, headers: [version, ["sec-websocket-extensions", ";x"]] })).toMatchObject({ code: "WS_ERR_INVALID_EXTENSION", status: 400 });
  });
});

describe("the server's answers", () => {
  const request = validateConnectRequest(EXAMPLE);

  it("accepts with 200 and the chosen subprotocol, extensions and headers, lower-case", () => {
    expect(acceptConnectResponse(request, { protocol: "superchat", extensions: "permessage-deflate", headers: { "Set-Cookie": "a=1" } })).toEqual({
      status: 200,
      headers: [["sec-websocket-protocol", "superchat"], ["sec-websocket-extensions", "permessage-deflate"], ["set-cookie", "a=1"]],
    });
  });

  it("throws UsageError for a subprotocol not offered or a connection-specific header", () => {
    expect(() => acceptConnectResponse(request, { protocol: "other" })).toThrow(UsageError);
    expect(() => acceptConnectResponse(request, { headers: { Connection: "close" } })).toThrow(/set by the handshake itself: Connection/);
    expect(() => acceptConnectResponse(request, { headers: { "Keep-Alive": "1" } })).toThrow(UsageError);
  });

  it("refuses with a status, headers and a body with its length", () => {
    const response = rejectConnectResponse(403, { body: "no", headers: [["X-Why", "policy"]] });
    expect(response.status).toBe(403);
    expect(response.headers).toEqual([["x-why", "policy"], ["content-type", "text/plain; charset=utf-8"], ["content-length", "2"]]);
    expect(new TextDecoder().decode(response.body)).toBe("no");
  });

  it("will not refuse with a 2xx, which would open the tunnel", () => {
    expect(() => rejectConnectResponse(200)).toThrow(UsageError);
    expect(() => rejectConnectResponse(101)).toThrow(UsageError);
    expect(() => rejectConnectResponse(600)).toThrow(UsageError);
  });

  it("answers a refused request with its status, headers and message", () => {
    const response = connectRejectionFor(refusal({ ...EXAMPLE, headers: [["sec-websocket-version", "7"]] }));
    expect(response.status).toBe(400);
    expect(response.headers).toContainEqual(["sec-websocket-version", "13"]);
    expect(new TextDecoder().decode(response.body)).toBe("Invalid Sec-WebSocket-Version: 7");
  });
});

describe("the client's request and its check of the answer", () => {
  it("builds the RFC 8441 §5 request: pseudo-headers first, no key, no Upgrade or Connection", () => {
    const request = createConnectRequest("wss://server.example.com/chat?x=1", {
      protocols: ["chat", "superchat"],
      origin: "http://www.example.com",
      headers: { Authorization: "Bearer t" },
    });
    expect(request.headers).toEqual([
      [":method", "CONNECT"],
      [":protocol", "websocket"],
      [":scheme", "https"],
      [":path", "/chat?x=1"],
      [":authority", "server.example.com"],
      ["sec-websocket-version", "13"],
      ["origin", "http://www.example.com"],
      ["sec-websocket-protocol", "chat, superchat"],
      ["authorization", "Bearer t"],
    ]);
    expect(createConnectRequest("ws://127.0.0.1:8080/").headers.slice(2, 5)).toEqual([[":scheme", "http"], [":path", "/"], [":authority", "127.0.0.1:8080"]]);
  });

  it("refuses headers HTTP/2 forbids or the handshake sets", () => {
    expect(() => createConnectRequest("ws://a/", { headers: { Upgrade: "websocket" } })).toThrow(UsageError);
    expect(() => createConnectRequest("ws://a/", { headers: { TE: "gzip" } })).toThrow(UsageError);
    expect(() => createConnectRequest("ws://a/", { headers: { "Sec-WebSocket-Key": "x" } })).toThrow(UsageError);
    expect(() => createConnectRequest("ftp://a/")).toThrow(HandshakeError);
  });

  it("takes any 2xx with an offered subprotocol, and refuses anything else", () => {
    const request = createConnectRequest("ws://a/", { protocols: ["chat"], extensions: "permessage-deflate" });
    expect(validateConnectResponse({ status: 200, headers: [["sec-websocket-protocol", "chat"]] }, request)).toMatchObject({ status: 200, protocol: "chat", extensions: [] });
    expect(() => validateConnectResponse({ status: 404, headers: [] }, request)).toThrow(expect.objectContaining({ code: "WS_ERR_INVALID_STATUS", status: 404 }));
    expect(() => validateConnectResponse({ status: 200, headers: [["sec-websocket-protocol", "other"]] }, request)).toThrow(expect.objectContaining({ code: "WS_ERR_INVALID_SUBPROTOCOL" }));
    expect(() => validateConnectResponse({ status: 200, headers: [["sec-websocket-extensions", "x-other"]] }, request)).toThrow(expect.objectContaining({ code: "WS_ERR_INVALID_EXTENSION" }));
  });
});

describe("a client and a server connection over HTTP/2", () => {
  it("agree on a subprotocol and permessage-deflate, then send compressed messages as frames", async () => {
    const deflate = permessageDeflate({ backend: webDeflateBackend(), clientNoContextTakeover: true, serverNoContextTakeover: true });
    const client = await ClientConnection.create("wss://example.com/chat", { protocols: ["v2", "v1"], extensions: [deflate] });
    const server = new ServerConnection({ extensions: [deflate] });
    server.receiveConnectRequest(headOf(client.connectRequest().headers));
    const [event] = server.events();
    expect(event).toMatchObject({ type: "request", request: { method: "CONNECT", target: "/chat", protocols: ["v2", "v1"] } });
    expect(server.http2).toBe(true);
    await server.accept({ protocol: "v1" });
    // Nothing is written as bytes: the answer is the stream's response.
    expect(server.dataToSend()).toEqual([]);
    const agreed = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";
    expect(server.response).toEqual({ status: 200, headers: [["sec-websocket-protocol", "v1"], ["sec-websocket-extensions", agreed]] });
    client.receiveConnectResponse(server.response!);
    expect(client.events()).toMatchObject([{ type: "open", protocol: "v1", extensions: [{ name: "permessage-deflate" }] }]);
    // The HTTP/1.1 request queued at construction was dropped.
    expect(client.dataToSend()).toEqual([]);
    const text = "hello ".repeat(200);
    const encoded = await client.encode(new TextEncoder().encode(text), "text");
    expect(encoded.rsv).toBe(0b100);
    client.sendText(encoded.data, true, encoded.rsv);
    for (const chunk of client.dataToSend()) server.receiveData(chunk);
    // The server allows RSV1 (the extension is active on its side too): a compressed message,
    // not a protocol error. (Decoding it is web-deflate.test.ts's business: Bun's and Deno's
    // DecompressionStream are strict about the trailer.)
    expect(server.events()).toMatchObject([{ type: "encoded", messageType: "text", rsv: 0b100 }]);
    expect(server.error).toBeUndefined();
  });

  it("answers an invalid request with a response, not bytes, and closes", () => {
    const server = new ServerConnection();
    server.receiveConnectRequest({ ...EXAMPLE, protocol: undefined });
    expect(server.events()).toMatchObject([{ type: "handshake-error", error: { code: "WS_ERR_INVALID_UPGRADE" } }]);
    expect(server.dataToSend()).toEqual([]);
    expect(server.response?.status).toBe(400);
    expect(server.state).toBe(State.CLOSED);
    expect(server.shouldCloseTransport).toBe(true);
  });

  it("refuses with the status given, and with 2xx not at all", () => {
    const server = new ServerConnection();
    server.receiveConnectRequest(EXAMPLE);
    expect(() => server.reject(200)).toThrow(UsageError);
    server.reject(403, { body: "forbidden" });
    expect(server.response?.status).toBe(403);
  });

  it("makes the client fail the handshake on a refusal", async () => {
    const client = await ClientConnection.create("ws://example.com/");
    client.receiveConnectResponse({ status: 404, headers: [] });
    expect(client.events()).toMatchObject([{ type: "handshake-error", error: { code: "WS_ERR_INVALID_STATUS", status: 404 } }]);
    expect(client.state).toBe(State.CLOSED);
    expect(() => client.receiveConnectResponse({ status: 200, headers: [] })).toThrow(UsageError);
  });
});

describe("endpoints over a tunnel opened out of band", () => {
  // A client whose transport source plays the HTTP/2 stack: it hands the CONNECT fields to a
  // server endpoint and returns the memory transport with the server's response.
  function tunnel(options: Parameters<typeof acceptWebSocket>[1] = {}) {
    const [clientSide, serverSide] = memoryPair();
    let accepted!: ReturnType<typeof acceptWebSocket>;
    const source = (_url: URL, _signal: AbortSignal, handshake: { connectRequest(): { headers: HeaderList } }) =>
      new Promise<{ transport: typeof clientSide; response: ConnectResponse }>((resolve) => {
        accepted = acceptWebSocket(serverSide, {
          ...options,
          connect: { request: headOf(handshake.connectRequest().headers), respond: (response) => resolve({ transport: clientSide, response }) },
        });
      });
    return { source, accepted: () => accepted };
  }

  it("open, exchange messages both ways and close cleanly, with the upgrade hook seeing the CONNECT", async () => {
    const seen: string[] = [];
    const { source, accepted } = tunnel({ scheme: "wss:", upgrade: (request, info) => void seen.push(`${info.method} ${request.url}`) });
    const client = new WebSocketStreamBase("wss://example.com/room?id=7", source, { protocols: [] });
    const { readable, writable } = await client.opened;
    const server = await accepted();
    expect(seen).toEqual(["CONNECT https://example.com/room?id=7"]);
    expect(server!.ws.url).toBe("wss://example.com/room?id=7");
    const serverOpen = await server!.ws.opened;
    const writer = writable.getWriter();
    await writer.write("ping");
    const serverReader = serverOpen.readable.getReader();
    expect((await serverReader.read()).value).toBe("ping");
    const serverWriter = serverOpen.writable.getWriter();
    await serverWriter.write(Uint8Array.of(1, 2));
    expect((await readable.getReader().read()).value).toEqual(Uint8Array.of(1, 2));
    client.close({ closeCode: 1000, reason: "done" });
    expect(await client.closed).toEqual({ closeCode: 1000, reason: "" });
    expect(await server!.ws.closed).toEqual({ closeCode: 1000, reason: "done" });
  });

  it("report a refusal from the hook to the WHATWG WebSocket client as an error and a 1006 close", async () => {
    const { source, accepted } = tunnel({ upgrade: () => new Response("go away", { status: 403 }) });
    const client = new WebSocketBase("ws://example.com/", undefined, source);
    const events: string[] = [];
    client.onerror = () => events.push("error");
    const closed = new Promise<number>((resolve) => (client.onclose = (event) => resolve(event.code)));
    expect(await closed).toBe(1006);
    expect(events).toEqual(["error"]);
    expect(await accepted()).toBeUndefined();
  });

  it("answer a hook's 2xx refusal with 500, since over HTTP/2 it would open the tunnel", async () => {
    const { source, accepted } = tunnel({ upgrade: () => new Response(null, { status: 204 }) });
    const client = new WebSocketStreamBase("ws://example.com/", source);
    await expect(client.opened).rejects.toMatchObject({ cause: { code: "WS_ERR_INVALID_STATUS", status: 500 } });
    expect(await accepted()).toBeUndefined();
  });
});
