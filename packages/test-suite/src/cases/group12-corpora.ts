/**
 * The payloads of the permessage-deflate cases. Autobahn sends slices of five files it ships (a
 * JSON file, Lena as a 512×512 8-bit BMP, Goethe's Faust I from Project Gutenberg, an HTML file,
 * a PDF paper); we cannot ship those, so each is a deterministic stand-in of the same kind,
 * generated here from a seeded pseudo-random generator: the same bytes on every run and machine.
 *
 * - JSON: records as JSON generators write them (ids, names, addresses, floats, tags, nested
 *   friends), pretty-printed, with some non-ASCII text (text messages).
 * - BMP: a 512×512 8-bit grey BMP with palette (263 222 bytes, like lena512.bmp): smooth
 *   gradients, shaded discs and a little noise, so it compresses about as badly as a photo.
 * - German text: lines of verse and stage directions built from German words with umlauts and ß
 *   (sent as binary, as Autobahn sends Faust).
 * - HTML: a generated page of nested sections, tables, lists and links (text messages).
 * - PDF: a PDF-shaped file whose streams are pseudo-random bytes, as compressed streams are,
 *   between plain-text object dictionaries: mostly incompressible (binary).
 *
 * Text corpora use only BMP characters, so a JavaScript string index is a code point: a text
 * message is `length` code points (as Autobahn slices decoded text), its UTF-8 a little longer.
 *
 * @module
 */
import { utf8 } from "../bytes.ts";

/** A corpus: how the cases describe it, and its bytes or text. */
export interface Corpus {
  readonly key: string;
  /** Autobahn's description, with ours. */
  readonly description: string;
  /** Text (sliced by code points, sent as text messages) or bytes (sliced by bytes, binary). */
  readonly binary: boolean;
  /** The data; built on first use. */
  data(): string | Uint8Array;
}

/**
 * The message a case sends `index`-th: `length` units (code points or bytes) of the corpus from
 * where the previous message ended, wrapping at its end (Autobahn's `sendOne`).
 */
export function corpusMessage(corpus: Corpus, length: number, index: number): Uint8Array {
  const data = corpus.data();
  const size = data.length;
  const from = (index * length) % size;
  const to = (from + length) % size;
  if (typeof data === "string") {
    return utf8(to > from ? data.slice(from, to) : data.slice(from) + data.slice(0, to));
  }
  if (to > from) return data.slice(from, to);
  const out = new Uint8Array(length);
  out.set(data.subarray(from));
  out.set(data.subarray(0, to), size - from);
  return out;
}

/** Mulberry32: a small seeded generator of floats in [0, 1). */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function lazy<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}

const FIRST = ["Anna", "Jürgen", "Zoë", "Mateo", "Chloé", "Lars", "Noémie", "Björn", "Ana", "Seán", "Lukas", "Amélie", "Jonas", "Sofía", "Emil", "Maja"];
const LAST = ["Müller", "Schröder", "García", "Dubois", "Nowak", "Jensen", "Rossi", "Łukasik", "Öztürk", "Smith", "Novák", "Håkansson", "Weiß", "Peña"];
const CITIES = ["Köln", "Zürich", "München", "São Paulo", "Kraków", "Malmö", "Besançon", "Reykjavík", "Düsseldorf", "Córdoba", "Lyon", "Graz"];
const STREETS = ["Hauptstraße", "Rue de la Paix", "Calle Mayor", "Main Street", "Kingsway", "Bahnhofstraße", "Via Roma", "Nørrebrogade"];
const COMPANIES = ["Zentrix", "Quilk", "Boilicon", "Exospeed", "Comtrail", "Geekosis", "Translink", "Portaline", "Zillanet", "Musix"];
const LOREM = (
  "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua " +
  "ut enim ad minim veniam quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat duis aute irure"
).split(" ");
const TAGS = ["deflate", "websocket", "stream", "zlib", "rfc7692", "proxy", "cache", "latency", "€uro", "naïve", "café", "日本"];

function pick<T>(rnd: () => number, list: readonly T[]): T {
  return list[Math.floor(rnd() * list.length)]!;
}

