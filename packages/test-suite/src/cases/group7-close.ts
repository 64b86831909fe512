/**
 * 7.x Close handling (RFC 6455 §5.5.1, §7): the harness starts the closing handshake in every
 * case. Nothing after the peer's received Close is processed; a Close payload of 1 byte, over
 * 125 bytes, with a reason that is not UTF-8 or with a code that may not be sent fails the
 * connection (1002, or 1007 for the reason); valid codes are answered with 1000 or the same
 * code. 7.1.6 and 7.13 are informational.
 *
 * @module
 */
import { concat, hex, repeat, utf8 } from "../bytes.ts";
import { type CaseDefinition, type CloseExpectation, expect } from "../case.ts";
import { Opcode } from "../frame.ts";
import { KOSME } from "./utf8-sequences.ts";
import { limit, normalClose } from "./helpers.ts";

/** The harness closes with something invalid: the peer answers 1002 (or 1007), or drops TCP. */
function protocolErrorClose(...codes: number[]): CloseExpectation {
  return { byHarness: true, codes, requireClean: false };
}

function closeCase(id: string, description: string, expectation: string, close: CloseExpectation, run: CaseDefinition["run"], extra: Partial<CaseDefinition> = {}): CaseDefinition {
  return { id, description, expectation, expected: { ok: [] }, close, wrongCodeFails: true, timeoutMs: limit(1000), run, ...extra };
}

const basic: CaseDefinition[] = [
  {
    id: "7.1.1",
    description: "Send a message followed by a close frame",
    expectation: "Echoed message followed by clean close with normal code.",
    expected: { ok: [expect.text("Hello World!")] },
    close: normalClose,
    closeWhenDone: true,
    wrongCodeFails: true,
    timeoutMs: limit(1000),
    async run(ctx) {
      await ctx.send({ opcode: Opcode.Text, payload: "Hello World!" });
      ctx.killAfter(1000);
    },
  },
  closeCase("7.1.2", "Send two close frames", "Clean close with normal code. Second close frame ignored.", normalClose, async (ctx) => {
    await ctx.close(1000);
    await ctx.send({ opcode: Opcode.Close });
    ctx.killAfter(1000);
  }),
  closeCase("7.1.3", "Send a ping after close message", "Clean close with normal code, no pong.", normalClose, async (ctx) => {
    await ctx.close(1000);
    await ctx.send({ opcode: Opcode.Ping });
    ctx.killAfter(1000);
  }),
  closeCase("7.1.4", "Send text message after sending a close frame.", "Clean close with normal code. Text message ignored.", normalClose, async (ctx) => {
    await ctx.close(1000);
    await ctx.send({ opcode: Opcode.Text, payload: "Hello World!" });
    ctx.killAfter(1000);
  }),
  closeCase("7.1.5", "Send message fragment1 followed by close then fragment", "Clean close with normal code.", normalClose, async (ctx) => {
    await ctx.send({ opcode: Opcode.Text, fin: false, payload: "fragment1" });
    await ctx.close(1000);
    await ctx.send({ opcode: Opcode.Continuation, payload: "fragment2" });
    ctx.killAfter(1000);
  }),
  closeCase(
    "7.1.6",
    "Send 256K message followed by close then a ping",
    "Case outcome depends on implementation defined close behavior. Message and close frame are sent back to back. If the close frame is processed before the text message write is complete (as can happen in asynchronous processing models) the close frame is processed first and the text message may not be received or may only be partially received.",
    normalClose,
    async (ctx) => {
      await ctx.send({ opcode: Opcode.Text, payload: "BAsd7&jh23", length: 256 * 1024 });
      await ctx.send({ opcode: Opcode.Text, payload: "Hello World!" });
      await ctx.close(1000);
      await ctx.send({ opcode: Opcode.Ping });
      ctx.killAfter(1000);
    },
    {
      expected: { ok: [expect.text(repeat("BAsd7&jh23", 256 * 1024)), expect.text("Hello World!")], nonStrict: [] },
      informational: true,
    },
  ),
];

const structure: CaseDefinition[] = [
  closeCase("7.3.1", "Send a close frame with payload length 0 (no close code, no close reason)", "Clean close with normal code.", normalClose, async (ctx) => {
    await ctx.close();
    ctx.killAfter(1000);
  }),
  closeCase("7.3.2", "Send a close frame with payload length 1", "Clean close with protocol error or drop TCP.", protocolErrorClose(1002), async (ctx) => {
    await ctx.close(undefined, "a");
    ctx.killAfter(1000);
  }),
  closeCase("7.3.3", "Send a close frame with payload length 2 (regular close with a code)", "Clean close with normal code.", normalClose, async (ctx) => {
    await ctx.close(1000);
    ctx.killAfter(1000);
  }),
  closeCase("7.3.4", "Send a close frame with close code and close reason", "Clean close with normal code.", normalClose, async (ctx) => {
    await ctx.close(1000, "Hello World!");
    ctx.killAfter(1000);
  }),
  closeCase("7.3.5", "Send a close frame with close code and close reason of maximum length (123)", "Clean close with normal code.", normalClose, async (ctx) => {
    await ctx.close(1000, "*".repeat(123));
    ctx.killAfter(1000);
  }),
  closeCase(
    "7.3.6",
    "Send a close frame with close code and close reason which is too long (124) - total frame payload 126 octets",
    "Clean close with protocol error code or dropped TCP connection.",
    protocolErrorClose(1002),
    async (ctx) => {
      await ctx.close(1000, "*".repeat(124));
      ctx.killAfter(1000);
    },
  ),
  closeCase(
    "7.5.1",
    "Send a close frame with invalid UTF8 payload",
    "Clean close with protocol error or invalid utf8 code or dropped TCP.",
    protocolErrorClose(1002, 1007),
    async (ctx) => {
      await ctx.close(1000, concat(KOSME, hex("ed a0 80"), utf8("edited")));
      ctx.killAfter(1000);
    },
  ),
];

const validCodes = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999];
const invalidCodes = [0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999];

const codes: CaseDefinition[] = [
  ...validCodes.map((code, i) =>
    closeCase(
      `7.7.${i + 1}`,
      `Send close with valid close code ${code}`,
      "Clean close with normal or echoed code",
      { byHarness: true, codes: [...new Set([1000, code])], requireClean: true },
      async (ctx) => {
        await ctx.close(code);
        ctx.killAfter(1000);
      },
    ),
  ),
  ...invalidCodes.map((code, i) =>
    closeCase(`7.9.${i + 1}`, `Send close with invalid close code ${code}`, "Clean close with protocol error code or drop TCP", protocolErrorClose(1002), async (ctx) => {
      await ctx.close(code);
      ctx.killAfter(1000);
    }),
  ),
  ...[5000, 65535].map((code, i) =>
    closeCase(
      `7.13.${i + 1}`,
      `Send close with close code ${code}`,
      "Actual events are undefined by the spec.",
      { byHarness: true, codes: [1000, code, 1002], requireClean: false },
      async (ctx) => {
        await ctx.close(code);
        ctx.killAfter(1000);
      },
      { informational: true },
    ),
  ),
];

export const group7: CaseDefinition[] = [...basic, ...structure, ...codes];
