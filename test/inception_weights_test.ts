import assert from "node:assert/strict";
import { fixture, fixtureTest, manifest } from "./fixtures.ts";
import {
  fixtureStateDict,
  fromNvidia,
  fromPytorchFid,
  hashU32,
  loadInceptionWeights,
  nvidiaKey,
} from "../models/inception_weights.ts";
import { convOps } from "../models/inception_arch.ts";

async function sha256(a: Float32Array): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new Uint8Array(a.buffer as ArrayBuffer, a.byteOffset, a.byteLength),
  );
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

fixtureTest("hash PRNG matches the manifest's test vectors", "inception", () => {
  const v = manifest("inception").prng.test_vectors;
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7].map((i) => hashU32(1, i)), v.u32_seed1_i0to7);
  assert.deepEqual([0, 1, 2, 3].map((i) => hashU32(1001, i)), v.u32_seed1001_i0to3);
  assert.deepEqual([0, 1, 2, 3].map((i) => hashU32(0, i)), v.u32_seed0_i0to3);
  assert.deepEqual([0, 1, 2, 3].map((i) => hashU32(1, i) / 2 ** 32), v.uniform_seed1_i0to3);
});

fixtureTest("fixture state dict is bit-exact (sha256 of every tensor)", "inception", async () => {
  const sd = fixtureStateDict();
  const tensors = manifest("inception").weights.tensors.filter((t: any) => t.dtype === "float32");
  assert.equal(sd.size, tensors.length);
  for (const t of tensors) {
    const a = sd.get(t.key);
    assert.ok(a, `missing ${t.key}`);
    assert.equal(a.length, t.shape.reduce((x: number, y: number) => x * y, 1), t.key);
    assert.equal(await sha256(a), t.sha256_f32le, t.key);
  }
});

fixtureTest("NVIDIA names follow the manifest's mapping", "inception", () => {
  const mapping = manifest("inception").nvidia_detector_name_mapping.pytorchfid_to_nvidia;
  for (const [key, name] of Object.entries(mapping)) assert.equal(nvidiaKey(key), name, key);
});

Deno.test("both layouts fold to the same weights when gamma is 1", () => {
  const sd = fixtureStateDict({ gammaOne: true });
  const nv = new Map<string, Float32Array>();
  for (const [k, v] of sd) {
    const n = nvidiaKey(k);
    if (n) nv.set(n, v);
  }
  const a = fromPytorchFid((k) => sd.get(k));
  const b = fromNvidia((k) => nv.get(k));
  for (const c of convOps()) {
    assert.deepEqual(a.convs.get(c.name), b.convs.get(c.name), c.name);
  }
  assert.deepEqual(a.fcWeight, b.fcWeight);
  assert.throws(() => fromNvidia(() => undefined), /missing tensor/);
});

fixtureTest("a torch file without Inception tensors is rejected in one line", "inception", async () => {
  await assert.rejects(
    loadInceptionWeights(fixture("inception/loader/torch_save_zip_state_dict.pth")),
    /not an Inception detector/,
  );
});
