/**
 * The GPU context every command shares: the device (with the limits sg3's kernels need), its pipeline
 * cache and its command submission, plus tensor allocation and upload.
 */
import { UserError } from "../errors.ts";
import { requestAdapter, summarizeAdapter } from "./adapter.ts";
import type { AdapterSummary } from "./adapter.ts";
import { PipelineCache } from "./pipeline.ts";
import { type TuneMode, Tuner } from "./tuner.ts";
import { sinIsAccurate } from "./sin_probe.ts";
import { type Dispatch, Submission } from "./submit.ts";
import { sizeClass } from "./buffer_pool.ts";
import { type DType, dtypeBytes, numel, Tensor } from "./tensor.ts";

/** Options for opening the GPU. */
export interface GpuOptions {
  /** Adapter choice: "high-performance" (default), "low-power" or a substring of its description. */
  adapter?: string;
  /** Kernel variants: "on" uses the tuning cache (default), "off" always the defaults. */
  tune?: TuneMode;
}

/** Data that can be uploaded into a tensor; f16 tensors take a Float32Array and round it. */
export type HostArray = Float32Array | Float16Array | Float64Array;

const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** An open WebGPU device with sg3's conveniences. */
export class Gpu {
  /**
   * The compiled pipelines of this device, one per kernel source (gpu/pipeline.ts).
   * @internal
   */
  readonly pipelines: PipelineCache;
  /**
   * The recorder of dispatches and copies that {@link Gpu.flush} submits (gpu/submit.ts).
   * @internal
   */
  readonly submission: Submission;
  /**
   * Kernel variant choices for this adapter (gpu/tuner.ts).
   * @internal
   */
  readonly tuner: Tuner;
  /**
   * Whether WGSL sin() is accurate to float32 precision on [-pi, pi] on this adapter (probed when the device
   * opens, gpu/sin_probe.ts); kernels that need that precision use their own polynomial otherwise.
   */
  accurateSin = true;
  /**
   * Whether kernels that read through textures bind those of storage formats as read-only storage textures
   * (WGSL's `readonly_and_readwrite_storage_textures`; cheaper on llvmpipe, see gpu/texture.ts). Decided once,
   * when the device opens: every launch asks.
   */
  readonly storageTextureReads: boolean;
  #error: string | null = null;

  private constructor(
    /** The WebGPU adapter the device was requested from. */
    readonly adapter: GPUAdapter,
    /** The WebGPU device; raw buffers and pipelines may be made on it directly. */
    readonly device: GPUDevice,
    /** The adapter's name, vendor, features and limits (see {@link summarizeAdapter}). */
    readonly summary: AdapterSummary,
  ) {
    this.pipelines = new PipelineCache(device);
    const wgsl = (navigator.gpu as { wgslLanguageFeatures?: ReadonlySet<string> }).wgslLanguageFeatures;
    this.storageTextureReads = this.textureReads && !!wgsl?.has("readonly_and_readwrite_storage_textures");
    this.submission = new Submission(device, this.pipelines, this.storageTextureReads);
    this.tuner = new Tuner(summary);
    device.addEventListener("uncapturederror", (e) => {
      this.#error ??= (e as GPUUncapturedErrorEvent).error.message;
    });
    device.lost.then((info) => {
      if (info.reason !== "destroyed") this.#error ??= `GPU device lost: ${info.message}`;
    });
  }

  /**
   * Opens the adapter and requests a device with its full buffer limits, and `shader-f16` and
   * `timestamp-query` (for `deno task bench`'s per-kernel times) when present.
   *
   * @example Open the GPU, run a kernel and read the result back
   * ```ts
   * import { axpby, Gpu, readTensor } from "@sg3/sg3";
   *
   * const gpu = await Gpu.open(); // or { adapter: "low-power" }, or a substring of the adapter's name
   * console.log(gpu.summary.description, gpu.f16 ? "with shader-f16" : "f32 only");
   * const x = gpu.upload(new Float32Array([1, 2, 3]), [3]);
   * const y = gpu.upload(new Float32Array([10, 20, 30]), [3]);
   * const z = axpby(gpu, 2, x, 1, y); // 2 x + y
   * console.log(await readTensor(gpu, z)); // Float32Array [12, 24, 36]
   * gpu.destroy();
   * ```
   */
  static async open(options: GpuOptions = {}): Promise<Gpu> {
    const adapter = await requestAdapter(options.adapter);
    const l = adapter.limits;
    const wanted: GPUFeatureName[] = ["shader-f16", "timestamp-query"];
    const requiredFeatures = wanted.filter((f) => adapter.features.has(f));
    let device: GPUDevice;
    try {
      device = await adapter.requestDevice({
        requiredFeatures,
        requiredLimits: {
          maxBufferSize: l.maxBufferSize,
          maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
          maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
          maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
          maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
          maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
          maxComputeWorkgroupSizeY: l.maxComputeWorkgroupSizeY,
          maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
          maxTextureDimension2D: l.maxTextureDimension2D,
          maxStorageTexturesPerShaderStage: l.maxStorageTexturesPerShaderStage,
        },
      });
    } catch (e) {
      throw new UserError(`could not open the WebGPU device: ${(e as Error).message}`);
    }
    const gpu = new Gpu(adapter, device, summarizeAdapter(adapter));
    gpu.tuner.mode = options.tune ?? "on";
    // Deno reads SG3_DEBUG_POISON; in a browser (the viewer's page) there is no environment.
    gpu.submission.poison = (globalThis as { Deno?: typeof Deno }).Deno?.env.get("SG3_DEBUG_POISON") === "1";
    gpu.accurateSin = await sinIsAccurate(device);
    return gpu;
  }

