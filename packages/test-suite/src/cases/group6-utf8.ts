/**
 * 6.x UTF-8 handling (RFC 6455 §5.6, §8.1): text must be valid UTF-8, checked across frame
 * boundaries, and a message that cannot become valid fails the connection with 1007. The 6.4
 * cases check fail-fast: the invalid bytes arrive after a 1 s pause, in the 2nd fragment (6.4.1,
 * 6.4.2) or in the 2nd TCP chop of a single frame (6.4.3, 6.4.4); failing only once the message
 * is complete is NON-STRICT.
 *
 * @module
 */
import { concat, hex, toHex, utf8 } from "../bytes.ts";
import { type CaseDefinition, expect } from "../case.ts";
import { Opcode } from "../frame.ts";
import { failWith, limit, normalClose } from "./helpers.ts";
import { KOSME, utf8Subgroups } from "./utf8-sequences.ts";

function echoText(id: string, description: string, expectation: string, payload: Uint8Array, run: CaseDefinition["run"], closeMs = 1000): CaseDefinition {
  return {
    id,
    description,
    expectation,
    expected: { ok: [expect.text(payload)] },
    close: normalClose,
    closeWhenDone: true,
    timeoutMs: limit(closeMs),
    run,
  };
}

function failText(id: string, description: string, expectation: string, run: CaseDefinition["run"], ms = 1000): CaseDefinition {
  return { id, description, expectation, expected: { ok: [] }, close: failWith(1007), timeoutMs: limit(ms), run };
}

const helloUtf8 = utf8("Hello-µ@ßöäüàá-UTF-8!!");
const invalidSurrogate = concat(KOSME, hex("ed a0 80"), utf8("edited"));

const basic: CaseDefinition[] = [
  echoText("6.1.1", "Send text message of length 0.", "A message is echo'ed back to us (with empty payload).", new Uint8Array(0), async (ctx) => {
    await ctx.send({ opcode: Opcode.Text });
    ctx.closeAfter(1000);
  }),
  echoText("6.1.2", "Send fragmented text message, 3 fragments each of length 0.", "A message is echo'ed back to us (with empty payload).", new Uint8Array(0), async (ctx) => {
    await ctx.send({ opcode: Opcode.Text, fin: false });
    await ctx.send({ opcode: Opcode.Continuation, fin: false });
    await ctx.send({ opcode: Opcode.Continuation });
    ctx.closeAfter(1000);
  }),
  echoText(
    "6.1.3",
    "Send fragmented text message, 3 fragments, first and last of length 0, middle non-empty.",
    "A message is echo'ed back to us (with payload = payload of middle fragment).",
    utf8("middle frame payload"),
    async (ctx) => {
      await ctx.send({ opcode: Opcode.Text, fin: false });
      await ctx.send({ opcode: Opcode.Continuation, fin: false, payload: "middle frame payload" });
      await ctx.send({ opcode: Opcode.Continuation });
      ctx.closeAfter(1000);
    },
  ),
  echoText("6.2.1", `Send a valid UTF-8 text message in one fragment. MESSAGE: 0x${toHex(helloUtf8)}`, "The message is echo'ed back to us.", helloUtf8, async (ctx) => {
    await ctx.sendMessage(helloUtf8);
    ctx.closeAfter(1000);
  }),
  echoText(
    "6.2.2",
    "Send a valid UTF-8 text message in two fragments, fragmented on UTF-8 code point boundary.",
    "The message is echo'ed back to us.",
    helloUtf8,
    async (ctx) => {
      await ctx.send({ opcode: Opcode.Text, fin: false, payload: "Hello-µ@ßöä" });
      await ctx.send({ opcode: Opcode.Continuation, payload: "üàá-UTF-8!!" });
      ctx.closeAfter(1000);
    },
  ),
  echoText(
    "6.2.3",
    "Send a valid UTF-8 text message in fragments of 1 octet, resulting in frames ending on positions which are not code point ends.",
    "The message is echo'ed back to us.",
    helloUtf8,
    async (ctx) => {
      await ctx.sendMessage(helloUtf8, { fragmentSize: 1 });
      ctx.closeAfter(1000);
    },
  ),
  echoText(
    "6.2.4",
    `Send a valid UTF-8 text message in fragments of 1 octet, resulting in frames ending on positions which are not code point ends. MESSAGE: 0x${toHex(KOSME)}`,
    "The message is echo'ed back to us.",
    KOSME,
    async (ctx) => {
      await ctx.sendMessage(KOSME, { fragmentSize: 1 });
      ctx.closeAfter(1000);
    },
  ),
  failText(
    "6.3.1",
    `Send invalid UTF-8 text message unfragmented. MESSAGE: 0x${toHex(invalidSurrogate)}`,
    "The connection is failed immediately, since the payload is not valid UTF-8.",
    async (ctx) => {
      await ctx.sendMessage(invalidSurrogate);
      ctx.killAfter(1000);
    },
  ),
  failText(
    "6.3.2",
    `Send invalid UTF-8 text message in fragments of 1 octet, resulting in frames ending on positions which are not code point ends. MESSAGE: 0x${toHex(invalidSurrogate)}`,
    "The connection is failed immediately, since the payload is not valid UTF-8.",
    async (ctx) => {
      await ctx.sendMessage(invalidSurrogate, { fragmentSize: 1 });
      ctx.killAfter(1000);
    },
  ),
];

