/**
 * The UTF-8 decoder stress set behind cases 6.5-6.23, in Autobahn's order: Markus Kuhn's
 * UTF-8-test.txt sections plus noncharacters and specials. Each subgroup lists payloads with
 * whether they are valid UTF-8 (RFC 3629). The facts are Autobahn's; the code is ours.
 *
 * @module
 */
import { concat, hex, isValidUtf8, octets } from "../bytes.ts";

/** A subgroup: a title and its payloads, each valid or not. */
export interface Utf8Subgroup {
  readonly title: string;
  readonly payloads: ReadonlyArray<{ readonly valid: boolean; readonly bytes: Uint8Array }>;
}

const valid = (bytes: Uint8Array) => ({ valid: true, bytes });
const invalid = (bytes: Uint8Array) => ({ valid: false, bytes });
const ascii = (s: string) => new TextEncoder().encode(s);

/** "κόσμε" in Greek, with multi-byte code points of lengths 2 and 3. */
export const KOSME = hex("ce ba e1 bd b9 cf 83 ce bc ce b5");

/** Byte runs `from` ... `to - 1`, each followed by a space when `spaced` (Autobahn's xrange). */
function run(from: number, to: number, spaced: boolean): Uint8Array {
  const out: number[] = [];
  for (let b = from; b < to; b++) out.push(...(spaced ? [b, 0x20] : [b]));
  return Uint8Array.from(out);
}

function noncharacters(): Uint8Array[] {
  const out: Uint8Array[] = [hex("ef bf be"), hex("ef bf bf")];
  for (const z1 of [0xf0, 0xf1, 0xf2, 0xf3, 0xf4]) {
    for (const z2 of [0x8f, 0x9f, 0xaf, 0xbf]) {
      if (z1 === 0xf4 && z2 !== 0x8f) continue; // above U+10FFFF
      for (const z3 of [0xbe, 0xbf]) {
        if (z1 === 0xf0 && z2 === 0x8f) continue; // overlong
        out.push(octets(z1, z2, 0xbf, z3));
      }
    }
  }
  return out;
}

const missingLast = ["c0", "e0 80", "f0 80 80", "f8 80 80 80", "fc 80 80 80 80", "df", "ef bf", "f7 bf bf", "fb bf bf bf", "fd bf bf bf bf"].map(hex);

/** Subgroups 6.5 ... 6.23, in order. */
export const utf8Subgroups: readonly Utf8Subgroup[] = [
  {
    title: "Some valid UTF-8 sequences",
    payloads: [
      valid(ascii("hello$world")),
      valid(concat(ascii("hello"), hex("c2 a2"), ascii("world"))),
      valid(concat(ascii("hello"), hex("e2 82 ac"), ascii("world"))),
      valid(concat(ascii("hello"), hex("f0 a4 ad a2"), ascii("world"))),
      valid(KOSME),
    ],
  },
  {
    title: "All prefixes of a valid UTF-8 string that contains multi-byte code points",
    payloads: Array.from({ length: KOSME.length }, (_, i) => {
      const prefix = KOSME.slice(0, i + 1);
      return { valid: isValidUtf8(prefix), bytes: prefix };
    }),
  },
  {
    title: "First possible sequence of a certain length",
    payloads: [valid(hex("00")), valid(hex("c2 80")), valid(hex("e0 a0 80")), valid(hex("f0 90 80 80"))],
  },
  {
    title: "First possible sequence length 5/6 (invalid codepoints)",
    payloads: [invalid(hex("f8 88 80 80 80")), invalid(hex("fc 84 80 80 80 80"))],
  },
  {
    title: "Last possible sequence of a certain length",
    payloads: [valid(hex("7f")), valid(hex("df bf")), valid(hex("ef bf bf")), valid(hex("f4 8f bf bf"))],
  },
  {
    title: "Last possible sequence length 4/5/6 (invalid codepoints)",
    payloads: [invalid(hex("f7 bf bf bf")), invalid(hex("fb bf bf bf bf")), invalid(hex("fd bf bf bf bf bf"))],
  },
  {
    title: "Other boundary conditions",
    payloads: [valid(hex("ed 9f bf")), valid(hex("ee 80 80")), valid(hex("ef bf bd")), valid(hex("f4 8f bf bf")), invalid(hex("f4 90 80 80"))],
  },
  {
    title: "Unexpected continuation bytes",
    payloads: [
      ...["80", "bf", "80 bf", "80 bf 80", "80 bf 80 bf", "80 bf 80 bf 80", "80 bf 80 bf 80 bf"].map((h) => invalid(hex(h))),
      invalid(run(0x80, 0xbf, false)),
    ],
  },
  {
    title: "Lonely start characters",
    payloads: [
      [0xc0, 0xdf],
      [0xe0, 0xef],
      [0xf0, 0xf7],
      [0xf8, 0xfb],
      [0xfc, 0xfd],
    ].map(([from, to]) => invalid(run(from!, to!, true))),
  },
  { title: "Sequences with last continuation byte missing", payloads: missingLast.map(invalid) },
  { title: "Concatenation of incomplete sequences", payloads: [invalid(concat(...missingLast))] },
  { title: "Impossible bytes", payloads: [invalid(hex("fe")), invalid(hex("ff")), invalid(hex("fe fe ff ff"))] },
  {
    title: "Examples of an overlong ASCII character",
    payloads: ["c0 af", "e0 80 af", "f0 80 80 af", "f8 80 80 80 af", "fc 80 80 80 80 af"].map((h) => invalid(hex(h))),
  },
  {
    title: "Maximum overlong sequences",
    payloads: ["c1 bf", "e0 9f bf", "f0 8f bf bf", "f8 87 bf bf bf", "fc 83 bf bf bf bf"].map((h) => invalid(hex(h))),
  },
  {
    title: "Overlong representation of the NUL character",
    payloads: ["c0 80", "e0 80 80", "f0 80 80 80", "f8 80 80 80 80", "fc 80 80 80 80 80"].map((h) => invalid(hex(h))),
  },
  {
    title: "Single UTF-16 surrogates",
    payloads: ["ed a0 80", "ed ad bf", "ed ae 80", "ed af bf", "ed b0 80", "ed be 80", "ed bf bf"].map((h) => invalid(hex(h))),
  },
  {
    title: "Paired UTF-16 surrogates",
    payloads: [
      "ed a0 80 ed b0 80",
      "ed a0 80 ed bf bf",
      "ed ad bf ed b0 80",
      "ed ad bf ed bf bf",
      "ed ae 80 ed b0 80",
      "ed ae 80 ed bf bf",
      "ed af bf ed b0 80",
      "ed af bf ed bf bf",
    ].map((h) => invalid(hex(h))),
  },
  { title: "Non-character code points (valid UTF-8)", payloads: noncharacters().map(valid) },
  {
    title: "Unicode specials (i.e. replacement char)",
    payloads: ["ef bf b9", "ef bf ba", "ef bf bb", "ef bf bc", "ef bf bd", "ef bf be", "ef bf bf"].map((h) => valid(hex(h))),
  },
];
