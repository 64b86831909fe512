/**
 * 4.x Opcodes: reserved non-control (3-7, 4.1) and control (11-15, 4.2) opcodes fail the
 * connection with 1002 (RFC 6455 §5.2). As in 3.x, a valid message before the bad frame is
 * echoed and a Ping after it is never answered.
 *
 * @module
 */
import { type CaseDefinition, expect, type FrameSpec } from "../case.ts";
import { Opcode } from "../frame.ts";
import { failWith, limit } from "./helpers.ts";

const hello = "Hello, world!";

function opcodeCases(sub: 1 | 2, first: number): CaseDefinition[] {
  const kind = sub === 1 ? "non-control" : "control";
  const alone = (index: number, opcode: number, payload: string | undefined): CaseDefinition => ({
    id: `4.${sub}.${index}`,
    description: `Send frame with reserved ${kind} Opcode = ${opcode}${payload === undefined ? "" : " and non-empty payload"}.`,
    expectation: "The connection is failed immediately.",
    expected: { ok: [] },
    close: failWith(1002),
    timeoutMs: limit(1000),
    async run(ctx) {
      await ctx.send({ opcode, ...(payload === undefined ? {} : { payload }) });
      ctx.killAfter(1000);
    },
  });
  const between = (index: number, opcode: number, payload: string | undefined, write: Pick<FrameSpec, "chop">): CaseDefinition => ({
    id: `4.${sub}.${index}`,
    description:
      `Send small text message, then send frame with reserved ${kind} Opcode = ${opcode}` +
      `${payload === undefined ? "" : " and non-empty payload"}, then send Ping.` +
      `${write.chop === undefined ? "" : " Octets are sent in octet-wise chops."}`,
    expectation:
      "Echo for first message is received, but then connection is failed immediately, since reserved opcode frame is used. A Pong is not received.",
    expected: { ok: [expect.text(hello)], nonStrict: [] },
    close: failWith(1002),
    timeoutMs: limit(1000),
    async run(ctx) {
      await ctx.send({ opcode: Opcode.Text, payload: hello, ...write });
      await ctx.send({ opcode, ...(payload === undefined ? {} : { payload }), ...write });
      await ctx.send({ opcode: Opcode.Ping, ...write });
      ctx.killAfter(1000);
    },
  });
  return [
    alone(1, first, undefined),
    alone(2, first + 1, "reserved opcode payload"),
    between(3, first + 2, undefined, {}),
    between(4, first + 3, hello, {}),
    between(5, first + 4, hello, { chop: 1 }),
  ];
}

export const group4: CaseDefinition[] = [...opcodeCases(1, 3), ...opcodeCases(2, 11)];
