/**
 * Tests of the harness itself: its frame codec, and its verdicts against peers whose behaviour
 * is known — ws (the Node reference, whose real Autobahn scores are in CONFORMANCE.md) and a
 * deliberately sloppy server — in both directions; and its HTTP/2 mode (RFC 8441) against itself
 * and against servers that do not speak it.
 */
import { connect, createServer } from "node:http2";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import { repeat } from "../src/bytes.ts";
import type { CaseResult } from "../src/case.ts";
import { allCases } from "../src/cases/index.ts";
import { encodeFrame, FrameParseError, FrameParser, type IncomingFrame } from "../src/frame.ts";
import { runFuzzingClient } from "../src/fuzzing-client.ts";
import { startFuzzingServer } from "../src/fuzzing-server.ts";
import { type Quirks, startSloppyServer } from "./helpers/sloppy-server.ts";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function verdicts(results: readonly CaseResult[]): Record<string, string> {
  return Object.fromEntries(results.map((r) => [r.id, `${r.behavior} / ${r.behaviorClose}`]));
}

describe("the frame codec", () => {
  const lengths = [0, 1, 125, 126, 127, 65535, 65536, 70_000];

  it.each([true, false])("round-trips frames of every length class (masked: %s), fed whole and one byte at a time", (mask) => {
    for (const length of lengths) {
      const payload = repeat("BAsd7&jh23", length);
      const bytes = encodeFrame({ opcode: 0x2, payload, fin: false, rsv: 5 }, mask);
      const whole = new FrameParser().push(bytes);
      const parser = new FrameParser();
      const byteWise: IncomingFrame[] = [];
      for (let i = 0; i < bytes.length; i++) byteWise.push(...parser.push(bytes.subarray(i, i + 1)));
      for (const frames of [whole, byteWise]) {
        expect(frames).toHaveLength(1);
        expect(frames[0]).toMatchObject({ fin: false, rsv: 5, opcode: 2, masked: mask });
        expect(Buffer.from(frames[0]!.payload).equals(Buffer.from(payload))).toBe(true);
      }
    }
  });

  it("splits frames that arrive together and keeps a partial one for later", () => {
    const a = encodeFrame({ opcode: 0x1, payload: repeat("a", 3) }, true);
    const b = encodeFrame({ opcode: 0x9, payload: repeat("b", 200) }, true);
    const parser = new FrameParser();
    const first = parser.push(Buffer.concat([a, b.subarray(0, 5)]));
    expect(first.map((f) => f.opcode)).toEqual([1]);
    expect(parser.push(b.subarray(5)).map((f) => f.payload.length)).toEqual([200]);
  });

  it("refuses a 64-bit length with the most significant bit set", () => {
    const bytes = Uint8Array.from([0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0]);
    expect(() => new FrameParser().push(bytes)).toThrow(FrameParseError);
  });
});

