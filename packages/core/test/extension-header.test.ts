import { describe, expect, test } from "vitest";
import { HandshakeError, UsageError } from "../src/errors.ts";
import { type ExtensionOffer, formatExtensionHeader, parseExtensionHeader } from "../src/extension-header.ts";

function parseError(value: string): HandshakeError {
  try {
    parseExtensionHeader(value);
  } catch (error) {
    if (error instanceof HandshakeError) return error;
    throw error;
  }
  return expect.fail(`expected ${JSON.stringify(value)} to be rejected`);
}

describe("parseExtensionHeader", () => {
  test("parses a bare extension name", () => {
    expect(parseExtensionHeader("permessage-deflate")).toEqual([{ name: "permessage-deflate", params: [] }]);
  });

  test("parses the RFC 7692 §5 offers of the same extension, in preference order", () => {
    expect(
      parseExtensionHeader("permessage-deflate; client_max_window_bits, permessage-deflate; server_no_context_takeover"),
    ).toEqual([
      { name: "permessage-deflate", params: [["client_max_window_bits", null]] },
      { name: "permessage-deflate", params: [["server_no_context_takeover", null]] },
    ]);
  });

  test("parses parameters with token values and without values, keeping their order", () => {
    expect(
      parseExtensionHeader("permessage-deflate; server_max_window_bits=10; client_max_window_bits; client_no_context_takeover"),
    ).toEqual([
      {
        name: "permessage-deflate",
        params: [["server_max_window_bits", "10"], ["client_max_window_bits", null], ["client_no_context_takeover", null]],
      },
    ]);
  });

  test("unquotes quoted-string values", () => {
    expect(parseExtensionHeader('x; a="8"; b="a\\"b\\\\c"; c=""; d="x y, z;"')).toEqual([
      { name: "x", params: [["a", "8"], ["b", 'a"b\\c'], ["c", ""], ["d", "x y, z;"]] },
    ]);
  });

  test("accepts optional whitespace around commas, semicolons and equals signs", () => {
    expect(parseExtensionHeader(" \tfoo ;a = 1 ;\tb ,bar ,  baz; c=\"2\"  ")).toEqual([
      { name: "foo", params: [["a", "1"], ["b", null]] },
      { name: "bar", params: [] },
      { name: "baz", params: [["c", "2"]] },
    ]);
  });

  test("ignores empty list elements, as joined header lines may produce", () => {
    expect(parseExtensionHeader(", foo, , bar,")).toEqual([
      { name: "foo", params: [] },
      { name: "bar", params: [] },
    ]);
  });

  test("keeps names and values with the case they were sent in", () => {
    expect(parseExtensionHeader("X-Foo; Bar=BAZ")).toEqual([{ name: "X-Foo", params: [["Bar", "BAZ"]] }]);
  });

  test("rejects bad syntax with WS_ERR_INVALID_EXTENSION and status 400", () => {
    for (const value of [
      "",
      " , ",
      "foo bar",
      "foo;",
      "foo; ;a",
      ";a",
      "foo; a=",
      "foo; a=b c",
      "foo; a=\"unterminated",
      "foo; a=\"bad\\",
      "foo; a=\"ctl\u0001\"",
      "foo; a=b=c",
      "fo(o)",
      "foo; a/b",
      "foo; a=\"x\"y",
      "foo; a=\u00e9",
      "foo; =1",
    ]) {
      const error = parseError(value);
      expect(error.code, value).toBe("WS_ERR_INVALID_EXTENSION");
      expect(error.status, value).toBe(400);
    }
  });

  test("names what failed, where, and the whole value in the message", () => {
    expect(parseError("foo; =1").message).toBe("Invalid Sec-WebSocket-Extensions, expected a parameter name at 5: foo; =1");
    expect(parseError("foo bar").message).toBe("Invalid Sec-WebSocket-Extensions, expected a comma at 4: foo bar");
  });
});

describe("formatExtensionHeader", () => {
  test("formats RFC 7692 offers", () => {
    expect(
      formatExtensionHeader([
        { name: "permessage-deflate", params: [["client_max_window_bits", null]] },
        { name: "permessage-deflate", params: [["server_no_context_takeover", null], ["server_max_window_bits", "10"]] },
      ]),
    ).toBe("permessage-deflate; client_max_window_bits, permessage-deflate; server_no_context_takeover; server_max_window_bits=10");
  });

  test("quotes values that are not tokens and escapes quotes and backslashes", () => {
    expect(formatExtensionHeader([{ name: "x", params: [["a", "b c"], ["d", ""], ["e", 'q"\\'], ["f", "8"]] }])).toBe(
      'x; a="b c"; d=""; e="q\\"\\\\"; f=8',
    );
  });

  test("formats an empty list as an empty string", () => {
    expect(formatExtensionHeader([])).toBe("");
  });

  test("rejects names that are not tokens and values no quoted-string can carry", () => {
    const cases: ExtensionOffer[] = [
      { name: "bad name", params: [] },
      { name: "", params: [] },
      { name: "x", params: [["a;b", null]] },
      { name: "x", params: [["a", "line\r\nbreak"]] },
      { name: "x", params: [["a", "nul\0"]] },
      { name: "x", params: [["a", "\u20ac"]] },
    ];
    for (const offer of cases) {
      expect(() => formatExtensionHeader([offer]), JSON.stringify(offer)).toThrow(UsageError);
    }
  });

  test("round-trips through parseExtensionHeader", () => {
    const offers: ExtensionOffer[] = [
      { name: "permessage-deflate", params: [["client_max_window_bits", null], ["server_max_window_bits", "15"]] },
      { name: "permessage-deflate", params: [] },
      { name: "x-custom", params: [["quoted", "a \"b\" \\ c, d; e=f"], ["empty", ""], ["latin", "caf\u00e9"], ["tab", "a\tb"]] },
    ];
    expect(parseExtensionHeader(formatExtensionHeader(offers))).toEqual(offers);
  });
});
