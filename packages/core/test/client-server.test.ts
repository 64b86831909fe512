// The sans-I/O client and server driven against each other, bytes passed by hand.
import { describe, expect, it } from "vitest";
import { ClientConnection } from "../src/client.ts";
import type { Connection } from "../src/connection.ts";
import type { ConnectionEvent } from "../src/events.ts";
import { ServerConnection } from "../src/server.ts";
import { State } from "../src/state.ts";
import { bytes, chunkings, concat } from "./helpers/chunking.ts";
import { fromPeer } from "./helpers/frames.ts";
import { sha1 } from "./helpers/sha1.ts";
import { Opcode } from "../src/opcode.ts";

function pipe(from: Connection, to: Connection): ConnectionEvent[] {
  for (const chunk of from.dataToSend()) to.receiveData(chunk);
  return to.events();
}

describe("a client and a server", () => {
  it("complete the handshake, agree on a subprotocol and exchange messages", async () => {
    const client = await ClientConnection.create("ws://example.com:8080/chat?room=1", { protocols: ["v2.chat", "v1.chat"] });
    const server = new ServerConnection();
    const [request] = pipe(client, server);
    expect(request).toMatchObject({ type: "request", request: { target: "/chat?room=1", host: "example.com:8080", protocols: ["v2.chat", "v1.chat"] } });
    await server.accept({ protocol: "v1.chat" });
    expect(server.state).toBe(State.OPEN);
    server.sendText("hello client");
    expect(pipe(server, client)).toEqual([
      { type: "open", protocol: "v1.chat", extensions: [] },
      { type: "text", data: "hello client" },
    ]);
    client.sendBinary(Uint8Array.of(1, 2, 3));
    client.sendClose(1000, "bye");
    expect(pipe(client, server)).toEqual([
      { type: "binary", data: Uint8Array.of(1, 2, 3) },
      { type: "close", code: 1000, reason: "bye" },
    ]);
    expect(server.shouldCloseTransport).toBe(true);
    expect(pipe(server, client)).toEqual([{ type: "close", code: 1000, reason: "" }]);
    expect(client.shouldCloseTransport).toBe(false);
    client.receiveEof();
    server.receiveEof();
    expect(client.wasClean && server.wasClean).toBe(true);
  });

  it("read frames that arrive in the same chunk as the handshake, under every chunking", async () => {
    const client = await ClientConnection.create("ws://localhost/");
    const requestBytes = client.dataToSend()[0]!;
    const input = concat(requestBytes, fromPeer("server", Opcode.TEXT, "early"), fromPeer("server", Opcode.PING, "p"));
    for (const { label, chunks } of chunkings(input)) {
      const server = new ServerConnection();
      for (const chunk of chunks) server.receiveData(chunk);
      expect(server.events().map((e) => e.type), label).toEqual(["request"]);
      await server.accept();
      expect(server.events(), label).toEqual([{ type: "text", data: "early" }, { type: "ping", data: bytes("p") }]);
    }
  });

  it("lets the client read frames sent right behind the 101 response", async () => {
    const client = await ClientConnection.create("ws://localhost/");
    const server = new ServerConnection();
    pipe(client, server);
    await server.accept();
    server.sendText("first");
    const wire = concat(...server.dataToSend());
    for (const { label, chunks } of chunkings(wire)) {
      const fresh = new ClientConnection(client.request);
      fresh.dataToSend();
      for (const chunk of chunks) fresh.receiveData(chunk);
      expect(fresh.events().map((e) => e.type), label).toEqual(["open", "text"]);
    }
  });

  it("answer a bad request with its HTTP status and report a handshake error", () => {
    const server = new ServerConnection();
    server.receiveData(bytes("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n"));
    const [event] = server.events();
    expect(event).toMatchObject({ type: "handshake-error", error: { code: "WS_ERR_UNSUPPORTED_VERSION", status: 426 } });
    const response = new TextDecoder().decode(concat(...server.dataToSend()));
    expect(response).toMatch(/^HTTP\/1\.1 426 /);
    expect(response).toMatch(/Sec-WebSocket-Version: 13\r\n/i);
    expect(server.shouldCloseTransport).toBe(true);
    expect(server.state).toBe(State.CLOSED);
  });

  it("answer an oversized head with 431", () => {
    const server = new ServerConnection({ maxHeadBytes: 100 });
    server.receiveData(bytes(`GET / HTTP/1.1\r\nX-Long: ${"a".repeat(200)}\r\n`));
    expect(server.events()).toMatchObject([{ type: "handshake-error", error: { status: 431 } }]);
    expect(new TextDecoder().decode(server.dataToSend()[0])).toMatch(/^HTTP\/1\.1 431 /);
  });

  it("reject an upgrade with the status and body the server chose", async () => {
    const client = await ClientConnection.create("ws://localhost/");
    const server = new ServerConnection();
    pipe(client, server);
    server.reject(403, { body: "go away" });
    const response = new TextDecoder().decode(concat(...server.dataToSend()));
    expect(response).toMatch(/^HTTP\/1\.1 403 /);
    expect(response.endsWith("\r\n\r\ngo away")).toBe(true);
    expect(() => server.reject(403)).toThrowError(expect.objectContaining({ code: "WS_ERR_INVALID_STATE" }));
    client.receiveData(bytes(response));
    expect(client.events()).toMatchObject([{ type: "handshake-error", error: { code: "WS_ERR_INVALID_STATUS", status: 403 } }]);
    expect(client.state).toBe(State.CLOSED);
  });

  it("refuse to accept a subprotocol the client did not offer", async () => {
    const client = await ClientConnection.create("ws://localhost/", { protocols: ["a"] });
    const server = new ServerConnection();
    pipe(client, server);
    await expect(server.accept({ protocol: "b" })).rejects.toMatchObject({ code: "WS_ERR_INVALID_ARGUMENT" });
    expect(server.state).toBe(State.CONNECTING);
  });

  it("fail the client handshake on a wrong accept key or an EOF before the response", async () => {
    const client = await ClientConnection.create("ws://localhost/");
    client.receiveData(bytes("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"));
    expect(client.events()).toMatchObject([{ type: "handshake-error", error: { code: "WS_ERR_INVALID_ACCEPT" } }]);
    const other = await ClientConnection.create("ws://localhost/");
    other.receiveData(bytes("HTTP/1.1 101 Switching"));
    other.receiveEof();
    expect(other.events()).toMatchObject([{ type: "handshake-error", error: { code: "WS_ERR_HANDSHAKE_EOF" } }]);
  });

  it("complete the handshake with an injected synchronous SHA-1, the server's 101 queued before accept() returns", async () => {
    const before = sha1.calls;
    const client = await ClientConnection.create("ws://localhost/", { sha1 });
    const server = new ServerConnection({ sha1 });
    pipe(client, server);
    const accepting = server.accept();
    expect(server.state).toBe(State.OPEN);
    expect(sha1.calls).toBe(before + 2);
    await accepting;
    expect(pipe(server, client)).toEqual([{ type: "open", protocol: "", extensions: [] }]);
  });

  it("check the server's answer against the accept value from the injected SHA-1", async () => {
    // A hash that is not SHA-1: the client expects another value than a correct server sends.
    const wrong = (data: Uint8Array): Uint8Array => sha1(concat(data, Uint8Array.of(0)));
    const client = await ClientConnection.create("ws://localhost/", { sha1: wrong });
    const server = new ServerConnection();
    pipe(client, server);
    await server.accept();
    expect(pipe(server, client)).toMatchObject([{ type: "handshake-error", error: { code: "WS_ERR_INVALID_ACCEPT" } }]);
  });

  it("reject accept() with a synchronous SHA-1 for a subprotocol not offered, leaving the handshake unanswered", async () => {
    const client = await ClientConnection.create("ws://localhost/", { protocols: ["a"] });
    const server = new ServerConnection({ sha1 });
    pipe(client, server);
    await expect(server.accept({ protocol: "b" })).rejects.toMatchObject({ code: "WS_ERR_INVALID_ARGUMENT" });
    expect(server.state).toBe(State.CONNECTING);
    expect(server.dataToSend()).toEqual([]);
  });

  it("take a request head parsed elsewhere, with the bytes after it", async () => {
    const server = new ServerConnection();
    server.receiveRequestHead(
      { method: "GET", target: "/x", version: "HTTP/1.1", headers: [["Host", "h"], ["Upgrade", "websocket"], ["Connection", "Upgrade"], ["Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="], ["Sec-WebSocket-Version", "13"]] },
      fromPeer("server", Opcode.TEXT, "head bytes"),
    );
    expect(server.events()).toMatchObject([{ type: "request", request: { target: "/x" } }]);
    await server.accept();
    expect(new TextDecoder().decode(server.dataToSend()[0])).toContain("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n");
    expect(server.events()).toEqual([{ type: "text", data: "head bytes" }]);
  });
});