  /** Whether dispatches can be timed on the GPU (`timestamp-query`; gpu/profile.ts). */
  get profilable(): boolean {
    return this.device.features.has("timestamp-query");
  }

  /** Whether f16 storage and arithmetic are available (`shader-f16`). */
  get f16(): boolean {
    return this.device.features.has("shader-f16");
  }

  /** The largest byte size of one storage binding. */
  get maxBinding(): number {
    return Number(this.device.limits.maxStorageBufferBindingSize);
  }

  /** The largest byte size of one buffer. */
  get maxBuffer(): number {
    return Number(this.device.limits.maxBufferSize);
  }

  /** Offsets of storage bindings must be multiples of this. */
  get bindingAlign(): number {
    return this.device.limits.minStorageBufferOffsetAlignment;
  }

  /** The most storage buffers one shader stage may bind. */
  get maxStorageBuffers(): number {
    return this.device.limits.maxStorageBuffersPerShaderStage;
  }

  /**
   * Whether kernels read their inputs through textures: on software adapters, whose storage-buffer loads cost
   * several times a texel fetch (gpu/texture.ts).
   */
  get textureReads(): boolean {
    return this.summary.isFallback;
  }

  /** The most storage textures one shader stage may bind. */
  get maxStorageTextures(): number {
    return this.device.limits.maxStorageTexturesPerShaderStage;
  }

  /** The most rows of a texture that a buffer is read through (gpu/texture.ts). */
  get maxTextureRows(): number {
    return this.device.limits.maxTextureDimension2D;
  }

  /** Bytes of workgroup memory one workgroup may use. */
  get maxWorkgroupStorage(): number {
    return this.device.limits.maxComputeWorkgroupStorageSize;
  }

  /** The most invocations in one workgroup. */
  get maxInvocations(): number {
    return this.device.limits.maxComputeInvocationsPerWorkgroup;
  }

  /** The most workgroups per dispatch dimension. */
  get maxWorkgroups(): number {
    return this.device.limits.maxComputeWorkgroupsPerDimension;
  }

  /**
   * Allocates a tensor with undefined contents (a released tensor's buffer of the same size class when one is
   * free, gpu/buffer_pool.ts): the kernel that produces it must write every element, or use {@link Gpu.zeros}.
   */
  tensor(shape: readonly number[], dtype: DType = "f32"): Tensor {
    if (dtype === "f16" && !this.f16) {
      throw new UserError("this adapter has no shader-f16 support for float16 tensors", "fp16");
    }
    const bytes = Math.max(4, Math.ceil((numel(shape) * dtypeBytes(dtype)) / 4) * 4);
    if (bytes > this.maxBuffer) {
      throw new UserError(
        `a tensor of shape [${shape.join(", ")}] needs ${bytes} bytes, more than this adapter's ` +
          `maxBufferSize ${this.maxBuffer}; use a smaller batch`,
      );
    }
    // Its buffer may be larger (a size class, gpu/buffer_pool.ts); bindings cover the tensor's bytes only.
    const buffer = this.submission.allocate(Math.min(sizeClass(bytes), this.maxBuffer), STORAGE);
    return new Tensor(buffer, shape, dtype, () => this.submission.forget(buffer));
  }

  /** Allocates a tensor of zeros (cleared in order with the recorded work). */
  zeros(shape: readonly number[], dtype: DType = "f32"): Tensor {
    const t = this.tensor(shape, dtype);
    this.submission.clear(t.buffer);
    return t;
  }

  /** Creates a tensor holding `data` (converted to `dtype`). */
  upload(data: HostArray, shape: readonly number[], dtype: DType = "f32"): Tensor {
    if (data.length !== numel(shape)) throw new Error(`upload: ${data.length} values for shape [${shape}]`);
    const t = this.tensor(shape, dtype);
    const typed = dtype === "f32"
      ? (data instanceof Float32Array ? data : Float32Array.from(data))
      : (data instanceof Float16Array ? data : Float16Array.from(data));
    this.write(t.buffer, 0, typed);
    return t;
  }

  /**
   * Writes host data into a buffer at a byte offset (padding the byte count to 4), in order with the work
   * recorded so far.
   */
  write(buffer: GPUBuffer, offset: number, data: ArrayBufferView): void {
    const bytes = new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
    let padded = bytes;
    if (bytes.byteLength % 4) {
      padded = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
      padded.set(bytes);
    }
    this.submission.write(buffer, offset, padded);
  }

  /** Records a kernel launch (see {@link Dispatch}); it runs at the next flush or readback. */
  dispatch(d: Dispatch): void {
    this.submission.dispatch(d);
  }

  /**
   * Hands tensors (nulls skipped) the caller is done with to the next allocations of their sizes, after the
   * work recorded so far (see Submission.release); the caller must not use them again.
   */
  release(...tensors: (Tensor | null | undefined)[]): void {
    for (const t of tensors) if (t) this.submission.release(t);
  }

  /** Submits recorded work. */
  flush(): void {
    this.submission.flush();
  }

  /** Throws the first WebGPU validation/out-of-memory error or device loss seen so far. */
  throwIfFailed(): void {
    if (this.#error) throw new Error(`WebGPU error: ${this.#error}`);
  }

  /** Waits for all submitted work. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.throwIfFailed();
  }

  /** Releases the device. */
  destroy(): void {
    this.device.destroy();
  }
}
