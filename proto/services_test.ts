/**
 * Holds services.ts to the .proto files. Each .proto is loaded with
 * proto-loader, the way the roles load it; from its descriptors this test
 * writes a TypeScript file of type assertions about services.ts (every
 * service, method, message and field: the same names, each field's type
 * what the codec produces or accepts) and type-checks it with `deno check`.
 * A drift on either side (a field added, renamed, retyped or dropped; a
 * method or service added or removed) fails here with the line that says
 * which.
 */
import assert from "node:assert/strict";
import * as loader from "@grpc/proto-loader";
import { fileURLToPath } from "node:url";
import * as services from "./services.ts";
import type { ServiceRef } from "./services.ts";

const DIR = new URL("./", import.meta.url);

/** Each service of each .proto: the ServiceRef and the Methods type that describe it. */
const DESCRIBED: Record<string, { ref: string; methods: string }> = {
  "parley.verify.VerifyService": { ref: "VERIFY", methods: "VerifyMethods" },
  "parley.status.StatusService": { ref: "STATUS", methods: "StatusMethods" },
  "parley.chat.ChatNode": { ref: "CHAT_NODE", methods: "ChatNodeMethods" },
};

interface Field {
  name: string;
  label: string;
  type: string;
  typeName: string;
}
interface MessageDef {
  type: { name: string; field: Field[] };
}
interface MethodDef {
  requestType: MessageDef;
  responseType: MessageDef;
}

const SCALARS: Record<string, string> = {
  TYPE_STRING: "string",
  TYPE_BOOL: "boolean",
  TYPE_BYTES: "Uint8Array",
  // enums: String in the loader options
  TYPE_ENUM: "string",
};
for (const t of ["DOUBLE", "FLOAT", "INT32", "INT64", "UINT32", "UINT64", "SINT32", "SINT64"]) {
  SCALARS[`TYPE_${t}`] = "number"; // longs: Number
}
for (const t of ["FIXED32", "FIXED64", "SFIXED32", "SFIXED64"]) SCALARS[`TYPE_${t}`] = "number";

function loadProtos(): { file: string; defs: loader.PackageDefinition }[] {
  return [...Deno.readDirSync(DIR)]
    .filter((e) => e.name.endsWith(".proto"))
    .map((e) => e.name)
    .sort()
    .map((file) => ({
      file,
      defs: loader.loadSync(fileURLToPath(new URL(file, DIR)), {
        keepCase: true,
        longs: Number,
        enums: String,
        defaults: true,
        oneofs: true,
      }),
    }));
}

/**
 * The assertions, one per line, each with a comment naming what it checks.
 * `Same` compares key sets exactly; `Fits` lets the TypeScript side be
 * narrower than the wire type (a union of strings for a string field) but
 * never wider or different.
 */
