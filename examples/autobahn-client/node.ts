/**
 * An Autobahn TestSuite client driver on Node: runs every case of a fuzzing server (the real
 * Autobahn one, or `@wsstream/test-suite`'s) against `@wsstream/node`'s `WebSocketStream` (or its `WebSocket`, with `--api websocket`),
 * offering permessage-deflate and echoing each message back until the server closes (see
 * driver.ts for the protocol). Exits 0 once done, 1 if the server could not be reached. With
 * `--http2` every WebSocket is opened with `{ http2: true }` (RFC 8441, h2c for `ws:` URLs).
 *
 * ```sh
 * pnpm autobahn-client:node -- --url ws://127.0.0.1:9001 --agent wsstream-node
 * pnpm autobahn-client:node -- --url ws://127.0.0.1:9001 --http2
 * ```
 *
 * @module
 */
import { deflate, WebSocket, WebSocketStream } from "@wsstream/node";
import { driverArguments, runAutobahnClient } from "./driver.ts";

const { url, agent, api, http2 } = driverArguments(process.argv.slice(2), "wsstream-node", { http2: true });
if (!(await runAutobahnClient({ WebSocketStream, WebSocket }, [deflate()], url, agent, api, http2))) process.exit(1);
