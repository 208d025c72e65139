/**
 * The mapping network's broadcast and truncation: ws[n, i, :] = w_avg.lerp(w[n, :], psi) for i < cutoff,
 * else w[n, :]. lerp is torch's: start + t (end - start) for |t| < 0.5, else end - (end - start)(1 - t).
 */
import type { Gpu } from "../gpu/device.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { runProgram } from "../gpu/program.ts";
import { grid1d, main1d } from "./grid.ts";

const WG = 256;

const TRUNCATE = /* wgsl */ `
${main1d("idx", "p.total")}
  let k = idx % p.d;
  let i = (idx / p.d) % p.numWs;
  let n = idx / (p.d * p.numWs);
  let end = w[n * p.d + k];
  var v = end;
  if (i < p.cutoff && p.psi != 1.0) {
    let start = wAvg[k];
    v = select(end - (end - start) * (1.0 - p.psi), start + p.psi * (end - start), abs(p.psi) < 0.5);
  }
  ws[idx] = v;
}`;

/** ws [N, numWs, D] from w [N, D]: repeated, and truncated towards wAvg [D] for the first `cutoff` ws. */
export function broadcastTruncate(
  gpu: Gpu,
  w: Tensor,
  wAvg: Tensor,
  numWs: number,
  psi: number,
  cutoff: number,
): Tensor {
  const [n, d] = w.shape;
  const ws = gpu.tensor([n, numWs, d]);
  runProgram(gpu, {
    name: "broadcast_truncate",
    params: {
      total: ["u32", ws.size],
      numWs: ["u32", numWs],
      d: ["u32", d],
      cutoff: ["u32", Math.max(0, Math.min(cutoff, numWs))],
      psi: ["f32", psi],
    },
    buffers: [{ name: "w", data: w }, { name: "wAvg", data: wAvg }, {
      name: "ws",
      data: ws,
      access: "read_write",
    }],
    workgroupSize: WG,
    source: TRUNCATE,
    workgroups: grid1d(ws.size, WG, gpu.maxWorkgroups),
  });
  return ws;
}
