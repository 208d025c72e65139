/**
 * One-dimensional launches over n items with 2-D workgroup grids: WebGPU caps each grid dimension
 * (65535 workgroups), so n > 65535 * workgroupSize needs a second dimension. The kernel recovers the
 * flat index as gid.x + gid.y * (grid x * workgroup size) and skips indices >= n.
 */

/** Workgroup counts [x, y] covering n items with `wgSize` threads per workgroup. */
export function grid1d(n: number, wgSize: number, maxPerDim = 65535): [number, number] {
  const groups = Math.ceil(n / wgSize);
  if (groups <= maxPerDim) return [groups, 1];
  const y = Math.ceil(groups / maxPerDim);
  return [Math.ceil(groups / y), y];
}

/**
 * WGSL entry point of a 1-D launch made with {@link grid1d} in a declared program (gpu/program.ts, which
 * defines `WG`): opens `fn main`, binds the flat index to `index` and returns for indices >= `count` (a
 * WGSL expression) — the grid rounds up to whole workgroups and, past 65535 workgroups, to whole rows of
 * them. The caller appends the body and the `}`.
 */
export function main1d(index: string, count: string): string {
  return `fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let ${index} = gid.x + gid.y * nwg.x * WG;
  if (${index} >= ${count}) { return; }`;
}
