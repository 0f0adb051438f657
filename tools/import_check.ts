/**
 * `deno task imports`: checks the import graph of every TypeScript module
 * in the repository (code, type-only and dynamic imports alike, as
 * `deno info --json` resolves them) against the layering rules of the style
 * guide, and finds import cycles. Prints each violation and cycle and exits
 * 1 if there is any; part of `deno task ok`.
 *
 * The rules: server/ never imports tests/; cli/ never imports server/;
 * proto/ imports neither server/ nor cli/; nothing outside tests/ imports
 * tests/ (shared test support lives in testing/).
 */
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const SKIP_DIRS = new Set([".git", ".data", "dist", "node_modules", ".baselines"]);

/** Every .ts file under the repository, as paths relative to it. */
export async function moduleFiles(dir = ROOT): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory && !SKIP_DIRS.has(e.name)) out.push(...await moduleFiles(join(dir, e.name)));
    else if (e.isFile && e.name.endsWith(".ts")) out.push(relative(ROOT, join(dir, e.name)));
  }
  return out.sort();
}

export type Graph = Map<string, Set<string>>;

/** The graph among local modules: `deno info --json` of one module importing all of them. */
export async function importGraph(files: string[]): Promise<Graph> {
  const dir = await Deno.makeTempDir({ prefix: "parley-imports-" });
  try {
    const all = join(dir, "all.ts");
    const lines = files.map((f) => `import "${pathToFileURL(join(ROOT, f)).href}";`);
    await Deno.writeTextFile(all, lines.join("\n") + "\n");
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", "--config", join(ROOT, "deno.json"), all],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    if (!out.success) throw new Error(`deno info failed:\n${new TextDecoder().decode(out.stderr)}`);
    return graphOf(JSON.parse(new TextDecoder().decode(out.stdout)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

interface Info {
  modules: {
    specifier: string;
    dependencies?: { code?: { specifier: string }; type?: { specifier: string } }[];
  }[];
}

/** Local modules (under ROOT) and their local imports, by path relative to ROOT. */
export function graphOf(info: Info, root = ROOT): Graph {
  const prefix = pathToFileURL(root).href + "/";
  const local = (s: string | undefined) =>
    s?.startsWith(prefix) ? decodeURIComponent(s.slice(prefix.length)) : null;
  const graph: Graph = new Map();
  for (const m of info.modules) {
    const from = local(m.specifier);
    if (!from) continue;
    const to = new Set<string>();
    for (const d of m.dependencies ?? []) {
      for (const s of [d.code?.specifier, d.type?.specifier]) {
        const dep = local(s);
        if (dep) to.add(dep);
      }
    }
    graph.set(from, to);
  }
  return graph;
}

/** [importer prefix, imported prefix, why]: an import from the one into the other is refused. */
const FORBIDDEN: [string, string, string][] = [
  ["server/", "tests/", "server/ never imports tests/ (shared test support is testing/)"],
  ["cli/", "server/", "cli/ never imports server/ (the contract is proto/)"],
  ["proto/", "server/", "proto/ imports neither server/ nor cli/"],
  ["proto/", "cli/", "proto/ imports neither server/ nor cli/"],
  ["testing/", "tests/", "testing/ is what tests/ share; it never imports tests/"],
  ["bench/", "tests/", "only tests/ imports tests/"],
];

/** Imports that break the layering rules, one line each. */
export function violations(graph: Graph): string[] {
  const out: string[] = [];
  for (const [from, deps] of graph) {
    for (const to of deps) {
      for (const [a, b, why] of FORBIDDEN) {
        if (from.startsWith(a) && to.startsWith(b)) out.push(`${from} imports ${to}: ${why}`);
      }
      if (!from.includes("/") && to.startsWith("tests/")) {
        out.push(`${from} imports ${to}: only tests/ imports tests/`);
      }
    }
  }
  return out.sort();
}

/** The import cycles: each strongly connected set of two or more modules (or one importing itself). */
export function cycles(graph: Graph): string[][] {
  // Tarjan's algorithm, iterative so that a deep graph cannot overflow the stack.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const found: string[][] = [];
  let next = 0;
  for (const start of graph.keys()) {
    if (index.has(start)) continue;
    const work: { node: string; deps: Iterator<string> }[] = [];
    const enter = (node: string) => {
      index.set(node, next);
      low.set(node, next++);
      stack.push(node);
      onStack.add(node);
      work.push({ node, deps: (graph.get(node) ?? new Set()).values() });
    };
    enter(start);
    while (work.length) {
      const top = work[work.length - 1];
      const step = top.deps.next();
      if (!step.done) {
        const dep = step.value;
        if (!index.has(dep)) enter(dep);
        else if (onStack.has(dep)) low.set(top.node, Math.min(low.get(top.node)!, index.get(dep)!));
        continue;
      }
      work.pop();
      if (work.length) {
        const parent = work[work.length - 1].node;
        low.set(parent, Math.min(low.get(parent)!, low.get(top.node)!));
      }
      if (low.get(top.node) !== index.get(top.node)) continue;
      const scc: string[] = [];
      let n: string;
      do {
        n = stack.pop()!;
        onStack.delete(n);
        scc.push(n);
      } while (n !== top.node);
      if (scc.length > 1 || graph.get(top.node)?.has(top.node)) found.push(scc.sort());
    }
  }
  return found.sort((a, b) => a[0].localeCompare(b[0]));
}

if (import.meta.main) {
  const files = await moduleFiles();
  const graph = await importGraph(files);
  const bad = violations(graph);
  const loops = cycles(graph);
  for (const v of bad) console.log(`layering: ${v}`);
  for (const c of loops) console.log(`cycle: ${c.join(" <-> ")}`);
  const edges = [...graph.values()].reduce((n, s) => n + s.size, 0);
  console.log(
    `imports: ${graph.size} modules, ${edges} local imports, ` +
      `${bad.length} layering violations, ${loops.length} cycles`,
  );
  if (bad.length || loops.length) Deno.exit(1);
}
