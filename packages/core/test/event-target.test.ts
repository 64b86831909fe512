import { describe, expect, it } from "vitest";
import { CloseEvent, MessageEvent, WebSocketEvent, WebSocketEventTarget } from "../src/event-target.ts";

// A target with one handler attribute, `onping`, as WebSocketBase has `onmessage`.
class Target extends WebSocketEventTarget {
  get onping(): ((event: WebSocketEvent) => unknown) | null {
    return this.eventHandler("ping") as ((event: WebSocketEvent) => unknown) | null;
  }
  setOnping(handler: ((event: WebSocketEvent) => unknown) | null): void {
    this.setEventHandler("ping", handler);
  }
  hears(type: string): boolean {
    return this.hasListeners(type);
  }
}

describe("WebSocketEventTarget", () => {
  it("calls listeners of the event's type in the order they were added, with the target set during dispatch", () => {
    const target = new Target();
    const log: string[] = [];
    target.addEventListener("ping", (event: WebSocketEvent) => {
      log.push(`a:${event.target === target}:${event.currentTarget === target}:${event.eventPhase}`);
    });
    target.addEventListener("pong", () => log.push("pong"));
    target.addEventListener("ping", () => log.push("b"));
    const event = new WebSocketEvent("ping");
    expect(target.dispatchEvent(event)).toBe(true);
    expect(log).toEqual(["a:true:true:2", "b"]);
    expect(event.target).toBe(target);
    expect(event.currentTarget).toBe(null);
    expect(event.eventPhase).toBe(WebSocketEvent.NONE);
  });

  it("counts a listener added twice with the same capture once, and one with another capture twice", () => {
    const target = new Target();
    let calls = 0;
    const listener = (): void => void calls++;
    target.addEventListener("ping", listener);
    target.addEventListener("ping", listener);
    target.addEventListener("ping", listener, { capture: true });
    target.dispatchEvent(new WebSocketEvent("ping"));
    expect(calls).toBe(2);
    target.removeEventListener("ping", listener);
    target.dispatchEvent(new WebSocketEvent("ping"));
    expect(calls).toBe(3);
    target.removeEventListener("ping", listener, true);
    target.dispatchEvent(new WebSocketEvent("ping"));
    expect(calls).toBe(3);
    expect(target.hears("ping")).toBe(false);
  });

  it("runs a once listener once, and drops a listener when its signal aborts", () => {
    const target = new Target();
    const log: string[] = [];
    const controller = new AbortController();
    target.addEventListener("ping", () => log.push("once"), { once: true });
    target.addEventListener("ping", () => log.push("signal"), { signal: controller.signal });
    target.addEventListener("ping", () => log.push("never"), { signal: AbortSignal.abort() });
    target.dispatchEvent(new WebSocketEvent("ping"));
    controller.abort();
    target.dispatchEvent(new WebSocketEvent("ping"));
    expect(log).toEqual(["once", "signal"]);
  });

  it("calls handleEvent on listener objects", () => {
    const target = new Target();
    const seen: string[] = [];
    target.addEventListener("ping", { handleEvent: (event: WebSocketEvent) => seen.push(event.type) });
    target.dispatchEvent(new WebSocketEvent("ping"));
    expect(seen).toEqual(["ping"]);
  });

  it("skips a listener removed during the dispatch, and does not call one added during it", () => {
    const target = new Target();
    const log: string[] = [];
    const second = (): void => void log.push("second");
    target.addEventListener("ping", () => {
      log.push("first");
      target.removeEventListener("ping", second);
      target.addEventListener("ping", () => log.push("late"));
    });
    target.addEventListener("ping", second);
    target.dispatchEvent(new WebSocketEvent("ping"));
    expect(log).toEqual(["first"]);
    target.dispatchEvent(new WebSocketEvent("ping"));
    expect(log).toEqual(["first", "first", "late"]);
  });

  it("stops at stopImmediatePropagation()", () => {
    const target = new Target();
    const log: string[] = [];
    target.addEventListener("ping", (event: WebSocketEvent) => {
      log.push("first");
      event.stopImmediatePropagation();
    });
    target.addEventListener("ping", () => log.push("second"));
    target.dispatchEvent(new WebSocketEvent("ping"));
    expect(log).toEqual(["first"]);
  });

  it("keeps a handler attribute at the place it was first set, calling its current value", () => {
    const target = new Target();
    const log: string[] = [];
    target.addEventListener("ping", () => log.push("before"));
    target.setOnping(() => log.push("handler one"));
    target.addEventListener("ping", () => log.push("after"));
    target.setOnping(() => log.push("handler two"));
    target.dispatchEvent(new WebSocketEvent("ping"));
    target.setOnping(null);
    target.dispatchEvent(new WebSocketEvent("ping"));
    expect(log).toEqual(["before", "handler two", "after", "before", "after"]);
  });

  it("keeps a handler attribute and a listener with the same function apart", () => {
    const target = new Target();
    const log: string[] = [];
    const handler = (): void => void log.push("called");
    target.setOnping(handler);
    // Added as a listener too: a second registration, called as well.
    target.addEventListener("ping", handler);
    target.dispatchEvent(new WebSocketEvent("ping"));
    // Removing the listener leaves the attribute.
    target.removeEventListener("ping", handler);
    target.dispatchEvent(new WebSocketEvent("ping"));
    expect(log).toEqual(["called", "called", "called"]);
    expect(target.onping).toBe(handler);
  });

  it("reports a listener that throws and still calls the others", async () => {
    const target = new Target();
    const log: string[] = [];
    const reported: unknown[] = [];
    const failure = new Error("listener failed");
    const global = globalThis as { reportError?: (error: unknown) => void };
    const original = global.reportError;
    global.reportError = (error) => void reported.push(error);
    try {
      target.addEventListener("ping", () => {
        throw failure;
      });
      target.addEventListener("ping", () => log.push("second"));
      target.dispatchEvent(new WebSocketEvent("ping"));
    } finally {
      if (original === undefined) delete global.reportError;
      else global.reportError = original;
    }
    expect(log).toEqual(["second"]);
    expect(reported).toEqual([failure]);
  });
});

describe("the events", () => {
  it("carry the members of the DOM's Event for an event that neither bubbles nor can be cancelled", () => {
    const event = new WebSocketEvent("open");
    expect([event.type, event.bubbles, event.cancelable, event.defaultPrevented, event.isTrusted]).toEqual(["open", false, false, false, true]);
    event.preventDefault();
    expect(event.defaultPrevented).toBe(false);
    expect(event.composedPath()).toEqual([]);
    expect(typeof event.timeStamp).toBe("number");
    expect(event.timeStamp).toBe(event.timeStamp);
    expect(() => new (WebSocketEvent as unknown as new () => WebSocketEvent)()).toThrow(TypeError);
  });

  it("MessageEvent carries data and origin, CloseEvent code, reason and wasClean", () => {
    const message = new MessageEvent("message", { data: "hi", origin: "ws://example.com" });
    expect([message.data, message.origin, message.lastEventId, message.source, message.ports]).toEqual(["hi", "ws://example.com", "", null, []]);
    const close = new CloseEvent("close", { code: 1000, reason: "done", wasClean: true });
    expect([close.code, close.reason, close.wasClean]).toEqual([1000, "done", true]);
    expect([new CloseEvent("close").code, new CloseEvent("close").wasClean]).toEqual([0, false]);
  });
});
