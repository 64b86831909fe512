/**
 * The parent's side of a subscriber process (bench/publish-subscribers.ts), for bench/publish.ts
 * and bench/cluster-publish.ts: it spawns the process and waits for its messages by type.
 *
 * @module
 */
import type { ChildProcess } from "node:child_process";
import type { SubscriberCommand, SubscriberMessage } from "./publish-subscribers.ts";
import { spawnNode } from "./servers/control.ts";

/** A subscriber process: `connections` subscribers spread over `ports`, every `sample`th timed. */
export class SubscriberProcess {
  readonly #child: ChildProcess;
  readonly #waiting = new Map<string, Array<{ resolve: (m: SubscriberMessage) => void; reject: (e: Error) => void }>>();
  #failure: Error | undefined;

  constructor(ports: readonly number[], connections: number, sample: string) {
    this.#child = spawnNode(
      ["--import", "tsx", "bench/publish-subscribers.ts", `--ports=${ports.join(",")}`, `--connections=${connections}`, `--sample=${sample}`],
      true,
    );
    this.#child.on("message", (message: SubscriberMessage) => {
      if (message.type === "error") this.#fail(new Error(`Subscriber process: ${message.message}`));
      else this.#waiting.get(message.type)?.shift()?.resolve(message);
    });
    this.#child.once("exit", (code) => this.#fail(new Error(`Subscriber process exited (${code})`)));
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const waits of this.#waiting.values()) for (const wait of waits.splice(0)) wait.reject(error);
  }

  /** The next message of `type`. */
  next<T extends SubscriberMessage["type"]>(type: T): Promise<Extract<SubscriberMessage, { type: T }>> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      let waits = this.#waiting.get(type);
      if (waits === undefined) this.#waiting.set(type, (waits = []));
      waits.push({ resolve: resolve as (m: SubscriberMessage) => void, reject });
    });
  }

  send(command: SubscriberCommand): void {
    this.#child.send(command);
  }

  kill(): void {
    if (this.#child.exitCode === null) this.#child.kill();
  }
}
