import { describe, expect, test } from "vitest";
import { HandshakeError, UsageError } from "../src/errors.ts";
import {
  getHeader,
  getHeaderValues,
  type HeadResult,
  type HttpHeadLimits,
  isToken,
  type RequestHead,
  RequestHeadParser,
  type ResponseHead,
  ResponseHeadParser,
} from "../src/http-head.ts";
import { bytes, chunkings, concat, hex } from "./helpers/chunking.ts";

/** The unmasked text frame "Hello" of RFC 6455 §5.7: bytes that may follow a head. */
const FRAME = hex("81 05 48 65 6c 6c 6f");

// RFC 6455 §1.3.
const SAMPLE_REQUEST = bytes(
  "GET /chat HTTP/1.1\r\n" +
    "Host: server.example.com\r\n" +
    "Upgrade: websocket\r\n" +
    "Connection: Upgrade\r\n" +
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
    "Origin: http://example.com\r\n" +
    "Sec-WebSocket-Protocol: chat, superchat\r\n" +
    "Sec-WebSocket-Version: 13\r\n" +
    "\r\n",
);
const SAMPLE_RESPONSE = bytes(
  "HTTP/1.1 101 Switching Protocols\r\n" +
    "Upgrade: websocket\r\n" +
    "Connection: Upgrade\r\n" +
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" +
    "Sec-WebSocket-Protocol: chat\r\n" +
    "\r\n",
);

interface Parser<H> {
  receiveData(chunk: Uint8Array): HeadResult<H>;
}

interface Outcome<H> {
  readonly result: HeadResult<H>;
  /** `rest` followed by every chunk given after the head completed: what the frame decoder gets. */
  readonly rest: Uint8Array;
}

/** Feeds `chunks` as a socket would: stop at `error`, route what follows `complete` onward. */
function feed<H>(parser: Parser<H>, chunks: readonly Uint8Array[]): Outcome<H> {
  for (const [i, chunk] of chunks.entries()) {
    const result = parser.receiveData(chunk);
    if (result.kind === "complete") return { result, rest: concat(result.rest, ...chunks.slice(i + 1)) };
    if (result.kind === "error") return { result, rest: new Uint8Array(0) };
  }
  return { result: { kind: "incomplete" }, rest: new Uint8Array(0) };
}

/** Runs `check` for the outcome of feeding `input` whole, one byte at a time and split everywhere. */
function everyChunking<H>(
  input: Uint8Array,
  makeParser: () => Parser<H>,
  check: (outcome: Outcome<H>, label: string) => void,
): void {
  for (const { label, chunks } of chunkings(input)) check(feed(makeParser(), chunks), label);
}

function expectRequest(input: Uint8Array, check: (head: RequestHead, rest: Uint8Array) => void, limits?: HttpHeadLimits): void {
  everyChunking(input, () => new RequestHeadParser(limits), ({ result, rest }, label) => {
    if (result.kind !== "complete") expect.fail(`${label}: expected complete, got ${JSON.stringify(result)}`);
    check(result.head, rest);
  });
}

function expectResponse(input: Uint8Array, check: (head: ResponseHead, rest: Uint8Array) => void): void {
  everyChunking(input, () => new ResponseHeadParser(), ({ result, rest }, label) => {
    if (result.kind !== "complete") expect.fail(`${label}: expected complete, got ${JSON.stringify(result)}`);
    check(result.head, rest);
  });
}

function expectError<H>(
  input: Uint8Array,
  makeParser: () => Parser<H>,
  code: HandshakeError["code"],
  status: number,
): void {
  everyChunking(input, makeParser, ({ result }, label) => {
    if (result.kind !== "error") expect.fail(`${label}: expected an error, got ${result.kind}`);
    expect(result.error, label).toBeInstanceOf(HandshakeError);
    expect(result.error.code, label).toBe(code);
    expect(result.error.status, label).toBe(status);
  });
}

