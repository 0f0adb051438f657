/**
 * One load-generator process. It reads a job (bench/load/jobs.ts) from its
 * first stdin line, opens the job's sockets, says `ready`, waits for `go`
 * (with a start time shared by every worker) or `stop`, runs, and prints
 * its result as one JSON line. Several of these run side by side so that
 * each has its own fd limit and event loop (bench/load/pool.ts).
 */
import { type Client, connect, type Endpoint, readStamp, stampText } from "./clients.ts";
import {
  type Command,
  countInto,
  type Job,
  jsonLines,
  type LoginsJob,
  type MessagesJob,
  type Result,
  type SessionsJob,
  type WorkerEvent,
} from "./jobs.ts";
import { Conversation, Histogram } from "./stats.ts";
import { now } from "./jobs.ts";

const enc = new TextEncoder();
async function emit(ev: WorkerEvent): Promise<void> {
  await Deno.stdout.write(enc.encode(JSON.stringify(ev) + "\n"));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** Runs `fn` over `items` with at most `limit` at once; returns the failures' messages. */
async function pooled<T>(items: T[], limit: number, fn: (item: T, i: number) => Promise<void>) {
  const errors: string[] = [];
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        await fn(items[i], i);
      } catch (e) {
        errors.push((e as Error).message ?? String(e));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, limit) }, lane));
  return errors;
}

const addressOf = (addrs: string[], i: number) =>
  addrs.length ? addrs[i % addrs.length] : undefined;

function runMessages(job: MessagesJob, commands: AsyncIterator<Command>): Promise<Result> {
  return new MessagesRun(job).run(commands);
}

/** A messages job: pairs of sockets, each sender writing to its receiver at the job's pace. */
class MessagesRun {
  readonly n: number;
  readonly convs: Conversation[];
  readonly inflight: Int32Array;
  readonly senders: Client[];
  readonly receivers: Client[];
  readonly errors: Record<string, number> = {};
  readonly latency = new Histogram();
  errored = 0;
  acked = 0;
  delivered = 0;
  deliveredInWindow = 0;
  closedEarly = 0;
  sending = false;
  startAt = Infinity;
  windowStart = Infinity;
  endAt = Infinity;
  done = false;

  constructor(readonly job: MessagesJob) {
    this.n = job.pairs.length;
    this.convs = job.pairs.map(() => new Conversation());
    this.inflight = new Int32Array(this.n);
    this.senders = new Array(this.n);
    this.receivers = new Array(this.n);
  }

  async run(commands: AsyncIterator<Command>): Promise<Result> {
    const { job } = this;
    const failures = await pooled(
      [...job.pairs.keys()],
      job.connectConcurrency,
      (i) => this.connectPair(i),
    );
    await emit({
      event: "ready",
      connected: this.n - failures.length,
      failed: failures.length,
      firstError: failures[0] ?? null,
    });
    const first = await commands.next();
    if (first.done || first.value.cmd !== "go" || failures.length) {
      return emptyMessages(this.errors, failures.length);
    }
    this.startAt = first.value.startAt;
    this.windowStart = this.startAt + job.warmupMs;
    this.endAt = this.startAt + job.durationMs;
    await sleep(this.startAt - Date.now());
    this.sending = true;
    await this.pace();
    this.sending = false;
    await this.settle();
    this.done = true;
    for (const c of [...this.senders, ...this.receivers]) c?.close();
    return this.result();
  }

  sendOne(i: number, t: number): void {
    const seq = this.convs[i].nextSeq();
    this.inflight[i]++;
    const { job } = this;
    this.senders[i].send(job.pairs[i].to.user, seq, t, stampText(job.tag, seq, t, job.textBytes));
  }

  onClose = (code: number): void => {
    if (!this.done && code !== 1000) this.closedEarly++;
  };

