/**
 * 5.x Fragmentation (RFC 6455 §5.4): control frames may sit between the fragments of a message
 * and are answered at once; control frames themselves are never fragmented; a continuation
 * with nothing to continue, or a new data frame inside a fragmented message, fails the
 * connection with 1002. 5.19/5.20 pause 1 s mid-message: the first Ping must be answered
 * before the message is complete.
 *
 * @module
 */
import { type CaseDefinition, expect, type FrameSpec } from "../case.ts";
import { Opcode } from "../frame.ts";
import { failWith, limit, normalClose } from "./helpers.ts";

type Write = Pick<FrameSpec, "chop" | "sync">;
const oneChop: Write = {};
const frameWise: Write = { sync: true };
const octetWise: Write = { chop: 1 };

function fragmentedControl(id: string, opcode: number, name: string): CaseDefinition {
  return {
    id,
    description: `Send ${name} fragmented into 2 fragments.`,
    expectation: "Connection is failed immediately, since control message MUST NOT be fragmented.",
    expected: { ok: [] },
    close: failWith(1002),
    timeoutMs: limit(1000),
    async run(ctx) {
      await ctx.send({ opcode, fin: false, payload: "fragment1" });
      await ctx.send({ opcode: Opcode.Continuation, payload: "fragment2" });
      ctx.killAfter(1000);
    },
  };
}

function twoFragments(id: string, how: string, write: Write): CaseDefinition {
  return {
    id,
    description: `Send text Message fragmented into 2 fragments${how}.`,
    expectation: "Message is processed and echo'ed back to us.",
    expected: { ok: [expect.text("fragment1fragment2")] },
    close: normalClose,
    closeWhenDone: true,
    timeoutMs: limit(1000),
    async run(ctx) {
      await ctx.send({ opcode: Opcode.Text, fin: false, payload: "fragment1", ...write });
      await ctx.send({ opcode: Opcode.Continuation, payload: "fragment2", ...write });
      ctx.closeAfter(1000);
    },
  };
}

function pingBetween(id: string, how: string, write: Write): CaseDefinition {
  return {
    id,
    description: `Send text Message fragmented into 2 fragments, one ping with payload in-between.${how}`,
    expectation: "A pong is received, then the message is echo'ed back to us.",
    expected: { ok: [expect.pong("ping payload"), expect.text("fragment1fragment2")] },
    close: normalClose,
    closeWhenDone: true,
    timeoutMs: limit(1000),
    async run(ctx) {
      await ctx.send({ opcode: Opcode.Text, fin: false, payload: "fragment1", ...write });
      await ctx.send({ opcode: Opcode.Ping, payload: "ping payload", ...write });
      await ctx.send({ opcode: Opcode.Continuation, payload: "fragment2", ...write });
      ctx.closeAfter(1000);
    },
  };
}

function nothingToContinue(id: string, fin: boolean, how: string, write: Write): CaseDefinition {
  return {
    id,
    description: `Send unfragmented Text Message after Continuation Frame with FIN = ${fin}, where there is nothing to continue, sent in ${how}.`,
    expectation: "The connection is failed immediately, since there is no message to continue.",
    expected: { ok: [] },
    close: failWith(1002),
    timeoutMs: limit(1000),
    async run(ctx) {
      await ctx.send({ opcode: Opcode.Continuation, fin, payload: "non-continuation payload", ...write });
      await ctx.send({ opcode: Opcode.Text, payload: "Hello, world!", ...write });
      ctx.killAfter(1000);
    },
  };
}

function repeatedNothingToContinue(id: string, fin: boolean): CaseDefinition {
  return {
    id,
    description: `Repeated 2x: Continuation Frame with FIN = ${fin} (where there is nothing to continue), then text Message fragmented into 2 fragments.`,
    expectation: "The connection is failed immediately, since there is no message to continue.",
    expected: { ok: [] },
    close: failWith(1002),
    timeoutMs: limit(1000),
    async run(ctx) {
      for (let i = 0; i < 2; i++) {
        await ctx.send({ opcode: Opcode.Continuation, fin, payload: "fragment1" });
        await ctx.send({ opcode: Opcode.Text, fin: false, payload: "fragment2" });
        await ctx.send({ opcode: Opcode.Continuation, payload: "fragment3" });
      }
      ctx.killAfter(1000);
    },
  };
}

