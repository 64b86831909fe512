/**
 * 10.x Misc: a 64 KiB text message auto-fragmented into 1300-byte frames (RFC 6455 §5.4) is
 * reassembled and echoed.
 *
 * @module
 */
import { repeat } from "../bytes.ts";
import { type CaseDefinition, expect } from "../case.ts";
import { limit, normalClose } from "./helpers.ts";

const payload = repeat("*", 65536);

export const group10: CaseDefinition[] = [
  {
    id: "10.1.1",
    description: "Send text message with payload of length 65536 auto-fragmented with autoFragmentSize = 1300.",
    expectation: "Receive echo'ed text message (with payload as sent and transmitted frame counts as expected). Clean close with normal code.",
    expected: { ok: [expect.text(payload)] },
    close: normalClose,
    closeWhenDone: true,
    timeoutMs: limit(10_000),
    async run(ctx) {
      await ctx.sendMessage(payload, { fragmentSize: 1300 });
      ctx.killAfter(10_000);
    },
  },
];
