import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { HandshakeError, UsageError } from "../src/errors.ts";
import { formatExtensionHeader, parseExtensionHeader } from "../src/extension-header.ts";
import {
  acceptDeflateOffer,
  acceptDeflateResponse,
  deflateOffer,
  type DeflateOptions,
  type DeflateParams,
} from "../src/permessage-deflate-params.ts";

const DEFAULTS: DeflateParams = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

function agreed(changes: Partial<DeflateParams> = {}): DeflateParams {
  return { ...DEFAULTS, ...changes };
}

/** The server's answer to a `Sec-WebSocket-Extensions` request value, as header text. */
function serverAnswer(offers: string, options?: DeflateOptions): { response: string; params: DeflateParams } | undefined {
  const accepted = acceptDeflateOffer(parseExtensionHeader(offers), options);
  return accepted && { response: formatExtensionHeader([accepted.response]), params: accepted.params };
}

/** The client's reading of a `Sec-WebSocket-Extensions` response value holding one extension. */
function clientReading(response: string, offered: DeflateOptions = {}): DeflateParams {
  const [extension, ...rest] = parseExtensionHeader(response);
  expect(rest).toEqual([]);
  return acceptDeflateResponse(extension!, offered);
}

function clientFailure(response: string, offered: DeflateOptions = {}): HandshakeError {
  try {
    clientReading(response, offered);
  } catch (error) {
    if (error instanceof HandshakeError) return error;
    throw error;
  }
  return expect.fail(`expected ${JSON.stringify(response)} to fail the connection`);
}

function expectClientFailure(response: string, offered: DeflateOptions, message: string): void {
  const error = clientFailure(response, offered);
  expect(error.code).toBe("WS_ERR_INVALID_EXTENSION");
  expect(error.status).toBe(101);
  expect(error.message).toBe(`Invalid permessage-deflate response, ${message}`);
}

// Values that break §7.1 in an offer and in a response alike: the server declines the offer, the
// client fails the connection.
const INVALID_EVERYWHERE: ReadonlyArray<readonly [params: string, message: string]> = [
  ["x-unknown", "unknown parameter: x-unknown"],
  ["x-unknown=1", "unknown parameter: x-unknown"],
  ["Server_No_Context_Takeover", "unknown parameter: Server_No_Context_Takeover"],
  ["server_no_context_takeover; server_no_context_takeover", "repeated parameter: server_no_context_takeover"],
  ["client_no_context_takeover; client_no_context_takeover", "repeated parameter: client_no_context_takeover"],
  ["server_max_window_bits=10; server_max_window_bits=10", "repeated parameter: server_max_window_bits"],
  ["client_max_window_bits=10; client_max_window_bits=9", "repeated parameter: client_max_window_bits"],
  ["server_no_context_takeover=1", 'server_no_context_takeover takes no value: "1"'],
  ['server_no_context_takeover=""', 'server_no_context_takeover takes no value: ""'],
  ["client_no_context_takeover=true", 'client_no_context_takeover takes no value: "true"'],
  ["server_max_window_bits", "server_max_window_bits needs a value from 8 to 15"],
  ["server_max_window_bits=7", 'server_max_window_bits is not a number from 8 to 15: "7"'],
  ["server_max_window_bits=16", 'server_max_window_bits is not a number from 8 to 15: "16"'],
  ["server_max_window_bits=0", 'server_max_window_bits is not a number from 8 to 15: "0"'],
  ["server_max_window_bits=08", 'server_max_window_bits is not a number from 8 to 15: "08"'],
  ["server_max_window_bits=010", 'server_max_window_bits is not a number from 8 to 15: "010"'],
  ["server_max_window_bits=+9", 'server_max_window_bits is not a number from 8 to 15: "+9"'],
  ["server_max_window_bits=9.0", 'server_max_window_bits is not a number from 8 to 15: "9.0"'],
  ["server_max_window_bits=0x9", 'server_max_window_bits is not a number from 8 to 15: "0x9"'],
  ["server_max_window_bits=1e1", 'server_max_window_bits is not a number from 8 to 15: "1e1"'],
  ['server_max_window_bits=" 9"', 'server_max_window_bits is not a number from 8 to 15: " 9"'],
  ['server_max_window_bits=""', 'server_max_window_bits is not a number from 8 to 15: ""'],
  ["client_max_window_bits=7", 'client_max_window_bits is not a number from 8 to 15: "7"'],
  ["client_max_window_bits=16", 'client_max_window_bits is not a number from 8 to 15: "16"'],
  ["client_max_window_bits=09", 'client_max_window_bits is not a number from 8 to 15: "09"'],
  ["client_max_window_bits=ten", 'client_max_window_bits is not a number from 8 to 15: "ten"'],
];

