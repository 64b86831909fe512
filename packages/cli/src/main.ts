#!/usr/bin/env node
/**
 * The `wsstream` command: see {@link USAGE}.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { parseCommand, USAGE, UsageMistake } from "./args.ts";
import { connect } from "./connect.ts";
import { listen } from "./listen.ts";

function version(): string {
  // dist/main.js and src/main.ts both sit one level below the package's package.json.
  const manifest = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
  return manifest.version;
}

let command;
try {
  command = parseCommand(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof UsageMistake)) throw error;
  process.stderr.write(`wsstream: ${error.message}\n\n${USAGE}\n`);
  process.exit(2);
}
switch (command.kind) {
  case "help":
    process.stdout.write(`${USAGE}\n`);
    break;
  case "version":
    process.stdout.write(`wsstream ${version()}\n`);
    break;
  case "connect":
    process.exit(await connect(command));
    break;
  case "listen":
    process.exit(await listen(command).catch(() => 1));
    break;
}
