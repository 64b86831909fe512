/**
 * The shared suite for `WSSTREAM_DEBUG` on every adapter: the scripted exchange of
 * `debug-exchange.ts`, run in its own process of the adapter's runtime (each adapter's
 * `test/debug.test.ts` says how to start it), logs every frame and state change to stderr when the
 * variable is set, and nothing when it is not.
 */
import { expect, it } from "vitest";

/** One run of the exchange: the process's exit code and what it wrote. */
export interface ExchangeRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the adapter's `test/fixtures/debug-exchange.ts` in its own process of the adapter's runtime
 * with `env` added to an environment where `WSSTREAM_DEBUG` is empty; at most 30 s.
 */
export type RunExchange = (env: Record<string, string>) => Promise<ExchangeRun>;

// The lines of one connection (`server#1`...), without the prefix, split into frames in, frames out and the rest.
function linesOf(stderr: string, who: string) {
  const prefix = `wsstream ${who} `;
  const lines = stderr.split("\n").filter((line) => line.startsWith(prefix)).map((line) => line.slice(prefix.length));
  return {
    in: lines.filter((line) => line.startsWith("in ")),
    out: lines.filter((line) => line.startsWith("out ")),
    other: lines.filter((line) => !/^(in|out) /.test(line)),
  };
}

/** Defines the suite's tests for one adapter (inside the caller's `describe`). */
export function defineDebugSuite(runExchange: RunExchange): void {
  it("logs every frame and state change of a real exchange to stderr, server and client, and the server's stats add up", async () => {
    const { code, stdout, stderr } = await runExchange({ WSSTREAM_DEBUG: "1" });
    expect(code).toBe(0);
    const result = JSON.parse(stdout) as { events: string[]; stats: Record<string, number> };
    expect(result.events).toEqual(["open", "pong", "text", "binary", "text", "close"]);
    const raw = linesOf(stderr, "server#1");
    expect(raw.in).toEqual([
      'in TEXT fin=1 rsv=000 len=5 "hello"',
      "in BINARY fin=1 rsv=000 len=3 0x010203",
      'in TEXT fin=0 rsv=000 len=4 "frag"',
      "in CONT fin=1 rsv=000 len=6 0x6d656e746564",
      "in PING fin=1 rsv=000 len=1 0x07",
      'in CLOSE fin=1 rsv=000 len=6 code=1000 reason="done"',
    ]);
    expect(raw.out).toEqual([
      "out PONG fin=1 rsv=000 len=1 0x07",
      'out TEXT fin=1 rsv=000 len=5 "hello"',
      "out BINARY fin=1 rsv=000 len=3 0x010203",
      'out TEXT fin=1 rsv=000 len=10 "fragmented"',
      'out CLOSE fin=1 rsv=000 len=2 code=1000 reason=""',
    ]);
    expect(raw.other).toEqual([
      "accepting a connection",
      "state connecting -> open",
      "state open -> reply-pending",
      "state reply-pending -> closing",
      "state closing -> closed",
      'closed code=1000 reason="done" clean=true',
    ]);
    const client = linesOf(stderr, "client#2");
    expect(client.out).toEqual([
      'out TEXT fin=1 rsv=000 len=2 "hi"',
      "out PING fin=1 rsv=000 len=4 0x00000001",
      'out CLOSE fin=1 rsv=000 len=2 code=1000 reason=""',
    ]);
    expect(client.in).toEqual([
      'in TEXT fin=1 rsv=000 len=2 "hi"',
      "in PONG fin=1 rsv=000 len=4 0x00000001",
      'in CLOSE fin=1 rsv=000 len=2 code=1000 reason=""',
    ]);
    expect(client.other).toEqual([
      expect.stringMatching(/^connecting to ws:\/\/127\.0\.0\.1:\d+\/$/),
      "state connecting -> open",
      "state open -> close-sent",
      "state close-sent -> closing",
      "state closing -> closed",
      'closed code=1000 reason="" clean=true',
    ]);
    expect(linesOf(stderr, "server#3").in).toEqual([
      'in TEXT fin=1 rsv=000 len=2 "hi"',
      "in PING fin=1 rsv=000 len=4 0x00000001",
      'in CLOSE fin=1 rsv=000 len=2 code=1000 reason=""',
    ]);
    // Both connections, closed: bytes are the frames above, masked (+4) on the way in.
    expect(result.stats).toEqual({
      bytesIn: 11 + 9 + 10 + 12 + 7 + 12 + (8 + 10 + 8),
      bytesOut: 3 + 7 + 5 + 12 + 4 + (4 + 6 + 4),
      framesIn: 9,
      framesOut: 8,
      messagesIn: 4,
      messagesOut: 4,
      compressedBytesIn: 0,
      decompressedBytesIn: 0,
      uncompressedBytesOut: 0,
      compressedBytesOut: 0,
      openConnections: 0,
      acceptedConnections: 2,
    });
  }, 40_000);

  it("logs nothing when unset", async () => {
    const { code, stdout, stderr } = await runExchange({});
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ stats: { framesIn: 9, acceptedConnections: 2 } });
    expect(stderr).not.toContain("wsstream ");
  }, 40_000);
}