describe("deflateOffer", () => {
  test("offers client_max_window_bits without a value by default, as browsers do", () => {
    expect(deflateOffer()).toEqual({ name: "permessage-deflate", params: [["client_max_window_bits", null]] });
    expect(formatExtensionHeader([deflateOffer()])).toBe("permessage-deflate; client_max_window_bits");
  });

  test("writes every option as its parameter, in the order of RFC 7692 §7.1", () => {
    const offer = deflateOffer({
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 10,
      clientMaxWindowBits: 12,
    });
    expect(formatExtensionHeader([offer])).toBe(
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12",
    );
  });

  test("leaves out the context takeover parameters when their options are false", () => {
    const offer = deflateOffer({ serverNoContextTakeover: false, clientNoContextTakeover: false });
    expect(formatExtensionHeader([offer])).toBe("permessage-deflate; client_max_window_bits");
  });

  test("writes window bits of 8 and 15 as they are", () => {
    expect(formatExtensionHeader([deflateOffer({ serverMaxWindowBits: 8, clientMaxWindowBits: 15 })])).toBe(
      "permessage-deflate; server_max_window_bits=8; client_max_window_bits=15",
    );
  });

  test("rejects window bits that are not integers from 8 to 15 as a usage error", () => {
    for (const bits of [7, 16, 0, -9, 9.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => deflateOffer({ serverMaxWindowBits: bits })).toThrow(UsageError);
      expect(() => deflateOffer({ clientMaxWindowBits: bits })).toThrow(UsageError);
    }
    expect(() => deflateOffer({ clientMaxWindowBits: 16 })).toThrow(
      "Invalid clientMaxWindowBits, expected an integer from 8 to 15: 16",
    );
  });
});

