/**
 * `deno task test`: runs every test (unit tests beside their modules,
 * contract suites, cross-role tests in tests/) with `deno test`, streams its
 * output, and ends with one line "N passed, N failed" (", N skipped" when
 * tests were ignored). Extra arguments go to `deno test` (e.g. a filter).
 *
 * Files run one at a time. `deno task test --parallel` runs them side by
 * side (each test has its own database, key prefix, temp dir and ports):
 * on a loaded, shared 2-core machine that took 518–836 s against 1058 s.
 * Every one of those runs, either way, had one or two failures that passed
 * alone, in tests with timed bounds (supervise_test's 8 s restart,
 * chat_transport's 200 ms heartbeat) or a chat node crashing at exit; run
 * in parallel, the suite's own load adds to the machine's.
 */
const args = [
  "test",
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-run",
  "--allow-sys",
  // Password hashing is a native addon (npm:@node-rs/argon2); see deno.json's serve task.
  "--allow-ffi",
  ...Deno.args,
];
const proc = new Deno.Command(Deno.execPath(), {
  args,
  stdout: "piped",
  stderr: "inherit",
  env: { NO_COLOR: "1" },
}).spawn();

let tail = "";
const enc = new TextEncoder();
const dec = new TextDecoder();
for await (const chunk of proc.stdout) {
  await Deno.stdout.write(chunk);
  tail = (tail + dec.decode(chunk, { stream: true })).slice(-4000);
}
const status = await proc.status;

// deno test's summary: "ok | 12 passed (3 steps) | 0 failed | 1 ignored (5s)"
const summary = [
  ...tail.matchAll(/^(?:ok|FAILED) \| (\d+) passed.*?\| (\d+) failed(?: \| (\d+) ignored)?/gm),
]
  .pop();
let passed = 0, failed = 0, skipped = 0;
if (summary) {
  passed = Number(summary[1]);
  failed = Number(summary[2]);
  skipped = Number(summary[3] ?? 0);
} else if (!status.success) {
  failed = 1; // deno test died before its summary (type error, crash)
}
if (!status.success && failed === 0) failed = 1;
const line = `${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`;
await Deno.stdout.write(enc.encode(`\n${line}\n`));
Deno.exit(status.success ? 0 : 1);
