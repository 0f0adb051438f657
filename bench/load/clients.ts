/**
 * One load-generator client per target, all behind the same small
 * interface so every target gets the same load shape:
 *
 * - `parley`: Parley's chat protocol (docs/protocol.md): `auth` frame, wait
 *   for `welcome`, ping at the advertised heartbeat, `msg.send` answered by
 *   a `result` (the ack) and pushed to the recipient as `msg.new`;
 * - `relay`: bench/relay_deno.ts (`?user=N`, `{to,text,seq,t}` → `ack` + `msg`);
 * - `socketio`: bench/socketio/relay.mjs through socket.io-client
 *   (websocket transport only, one connection per client).
 *
 * Sockets come from npm:ws (or socket.io-client, which uses it) because
 * Deno's WebSocket cannot bind a source address, and spreading sockets over
 * 127.0.0.x is how one machine holds more than one port range of them.
 *
 * Every message's text is `tag|seq|t|` padded to a fixed size, so the
 * receiver reads the sender's sequence number and intended send time from
 * the delivered message itself.
 */
import WebSocket from "ws";
import { io, type Socket } from "socket.io-client";

export type TargetKind = "parley" | "relay" | "socketio";

export interface Endpoint {
  user: number;
  /** WebSocket URL: Parley's chat_url, or the relay's base URL. */
  url: string;
  /** Parley only: the session token. */
  token?: string;
  /** Parley only: the device the session opens (by default one per token). */
  device?: string;
}

export interface Handlers {
  onAck(seq: number): void;
  onError(seq: number | null, code: string): void;
  /** A delivered message: sender, and the text as sent. */
  onMessage(from: number, text: string): void;
  onClose(code: number, reason: string): void;
}

export interface Client {
  send(to: number, seq: number, t: number, text: string): void;
  close(): void;
  readonly open: boolean;
}

export interface ConnectOptions {
  localAddress?: string;
  timeoutMs?: number;
}

/** `tag|seq|t|xxxx…`, `bytes` long (never shorter than the stamp). */
export function stampText(tag: string, seq: number, t: number, bytes: number): string {
  const head = `${tag}|${seq}|${t}|`;
  return head.length >= bytes ? head : head + "x".repeat(bytes - head.length);
}

/** The stamp of a text made by stampText, or null if it is not one of `tag`'s. */
export function readStamp(tag: string, text: string): { seq: number; t: number } | null {
  const a = text.indexOf("|");
  if (a < 0 || text.slice(0, a) !== tag) return null;
  const b = text.indexOf("|", a + 1);
  const c = text.indexOf("|", b + 1);
  if (b < 0 || c < 0) return null;
  return { seq: Number(text.slice(a + 1, b)), t: Number(text.slice(b + 1, c)) };
}

/** The subset of npm:ws's WebSocket that is used here (ws ships no types). */
interface WsSocket {
  readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
  on(event: "open", fn: () => void): void;
  on(event: "message", fn: (data: { toString(): string }) => void): void;
  on(event: "close", fn: (code: number, reason: { toString(): string }) => void): void;
  on(event: "error", fn: (err: Error) => void): void;
}
type WsConstructor = new (
  url: string,
  protocols: string[],
  options: Record<string, unknown>,
) => WsSocket;
const Ws = WebSocket as unknown as WsConstructor;

function openWs(url: string, protocols: string[], options: ConnectOptions): WsSocket {
  return new Ws(url, protocols, {
    localAddress: options.localAddress,
    perMessageDeflate: false,
    handshakeTimeout: options.timeoutMs ?? 30_000,
  });
}

export function connect(
  kind: TargetKind,
  ep: Endpoint,
  handlers: Handlers,
  options: ConnectOptions = {},
): Promise<Client> {
  if (kind === "parley") return connectParley(ep, handlers, options);
  if (kind === "relay") return connectRelay(ep, handlers, options);
  return connectSocketIo(ep, handlers, options);
}