const malformedRequest = (head: string) => expectError(bytes(head), () => new RequestHeadParser(), "WS_ERR_MALFORMED_HTTP", 400);
const malformedResponse = (head: string) => expectError(bytes(head), () => new ResponseHeadParser(), "WS_ERR_MALFORMED_HTTP", 400);

describe("RequestHeadParser", () => {
  test("parses the RFC 6455 §1.3 sample request and returns the frame after it as rest", () => {
    expectRequest(concat(SAMPLE_REQUEST, FRAME), (head, rest) => {
      expect(head).toEqual({
        method: "GET",
        target: "/chat",
        version: "HTTP/1.1",
        headers: [
          ["Host", "server.example.com"],
          ["Upgrade", "websocket"],
          ["Connection", "Upgrade"],
          ["Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="],
          ["Origin", "http://example.com"],
          ["Sec-WebSocket-Protocol", "chat, superchat"],
          ["Sec-WebSocket-Version", "13"],
        ],
      });
      expect(rest).toEqual(FRAME);
    });
  });

  test("returns an empty rest when nothing follows the blank line", () => {
    expectRequest(SAMPLE_REQUEST, (_, rest) => expect(rest).toEqual(new Uint8Array(0)));
  });

  test("hands back trailing bytes intact even when they look like another head", () => {
    const trailing = concat(FRAME, bytes("GET / HTTP/1.1\r\n\r\n"), hex("0d 0a 0d 0a 00 ff"));
    expectRequest(concat(bytes("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), trailing), (_, rest) => {
      expect(rest).toEqual(trailing);
    });
  });

  test("accepts a request with no header fields", () => {
    expectRequest(bytes("GET / HTTP/1.1\r\n\r\n"), (head) => expect(head.headers).toEqual([]));
  });

  test("keeps header names as received and trims spaces and tabs around values", () => {
    expectRequest(bytes("GET / HTTP/1.1\r\nx-Custom:  \t a b \t\r\nEmpty:\r\nTight:v\r\n\r\n"), (head) => {
      expect(head.headers).toEqual([["x-Custom", "a b"], ["Empty", ""], ["Tight", "v"]]);
    });
  });

  test("decodes header values as Latin-1", () => {
    const input = concat(bytes("GET / HTTP/1.1\r\nX-Name: caf"), hex("e9"), bytes("\r\n\r\n"));
    expectRequest(input, (head) => expect(head.headers).toEqual([["X-Name", "caf\u00e9"]]));
  });

  test("parses any HTTP version number and leaves judging it to the handshake", () => {
    for (const version of ["HTTP/1.0", "HTTP/1.1", "HTTP/2", "HTTP/3.0"]) {
      expectRequest(bytes(`GET / ${version}\r\n\r\n`), (head) => expect(head.version).toBe(version));
    }
  });

  test("keeps an origin-form target with its query", () => {
    expectRequest(bytes("GET /a/b?c=d&e HTTP/1.1\r\n\r\n"), (head) => expect(head.target).toBe("/a/b?c=d&e"));
  });

  test("rejects malformed request lines with 400", () => {
    for (const line of [
      "GET /",
      "GET  / HTTP/1.1",
      "GET / HTTP/1.1 extra",
      "GET / http/1.1",
      "GET / HTTP/x",
      "G(T / HTTP/1.1",
      " GET / HTTP/1.1",
      "GET /\u00e9 HTTP/1.1",
      "GET\t/ HTTP/1.1",
    ]) {
      malformedRequest(`${line}\r\nHost: a\r\n\r\n`);
    }
  });

  test("rejects an empty start line with 400", () => {
    malformedRequest("\r\nGET / HTTP/1.1\r\n\r\n");
  });

  test("rejects a header line without a colon with 400", () => {
    malformedRequest("GET / HTTP/1.1\r\nHost a\r\n\r\n");
  });

  test("rejects whitespace between a header name and its colon with 400", () => {
    malformedRequest("GET / HTTP/1.1\r\nHost : a\r\n\r\n");
    malformedRequest("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n");
  });

  test("rejects header names with characters outside token or an empty name with 400", () => {
    malformedRequest("GET / HTTP/1.1\r\nX(y): a\r\n\r\n");
    malformedRequest("GET / HTTP/1.1\r\nX\"y: a\r\n\r\n");
    malformedRequest("GET / HTTP/1.1\r\n: a\r\n\r\n");
  });

  test("rejects control characters in header values with 400", () => {
    for (const control of ["00", "01", "1f", "7f"]) {
      const input = concat(bytes("GET / HTTP/1.1\r\nX: a"), hex(control), bytes("b\r\n\r\n"));
      expectError(input, () => new RequestHeadParser(), "WS_ERR_MALFORMED_HTTP", 400);
    }
  });

  test("rejects obsolete line folding with 400", () => {
    malformedRequest("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n");
    malformedRequest("GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n");
  });

  test("rejects a bare LF line ending with 400", () => {
    malformedRequest("GET / HTTP/1.1\nHost: a\n\n");
    malformedRequest("GET / HTTP/1.1\r\nHost: a\n\r\n");
  });

  test("rejects a bare CR with 400", () => {
    malformedRequest("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n");
  });

  test("names the offending line in the error message", () => {
    const result = new RequestHeadParser().receiveData(bytes("GET / HTTP/1.1\r\nHost a\r\n\r\n"));
    expect(result.kind === "error" && result.error.message).toBe('Invalid header line, missing colon: "Host a"');
  });

  test("returns the same error again once the head is refused", () => {
    const parser = new RequestHeadParser();
    const first = parser.receiveData(bytes("BAD\r\n\r\n"));
    expect(first.kind).toBe("error");
    expect(parser.receiveData(bytes("GET / HTTP/1.1\r\n\r\n"))).toBe(first);
  });

  test("throws a usage error when fed again after the head is complete", () => {
    const parser = new RequestHeadParser();
    expect(parser.receiveData(bytes("GET / HTTP/1.1\r\n\r\n")).kind).toBe("complete");
    let thrown: unknown;
    try {
      parser.receiveData(FRAME);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(UsageError);
    expect((thrown as UsageError).code).toBe("WS_ERR_INVALID_STATE");
  });

  test("does not read chunk bytes that come after the head", () => {
    const chunk = concat(bytes("GET / HTTP/1.1\r\n\r\n"), FRAME);
    const result = new RequestHeadParser().receiveData(chunk);
    if (result.kind !== "complete") expect.fail(result.kind);
    expect(result.rest).toEqual(FRAME);
    expect(result.rest.byteOffset).toBe(chunk.byteOffset + chunk.length - FRAME.length);
  });

  test("parses chunks that are views into a larger buffer", () => {
    const backing = concat(bytes("garbage"), SAMPLE_REQUEST, FRAME, bytes("more"));
    const start = 7;
    const parser = new RequestHeadParser();
    const first = parser.receiveData(backing.subarray(start, start + 20));
    expect(first.kind).toBe("incomplete");
    const result = parser.receiveData(backing.subarray(start + 20, start + SAMPLE_REQUEST.length + FRAME.length));
    if (result.kind !== "complete") expect.fail(result.kind);
    expect(result.head.target).toBe("/chat");
    expect(result.rest).toEqual(FRAME);
  });
});

describe("RequestHeadParser limits", () => {
  const head = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"; // 27 bytes

  test("accepts a head of exactly maxHeadBytes", () => {
    expectRequest(concat(bytes(head), FRAME), (_, rest) => expect(rest).toEqual(FRAME), { maxHeadBytes: head.length });
  });

  test("rejects a head one byte over maxHeadBytes with 431", () => {
    expectError(
      concat(bytes(head), FRAME),
      () => new RequestHeadParser({ maxHeadBytes: head.length - 1 }),
      "WS_ERR_HEAD_TOO_LARGE",
      431,
    );
  });

  test("rejects with 431 as soon as the limit passes when the blank line never comes", () => {
    const parser = new RequestHeadParser({ maxHeadBytes: 100 });
    const byte = bytes("a");
    for (let i = 0; i < 100; i++) expect(parser.receiveData(byte).kind).toBe("incomplete");
    const result = parser.receiveData(byte);
    if (result.kind !== "error") expect.fail(result.kind);
    expect(result.error.code).toBe("WS_ERR_HEAD_TOO_LARGE");
    expect(result.error.status).toBe(431);
    expect(result.error.message).toBe("Head too large: more than 100 bytes");
  });

  test("rejects a head over the default 16384 bytes with 431", () => {
    const big = `GET / HTTP/1.1\r\nX: ${"a".repeat(16384)}\r\n\r\n`;
    const result = new RequestHeadParser().receiveData(bytes(big));
    expect(result.kind === "error" && result.error.code).toBe("WS_ERR_HEAD_TOO_LARGE");
  });

  test("accepts exactly maxHeaders header fields", () => {
    expectRequest(bytes("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n"), (h) => expect(h.headers.length).toBe(2), { maxHeaders: 2 });
    expectRequest(bytes("GET / HTTP/1.1\r\n\r\n"), (h) => expect(h.headers).toEqual([]), { maxHeaders: 0 });
  });

  test("rejects more than maxHeaders header fields with 431", () => {
    expectError(
      bytes("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"),
      () => new RequestHeadParser({ maxHeaders: 2 }),
      "WS_ERR_TOO_MANY_HEADERS",
      431,
    );
  });

  test("allows 128 header fields by default and rejects 129 with 431", () => {
    const fields = (n: number) => Array.from({ length: n }, (_, i) => `H${i}: ${i}\r\n`).join("");
    const ok = new RequestHeadParser().receiveData(bytes(`GET / HTTP/1.1\r\n${fields(128)}\r\n`));
    expect(ok.kind).toBe("complete");
    const tooMany = new RequestHeadParser().receiveData(bytes(`GET / HTTP/1.1\r\n${fields(129)}\r\n`));
    expect(tooMany.kind === "error" && tooMany.error.code).toBe("WS_ERR_TOO_MANY_HEADERS");
  });

  test("rejects limits that are not integers in range", () => {
    expect(() => new RequestHeadParser({ maxHeadBytes: 0 })).toThrow(UsageError);
    expect(() => new RequestHeadParser({ maxHeadBytes: 1.5 })).toThrow(UsageError);
    expect(() => new ResponseHeadParser({ maxHeaders: -1 })).toThrow(UsageError);
  });

  test("stays linear when a large head arrives one byte at a time", () => {
    // A parser that rescanned its buffer on each byte would do ~2.5e10 steps here and time out.
    const size = 300_000;
    const input = bytes(`GET / HTTP/1.1\r\nX: ${"a".repeat(size)}\r\n\r\n`);
    const parser = new RequestHeadParser({ maxHeadBytes: input.length });
    let result: HeadResult<RequestHead> = { kind: "incomplete" };
    for (let i = 0; i < input.length; i++) result = parser.receiveData(input.subarray(i, i + 1));
    expect(result.kind === "complete" && result.head.headers[0]?.[1].length).toBe(size);
  });
});

describe("ResponseHeadParser", () => {
  test("parses the RFC 6455 §1.3 sample response and returns the frame after it as rest", () => {
    expectResponse(concat(SAMPLE_RESPONSE, FRAME), (head, rest) => {
      expect(head).toEqual({
        version: "HTTP/1.1",
        status: 101,
        reason: "Switching Protocols",
        headers: [
          ["Upgrade", "websocket"],
          ["Connection", "Upgrade"],
          ["Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="],
          ["Sec-WebSocket-Protocol", "chat"],
        ],
      });
      expect(rest).toEqual(FRAME);
    });
  });

  test("accepts a status line with an empty or missing reason phrase", () => {
    expectResponse(bytes("HTTP/1.1 101 \r\n\r\n"), (head) => expect([head.status, head.reason]).toEqual([101, ""]));
    expectResponse(bytes("HTTP/1.1 101\r\n\r\n"), (head) => expect([head.status, head.reason]).toEqual([101, ""]));
  });

  test("keeps a reason phrase with spaces and tabs", () => {
    expectResponse(bytes("HTTP/1.1 403 Go\taway now\r\n\r\n"), (head) => expect(head.reason).toBe("Go\taway now"));
  });

  test("rejects malformed status lines with 400", () => {
    for (const line of [
      "HTTP/1.1",
      "HTTP/1.1 ",
      "HTTP/1.1 10 Short",
      "HTTP/1.1 1011 Long",
      "HTTP/1.1 abc Nope",
      "http/1.1 101 Switching Protocols",
      "HTTP/1.1  101 Switching Protocols",
      "HTTP/1.1 101 Bad\u0001Reason",
      "ICY 200 OK",
    ]) {
      malformedResponse(`${line}\r\nUpgrade: websocket\r\n\r\n`);
    }
  });

  test("rejects malformed header lines with 400", () => {
    malformedResponse("HTTP/1.1 101 OK\r\nUpgrade websocket\r\n\r\n");
    malformedResponse("HTTP/1.1 101 OK\r\nUpgrade : websocket\r\n\r\n");
    malformedResponse("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n folded\r\n\r\n");
    malformedResponse("HTTP/1.1 101 OK\nUpgrade: websocket\n\n");
  });

  test("rejects a response over maxHeadBytes with 431", () => {
    expectError(concat(SAMPLE_RESPONSE, FRAME), () => new ResponseHeadParser({ maxHeadBytes: 50 }), "WS_ERR_HEAD_TOO_LARGE", 431);
  });

  test("rejects more than maxHeaders header fields with 431", () => {
    expectError(SAMPLE_RESPONSE, () => new ResponseHeadParser({ maxHeaders: 3 }), "WS_ERR_TOO_MANY_HEADERS", 431);
  });

  test("throws a usage error when fed again after the head is complete, and repeats an error", () => {
    const done = new ResponseHeadParser();
    done.receiveData(SAMPLE_RESPONSE);
    expect(() => done.receiveData(FRAME)).toThrow(UsageError);
    const failed = new ResponseHeadParser();
    const error = failed.receiveData(bytes("nope\r\n\r\n"));
    expect(failed.receiveData(SAMPLE_RESPONSE)).toBe(error);
  });
});

describe("getHeader and getHeaderValues", () => {
  const headers = [
    ["Connection", "keep-alive"],
    ["X-One", "1"],
    ["connection", "Upgrade"],
  ] as const;

  test("getHeader finds a header whatever the case", () => {
    expect(getHeader(headers, "x-one")).toBe("1");
    expect(getHeader(headers, "X-ONE")).toBe("1");
  });

  test("getHeader joins a header sent on several lines with a comma", () => {
    expect(getHeader(headers, "Connection")).toBe("keep-alive, Upgrade");
  });

  test("getHeader returns undefined for an absent header", () => {
    expect(getHeader(headers, "Upgrade")).toBeUndefined();
  });

  test("getHeaderValues returns every line's value in order", () => {
    expect(getHeaderValues(headers, "CONNECTION")).toEqual(["keep-alive", "Upgrade"]);
    expect(getHeaderValues(headers, "Upgrade")).toEqual([]);
  });
});

describe("isToken", () => {
  test("accepts RFC 9110 token characters", () => {
    expect(isToken("permessage-deflate")).toBe(true);
    expect(isToken("!#$%&'*+-.^_`|~09azAZ")).toBe(true);
  });

  test("rejects the empty string, separators, spaces and non-ASCII", () => {
    for (const s of ["", "a b", "a,b", "a;b", 'a"b', "a/b", "a=b", "(a)", "a\u00e9", "a\tb"]) {
      expect(isToken(s), s).toBe(false);
    }
  });
});
