/**
 * The client scenarios (`scenarios.ts`) with `@wsstream/deno`'s `WebSocketStream`, against a
 * behaviour server; one JSON line per scenario.
 *
 * ```sh
 * deno run --allow-net --conditions=wsstream-source --config packages/deno/deno.json \
 *   packages/test-suite/src/behaviour/client.deno.ts --url ws://127.0.0.1:PORT
 * ```
 *
 * @module
 */
import { deflate, WebSocketStream } from "@wsstream/deno";
import { runScenarios, urlArgument } from "./scenarios.ts";

await runScenarios(WebSocketStream, urlArgument(Deno.args), [deflate()]);
