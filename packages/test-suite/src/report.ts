/**
 * The report of one run (one runtime in one role): counts per group and verdict, then every case
 * that is not strictly OK with what was expected and what happened.
 *
 * @module
 */
import { type CaseResult, isStrictlyOk } from "./case.ts";
import { GROUP_TITLES, groupOf } from "./cases/index.ts";
import { describeEvents } from "./verdict.ts";

const VERDICTS = ["OK", "NON-STRICT", "FAILED", "INFORMATIONAL", "UNIMPLEMENTED"] as const;
const CLOSE_VERDICTS = ["OK", "WRONG CODE", "UNCLEAN", "FAILED BY CLIENT", "FAILED", "INFORMATIONAL", "UNIMPLEMENTED"] as const;

/** Counts per group: cases, behaviour verdicts, close verdicts, strictly passing. */
export interface GroupSummary {
  readonly group: number;
  readonly cases: number;
  readonly passing: number;
  readonly behavior: Readonly<Record<string, number>>;
  readonly behaviorClose: Readonly<Record<string, number>>;
}

/** Counts per group, in group order. */
export function summarize(results: readonly CaseResult[]): GroupSummary[] {
  const groups = new Map<number, CaseResult[]>();
  for (const r of results) {
    const g = groupOf(r.id);
    groups.set(g, [...(groups.get(g) ?? []), r]);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => a - b)
    .map(([group, list]) => ({
      group,
      cases: list.length,
      passing: list.filter(isStrictlyOk).length,
      behavior: count(list.map((r) => r.behavior)),
      behaviorClose: count(list.map((r) => r.behaviorClose)),
    }));
}

/** The report as text. `title` names the runtime and role. */
export function formatReport(title: string, results: readonly CaseResult[], wallMs?: number): string {
  const lines: string[] = [];
  const passing = results.filter(isStrictlyOk).length;
  lines.push(`== ${title}: ${passing}/${results.length} strictly OK${wallMs === undefined ? "" : ` (${(wallMs / 1000).toFixed(1)} s)`}`);
  const header = ["group", "cases", ...VERDICTS.map(short), "| close:", ...CLOSE_VERDICTS.map(short)];
  const rows = summarize(results).map((s) => [
    `${s.group} ${GROUP_TITLES.get(s.group) ?? ""}`.trim(),
    String(s.cases),
    ...VERDICTS.map((v) => String(s.behavior[v] ?? 0)),
    "|",
    ...CLOSE_VERDICTS.map((v) => String(s.behaviorClose[v] ?? 0)),
  ]);
  lines.push(...table([header, ...rows]));
  const slow = results.filter((r) => groupOf(r.id) === 9);
  if (slow.length > 0) {
    lines.push(`   9.x durations (ms): ${slow.map((r) => `${r.id} ${r.observation.durationMs}`).join(", ")}`);
  }
  const bad = results.filter((r) => !isStrictlyOk(r));
  if (bad.length > 0) {
    lines.push(`   Not strictly OK (${bad.length}):`);
    for (const r of bad) lines.push(...describeResult(r).map((l) => `   ${l}`));
  }
  return lines.join("\n");
}

/** One case that is not OK: verdicts, description, expectation and what happened. */
export function describeResult(r: CaseResult): string[] {
  const o = r.observation;
  const peerClose = o.peerClose === undefined ? "none" : o.peerClose.code === null ? "empty" : `${o.peerClose.code}${o.peerClose.reason === "" ? "" : ` "${o.peerClose.reason.slice(0, 60)}"`}`;
  return [
    `${r.id}  behavior ${r.behavior}, close ${r.behaviorClose}  (${o.durationMs} ms)`,
    `    case:     ${r.description.length > 200 ? `${r.description.slice(0, 200)}…` : r.description}`,
    `    expected: ${r.expectation}`,
    `    behavior: ${r.detail}`,
    `    close:    ${r.closeDetail}`,
    `    observed: received ${describeEvents(o.received)}; first Close by ${o.firstClose ?? "nobody"}; peer's Close ${peerClose}; TCP closed first by ${o.tcpClosedFirst ?? "nobody"}${o.dropped === undefined ? "" : ` (harness drop: ${o.dropped})`}`,
  ];
}

function count(values: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

function short(verdict: string): string {
  return ({ "NON-STRICT": "NON-STRICT", INFORMATIONAL: "INFO", UNIMPLEMENTED: "UNIMPL", "WRONG CODE": "WRONG-CODE", "FAILED BY CLIENT": "BY-CLIENT" } as Record<string, string>)[verdict] ?? verdict;
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => `   ${r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ")}`);
}
