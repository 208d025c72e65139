/**
 * PyTorch file readers against the loader fixtures (made by torch.save / torch.jit.save / pickle on
 * PyTorch 1.13): zip and legacy state dicts with every dtype, strided and offset views and shared
 * storages, module state dicts with their `_metadata`, a TorchScript archive and a persistence pickle
 * with embedded legacy storage blobs. Values must be bit-identical to the expected .npy arrays.
 */
import assert from "node:assert/strict";
import { fixture, fixtureTest, manifest } from "./fixtures.ts";
import { collectTensors, readTorchBytes, readTorchFile, type TypedTensor } from "../formats/torch.ts";
import type { PyDict } from "../formats/pickle.ts";
import { type NdArray, readNpy } from "../formats/npy.ts";

const LOADER = "inception";

/** Asserts a loaded tensor equals an expected .npy array exactly (dtype family, shape, bits). */
function assertTensorEquals(t: TypedTensor, e: NdArray, what: string): void {
  assert.deepEqual(t.shape, e.shape, `${what} shape`);
  assert.equal(t.data.length, e.data.length, `${what} length`);
  const a = Array.from(t.data as ArrayLike<number | bigint>),
    b = Array.from(e.data as ArrayLike<number | bigint>);
  assert.deepEqual(a.map(String), b.map(String), `${what} values`);
}

for (const kind of ["zip", "legacy"] as const) {
  fixtureTest(`readTorchFile: ${kind} state dict with every dtype, views and offsets`, LOADER, async () => {
    const m = manifest("inception").loader;
    const sd = await readTorchFile(fixture("inception", m[kind].file));
    const entries = m.state_dict_entries as Record<
      string,
      { dtype: string; shape: number[]; expected: string }
    >;
    assert.deepEqual([...sd.keys()], Object.keys(entries));
    for (const [key, entry] of Object.entries(entries)) {
      const t = sd.get(key)!;
      assert.equal(t.dtype, entry.dtype, `${key} dtype`);
      assertTensorEquals(t, readNpy(fixture("inception", entry.expected)), key);
    }
  });

  fixtureTest(`readTorchBytes: ${kind} shared storages stay shared`, LOADER, () => {
    const m = manifest("inception").loader;
    const bytes = Deno.readFileSync(fixture("inception", m[kind].file));
    const tensors = collectTensors(readTorchBytes(bytes, kind));
    const base = tensors.get("shared_base")!, view = tensors.get("shared_view_offset3")!;
    assert.equal(base.storage, view.storage);
    assert.equal(view.offset, 3);
    assert.deepEqual(tensors.get("f32_transposed")!.stride, [1, 4]);
  });

  fixtureTest(`readTorchFile: ${kind} module state dict and its _metadata`, LOADER, async () => {
    const m = manifest("inception").loader;
    const file = fixture("inception", m.module_state_dict[kind].file);
    const sd = await readTorchFile(file);
    for (const [key, path] of Object.entries(m.torchscript.expected as Record<string, string>)) {
      assertTensorEquals(sd.get(key)!, readNpy(fixture("inception", path)), key);
    }
    const root = readTorchBytes(Deno.readFileSync(file), kind) as PyDict;
    const meta = (root.attrs as PyDict).get("_metadata") as PyDict;
    for (const [k, v] of Object.entries(m.module_state_dict[kind].metadata_attribute)) {
      assert.deepEqual(Object.fromEntries(meta.get(k) as PyDict), v, `_metadata[${k}]`);
    }
  });
}

fixtureTest("readTorchFile: TorchScript archive weights", LOADER, async () => {
  const m = manifest("inception").loader.torchscript;
  const sd = await readTorchFile(fixture("inception", m.file));
  const expected = Object.entries(m.expected as Record<string, string>);
  assert.deepEqual([...sd.keys()].sort(), expected.map(([k]) => k).sort());
  for (const [key, path] of expected) {
    assertTensorEquals(sd.get(key)!, readNpy(fixture("inception", path)), key);
  }
});

fixtureTest("readTorchFile: persistence pickle with embedded legacy storages", LOADER, async () => {
  const m = manifest("inception").loader.plain_pickle_persistence;
  const sd = await readTorchFile(fixture("inception", m.file));
  assert.deepEqual([...sd.keys()].sort(), ["beta", "mean", "var", "weight"]);
  for (const key of sd.keys()) {
    assertTensorEquals(
      sd.get(key)!,
      readNpy(fixture("inception", "loader", "plain_pickle_expected", `${key}.npy`)),
      key,
    );
  }
});
