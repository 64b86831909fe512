/**
 * An Autobahn TestSuite client driver on Node: runs every case of a fuzzing server (the real
 * Autobahn one, or `@wsstream/test-suite`'s) against `@wsstream/node`'s `WebSocketStream`,
 * offering permessage-deflate and echoing each message back (text as text, binary as binary) until
 * the server closes.
 *
 * ```sh
 * pnpm autobahn-client:node -- --url ws://127.0.0.1:9001 --agent wsstream-node
 * ```
 *
 * The protocol: `/getCaseCount` sends the number of cases as a text message; each case N runs
 * on `/runCase?case=N&agent=NAME`; `/updateReports?agent=NAME` asks the server to write its
 * reports. Exits 0 once done (case verdicts are the server's to judge), 1 if the server could
 * not be reached.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { deflate, WebSocketStream } from "@wsstream/node";

// Autobahn's 9.x cases send messages up to 16 MiB; leave room above that. Every connection
// offers permessage-deflate (RFC 7692); the fuzzing server answers it in 12.x and 13.x as each
// case says and declines it elsewhere.
const options = { maxMessageSize: 64 * 1024 * 1024, extensions: [deflate()] };

const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== "--"),
  options: { url: { type: "string", default: "ws://127.0.0.1:9001" }, agent: { type: "string", default: "wsstream-node" } },
});
const base = values.url.replace(/\/+$/, "");
const agent = encodeURIComponent(values.agent);

/** Opens `path`, reads every message until the server closes, returns them. */
async function readAll(path: string): Promise<Array<string | Uint8Array>> {
  const ws = new WebSocketStream(`${base}${path}`, options);
  const { readable } = await ws.opened;
  const messages: Array<string | Uint8Array> = [];
  const reader = readable.getReader();
  for (let r = await reader.read(); !r.done; r = await reader.read()) messages.push(r.value);
  await ws.closed;
  return messages;
}

/** Runs one case: echo until the server closes or fails the connection. */
async function runCase(n: number): Promise<void> {
  const ws = new WebSocketStream(`${base}/runCase?case=${n}&agent=${agent}`, options);
  try {
    const { readable, writable } = await ws.opened;
    await readable.pipeTo(writable);
  } catch {
    // The case failed the connection on purpose, or the server dropped it: the verdict is the
    // server's to give.
  }
  await ws.closed.catch(() => {});
}

let count: number;
try {
  const [first] = await readAll("/getCaseCount");
  count = Number(JSON.parse(String(first)));
} catch (error) {
  console.error(`Could not get the case count from ${base}: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
console.log(`Running ${count} cases against ${base} as ${values.agent}`);
for (let n = 1; n <= count; n++) await runCase(n);
await readAll(`/updateReports?agent=${agent}`);
console.log("Done: reports updated");
