/** One GPU device shared by all GPU tests of a test file, opened on first use. */
import { Gpu } from "../gpu/device.ts";

let shared: Promise<Gpu> | null = null;

/** The shared test device. */
export function testGpu(): Promise<Gpu> {
  shared ??= Gpu.open();
  return shared;
}

/** Deno.test options for GPU tests: WebGPU keeps internal resources and ops alive between tests. */
export const GPU_TEST = { sanitizeResources: false, sanitizeOps: false } as const;
