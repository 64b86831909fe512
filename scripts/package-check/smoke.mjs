// Imports this runtime's adapter from the installed node_modules, as a user's ESM program would.
import { deadline, exchange } from "./exchange.mjs";

const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
const done = deadline(20_000);
const adapter = await import(`@wsstream/${runtime}`);
console.log(`smoke ${runtime} esm: ${await exchange(adapter)}`);
done();
