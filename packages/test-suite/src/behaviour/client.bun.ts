/**
 * The client scenarios (`scenarios.ts`) with `@wsstream/bun`'s `WebSocketStream`, against a
 * behaviour server; one JSON line per scenario.
 *
 * ```sh
 * bun --conditions=wsstream-source packages/test-suite/src/behaviour/client.bun.ts --url ws://127.0.0.1:PORT
 * ```
 *
 * @module
 */
import { deflate, WebSocketStream } from "@wsstream/bun";
import { runScenarios, urlArgument } from "./scenarios.ts";

await runScenarios(WebSocketStream, urlArgument(Bun.argv.slice(2)), [deflate()]);