describe("acceptDeflateOffer", () => {
  describe("choosing an offer (RFC 7692 §5, §7)", () => {
    test("accepts the browser offer with a bare response and the default window sizes", () => {
      expect(serverAnswer("permessage-deflate; client_max_window_bits")).toEqual({
        response: "permessage-deflate",
        params: DEFAULTS,
      });
    });

    test("accepts an offer without parameters", () => {
      expect(serverAnswer("permessage-deflate")).toEqual({ response: "permessage-deflate", params: DEFAULTS });
    });

    test("returns undefined when nothing is offered or no offer is permessage-deflate", () => {
      expect(acceptDeflateOffer([])).toBeUndefined();
      expect(serverAnswer("x-webkit-deflate-frame, permessage-foo; server_max_window_bits=10")).toBeUndefined();
    });

    test("skips other extensions to reach the permessage-deflate offer", () => {
      expect(serverAnswer("x-foo; a=1, permessage-deflate; server_max_window_bits=12")?.response).toBe(
        "permessage-deflate; server_max_window_bits=12",
      );
    });

    test("does not take an extension named in another case for permessage-deflate", () => {
      expect(serverAnswer("Permessage-Deflate")).toBeUndefined();
    });

    test("picks the first of several valid offers, the client's preferred one", () => {
      expect(
        serverAnswer(
          "permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate; client_max_window_bits",
        ),
      ).toEqual({ response: "permessage-deflate; server_max_window_bits=10", params: agreed({ serverMaxWindowBits: 10 }) });
    });

    test("skips an invalid offer and accepts the next valid one", () => {
      expect(
        serverAnswer(
          "permessage-deflate; server_max_window_bits=16, permessage-deflate; x-unknown, permessage-deflate; server_no_context_takeover",
        ),
      ).toEqual({
        response: "permessage-deflate; server_no_context_takeover",
        params: agreed({ serverNoContextTakeover: true }),
      });
    });

    test.each(INVALID_EVERYWHERE)("declines an offer with %s", (params) => {
      expect(serverAnswer(`permessage-deflate; ${params}`)).toBeUndefined();
    });

    test("reads quoted-string values like tokens", () => {
      expect(serverAnswer('permessage-deflate; server_max_window_bits="10"; client_max_window_bits="12"')).toEqual({
        response: "permessage-deflate; server_max_window_bits=10; client_max_window_bits=12",
        params: agreed({ serverMaxWindowBits: 10, clientMaxWindowBits: 12 }),
      });
    });

    test("rejects option window bits that are not integers from 8 to 15 as a usage error", () => {
      const offers = parseExtensionHeader("permessage-deflate");
      expect(() => acceptDeflateOffer(offers, { serverMaxWindowBits: 16 })).toThrow(UsageError);
      expect(() => acceptDeflateOffer(offers, { clientMaxWindowBits: 7.5 })).toThrow(UsageError);
    });
  });

  describe("server_no_context_takeover (§7.1.1.1)", () => {
    test("includes it in the response when the client requests it", () => {
      expect(serverAnswer("permessage-deflate; server_no_context_takeover")).toEqual({
        response: "permessage-deflate; server_no_context_takeover",
        params: agreed({ serverNoContextTakeover: true }),
      });
    });

    test("leaves it out when neither the client nor the options ask for it", () => {
      expect(serverAnswer("permessage-deflate", { serverNoContextTakeover: false })?.response).toBe("permessage-deflate");
    });

    test("includes it unrequested when the server option asks for it", () => {
      expect(serverAnswer("permessage-deflate", { serverNoContextTakeover: true })).toEqual({
        response: "permessage-deflate; server_no_context_takeover",
        params: agreed({ serverNoContextTakeover: true }),
      });
    });
  });

  describe("client_no_context_takeover (§7.1.1.2)", () => {
    test("includes it unoffered when the server option asks for it", () => {
      expect(serverAnswer("permessage-deflate", { clientNoContextTakeover: true })).toEqual({
        response: "permessage-deflate; client_no_context_takeover",
        params: agreed({ clientNoContextTakeover: true }),
      });
    });

    test("echoes the client's hint so both ends drop the window between messages", () => {
      expect(serverAnswer("permessage-deflate; client_no_context_takeover")).toEqual({
        response: "permessage-deflate; client_no_context_takeover",
        params: agreed({ clientNoContextTakeover: true }),
      });
    });

    test("leaves it out when neither the client nor the options mention it", () => {
      expect(serverAnswer("permessage-deflate")?.params.clientNoContextTakeover).toBe(false);
    });
  });

  describe("server_max_window_bits (§7.1.2.1)", () => {
    test("answers a requested value with the same value", () => {
      expect(serverAnswer("permessage-deflate; server_max_window_bits=10")).toEqual({
        response: "permessage-deflate; server_max_window_bits=10",
        params: agreed({ serverMaxWindowBits: 10 }),
      });
    });

    test("answers a requested value with a smaller one when the server prefers it", () => {
      expect(serverAnswer("permessage-deflate; server_max_window_bits=12", { serverMaxWindowBits: 9 })).toEqual({
        response: "permessage-deflate; server_max_window_bits=9",
        params: agreed({ serverMaxWindowBits: 9 }),
      });
    });

    test("never answers above the requested value, whatever the server prefers", () => {
      expect(serverAnswer("permessage-deflate; server_max_window_bits=10", { serverMaxWindowBits: 14 })?.response).toBe(
        "permessage-deflate; server_max_window_bits=10",
      );
    });

    test("answers a request for 15 with 15, since accepting the request means including it", () => {
      expect(serverAnswer("permessage-deflate; server_max_window_bits=15")).toEqual({
        response: "permessage-deflate; server_max_window_bits=15",
        params: DEFAULTS,
      });
    });

    test("accepts a request for 8 and agrees on 8, leaving the compressor to honour it", () => {
      expect(serverAnswer("permessage-deflate; server_max_window_bits=8")).toEqual({
        response: "permessage-deflate; server_max_window_bits=8",
        params: agreed({ serverMaxWindowBits: 8 }),
      });
    });

    test("includes it unrequested when the server prefers a smaller window", () => {
      expect(serverAnswer("permessage-deflate", { serverMaxWindowBits: 11 })).toEqual({
        response: "permessage-deflate; server_max_window_bits=11",
        params: agreed({ serverMaxWindowBits: 11 }),
      });
    });

    test("leaves it out unrequested when the server's window is the default 15", () => {
      expect(serverAnswer("permessage-deflate", { serverMaxWindowBits: 15 })?.response).toBe("permessage-deflate");
    });
  });

  describe("client_max_window_bits (§7.1.2.2)", () => {
    test("never includes it when the offer lacks it, even if the server prefers a smaller window", () => {
      expect(serverAnswer("permessage-deflate", { clientMaxWindowBits: 10 })).toEqual({
        response: "permessage-deflate",
        params: DEFAULTS,
      });
    });

    test("limits the client with the server's preference when offered without a value", () => {
      expect(serverAnswer("permessage-deflate; client_max_window_bits", { clientMaxWindowBits: 10 })).toEqual({
        response: "permessage-deflate; client_max_window_bits=10",
        params: agreed({ clientMaxWindowBits: 10 }),
      });
    });

    test("answers an offered value with the smaller server preference", () => {
      expect(serverAnswer("permessage-deflate; client_max_window_bits=12", { clientMaxWindowBits: 10 })).toEqual({
        response: "permessage-deflate; client_max_window_bits=10",
        params: agreed({ clientMaxWindowBits: 10 }),
      });
    });

    test("never answers above an offered value, taking the client's promise as the limit", () => {
      expect(serverAnswer("permessage-deflate; client_max_window_bits=10", { clientMaxWindowBits: 12 })).toEqual({
        response: "permessage-deflate; client_max_window_bits=10",
        params: agreed({ clientMaxWindowBits: 10 }),
      });
      expect(serverAnswer("permessage-deflate; client_max_window_bits=9")?.response).toBe(
        "permessage-deflate; client_max_window_bits=9",
      );
    });

    test("leaves it out when the agreed client window is the default 15", () => {
      expect(serverAnswer("permessage-deflate; client_max_window_bits=15")?.response).toBe("permessage-deflate");
      expect(serverAnswer("permessage-deflate; client_max_window_bits", { clientMaxWindowBits: 15 })?.response).toBe(
        "permessage-deflate",
      );
    });
  });

  // crossbario/autobahn-testsuite, case/case12_x_x.py: the offers its client sends in cases 12.*
  // and 13.* (PerMessageDeflateOffer: acceptNoContextTakeover and acceptMaxWindowBits default to
  // true, written as client_no_context_takeover and client_max_window_bits).
  describe("the Autobahn test suite's client offers", () => {
    const DEFAULT_OFFER = "permessage-deflate; client_no_context_takeover; client_max_window_bits";
    const cases: ReadonlyArray<readonly [string, string, string, DeflateParams]> = [
      ["12.* and 13.1", DEFAULT_OFFER, "permessage-deflate; client_no_context_takeover", agreed({ clientNoContextTakeover: true })],
      [
        "13.2",
        `${DEFAULT_OFFER}; server_no_context_takeover`,
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        agreed({ serverNoContextTakeover: true, clientNoContextTakeover: true }),
      ],
      [
        "13.3",
        `${DEFAULT_OFFER}; server_max_window_bits=8`,
        "permessage-deflate; client_no_context_takeover; server_max_window_bits=8",
        agreed({ clientNoContextTakeover: true, serverMaxWindowBits: 8 }),
      ],
      [
        "13.4",
        `${DEFAULT_OFFER}; server_max_window_bits=15`,
        "permessage-deflate; client_no_context_takeover; server_max_window_bits=15",
        agreed({ clientNoContextTakeover: true }),
      ],
      [
        "13.5",
        `${DEFAULT_OFFER}; server_no_context_takeover; server_max_window_bits=8`,
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8",
        agreed({ serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 8 }),
      ],
      [
        "13.6",
        `${DEFAULT_OFFER}; server_no_context_takeover; server_max_window_bits=15`,
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15",
        agreed({ serverNoContextTakeover: true, clientNoContextTakeover: true }),
      ],
      [
        "13.7",
        `${DEFAULT_OFFER}; server_no_context_takeover; server_max_window_bits=8, ` +
        `${DEFAULT_OFFER}; server_no_context_takeover, ${DEFAULT_OFFER}`,
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8",
        agreed({ serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 8 }),
      ],
    ];

    test.each(cases)("accepts the offer of case %s with the exact response expected", (_, offer, response, params) => {
      expect(serverAnswer(offer)).toEqual({ response, params });
    });

    test("accepts the Autobahn offers within the server's smaller window preferences", () => {
      expect(serverAnswer(DEFAULT_OFFER, { serverMaxWindowBits: 9, clientMaxWindowBits: 9 })).toEqual({
        response: "permessage-deflate; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=9",
        params: agreed({ clientNoContextTakeover: true, serverMaxWindowBits: 9, clientMaxWindowBits: 9 }),
      });
    });
  });
});