function words(rnd: () => number, count: number, list: readonly string[] = LOREM): string {
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(pick(rnd, list));
  return out.join(" ");
}

function hex(rnd: () => number, digits: number): string {
  let s = "";
  for (let i = 0; i < digits; i++) s += Math.floor(rnd() * 16).toString(16);
  return s;
}

function json(): string {
  const rnd = random(0x12_01);
  const records: string[] = [];
  let length = 0;
  for (let id = 0; length < 320 * 1024; id++) {
    const first = pick(rnd, FIRST);
    const last = pick(rnd, LAST);
    const friends = Array.from({ length: 3 }, (_, i) => `      {\n        "id": ${i},\n        "name": "${pick(rnd, FIRST)} ${pick(rnd, LAST)}"\n      }`);
    const record =
      `  {\n` +
      `    "_id": "${hex(rnd, 24)}",\n` +
      `    "index": ${id},\n` +
      `    "guid": "${hex(rnd, 8)}-${hex(rnd, 4)}-${hex(rnd, 4)}-${hex(rnd, 4)}-${hex(rnd, 12)}",\n` +
      `    "isActive": ${rnd() < 0.5},\n` +
      `    "balance": "$${Math.floor(rnd() * 4000)},${String(Math.floor(rnd() * 1000)).padStart(3, "0")}.${String(Math.floor(rnd() * 100)).padStart(2, "0")}",\n` +
      `    "age": ${20 + Math.floor(rnd() * 50)},\n` +
      `    "eyeColor": "${pick(rnd, ["blue", "brown", "green"])}",\n` +
      `    "name": "${first} ${last}",\n` +
      `    "company": "${pick(rnd, COMPANIES).toUpperCase()}",\n` +
      `    "email": "${first.toLowerCase()}.${last.toLowerCase()}@${pick(rnd, COMPANIES).toLowerCase()}.com",\n` +
      `    "address": "${1 + Math.floor(rnd() * 999)} ${pick(rnd, STREETS)}, ${pick(rnd, CITIES)}, ${10000 + Math.floor(rnd() * 89999)}",\n` +
      `    "about": "${words(rnd, 12 + Math.floor(rnd() * 30))}.",\n` +
      `    "registered": "20${10 + Math.floor(rnd() * 14)}-0${1 + Math.floor(rnd() * 9)}-${10 + Math.floor(rnd() * 18)}` +
      `T0${Math.floor(rnd() * 9)}:${10 + Math.floor(rnd() * 49)}:${10 + Math.floor(rnd() * 49)}",\n` +
      `    "latitude": ${(rnd() * 180 - 90).toFixed(6)},\n` +
      `    "longitude": ${(rnd() * 360 - 180).toFixed(6)},\n` +
      `    "tags": [${Array.from({ length: 4 }, () => `"${pick(rnd, TAGS)}"`).join(", ")}],\n` +
      `    "friends": [\n${friends.join(",\n")}\n    ],\n` +
      `    "greeting": "Hallo, ${first}! Du hast ${Math.floor(rnd() * 20)} ungelesene Nachrichten.",\n` +
      `    "favoriteFruit": "${pick(rnd, ["apple", "banana", "strawberry"])}"\n` +
      `  }`;
    records.push(record);
    length += record.length + 2;
  }
  return `[\n${records.join(",\n")}\n]\n`;
}

