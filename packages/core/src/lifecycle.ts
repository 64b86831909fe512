/**
 * The lifecycle of a connection over a transport ({@link Endpoint}): its phases and every
 * transition allowed between them, as a table. `Endpoint` changes phase only through
 * {@link checkTransition}, and the package README's state table is generated from
 * {@link TRANSITIONS} (`pnpm lifecycle-table`), so the documentation cannot drift from the code.
 *
 * @module
 */

/** The phases of a connection over a transport. */
export type Phase =
  /** The opening handshake is under way. */
  | "connecting"
  /** Messages flow both ways. */
  | "open"
  /** This end sent its Close first (§7.1.2) and waits for the peer's. */
  | "close-sent"
  /**
   * The peer's Close arrived, or the peer broke the protocol: this end's Close is decided but
   * held back until the messages received before it were delivered (§5.5.1 lets them be answered).
   */
  | "reply-pending"
  /** Both Close frames were exchanged, or the failing Close was sent: the transport is ending. */
  | "closing"
  /** Terminal: the closing handshake completed (a Close received, none of our own failures). */
  | "closed"
  /** Terminal: anything else (handshake failure, 1006, protocol error, timeout, keepalive). */
  | "failed";

/** One allowed transition: from, to, and what causes it. */
export interface Transition {
  readonly from: Phase;
  readonly to: Phase;
  readonly on: string;
}

/** Every transition an {@link Endpoint} may make; any other is a bug and throws. */
export const TRANSITIONS: readonly Transition[] = [
  { from: "connecting", to: "open", on: "the handshake completed (client: a valid 101, or a 2xx over HTTP/2; server: the 101 queued, or the 200 sent)" },
  { from: "connecting", to: "failed", on: "the handshake failed, was refused, timed out or was aborted, or the transport ended" },
  { from: "open", to: "close-sent", on: "close() by the application (or the server shutting down, or a handler failing)" },
  { from: "open", to: "reply-pending", on: "the peer's Close arrived, or the peer broke the protocol (1002, 1007, 1009...)" },
  { from: "open", to: "closing", on: "a local failure (keepalive timeout): the failing Close is sent at once" },
  { from: "open", to: "failed", on: "the transport ended or failed without a Close" },
  { from: "close-sent", to: "closing", on: "the peer's Close arrived, the peer broke the protocol, or a local failure" },
  { from: "close-sent", to: "failed", on: "the transport ended without the peer's Close, or the close timeout fired" },
  { from: "reply-pending", to: "closing", on: "the messages before the Close were delivered: our Close is sent" },
  { from: "reply-pending", to: "closed", on: "the transport ended after the peer's Close, before our reply went out" },
  { from: "reply-pending", to: "failed", on: "the transport ended after a protocol error, or the close timeout fired" },
  { from: "closing", to: "closed", on: "the transport ended after a clean closing handshake" },
  { from: "closing", to: "failed", on: "the transport ended after a failure, or the close timeout fired" },
];

const allowed = new Set(TRANSITIONS.map((t) => `${t.from}>${t.to}`));

/** Throws unless `from` → `to` is in {@link TRANSITIONS}. */
export function checkTransition(from: Phase, to: Phase): void {
  if (!allowed.has(`${from}>${to}`)) throw new Error(`Invalid lifecycle transition: ${from} -> ${to}`);
}

/** Whether `phase` is terminal. */
export function isTerminal(phase: Phase): boolean {
  return phase === "closed" || phase === "failed";
}

/** The README's table of {@link TRANSITIONS}, as Markdown. */
export function transitionTable(): string {
  const rows = TRANSITIONS.map((t) => `| \`${t.from}\` | \`${t.to}\` | ${t.on} |`);
  return ["| from | to | when |", "| --- | --- | --- |", ...rows].join("\n");
}
