import assert from "node:assert/strict";
import { formatNpy, formatNpz, parseNpy, parseNpz, readNpy } from "../formats/npy.ts";
import { UserError } from "../errors.ts";
import { fixture, fixtureTest } from "./fixtures.ts";

Deno.test("npy round-trips float32, float64 and uint8 arrays", () => {
  for (
    const a of [
      { shape: [2, 3], dtype: "<f4", data: new Float32Array([1, 2, 3, 4, 5, 6.5]) },
      { shape: [3], dtype: "<f8", data: new Float64Array([Math.PI, -1, 1e-300]) },
      { shape: [1, 2, 2], dtype: "|u1", data: new Uint8Array([0, 255, 7, 9]) },
    ]
  ) {
    const back = parseNpy(formatNpy(a));
    assert.deepEqual(back.shape, a.shape);
    assert.equal(back.dtype, a.dtype);
    assert.deepEqual([...back.data], [...a.data]);
  }
});

Deno.test("npz round-trips and bad bytes give a UserError", () => {
  const npz = formatNpz({ mu: { shape: [2], dtype: "<f8", data: new Float64Array([1, 2]) } });
  assert.deepEqual([...parseNpz(npz).get("mu")!.data], [1, 2]);
  assert.throws(() => parseNpy(new Uint8Array([1, 2, 3])), UserError);
  assert.throws(() => parseNpz(new Uint8Array([1, 2, 3, 4, 5])), UserError);
  assert.throws(
    () => parseNpy(formatNpy({ shape: [4], dtype: "<f4", data: new Float32Array(4) }).slice(0, 130)),
    UserError,
  );
});

fixtureTest("npy reads the fixtures' z vectors (float64, shape [1, 32])", "sg3", () => {
  const z = readNpy(fixture("sg3", "tiny-t", "z-seed0.npy"));
  assert.equal(z.dtype, "<f8");
  assert.deepEqual(z.shape, [1, 32]);
});