function bmp(): Uint8Array {
  const rnd = random(0x12_02);
  const width = 512;
  const height = 512;
  const header = 14 + 40 + 256 * 4;
  const out = new Uint8Array(header + width * height);
  const view = new DataView(out.buffer);
  // BITMAPFILEHEADER
  out[0] = 0x42;
  out[1] = 0x4d;
  view.setUint32(2, out.length, true);
  view.setUint32(10, header, true);
  // BITMAPINFOHEADER: 8 bits per pixel, no compression, 256 palette entries.
  view.setUint32(14, 40, true);
  view.setInt32(18, width, true);
  view.setInt32(22, height, true);
  view.setUint16(26, 1, true);
  view.setUint16(28, 8, true);
  view.setUint32(34, width * height, true);
  view.setUint32(38, 2835, true);
  view.setUint32(42, 2835, true);
  view.setUint32(46, 256, true);
  for (let i = 0; i < 256; i++) {
    out[54 + i * 4] = i;
    out[55 + i * 4] = i;
    out[56 + i * 4] = i;
  }
  const discs = Array.from({ length: 24 }, () => ({ x: rnd() * width, y: rnd() * height, r: 20 + rnd() * 90, shade: rnd() * 120 - 60 }));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let v = 90 + (x + y) / 8 + 35 * Math.sin(x / 37) * Math.cos(y / 23) + 12 * Math.sin((x * y) / 4000);
      for (const d of discs) {
        const dist = Math.hypot(x - d.x, y - d.y);
        if (dist < d.r) v += d.shade * (1 - dist / d.r);
      }
      v += (rnd() - 0.5) * 14;
      out[header + y * width + x] = Math.max(0, Math.min(255, Math.round(v)));
    }
  }
  return out;
}

const SPEAKERS = ["FAUST", "MEPHISTOPHELES", "WAGNER", "MARGARETE", "MARTHE", "CHOR DER ENGEL", "DER HERR", "SCHÜLER"];
const GERMAN = (
  "der die das und ist nicht ich du er sie es wir ihr mich dich sich mir dir uns euch mein dein sein " +
  "Herz Geist Welt Nacht Tag Licht Himmel Erde Natur Leben Tod Seele Liebe Traum Wahrheit Kraft Zeit " +
  "Gretchen Stunde Bücher Wissen Künste Töne Glück Träne Schönheit Gefühl Größe Straße Fuß Grüße " +
  "möchte könnte müßte würde hätte wäre weiß heißt fühlt blüht grünt glüht spürt führt rührt " +
  "über unter hinter zwischen durch für gegen ohne um bei mit nach von zu aus seit " +
  "schön groß klein süß bitter ewig heilig dunkel hell tief hoch alt jung müde fröhlich"
).split(" ");

function german(): Uint8Array {
  const rnd = random(0x12_03);
  const lines: string[] = ["Faust: Der Tragödie erster Teil (eine erzeugte Nachbildung)", ""];
  let length = 0;
  while (length < 300 * 1024) {
    const speaker = pick(rnd, SPEAKERS);
    const verse: string[] = [`${speaker}:`];
    const count = 2 + Math.floor(rnd() * 7);
    for (let i = 0; i < count; i++) {
      const line = words(rnd, 4 + Math.floor(rnd() * 6), GERMAN);
      verse.push(line.charAt(0).toUpperCase() + line.slice(1) + pick(rnd, [",", ".", "!", "?", ";", ""]));
    }
    if (rnd() < 0.15) verse.push(`(${words(rnd, 5, GERMAN)} ab.)`);
    verse.push("");
    const text = verse.join("\r\n");
    lines.push(text);
    length += text.length + 2;
  }
  return utf8(lines.join("\r\n"));
}

