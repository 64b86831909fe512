/**
 * The verdicts: a pure function of a case and what was observed. Autobahn's rules, read
 * strictly: where RFC 6455 allows a behaviour but prefers another, only the preferred one is OK.
 * The stricter points are:
 *
 * - Failing the connection without a Close frame (just dropping TCP) is UNCLEAN even where
 *   Autobahn accepts it: §7.1.7 says the endpoint SHOULD send a Close frame with a status code.
 * - An empty Close is accepted only where 1000 is; when failing, the code must be sent (§7.4).
 * - A peer that never reacts, so that the harness has to drop TCP when a timer runs out, fails
 *   the close verdict in both directions (Autobahn only penalises this when testing servers).
 * - A client that closes TCP before the server after a clean closing handshake fails (§7.1.1:
 *   the client SHOULD wait for the server to close).
 * - Any frame from the peer that breaks the RFC (masking, a bad Close payload, invalid UTF-8 in
 *   a text message, a frame after its Close) fails the behaviour.
 *
 * @module
 */
import {
  type CaseDefinition,
  type CaseResult,
  type CloseVerdict,
  type Observation,
  type PeerEvent,
  sameEvents,
  type Verdict,
} from "./case.ts";
import { describeBytes } from "./bytes.ts";

/** Judges one case. */
export function judge(definition: CaseDefinition, observation: Observation): CaseResult {
  const base = { id: definition.id, description: definition.description, expectation: definition.expectation, observation };
  if (observation.handshakeError !== undefined) {
    const detail = observation.handshakeError;
    return { ...base, behavior: "FAILED", behaviorClose: "FAILED", detail, closeDetail: detail };
  }
  let [behaviorClose, closeDetail] = judgeClose(definition, observation);
  let behavior: Verdict;
  let detail: string;
  if (observation.harnessError !== undefined) {
    behavior = "FAILED";
    detail = `Harness error, not the peer's: ${observation.harnessError}`;
  } else if (observation.violations.length > 0) {
    behavior = "FAILED";
    detail = `The peer broke the protocol: ${observation.violations.join("; ")}`;
  } else if (definition.deflate !== undefined && observation.deflate === undefined) {
    // Autobahn's 12.x/13.x: an optional feature not negotiated is UNIMPLEMENTED, not FAILED.
    behavior = "UNIMPLEMENTED";
    detail =
      observation.role === "client"
        ? "permessage-deflate was not negotiated: the server answered the offer without Sec-WebSocket-Extensions"
        : "permessage-deflate was not negotiated: the client made no offer the case accepts";
  } else {
    [behavior, detail] = judgeEvents(definition, observation.received);
    const note = observation.deflate?.note;
    if (behavior === "OK" && note !== undefined) {
      behavior = "NON-STRICT";
      detail = note;
    }
  }
  if (definition.wrongCodeFails === true && behaviorClose === "WRONG CODE" && behavior !== "FAILED") {
    behavior = "FAILED";
    detail = closeDetail;
  }
  if (definition.informational === true) {
    detail = `${behavior === "OK" ? "Events as in the strictest reading" : "Events differ from the strictest reading"} (${detail}); ${closeDetail}`;
    behavior = "INFORMATIONAL";
    behaviorClose = "INFORMATIONAL";
    closeDetail = "The RFC leaves this open";
  }
  return { ...base, behavior, behaviorClose, detail, closeDetail };
}

function judgeEvents(definition: CaseDefinition, received: readonly PeerEvent[]): [Verdict, string] {
  const expected = definition.expected ?? { ok: [] };
  if (sameEvents(received, expected.ok)) return ["OK", "Received exactly the expected events"];
  if (expected.nonStrict !== undefined && sameEvents(received, expected.nonStrict)) {
    return ["NON-STRICT", `Received ${describeEvents(received)}: allowed, but not the strictest behaviour (${describeEvents(expected.ok)})`];
  }
  return ["FAILED", `Expected ${describeEvents(expected.ok)}, received ${describeEvents(received)}`];
}

function judgeClose(definition: CaseDefinition, o: Observation): [CloseVerdict, string] {
  const expected = definition.close;
  const codes = expected.codes.join(" or ");
  if (o.dropped === "kill" || o.dropped === "case-timeout") {
    const what = o.firstClose === undefined ? "the peer never closed the connection" : "the closing handshake did not finish";
    return ["FAILED", `The harness had to drop TCP after the case's time limit: ${what}`];
  }
  const peerStarted = o.firstClose === "peer";
  if (o.firstClose === undefined) {
    if (expected.byHarness) return ["FAILED", "The peer dropped TCP before the harness closed"];
    return ["UNCLEAN", `The peer dropped TCP without a Close frame; RFC 6455 §7.1.7: it SHOULD send a Close with ${codes}`];
  }
  if (expected.byHarness === peerStarted) {
    return ["FAILED", expected.byHarness ? "The peer started the closing handshake, the harness was to" : "The harness had to start the closing handshake: the peer did not fail the connection"];
  }
  const clean = o.harnessSentClose && o.peerClose !== undefined;
  if (o.peerClose === undefined) {
    if (o.dropped === "close-timeout") return ["UNCLEAN", `The peer did not answer the harness's Close within 1 s (expected a Close with ${codes})`];
    return ["UNCLEAN", `The peer dropped TCP without answering the Close; it SHOULD send a Close with ${codes}`];
  }
  if (expected.requireClean && !clean) return ["UNCLEAN", "The closing handshake did not complete both ways"];
  const code = o.peerClose.code;
  if (code === null && !expected.codes.includes(1000)) {
    return ["WRONG CODE", `The peer sent an empty Close; expected code ${codes}`];
  }
  if (code !== null && !expected.codes.includes(code)) {
    return ["WRONG CODE", `The peer's close code was ${code}; expected ${codes}`];
  }
  if (o.role === "client" && o.tcpClosedFirst === "harness") {
    return ["FAILED BY CLIENT", "The server did not close TCP after the closing handshake; the harness had to (RFC 6455 §7.1.1: the server SHOULD close first)"];
  }
  if (o.role === "server" && o.tcpClosedFirst === "peer" && expected.requireClean) {
    return ["FAILED", "The client closed TCP before the server (RFC 6455 §7.1.1: the client SHOULD wait for the server to close)"];
  }
  const how = code === null ? "an empty Close" : `code ${code}`;
  return ["OK", `Closed properly with ${how}${o.tcpClosedFirst === undefined ? "" : `, TCP closed first by the ${o.tcpClosedFirst === "harness" ? "harness" : "peer"}`}`];
}

/** A short description of an event list for reports. */
export function describeEvents(events: readonly PeerEvent[]): string {
  if (events.length === 0) return "nothing";
  const parts = events.slice(0, 12).map((e) => {
    switch (e.type) {
      case "pause":
        return `[pause ${e.tag} ran out]`;
      case "message":
        return `${e.binary ? "binary" : "text"} ${describeBytes(e.payload)}`;
      default:
        return `${e.type} ${describeBytes(e.payload)}`;
    }
  });
  if (events.length > 12) parts.push(`… ${events.length - 12} more`);
  return parts.join(", ");
}
