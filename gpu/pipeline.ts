/**
 * Compute pipelines compiled once per (WGSL source, entry point) and reused: shader compilation is
 * the slowest step of a first dispatch, and every kernel wrapper generates its source deterministically.
 */
export class PipelineCache {
  readonly #pipelines = new Map<string, GPUComputePipeline>();

  constructor(readonly device: GPUDevice) {}

  /** The pipeline for `code` at entry point `entry`, compiled on first use. */
  get(code: string, entry = "main"): GPUComputePipeline {
    const key = entry + "\u0000" + code;
    let pipeline = this.#pipelines.get(key);
    if (!pipeline) {
      const module = this.device.createShaderModule({ code });
      pipeline = this.device.createComputePipeline({
        layout: "auto",
        compute: { module, entryPoint: entry },
      });
      this.#pipelines.set(key, pipeline);
    }
    return pipeline;
  }

  /** How many distinct pipelines have been compiled. */
  get size(): number {
    return this.#pipelines.size;
  }
}
