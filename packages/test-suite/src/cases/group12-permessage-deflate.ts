/**
 * 12.x permessage-deflate (RFC 7692) with different payloads: the default offer, then messages
 * of a corpus (12.1 JSON, 12.2 BMP, 12.3 German text, 12.4 HTML, 12.5 PDF; see
 * `group12-corpora.ts`) sent one after another, each echo checked by SHA-1 before the next is
 * sent, in 18 size/fragmentation combinations. Every message the harness sends is compressed
 * (RSV1 on its first frame, the compressed bytes split into frames of the case's fragment size);
 * the peer's compressed messages are inflated within the agreed window and context takeover
 * (`src/deflate.ts`, `src/session.ts`). Not negotiated, a case is UNIMPLEMENTED.
 *
 * The default (CI) form sends fewer messages and skips some sizes; `full: true` has Autobahn's
 * 1000 messages of every size and its timeouts.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { equalBytes } from "../bytes.ts";
import { type CaseDefinition, expect, type PeerEvent } from "../case.ts";
import type { DeflateCase, DeflateOffer } from "../deflate.ts";
import { CORPORA, type Corpus, corpusMessage } from "./group12-corpora.ts";
import { limit, normalClose } from "./helpers.ts";

/** One size/fragmentation combination: Autobahn's `MSG_SIZES` entry. */
interface MessageSize {
  /** Payload length: code points of a text corpus, bytes of a binary one. */
  readonly length: number;
  readonly count: number;
  readonly timeoutSeconds: number;
  /** Frame size of the compressed payload; 0 sends each message as one frame. */
  readonly fragmentSize: number;
}

/** Autobahn's 18 combinations (case12_x_x.py `MSG_SIZES`), in order. */
export const MESSAGE_SIZES: readonly MessageSize[] = [
  [16, 60, 0],
  [64, 60, 0],
  [256, 120, 0],
  [1024, 240, 0],
  [4096, 480, 0],
  [8192, 480, 0],
  [16384, 480, 0],
  [32768, 480, 0],
  [65536, 480, 0],
  [131072, 480, 0],
  [8192, 480, 256],
  [16384, 480, 256],
  [32768, 480, 256],
  [65536, 480, 256],
  [131072, 480, 256],
  [131072, 480, 1024],
  [131072, 480, 4096],
  [131072, 480, 32768],
].map(([length, timeoutSeconds, fragmentSize]) => ({ length: length!, count: 1000, timeoutSeconds: timeoutSeconds!, fragmentSize: fragmentSize! }));

/**
 * The default (CI) form: the combinations kept (1-based, as in the case ids) and the messages
 * sent per case. Every fragment size stays; of the unfragmented sizes, the small ones and the
 * largest; enough messages for context takeover and window limits to show.
 */
const DEFAULT_FORM = { sizes: new Set([1, 2, 3, 4, 5, 7, 10, 11, 13, 15, 16, 17, 18]), smallCount: 30, largeCount: 10, timeoutMs: 20_000 };

/**
 * Autobahn's client offer (autobahn's `PerMessageDeflateOffer`): it accepts both
 * `client_no_context_takeover` and `client_max_window_bits`, and requests server parameters.
 */
export function autobahnOffer(serverNoContextTakeover: boolean, serverMaxWindowBits: number): string {
  return (
    "permessage-deflate; client_no_context_takeover; client_max_window_bits" +
    (serverNoContextTakeover ? "; server_no_context_takeover" : "") +
    (serverMaxWindowBits !== 0 ? `; server_max_window_bits=${serverMaxWindowBits}` : "")
  );
}

/**
 * Autobahn's server answer (`PerMessageDeflateOfferAccept`) to `offer`: it grants what the offer
 * requests and asks the client for `client_no_context_takeover` and a `client_max_window_bits`
 * (0: none). Autobahn reads every offer as accepting `client_no_context_takeover`, and
 * `client_max_window_bits` only where the offer carries it; asking for it otherwise is no answer.
 */
