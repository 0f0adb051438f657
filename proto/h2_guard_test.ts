/**
 * The HTTP/2 guard: a process whose grpc-js client has its session ended by
 * the server (destroy, graceful close, GOAWAY) survives it, and every
 * session, dialled or accepted, goes through the guard.
 */
import assert from "node:assert/strict";
import http2 from "node:http2";
import { isGuarded } from "./h2_guard.ts";

/** A bare HTTP/2 server answering every gRPC call with an empty message. */
function echoServer() {
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.on("error", () => {});
    s.on("close", () => sessions.delete(s));
  });
  server.on("stream", (stream: http2.ServerHttp2Stream) => {
    stream.on("error", () => {});
    stream.resume();
    stream.on("end", () => {
      stream.respond({ ":status": 200, "content-type": "application/grpc" }, {
        waitForTrailers: true,
      });
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.end(new Uint8Array(5));
    });
  });
  return { server, sessions };
}

type Ending = "destroy" | "close" | "goaway";

/** Runs the client of testdata/h2_peer_ended.ts, ends its session as `ending` says; its exit. */
async function clientSurvives(ending: Ending): Promise<{ code: number; out: string }> {
  const { server, sessions } = echoServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./testdata/h2_peer_ended.ts", import.meta.url).pathname,
      `127.0.0.1:${port}`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!out.includes("calls done")) {
    const { value, done } = await reader.read();
    if (done) break;
    out += value;
  }
  for (const s of sessions) {
    if (ending === "destroy") s.destroy();
    else if (ending === "close") s.close();
    else s.goaway(0, 1 << 20);
  }
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    out += value;
  }
  const status = await child.status;
  out += await new Response(child.stderr).text();
  for (const s of sessions) s.destroy();
  await new Promise<void>((r) => server.close(() => r()));
  return { code: status.code, out };
}

for (const ending of ["destroy", "close", "goaway"] as const) {
  Deno.test(`a client process survives its server ending the session (${ending}), three times`, async () => {
    for (let round = 0; round < 3; round++) {
      const { code, out } = await clientSurvives(ending);
      assert.equal(code, 0, `round ${round}: ${out}`);
      assert.match(out, /survived/);
    }
  });
}

Deno.test("every session, dialled or accepted, goes through the guard", async () => {
  const { server } = echoServer();
  const accepted = new Promise<http2.ServerHttp2Session>((r) => server.once("session", r));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  const client = http2.connect(`http://127.0.0.1:${port}`);
  client.on("error", () => {});
  const serverSide = await accepted;
  assert.ok(isGuarded(client));
  assert.ok(isGuarded(serverSide));
  client.close();
  await new Promise<void>((r) => client.once("close", () => r()));
  await new Promise<void>((r) => server.close(() => r()));
});
