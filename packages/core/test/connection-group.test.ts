import { describe, expect, it } from "vitest";
import { ConnectionGroup } from "../src/connection-group.ts";
import { connectWebSocket, WebSocketStreamBase } from "../src/websocket-stream.ts";
import { memoryPair, within } from "./helpers/memory-transport.ts";

function connect(group: ConnectionGroup, path = "/"): { client: WebSocketStreamBase; accepted: Promise<WebSocketStreamBase | undefined> } {
  const [clientSide, serverSide] = memoryPair();
  const accepted = group.accept(serverSide, { scheme: "ws:" });
  return { client: connectWebSocket(`ws://test.invalid${path}`, clientSide), accepted: accepted as Promise<WebSocketStreamBase | undefined> };
}

describe("a ConnectionGroup", () => {
  it("refuses other paths with 404 and accepts its own", async () => {
    const group = new ConnectionGroup({ path: "/chat", handler: () => {} });
    const other = connect(group, "/other");
    expect(await within(other.accepted)).toBeUndefined();
    await expect(within(other.client.opened)).rejects.toMatchObject({ cause: { status: 404 } });
    const mine = connect(group, "/chat?room=1");
    expect(await within(mine.accepted)).toBeDefined();
    await within(mine.client.opened);
  });

  it("closes a connection whose handler throws with 1011", async () => {
    const group = new ConnectionGroup({
      handler: () => {
        throw new Error("boom");
      },
    });
    const { client } = connect(group);
    expect(await within(client.closed)).toMatchObject({ closeCode: 1011 });
  });

  it("closes every open connection with 1001 and refuses new ones once closing", async () => {
    const group = new ConnectionGroup({ handler: () => {} });
    const first = connect(group);
    const second = connect(group);
    await within(first.client.opened);
    await within(second.client.opened);
    await within(group.closeAll());
    expect(await within(first.client.closed)).toMatchObject({ closeCode: 1001 });
    expect(await within(second.client.closed)).toMatchObject({ closeCode: 1001 });
    expect(group.closing).toBe(true);
    expect(await within(connect(group).accepted)).toBeUndefined();
  });

  it("passes the request to the handler", async () => {
    let seen = "";
    const group = new ConnectionGroup({ handler: (_ws, request) => void (seen = new URL(request.url).search) });
    const { client } = connect(group, "/x?y=1");
    await within(client.opened);
    expect(seen).toBe("?y=1");
  });

  it("calls a handler declared with one parameter without a request", async () => {
    let args: unknown[] = [];
    const group = new ConnectionGroup({
      handler: function (_ws) {
        args = [...arguments];
      },
    });
    const { client } = connect(group);
    await within(client.opened);
    expect(args).toHaveLength(2);
    expect(args[1]).toBeUndefined();
  });

  it("hands the handler the Request the upgrade hook saw", async () => {
    let hooked: Request | undefined;
    let handled: Request | undefined;
    const group = new ConnectionGroup({
      upgrade: (request) => void (hooked = request),
      handler: (_ws, request) => void (handled = request),
    });
    const { client } = connect(group, "/x");
    await within(client.opened);
    expect(hooked).toBeInstanceOf(Request);
    expect(handled).toBe(hooked);
  });

  it("answers 404 for another path before asking the upgrade hook", async () => {
    let asked = 0;
    const group = new ConnectionGroup({ path: "/chat", upgrade: () => void asked++, handler: () => {} });
    const other = connect(group, "/chat/../other");
    await expect(within(other.client.opened)).rejects.toMatchObject({ cause: { status: 404 } });
    expect(asked).toBe(0);
    const mine = connect(group, "/x/../chat");
    await within(mine.client.opened);
    expect(asked).toBe(1);
  });
});