export function autobahnAnswer(
  offers: readonly DeflateOffer[],
  requestNoContextTakeover: boolean,
  requestMaxWindowBits: number,
): { offer: DeflateOffer; response: string } | undefined {
  const offer = offers.find((o) => requestMaxWindowBits === 0 || o.clientMaxWindowBits !== undefined);
  if (offer === undefined) return undefined;
  const response =
    "permessage-deflate" +
    (offer.serverNoContextTakeover ? "; server_no_context_takeover" : "") +
    (offer.serverMaxWindowBits !== undefined ? `; server_max_window_bits=${offer.serverMaxWindowBits}` : "") +
    (requestNoContextTakeover ? "; client_no_context_takeover" : "") +
    (requestMaxWindowBits !== 0 ? `; client_max_window_bits=${requestMaxWindowBits}` : "");
  return { offer, response };
}

/** Autobahn's default offer, accepted as it is (12.x, 13.1). */
export const DEFAULT_DEFLATE: DeflateCase = {
  offers: [autobahnOffer(false, 0)],
  answer: (offers) => autobahnAnswer(offers, false, 0),
};

/** The cases of one corpus and one negotiation: `12.<sub>.*` or `13.<sub>.*`. */
export function deflateCases(options: {
  readonly group: 12 | 13;
  readonly sub: number;
  readonly corpus: Corpus;
  readonly deflate: DeflateCase;
  /** How the description names the negotiation. */
  readonly negotiation: string;
  readonly full: boolean;
}): CaseDefinition[] {
  const { corpus, full } = options;
  const cases: CaseDefinition[] = [];
  MESSAGE_SIZES.forEach((size, i) => {
    if (!full && !DEFAULT_FORM.sizes.has(i + 1)) return;
    const count = full ? size.count : size.length <= 4096 ? DEFAULT_FORM.smallCount : DEFAULT_FORM.largeCount;
    const waitMs = full ? size.timeoutSeconds * 1000 : DEFAULT_FORM.timeoutMs;
    const message = (n: number): Uint8Array => corpusMessage(corpus, size.length, n);
    let expected: { ok: PeerEvent[] } | undefined;
    cases.push({
      id: `${options.group}.${options.sub}.${i + 1}`,
      description:
        `Send ${count} compressed messages each of payload size ${size.length}, auto-fragment to ${size.fragmentSize} octets. ` +
        `Use ${options.negotiation}. Payload: ${corpus.description}.` +
        (full ? "" : ` (Default form: ${count} messages; the full form has Autobahn's 1000.)`),
      expectation: `Receive echo'ed messages (with payload as sent; compared by SHA-1). Timeout case after ${waitMs / 1000} secs.`,
      deflate: options.deflate,
      digestMessages: true,
      // Built when first judged: the full form's 1000 digests of up to 128 KiB each.
      get expected() {
        return (expected ??= { ok: Array.from({ length: count }, (_, n) => digestEvent(message(n), corpus.binary)) });
      },
      close: normalClose,
      timeoutMs: limit(waitMs),
      async run(ctx) {
        if (ctx.deflate === undefined) {
          await ctx.close(1000);
          return;
        }
        ctx.closeAfter(waitMs);
        for (let n = 0; n < count; n++) {
          const payload = message(n);
          await ctx.sendMessage(payload, { binary: corpus.binary, ...(size.fragmentSize > 0 ? { fragmentSize: size.fragmentSize } : {}) });
          const echo = await ctx.nextMessage();
          if (echo === undefined) return;
          if (echo.binary !== corpus.binary || !equalBytes(echo.payload, payload)) break;
        }
        await ctx.close(1000);
      },
    });
  });
  return cases;
}

function digestEvent(payload: Uint8Array, binary: boolean): PeerEvent {
  const digest = new Uint8Array(createHash("sha1").update(payload).digest());
  return binary ? expect.binary(digest) : expect.text(digest);
}

/** 12.x cases; `full` picks Autobahn's counts and every size over the faster default. */
export function group12(full: boolean): CaseDefinition[] {
  return CORPORA.flatMap((corpus, i) =>
    deflateCases({ group: 12, sub: i + 1, corpus, deflate: DEFAULT_DEFLATE, negotiation: "default permessage-deflate offer", full }),
  );
}
