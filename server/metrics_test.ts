import assert from "node:assert/strict";
import { Metrics } from "./metrics.ts";

Deno.test("Metrics.text() renders counters, gauges and histograms in the Prometheus format", async () => {
  const m = new Metrics({ labels: { role: "gate" } });
  const requests = m.counter("t_requests_total", "Requests.", ["route", "status"]);
  requests.inc({ route: "/login", status: "200" });
  requests.inc({ route: "/login", status: "200" });
  requests.inc({ route: "/login", status: "401" });
  m.gauge("t_sessions", "Open sessions.").set(7);
  const latency = m.histogram("t_seconds", "Latency.", ["route"], [0.1, 1]);
  latency.observe({ route: "/login" }, 0.3);

  const text = await m.text();
  assert.match(m.contentType, /^text\/plain/);
  assert.match(text, /^# TYPE t_requests_total counter$/m);
  assert.match(text, /^t_requests_total\{route="\/login",status="200",role="gate"\} 2$/m);
  assert.match(text, /^t_requests_total\{route="\/login",status="401",role="gate"\} 1$/m);
  assert.match(text, /^t_sessions\{role="gate"\} 7$/m);
  assert.match(text, /^t_seconds_bucket\{le="0.1",role="gate",route="\/login"\} 0$/m);
  assert.match(text, /^t_seconds_bucket\{le="1",role="gate",route="\/login"\} 1$/m);
  assert.match(text, /^t_seconds_count\{role="gate",route="\/login"\} 1$/m);
});

Deno.test("Metrics gives two registries separate series under the same names", async () => {
  const a = new Metrics();
  const b = new Metrics();
  a.counter("t_total", "T.").inc(3);
  b.counter("t_total", "T.").inc(1);
  assert.match(await a.text(), /^t_total 3$/m);
  assert.match(await b.text(), /^t_total 1$/m);
});

Deno.test("Metrics.counter() returns the existing metric for a name, and refuses a type clash", async () => {
  const m = new Metrics();
  const first = m.counter("t_logins_total", "Logins.", ["result"]);
  const again = m.counter("t_logins_total", "Logins.", ["result"]);
  assert.equal(first, again);
  again.inc({ result: "ok" });
  assert.match(await m.text(), /^t_logins_total\{result="ok"\} 1$/m);
  assert.throws(() => m.gauge("t_logins_total", "Logins."), /already registered as a counter/);
});
