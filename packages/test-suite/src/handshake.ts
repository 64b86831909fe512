/**
 * The opening handshake (RFC 6455 §4) done by hand over a `node:net` socket, for both roles of
 * the harness. Like the frame codec it shares nothing with the code under test.
 *
 * @module
 */
import { createHash, randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const MAX_HEAD = 16 * 1024;

/** `Sec-WebSocket-Accept` for a key (RFC 6455 §4.2.2 step 5.4). */
export function acceptKey(key: string): string {
  return createHash("sha1").update(key + GUID).digest("base64");
}

/** An HTTP head: the start line and the headers, names lowercased. */
export interface HttpHead {
  readonly startLine: string;
  readonly headers: ReadonlyMap<string, string>;
}

/** A socket after the handshake, paused, and the bytes that followed the head. */
export interface Upgraded {
  readonly socket: Socket;
  readonly rest: Uint8Array;
  /** The server's `Sec-WebSocket-Extensions`, when extensions were offered and it sent one. */
  readonly extensions?: string | undefined;
}

/**
 * Reads an HTTP head (up to `\r\n\r\n`) from `socket` within `timeoutMs`. Resolves with the
 * head and the bytes after it; the socket is left paused with no data listener.
 */
export function readHead(socket: Socket, timeoutMs: number): Promise<{ head: HttpHead; rest: Uint8Array }> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const timer = setTimeout(() => finish(new Error(`No complete HTTP head within ${timeoutMs} ms`)), timeoutMs);
    const finish = (error: Error | undefined, value?: { head: HttpHead; rest: Uint8Array }): void => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("end", onEnd);
      socket.off("error", onError);
      socket.pause();
      if (error !== undefined) reject(error);
      else resolve(value!);
    };
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf("\r\n\r\n");
      if (end === -1) {
        if (buffered.length > MAX_HEAD) finish(new Error(`HTTP head longer than ${MAX_HEAD} bytes`));
        return;
      }
      const lines = buffered.subarray(0, end).toString("latin1").split("\r\n");
      const headers = new Map<string, string>();
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(":");
        if (colon <= 0) continue;
        const name = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).trim();
        headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
      }
      finish(undefined, { head: { startLine: lines[0] ?? "", headers }, rest: new Uint8Array(buffered.subarray(end + 4)) });
    };
    const onEnd = (): void => finish(new Error("Connection closed during the opening handshake"));
    const onError = (error: Error): void => finish(error);
    socket.on("data", onData);
    socket.once("end", onEnd);
    socket.once("error", onError);
    socket.resume();
  });
}

/**
 * Connects to `url` (`ws:` only, loopback expected) and runs the client handshake, offering
 * `extensions` (a `Sec-WebSocket-Extensions` value) when given. Rejects when the server refuses
 * or answers wrongly; the error message says what was wrong. The server's answer to the offered
 * extensions is returned for the caller to judge.
 */
export async function openClient(url: URL, timeoutMs: number, extensions?: string): Promise<Upgraded> {
  if (url.protocol !== "ws:") throw new Error(`Only ws: URLs are supported: ${url.href}`);
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = Number(url.port || 80);
  const socket = connect({ host, port, allowHalfOpen: true });
  socket.setNoDelay(true);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`TCP connect to ${url.host} timed out`)), timeoutMs);
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.off("error", reject);
        resolve();
      });
      socket.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    const key = randomBytes(16).toString("base64");
    const target = `${url.pathname || "/"}${url.search}`;
    socket.write(
      `GET ${target} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
        (extensions === undefined ? "" : `Sec-WebSocket-Extensions: ${extensions}\r\n`) +
        "User-Agent: wsstream-test-suite\r\n\r\n",
    );
    const { head, rest } = await readHead(socket, timeoutMs);
    const status = /^HTTP\/1\.1 (\d{3})/.exec(head.startLine)?.[1];
    if (status !== "101") throw new Error(`Handshake refused: ${head.startLine}`);
    if (head.headers.get("upgrade")?.toLowerCase() !== "websocket") throw new Error("Handshake response without Upgrade: websocket");
    if (!/\bupgrade\b/i.test(head.headers.get("connection") ?? "")) throw new Error("Handshake response without Connection: Upgrade");
    if (head.headers.get("sec-websocket-accept") !== acceptKey(key)) throw new Error("Handshake response with a wrong Sec-WebSocket-Accept");
    if (extensions === undefined && head.headers.has("sec-websocket-extensions")) {
      throw new Error(`Server agreed to an extension nobody offered: ${head.headers.get("sec-websocket-extensions")}`);
    }
    return { socket, rest, extensions: head.headers.get("sec-websocket-extensions") };
  } catch (error) {
    socket.destroy();
    throw error;
  }
}

/** A parsed upgrade request, as the fuzzing server sees it. */
export interface UpgradeRequest {
  readonly method: string;
  readonly target: string;
  readonly headers: ReadonlyMap<string, string>;
}

/** Reads the client's request head on an accepted socket. */
export async function readRequest(socket: Socket, timeoutMs: number): Promise<{ request: UpgradeRequest; rest: Uint8Array }> {
  const { head, rest } = await readHead(socket, timeoutMs);
  const [method = "", target = "", version = ""] = head.startLine.split(" ");
  if (version !== "HTTP/1.1") throw new Error(`Not an HTTP/1.1 request: ${head.startLine}`);
  return { request: { method, target, headers: head.headers }, rest };
}

/**
 * Checks an upgrade request (RFC 6455 §4.2.1) and writes the 101 answer, with
 * `Sec-WebSocket-Extensions: extensions` when given; on a bad request writes a 400 and returns
 * the reason instead.
 */
export function answerUpgrade(socket: Socket, request: UpgradeRequest, extensions?: string): string | undefined {
  const problem = upgradeProblem(request);
  if (problem !== undefined) {
    socket.end(`HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: ${problem.length}\r\nConnection: close\r\n\r\n${problem}`);
    return problem;
  }
  socket.write(
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      `Sec-WebSocket-Accept: ${acceptKey(request.headers.get("sec-websocket-key")!)}\r\n` +
      (extensions === undefined ? "" : `Sec-WebSocket-Extensions: ${extensions}\r\n`) +
      "Server: wsstream-test-suite\r\n\r\n",
  );
  return undefined;
}

function upgradeProblem(request: UpgradeRequest): string | undefined {
  if (request.method !== "GET") return `Method must be GET, got ${request.method}`;
  const h = request.headers;
  if (h.get("upgrade")?.toLowerCase() !== "websocket") return "Missing Upgrade: websocket";
  if (!/\bupgrade\b/i.test(h.get("connection") ?? "")) return "Missing Connection: Upgrade";
  if (h.get("sec-websocket-version") !== "13") return "Sec-WebSocket-Version must be 13";
  const key = h.get("sec-websocket-key") ?? "";
  if (Buffer.from(key, "base64").length !== 16) return "Sec-WebSocket-Key must be 16 bytes in base64";
  if (!h.has("host")) return "Missing Host";
  return undefined;
}
