/**
 * Calibration of random-initialised networks: after the single pass, every layer's magnitude_ema must equal
 * the geometric mean square of its input measured by a fresh forward pass of the calibrated network (which
 * checks the homogeneity argument), and the images' per-sample standard deviations must have the target geometric mean.
 */
import assert from "node:assert/strict";
import { GPU_TEST, testGpu } from "./gpu.ts";
import { randomNetwork } from "../models/random_init.ts";
import { calibrateMagnitudes } from "../models/calibrate.ts";
import { Generator } from "../models/generator.ts";
import { RandomState } from "../models/latents.ts";
import { readTensor } from "../gpu/readback.ts";
import type { Tensor } from "../gpu/tensor.ts";

for (const cfg of ["stylegan3-t", "stylegan3-r"] as const) {
  Deno.test(
    { name: `calibrateMagnitudes puts ${cfg} layer inputs at their magnitude_ema`, ...GPU_TEST },
    async () => {
      const gpu = await testGpu();
      const net = randomNetwork({ cfg, res: 32, cbase: 512, cmax: 16, zDim: 16, wDim: 16, seed: 3 });
      await calibrateMagnitudes(gpu, net, { samples: 4, seed: 99 });
      const gen = Generator.create(gpu, net);
      const capture = new Map<string, Tensor>();
      gen.synthesis(gen.mapping(new RandomState(99).randn(4 * gen.zDim), 4), { capture });
      const outs = [...capture.entries()];
      for (let k = 0; k + 1 < outs.length - 1; k++) {
        const x = await readTensor(gpu, outs[k][1]);
        const per = x.length / 4;
        let logSum = 0;
        for (let s = 0; s < 4; s++) {
          let sum = 0;
          for (let i = s * per; i < (s + 1) * per; i++) sum += x[i] * x[i];
          logSum += Math.log(sum / per);
        }
        const ema = net.tensors.get(`synthesis.${outs[k + 1][0]}.magnitude_ema`)!.data[0];
        const ratio = Math.exp(logSum / 4) / ema;
        assert.ok(
          Math.abs(ratio - 1) < 1e-3,
          `${outs[k + 1][0]}: input mean square / magnitude_ema = ${ratio}`,
        );
      }
      const img = await readTensor(gpu, outs[outs.length - 1][1]);
      const per = img.length / 4;
      let logStd = 0;
      for (let s = 0; s < 4; s++) {
        let sum = 0, sum2 = 0;
        for (let i = s * per; i < (s + 1) * per; i++) (sum += img[i]), (sum2 += img[i] * img[i]);
        logStd += 0.5 * Math.log(sum2 / per - (sum / per) ** 2);
      }
      const std = Math.exp(logStd / 4);
      assert.ok(Math.abs(std - 0.5) < 5e-3, `geometric mean of per-image std ${std}, target 0.5`);
      capture.forEach((t) => t.destroy());
      gen.destroy();
    },
  );
}
