/**
 * The client side of proto/h2_guard_test.ts: a grpc-js client (with the
 * guard, as every Parley process has it) makes CALLS unary calls to the
 * server at Deno.args[0], prints "calls done", then waits for the server to
 * end its session, and prints "survived" if the process lived through it.
 */
import "../h2_guard.ts";
import * as grpc from "@grpc/grpc-js";
import { Buffer } from "node:buffer";

const CALLS = 13;
const client = new grpc.Client(Deno.args[0], grpc.credentials.createInsecure());
const call = () =>
  new Promise<void>((resolve) =>
    client.makeUnaryRequest(
      "/parley.test.Echo/Call",
      (b: Uint8Array) => Buffer.from(b),
      (b: Buffer) => b,
      new Uint8Array(0),
      () => resolve(),
    )
  );
for (let i = 0; i < CALLS; i++) await call();
console.log("calls done");
// The server ends the session now (a GOAWAY alone leaves the channel
// READY in Deno): wait until grpc-js saw it go, or 1.5 s.
const deadline = Date.now() + 1500;
while (client.getChannel().getConnectivityState(false) === grpc.connectivityState.READY) {
  if (Date.now() > deadline) break;
  await new Promise((r) => setTimeout(r, 20));
}
await new Promise((r) => setTimeout(r, 200));
console.log("survived");
client.close();
