/**
 * Shorthands for writing case definitions.
 *
 * @module
 */
import type { CloseExpectation } from "../case.ts";

export const KiB = 1024;
export const MiB = 1024 * KiB;

/** The harness closes with 1000 and both Close frames must be exchanged. */
export const normalClose: CloseExpectation = { byHarness: true, codes: [1000], requireClean: true };

/** The peer must fail the connection with `code` (RFC 6455 §7.1.7). */
export function failWith(...codes: number[]): CloseExpectation {
  return { byHarness: false, codes, requireClean: false };
}

/** Hard limit of a case: its own waits plus room for both closing-handshake timers. */
export function limit(scriptMs: number): number {
  return scriptMs + 3000;
}
