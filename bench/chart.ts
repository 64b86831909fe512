/**
 * Draws the echo ratios (bench/results.ts rows, from `--json` runs of bench/echo.ts and
 * bench/runtimes.ts) as an SVG bar chart: one panel per runtime, a group of bars per payload and
 * connection count, one bar per interface, the anchor at 1x.
 *
 * Run: node_modules/.bin/tsx bench/chart.ts --out bench/echo-ratios.svg node.json runtimes.json
 *
 * @module
 */
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { RatioRow } from "./results.ts";

const { values, positionals } = parseArgs({
  options: { out: { type: "string", default: "bench/echo-ratios.svg" }, title: { type: "string" } },
  allowPositionals: true,
});

const rows = positionals.flatMap((file) => JSON.parse(readFileSync(file, "utf8")) as RatioRow[]);
if (rows.length === 0) throw new Error("No rows: pass the JSON files written by --json");

const RUNTIMES = (["Node", "Deno", "Bun"] as const).filter((r) => rows.some((row) => row.runtime === r));
const APIS = ["WebSocket", "WebSocketStream"] as const;
const COLORS: Record<(typeof APIS)[number], string> = { WebSocket: "#2b6cb0", WebSocketStream: "#dd8a2b" };
const sizeName = (size: number): string => (size >= 1024 ? `${size / 1024} KiB` : `${size} B`);
const escape = (text: string): string => text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");

const cells = [...new Set(rows.map((r) => `${r.size}x${r.connections}`))]
  .map((key) => key.split("x").map(Number) as [number, number])
  .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
const maxRatio = Math.max(2, ...rows.map((r) => r.ratio));
const top = Math.ceil(maxRatio);

const panelWidth = 120 + cells.length * 90;
const panelHeight = 260;
const plotTop = 50;
const plotHeight = 170;
const width = Math.max(640, panelWidth);
const height = 40 + RUNTIMES.length * panelHeight + 30;
const y = (ratio: number, offset: number): number => offset + plotTop + plotHeight - (ratio / top) * plotHeight;

const parts: string[] = [];
parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
parts.push(`<rect width="${width}" height="${height}" fill="white"/>`);
parts.push(`<text x="10" y="24" font-size="15" font-weight="bold">${escape(values.title ?? "Echo throughput, ours / the runtime's anchor (messages/s, higher is better)")}</text>`);
RUNTIMES.forEach((runtime, index) => {
  const offset = 40 + index * panelHeight;
  const anchor = rows.find((r) => r.runtime === runtime)!.anchor;
  parts.push(`<text x="10" y="${offset + 25}" font-size="13" font-weight="bold">${escape(`${runtime}: against ${anchor}`)}</text>`);
  for (let tick = 0; tick <= top; tick++) {
    const ty = y(tick, offset);
    parts.push(`<line x1="60" x2="${width - 10}" y1="${ty}" y2="${ty}" stroke="${tick === 1 ? "#c00" : "#ddd"}" stroke-width="${tick === 1 ? 1.5 : 1}"${tick === 1 ? ' stroke-dasharray="5,3"' : ""}/>`);
    parts.push(`<text x="52" y="${ty + 4}" text-anchor="end">${tick}x</text>`);
  }
  cells.forEach(([size, connections], c) => {
    const gx = 75 + c * 90;
    APIS.forEach((api, a) => {
      const row = rows.find((r) => r.runtime === runtime && r.api === api && r.size === size && r.connections === connections);
      if (row === undefined) return;
      const bx = gx + a * 34;
      const by = y(row.ratio, offset);
      parts.push(`<rect x="${bx}" y="${by}" width="30" height="${y(0, offset) - by}" fill="${COLORS[api]}"><title>${escape(`${runtime} ${api} ${sizeName(size)} x${connections}: ${row.ratio.toFixed(2)}x (generator CPU ${(row.generatorCpu * 100).toFixed(0)}%)`)}</title></rect>`);
      parts.push(`<text x="${bx + 15}" y="${by - 4}" text-anchor="middle" font-size="10">${row.ratio.toFixed(2)}</text>`);
    });
    parts.push(`<text x="${gx + 32}" y="${offset + plotTop + plotHeight + 16}" text-anchor="middle">${sizeName(size)}</text>`);
    parts.push(`<text x="${gx + 32}" y="${offset + plotTop + plotHeight + 30}" text-anchor="middle" fill="#555">${connections} conn${connections === 1 ? "" : "s"}</text>`);
  });
});
const legendY = height - 16;
APIS.forEach((api, a) => {
  const lx = 60 + a * 200;
  parts.push(`<rect x="${lx}" y="${legendY - 10}" width="12" height="12" fill="${COLORS[api]}"/>`);
  parts.push(`<text x="${lx + 18}" y="${legendY}">${api === "WebSocket" ? "WebSocket (WHATWG)" : "WebSocketStream (pipeTo)"}</text>`);
});
parts.push(`<text x="${60 + 2 * 200}" y="${legendY}" fill="#c00">- - the anchor (1x)</text>`);
parts.push("</svg>");
writeFileSync(values.out, `${parts.join("\n")}\n`);
console.log(`wrote ${values.out} (${rows.length} bars)`);
