/**
 * The control channel both load generators share with the process that drives them: messages
 * over Node IPC (or printed as JSON lines when run by hand), waiting for the parent's word, and
 * failing with a reason.
 *
 * @module
 */

/** Sends `message` to the parent, or prints it when there is none. */
export function send(message: object): void {
  if (process.send === undefined) console.log(JSON.stringify(message));
  else process.send(message);
}

/** Reports `message` as an error and exits. */
export function fail(message: string): never {
  send({ type: "error", message });
  process.exit(1);
}

/** Resolves once the parent sends a message of `type` (at once when run by hand). */
export function waitFor(type: string): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined) {
      resolve();
      return;
    }
    const onMessage = (message: { type: string }): void => {
      if (message.type !== type) return;
      process.off("message", onMessage);
      resolve();
    };
    process.on("message", onMessage);
  });
}

/** Waits `seconds`. */
export const sleep = (seconds: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, seconds * 1000));
