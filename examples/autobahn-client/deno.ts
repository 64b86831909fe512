/**
 * An Autobahn TestSuite client driver on Deno: runs every case of a fuzzing server (the real
 * Autobahn one, or `@wsstream/test-suite`'s) against `@wsstream/deno`'s `WebSocketStream`,
 * offering permessage-deflate and echoing each message back (text as text, binary as binary) until
 * the server closes.
 *
 * ```sh
 * pnpm autobahn-client:deno -- --url ws://127.0.0.1:9001 --agent wsstream-deno
 * ```
 *
 * The protocol: `/getCaseCount` sends the number of cases as a text message; each case N runs
 * on `/runCase?case=N&agent=NAME`; `/updateReports?agent=NAME` asks the server to write its
 * reports. Exits 0 once done (case verdicts are the server's to judge), 1 if the server could
 * not be reached.
 *
 * @module
 */
import { deflate, WebSocketStream } from "@wsstream/deno";

// Autobahn's 9.x cases send messages up to 16 MiB; leave room above that. Every connection
// offers permessage-deflate (RFC 7692); the fuzzing server answers it in 12.x and 13.x as each
// case says and declines it elsewhere.
const options = { maxMessageSize: 64 * 1024 * 1024, extensions: [deflate()] };

/** The value of `--name VALUE` or `--name=VALUE` in the arguments, or `fallback`. */
function option(name: string, fallback: string): string {
  const args = Deno.args.filter((arg) => arg !== "--");
  const at = args.indexOf(`--${name}`);
  if (at !== -1 && args[at + 1] !== undefined) return args[at + 1]!;
  return args.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
}
const values = { url: option("url", "ws://127.0.0.1:9001"), agent: option("agent", "wsstream-deno") };
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
  Deno.exit(1);
}
console.log(`Running ${count} cases against ${base} as ${values.agent}`);
for (let n = 1; n <= count; n++) await runCase(n);
await readAll(`/updateReports?agent=${agent}`);
console.log("Done: reports updated");
