/**
 * The peer a TypeScript developer would reach for: a Socket.IO relay on
 * Node, with the same load shape as Parley and bench/relay_deno.ts. A
 * client connects with `?user=N` and emits `send` {to, text, seq, t} with
 * an ack callback; the relay emits `msg` {from, text, seq, t} to the
 * recipient's socket and acks the sender with the seq. No auth, no storage.
 *
 * socket.io is installed by the bench into bench/.baselines/socketio (see
 * bench/baselines.ts); SOCKETIO_MODULES names that folder.
 * Usage: node bench/socketio/relay.mjs PORT — prints {"listening": PORT}.
 */
import process from "node:process";
import { createServer } from "node:http";
import { createRequire } from "node:module";

const modules = process.env.SOCKETIO_MODULES;
if (!modules) throw new Error("SOCKETIO_MODULES must name the folder socket.io is installed in");
const require = createRequire(`${modules.replace(/\/$/, "")}/`);
const { Server } = require("socket.io");

const httpServer = createServer();
const io = new Server(httpServer, { serveClient: false });
const sockets = new Map();

io.on("connection", (socket) => {
  const user = Number(socket.handshake.query.user);
  if (!Number.isSafeInteger(user) || user <= 0) {
    socket.disconnect(true);
    return;
  }
  sockets.get(user)?.disconnect(true);
  sockets.set(user, socket);
  socket.on("disconnect", () => {
    if (sockets.get(user) === socket) sockets.delete(user);
  });
  socket.on("send", (m, ack) => {
    const peer = sockets.get(m?.to);
    if (peer) peer.emit("msg", { from: user, text: m.text, seq: m.seq, t: m.t });
    if (typeof ack === "function") ack(m?.seq);
  });
});

httpServer.listen(Number(process.argv[2] ?? 0), "0.0.0.0", () => {
  console.log(JSON.stringify({ listening: httpServer.address().port }));
});

const stop = () => {
  io.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
