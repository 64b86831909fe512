/**
 * The behaviour server (`behaviour.ts`) on `@wsstream/node`. `PORT` (0 picks a free port);
 * prints `listening on ws://127.0.0.1:<port>`, then one JSON line per connection end.
 *
 * ```sh
 * PORT=0 tsx --conditions=wsstream-source packages/test-suite/src/behaviour/server.node.ts
 * ```
 *
 * @module
 */
import { deflate, serve } from "@wsstream/node";
import { startBehaviourServer } from "./behaviour.ts";

await startBehaviourServer(serve, "node", process.env.PORT, [deflate()]);
