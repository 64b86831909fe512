// permessage-deflate with the CompressionStream / DecompressionStream backend, in every runtime.
import { describe, expect, it } from "vitest";
import { ClientConnection } from "../src/client.ts";
import type { Connection } from "../src/connection.ts";
import type { ConnectionEvent, EncodedEvent } from "../src/events.ts";
import { permessageDeflate, type PermessageDeflateOptions } from "../src/permessage-deflate.ts";
import { ServerConnection } from "../src/server.ts";
import { webDeflateBackend } from "../src/web-deflate.ts";
import { bytes, hex } from "./helpers/chunking.ts";

const backend = webDeflateBackend();
const web = (options: Omit<PermessageDeflateOptions, "backend"> = {}) => permessageDeflate({ backend, ...options });

function pipe(from: Connection, to: Connection): ConnectionEvent[] {
  for (const chunk of from.dataToSend()) to.receiveData(chunk);
  return to.events();
}

async function pair(client = web(), server = web()) {
  const c = await ClientConnection.create("ws://test.invalid/", { extensions: [client] });
  const s = new ServerConnection({ extensions: [server] });
  pipe(c, s);
  await s.accept();
  pipe(s, c);
  return { client: c, server: s };
}

async function decodeAll(conn: Connection, events: ConnectionEvent[]): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const event of events) {
    if (event.type === "encoded") out.push((await conn.decode(event as EncodedEvent)).data);
  }
  return out;
}

describe("the web platform deflate backend", () => {
  for (const [name, frames] of [
    ["one compressed block (RFC 7692 §7.2.3.1)", ["c1 07 f2 48 cd c9 c9 07 00"]],
    ["two messages sharing the window (§7.2.3.2)", ["c1 07 f2 48 cd c9 c9 07 00", "c1 05 f2 00 11 00 00"]],
    ["a stored block (§7.2.3.3)", ["c1 0b 00 05 00 fa ff 48 65 6c 6c 6f 00"]],
    ["two blocks in one message (§7.2.3.5)", ["c1 0d f2 48 05 00 00 00 ff ff ca c9 c9 07 00"]],
  ] as const) {
    it(`decodes ${name}`, async () => {
      const { client } = await pair();
      const got: unknown[] = [];
      for (const frame of frames) {
        client.receiveData(hex(frame));
        got.push(...(await decodeAll(client, client.events())));
      }
      expect(got).toEqual(frames.map(() => "Hello"));
    });
  }

  it("decodes a block with BFINAL set (§7.2.3.4) on Node, and fails it with 1007 where DecompressionStream is strict", async () => {
    // Bun's and Deno's DecompressionStream reject any byte after a final block, and RFC 7692 §7.2.2
    // appends four; Node's ignores them. Documented in web-deflate.ts.
    const strict = "Bun" in globalThis || "Deno" in globalThis;
    const { client } = await pair();
    client.receiveData(hex("c1 08 f3 48 cd c9 c9 07 00 00"));
    const [event] = client.events();
    const decoding = client.decode(event as EncodedEvent);
    if (strict) await expect(decoding).rejects.toMatchObject({ closeCode: 1007 });
    else expect((await decoding).data).toBe("Hello");
  });

  it("compresses when this end agreed to no context takeover, and not otherwise", async () => {
    const { server } = await pair(web(), web({ serverNoContextTakeover: true }));
    const { data, rsv } = await server.encode(bytes("compress me ".repeat(500)), "text");
    expect(rsv).toBe(0b100);
    expect(data.length).toBeLessThan(200);
  });

  it("sends uncompressed when context takeover was agreed for what it sends", async () => {
    const { client } = await pair();
    const { rsv } = await client.encode(bytes("x".repeat(1000)), "text");
    expect(rsv).toBe(0);
  });

  it("stops at the message size limit with 1009", async () => {
    const zlibLike = await pair(web(), web({ serverNoContextTakeover: true }));
    const { data, rsv } = await zlibLike.server.encode(new Uint8Array(4 * 1024 * 1024), "binary");
    const small = await ClientConnection.create("ws://test.invalid/", { extensions: [web()], maxMessageSize: 64 * 1024 });
    const s = new ServerConnection({ extensions: [web({ serverNoContextTakeover: true })] });
    pipe(small, s);
    await s.accept();
    pipe(s, small);
    s.sendBinary(data, true, rsv);
    const [event] = pipe(s, small);
    await expect(small.decode(event as EncodedEvent)).rejects.toMatchObject({ closeCode: 1009 });
  });
});
