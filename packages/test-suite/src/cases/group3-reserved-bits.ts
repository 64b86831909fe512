/**
 * 3.x Reserved bits: with no extension agreed, any RSV bit set fails the connection with 1002
 * (RFC 6455 §5.2). Where a valid message comes first, it must be echoed before the failure, and
 * a Ping sent after the bad frame must never be answered (fail fast).
 *
 * @module
 */
import { hex } from "../bytes.ts";
import { type CaseDefinition, expect, type FrameSpec } from "../case.ts";
import { Opcode } from "../frame.ts";
import { failWith, limit } from "./helpers.ts";

const hello = "Hello, world!";
const failFastExpectation =
  "Echo for first message is received, but then connection is failed immediately, since RSV must be 0, when no extension defining RSV meaning has been negotiated. The Pong is not received.";

/** A valid text message, the same with RSV bits set, then a Ping, each written as `write` says. */
function afterValidMessage(id: string, rsv: number, description: string, write: Pick<FrameSpec, "chop" | "sync">): CaseDefinition {
  return {
    id,
    description,
    expectation: failFastExpectation,
    expected: { ok: [expect.text(hello)], nonStrict: [] },
    close: failWith(1002),
    timeoutMs: limit(1000),
    async run(ctx) {
      await ctx.send({ opcode: Opcode.Text, payload: hello, ...write });
      await ctx.send({ opcode: Opcode.Text, payload: hello, rsv, ...write });
      await ctx.send({ opcode: Opcode.Ping, ...write });
      ctx.killAfter(1000);
    },
  };
}

function single(id: string, description: string, frame: FrameSpec, expectation = "The connection is failed immediately, since RSV must be 0."): CaseDefinition {
  return {
    id,
    description,
    expectation,
    expected: { ok: [] },
    close: failWith(1002),
    timeoutMs: limit(1000),
    async run(ctx) {
      await ctx.send(frame);
      ctx.killAfter(1000);
    },
  };
}

export const group3: CaseDefinition[] = [
  single(
    "3.1",
    "Send small text message with RSV = 1.",
    { opcode: Opcode.Text, payload: hello, rsv: 1 },
    "The connection is failed immediately (1002/protocol error), since RSV must be 0, when no extension defining RSV meaning has been negotiated.",
  ),
  afterValidMessage("3.2", 2, "Send small text message, then send again with RSV = 2, then send Ping.", {}),
  afterValidMessage(
    "3.3",
    3,
    "Send small text message, then send again with RSV = 3, then send Ping. Octets are sent in frame-wise chops.",
    { sync: true },
  ),
  afterValidMessage(
    "3.4",
    4,
    "Send small text message, then send again with RSV = 4, then send Ping. Octets are sent in octet-wise chops.",
    { chop: 1 },
  ),
  single("3.5", "Send small binary message with RSV = 5.", { opcode: Opcode.Binary, payload: hex("00 ff fe fd fc fb 00 ff"), rsv: 5 }),
  // Autobahn's 3.6 writes this frame with the binary opcode despite its description; the bytes
  // on the wire are kept identical so results carry over.
  single("3.6", "Send Ping with RSV = 6.", { opcode: Opcode.Binary, payload: hello, rsv: 6 }),
  single("3.7", "Send Close with RSV = 7.", { opcode: Opcode.Close, rsv: 7 }),
];