  async connectPair(i: number): Promise<void> {
    const { job, errors } = this;
    const pair = job.pairs[i];
    this.receivers[i] = await connect(job.target, pair.to, {
      onAck() {},
      onError: (_seq, code) => countInto(errors, `receiver:${code}`),
      onMessage: (from, text) => {
        const stamp = readStamp(job.tag, text);
        if (!stamp || from !== pair.from.user) {
          countInto(errors, "foreign_message");
          return;
        }
        if (!this.convs[i].deliver(stamp.seq)) return;
        this.delivered++;
        const at = now();
        if (at >= this.windowStart && at <= this.endAt) this.deliveredInWindow++;
        if (stamp.t >= this.windowStart && stamp.t < this.endAt) this.latency.record(at - stamp.t);
      },
      onClose: this.onClose,
    }, { localAddress: addressOf(job.localAddresses, 2 * i + 1) });
    this.senders[i] = await connect(job.target, pair.from, {
      onAck: (seq) => {
        this.convs[i].ack(seq);
        this.acked++;
        this.inflight[i]--;
        if (this.sending && job.pace.type === "closed") this.sendOne(i, now());
      },
      onError: (seq, code) => {
        countInto(errors, code);
        if (seq !== null) {
          this.errored++;
          this.inflight[i]--;
        }
      },
      onMessage: () => countInto(errors, "foreign_message"),
      onClose: this.onClose,
    }, { localAddress: addressOf(job.localAddresses, 2 * i) });
  }

  /** Sends until endAt: a window per pair refilled on each ack, or on a schedule. */
  async pace(): Promise<void> {
    const { n, startAt, endAt, inflight } = this;
    const pace = this.job.pace;
    if (pace.type === "closed") {
      for (let i = 0; i < n; i++) for (let w = 0; w < pace.window; w++) this.sendOne(i, now());
      await sleep(endAt - Date.now());
      return;
    }
    // Open loop: message k of pair i is due at startAt + phase_i + k/rate and
    // carries that intended time, even when a full window makes it go out late.
    const gap = 1000 / pace.ratePerPair;
    const due = Float64Array.from({ length: n }, () => startAt + Math.random() * gap);
    await new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        const t = now();
        for (let i = 0; i < n; i++) {
          while (due[i] <= t && due[i] < endAt && inflight[i] < pace.maxInFlight) {
            this.sendOne(i, due[i]);
            due[i] += gap;
          }
        }
        if (t >= endAt) {
          clearInterval(tick);
          resolve();
        }
      }, 1);
    });
  }

  sent(): number {
    return this.convs.reduce((s, c) => s + c.sent, 0);
  }

  /** Lets what is in flight land: every send answered, every ack delivered. */
  async settle(): Promise<void> {
    const graceEnd = Date.now() + this.job.graceMs;
    while (
      Date.now() < graceEnd &&
      (this.acked + this.errored < this.sent() || this.delivered < this.acked)
    ) await sleep(20);
  }

  result(): Result {
    const faults = this.convs.map((c) => c.faults()).reduce((a, b) => ({
      lost: a.lost + b.lost,
      duplicate: a.duplicate + b.duplicate,
      outOfOrder: a.outOfOrder + b.outOfOrder,
      unexpected: a.unexpected + b.unexpected,
    }));
    const sent = this.sent();
    return {
      kind: "messages",
      sent,
      acked: this.acked,
      unacked: sent - this.acked - this.errored,
      errors: this.errors,
      delivered: this.delivered,
      deliveredInWindow: this.deliveredInWindow,
      windowMs: this.endAt - this.windowStart,
      latency: this.latency.toJSON(),
      faults,
      closedEarly: this.closedEarly,
    };
  }
}

function emptyMessages(errors: Record<string, number>, failed: number): Result {
  if (failed) countInto(errors, "connect_failed", failed);
  return {
    kind: "messages",
    sent: 0,
    acked: 0,
    unacked: 0,
    errors,
    delivered: 0,
    deliveredInWindow: 0,
    windowMs: 0,
    latency: new Histogram().toJSON(),
    faults: { lost: 0, duplicate: 0, outOfOrder: 0, unexpected: 0 },
    closedEarly: 0,
  };
}

