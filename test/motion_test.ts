/**
 * Input motion for equivariance videos: the per-frame user transforms, the inverse buffer the synthesis
 * input receives, and the bilinear resampling that moves an image the way that buffer moves the input.
 */
import assert from "node:assert/strict";
import { motionAt, motionTransform, resampleImage } from "../models/motion.ts";
import { assertClose } from "./reference.ts";

Deno.test("motion paths: translate, rotate and circle start at the identity and move at --speed", () => {
  const t = { kind: "translate", speed: 0.5, fps: 10, direction: 90 } as const;
  assertClose(motionAt(t, 4).translate, [0, 0.2], { abs: 1e-15 });
  assert.equal(motionAt({ kind: "rotate", speed: 30, fps: 10 }, 5).angle, 15);
  const c = { kind: "circle", speed: 0.25, fps: 4, radius: 0.1 } as const;
  assertClose(motionAt(c, 0).translate, [0, 0], { abs: 0 });
  assertClose(motionAt(c, 4).translate, [-0.1, 0.1], { abs: 1e-15 }, "a quarter turn after 1 s");
  assertClose(motionAt(c, 16).translate, [0, 0], { abs: 1e-15 }, "back after 4 s");
  // The buffer is the inverse of make_transform: translate (tx, ty) -> [[1, 0, -tx], [0, 1, -ty]].
  assertClose(motionTransform(t, 4), [1, 0, 0, 0, 1, -0.2, 0, 0, 1], { abs: 1e-15 });
});

Deno.test("resampling: integer shifts copy pixels; a rotation by 90 degrees turns the image", () => {
  const w = 4, h = 4;
  const img = Float32Array.from({ length: 2 * w * h }, (_, i) => i + 1);
  // Content moves by translate * size pixels: one pixel right, zero where nothing comes in.
  const right = resampleImage(img, 2, h, w, motionTransform({ kind: "translate", speed: 1, fps: 4 }, 1));
  for (let c = 0; c < 2; c++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        assert.equal(right[(c * h + y) * w + x], x === 0 ? 0 : img[(c * h + y) * w + x - 1]);
      }
    }
  }
  // make_transform(0, 90) maps (x, y) to (y, -x): with y down, a point right of the centre goes up.
  const rot = resampleImage(img, 1, h, w, motionTransform({ kind: "rotate", speed: 90, fps: 1 }, 1));
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) assert.equal(rot[(w - 1 - x) * w + y], img[y * w + x], `pixel ${x},${y}`);
  }
});