function pausedWithPings(id: string, sync: boolean): CaseDefinition {
  const fragments = ["fragment1", "fragment2", "fragment3", "fragment4", "fragment5"] as const;
  const pings = ["pongme 1!", "pongme 2!"] as const;
  return {
    id,
    description: sync
      ? "Same as Case 5.19, but send all frames with SYNC = True. Note, this does not change the octets sent in any way, only how the stream is chopped up on the wire."
      : "A fragmented text message is sent in multiple frames. After sending the first 2 frames of the text message, a Ping is sent. Then we wait 1s, then we send 2 more text fragments, another Ping and then the final text fragment. Everything is legal.",
    expectation: sync
      ? "Same as Case 5.19. Implementations must be agnostic to how octet stream is chopped up on wire (must be TCP clean)."
      : "The peer immediately answers the first Ping before it has received the last text message fragment. The peer pong's back the Ping's payload exactly, and echo's the payload of the fragmented message back to us.",
    // The first Pong must arrive during the pause, before the pause event is recorded.
    expected: { ok: [expect.pong(pings[0]), expect.pause("A"), expect.pong(pings[1]), expect.text(fragments.join(""))] },
    close: normalClose,
    closeWhenDone: true,
    timeoutMs: limit(2000),
    async run(ctx) {
      const write = sync ? { sync: true } : {};
      await ctx.send({ opcode: Opcode.Text, fin: false, payload: fragments[0], ...write });
      await ctx.send({ opcode: Opcode.Continuation, fin: false, payload: fragments[1], ...write });
      await ctx.send({ opcode: Opcode.Ping, payload: pings[0], ...write });
      if (!(await ctx.pause(1000, "A"))) return;
      await ctx.send({ opcode: Opcode.Continuation, fin: false, payload: fragments[2], ...write });
      await ctx.send({ opcode: Opcode.Continuation, fin: false, payload: fragments[3], ...write });
      await ctx.send({ opcode: Opcode.Ping, payload: pings[1], ...write });
      await ctx.send({ opcode: Opcode.Continuation, payload: fragments[4], ...write });
      ctx.closeAfter(1000);
    },
  };
}

export const group5: CaseDefinition[] = [
  fragmentedControl("5.1", Opcode.Ping, "Ping"),
  fragmentedControl("5.2", Opcode.Pong, "Pong"),
  twoFragments("5.3", "", oneChop),
  twoFragments("5.4", ", octets are sent in frame-wise chops", frameWise),
  twoFragments("5.5", ", octets are sent in octet-wise chops", octetWise),
  pingBetween("5.6", "", oneChop),
  pingBetween("5.7", " Octets are sent in frame-wise chops.", frameWise),
  pingBetween("5.8", " Octets are sent in octet-wise chops.", octetWise),
  nothingToContinue("5.9", true, "one chop", oneChop),
  nothingToContinue("5.10", true, "per-frame chops", frameWise),
  nothingToContinue("5.11", true, "octet-wise chops", octetWise),
  nothingToContinue("5.12", false, "one chop", oneChop),
  nothingToContinue("5.13", false, "per-frame chops", frameWise),
  nothingToContinue("5.14", false, "octet-wise chops", octetWise),
  {
    id: "5.15",
    description:
      "Send text Message fragmented into 2 fragments, then Continuation Frame with FIN = false where there is nothing to continue, then unfragmented Text Message, all sent in one chop.",
    expectation: "The connection is failed immediately, since there is no message to continue.",
    expected: { ok: [expect.text("fragment1fragment2")], nonStrict: [] },
    close: failWith(1002),
    timeoutMs: limit(1000),
    async run(ctx) {
      await ctx.send({ opcode: Opcode.Text, fin: false, payload: "fragment1" });
      await ctx.send({ opcode: Opcode.Continuation, payload: "fragment2" });
      await ctx.send({ opcode: Opcode.Continuation, fin: false, payload: "fragment3" });
      await ctx.send({ opcode: Opcode.Text, payload: "fragment4" });
      ctx.killAfter(1000);
    },
  },
  repeatedNothingToContinue("5.16", false),
  repeatedNothingToContinue("5.17", true),
  {
    id: "5.18",
    description: "Send text Message fragmented into 2 fragments, with both frame opcodes set to text, sent in one chop.",
    expectation: "The connection is failed immediately, since all data frames after the initial data frame must have opcode 0.",
    expected: { ok: [] },
    close: failWith(1002),
    timeoutMs: limit(1000),
    async run(ctx) {
      await ctx.send({ opcode: Opcode.Text, fin: false, payload: "fragment1" });
      await ctx.send({ opcode: Opcode.Text, payload: "fragment2" });
      ctx.killAfter(1000);
    },
  },
  pausedWithPings("5.19", false),
  pausedWithPings("5.20", true),
];
