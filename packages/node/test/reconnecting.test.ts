// ReconnectingWebSocket against the echo server example run as a Node process (the shared suite
// in packages/test-suite/src/reconnecting-suite.ts).
import { once } from "node:events";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { afterEach, describe } from "vitest";
import { defineReconnectingSuite } from "../../test-suite/src/reconnecting-suite.ts";
import { ReconnectingWebSocket } from "../src/client.ts";
import { ROOT, startExample } from "./fixtures/helpers.ts";

const ECHO = "examples/echo-server/node.ts";
const READY = /^listening on ws:\/\/127\.0\.0\.1:(\d+)$/;

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe("ReconnectingWebSocket on Node", () => {
  defineReconnectingSuite({
    ReconnectingWebSocket,
    binaryType: "blob",
    readme: () => readFileSync(new URL("../README.md", import.meta.url), "utf8"),
    startEcho: async (port) => {
      const example = await startExample(ECHO, { PORT: String(port) }, READY);
      cleanups.push(() => example.stop("SIGKILL", 5000));
      return { port: Number(example.match[1]), kill: () => example.stop("SIGKILL", 5000) };
    },
    // The README's example imports @wsstream/node, so it is written under the repository's
    // node_modules, where that resolves.
    startProgram: async (code) => {
      const dir = `${ROOT}node_modules/.cache/wsstream-test`;
      const file = `${dir}/readme-reconnect-${process.pid}.ts`;
      mkdirSync(dir, { recursive: true });
      writeFileSync(file, code);
      cleanups.push(() => rmSync(file, { force: true }));
      const example = await startExample(file, {}, /^echo: tick 2$/, 20_000);
      cleanups.push(() => example.stop("SIGKILL", 5000));
      const { child } = example;
      const exited = child.exitCode !== null ? Promise.resolve(child.exitCode) : once(child, "exit").then(([code]) => code as number | null);
      return { output: example.output, exited };
    },
  });
});