// 6.4: PART2 encodes 0x110000 (out of range), invalid exactly at its 2nd byte, 0x90.
const ffPart1 = KOSME;
const ffPart2 = hex("f4 90 80 80");
const ffPart3 = utf8("edited");
const ffPayload = concat(ffPart1, ffPart2, ffPart3);

/** The three parts of a 6.4 case: frames (6.4.1/2) or TCP chops of one frame (6.4.3/4). */
function failFast(id: string, description: string, cut: [number, number], chops: boolean): CaseDefinition {
  const parts = [ffPayload.subarray(0, cut[0]), ffPayload.subarray(cut[0], cut[1]), ffPayload.subarray(cut[1])] as const;
  const what = chops ? "chop" : "frame";
  return {
    id,
    description: `${description} PART1 = 0x${toHex(parts[0])}, PART2 = 0x${toHex(parts[1])}, PART3 = 0x${toHex(parts[2])}.`,
    expectation: `The first ${what} is accepted, we expect to timeout on the first wait. The 2nd ${what} should be rejected immediately (fail fast on UTF-8). If we timeout, we expect the connection is failed at least then, since the complete message payload is not valid UTF-8.`,
    expected: { ok: [expect.pause("A")], nonStrict: [expect.pause("A"), expect.pause("B")] },
    close: failWith(1007),
    timeoutMs: limit(3000),
    async run(ctx) {
      if (chops) {
        const frame = ctx.encode({ opcode: Opcode.Text, payload: ffPayload });
        const header = frame.length - ffPayload.length;
        await ctx.write(frame.subarray(0, header + cut[0]));
        if (!(await ctx.pause(1000, "A"))) return;
        await ctx.write(frame.subarray(header + cut[0], header + cut[1]));
        if (!(await ctx.pause(1000, "B"))) return;
        await ctx.write(frame.subarray(header + cut[1]));
      } else {
        await ctx.send({ opcode: Opcode.Text, fin: false, payload: parts[0] });
        if (!(await ctx.pause(1000, "A"))) return;
        await ctx.send({ opcode: Opcode.Continuation, fin: false, payload: parts[1] });
        if (!(await ctx.pause(1000, "B"))) return;
        await ctx.send({ opcode: Opcode.Continuation, payload: parts[2] });
      }
      ctx.killAfter(1000);
    },
  };
}

const failFastCases: CaseDefinition[] = [
  failFast(
    "6.4.1",
    "Send invalid UTF-8 text message in 3 fragments (frames). First frame payload is valid, then wait, then 2nd frame which contains the payload making the sequence invalid, then wait, then 3rd frame with rest. Note that PART1 and PART3 are valid UTF-8 in themselves, PART2 is a 0x110000 encoded as in the UTF-8 integer encoding scheme, but the codepoint is invalid (out of range).",
    [11, 15],
    false,
  ),
  failFast("6.4.2", "Same as Case 6.4.1, but in 2nd frame, we send only up to and including the octet making the complete payload invalid.", [12, 13], false),
  failFast("6.4.3", "Same as Case 6.4.1, but we send message not in 3 frames, but in 3 chops of the same message frame.", [11, 15], true),
  failFast("6.4.4", "Same as Case 6.4.2, but we send message not in 3 frames, but in 3 chops of the same message frame.", [12, 13], true),
];

const stressCases: CaseDefinition[] = utf8Subgroups.flatMap((subgroup, i) =>
  subgroup.payloads.map(({ valid, bytes }, j): CaseDefinition => {
    const id = `6.${i + 5}.${j + 1}`;
    const run: CaseDefinition["run"] = async (ctx) => {
      await ctx.sendMessage(bytes);
      ctx.killAfter(500);
    };
    return valid
      ? echoText(id, `Send a text message with payload which is valid UTF-8 in one fragment. Payload: 0x${toHex(bytes)}`, "The message is echo'ed back to us.", bytes, run, 500)
      : failText(id, `Send a text message with payload which is not valid UTF-8 in one fragment. Payload: 0x${toHex(bytes)}`, "The connection is failed immediately, since the payload is not valid UTF-8.", run, 500);
  }),
);

/** Titles of the 6.5-6.23 subgroups, for reports. */
export const group6Subgroups: ReadonlyMap<string, string> = new Map(utf8Subgroups.map((s, i) => [`6.${i + 5}`, s.title]));

export const group6: CaseDefinition[] = [...basic, ...failFastCases, ...stressCases];
