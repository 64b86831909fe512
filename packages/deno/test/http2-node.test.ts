// What Deno's node:http2 allows (see the README's "WebSockets over HTTP/2"): the HTTP/2 entry
// points of @wsstream/node, run on Deno (the shared suite in packages/test-suite/src/http2-node-suite.ts).
import { readFileSync } from "node:fs";
import { describe } from "vitest";
import { defineHttp2NodeSuite } from "../../test-suite/src/http2-node-suite.ts";

describe("@wsstream/node's HTTP/2 entry points on Deno's node:http2", () => {
  defineHttp2NodeSuite({
    key: readFileSync(new URL("./fixtures/localhost-key.pem", import.meta.url), "utf8"),
    cert: readFileSync(new URL("./fixtures/localhost-cert.pem", import.meta.url), "utf8"),
  });
});
