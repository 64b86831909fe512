/**
 * An Autobahn TestSuite client driver on Bun: runs every case of a fuzzing server (the real
 * Autobahn one, or `@wsstream/test-suite`'s) against `@wsstream/bun`'s `WebSocketStream` (or its `WebSocket`, with `--api websocket`),
 * offering permessage-deflate and echoing each message back until the server closes (see
 * driver.ts for the protocol). Exits 0 once done, 1 if the server could not be reached.
 *
 * ```sh
 * pnpm autobahn-client:bun -- --url ws://127.0.0.1:9001 --agent wsstream-bun
 * ```
 *
 * @module
 */
import { deflate, WebSocket, WebSocketStream } from "@wsstream/bun";
import { driverArguments, runAutobahnClient } from "./driver.ts";

const { url, agent, api } = driverArguments(Bun.argv.slice(2), "wsstream-bun");
if (!(await runAutobahnClient({ WebSocketStream, WebSocket }, [deflate()], url, agent, api))) process.exit(1);
