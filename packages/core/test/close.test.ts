import { describe, expect, it } from "vitest";
import { CloseCode, encodeClosePayload, isValidWireCloseCode, parseClosePayload } from "../src/close.ts";
import { ProtocolError, UsageError } from "../src/errors.ts";
import { hex } from "./helpers/chunking.ts";

const valid = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999];
const invalid = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535];

function protocolErrorOf(payload: Uint8Array): ProtocolError {
  try {
    parseClosePayload(payload);
  } catch (error) {
    if (error instanceof ProtocolError) return error;
    throw error;
  }
  throw new Error("expected a ProtocolError");
}

describe("close codes", () => {
  it("accepts exactly the codes valid on the wire", () => {
    for (const code of valid) expect(isValidWireCloseCode(code), String(code)).toBe(true);
    for (const code of invalid) expect(isValidWireCloseCode(code), String(code)).toBe(false);
  });
});

describe("parseClosePayload", () => {
  it("reports 1005 for an empty payload", () => {
    expect(parseClosePayload(new Uint8Array(0))).toEqual({ code: CloseCode.NO_STATUS_RCVD, reason: "" });
  });

  it("reads the code and the UTF-8 reason", () => {
    expect(parseClosePayload(hex("03 e8 c3 a9 74 c3 a9"))).toEqual({ code: 1000, reason: "été" });
  });

  it("fails a 1-byte payload with 1002", () => {
    const error = protocolErrorOf(hex("03"));
    expect(error.closeCode).toBe(1002);
    expect(error.code).toBe("WS_ERR_INVALID_CLOSE_PAYLOAD");
  });

  it("fails every invalid code with 1002", () => {
    for (const code of invalid) {
      const error = protocolErrorOf(Uint8Array.of(code >> 8, code & 0xff));
      expect(error.closeCode, String(code)).toBe(1002);
      expect(error.code).toBe("WS_ERR_INVALID_CLOSE_CODE");
    }
  });

  it("fails a reason that is not UTF-8 with 1007", () => {
    const error = protocolErrorOf(hex("03 e8 ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80 65 64 69 74 65 64"));
    expect(error.closeCode).toBe(1007);
    expect(error.code).toBe("WS_ERR_INVALID_CLOSE_REASON");
  });
});

describe("encodeClosePayload", () => {
  it("encodes a code and reason that parse back", () => {
    expect(parseClosePayload(encodeClosePayload(4000, "bye ✓"))).toEqual({ code: 4000, reason: "bye ✓" });
    expect(encodeClosePayload()).toEqual(new Uint8Array(0));
  });

  it("accepts a 123-byte reason and refuses 124", () => {
    expect(encodeClosePayload(1000, "x".repeat(123)).length).toBe(125);
    expect(() => encodeClosePayload(1000, "x".repeat(124))).toThrow(UsageError);
  });

  it("refuses codes not valid on the wire and a reason without a code", () => {
    for (const code of [1005, 1006, 1015, 999, 5000, 1.5]) {
      expect(() => encodeClosePayload(code), String(code)).toThrowError(expect.objectContaining({ code: "WS_ERR_INVALID_CLOSE_CODE" }));
    }
    expect(() => encodeClosePayload(undefined, "why")).toThrow(UsageError);
  });
});
