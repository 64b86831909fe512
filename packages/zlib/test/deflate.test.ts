// permessage-deflate end to end: the RFC 7692 §7.2.3 examples, negotiation, context takeover and
// the decompression limit, with the node:zlib backend (runs under Node, Deno and Bun).
import { describe, expect, it } from "vitest";
import {
  ClientConnection,
  type Connection,
  type ConnectionEvent,
  type EncodedEvent,
  encodeFrame,
  Opcode,
  ServerConnection,
} from "@wsstream/core";
import { deflate } from "../src/index.ts";

const hex = (s: string): Uint8Array => Uint8Array.from(s.trim().split(/\s+/), (b) => parseInt(b, 16));
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

function pipe(from: Connection, to: Connection): ConnectionEvent[] {
  for (const chunk of from.dataToSend()) to.receiveData(chunk);
  return to.events();
}

// A client and a server with deflate negotiated; returns both and the agreed header.
async function negotiated(clientOptions: Parameters<typeof deflate>[0] = {}, serverOptions: Parameters<typeof deflate>[0] = {}) {
  const client = await ClientConnection.create("ws://test.invalid/", { extensions: [deflate(clientOptions)] });
  const server = new ServerConnection({ extensions: [deflate(serverOptions)] });
  pipe(client, server);
  await server.accept();
  const events = pipe(server, client);
  expect(events[0]).toMatchObject({ type: "open" });
  return { client, server, agreed: server.agreedExtensions };
}

// Decodes every encoded event and returns the messages.
async function messages(conn: Connection, events: ConnectionEvent[]): Promise<(string | Uint8Array)[]> {
  const out: (string | Uint8Array)[] = [];
  for (const event of events) {
    if (event.type === "encoded") out.push((await conn.decode(event as EncodedEvent)).data);
    else if (event.type === "text" || event.type === "binary") out.push(event.data);
  }
  return out;
}

describe("RFC 7692 §7.2.3 examples, received by a client", () => {
  const examples: [string, string[], string[]][] = [
    ["a message compressed in one DEFLATE block (7.2.3.1)", ["c1 07 f2 48 cd c9 c9 07 00"], ["Hello"]],
    ["two messages sharing the LZ77 window (7.2.3.2)", ["c1 07 f2 48 cd c9 c9 07 00", "c1 05 f2 00 11 00 00"], ["Hello", "Hello"]],
    ["a DEFLATE block with no compression (7.2.3.3)", ["c1 0b 00 05 00 fa ff 48 65 6c 6c 6f 00"], ["Hello"]],
    ["a DEFLATE block with BFINAL set (7.2.3.4)", ["c1 08 f3 48 cd c9 c9 07 00 00"], ["Hello"]],
    ["two DEFLATE blocks in one message (7.2.3.5)", ["c1 0d f2 48 05 00 00 00 ff ff ca c9 c9 07 00"], ["Hello"]],
  ];
  for (const [name, frames, expected] of examples) {
    it(`decodes ${name}`, async () => {
      const { client } = await negotiated();
      const received: (string | Uint8Array)[] = [];
      for (const frame of frames) {
        client.receiveData(hex(frame));
        received.push(...(await messages(client, client.events())));
      }
      expect(received).toEqual(expected);
    });
  }

  it("compresses Hello twice into the RFC's bytes, the second using the shared window", async () => {
    const { server } = await negotiated({}, { threshold: 0 });
    for (const expected of ["f2 48 cd c9 c9 07 00", "f2 00 11 00 00"]) {
      const { data, rsv } = await server.encode(text("Hello"), "text");
      expect(rsv).toBe(0b100);
      expect(data).toEqual(hex(expected));
    }
  });
});

