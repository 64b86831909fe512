/**
 * The client scenarios (`scenarios.ts`) with `@wsstream/node`'s `WebSocketStream`, against a
 * behaviour server; one JSON line per scenario.
 *
 * ```sh
 * tsx --conditions=wsstream-source packages/test-suite/src/behaviour/client.node.ts --url ws://127.0.0.1:PORT
 * ```
 *
 * @module
 */
import { deflate, WebSocketStream } from "@wsstream/node";
import { runScenarios, urlArgument } from "./scenarios.ts";

await runScenarios(WebSocketStream, urlArgument(process.argv.slice(2)), [deflate()]);
