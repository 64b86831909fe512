/**
 * Close codes (RFC 6455 §7.4) and the Close frame payload (§5.5.1).
 *
 * @module
 */
import { ProtocolError, UsageError } from "./errors.ts";

/** Status codes registered in RFC 6455 §7.4.1 and §11.7, named after the RFC. */
export const CloseCode = {
  NORMAL_CLOSURE: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  /** Reserved: reported locally when a Close frame carried no code. Never on the wire. */
  NO_STATUS_RCVD: 1005,
  /** Reserved: reported locally when the transport ended without a Close. Never on the wire. */
  ABNORMAL_CLOSURE: 1006,
  INVALID_FRAME_PAYLOAD_DATA: 1007,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  MANDATORY_EXTENSION: 1010,
  INTERNAL_ERROR: 1011,
  SERVICE_RESTART: 1012,
  TRY_AGAIN_LATER: 1013,
  BAD_GATEWAY: 1014,
  /** Reserved: reported locally when the TLS handshake failed. Never on the wire. */
  TLS_HANDSHAKE: 1015,
} as const;

/** The longest close reason: a control frame carries at most 125 bytes, 2 of them the code. */
export const MAX_CLOSE_REASON_BYTES = 123;

/**
 * Whether `code` may appear in a Close frame: 1000-1003, 1007-1014 (RFC 6455 and the IANA
 * registry) and 3000-4999 (registered and private use). 1004, 1005, 1006, 1015, everything below
 * 1000, 1016-2999 and 5000 and up are not.
 */
export function isValidWireCloseCode(code: number): boolean {
  return (
    (code >= 1000 && code <= 1003) ||
    (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999)
  );
}

/** A decoded Close frame payload. */
export interface ClosePayload {
  /** The status code, or 1005 when the frame had no payload. */
  readonly code: number;
  readonly reason: string;
}

const fatalDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

/**
 * Decodes a Close frame payload. §5.5.1: the body, if any, starts with a 2-byte code; a 1-byte
 * body is a protocol error; the reason must be UTF-8 (§8.1, a violation is 1007).
 * Throws {@link ProtocolError}.
 */
export function parseClosePayload(payload: Uint8Array): ClosePayload {
  if (payload.length === 0) return { code: CloseCode.NO_STATUS_RCVD, reason: "" };
  if (payload.length === 1) {
    throw new ProtocolError(
      "WS_ERR_INVALID_CLOSE_PAYLOAD",
      CloseCode.PROTOCOL_ERROR,
      "Invalid close frame: a 1-byte payload cannot hold a status code",
    );
  }
  const code = (payload[0]! << 8) | payload[1]!;
  if (!isValidWireCloseCode(code)) {
    throw new ProtocolError(
      "WS_ERR_INVALID_CLOSE_CODE",
      CloseCode.PROTOCOL_ERROR,
      `Invalid close code: ${code}`,
    );
  }
  let reason: string;
  try {
    reason = fatalDecoder.decode(payload.subarray(2));
  } catch {
    throw new ProtocolError(
      "WS_ERR_INVALID_CLOSE_REASON",
      CloseCode.INVALID_FRAME_PAYLOAD_DATA,
      "Invalid close reason: not valid UTF-8",
    );
  }
  return { code, reason };
}

/**
 * Encodes a Close payload for sending. `code` undefined sends an empty payload. Local misuse
 * throws {@link UsageError}: a code not valid on the wire, a reason without a code, or a reason
 * over 123 bytes of UTF-8.
 */
export function encodeClosePayload(code?: number, reason = ""): Uint8Array {
  if (code === undefined) {
    if (reason !== "") {
      throw new UsageError("WS_ERR_INVALID_CLOSE_REASON", "Invalid close reason: a reason needs a code");
    }
    return new Uint8Array(0);
  }
  if (!Number.isInteger(code) || !isValidWireCloseCode(code)) {
    throw new UsageError("WS_ERR_INVALID_CLOSE_CODE", `Invalid close code: ${code}`);
  }
  const reasonBytes = encoder.encode(reason);
  if (reasonBytes.length > MAX_CLOSE_REASON_BYTES) {
    throw new UsageError(
      "WS_ERR_INVALID_CLOSE_REASON",
      `Invalid close reason: ${reasonBytes.length} bytes is over the limit of ${MAX_CLOSE_REASON_BYTES}`,
    );
  }
  const out = new Uint8Array(2 + reasonBytes.length);
  out[0] = code >>> 8;
  out[1] = code & 0xff;
  out.set(reasonBytes, 2);
  return out;
}
