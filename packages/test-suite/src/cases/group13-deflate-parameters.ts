/**
 * 13.x permessage-deflate (RFC 7692) with different parameters: the 18 size/fragmentation
 * combinations of 12.x on the JSON corpus, under seven negotiations (case12_x_x.py
 * `DEFLATE_PARAMS`). Testing a server, the fuzzing client sends the offers below and the server
 * must answer one correctly and keep to it; testing a client, the fuzzing server answers the
 * client's offer as Autobahn's `accept1` … `accept7` do, and the client must keep to that: a
 * 13.3 client compresses within a 256-byte window (client_max_window_bits=8) or not at all, a
 * 13.2 client never refers to an earlier message.
 *
 * | case | client offers (server_no_context_takeover, server_max_window_bits) | server asks (client_no_context_takeover, client_max_window_bits) |
 * | ---- | ---- | ---- |
 * | 13.1 | (no, -) | (no, -) |
 * | 13.2 | (yes, -) | (yes, -) |
 * | 13.3 | (no, 8) | (no, 8) |
 * | 13.4 | (no, 15) | (no, 15) |
 * | 13.5 | (yes, 8) | (yes, 8) |
 * | 13.6 | (yes, 15) | (yes, 15) |
 * | 13.7 | (yes, 8), (yes, -), (no, -) | (yes, 8), else (yes, -), else (no, -) |
 *
 * Every offer also carries `client_no_context_takeover; client_max_window_bits`, as Autobahn's
 * do. Autobahn uses 8 bits, which zlib cannot compress with; see `src/deflate.ts`.
 *
 * @module
 */
import type { CaseDefinition } from "../case.ts";
import type { DeflateCase } from "../deflate.ts";
import { CORPORA } from "./group12-corpora.ts";
import { autobahnAnswer, autobahnOffer, deflateCases } from "./group12-permessage-deflate.ts";

const params = (list: ReadonlyArray<readonly [boolean, number]>): string => `[${list.map(([a, b]) => `(${a ? "True" : "False"}, ${b})`).join(", ")}]`;

function negotiation(offers: ReadonlyArray<readonly [boolean, number]>, answers: ReadonlyArray<readonly [boolean, number]>): { deflate: DeflateCase; text: string } {
  return {
    deflate: {
      offers: offers.map(([noContextTakeover, windowBits]) => autobahnOffer(noContextTakeover, windowBits)),
      answer: (received) => {
        for (const [noContextTakeover, windowBits] of answers) {
          const answer = autobahnAnswer(received, noContextTakeover, windowBits);
          if (answer !== undefined) return answer;
        }
        return undefined;
      },
    },
    text:
      `permessage-deflate client offers (requestNoContextTakeover, requestMaxWindowBits): ${params(offers)} / ` +
      `server accept (requestNoContextTakeover, requestMaxWindowBits): ${params(answers)}`,
  };
}

const NEGOTIATIONS = [
  negotiation([[false, 0]], [[false, 0]]),
  negotiation([[true, 0]], [[true, 0]]),
  negotiation([[false, 8]], [[false, 8]]),
  negotiation([[false, 15]], [[false, 15]]),
  negotiation([[true, 8]], [[true, 8]]),
  negotiation([[true, 15]], [[true, 15]]),
  negotiation(
    [[true, 8], [true, 0], [false, 0]],
    [[true, 8], [true, 0], [false, 0]],
  ),
];

/** 13.x cases; `full` picks Autobahn's counts and every size over the faster default. */
export function group13(full: boolean): CaseDefinition[] {
  const json = CORPORA[0]!;
  return NEGOTIATIONS.flatMap(({ deflate, text }, i) => deflateCases({ group: 13, sub: i + 1, corpus: json, deflate, negotiation: text, full }));
}
