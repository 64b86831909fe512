// ReconnectingWebSocket against the echo server example run as a Bun process (the shared suite
// in packages/test-suite/src/reconnecting-suite.ts).
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { afterEach, describe } from "vitest";
import { defineReconnectingSuite } from "../../test-suite/src/reconnecting-suite.ts";
import { ReconnectingWebSocket } from "../src/client.ts";
import { closeOpened, ROOT, startExample, track } from "./fixtures/helpers.ts";

const ECHO = "examples/echo-server/bun.ts";
const READY = /^listening on ws:\/\/127\.0\.0\.1:(\d+)$/;

afterEach(closeOpened);

describe("ReconnectingWebSocket on Bun", () => {
  defineReconnectingSuite({
    ReconnectingWebSocket,
    binaryType: "bytes",
    readme: () => readFileSync(new URL("../README.md", import.meta.url), "utf8"),
    startEcho: async (port) => {
      const example = await startExample(ECHO, { PORT: String(port) }, READY);
      return { port: Number(example.match[1]), kill: () => example.stop("SIGKILL", 5000) };
    },
    // The README's example imports @wsstream/bun, so it is written under the repository's
    // node_modules, where that resolves.
    startProgram: async (code) => {
      const dir = `${ROOT}node_modules/.cache/wsstream-test`;
      const file = `${dir}/readme-reconnect-${process.pid}.ts`;
      mkdirSync(dir, { recursive: true });
      writeFileSync(file, code);
      track(() => rmSync(file, { force: true }));
      return await startExample(file, {}, /^echo: tick 2$/, 20_000);
    },
  });
});
