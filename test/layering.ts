/**
 * The layering check (`deno task check` runs it; test/layering_test.ts asserts it): sg3's layers, lowest
 * first, are errors.ts, formats/, gpu/, kernels/, models/, metrics/, then the applications cli/ and viewer/,
 * then mod.ts, and bench/ and test/ on top. A module may import its own layer and lower ones only; the
 * import graph has no cycles; and the library layers (formats/ to metrics/) name no command-line flag in
 * their code (errors carry an option key that cli/main.ts turns into flag advice).
 *
 * Run `deno run --allow-read test/layering.ts` to print the problems (exit code 1 when there are any).
 */
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { readdirSync, readFileSync, statSync } from "node:fs";

const ROOT = normalize(join(dirname(fileURLToPath(import.meta.url)), ".."));

/** Each top-level folder or file and its layer (higher may import lower). */
const LAYERS: Record<string, number> = {
  "errors.ts": 0,
  formats: 1,
  gpu: 2,
  kernels: 3,
  models: 4,
  metrics: 5,
  cli: 6,
  viewer: 6,
  "mod.ts": 7,
  bench: 8,
  test: 8,
};

/** The library layers, which must not name command-line flags. */
const LIBRARY = new Set(["formats", "gpu", "kernels", "models", "metrics"]);

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name.startsWith(".") || name === "node_modules") return [];
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith(".ts") ? [path] : [];
  });
}

function layerOf(file: string): string {
  return relative(ROOT, file).split("/")[0];
}

/** Relative imports and re-exports of a module's source (static and dynamic). */
export function importsOf(file: string, text: string): string[] {
  const specs = [...text.matchAll(/(?:import|export)\s[^;]*?from\s+"([^"]+)"|import\(\s*"([^"]+)"\s*\)/g)]
    .map((m) => m[1] ?? m[2])
    .filter((s) => s.startsWith("."));
  return specs.map((s) => normalize(join(dirname(file), s)));
}

/** Code without comments (good enough for the flag check: strings keep their contents). */
function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
}

/** Every layering problem of the project, one line each. */
export function layeringProblems(): string[] {
  const files = Object.keys(LAYERS).flatMap((top) => {
    const path = join(ROOT, top);
    try {
      return statSync(path).isDirectory() ? sources(path) : [path];
    } catch {
      return [];
    }
  });
  const problems: string[] = [];
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    const from = layerOf(file);
    const deps = importsOf(file, text);
    graph.set(file, deps.filter((d) => !layerOf(d).startsWith("..")));
    for (const dep of deps) {
      const to = layerOf(dep);
      if (!(to in LAYERS)) continue;
      if (LAYERS[to] > LAYERS[from]) {
        problems.push(`${relative(ROOT, file)} imports ${relative(ROOT, dep)}: ${from} may not import ${to}`);
      }
    }
    if (LIBRARY.has(from)) {
      for (const [i, line] of stripComments(text).split("\n").entries()) {
        const flag = line.match(/["'`][^"'`]*?(--[a-z][a-z0-9-]+)/);
        if (flag) problems.push(`${relative(ROOT, file)}:${i + 1} names the command-line flag ${flag[1]}`);
      }
    }
  }
  // Cycles: depth-first search with the path on a stack.
  const state = new Map<string, "active" | "done">();
  const stack: string[] = [];
  const visit = (f: string) => {
    state.set(f, "active");
    stack.push(f);
    for (const d of graph.get(f) ?? []) {
      if (state.get(d) === "active") {
        const cycle = stack.slice(stack.indexOf(d)).concat(d).map((p) => relative(ROOT, p));
        problems.push(`import cycle: ${cycle.join(" -> ")}`);
      } else if (!state.has(d) && graph.has(d)) visit(d);
    }
    stack.pop();
    state.set(f, "done");
  };
  for (const f of graph.keys()) if (!state.has(f)) visit(f);
  return problems;
}

if (import.meta.main) {
  const problems = layeringProblems();
  problems.forEach((p) => console.error(p));
  if (problems.length) Deno.exit(1);
  console.log("layering: ok");
}
