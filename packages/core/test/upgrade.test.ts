import { describe, expect, it } from "vitest";
import { validateUpgradeRequest } from "../src/handshake.ts";
import { ServerConnection } from "../src/server.ts";
import { State } from "../src/state.ts";
import { decideUpgrade, lazyWebRequest, requestUrl, toWebRequest } from "../src/upgrade.ts";
import { sha1 } from "./helpers/sha1.ts";

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";

const head = (target: string, host = "example.com") => ({
  method: "GET",
  target,
  version: "HTTP/1.1",
  headers: [
    ["Host", host],
    ["Upgrade", "websocket"],
    ["Connection", "Upgrade"],
    ["Sec-WebSocket-Key", KEY],
    ["Sec-WebSocket-Version", "13"],
  ] as [string, string][],
});

/** A server connection holding a valid request, awaiting an answer. */
function awaiting(target = "/chat") {
  const conn = new ServerConnection({ sha1 });
  conn.receiveRequestHead(head(target));
  const [event] = conn.events();
  if (event?.type !== "request") throw new Error("No request event");
  return { conn, request: event.request };
}

describe("requestUrl", () => {
  it("is the Request's URL with the WebSocket scheme, for targets and hosts the parser changes or keeps", () => {
    const targets = ["/", "/chat?room=1", "/a/../b/%7e?x#", "/a/./b", "/a/..", "/a/.", "/.x/..y", "/%2e%2e/x", "/x?a'b", "/x'y", "/a b", "/q?", "/p?x=/../y", "/~user/a-b_c.d!$&()*+,;=:@"];
    const hosts = [
      "example.com", "example.com:80", "example.com:443", "example.com:8080", "EXAMPLE.com", "localhost:080", "localhost:65535",
      "localhost:65536", "[::1]:443", "127.0.0.1", "127.0.0.01:9001", "0x7f.1", "1.2.3", "256.1.1.1", "a.1", "xn--bcher-kva.example", "a_b.example",
    ];
    const cases = targets.flatMap((target) => hosts.map((host) => [target, host] as const));
    for (const [target, host] of cases) {
      const request = validateUpgradeRequest(head(target, host));
      for (const scheme of ["ws:", "wss:"] as const) {
        let expected: string;
        try {
          expected = toWebRequest(request, scheme).url.replace(/^http/, "ws");
        } catch {
          // A host the URL parser refuses (a port above 65535): refused either way.
          expect(() => requestUrl(request, scheme)).toThrow();
          continue;
        }
        expect(requestUrl(request, scheme)).toBe(expected);
      }
    }
  });
});

describe("lazyWebRequest", () => {
  it("builds the Request on the first call and returns the same one after", () => {
    const build = lazyWebRequest(validateUpgradeRequest(head("/x?y=1")), "wss:");
    const request = build();
    expect(request.url).toBe("https://example.com/x?y=1");
    expect(request.headers.get("sec-websocket-key")).toBe(KEY);
    expect(build()).toBe(request);
  });
});

describe("decideUpgrade", () => {
  it("accepts without building the Request when there is no hook", async () => {
    const { conn, request } = awaiting();
    let built = 0;
    const outcome = await decideUpgrade(conn, request, () => (built++, toWebRequest(request, "ws:")), undefined);
    expect(outcome.accepted).toEqual({});
    expect(built).toBe(0);
    expect(conn.state).toBe(State.OPEN);
  });

  it("gives the hook the Request, built once", async () => {
    const { conn, request } = awaiting();
    const seen: Request[] = [];
    const outcome = await decideUpgrade(conn, request, lazyWebRequest(request, "ws:"), (webRequest) => void seen.push(webRequest));
    expect(outcome.accepted).toEqual({});
    expect(seen.map((r) => r.url)).toEqual(["http://example.com/chat"]);
  });

  it("refuses another path with 404 without asking the hook", async () => {
    const { conn, request } = awaiting("/other?x=1");
    let asked = 0;
    const outcome = await decideUpgrade(conn, request, lazyWebRequest(request, "ws:"), () => void asked++, "/chat");
    expect(outcome.refused?.message).toBe("Upgrade refused: 404");
    expect(asked).toBe(0);
    expect(new TextDecoder().decode(conn.dataToSend()[0])).toMatch(/^HTTP\/1\.1 404 /);
  });
});
