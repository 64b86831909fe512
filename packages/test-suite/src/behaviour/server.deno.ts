/**
 * The behaviour server (`behaviour.ts`) on `@wsstream/deno`. `PORT` (0 picks a free port);
 * prints `listening on ws://127.0.0.1:<port>`, then one JSON line per connection end.
 *
 * ```sh
 * PORT=0 deno run --allow-net --allow-env=PORT --conditions=wsstream-source \
 *   --config packages/deno/deno.json packages/test-suite/src/behaviour/server.deno.ts
 * ```
 *
 * @module
 */
import { deflate, serve } from "@wsstream/deno";
import { startBehaviourServer } from "./behaviour.ts";

await startBehaviourServer(serve, "deno", Deno.env.get("PORT"), [deflate()]);