async function runSessions(job: SessionsJob, commands: AsyncIterator<Command>): Promise<Result> {
  const clients: Client[] = [];
  const closeCodes: Record<string, number> = {};
  let stopping = false;
  const failures = await pooled(job.endpoints, job.connectConcurrency, async (ep, i) => {
    clients.push(
      await connect(job.target, ep, {
        onAck() {},
        onError: (_s, code) => countInto(closeCodes, `error:${code}`),
        onMessage() {},
        onClose(code) {
          if (!stopping) countInto(closeCodes, String(code));
        },
      }, { localAddress: addressOf(job.localAddresses, i) }),
    );
  });
  await emit({
    event: "ready",
    connected: clients.length,
    failed: failures.length,
    firstError: failures[0] ?? null,
  });
  await commands.next(); // "stop" (or the coordinator went away)
  const alive = clients.filter((c) => c.open).length;
  stopping = true;
  for (const c of clients) c.close();
  return {
    kind: "sessions",
    connected: clients.length,
    failed: failures.length,
    firstError: failures[0] ?? null,
    alive,
    closeCodes,
  };
}

async function runLogins(job: LoginsJob, commands: AsyncIterator<Command>): Promise<Result> {
  const http = job.localAddresses.length
    ? job.localAddresses.map((localAddress) => Deno.createHttpClient({ localAddress }))
    : [Deno.createHttpClient({})];
  await emit({ event: "ready", connected: 0, failed: 0, firstError: null });
  const first = await commands.next();
  const errors: Record<string, number> = {};
  const latency = new Histogram();
  if (first.done || first.value.cmd !== "go") {
    return { kind: "logins", completed: 0, windowMs: 0, errors, latency: latency.toJSON() };
  }
  const startAt = first.value.startAt;
  const endAt = startAt + job.durationMs;
  await sleep(startAt - Date.now());
  let next = 0, completed = 0, lastDone = startAt;
  const lane = async (lane: number) => {
    while (now() < endAt) {
      const u = job.users[next++ % job.users.length];
      const t0 = now();
      try {
        const res = await fetch(`${job.gateUrl}/api/v1/login`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ login: u.login, password: u.password }),
          client: http[lane % http.length],
        });
        const body = await res.json();
        if (!res.ok) {
          countInto(errors, `http_${res.status}:${body?.error?.code ?? "?"}`);
          continue;
        }
        const ep: Endpoint = { user: body.user.id, url: body.chat_url, token: body.token };
        const noop = () => {};
        const c = await connect("parley", ep, {
          onAck: noop,
          onError: noop,
          onMessage: noop,
          onClose: noop,
        }, { localAddress: addressOf(job.localAddresses, lane) });
        const t1 = now();
        c.close();
        if (t1 <= endAt) {
          completed++;
          lastDone = Math.max(lastDone, t1);
          latency.record(t1 - t0);
        }
      } catch (e) {
        countInto(errors, (e as Error).message.slice(0, 60));
      }
    }
  };
  await Promise.all(Array.from({ length: job.concurrency }, (_, i) => lane(i)));
  for (const c of http) c.close();
  return {
    kind: "logins",
    completed,
    // Up to the last completion, as bench/load/kdf.ts counts hashes.
    windowMs: Math.max(1, lastDone - startAt),
    errors,
    latency: latency.toJSON(),
  };
}

async function main(): Promise<void> {
  const lines = jsonLines<Job | Command>(Deno.stdin.readable);
  const head = await lines.next();
  if (head.done) return;
  const job = head.value as Job;
  const commands = lines as AsyncIterator<Command>;
  try {
    const result = job.kind === "messages"
      ? await runMessages(job, commands)
      : job.kind === "sessions"
      ? await runSessions(job, commands)
      : await runLogins(job, commands);
    await emit({ event: "result", result });
  } catch (e) {
    await emit({ event: "fatal", message: (e as Error).stack ?? String(e) });
  }
  // Sockets closing politely could keep the loop alive for seconds.
  setTimeout(() => Deno.exit(0), 200);
}

if (import.meta.main) await main();