describe("permessage-deflate between our client and server", () => {
  it("negotiates, compresses large messages, skips small ones and round-trips both ways", async () => {
    const { client, server, agreed } = await negotiated({ threshold: 64 });
    expect(agreed).toMatch(/^permessage-deflate/);
    const big = "wsstream ".repeat(20_000);
    const binary = new Uint8Array(300_000).map((_, i) => i % 7);
    for (const [payload, type] of [[text(big), "text"], [binary, "binary"], [text("tiny"), "text"]] as const) {
      const { data, rsv } = await client.encode(payload, type);
      if (type === "text") client.sendText(data, true, rsv);
      else client.sendBinary(data, true, rsv);
    }
    const wire = client.dataToSend();
    const wireBytes = wire.reduce((n, c) => n + c.length, 0);
    expect(wireBytes).toBeLessThan(20_000);
    for (const chunk of wire) server.receiveData(chunk);
    expect(await messages(server, server.events())).toEqual([big, binary, "tiny"]);
    // And back, with the server compressing.
    const { data, rsv } = await server.encode(text(big), "text");
    server.sendText(data, true, rsv);
    expect(await messages(client, pipe(server, client))).toEqual([big]);
  });

  it("sends every message alone when the server asks for no context takeover", async () => {
    const { server, agreed } = await negotiated({}, { serverNoContextTakeover: true });
    expect(agreed).toContain("server_no_context_takeover");
    const first = await server.encode(text("Hello Hello Hello"), "text");
    const second = await server.encode(text("Hello Hello Hello"), "text");
    expect(second.data).toEqual(first.data);
  });

  it("sends messages uncompressed when an 8-bit window was agreed", async () => {
    const { client, agreed } = await negotiated({ clientMaxWindowBits: 8 });
    expect(agreed).toContain("client_max_window_bits=8");
    const { rsv, data } = await client.encode(text("x".repeat(1000)), "text");
    expect(rsv).toBe(0);
    expect(data.length).toBe(1000);
  });

  it("stops a decompression bomb at the message size limit with 1009", async () => {
    const client = await ClientConnection.create("ws://test.invalid/", { extensions: [deflate()] });
    const server = new ServerConnection({ extensions: [deflate()], maxMessageSize: 1024 * 1024 });
    pipe(client, server);
    await server.accept();
    pipe(server, client);
    // 64 MiB of zeros compresses to about 64 KiB: far under the limit on the wire.
    const { data, rsv } = await client.encode(new Uint8Array(64 * 1024 * 1024), "binary");
    expect(data.length).toBeLessThan(1024 * 1024);
    client.sendBinary(data, true, rsv);
    const events = pipe(client, server);
    const encoded = events.find((e) => e.type === "encoded") as EncodedEvent;
    await expect(server.decode(encoded)).rejects.toMatchObject({ closeCode: 1009 });
  });

  it("fails undecodable compressed data with 1007", async () => {
    const { client } = await negotiated();
    client.receiveData(encodeFrame({ fin: true, opcode: Opcode.TEXT, rsv: 0b100, payload: hex("ff ff ff ff") }));
    const [event] = client.events();
    await expect(client.decode(event as EncodedEvent)).rejects.toMatchObject({ closeCode: 1007 });
  });

  it("fails RSV1 on a continuation frame with 1002", async () => {
    const { client } = await negotiated();
    client.receiveData(encodeFrame({ fin: false, opcode: Opcode.TEXT, rsv: 0b100, payload: hex("f2 48") }));
    client.receiveData(encodeFrame({ fin: true, opcode: Opcode.CONTINUATION, rsv: 0b100, payload: hex("cd c9 c9 07 00") }));
    expect(client.error).toMatchObject({ closeCode: 1002, code: "WS_ERR_UNEXPECTED_RSV" });
  });

  it("declines deflate when the server does not support it, and RSV1 stays a protocol error", async () => {
    const client = await ClientConnection.create("ws://test.invalid/", { extensions: [deflate()] });
    const server = new ServerConnection();
    pipe(client, server);
    await server.accept();
    expect(pipe(server, client)).toEqual([{ type: "open", protocol: "", extensions: [] }]);
    client.receiveData(encodeFrame({ fin: true, opcode: Opcode.TEXT, rsv: 0b100, payload: hex("f2 48 cd c9 c9 07 00") }));
    expect(client.error?.closeCode).toBe(1002);
  });
});

describe("the web platform backend against the zlib backend", () => {
  it("zlib-compressed messages with context takeover decode with the web backend", async () => {
    const { permessageDeflate, webDeflateBackend } = await import("@wsstream/core");
    const client = await ClientConnection.create("ws://test.invalid/", { extensions: [permessageDeflate({ backend: webDeflateBackend() })] });
    const server = new ServerConnection({ extensions: [deflate()] });
    pipe(client, server);
    await server.accept();
    pipe(server, client);
    const message = "context takeover across messages ".repeat(300);
    for (let i = 0; i < 3; i++) {
      const { data, rsv } = await server.encode(text(message), "text");
      server.sendText(data, true, rsv);
    }
    expect(await messages(client, pipe(server, client))).toEqual([message, message, message]);
  });

  it("web-compressed messages decode with the zlib backend", async () => {
    const { permessageDeflate, webDeflateBackend } = await import("@wsstream/core");
    const client = await ClientConnection.create("ws://test.invalid/", { extensions: [deflate()] });
    const server = new ServerConnection({ extensions: [permessageDeflate({ backend: webDeflateBackend(), serverNoContextTakeover: true })] });
    pipe(client, server);
    await server.accept();
    pipe(server, client);
    const message = "compressed by CompressionStream ".repeat(300);
    for (let i = 0; i < 3; i++) {
      const { data, rsv } = await server.encode(text(message), "text");
      expect(rsv).toBe(0b100);
      server.sendText(data, true, rsv);
    }
    expect(await messages(client, pipe(server, client))).toEqual([message, message, message]);
  });
});
