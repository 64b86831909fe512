/**
 * Connection states, RFC 6455 §4 and §7, with the WHATWG `readyState` numbering.
 *
 * @module
 */

/** The states of a WebSocket connection. */
export const State = {
  /** The opening handshake is under way. */
  CONNECTING: 0,
  /** The handshake is done; messages flow both ways. */
  OPEN: 1,
  /** A Close frame was sent or received (§7.1.2, §7.1.3). */
  CLOSING: 2,
  /** The transport is closed (§7.1.4). */
  CLOSED: 3,
} as const;

/** One of {@link State}. */
export type State = (typeof State)[keyof typeof State];

/** The state's name, for messages. */
export function stateName(state: State): string {
  return ["CONNECTING", "OPEN", "CLOSING", "CLOSED"][state]!;
}
