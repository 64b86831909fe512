/**
 * 1.x Framing: text (1.1) and binary (1.2) messages at every payload length class (7-bit,
 * 16-bit and 64-bit length, RFC 6455 §5.2), echoed byte for byte; the last case of each
 * subgroup arrives in 997-byte TCP chops.
 *
 * @module
 */
import { repeat } from "../bytes.ts";
import { type CaseDefinition, expect } from "../case.ts";
import { Opcode } from "../frame.ts";
import { limit, normalClose } from "./helpers.ts";

const lengths = [0, 125, 126, 127, 128, 65535, 65536];

function framingCase(sub: 1 | 2, index: number, length: number, chop?: number): CaseDefinition {
  const binary = sub === 2;
  const payload = repeat(binary ? new Uint8Array([0xfe]) : "*", length);
  const kind = binary ? "binary" : "text";
  const killMs = length > 128 ? 10_000 : 1000;
  return {
    id: `1.${sub}.${index}`,
    description: `Send ${kind} message with payload of length ${length}.${chop === undefined ? "" : ` Sent out data in chops of ${chop} octets.`}`,
    expectation: `Receive echo'ed ${kind} message (with payload as sent). Clean close with normal code.`,
    expected: { ok: [binary ? expect.binary(payload) : expect.text(payload)] },
    close: normalClose,
    closeWhenDone: true,
    timeoutMs: limit(killMs),
    async run(ctx) {
      await ctx.send({ opcode: binary ? Opcode.Binary : Opcode.Text, payload, ...(chop === undefined ? {} : { chop }) });
      ctx.killAfter(killMs);
    },
  };
}

export const group1: CaseDefinition[] = [1, 2].flatMap((sub) => [
  ...lengths.map((length, i) => framingCase(sub as 1 | 2, i + 1, length)),
  framingCase(sub as 1 | 2, 8, 65536, 997),
]);
