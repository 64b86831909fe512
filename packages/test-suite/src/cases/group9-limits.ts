/**
 * 9.x Limits and performance: single messages up to 16 MiB (9.1, 9.2), a 4 MiB message in
 * fragments of 64 B ... 4 MiB (9.3, 9.4), a 1 MiB message in TCP chops of 64 ... 2048 bytes
 * (9.5, 9.6), and 1000 sequential round trips of 0 ... 4096 bytes (9.7, 9.8). Every echo is
 * checked byte for byte (Autobahn only checks lengths) and the duration is reported.
 *
 * The default (CI) form is smaller where the full one is slow: 9.3/9.4 use a 1 MiB message and
 * 9.7/9.8 100 round trips; the full form (`full: true`) has Autobahn's sizes and counts.
 *
 * @module
 */
import { hex, repeat } from "../bytes.ts";
import { type CaseDefinition, expect } from "../case.ts";
import { Opcode } from "../frame.ts";
import { KiB, limit, MiB, normalClose } from "./helpers.ts";

const textPattern = "BAsd7&jh23";
const binaryPattern = hex("00 fe 23 fa f0");

function sizeName(bytes: number): string {
  return bytes >= MiB ? `${bytes / MiB}M` : bytes >= KiB ? `${bytes / KiB}k` : `${bytes}`;
}

function echoCase(id: string, description: string, payload: Uint8Array, binary: boolean, waitMs: number, send: CaseDefinition["run"]): CaseDefinition {
  const kind = binary ? "binary" : "text";
  return {
    id,
    description,
    expectation: `Receive echo'ed ${kind} message (with payload as sent).`,
    expected: { ok: [binary ? expect.binary(payload) : expect.text(payload)] },
    close: normalClose,
    closeWhenDone: true,
    timeoutMs: limit(waitMs),
    async run(ctx) {
      await send(ctx);
      ctx.closeAfter(waitMs);
    },
  };
}

/** 9.x cases; `full` picks Autobahn's sizes and counts over the faster default. */
export function group9(full: boolean): CaseDefinition[] {
  const cases: CaseDefinition[] = [];
  const sizes = [64 * KiB, 256 * KiB, MiB, 4 * MiB, 8 * MiB, 16 * MiB];
  for (const [sub, binary] of [[1, false], [2, true]] as const) {
    sizes.forEach((size, i) => {
      const payload = repeat(binary ? binaryPattern : textPattern, size);
      const kind = binary ? "binary" : "text";
      cases.push(
        echoCase(`9.${sub}.${i + 1}`, `Send ${kind} message message with payload of length ${sizeName(size)}.`, payload, binary, size <= 256 * KiB ? 10_000 : 100_000, (ctx) =>
          ctx.send({ opcode: binary ? Opcode.Binary : Opcode.Text, payload }),
        ),
      );
    });
  }
  const fragmentedSize = full ? 4 * MiB : MiB;
  const fragmentSizes = [64, 256, KiB, 4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, MiB, 4 * MiB];
  for (const [sub, binary] of [[3, false], [4, true]] as const) {
    const payload = repeat(binary ? hex("fe") : "*", fragmentedSize);
    const kind = binary ? "binary" : "text";
    fragmentSizes.forEach((fragmentSize, i) => {
      cases.push(
        echoCase(
          `9.${sub}.${i + 1}`,
          `Send fragmented ${kind} message message with message payload of length ${sizeName(fragmentedSize)}. Sent out in fragments of ${sizeName(fragmentSize)}.` +
            (full ? "" : " (Default form: 1M instead of 4M; the full form has Autobahn's 4M.)"),
          payload,
          binary,
          100_000,
          (ctx) => ctx.sendMessage(payload, { binary, fragmentSize }),
        ),
      );
    });
  }
  const chops = [64, 128, 256, 512, 1024, 2048];
  for (const [sub, binary] of [[5, false], [6, true]] as const) {
    const payload = repeat(binary ? binaryPattern : textPattern, MiB);
    const kind = binary ? "binary" : "text";
    chops.forEach((chop, i) => {
      cases.push(
        echoCase(`9.${sub}.${i + 1}`, `Send ${kind} message message with payload of length 1M. Sent out data in chops of ${chop} octets.`, payload, binary, 100_000, (ctx) =>
          ctx.send({ opcode: binary ? Opcode.Binary : Opcode.Text, payload, chop }),
        ),
      );
    });
  }
  const roundTrips: Array<[number, number]> = [[0, 60_000], [16, 60_000], [64, 60_000], [256, 120_000], [1024, 240_000], [4096, 480_000]];
  const count = full ? 1000 : 100;
  for (const [sub, binary] of [[7, false], [8, true]] as const) {
    const kind = binary ? "binary" : "text";
    roundTrips.forEach(([length, waitMs], i) => {
      const payload = repeat(binary ? hex("fe") : "*", length);
      const event = binary ? expect.binary(payload) : expect.text(payload);
      cases.push({
        id: `9.${sub}.${i + 1}`,
        description:
          `Send ${count} ${kind} messages of payload size ${length} to measure implementation/network RTT (round trip time) / latency.` +
          (full ? "" : " (Default form: 100 round trips; the full form has Autobahn's 1000.)"),
        expectation: `Receive echo'ed ${kind} messages (with payload as sent). Timeout case after ${waitMs / 1000} secs.`,
        expected: { ok: Array.from({ length: count }, () => event) },
        close: normalClose,
        timeoutMs: limit(full ? waitMs : waitMs / 10),
        async run(ctx) {
          ctx.closeAfter(full ? waitMs : waitMs / 10);
          for (let n = 0; n < count; n++) {
            await ctx.send({ opcode: binary ? Opcode.Binary : Opcode.Text, payload });
            const echo = await ctx.nextMessage();
            if (echo === undefined) return;
            if (echo.binary !== binary || echo.payload.length !== length) break;
          }
          await ctx.close(1000);
        },
      });
    });
  }
  return cases;
}
