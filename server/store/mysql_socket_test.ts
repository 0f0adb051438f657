import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { once } from "node:events";
import { MysqlSocket } from "./mysql_socket.ts";

/** A server that echoes what it reads, then closes once the client has ended its side. */
function echoServer(): { port: number; done: Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const done = (async () => {
    const conn = await listener.accept();
    listener.close();
    const buf = new Uint8Array(4096);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      await conn.write(buf.subarray(0, n));
    }
    conn.close();
  })();
  return { port: (listener.addr as Deno.NetAddr).port, done };
}

Deno.test("MysqlSocket carries bytes both ways in order, and ends and closes when the peer does", async () => {
  const server = echoServer();
  const s = new MysqlSocket("127.0.0.1", server.port);
  const got: Buffer[] = [];
  s.on("data", (b: Buffer) => got.push(b));
  const sent = Array.from({ length: 200 }, (_, i) => Buffer.from(`packet ${i};`));
  for (const b of sent) s.write(b); // written before the connection is up, too
  const expected = Buffer.concat(sent).toString();
  while (Buffer.concat(got).toString().length < expected.length) await once(s, "data");
  assert.equal(Buffer.concat(got).toString(), expected);
  const closed = once(s, "close");
  s.end();
  await closed;
  await server.done;
  assert.ok(s.destroyed);
});

Deno.test("MysqlSocket fails a refused connection with node:net's code and message", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const s = new MysqlSocket("127.0.0.1", port);
  const [error] = await once(s, "error");
  assert.equal(error.code, "ECONNREFUSED");
  assert.equal(error.syscall, "connect");
  assert.equal(error.message, `connect ECONNREFUSED 127.0.0.1:${port}`);
});
