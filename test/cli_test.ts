import assert from "node:assert/strict";
import { GPU_TEST } from "./gpu.ts";
import { sg3, sg3Command, TINY_NET } from "./cli.ts";
import { join } from "node:path";
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

/** Whether a WebGPU adapter exists on `backend` (probed in a subprocess: the backend is fixed per process). */
async function hasAdapter(backend: string): Promise<boolean> {
  if (Deno.build.os !== "linux") return false;
  const probe = "const a = await navigator.gpu?.requestAdapter(); Deno.exit(a ? 0 : 3);";
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["eval", probe],
    env: { XDG_RUNTIME_DIR: "/tmp", DENO_WEBGPU_BACKEND: backend },
    stdout: "null",
    stderr: "null",
  }).output();
  return r.code === 0;
}

const BACKENDS = (await hasAdapter("gl")) && (await hasAdapter("vulkan"));

Deno.test({
  name: BACKENDS
    ? "the OpenGL backend (a fallback without Vulkan) draws the same image as Vulkan"
    : "the OpenGL backend draws the same image as Vulkan (ignored: no OpenGL and Vulkan adapters here)",
  ignore: !BACKENDS,
  ...GPU_TEST,
}, async () => {
  const dir = Deno.makeTempDirSync();
  const draw = async (backend: string) => {
    const out = join(dir, backend);
    const r = await sg3Command(
      ["generate", ...TINY_NET, "--seeds", "4", "--outdir", out, "--quiet"],
      { env: { DENO_WEBGPU_BACKEND: backend } },
    ).output();
    assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
    return decodePng(Deno.readFileSync(join(out, "seed0004.png"))).data;
  };
  assert.deepEqual(await draw("gl"), await draw("vulkan"));
  Deno.removeSync(dir, { recursive: true });
});