function connectParley(ep: Endpoint, h: Handlers, options: ConnectOptions): Promise<Client> {
  const { promise, resolve, reject } = Promise.withResolvers<Client>();
  const ws = openWs(ep.url, ["parley.v1"], options);
  let ping: ReturnType<typeof setInterval> | undefined;
  let ready = false;
  const timer = setTimeout(() => {
    if (!ready) {
      reject(new Error("timeout waiting for welcome"));
      ws.terminate();
    }
  }, options.timeoutMs ?? 30_000);
  const client: Client = {
    send(to, seq, _t, text) {
      ws.send(
        `{"type":"msg.send","id":${seq},"to":${to},"text":${JSON.stringify(text)},` +
          `"client_id":${JSON.stringify(text.slice(0, text.indexOf("|", text.indexOf("|") + 1)))}}`,
      );
    },
    close() {
      clearInterval(ping);
      ws.close(1000, "bench done");
    },
    get open() {
      return ws.readyState === 1;
    },
  };
  ws.on(
    "open",
    () => ws.send(JSON.stringify({ type: "auth", token: ep.token, device: ep.device })),
  );
  ws.on("error", (e) => {
    if (!ready) reject(e);
  });
  ws.on("close", (code, reason) => {
    clearInterval(ping);
    clearTimeout(timer);
    if (!ready) reject(new Error(`closed before welcome: ${code} ${reason}`));
    h.onClose(code, reason.toString());
  });
  ws.on("message", (data) => {
    const f = JSON.parse(data.toString());
    switch (f.type) {
      case "result":
        if (typeof f.id === "number") h.onAck(f.id);
        break;
      case "msg.new":
        h.onMessage(f.message.from, f.message.text);
        break;
      case "msg.sync":
        for (const m of f.messages) h.onMessage(m.from, m.text);
        break;
      case "error":
        if (!ready) {
          reject(new Error(`auth failed: ${f.error?.code}`));
        } else h.onError(typeof f.id === "number" ? f.id : null, f.error?.code ?? "unknown");
        break;
      case "welcome": {
        ready = true;
        clearTimeout(timer);
        const every = Number(f.heartbeat_ms) || 30_000;
        // Spread pings over the interval so thousands of idle sessions do not ping at once.
        const first = setTimeout(() => {
          if (ws.readyState !== 1) return;
          ws.send('{"type":"ping"}');
          ping = setInterval(() => {
            if (ws.readyState === 1) ws.send('{"type":"ping"}');
          }, every);
        }, Math.random() * every);
        ping = first;
        resolve(client);
        break;
      }
    }
  });
  return promise;
}

function connectRelay(ep: Endpoint, h: Handlers, options: ConnectOptions): Promise<Client> {
  const { promise, resolve, reject } = Promise.withResolvers<Client>();
  const ws = openWs(`${ep.url.replace(/\/$/, "")}/?user=${ep.user}`, [], options);
  let ready = false;
  const client: Client = {
    send(to, seq, t, text) {
      ws.send(`{"to":${to},"text":${JSON.stringify(text)},"seq":${seq},"t":${t}}`);
    },
    close: () => ws.close(1000, "bench done"),
    get open() {
      return ws.readyState === 1;
    },
  };
  ws.on("open", () => {
    ready = true;
    resolve(client);
  });
  ws.on("error", (e) => {
    if (!ready) reject(e);
  });
  ws.on("close", (code, reason) => {
    if (!ready) reject(new Error(`closed before open: ${code}`));
    h.onClose(code, reason.toString());
  });
  ws.on("message", (data) => {
    const f = JSON.parse(data.toString());
    if (f.type === "ack") h.onAck(f.seq);
    else if (f.type === "msg") h.onMessage(f.from, f.text);
  });
  return promise;
}

function connectSocketIo(ep: Endpoint, h: Handlers, options: ConnectOptions): Promise<Client> {
  const { promise, resolve, reject } = Promise.withResolvers<Client>();
  const socket: Socket = io(
    ep.url,
    {
      transports: ["websocket"],
      query: { user: String(ep.user) },
      // One connection per client, never a shared manager, and no silent reconnects.
      forceNew: true,
      reconnection: false,
      timeout: options.timeoutMs ?? 30_000,
      // Passed through engine.io-client to ws.
      localAddress: options.localAddress,
    } as Parameters<typeof io>[1],
  );
  let ready = false;
  const onAck = (seq: number) => h.onAck(seq);
  const client: Client = {
    send(to, seq, t, text) {
      socket.emit("send", { to, text, seq, t }, onAck);
    },
    close: () => socket.close(),
    get open() {
      return socket.connected;
    },
  };
  socket.on("connect", () => {
    ready = true;
    resolve(client);
  });
  socket.on("connect_error", (e) => {
    if (!ready) reject(e);
  });
  socket.on(
    "disconnect",
    (reason) => h.onClose(reason === "io client disconnect" ? 1000 : 1006, reason),
  );
  socket.on("msg", (m: { from: number; text: string }) => h.onMessage(m.from, m.text));
  return promise;
}
