// What Bun's node:http2 allows (see the README's "WebSockets over HTTP/2"): the HTTP/2 entry
// points of @wsstream/node, run on Bun (the shared suite in packages/test-suite/src/http2-node-suite.ts).
import { describe } from "vitest";
import { defineHttp2NodeSuite } from "../../test-suite/src/http2-node-suite.ts";
import { certificate } from "./fixtures/helpers.ts";

describe("@wsstream/node's HTTP/2 entry points on Bun's node:http2", () => {
  defineHttp2NodeSuite(certificate);
});
