/**
 * Compute pipelines compiled once per WGSL source and reused: shader compilation is the slowest step of
 * a first dispatch, and every kernel generates its source deterministically. Pipelines have explicit
 * bind group layouts (from the program declaration), so a binding the shader does not use stays valid,
 * and carry the kernel's name as their label, so that validation errors name the kernel.
 */

/**
 * How a binding is used: the uniform struct, a read-only or a read-write storage buffer, or a 2D float texture
 * (a buffer read through a texture, gpu/texture.ts), sampled ("texture") or as a read-only storage texture of a
 * format ("texture:<format>").
 */
export type BindingKind = "uniform" | "read" | "storage" | "texture" | `texture:${GPUTextureFormat}`;

const BUFFER_TYPE: Record<"uniform" | "read" | "storage", GPUBufferBindingType> = {
  uniform: "uniform",
  read: "read-only-storage",
  storage: "storage",
};

/** The pipeline cache of one device. */
export class PipelineCache {
  /** Pipelines by WGSL code, then by binding kinds (nested, so that a kept code string's hash is reused). */
  readonly #pipelines = new Map<string, Map<string, GPUComputePipeline>>();
  readonly #layouts = new Map<string, GPUPipelineLayout>();
  readonly #groupLayouts = new Map<string, GPUBindGroupLayout>();

  constructor(readonly device: GPUDevice) {}

  /** The pipeline of kernel `label` for `code` (entry point `main`) with bindings `layout`. */
  get(label: string, code: string, layout: BindingKind[]): GPUComputePipeline {
    const key = layout.join(",");
    let byLayout = this.#pipelines.get(code);
    if (!byLayout) this.#pipelines.set(code, byLayout = new Map());
    let pipeline = byLayout.get(key);
    if (!pipeline) {
      const module = this.device.createShaderModule({ label, code });
      pipeline = this.device.createComputePipeline({
        label,
        layout: this.#layout(layout),
        compute: { module, entryPoint: "main" },
      });
      byLayout.set(key, pipeline);
    }
    return pipeline;
  }

  /** The bind group layout of bindings of `kinds` (the one of every pipeline with those bindings). */
  bindGroupLayout(kinds: BindingKind[]): GPUBindGroupLayout {
    const key = kinds.join(",");
    let layout = this.#groupLayouts.get(key);
    if (!layout) {
      layout = this.device.createBindGroupLayout({
        entries: kinds.map((kind, binding) => ({
          binding,
          visibility: GPUShaderStage.COMPUTE,
          ...kind === "texture"
            ? { texture: { sampleType: "unfilterable-float" as const } }
            : kind.startsWith("texture:")
            ? { storageTexture: { access: "read-only" as const, format: kind.slice(8) as GPUTextureFormat } }
            : { buffer: { type: BUFFER_TYPE[kind as keyof typeof BUFFER_TYPE] } },
        })),
      });
      this.#groupLayouts.set(key, layout);
    }
    return layout;
  }

  #layout(kinds: BindingKind[]): GPUPipelineLayout {
    const key = kinds.join(",");
    let layout = this.#layouts.get(key);
    if (!layout) {
      layout = this.device.createPipelineLayout({ bindGroupLayouts: [this.bindGroupLayout(kinds)] });
      this.#layouts.set(key, layout);
    }
    return layout;
  }
}
