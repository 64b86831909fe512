import { describe, expect, test } from "vitest";
import { HandshakeError, UsageError } from "../src/errors.ts";
import { formatExtensionHeader } from "../src/extension-header.ts";
import {
  acceptResponse,
  acceptResponseWithKey,
  type ClientRequest,
  computeAcceptKey,
  createClientRequest,
  generateKey,
  rejectionFor,
  rejectResponse,
  type UpgradeRequest,
  validateUpgradeRequest,
  validateUpgradeResponse,
  WEBSOCKET_GUID,
} from "../src/handshake.ts";
import {
  type HeadResult,
  type RequestHead,
  RequestHeadParser,
  type ResponseHead,
  ResponseHeadParser,
} from "../src/http-head.ts";
import { bytes, chunkings, concat, hex } from "./helpers/chunking.ts";
import { sha1 } from "./helpers/sha1.ts";

const SAMPLE_KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const SAMPLE_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

// RFC 6455 §1.3.
const SAMPLE_REQUEST =
  "GET /chat HTTP/1.1\r\n" +
  "Host: server.example.com\r\n" +
  "Upgrade: websocket\r\n" +
  "Connection: Upgrade\r\n" +
  `Sec-WebSocket-Key: ${SAMPLE_KEY}\r\n` +
  "Origin: http://example.com\r\n" +
  "Sec-WebSocket-Protocol: chat, superchat\r\n" +
  "Sec-WebSocket-Version: 13\r\n" +
  "\r\n";
const SAMPLE_RESPONSE =
  "HTTP/1.1 101 Switching Protocols\r\n" +
  "Upgrade: websocket\r\n" +
  "Connection: Upgrade\r\n" +
  `Sec-WebSocket-Accept: ${SAMPLE_ACCEPT}\r\n` +
  "Sec-WebSocket-Protocol: chat\r\n" +
  "\r\n";

/** RFC 6455 §5.7: "Hello" unmasked (server to client) and masked (client to server). */
const SERVER_FRAME = hex("81 05 48 65 6c 6c 6f");
const CLIENT_FRAME = hex("81 85 37 fa 21 3d 7f 9f 4d 51 58");

const latin1 = (b: Uint8Array) => String.fromCharCode(...b);

function complete<H>(result: HeadResult<H>): { head: H; rest: Uint8Array } {
  if (result.kind !== "complete") return expect.fail(`expected a complete head, got ${JSON.stringify(result)}`);
  return result;
}

/** Feeds `chunks` until the head completes; `rest` gathers everything after it, for the frame decoder. */
function feed<H>(
  parser: { receiveData(chunk: Uint8Array): HeadResult<H> },
  chunks: readonly Uint8Array[],
): { head: H; rest: Uint8Array } {
  for (const [i, chunk] of chunks.entries()) {
    const result = parser.receiveData(chunk);
    if (result.kind !== "incomplete") {
      const { head, rest } = complete(result);
      return { head, rest: concat(rest, ...chunks.slice(i + 1)) };
    }
  }
  return expect.fail("the head never completed");
}

const parseRequest = (text: string | Uint8Array): RequestHead =>
  complete(new RequestHeadParser().receiveData(typeof text === "string" ? bytes(text) : text)).head;
const parseResponse = (text: string | Uint8Array): ResponseHead =>
  complete(new ResponseHeadParser().receiveData(typeof text === "string" ? bytes(text) : text)).head;

type Fields = ReadonlyArray<readonly [string, string]>;

const VALID_FIELDS: Fields = [
  ["Host", "server.example.com"],
  ["Upgrade", "websocket"],
  ["Connection", "Upgrade"],
  ["Sec-WebSocket-Key", SAMPLE_KEY],
  ["Sec-WebSocket-Version", "13"],
];

interface Changes {
  readonly startLine?: string;
  /** Replace a field's value, or remove it with `null`. */
  readonly set?: Readonly<Record<string, string | null>>;
  /** Fields appended after the others. */
  readonly add?: Fields;
}

function headText(startLine: string, base: Fields, changes: Changes): string {
  const set = changes.set ?? {};
  const fields = base
    .filter(([name]) => set[name] !== null)
    .map(([name, value]) => [name, set[name] ?? value] as const)
    .concat(Object.entries(set).flatMap(([n, v]) => (v !== null && !base.some(([b]) => b === n) ? [[n, v] as const] : [])))
    .concat(changes.add ?? []);
  return `${changes.startLine ?? startLine}\r\n${fields.map(([n, v]) => `${n}: ${v}\r\n`).join("")}\r\n`;
}

/** A valid upgrade request head with `changes` applied, parsed. */
const requestWith = (changes: Changes = {}): RequestHead => parseRequest(headText("GET /chat HTTP/1.1", VALID_FIELDS, changes));

/** Calls `fn` (sync or async) and returns what it threw; fails the test if it did not throw. */
async function thrown(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  return expect.fail("expected an error to be thrown");
}

