// ReconnectingWebSocket against the echo server example run as a Deno process (the shared suite
// in packages/test-suite/src/reconnecting-suite.ts).
import { afterEach, describe } from "vitest";
import { defineReconnectingSuite } from "../../test-suite/src/reconnecting-suite.ts";
import { ReconnectingWebSocket } from "../src/client.ts";
import { eventually, runCleanups, startExample, startProgram, track } from "./fixtures/helpers.ts";

const READY = /^listening on ws:\/\/127\.0\.0\.1:(\d+)$/;

afterEach(runCleanups);

describe("ReconnectingWebSocket on Deno", () => {
  defineReconnectingSuite({
    ReconnectingWebSocket,
    binaryType: "bytes",
    readme: () => Deno.readTextFile(new URL("../README.md", import.meta.url)),
    startEcho: async (port) => {
      const example = await startExample({ PORT: String(port) });
      const match = READY.exec(example.line);
      if (match === null) throw new Error(`Unexpected first line: ${example.line}`);
      return { port: Number(match[1]), kill: () => example.stop("SIGKILL") };
    },
    // The README's example; @wsstream/deno resolves through the package's deno.json.
    startProgram: async (code) => {
      const file = await Deno.makeTempFile({ suffix: ".ts" });
      track(() => Deno.remove(file).catch(() => {}));
      await Deno.writeTextFile(file, code);
      const example = await startProgram(["run", "--allow-net", "--conditions=wsstream-source", "--config", "packages/deno/deno.json", file], {});
      await eventually(20_000, "the example's second echo", () => /^echo: tick 2$/m.test(example.output()));
      return example;
    },
  });
});
