/**
 * The behaviour server (`behaviour.ts`) on `@wsstream/bun`. `PORT` (0 picks a free port);
 * prints `listening on ws://127.0.0.1:<port>`, then one JSON line per connection end.
 *
 * ```sh
 * PORT=0 bun --conditions=wsstream-source packages/test-suite/src/behaviour/server.bun.ts
 * ```
 *
 * @module
 */
import { deflate, serve } from "@wsstream/bun";
import { startBehaviourServer } from "./behaviour.ts";

await startBehaviourServer(serve, "bun", Bun.env.PORT, [deflate()]);
