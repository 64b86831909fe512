import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { checkTransition, isTerminal, type Phase, TRANSITIONS, transitionTable } from "../src/lifecycle.ts";

const PHASES: readonly Phase[] = ["connecting", "open", "close-sent", "reply-pending", "closing", "closed", "failed"];

describe("the connection lifecycle", () => {
  it("allows exactly the transitions in the table", () => {
    const listed = new Set(TRANSITIONS.map((t) => `${t.from}>${t.to}`));
    for (const from of PHASES) {
      for (const to of PHASES) {
        if (listed.has(`${from}>${to}`)) expect(() => checkTransition(from, to)).not.toThrow();
        else expect(() => checkTransition(from, to)).toThrow(`Invalid lifecycle transition: ${from} -> ${to}`);
      }
    }
  });

  it("reaches a terminal phase from every phase, and leaves no terminal phase", () => {
    for (const phase of PHASES) {
      const out = TRANSITIONS.filter((t) => t.from === phase);
      if (isTerminal(phase)) expect(out).toEqual([]);
      else expect(out.some((t) => t.to === "failed")).toBe(true);
    }
  });

  it("is documented in the package README exactly as the code has it (pnpm lifecycle-table)", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    expect(readme).toContain(`<!-- lifecycle-table:start -->\n${transitionTable()}\n<!-- lifecycle-table:end -->`);
  });
});