describe("acceptDeflateResponse", () => {
  describe("checking the response (RFC 7692 §7)", () => {
    test("reads a bare response as the default window sizes with context takeover", () => {
      expect(clientReading("permessage-deflate")).toEqual(DEFAULTS);
    });

    test.each(INVALID_EVERYWHERE)("fails the connection on a response with %s", (params, message) => {
      expectClientFailure(`permessage-deflate; ${params}`, {}, message);
    });

    test("fails the connection on client_max_window_bits without a value, which only offers may send", () => {
      expectClientFailure(
        "permessage-deflate; client_max_window_bits",
        {},
        "client_max_window_bits needs a value from 8 to 15",
      );
    });

    test("reads quoted-string values like tokens", () => {
      expect(clientReading('permessage-deflate; server_max_window_bits="12"; client_max_window_bits="11"')).toEqual(
        agreed({ serverMaxWindowBits: 12, clientMaxWindowBits: 11 }),
      );
    });

    test("rejects another extension's element as a usage error", () => {
      expect(() => acceptDeflateResponse({ name: "x-foo", params: [] }, {})).toThrow(UsageError);
    });

    test("rejects offered window bits that are not integers from 8 to 15 as a usage error", () => {
      const response = { name: "permessage-deflate", params: [] };
      expect(() => acceptDeflateResponse(response, { serverMaxWindowBits: 7 })).toThrow(UsageError);
      expect(() => acceptDeflateResponse(response, { clientMaxWindowBits: 16 })).toThrow(UsageError);
    });
  });

  describe("server_no_context_takeover (§7.1.1.1)", () => {
    test("accepts it when requested", () => {
      expect(clientReading("permessage-deflate; server_no_context_takeover", { serverNoContextTakeover: true })).toEqual(
        agreed({ serverNoContextTakeover: true }),
      );
    });

    test("fails the connection when it was requested and the response leaves it out", () => {
      expectClientFailure(
        "permessage-deflate; client_max_window_bits=10",
        { serverNoContextTakeover: true },
        "server_no_context_takeover was requested but is missing",
      );
    });

    test("accepts it unrequested, since the server may always add it", () => {
      expect(clientReading("permessage-deflate; server_no_context_takeover")).toEqual(
        agreed({ serverNoContextTakeover: true }),
      );
    });
  });

  describe("client_no_context_takeover (§7.1.1.2)", () => {
    test("accepts it unoffered and stops the client from taking over its window", () => {
      expect(clientReading("permessage-deflate; client_no_context_takeover")).toEqual(
        agreed({ clientNoContextTakeover: true }),
      );
    });

    test("keeps the client's promise when the response leaves the offered hint out", () => {
      expect(clientReading("permessage-deflate", { clientNoContextTakeover: true })).toEqual(
        agreed({ clientNoContextTakeover: true }),
      );
    });
  });

  describe("server_max_window_bits (§7.1.2.1)", () => {
    test("accepts the requested value or a smaller one", () => {
      expect(clientReading("permessage-deflate; server_max_window_bits=10", { serverMaxWindowBits: 10 })).toEqual(
        agreed({ serverMaxWindowBits: 10 }),
      );
      expect(clientReading("permessage-deflate; server_max_window_bits=8", { serverMaxWindowBits: 10 })).toEqual(
        agreed({ serverMaxWindowBits: 8 }),
      );
    });

    test("fails the connection on a value above the requested one", () => {
      expectClientFailure(
        "permessage-deflate; server_max_window_bits=11",
        { serverMaxWindowBits: 10 },
        "server_max_window_bits is above the 10 requested: 11",
      );
    });

    test("fails the connection when it was requested and the response leaves it out", () => {
      expectClientFailure(
        "permessage-deflate",
        { serverMaxWindowBits: 15 },
        "server_max_window_bits was requested but is missing: 15",
      );
    });

    test("accepts any valid value unrequested, since the server may always add it", () => {
      expect(clientReading("permessage-deflate; server_max_window_bits=9")).toEqual(agreed({ serverMaxWindowBits: 9 }));
    });
  });

  describe("client_max_window_bits (§7.1.2.2)", () => {
    test("takes the server's limit when offered without a value", () => {
      expect(clientReading("permessage-deflate; client_max_window_bits=10")).toEqual(agreed({ clientMaxWindowBits: 10 }));
    });

    test("takes a server's limit below the offered value", () => {
      expect(clientReading("permessage-deflate; client_max_window_bits=9", { clientMaxWindowBits: 12 })).toEqual(
        agreed({ clientMaxWindowBits: 9 }),
      );
    });

    test("keeps the offered value when the response leaves the parameter out", () => {
      expect(clientReading("permessage-deflate", { clientMaxWindowBits: 12 })).toEqual(agreed({ clientMaxWindowBits: 12 }));
    });

    test("keeps the offered value when the response allows a larger window, as the hint foresees", () => {
      expect(clientReading("permessage-deflate; client_max_window_bits=14", { clientMaxWindowBits: 12 })).toEqual(
        agreed({ clientMaxWindowBits: 12 }),
      );
    });

    test("accepts a limit of 8, leaving the compressor to honour it", () => {
      expect(clientReading("permessage-deflate; client_max_window_bits=8")).toEqual(agreed({ clientMaxWindowBits: 8 }));
    });
  });

  // crossbario/autobahn-testsuite, case/case12_x_x.py: accept1..accept7, the answers its server
  // gives in cases 12.* and 13.* to our default offer (which it reads as accepting both
  // client_no_context_takeover and client_max_window_bits).
  describe("the Autobahn test suite's server responses to our default offer", () => {
    const cases: ReadonlyArray<readonly [string, string, DeflateParams]> = [
      ["12.* and 13.1", "permessage-deflate", DEFAULTS],
      ["13.2", "permessage-deflate; client_no_context_takeover", agreed({ clientNoContextTakeover: true })],
      ["13.3", "permessage-deflate; client_max_window_bits=8", agreed({ clientMaxWindowBits: 8 })],
      ["13.4", "permessage-deflate; client_max_window_bits=15", DEFAULTS],
      [
        "13.5",
        "permessage-deflate; client_no_context_takeover; client_max_window_bits=8",
        agreed({ clientNoContextTakeover: true, clientMaxWindowBits: 8 }),
      ],
      [
        "13.6",
        "permessage-deflate; client_no_context_takeover; client_max_window_bits=15",
        agreed({ clientNoContextTakeover: true }),
      ],
      [
        "13.7",
        "permessage-deflate; client_no_context_takeover; client_max_window_bits=8",
        agreed({ clientNoContextTakeover: true, clientMaxWindowBits: 8 }),
      ],
    ];

    test.each(cases)("accepts the response of case %s", (_, response, params) => {
      expect(clientReading(response, {})).toEqual(params);
    });
  });
});

