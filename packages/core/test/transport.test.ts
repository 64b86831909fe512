import { describe, expect, it } from "vitest";
import { checkReadBufferSize, connectTarget, transportToStreams } from "../src/transport.ts";
import { TestTransport } from "./helpers/test-transport.ts";

describe("the transport contract's helpers", () => {
  it("turns ws: and wss: URLs into host, port, TLS server name and ALPN", () => {
    expect(connectTarget(new URL("ws://example.com/x"))).toEqual({ host: "example.com", port: 80, secure: false, servername: "example.com", alpnProtocols: ["http/1.1"] });
    expect(connectTarget(new URL("wss://example.com:8443/"))).toMatchObject({ port: 8443, secure: true, servername: "example.com" });
    expect(connectTarget(new URL("wss://127.0.0.1/"))).toMatchObject({ host: "127.0.0.1", port: 443, servername: undefined });
    expect(connectTarget(new URL("ws://[::1]:9001/"))).toMatchObject({ host: "::1", port: 9001, servername: undefined });
    expect(() => connectTarget(new URL("http://example.com/"))).toThrowError(expect.objectContaining({ code: "WS_ERR_INVALID_ARGUMENT" }));
  });

  it("rejects a read buffer size that is not positive", () => {
    for (const size of [0, -1, Number.NaN]) expect(() => checkReadBufferSize(size)).toThrow(RangeError);
    expect(() => checkReadBufferSize(1)).not.toThrow();
  });

  it("gives byte streams over a transport: reads in order to the end, writes, half-closes, and destroys on cancel", async () => {
    const transport = new TestTransport();
    const { readable, writable } = transportToStreams(transport);
    transport.push(Uint8Array.of(1, 2));
    transport.push(Uint8Array.of(3));
    transport.pushEnd();
    const got: number[] = [];
    for await (const chunk of readable as unknown as AsyncIterable<Uint8Array>) got.push(...chunk);
    expect(got).toEqual([1, 2, 3]);
    const writer = writable.getWriter();
    await writer.write(Uint8Array.of(9));
    await writer.close();
    expect(transport.bytes()).toEqual(Uint8Array.of(9));
    expect(transport.calls).toEqual(["end"]);
    const other = new TestTransport();
    await transportToStreams(other).readable.cancel();
    expect(other.destroyed).toBe(true);
  });
});
