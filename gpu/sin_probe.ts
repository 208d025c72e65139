/**
 * Whether the adapter's WGSL `sin()` is accurate to float32 precision on [-pi, pi]. WGSL promises only
 * 2^-11 absolute there, and some implementations (SwiftShader, Chromium's software adapter) use fast
 * approximations that move StyleGAN3's Fourier input beyond the official tolerance; kernels that need the
 * precision use their own polynomial on such adapters. The probe evaluates sin() at 4096 points on the GPU
 * and compares with float64, once when the device opens. It runs on the raw device (before the `Gpu` that
 * holds the result exists), so it declares its one binding directly.
 */

/** Points of the probe, spread over [-pi, pi] (the ends included). */
const POINTS = 4096;

/** Largest absolute error accepted as accurate: a few float32 ulps of 1. */
const TOLERANCE = 5e-7;

const PROBE = /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> v: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x < arrayLength(&v)) { v[gid.x] = sin(v[gid.x]); }
}`;

/** The largest |sin_gpu(x) - sin(x)| over the probe's points on [-pi, pi]. */
export async function sinError(device: GPUDevice): Promise<number> {
  const xs = Float32Array.from(
    { length: POINTS },
    (_, i) => Math.fround(-Math.PI + (2 * Math.PI * i) / (POINTS - 1)),
  );
  const data = device.createBuffer({
    size: xs.byteLength,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  });
  const staging = device.createBuffer({
    size: xs.byteLength,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(data, 0, xs);
  const pipeline = device.createComputePipeline({
    label: "sin_probe",
    layout: "auto",
    compute: { module: device.createShaderModule({ label: "sin_probe", code: PROBE }), entryPoint: "main" },
  });
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(
    0,
    device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [{ binding: 0, resource: { buffer: data } }],
    }),
  );
  pass.dispatchWorkgroups(POINTS / 64);
  pass.end();
  encoder.copyBufferToBuffer(data, 0, staging, 0, xs.byteLength);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const got = new Float32Array(staging.getMappedRange().slice(0));
  staging.unmap();
  staging.destroy();
  data.destroy();
  return got.reduce((m, v, i) => Math.max(m, Math.abs(v - Math.sin(xs[i]))), 0);
}

/** Whether sin() is accurate to {@link TOLERANCE} (see the module doc). */
export async function sinIsAccurate(device: GPUDevice): Promise<boolean> {
  return (await sinError(device)) <= TOLERANCE;
}
