/** Input and output files: atomic writes with short temporary names, and inputs that must be regular files. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { discardPendingTemps, tempPathFor, writeFileAtomic } from "../formats/atomic.ts";
import { runMain } from "./cli.ts";

Deno.test("atomic writes work for names at the file-name length limit and leave no temporary file", () => {
  const dir = Deno.makeTempDirSync();
  const long = join(dir, `${"a".repeat(251)}.npz`); // 255 bytes: the usual NAME_MAX
  writeFileAtomic(long, "data");
  assert.equal(Deno.readTextFileSync(long), "data");
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), [`${"a".repeat(251)}.npz`]);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("discardPendingTemps removes temporary files not yet renamed into place", () => {
  const dir = Deno.makeTempDirSync();
  const tmp = tempPathFor(join(dir, "out.mp4"));
  Deno.writeTextFileSync(tmp, "partial");
  discardPendingTemps();
  assert.deepEqual([...Deno.readDirSync(dir)], []);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("a FIFO or a folder given as an input file is refused at once with one line", async () => {
  if (Deno.build.os === "windows") return;
  const dir = Deno.makeTempDirSync();
  const fifo = join(dir, "net.pkl");
  const made = await new Deno.Command("mkfifo", { args: [fifo] }).output().catch(() => null);
  if (!made?.success) return;
  for (const [args, what] of [[["inspect", fifo], "a FIFO"], [["inspect", dir], "a folder"]] as const) {
    const t0 = performance.now();
    const r = await runMain([...args]);
    assert.equal(r.code, 2);
    assert.equal(r.err.length, 1, r.err.join("\n"));
    assert.match(r.err[0], new RegExp(`not a regular file \\(${what}`));
    assert.ok(performance.now() - t0 < 10_000);
  }
  Deno.removeSync(dir, { recursive: true });
});
