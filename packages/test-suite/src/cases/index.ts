/**
 * Every case, in Autobahn's order, and ways to pick some.
 *
 * @module
 */
import type { CaseDefinition } from "../case.ts";
import { group1 } from "./group1-framing.ts";
import { group2 } from "./group2-ping-pong.ts";
import { group3 } from "./group3-reserved-bits.ts";
import { group4 } from "./group4-opcodes.ts";
import { group5 } from "./group5-fragmentation.ts";
import { group6, group6Subgroups } from "./group6-utf8.ts";
import { group7 } from "./group7-close.ts";
import { group9 } from "./group9-limits.ts";
import { group10 } from "./group10-misc.ts";
import { group12 } from "./group12-permessage-deflate.ts";
import { group13 } from "./group13-deflate-parameters.ts";

/** Case groups by number, with Autobahn's titles. */
export const GROUP_TITLES: ReadonlyMap<number, string> = new Map([
  [1, "Framing"],
  [2, "Pings/Pongs"],
  [3, "Reserved Bits"],
  [4, "Opcodes"],
  [5, "Fragmentation"],
  [6, "UTF-8 Handling"],
  [7, "Close Handling"],
  [9, "Limits/Performance"],
  [10, "Misc"],
  [12, "WebSocket Compression (different payloads)"],
  [13, "WebSocket Compression (different parameters)"],
]);

export { group6Subgroups };

/** Options for {@link allCases}. */
export interface CaseSelection {
  /** Autobahn's full 9.x, 12.x and 13.x sizes and counts instead of the faster default form. */
  readonly full?: boolean;
  /**
   * Patterns of case ids to run, `*` matching anything (`"6.4.*"`, `"1.*"`, `"7.1.1"`).
   * Default: all.
   */
  readonly include?: readonly string[];
  /** Patterns of case ids to leave out. */
  readonly exclude?: readonly string[];
}

/** The cases selected, in Autobahn's order. */
export function allCases(selection: CaseSelection = {}): CaseDefinition[] {
  const full = selection.full === true;
  const cases = [...group1, ...group2, ...group3, ...group4, ...group5, ...group6, ...group7, ...group9(full), ...group10, ...group12(full), ...group13(full)];
  const include = selection.include?.map(pattern);
  const exclude = selection.exclude?.map(pattern) ?? [];
  return cases.filter((c) => (include === undefined || include.some((p) => p.test(c.id))) && !exclude.some((p) => p.test(c.id)));
}

/** The group number of a case id ("6.4.3" → 6). */
export function groupOf(id: string): number {
  return Number(id.split(".")[0]);
}

function pattern(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`);
}