describe("a negotiation from offer to response", () => {
  /** Offer, server answer and client check, each through header text as on the wire. */
  function negotiate(client: DeflateOptions, server: DeflateOptions): { server: DeflateParams; client: DeflateParams } {
    const request = formatExtensionHeader([deflateOffer(client)]);
    const accepted = acceptDeflateOffer(parseExtensionHeader(request), server);
    if (accepted === undefined) return expect.fail(`the server declined ${request}`);
    const response = formatExtensionHeader([accepted.response]);
    return { server: accepted.params, client: clientReading(response, client) };
  }

  const combinations: ReadonlyArray<readonly [string, DeflateOptions, DeflateOptions, DeflateParams]> = [
    ["default options on both ends", {}, {}, DEFAULTS],
    [
      "a client requesting everything",
      { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 11 },
      {},
      { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 11 },
    ],
    [
      "a server preferring everything",
      {},
      { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 9, clientMaxWindowBits: 12 },
      { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 9, clientMaxWindowBits: 12 },
    ],
    [
      "both ends limiting windows, the smaller winning",
      { serverMaxWindowBits: 12, clientMaxWindowBits: 9 },
      { serverMaxWindowBits: 10, clientMaxWindowBits: 13 },
      agreed({ serverMaxWindowBits: 10, clientMaxWindowBits: 9 }),
    ],
    ["a client requesting a window of 8", { serverMaxWindowBits: 8 }, {}, agreed({ serverMaxWindowBits: 8 })],
    ["a server limiting the client to 8", {}, { clientMaxWindowBits: 8 }, agreed({ clientMaxWindowBits: 8 })],
  ];

  test.each(combinations)("agrees on the same parameters on both ends with %s", (_, client, server, expected) => {
    expect(negotiate(client, server)).toEqual({ server: expected, client: expected });
  });

  const bits = fc.option(fc.integer({ min: 8, max: 15 }), { nil: undefined });
  const options: fc.Arbitrary<DeflateOptions> = fc.record(
    {
      serverNoContextTakeover: fc.boolean(),
      clientNoContextTakeover: fc.boolean(),
      serverMaxWindowBits: bits,
      clientMaxWindowBits: bits,
    },
    { requiredKeys: [] },
  );

  test("agrees on the same parameters on both ends, within both ends' limits, for any options", () => {
    fc.assert(
      fc.property(options, options, (client, server) => {
        const result = negotiate(client, server);
        expect(result.client).toEqual(result.server);
        const params = result.client;
        expect(params.serverNoContextTakeover).toBe(client.serverNoContextTakeover === true || server.serverNoContextTakeover === true);
        expect(params.clientNoContextTakeover).toBe(client.clientNoContextTakeover === true || server.clientNoContextTakeover === true);
        expect(params.serverMaxWindowBits).toBe(Math.min(client.serverMaxWindowBits ?? 15, server.serverMaxWindowBits ?? 15));
        expect(params.clientMaxWindowBits).toBe(Math.min(client.clientMaxWindowBits ?? 15, server.clientMaxWindowBits ?? 15));
      }),
      { numRuns: 500 },
    );
  });
});
