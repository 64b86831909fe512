// The isomorphic client: @wsstream/browser's WebSocketStream, which the package's export
// conditions turn into this runtime's adapter, against the adapter's own server.
import { deadline, exchange } from "./exchange.mjs";

const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
const done = deadline(20_000);
const adapter = await import(`@wsstream/${runtime}`);
const { WebSocketStream, implementation } = await import("@wsstream/browser");
if (implementation !== `@wsstream/${runtime}`) throw new Error(`@wsstream/browser picked: ${implementation}`);
console.log(`smoke ${runtime} @wsstream/browser: ${await exchange({ ...adapter, WebSocketStream })}`);
done();
