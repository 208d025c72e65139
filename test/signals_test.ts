/**
 * SIGTERM and SIGHUP (what `timeout`, schedulers and closed terminals send) end a run without leaving
 * temporary files or a half-written output behind, with exit code 128 + the signal number.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { GPU_TEST } from "./gpu.ts";
import { sg3Command, TINY_NET } from "./cli.ts";

for (const [signal, code] of [["SIGTERM", 143], ["SIGHUP", 129]] as const) {
  Deno.test(
    { name: `${signal} during a video removes its temporary file (exit ${code})`, ...GPU_TEST },
    async () => {
      if (Deno.build.os === "windows") return;
      const dir = Deno.makeTempDirSync();
      const out = join(dir, "loop.png");
      const child = sg3Command(
        ["video", ...TINY_NET, "--seeds", "0-1", "--w-frames", "5000", "--output", out, "--quiet"],
        { stdout: "null" },
      ).spawn();
      const temps = () => [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".tmp"));
      const deadline = Date.now() + 60_000;
      while (temps().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.equal(temps().length, 1, "the video's temporary file appeared");
      child.kill(signal);
      const status = await child.status;
      await child.stderr.cancel();
      assert.equal(status.code, code);
      assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), [], "no temporary file and no output");
      Deno.removeSync(dir, { recursive: true });
    },
  );
}

Deno.test({ name: "Ctrl-C during generate exits 130 without temporary files", ...GPU_TEST }, async () => {
  if (Deno.build.os === "windows") return;
  const dir = Deno.makeTempDirSync();
  const child = sg3Command(
    ["generate", ...TINY_NET, "--seeds", "0-100000", "--batch", "1", "--outdir", dir, "--quiet"],
    { stdout: "null", stderr: "null" },
  ).spawn();
  const deadline = Date.now() + 60_000;
  while ([...Deno.readDirSync(dir)].length < 3 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill("SIGINT");
  const status = await child.status;
  assert.equal(status.code, 130);
  const names = [...Deno.readDirSync(dir)].map((e) => e.name);
  assert.ok(names.length >= 2 && names.every((n) => /^seed\d{4,}\.png$/.test(n)), names.join(" "));
  Deno.removeSync(dir, { recursive: true });
});