function assertions(protos: { file: string; defs: loader.PackageDefinition }[]): string[] {
  const lines: string[] = [];
  let n = 0;
  const add = (check: string, what: string) =>
    lines.push(`export const c${n++}: ${check} = true; // ${what}`);

  const message = (
    defs: loader.PackageDefinition,
    pkg: string,
    msg: MessageDef,
    ts: string,
    what: string,
    depth = 0,
  ) => {
    if (depth > 8) throw new Error(`${what}: messages nest too deep`);
    const fields = msg.type.field;
    const keys = fields.length ? fields.map((f) => JSON.stringify(f.name)).join(" | ") : "never";
    add(`Same<keyof ${ts}, ${keys}>`, `${what} (${msg.type.name}): field names`);
    for (const f of fields) {
      const at = `${what}.${f.name}`;
      const repeated = f.label === "LABEL_REPEATED";
      if (f.type === "TYPE_MESSAGE") {
        const name = f.typeName.startsWith(".") ? f.typeName.slice(1) : `${pkg}.${f.typeName}`;
        const inner = defs[name] as MessageDef | undefined;
        if (!inner) throw new Error(`${at}: no message ${name}`);
        if (repeated) add(`Fits<${ts}["${f.name}"], unknown[]>`, `${at}: repeated`);
        const elem = repeated
          ? `NonNullable<${ts}["${f.name}"]>[number]`
          : `NonNullable<${ts}["${f.name}"]>`;
        message(defs, pkg, inner, elem, at, depth + 1);
        continue;
      }
      const scalar = SCALARS[f.type];
      if (!scalar) throw new Error(`${at}: no TypeScript type for ${f.type}`);
      add(`Fits<${ts}["${f.name}"], ${scalar}${repeated ? "[]" : ""}>`, `${at}: ${f.type}`);
    }
  };

  for (const { file, defs } of protos) {
    for (const [name, def] of Object.entries(defs)) {
      if (!("format" in def) && typeof def === "object" && !("type" in def)) {
        const described = DESCRIBED[name];
        if (!described) throw new Error(`${file}: service ${name} is not described in services.ts`);
        const pkg = name.slice(0, name.lastIndexOf("."));
        const methods = def as unknown as Record<string, MethodDef>;
        const m = `S.${described.methods}`;
        const names = Object.keys(methods).map((k) => JSON.stringify(k)).join(" | ");
        add(`Same<keyof ${m}, ${names}>`, `${name}: method names`);
        for (const [method, md] of Object.entries(methods)) {
          message(defs, pkg, md.requestType, `Req<${m}["${method}"]>`, `${method} request`);
          message(defs, pkg, md.responseType, `Res<${m}["${method}"]>`, `${method} reply`);
        }
      }
    }
  }
  return lines;
}

function checkFile(lines: string[]): string {
  const url = (f: string) => new URL(f, DIR).href;
  return [
    `import type * as S from "${url("services.ts")}";`,
    `import type { Unary } from "${url("grpc.ts")}";`,
    "type Req<M> = M extends Unary<infer Q, unknown> ? Q : never;",
    "type Res<M> = M extends Unary<never, infer R> ? R : never;",
    "type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;",
    "type Fits<A, B> = [Exclude<A, undefined>] extends [B] ? true : false;",
    ...lines,
    "",
  ].join("\n");
}

/** Type-checks `source`; resolves with the assertion lines that failed (empty when none). */
async function typeCheck(source: string): Promise<string[]> {
  const dir = await Deno.makeTempDir({ prefix: "parley-services-" });
  const path = `${dir}/check.ts`;
  try {
    await Deno.writeTextFile(path, source);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["check", "--quiet", "--config", fileURLToPath(new URL("../deno.json", DIR)), path],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (out.success) return [];
    const text = new TextDecoder().decode(out.stderr);
    const lines = source.split("\n");
    const failed = [...text.matchAll(/check\.ts:(\d+):\d+/g)].map((m) => lines[Number(m[1]) - 1]);
    return failed.length ? failed : [text];
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("every .proto service has a ServiceRef with its file and name, and access rules for its methods only", () => {
  const refs = services as unknown as Record<string, ServiceRef<Record<string, unknown>>>;
  for (const { file, defs } of loadProtos()) {
    for (const [name, def] of Object.entries(defs)) {
      if ("format" in def || "type" in def) continue;
      const described = DESCRIBED[name];
      assert.ok(described, `${file}: service ${name} is not described in services.ts`);
      const ref = refs[described.ref];
      assert.equal(ref.file, file, name);
      assert.equal(ref.service, name);
      for (const method of Object.keys(ref.access)) {
        assert.ok(Object.hasOwn(def, method), `${described.ref}.access names ${method}`);
      }
    }
  }
  assert.deepEqual(Object.values(refs).filter((r) => r?.service).length, 3);
});

Deno.test("services.ts matches every method, message and field of the .proto files", async () => {
  const lines = assertions(loadProtos());
  // Enough to cover three services with their messages: the check did run.
  assert.ok(lines.length > 100, `${lines.length} assertions`);
  const failed = await typeCheck(checkFile(lines));
  assert.deepEqual(failed, [], `services.ts drifted from the .proto files:\n${failed.join("\n")}`);
});
