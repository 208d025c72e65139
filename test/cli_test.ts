import assert from "node:assert/strict";
import { GPU_TEST } from "./gpu.ts";
import { sg3 } from "./cli.ts";
import { decodePng } from "../formats/png.ts";

Deno.test({ name: "sg3 info --json names the adapter", ...GPU_TEST }, async () => {
  const r = await sg3("info", "--json");
  assert.equal(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  assert.equal(typeof info.description, "string");
  assert.equal(typeof info.limits.maxStorageBufferBindingSize, "number");
  assert.equal(typeof info.f16, "boolean");
});

Deno.test({ name: "bad arguments give one line and exit code 2", ...GPU_TEST }, async () => {
  for (const args of [["info", "--bogus"], ["no-such-command"]]) {
    const r = await sg3(...args);
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, /^sg3/);
  }
});

Deno.test(
  { name: "sg3 tune writes the cache, reuses it, and --tune off gives the same image", ...GPU_TEST },
  async () => {
    const dir = Deno.makeTempDirSync();
    const saved = Deno.env.get("SG3_CACHE");
    Deno.env.set("SG3_CACHE", dir);
    try {
      const net = ["--cfg", "stylegan3-t", "--res", "16", "--cbase", "256", "--cmax", "16"];
      const first = await sg3("tune", ...net, "--json");
      assert.equal(first.code, 0, first.stderr);
      const tuned = JSON.parse(first.stdout).tuned;
      assert.ok(Object.keys(tuned).some((k) => k.startsWith("conv_gemm ")), first.stdout);
      assert.ok(Object.keys(tuned).some((k) => k.startsWith("filtered_lrelu ")), first.stdout);
      const cache = JSON.parse(Deno.readTextFileSync(`${dir}/tune.json`));
      assert.deepEqual(Object.values(cache.adapters).map((e) => Object.keys(e as object).length), [
        Object.keys(tuned).length,
      ]);
      const second = await sg3("tune", ...net, "--json");
      assert.equal(second.code, 0, second.stderr);
      assert.deepEqual(JSON.parse(second.stdout).tuned, {}, "the second run reuses the cache");
      const images: Uint8Array[] = [];
      for (const tune of ["on", "off"]) {
        const out = `${dir}/${tune}`;
        const r = await sg3("generate", ...net, "--seeds", "3", "--outdir", out, "--tune", tune, "--quiet");
        assert.equal(r.code, 0, r.stderr);
        images.push(Deno.readFileSync(`${out}/seed0003.png`));
      }
      const [on, off] = images.map((b) => decodePng(b).data);
      let worst = 0;
      for (let i = 0; i < on.length; i++) worst = Math.max(worst, Math.abs(on[i] - off[i]));
      assert.ok(worst <= 1, `tuned and default kernels differ by ${worst} levels`);
      const bad = await sg3("generate", ...net, "--seeds", "3", "--outdir", `${dir}/bad`, "--tune", "maybe");
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--tune: expected on, off/);
    } finally {
      if (saved === undefined) Deno.env.delete("SG3_CACHE");
      else Deno.env.set("SG3_CACHE", saved);
      Deno.removeSync(dir, { recursive: true });
    }
  },
);