function html(): string {
  const rnd = random(0x12_04);
  const parts: string[] = [
    '<!DOCTYPE html>\n<html lang="de">\n<head>\n<meta charset="utf-8">\n<title>Übersicht – Berichte</title>\n',
    '<link rel="stylesheet" href="/static/css/main.css">\n<script src="/static/js/app.js" defer></script>\n</head>\n<body>\n',
  ];
  let length = 0;
  for (let section = 0; length < 320 * 1024; section++) {
    const rows = Array.from(
      { length: 3 + Math.floor(rnd() * 8) },
      (_, i) =>
        `      <tr class="${i % 2 === 0 ? "even" : "odd"}"><td>${section}.${i}</td><td><a href="/item/${hex(rnd, 6)}">${pick(rnd, FIRST)} ${pick(rnd, LAST)}</a></td>` +
        `<td class="num">${(rnd() * 10000).toFixed(2)} €</td><td>${pick(rnd, CITIES)}</td></tr>\n`,
    );
    const items = Array.from(
      { length: 2 + Math.floor(rnd() * 5) },
      () => `      <li><a href="#${hex(rnd, 4)}" title="${words(rnd, 3)}">${words(rnd, 2 + Math.floor(rnd() * 4))}</a></li>\n`,
    );
    const text =
      `<div class="section" id="s${section}">\n  <h2>${words(rnd, 3 + Math.floor(rnd() * 4))}</h2>\n` +
      `  <p class="lead">${words(rnd, 20 + Math.floor(rnd() * 40))}.</p>\n` +
      `  <div class="content">\n    <ul class="nav">\n${items.join("")}    </ul>\n` +
      `    <table class="data">\n      <thead><tr><th>#</th><th>Name</th><th>Betrag</th><th>Ort</th></tr></thead>\n${rows.join("")}    </table>\n` +
      `    <p>${words(rnd, 30 + Math.floor(rnd() * 60))} <em>${words(rnd, 2)}</em> ${words(rnd, 10)}.</p>\n  </div>\n</div>\n`;
    parts.push(text);
    length += text.length;
  }
  parts.push("</body>\n</html>\n");
  return parts.join("");
}

function pdf(): Uint8Array {
  const rnd = random(0x12_05);
  const chunks: Uint8Array[] = [utf8("%PDF-1.4\n%\u00e2\u00e3\u00cf\u00d3\n")];
  let length = chunks[0]!.length;
  const offsets: number[] = [];
  for (let object = 1; length < 512 * 1024; object++) {
    offsets.push(length);
    let chunk: Uint8Array;
    if (object % 4 === 0) {
      chunk = utf8(
        `${object} 0 obj\n<< /Type /Font /Subtype /Type1 /BaseFont /${pick(rnd, ["Times-Roman", "Helvetica", "Courier", "Symbol"])} ` +
          `/Encoding /WinAnsiEncoding /FirstChar 32 /LastChar 255 >>\nendobj\n`,
      );
    } else if (object % 4 === 1) {
      chunk = utf8(
        `${object} 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents ${object + 1} 0 R ` +
          `/Resources << /Font << /F1 ${object + 3} 0 R >> /ProcSet [/PDF /Text /ImageB] >> >>\nendobj\n`,
      );
    } else {
      // A deflated content or image stream: bytes that look random.
      const size = 1024 + Math.floor(rnd() * 30 * 1024);
      const head = utf8(`${object} 0 obj\n<< /Length ${size} /Filter /FlateDecode >>\nstream\n`);
      const tail = utf8("\nendstream\nendobj\n");
      chunk = new Uint8Array(head.length + size + tail.length);
      chunk.set(head);
      for (let i = 0; i < size; i++) chunk[head.length + i] = Math.floor(rnd() * 256);
      chunk.set(tail, head.length + size);
    }
    chunks.push(chunk);
    length += chunk.length;
  }
  const xref = [`xref\n0 ${offsets.length + 1}\n0000000000 65535 f \n`, ...offsets.map((o) => `${String(o).padStart(10, "0")} 00000 n \n`)];
  chunks.push(utf8(`${xref.join("")}trailer\n<< /Size ${offsets.length + 1} /Root 1 0 R >>\nstartxref\n${length}\n%%EOF\n`));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/** The five corpora in Autobahn's order (12.1 … 12.5). */
export const CORPORA: readonly Corpus[] = [
  { key: "json_data1", description: "Large JSON data file (stand-in: generated JSON records)", binary: false, data: lazy(json) },
  { key: "lena512", description: "Lena Picture, Bitmap 512x512 bw (stand-in: a generated 512x512 8-bit grey BMP)", binary: true, data: lazy(bmp) },
  { key: "gutenberg_faust", description: "Human readable text, Goethe's Faust I (German) (stand-in: generated German verse)", binary: true, data: lazy(german) },
  { key: "html_data1", description: "Large HTML file (stand-in: a generated HTML page)", binary: false, data: lazy(html) },
  { key: "ooms", description: "A larger PDF (stand-in: a generated PDF-shaped file with random streams)", binary: true, data: lazy(pdf) },
];
