/**
 * A `deno lint` plugin (deno.json `lint.plugins`) that holds production code
 * to the size rules of the style guide: no file over 400 lines
 * (`parley/file-size`) and no function, method or arrow function over 100
 * lines (`parley/function-size`). Production code is every linted file but
 * tests: files under tests/ and files named `*_test.ts` are not checked.
 * A function's lines run from the line its head starts on to the line of its
 * closing brace; a file's lines are what `wc -l` counts.
 */

export const MAX_FILE_LINES = 400;
export const MAX_FUNCTION_LINES = 100;

/** Whether the size rules hold for this file: every file but tests. */
export function isProduction(filename: string): boolean {
  const path = filename.replaceAll("\\", "/");
  return !/_test\.[cm]?[jt]sx?$/.test(path) && !/(^|\/)tests\//.test(path);
}

/** Offsets of each line's first character, for offset → line number. */
function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
  return starts;
}

/** The 1-based line of an offset (binary search over lineStarts). */
function lineOf(starts: number[], offset: number): number {
  let lo = 0, hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}

type Fn =
  | Deno.lint.FunctionDeclaration
  | Deno.lint.FunctionExpression
  | Deno.lint.ArrowFunctionExpression;

/** A readable name for a function: its own, its variable's, its property's or method's. */
function nameOf(node: Fn): string {
  if (node.type === "FunctionDeclaration" && node.id) return node.id.name;
  const parent = node.parent;
  const key = (k: Deno.lint.Node | null | undefined) =>
    k?.type === "Identifier" ? k.name : k?.type === "PrivateIdentifier" ? `#${k.name}` : undefined;
  if (parent.type === "VariableDeclarator") return key(parent.id) ?? "(anonymous)";
  if (parent.type === "MethodDefinition" || parent.type === "Property") {
    return key(parent.key) ?? "(anonymous)";
  }
  if (parent.type === "PropertyDefinition") return key(parent.key) ?? "(anonymous)";
  if (node.type === "FunctionExpression" && node.id) return node.id.name;
  return "(anonymous)";
}

const plugin: Deno.lint.Plugin = {
  name: "parley",
  rules: {
    "file-size": {
      create(ctx) {
        if (!isProduction(ctx.filename)) return {};
        return {
          Program() {
            const text = ctx.sourceCode.text;
            const lines = text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
            if (lines > MAX_FILE_LINES) {
              ctx.report({
                range: [0, Math.min(text.length, 1)],
                message: `file has ${lines} lines (at most ${MAX_FILE_LINES}): split it`,
              });
            }
          },
        };
      },
    },
    "function-size": {
      create(ctx) {
        if (!isProduction(ctx.filename)) return {};
        let starts: number[] | undefined;
        const check = (node: Fn) => {
          starts ??= lineStarts(ctx.sourceCode.text);
          // A method's head (its name) stands before its FunctionExpression.
          const head = node.parent.type === "MethodDefinition" ? node.parent : node;
          const lines = lineOf(starts, node.range[1]) - lineOf(starts, head.range[0]) + 1;
          if (lines > MAX_FUNCTION_LINES) {
            ctx.report({
              node: head,
              message: `function ${
                nameOf(node)
              } has ${lines} lines (at most ${MAX_FUNCTION_LINES})`,
            });
          }
        };
        return {
          FunctionDeclaration: check,
          FunctionExpression: check,
          ArrowFunctionExpression: check,
        };
      },
    },
  },
};

export default plugin;
