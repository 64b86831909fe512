/**
 * 2.x Pings and Pongs (RFC 6455 §5.5.2, §5.5.3): a Ping is answered with a Pong carrying the
 * same payload, a control payload over 125 bytes fails the connection, unsolicited Pongs are
 * ignored, and chopping the Ping into one-byte TCP writes changes nothing.
 *
 * @module
 */
import { hex, repeat } from "../bytes.ts";
import { type CaseDefinition, expect } from "../case.ts";
import { Opcode } from "../frame.ts";
import { failWith, limit, normalClose } from "./helpers.ts";

function pingCase(id: string, description: string, payload: Uint8Array | string, chop?: number): CaseDefinition {
  const closeMs = chop === undefined ? 1000 : 2000;
  return {
    id,
    description,
    expectation: `Pong (with ${payload.length === 0 ? "empty payload" : "payload echo'ed"}) is sent in reply to Ping.${chop === undefined ? "" : " Implementations must be TCP clean."} Clean close with normal code.`,
    expected: { ok: [expect.pong(payload)] },
    close: normalClose,
    closeWhenDone: true,
    timeoutMs: limit(closeMs),
    async run(ctx) {
      await ctx.send({ opcode: Opcode.Ping, payload, ...(chop === undefined ? {} : { chop }) });
      ctx.closeAfter(closeMs);
    },
  };
}

function tenPings(id: string, chop?: number): CaseDefinition {
  const payloads = Array.from({ length: 10 }, (_, i) => `payload-${i}`);
  return {
    id,
    description: `Send 10 Pings with payload.${chop === undefined ? "" : " Send out octets in octet-wise chops."}`,
    expectation:
      "Pongs for our Pings with all the payloads. Note: This is not required by the Spec .. but we check for this behaviour anyway. Clean close with normal code.",
    expected: { ok: payloads.map((p) => expect.pong(p)) },
    close: normalClose,
    closeWhenDone: true,
    timeoutMs: limit(3000),
    async run(ctx) {
      for (const payload of payloads) await ctx.send({ opcode: Opcode.Ping, payload, ...(chop === undefined ? {} : { chop }) });
      ctx.closeAfter(3000);
    },
  };
}

const binaryPayload = hex("00 ff fe fd fc fb 00 ff");

export const group2: CaseDefinition[] = [
  pingCase("2.1", "Send ping without payload.", ""),
  pingCase("2.2", "Send ping with small text payload.", "Hello, world!"),
  pingCase("2.3", "Send ping with small binary (non UTF-8) payload.", binaryPayload),
  pingCase("2.4", "Send ping with binary payload of 125 octets.", repeat(hex("fe"), 125)),
  {
    id: "2.5",
    description: "Send ping with binary payload of 126 octets.",
    expectation:
      "Connection is failed immediately (1002/Protocol Error), since control frames are only allowed to have payload up to and including 125 octets..",
    expected: { ok: [] },
    close: failWith(1002),
    timeoutMs: limit(1000),
    async run(ctx) {
      await ctx.send({ opcode: Opcode.Ping, payload: repeat(hex("fe"), 126) });
      ctx.killAfter(1000);
    },
  },
  pingCase("2.6", "Send ping with binary payload of 125 octets, send in octet-wise chops.", repeat(hex("fe"), 125), 1),
  {
    id: "2.7",
    description: "Send unsolicited pong without payload. Verify nothing is received. Clean close with normal code.",
    expectation: "Nothing.",
    expected: { ok: [] },
    close: normalClose,
    timeoutMs: limit(1000),
    async run(ctx) {
      await ctx.send({ opcode: Opcode.Pong });
      await ctx.close(1000);
      ctx.closeAfter(1000);
    },
  },
  {
    id: "2.8",
    description: "Send unsolicited pong with payload. Verify nothing is received. Clean close with normal code.",
    expectation: "Nothing.",
    expected: { ok: [] },
    close: normalClose,
    timeoutMs: limit(1000),
    async run(ctx) {
      await ctx.send({ opcode: Opcode.Pong, payload: "unsolicited pong payload" });
      await ctx.close(1000);
      ctx.closeAfter(1000);
    },
  },
  {
    id: "2.9",
    description: "Send unsolicited pong with payload. Send ping with payload. Verify pong for ping is received.",
    expectation: "Nothing in reply to own Pong, but Pong with payload echo'ed in reply to Ping. Clean close with normal code.",
    expected: { ok: [expect.pong("ping payload")] },
    close: normalClose,
    closeWhenDone: true,
    timeoutMs: limit(1000),
    async run(ctx) {
      await ctx.send({ opcode: Opcode.Pong, payload: "unsolicited pong payload" });
      await ctx.send({ opcode: Opcode.Ping, payload: "ping payload" });
      ctx.closeAfter(1000);
    },
  },
  tenPings("2.10"),
  tenPings("2.11", 1),
];