describe("the verdicts of the fuzzing client", () => {
  it("match the real suite's for ws: OK, except NON-STRICT on UTF-8 fail-fast", async () => {
    const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    await new Promise((resolve) => wss.once("listening", resolve));
    wss.on("connection", (ws) => {
      ws.on("error", () => undefined);
      ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
    cleanups.push(() => new Promise<void>((resolve) => wss.close(() => resolve())));
    const port = (wss.address() as { port: number }).port;
    const cases = allCases({ include: ["1.1.8", "2.11", "3.2", "4.2.5", "5.19", "6.3.2", "6.4.1", "6.4.4", "7.3.1", "7.5.1", "7.9.1", "9.7.1"] });
    const results = await runFuzzingClient({ url: `ws://127.0.0.1:${port}`, cases });
    expect(verdicts(results)).toEqual({
      "1.1.8": "OK / OK",
      "2.11": "OK / OK",
      "3.2": "OK / OK",
      "4.2.5": "OK / OK",
      "5.19": "OK / OK",
      "6.3.2": "OK / OK",
      "6.4.1": "NON-STRICT / OK",
      "6.4.4": "NON-STRICT / OK",
      "7.3.1": "OK / OK",
      "7.5.1": "OK / OK",
      "7.9.1": "OK / OK",
      "9.7.1": "OK / OK",
    });
  }, 20_000);

  it.each<[string, Quirks, string, string]>([
    ["leaves TCP open after the closing handshake", { keepTcpOpen: true }, "7.3.3", "OK / FAILED BY CLIENT"],
    ["drops TCP without a Close on a protocol error", { dropOnError: true }, "3.1", "OK / UNCLEAN"],
    ["ignores reserved bits and answers the Ping after them", { lenient: true }, "3.2", "FAILED / FAILED"],
    ["answers a valid close code with another one", { closeReplyCode: 1002 }, "7.7.1", "FAILED / WRONG CODE"],
    ["checks UTF-8 only once a message is complete", {}, "6.4.2", "NON-STRICT / OK"],
  ])("fail a server that %s", async (_what, quirks, id, verdict) => {
    const server = await startSloppyServer(quirks);
    cleanups.push(() => server.close());
    const results = await runFuzzingClient({ url: server.url, cases: allCases({ include: [id] }) });
    expect(verdicts(results)).toEqual({ [id]: verdict });
  }, 10_000);
});

describe("the fuzzing server", () => {
  /** An Autobahn client driver on ws, in-process; `echo: false` makes it a bad one. */
  async function wsDriver(url: string, agent: string, echo = true): Promise<number> {
    const open = (path: string, onMessage?: (ws: WebSocket, data: Buffer, binary: boolean) => void): Promise<string[]> =>
      new Promise((resolve) => {
        const got: string[] = [];
        const ws = new WebSocket(`${url}${path}`);
        ws.on("error", () => undefined);
        ws.on("message", (data: Buffer, binary) => {
          got.push(data.toString());
          onMessage?.(ws, data, binary);
        });
        ws.on("close", () => resolve(got));
      });
    const [count] = await open("/getCaseCount");
    for (let n = 1; n <= Number(count); n++) {
      await open(`/runCase?case=${n}&agent=${agent}`, (ws, data, binary) => echo && ws.send(data, { binary }));
    }
    await open(`/updateReports?agent=${agent}`);
    return Number(count);
  }

  it("speaks the Autobahn client protocol and judges a ws client OK", async () => {
    const cases = allCases({ include: ["1.2.8", "2.6", "5.6", "6.2.4", "7.1.1", "7.7.13", "10.1.1"] });
    const server = await startFuzzingServer({ cases });
    cleanups.push(() => server.close());
    const [count, results] = await Promise.all([wsDriver(server.url, "ws"), server.finished("ws")]);
    expect(count).toBe(cases.length);
    expect(Object.values(verdicts(results))).toEqual(cases.map(() => "OK / OK"));
  }, 20_000);

  it("fails a client that does not echo", async () => {
    const cases = allCases({ include: ["1.1.2", "6.1.3"] });
    const server = await startFuzzingServer({ cases });
    cleanups.push(() => server.close());
    const [, results] = await Promise.all([wsDriver(server.url, "mute", false), server.finished("mute")]);
    expect(results.map((r) => r.behavior)).toEqual(["FAILED", "FAILED"]);
  }, 20_000);
});

describe("the HTTP/2 mode", () => {
  it("runs a case on an extended CONNECT stream from the fuzzing client to the fuzzing server, closing cleanly", async () => {
    const cases = allCases({ include: ["1.1.1"] });
    const server = await startFuzzingServer({ cases, http2: true });
    cleanups.push(() => server.close());
    // /getCaseCount: the server sends the count as a text message, then closes with 1000 and
    // ends its stream first (as a server closes TCP first).
    const [result] = await runFuzzingClient({ url: `${server.url}/getCaseCount`, cases, http2: true });
    expect(result!.observation.handshakeError).toBeUndefined();
    expect(result!.observation.received).toEqual([{ type: "message", binary: false, payload: new TextEncoder().encode("1") }]);
    expect(result!.observation.peerClose).toEqual({ code: 1000, reason: "" });
    expect(result!.observation.tcpClosedFirst).toBe("peer");
    expect(result!.observation.violations).toEqual([]);
  }, 10_000);

  it("fails the handshake with a server whose SETTINGS do not enable the extended CONNECT protocol", async () => {
    const h2 = createServer();
    h2.on("stream", (stream) => stream.respond({ ":status": 200 }));
    await new Promise<void>((resolve) => h2.listen(0, "127.0.0.1", resolve));
    const sessions = new Set<import("node:http2").ServerHttp2Session>();
    h2.on("session", (session) => sessions.add(session));
    cleanups.push(() => {
      for (const session of sessions) session.destroy();
      return new Promise<void>((resolve) => h2.close(() => resolve()));
    });
    const port = (h2.address() as { port: number }).port;
    const [result] = await runFuzzingClient({ url: `ws://127.0.0.1:${port}`, cases: allCases({ include: ["1.1.1"] }), http2: true });
    expect(result!.observation.handshakeError).toMatch(/SETTINGS do not enable the extended CONNECT protocol/);
    expect(`${result!.behavior} / ${result!.behaviorClose}`).toBe("FAILED / FAILED");
  }, 10_000);

  it("makes the fuzzing server answer 400 to a stream that is not an extended CONNECT", async () => {
    const server = await startFuzzingServer({ cases: allCases({ include: ["1.1.1"] }), http2: true });
    cleanups.push(() => server.close());
    const session = connect(server.url.replace("ws:", "http:"));
    cleanups.push(() => session.destroy());
    const status = await new Promise((resolve, reject) => {
      const stream = session.request({ ":path": "/runCase?case=1&agent=x" });
      stream.once("response", (headers) => resolve(headers[":status"]));
      stream.once("error", reject);
      stream.resume();
    });
    expect(status).toBe(400);
  }, 10_000);
});
