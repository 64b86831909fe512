/**
 * The command line: `wsstream connect <url>` or `wsstream listen <port>`, and their options.
 *
 * @module
 */
import { parseArgs } from "node:util";

export const USAGE = `Usage:
  wsstream connect <url> [options]   connect; send each line of stdin as a message, print each message received
  wsstream listen <port> [options]   serve on <port> (0 picks one): echo every message, or broadcast it

Options:
  -s, --subprotocol <name>   connect: offer it; listen: accept it when offered (repeatable, in preference order)
  -H, --header <name: value> connect: add a header to the upgrade request (repeatable)
      --deflate              offer (connect) or accept (listen) permessage-deflate
      --frames               print every frame sent and received to stderr, with a timestamp and its size
      --binary               connect: send each line as a binary message instead of text
      --broadcast            listen: send each message to every connection instead of echoing it
      --host <address>       listen: the address to listen on (default 127.0.0.1)
  -h, --help                 print this
  -V, --version              print the version

Statistics go to stderr when the connection or the server ends (stdin's end, Ctrl-C, or the peer
closing). Messages received go to stdout, status lines to stderr.`;

/** What the command line asked for. */
export type Command =
  | { readonly kind: "help" }
  | { readonly kind: "version" }
  | {
      readonly kind: "connect";
      readonly url: string;
      readonly protocols: readonly string[];
      readonly headers: readonly (readonly [string, string])[];
      readonly deflate: boolean;
      readonly frames: boolean;
      readonly binary: boolean;
    }
  | {
      readonly kind: "listen";
      readonly port: number;
      readonly host: string;
      readonly protocols: readonly string[];
      readonly deflate: boolean;
      readonly frames: boolean;
      readonly broadcast: boolean;
    };

/** A command line that makes no sense; its message is printed above the usage. */
export class UsageMistake extends Error {}

/** Parses `argv` (without the node and script paths). Throws {@link UsageMistake}. */
export function parseCommand(argv: readonly string[]): Command {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        subprotocol: { type: "string", short: "s", multiple: true, default: [] },
        header: { type: "string", short: "H", multiple: true, default: [] },
        deflate: { type: "boolean", default: false },
        frames: { type: "boolean", default: false },
        binary: { type: "boolean", default: false },
        broadcast: { type: "boolean", default: false },
        host: { type: "string", default: "127.0.0.1" },
        help: { type: "boolean", short: "h", default: false },
        version: { type: "boolean", short: "V", default: false },
      },
    });
  } catch (error) {
    throw new UsageMistake((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: "help" };
  if (values.version) return { kind: "version" };
  const [verb, target, ...extra] = positionals;
  if (extra.length > 0) throw new UsageMistake(`Unexpected arguments: ${extra.join(" ")}`);
  const protocols = values.subprotocol;
  if (verb === "connect") {
    if (target === undefined) throw new UsageMistake("connect needs a URL: wsstream connect ws://host:port/path");
    if (values.broadcast) throw new UsageMistake("--broadcast is for listen");
    const headers = values.header.map((header): [string, string] => {
      const colon = header.indexOf(":");
      if (colon <= 0) throw new UsageMistake(`A header must look like "Name: value": ${header}`);
      return [header.slice(0, colon).trim(), header.slice(colon + 1).trim()];
    });
    return { kind: "connect", url: target, protocols, headers, deflate: values.deflate, frames: values.frames, binary: values.binary };
  }
  if (verb === "listen") {
    const port = Number(target);
    if (target === undefined || !Number.isInteger(port) || port < 0 || port > 65535) {
      throw new UsageMistake(`listen needs a port from 0 to 65535: ${target ?? "(none)"}`);
    }
    if (values.header.length > 0 || values.binary) throw new UsageMistake("--header and --binary are for connect");
    return { kind: "listen", port, host: values.host, protocols, deflate: values.deflate, frames: values.frames, broadcast: values.broadcast };
  }
  throw new UsageMistake(verb === undefined ? "Say connect or listen" : `Unknown command: ${verb}`);
}
