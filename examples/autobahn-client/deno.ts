/**
 * An Autobahn TestSuite client driver on Deno: runs every case of a fuzzing server (the real
 * Autobahn one, or `@wsstream/test-suite`'s) against `@wsstream/deno`'s `WebSocketStream` (or its `WebSocket`, with `--api websocket`),
 * offering permessage-deflate and echoing each message back until the server closes (see
 * driver.ts for the protocol). Exits 0 once done, 1 if the server could not be reached.
 *
 * ```sh
 * pnpm autobahn-client:deno -- --url ws://127.0.0.1:9001 --agent wsstream-deno
 * ```
 *
 * @module
 */
import { deflate, WebSocket, WebSocketStream } from "@wsstream/deno";
import { driverArguments, runAutobahnClient } from "./driver.ts";

const { url, agent, api } = driverArguments(Deno.args, "wsstream-deno");
if (!(await runAutobahnClient({ WebSocketStream, WebSocket }, [deflate()], url, agent, api))) Deno.exit(1);