async function handshakeError(fn: () => unknown): Promise<HandshakeError> {
  const error = await thrown(fn);
  expect(error).toBeInstanceOf(HandshakeError);
  return error as HandshakeError;
}

async function expectHandshakeError(fn: () => unknown, code: HandshakeError["code"], status: number): Promise<HandshakeError> {
  const error = await handshakeError(fn);
  expect({ code: error.code, status: error.status }).toEqual({ code, status });
  return error;
}

async function expectUsageError(fn: () => unknown, code: UsageError["code"]): Promise<UsageError> {
  const error = await thrown(fn);
  expect(error).toBeInstanceOf(UsageError);
  expect((error as UsageError).code).toBe(code);
  return error as UsageError;
}

const rejectRequest = (changes: Changes, code: HandshakeError["code"], status: number) =>
  expectHandshakeError(() => validateUpgradeRequest(requestWith(changes)), code, status);

describe("keys", () => {
  test("computeAcceptKey gives the RFC 6455 §1.3 sample accept value", async () => {
    expect(await computeAcceptKey(SAMPLE_KEY)).toBe(SAMPLE_ACCEPT);
  });

  test("computeAcceptKey with a synchronous SHA-1 returns the Web Crypto value at once", async () => {
    const value = computeAcceptKey(SAMPLE_KEY, sha1);
    expect(value).toBe(SAMPLE_ACCEPT);
    for (const key of [generateKey(), generateKey(), generateKey()]) {
      expect(computeAcceptKey(key, sha1)).toBe(await computeAcceptKey(key));
    }
  });

  test("computeAcceptKey hashes the key followed by the GUID, nothing else", () => {
    const seen: string[] = [];
    computeAcceptKey(SAMPLE_KEY, (data) => {
      seen.push(String.fromCharCode(...data));
      return sha1(data);
    });
    expect(seen).toEqual([SAMPLE_KEY + WEBSOCKET_GUID]);
  });

  test("WEBSOCKET_GUID is the RFC 6455 GUID", () => {
    expect(WEBSOCKET_GUID).toBe("258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
  });

  test("generateKey returns 24 base64 characters that decode to 16 bytes", () => {
    const key = generateKey();
    expect(key).toMatch(/^[A-Za-z0-9+/]{22}==$/);
    expect(atob(key).length).toBe(16);
  });

  test("generateKey returns a different key each call", () => {
    expect(generateKey()).not.toBe(generateKey());
  });
});

describe("validateUpgradeRequest", () => {
  test("accepts the RFC 6455 §1.3 sample request under every chunking", () => {
    for (const { label, chunks } of chunkings(concat(bytes(SAMPLE_REQUEST), CLIENT_FRAME))) {
      const { head, rest } = feed(new RequestHeadParser(), chunks);
      const request = validateUpgradeRequest(head);
      expect(request, label).toEqual({
        method: "GET",
        target: "/chat",
        host: "server.example.com",
        key: SAMPLE_KEY,
        origin: "http://example.com",
        protocols: ["chat", "superchat"],
        extensions: [],
        headers: head.headers,
      });
      expect(rest, label).toEqual(CLIENT_FRAME);
    }
  });

  test("accepts only GET, refusing other methods with 405 and Allow: GET", async () => {
    expect(validateUpgradeRequest(requestWith()).method).toBe("GET");
    for (const method of ["POST", "get", "CONNECT"]) {
      const error = await rejectRequest({ startLine: `${method} /chat HTTP/1.1` }, "WS_ERR_INVALID_METHOD", 405);
      expect(error.headers).toEqual([["Allow", "GET"]]);
      expect(error.message).toBe(`Invalid method, expected GET: ${method}`);
    }
  });

  test("accepts HTTP/1.1 and later, refusing earlier versions with 400", async () => {
    for (const version of ["HTTP/1.1", "HTTP/1.2", "HTTP/2", "HTTP/2.0", "HTTP/3"]) {
      expect(validateUpgradeRequest(requestWith({ startLine: `GET / ${version}` })).target).toBe("/");
    }
    for (const version of ["HTTP/1.0", "HTTP/0.9", "HTTP/1", "HTTP/0"]) {
      await rejectRequest({ startLine: `GET / ${version}` }, "WS_ERR_INVALID_HTTP_VERSION", 400);
    }
  });

  test("requires exactly one non-empty Host, else 400", async () => {
    expect(validateUpgradeRequest(requestWith({ set: { Host: "[::1]:8080" } })).host).toBe("[::1]:8080");
    const missing = await rejectRequest({ set: { Host: null } }, "WS_ERR_MISSING_HOST", 400);
    expect(missing.message).toBe("Missing Host header");
    await rejectRequest({ add: [["host", "other.example.com"]] }, "WS_ERR_MISSING_HOST", 400);
    await rejectRequest({ set: { Host: "" } }, "WS_ERR_MISSING_HOST", 400);
  });

  test("accepts an Upgrade header listing websocket in any case", () => {
    for (const upgrade of ["websocket", "WebSocket", "h2c, websocket", "foo/1,WEBSOCKET , bar"]) {
      expect(() => validateUpgradeRequest(requestWith({ set: { Upgrade: upgrade } })), upgrade).not.toThrow();
    }
  });

  test("refuses a missing or wrong Upgrade header with 400", async () => {
    await rejectRequest({ set: { Upgrade: null } }, "WS_ERR_INVALID_UPGRADE", 400);
    const wrong = await rejectRequest({ set: { Upgrade: "h2c" } }, "WS_ERR_INVALID_UPGRADE", 400);
    expect(wrong.message).toBe("Invalid Upgrade: h2c");
    await rejectRequest({ set: { Upgrade: "websockets" } }, "WS_ERR_INVALID_UPGRADE", 400);
  });

  test("accepts a Connection header listing Upgrade in any case, on one line or several", () => {
    for (const connection of ["Upgrade", "upgrade", "keep-alive, Upgrade", "Upgrade,close"]) {
      expect(() => validateUpgradeRequest(requestWith({ set: { Connection: connection } })), connection).not.toThrow();
    }
    const twoLines = requestWith({ set: { Connection: "keep-alive" }, add: [["Connection", "Upgrade"]] });
    expect(() => validateUpgradeRequest(twoLines)).not.toThrow();
  });

  test("refuses a missing or wrong Connection header with 400", async () => {
    const missing = await rejectRequest({ set: { Connection: null } }, "WS_ERR_INVALID_CONNECTION", 400);
    expect(missing.message).toBe("Missing Connection header");
    await rejectRequest({ set: { Connection: "keep-alive" } }, "WS_ERR_INVALID_CONNECTION", 400);
    await rejectRequest({ set: { Connection: "Upgraded" } }, "WS_ERR_INVALID_CONNECTION", 400);
  });

  test("requires one Sec-WebSocket-Key that decodes to 16 bytes, else 400", async () => {
    expect(validateUpgradeRequest(requestWith({ set: { "Sec-WebSocket-Key": "AAAAAAAAAAAAAAAAAAAAAA==" } })).key)
      .toBe("AAAAAAAAAAAAAAAAAAAAAA==");
    await rejectRequest({ set: { "Sec-WebSocket-Key": null } }, "WS_ERR_INVALID_KEY", 400);
    await rejectRequest({ add: [["Sec-WebSocket-Key", SAMPLE_KEY]] }, "WS_ERR_INVALID_KEY", 400);
    for (const key of [
      "AAAAAAAAAAAAAAAAAAAA", // 15 bytes
      "AAAAAAAAAAAAAAAAAAAAAAA=", // 17 bytes
      "AAAAAAAAAAAAAAAAAAAAAA", // 16 bytes, unpadded
      "!!!!!!!!!!!!!!!!!!!!!!==",
      "",
    ]) {
      const error = await rejectRequest({ set: { "Sec-WebSocket-Key": key } }, "WS_ERR_INVALID_KEY", 400);
      expect(error.message).toBe(`Invalid Sec-WebSocket-Key: ${key}`);
    }
  });

  test("requires Sec-WebSocket-Version 13, else 426 naming the version supported", async () => {
    const wrong = await rejectRequest({ set: { "Sec-WebSocket-Version": "8" } }, "WS_ERR_UNSUPPORTED_VERSION", 426);
    expect(wrong.message).toBe("Invalid Sec-WebSocket-Version: 8");
    expect(wrong.headers).toEqual([["Sec-WebSocket-Version", "13"]]);
    const missing = await rejectRequest({ set: { "Sec-WebSocket-Version": null } }, "WS_ERR_UNSUPPORTED_VERSION", 426);
    expect(missing.message).toBe("Missing Sec-WebSocket-Version header");
    expect(missing.headers).toEqual([["Sec-WebSocket-Version", "13"]]);
    await rejectRequest({ add: [["Sec-WebSocket-Version", "8"]] }, "WS_ERR_UNSUPPORTED_VERSION", 426);
  });

  test("splits Sec-WebSocket-Protocol on commas across several lines", () => {
    const request = requestWith({ add: [["Sec-WebSocket-Protocol", "chat , superchat"], ["Sec-WebSocket-Protocol", "v2.chat"]] });
    expect(validateUpgradeRequest(request).protocols).toEqual(["chat", "superchat", "v2.chat"]);
    expect(validateUpgradeRequest(requestWith()).protocols).toEqual([]);
  });

  test("refuses subprotocols that are not tokens with 400", async () => {
    const error = await rejectRequest({ add: [["Sec-WebSocket-Protocol", "chat, super chat"]] }, "WS_ERR_INVALID_SUBPROTOCOL", 400);
    expect(error.message).toBe("Invalid Sec-WebSocket-Protocol: super chat");
    await rejectRequest({ add: [["Sec-WebSocket-Protocol", "chat/1"]] }, "WS_ERR_INVALID_SUBPROTOCOL", 400);
  });

  test("parses Sec-WebSocket-Extensions across several lines", () => {
    const request = requestWith({
      add: [
        ["Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"],
        ["Sec-WebSocket-Extensions", "permessage-deflate"],
      ],
    });
    expect(validateUpgradeRequest(request).extensions).toEqual([
      { name: "permessage-deflate", params: [["client_max_window_bits", null]] },
      { name: "permessage-deflate", params: [] },
    ]);
  });

  test("refuses a malformed Sec-WebSocket-Extensions with 400", async () => {
    await rejectRequest({ add: [["Sec-WebSocket-Extensions", "permessage-deflate;"]] }, "WS_ERR_INVALID_EXTENSION", 400);
  });

  test("leaves origin undefined when the client sent none", () => {
    expect(validateUpgradeRequest(requestWith()).origin).toBeUndefined();
  });
});

describe("acceptResponse", () => {
  const sample = () => validateUpgradeRequest(parseRequest(SAMPLE_REQUEST));

  test("builds the RFC 6455 §1.3 sample response", async () => {
    expect(latin1(await acceptResponse(sample(), { protocol: "chat" }))).toBe(SAMPLE_RESPONSE);
  });

  test("builds the same response at once from an accept value computed with a synchronous SHA-1", () => {
    const acceptKey = computeAcceptKey(sample().key, sha1);
    expect(latin1(acceptResponseWithKey(sample(), acceptKey, { protocol: "chat" }))).toBe(SAMPLE_RESPONSE);
    expect(() => acceptResponseWithKey(sample(), acceptKey, { protocol: "superduperchat" })).toThrow(UsageError);
  });

  test("sends no Sec-WebSocket-Protocol when no subprotocol is chosen", async () => {
    const expected = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${SAMPLE_ACCEPT}\r\n\r\n`;
    expect(latin1(await acceptResponse(sample()))).toBe(expected);
    expect(latin1(await acceptResponse(sample(), { protocol: "", extensions: "" }))).toBe(expected);
  });

  test("refuses a subprotocol the client did not offer", async () => {
    const error = await expectUsageError(() => acceptResponse(sample(), { protocol: "superduperchat" }), "WS_ERR_INVALID_ARGUMENT");
    expect(error.message).toBe("Invalid subprotocol, not offered by the client: superduperchat");
  });

  test("adds the accepted extensions when the client offered them", async () => {
    const request = validateUpgradeRequest(
      requestWith({ add: [["Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"]] }),
    );
    const response = latin1(await acceptResponse(request, { extensions: "permessage-deflate; server_no_context_takeover" }));
    expect(response).toContain("\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n");
  });

  test("refuses extensions the client did not offer or that do not parse", async () => {
    await expectUsageError(() => acceptResponse(sample(), { extensions: "permessage-deflate" }), "WS_ERR_INVALID_ARGUMENT");
    await expectUsageError(() => acceptResponse(sample(), { extensions: "permessage-deflate;" }), "WS_ERR_INVALID_ARGUMENT");
  });

  test("appends custom headers from a record, pairs or a Headers object", async () => {
    const tail = "Sec-WebSocket-Protocol: chat\r\nSet-Cookie: a=1\r\nX-Trim: v\r\n\r\n";
    for (const headers of [
      { "Set-Cookie": "a=1", "X-Trim": " v\t" },
      [["Set-Cookie", "a=1"], ["X-Trim", "v"]] as const,
    ]) {
      expect(latin1(await acceptResponse(sample(), { protocol: "chat", headers }))).toContain(`\r\n${tail}`);
    }
    const fetchHeaders = new Headers([["X-Server", "wsstream"]]);
    expect(latin1(await acceptResponse(sample(), { headers: fetchHeaders }))).toContain("\r\nx-server: wsstream\r\n\r\n");
  });

  test("refuses custom headers with CR, LF, NUL or non-Latin-1 in a value", async () => {
    for (const value of ["a\r\nX-Injected: 1", "a\nb", "a\rb", "a\0b", "\u20ac"]) {
      await expectUsageError(() => acceptResponse(sample(), { headers: { "X-Bad": value } }), "WS_ERR_INVALID_HEADER");
    }
  });

  test("refuses custom header names that are not tokens", async () => {
    for (const name of ["X Bad", "X:Bad", "", "X\r\nY"]) {
      await expectUsageError(() => acceptResponse(sample(), { headers: [[name, "v"]] }), "WS_ERR_INVALID_HEADER");
    }
  });

  test("refuses custom headers that would override the handshake's own", async () => {
    for (const name of ["Upgrade", "connection", "Sec-WebSocket-Accept", "sec-websocket-protocol", "Content-Length"]) {
      const error = await expectUsageError(() => acceptResponse(sample(), { headers: [[name, "x"]] }), "WS_ERR_INVALID_HEADER");
      expect(error.message).toBe(`Invalid header, set by the handshake itself: ${name}`);
    }
  });
});

describe("rejectResponse and rejectionFor", () => {
  test("builds a rejection with a text body, Connection: close and Content-Length", () => {
    expect(latin1(rejectResponse(403, { body: "Forbidden" }))).toBe(
      "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: 9\r\n\r\nForbidden",
    );
  });

  test("sends Content-Length: 0 without a body", () => {
    expect(latin1(rejectResponse(400))).toBe("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
  });

  test("counts a string body in UTF-8 bytes", () => {
    const response = rejectResponse(400, { body: "caf\u00e9" });
    expect(latin1(response)).toContain("Content-Length: 5\r\n\r\n");
    expect(response.subarray(response.length - 5)).toEqual(bytes("caf\u00e9"));
  });

  test("sends a byte body as given, with custom headers and reason", () => {
    const body = hex("7b 7d");
    const response = rejectResponse(499, { body, reason: "Custom", headers: { "Content-Type": "application/json" } });
    expect(latin1(response)).toBe(
      "HTTP/1.1 499 Custom\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}",
    );
  });

  test("keeps a given Content-Type for a string body and leaves the reason empty for an unknown status", () => {
    expect(latin1(rejectResponse(418, { body: "x", headers: { "content-type": "text/html" } }))).toBe(
      "HTTP/1.1 418 \r\ncontent-type: text/html\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx",
    );
  });

  test("refuses a status outside 200-599, a reason with control characters and framing headers", async () => {
    for (const status of [0, 101, 199, 600, 400.5, Number.NaN]) {
      await expectUsageError(() => rejectResponse(status), "WS_ERR_INVALID_ARGUMENT");
    }
    await expectUsageError(() => rejectResponse(400, { reason: "Bad\r\nX: y" }), "WS_ERR_INVALID_ARGUMENT");
    for (const name of ["Content-Length", "Transfer-Encoding", "Connection"]) {
      await expectUsageError(() => rejectResponse(400, { headers: [[name, "1"]] }), "WS_ERR_INVALID_HEADER");
    }
  });

  test("rejectionFor answers a version mismatch with 426 and Sec-WebSocket-Version: 13", async () => {
    const error = await handshakeError(() => validateUpgradeRequest(requestWith({ set: { "Sec-WebSocket-Version": "8" } })));
    const message = "Invalid Sec-WebSocket-Version: 8";
    expect(latin1(rejectionFor(error))).toBe(
      "HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\nContent-Type: text/plain; charset=utf-8\r\n" +
        `Connection: close\r\nContent-Length: ${message.length}\r\n\r\n${message}`,
    );
  });

  test("rejectionFor answers a wrong method with 405 and Allow: GET", async () => {
    const error = await handshakeError(() => validateUpgradeRequest(requestWith({ startLine: "POST /chat HTTP/1.1" })));
    expect(latin1(rejectionFor(error))).toMatch(/^HTTP\/1\.1 405 Method Not Allowed\r\nAllow: GET\r\n/);
  });

  test("rejectionFor answers a parser error with its status", () => {
    const result = new RequestHeadParser({ maxHeaders: 1 }).receiveData(bytes(SAMPLE_REQUEST));
    if (result.kind !== "error") expect.fail(result.kind);
    expect(latin1(rejectionFor(result.error))).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
  });

  test("rejectionFor refuses a client-side error, which has no response to send", async () => {
    const error = await handshakeError(() => createClientRequest("ftp://example.com/"));
    await expectUsageError(() => rejectionFor(error), "WS_ERR_INVALID_ARGUMENT");
  });
});

describe("createClientRequest", () => {
  test("builds the request for a URL with a path and query", async () => {
    const request = await createClientRequest("ws://example.com/chat/room?id=1&x=%20");
    expect(latin1(request.bytes)).toBe(
      "GET /chat/room?id=1&x=%20 HTTP/1.1\r\n" +
        "Host: example.com\r\n" +
        "Upgrade: websocket\r\n" +
        "Connection: Upgrade\r\n" +
        `Sec-WebSocket-Key: ${request.key}\r\n` +
        "Sec-WebSocket-Version: 13\r\n" +
        "\r\n",
    );
    expect(request.key).toMatch(/^[A-Za-z0-9+/]{22}==$/);
    expect(request.acceptKey).toBe(await computeAcceptKey(request.key));
    expect(request.url.href).toBe("ws://example.com/chat/room?id=1&x=%20");
    expect(request.protocols).toEqual([]);
    expect(request.extensionNames).toEqual([]);
  });

  test("expects the accept value computed with the synchronous SHA-1 it is given", async () => {
    const before = sha1.calls;
    const request = await createClientRequest("ws://example.com/", { sha1 });
    expect(sha1.calls).toBe(before + 1);
    expect(request.acceptKey).toBe(await computeAcceptKey(request.key));
  });

  test("builds the request with a non-default port, origin, subprotocols, extensions and custom headers", async () => {
    const request = await createClientRequest(new URL("wss://example.com:8443"), {
      origin: "https://app.example.com",
      protocols: ["v2.chat", "v1.chat"],
      extensions: "permessage-deflate; client_max_window_bits, permessage-deflate",
      headers: { Authorization: "Bearer t0k3n", "X-Trace": "1" },
    });
    expect(latin1(request.bytes)).toBe(
      "GET / HTTP/1.1\r\n" +
        "Host: example.com:8443\r\n" +
        "Upgrade: websocket\r\n" +
        "Connection: Upgrade\r\n" +
        `Sec-WebSocket-Key: ${request.key}\r\n` +
        "Sec-WebSocket-Version: 13\r\n" +
        "Origin: https://app.example.com\r\n" +
        "Sec-WebSocket-Protocol: v2.chat, v1.chat\r\n" +
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, permessage-deflate\r\n" +
        "Authorization: Bearer t0k3n\r\n" +
        "X-Trace: 1\r\n" +
        "\r\n",
    );
    expect(request.protocols).toEqual(["v2.chat", "v1.chat"]);
    expect(request.extensionNames).toEqual(["permessage-deflate"]);
  });

  test("keeps the brackets of an IPv6 host", async () => {
    const request = await createClientRequest("ws://[::1]:9000/p");
    expect(latin1(request.bytes)).toMatch(/^GET \/p HTTP\/1\.1\r\nHost: \[::1\]:9000\r\n/);
    expect(latin1((await createClientRequest("wss://[2001:db8::1]/")).bytes)).toContain("\r\nHost: [2001:db8::1]\r\n");
  });

  test("puts the port in Host only when it is not the scheme's default", async () => {
    const host = async (url: string) => /\r\nHost: ([^\r]*)\r\n/.exec(latin1((await createClientRequest(url)).bytes))?.[1];
    expect(await host("ws://example.com:80/")).toBe("example.com");
    expect(await host("wss://example.com:443/")).toBe("example.com");
    expect(await host("ws://example.com:443/")).toBe("example.com:443");
    expect(await host("wss://example.com:80/")).toBe("example.com:80");
    expect(await host("https://example.com:443/")).toBe("example.com");
  });

  test("takes http: as ws: and https: as wss:", async () => {
    expect((await createClientRequest("http://example.com/a")).url.href).toBe("ws://example.com/a");
    expect((await createClientRequest("https://example.com:8443/a")).url.href).toBe("wss://example.com:8443/a");
  });

  test("sends / for an empty path and keeps an empty query", async () => {
    expect(latin1((await createClientRequest("ws://example.com")).bytes)).toMatch(/^GET \/ HTTP\/1\.1\r\n/);
    expect(latin1((await createClientRequest("ws://example.com/a?")).bytes)).toMatch(/^GET \/a\? HTTP\/1\.1\r\n/);
  });

  test("does not send credentials from the URL", async () => {
    const text = latin1((await createClientRequest("ws://user:secret@example.com/")).bytes);
    expect(text).toContain("\r\nHost: example.com\r\n");
    expect(text).not.toContain("secret");
  });

  test("refuses unparsable URLs, other schemes and fragments with WS_ERR_INVALID_URL and status 0", async () => {
    for (const url of ["not a url", "/relative", "ftp://example.com/", "file:///tmp/x", "ws://example.com/#frag", "ws://example.com/#"]) {
      const error = await expectHandshakeError(() => createClientRequest(url), "WS_ERR_INVALID_URL", 0);
      expect(error.message, url).toMatch(/^Invalid URL/);
    }
  });

  test("refuses subprotocols that are not unique tokens", async () => {
    for (const protocols of [["chat", "chat"], ["a b"], [""], ["chat,superchat"]]) {
      await expectUsageError(() => createClientRequest("ws://example.com/", { protocols }), "WS_ERR_INVALID_ARGUMENT");
    }
  });

  test("refuses a malformed extension offer", async () => {
    await expectUsageError(() => createClientRequest("ws://example.com/", { extensions: "permessage-deflate;" }), "WS_ERR_INVALID_ARGUMENT");
  });

  test("refuses custom headers that would override the handshake's own", async () => {
    for (const name of ["Host", "upgrade", "Connection", "Sec-WebSocket-Key", "sec-websocket-version", "Sec-WebSocket-Protocol", "Sec-WebSocket-Extensions", "Origin", "Content-Length"]) {
      await expectUsageError(() => createClientRequest("ws://example.com/", { headers: [[name, "x"]] }), "WS_ERR_INVALID_HEADER");
    }
  });

  test("refuses custom headers and origins with CR, LF or NUL", async () => {
    await expectUsageError(() => createClientRequest("ws://a/", { headers: { "X-A": "1\r\nX-B: 2" } }), "WS_ERR_INVALID_HEADER");
    await expectUsageError(() => createClientRequest("ws://a/", { headers: { "X A": "1" } }), "WS_ERR_INVALID_HEADER");
    await expectUsageError(() => createClientRequest("ws://a/", { origin: "http://a\0" }), "WS_ERR_INVALID_HEADER");
  });
});

describe("validateUpgradeResponse", () => {
  const offer = async (): Promise<ClientRequest> =>
    await createClientRequest("ws://example.com/chat", {
      protocols: ["chat", "superchat"],
      extensions: "permessage-deflate; client_max_window_bits",
    });

  const responseFor = (request: ClientRequest, changes: Changes = {}): ResponseHead =>
    parseResponse(
      headText("HTTP/1.1 101 Switching Protocols", [
        ["Upgrade", "websocket"],
        ["Connection", "Upgrade"],
        ["Sec-WebSocket-Accept", request.acceptKey],
      ], changes),
    );

  const rejectResponseHead = async (changes: Changes, code: HandshakeError["code"], status = 101) => {
    const request = await offer();
    return await expectHandshakeError(() => validateUpgradeResponse(responseFor(request, changes), request), code, status);
  };

  test("accepts the RFC 6455 §1.3 sample response under every chunking", async () => {
    const request: ClientRequest = { ...(await offer()), key: SAMPLE_KEY, acceptKey: SAMPLE_ACCEPT };
    for (const { label, chunks } of chunkings(concat(bytes(SAMPLE_RESPONSE), SERVER_FRAME))) {
      const { head, rest } = feed(new ResponseHeadParser(), chunks);
      const response = validateUpgradeResponse(head, request);
      expect({ protocol: response.protocol, extensions: response.extensions, status: response.status }, label)
        .toEqual({ protocol: "chat", extensions: [], status: 101 });
      expect(rest, label).toEqual(SERVER_FRAME);
    }
  });

  test("returns no subprotocol and no extensions when the server sent none", async () => {
    const request = await offer();
    const head = responseFor(request);
    expect(validateUpgradeResponse(head, request)).toEqual({ protocol: "", extensions: [], headers: head.headers, status: 101 });
  });

  test("refuses any status but 101, carrying the status received", async () => {
    for (const status of [200, 301, 403, 426]) {
      const error = await rejectResponseHead({ startLine: `HTTP/1.1 ${status} Nope` }, "WS_ERR_INVALID_STATUS", status);
      expect(error.message).toBe(`Invalid status, expected 101: ${status}`);
    }
  });

  test("accepts Upgrade and Connection in any case, and refuses them missing or wrong", async () => {
    const request = await offer();
    const head = responseFor(request, { set: { Upgrade: "WebSocket", Connection: "upgrade" } });
    expect(validateUpgradeResponse(head, request).status).toBe(101);
    await rejectResponseHead({ set: { Upgrade: null } }, "WS_ERR_INVALID_UPGRADE");
    await rejectResponseHead({ set: { Upgrade: "h2c" } }, "WS_ERR_INVALID_UPGRADE");
    await rejectResponseHead({ set: { Connection: null } }, "WS_ERR_INVALID_CONNECTION");
    await rejectResponseHead({ set: { Connection: "close" } }, "WS_ERR_INVALID_CONNECTION");
  });

  test("refuses a missing, wrong or repeated Sec-WebSocket-Accept", async () => {
    const missing = await rejectResponseHead({ set: { "Sec-WebSocket-Accept": null } }, "WS_ERR_INVALID_ACCEPT");
    expect(missing.message).toBe("Missing Sec-WebSocket-Accept header");
    const wrong = await rejectResponseHead({ set: { "Sec-WebSocket-Accept": SAMPLE_ACCEPT } }, "WS_ERR_INVALID_ACCEPT");
    expect(wrong.message).toBe(`Invalid Sec-WebSocket-Accept: ${SAMPLE_ACCEPT}`);
    const request = await offer();
    const repeated = responseFor(request, { add: [["Sec-WebSocket-Accept", request.acceptKey]] });
    await expectHandshakeError(() => validateUpgradeResponse(repeated, request), "WS_ERR_INVALID_ACCEPT", 101);
  });

  test("returns the subprotocol the server chose among those offered", async () => {
    const request = await offer();
    const head = responseFor(request, { add: [["Sec-WebSocket-Protocol", "superchat"]] });
    expect(validateUpgradeResponse(head, request).protocol).toBe("superchat");
  });

  test("refuses a subprotocol not offered, several subprotocols, or one when none was offered", async () => {
    const error = await rejectResponseHead({ add: [["Sec-WebSocket-Protocol", "other"]] }, "WS_ERR_INVALID_SUBPROTOCOL");
    expect(error.message).toBe("Invalid Sec-WebSocket-Protocol, not one offered: other");
    await rejectResponseHead({ add: [["Sec-WebSocket-Protocol", "chat, superchat"]] }, "WS_ERR_INVALID_SUBPROTOCOL");
    await rejectResponseHead(
      { add: [["Sec-WebSocket-Protocol", "chat"], ["Sec-WebSocket-Protocol", "chat"]] },
      "WS_ERR_INVALID_SUBPROTOCOL",
    );
    const plain = await createClientRequest("ws://example.com/");
    const head = responseFor(plain, { add: [["Sec-WebSocket-Protocol", "chat"]] });
    await expectHandshakeError(() => validateUpgradeResponse(head, plain), "WS_ERR_INVALID_SUBPROTOCOL", 101);
  });

  test("returns the extensions the server accepted with their parameters", async () => {
    const request = await offer();
    const head = responseFor(request, { add: [["Sec-WebSocket-Extensions", "permessage-deflate; server_max_window_bits=\"10\""]] });
    expect(validateUpgradeResponse(head, request).extensions).toEqual([
      { name: "permessage-deflate", params: [["server_max_window_bits", "10"]] },
    ]);
  });

  test("refuses extensions not offered or malformed, carrying status 101", async () => {
    const error = await rejectResponseHead({ add: [["Sec-WebSocket-Extensions", "x-webkit-deflate-frame"]] }, "WS_ERR_INVALID_EXTENSION");
    expect(error.message).toBe("Invalid Sec-WebSocket-Extensions, not offered: x-webkit-deflate-frame");
    await rejectResponseHead({ add: [["Sec-WebSocket-Extensions", "permessage-deflate; ="]] }, "WS_ERR_INVALID_EXTENSION");
  });
});

describe("a client and a server", () => {
  test("complete the handshake with the pure functions and keep the first frames", async () => {
    // Client: build the request.
    const client = await createClientRequest("ws://localhost:8080/chat?room=1", {
      protocols: ["v2.chat", "v1.chat"],
      origin: "http://localhost:3000",
      extensions: formatExtensionHeader([
        { name: "permessage-deflate", params: [["client_max_window_bits", null]] },
        { name: "permessage-deflate", params: [] },
      ]),
    });

    // Server: parse the request one byte at a time, with the client's first frame behind it.
    const wire = concat(client.bytes, CLIENT_FRAME);
    const oneByteAtATime = Array.from({ length: wire.length }, (_, i) => wire.subarray(i, i + 1));
    const { head: requestHead, rest: serverRest } = feed(new RequestHeadParser(), oneByteAtATime);
    expect(serverRest).toEqual(CLIENT_FRAME);

    const request: UpgradeRequest = validateUpgradeRequest(requestHead);
    expect(request.target).toBe("/chat?room=1");
    expect(request.host).toBe("localhost:8080");
    expect(request.origin).toBe("http://localhost:3000");
    expect(request.key).toBe(client.key);
    expect(request.extensions.map((e) => e.name)).toEqual(["permessage-deflate", "permessage-deflate"]);
    const supported = ["v1.chat"];
    const protocol = request.protocols.find((p) => supported.includes(p));
    expect(protocol).toBe("v1.chat");
    const responseBytes = await acceptResponse(request, {
      protocol,
      extensions: "permessage-deflate; client_max_window_bits=15",
      headers: { "X-Server": "test" },
    });

    // Client: parse the response, split in two, with the server's first frame behind it.
    const clientParser = new ResponseHeadParser();
    const reply = concat(responseBytes, SERVER_FRAME);
    const middle = Math.floor(reply.length / 2);
    expect(clientParser.receiveData(reply.subarray(0, middle)).kind).toBe("incomplete");
    const { head: responseHead, rest: clientRest } = complete(clientParser.receiveData(reply.subarray(middle)));
    expect(clientRest).toEqual(SERVER_FRAME);

    const response = validateUpgradeResponse(responseHead, client);
    expect(response.protocol).toBe("v1.chat");
    expect(response.extensions).toEqual([{ name: "permessage-deflate", params: [["client_max_window_bits", "15"]] }]);
    expect(response.headers).toContainEqual(["X-Server", "test"]);
  });

  test("report a server's rejection to the client with the status it sent", async () => {
    const client = await createClientRequest("ws://localhost/", { protocols: ["chat"] });
    const head = complete(new RequestHeadParser().receiveData(client.bytes)).head;
    const tampered: RequestHead = {
      ...head,
      headers: head.headers.map(([n, v]) => [n, n === "Sec-WebSocket-Version" ? "12" : v] as const),
    };
    const serverError = await expectHandshakeError(() => validateUpgradeRequest(tampered), "WS_ERR_UNSUPPORTED_VERSION", 426);
    const responseHead = complete(new ResponseHeadParser().receiveData(rejectionFor(serverError))).head;
    expect(responseHead.headers).toContainEqual(["Sec-WebSocket-Version", "13"]);
    await expectHandshakeError(() => validateUpgradeResponse(responseHead, client), "WS_ERR_INVALID_STATUS", 426);
  });
});
