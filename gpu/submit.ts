/**
 * Command submission: dispatches are recorded into one command encoder and one compute pass, and
 * submitted together when results are needed (readback) or the batch grows large. WebGPU makes each
 * dispatch of a compute pass see the writes of the previous ones, so no barriers are needed.
 */
import type { BufferRange, Tensor } from "./tensor.ts";
import type { BindingKind, PipelineCache } from "./pipeline.ts";
import type { OpProfiler } from "./profile.ts";
import { TEXTURE_WIDTH, TexturePool, textureRows } from "./texture.ts";

/** Something bindable as a storage buffer: a tensor (whole), a raw buffer (whole), or a byte range. */
export type Bindable = Tensor | GPUBuffer | BufferRange;

/** Bytes of a buffer to copy into a texture of `format` (`texel` bytes per texel) and bind (gpu/texture.ts). */
export interface Staged {
  /** The bytes (the offset a multiple of `texel`). */
  from: BufferRange;
  /** The texture format. */
  format: GPUTextureFormat;
  /** Bytes per texel of the format. */
  texel: number;
  /** A tensor whose contents no longer change: its texture copy is made once and kept with it. */
  constant?: Tensor;
}

/**
 * One kernel launch, as gpu/program.ts generates it: binding 0 is the uniform struct when `uniforms` is
 * given; storage bindings follow, in the order and with the access kinds of `layout`.
 */
export interface Dispatch {
  /** The kernel's name (pipeline label). */
  label: string;
  /** The tuning tag (kernel, shape and candidate) while the tuner measures. */
  tag?: string;
  /** Floating-point operations of the launch, for profiles (0 or absent: not declared). */
  flops?: number;
  /** The complete WGSL source; its entry point is `main`. */
  code: string;
  /** The access kind of each storage binding, in binding order (the uniform struct not included). */
  layout: BindingKind[];
  /** The bytes of the uniform struct (binding 0); absent: no uniform binding. */
  uniforms?: ArrayBuffer;
  /** The storage bindings (and buffers staged in textures), one per entry of `layout`. */
  bindings: (Bindable | Staged)[];
  /** Workgroup counts [x, y, z]; a zero count records no launch. */
  workgroups: [number, number, number];
}

/** Dispatches recorded per submission before an automatic flush (keeps command buffers bounded). */
const MAX_PENDING = 512;

/** Bytes of released tensors that may wait for the next flush before one is forced. */
const RELEASE_BUDGET = 64 << 20;

/** Bytes of every uniform buffer at least (64 parameters). */
const UNIFORM_MIN = 256;

/** Records dispatches and copies; `flush` submits them as one command buffer. */
export class Submission {
  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  #pending = 0;
  #temporaries: GPUBuffer[] = [];
  #released: Tensor[] = [];
  #releasedBytes = 0;
  readonly #textures: TexturePool;
  /** Per buffer, how many recorded dispatches and copies have written it (see {@link Submission.#target}). */
  readonly #writes = new WeakMap<GPUBuffer, number>();
  /** Per pool texture, the bytes it holds: source buffer, range and the buffer's write count when copied. */
  readonly #holds = new WeakMap<GPUTexture, { buffer: GPUBuffer; range: string }>();
  /** When set, each dispatch is timed in a pass of its own (see gpu/profile.ts). */
  profiler: OpProfiler | null = null;

  constructor(readonly device: GPUDevice, readonly pipelines: PipelineCache) {
    this.#textures = new TexturePool(device);
  }

  /** Records one dispatch. */
  dispatch(d: Dispatch): void {
    const pipeline = this.pipelines.get(d.label, d.code, d.layout);
    const entries: GPUBindGroupEntry[] = [];
    if (d.uniforms) {
      // At least UNIFORM_MIN bytes: pipelines that share a bind group layout (same binding kinds) may be
      // checked against another's uniform struct size (seen with wgpu: "bound with size 32 where the
      // shader expects 40"), so every uniform binding is larger than any struct sg3 declares.
      const ub = this.device.createBuffer({
        size: Math.max(UNIFORM_MIN, d.uniforms.byteLength),
        usage: GPUBufferUsage.UNIFORM,
        mappedAtCreation: true,
      });
      new Uint8Array(ub.getMappedRange()).set(new Uint8Array(d.uniforms));
      ub.unmap();
      this.#temporaries.push(ub);
      entries.push({ binding: 0, resource: { buffer: ub } });
    }
    if (this.profiler) {
      this.#endPass();
      if (this.profiler.full) this.flush();
    }
    let slot = 0;
    const targets = d.bindings.map((b) => "from" in b ? this.#target(b, slot++) : null);
    // While profiling, the copies into textures are timed between two empty passes (gpu/profile.ts).
    const copies = this.profiler && targets.some((t) => t?.copy)
      ? this.profiler.around("texture_copy", d.tag)
      : null;
    if (copies) this.#emptyPass(copies[0]);
    const first = d.uniforms ? 1 : 0;
    d.bindings.forEach((b, i) => {
      const target = targets[i];
      if (target?.copy) this.#copyToTexture(b as Staged, target.texture);
      const resource = target ? target.texture.createView() : asBinding(b as Bindable);
      // What this launch writes no longer matches earlier texture copies of it.
      if (d.layout[first + i] === "storage") this.#written((resource as GPUBufferBinding).buffer);
      entries.push({ binding: first + i, resource });
    });
    if (copies) this.#emptyPass(copies[1]);
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    const pass = this.#computePass(this.profiler?.next(d.label, d.tag, d.flops));
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    const [x, y, z] = d.workgroups;
    if (x > 0 && y > 0 && z > 0) pass.dispatchWorkgroups(x, y, z);
    if (this.profiler) this.#endPass();
    if (++this.#pending >= MAX_PENDING) this.flush();
  }

  /** Records a buffer-to-buffer copy (ends the current compute pass). */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, size: number): void {
    this.#endPass();
    this.#encoder ??= this.device.createCommandEncoder();
    this.#encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, size);
    this.#written(dst);
  }

  /** Counts a recorded write of `buffer`. */
  #written(buffer: GPUBuffer): void {
    this.#writes.set(buffer, (this.#writes.get(buffer) ?? 0) + 1);
  }

  /**
   * The texture that texture binding `slot` of a launch reads staged bytes `s` from, and whether they must be
   * copied into it first: not when it is a constant tensor's texture, nor when the pool's texture holds these
   * bytes already and nothing recorded since has written their buffer (the branches of an Inception block all
   * read the block's input).
   */
  #target(s: Staged, slot: number): { texture: GPUTexture; copy: boolean } {
    if (s.constant?.texture) return { texture: s.constant.texture, copy: false };
    const rows = textureRows(s.from.size / s.texel);
    if (s.constant) {
      return { texture: s.constant.texture = this.#textures.create(s.format, rows), copy: true };
    }
    const texture = this.#textures.get(s.format, rows, slot);
    const range = `${s.from.offset} ${s.from.size} ${this.#writes.get(s.from.buffer) ?? 0}`;
    const held = this.#holds.get(texture);
    const copy = held?.buffer !== s.from.buffer || held.range !== range;
    this.#holds.set(texture, { buffer: s.from.buffer, range });
    return { texture, copy };
  }

  /** Copies staged bytes into `texture` (element i at texel (i mod width, i div width)). */
  #copyToTexture(s: Staged, texture: GPUTexture): void {
    const texels = s.from.size / s.texel;
    this.#endPass();
    this.#encoder ??= this.device.createCommandEncoder();
    const full = Math.floor(texels / TEXTURE_WIDTH), rest = texels - full * TEXTURE_WIDTH;
    const bytesPerRow = TEXTURE_WIDTH * s.texel;
    if (full) {
      this.#encoder.copyBufferToTexture(
        { buffer: s.from.buffer, offset: s.from.offset, bytesPerRow },
        { texture },
        [TEXTURE_WIDTH, full],
      );
    }
    if (rest) {
      this.#encoder.copyBufferToTexture(
        { buffer: s.from.buffer, offset: s.from.offset + full * bytesPerRow, bytesPerRow },
        { texture, origin: [0, full] },
        [rest, 1],
      );
    }
  }

  /**
   * Destroys `t` once the work recorded so far is submitted (WebGPU keeps a destroyed buffer alive for
   * submitted work, but refuses to submit work that uses one): at once when nothing is recorded, else right
   * after the next flush, which comes at once when released tensors of more than RELEASE_BUDGET bytes wait.
   * So freeing intermediates costs no submission of its own.
   */
  release(t: Tensor): void {
    if (!this.#encoder) return t.destroy();
    this.#released.push(t);
    this.#releasedBytes += t.byteSize;
    if (this.#releasedBytes > RELEASE_BUDGET) this.flush();
  }

  /**
   * Submits everything recorded so far, then destroys the tensors released meanwhile and the launches' uniform
   * buffers: at once, since WebGPU keeps a destroyed buffer alive for work already submitted. (Deno's
   * `queue.onSubmittedWorkDone()` blocks the calling thread until the GPU is idle, 2026-12 with Deno 2.9, so
   * waiting for it here stopped the host from recording the next work while the GPU ran.)
   */
  flush(): void {
    this.#endPass();
    if (!this.#encoder) return;
    const afterSubmit = this.profiler?.resolve(this.#encoder);
    this.device.queue.submit([this.#encoder.finish()]);
    afterSubmit?.();
    this.#encoder = null;
    this.#pending = 0;
    const released = this.#released;
    this.#released = [];
    this.#releasedBytes = 0;
    released.forEach((t) => t.destroy());
    this.#temporaries.forEach((b) => b.destroy());
    this.#temporaries = [];
  }

  #computePass(timestampWrites?: GPUComputePassTimestampWrites): GPUComputePassEncoder {
    this.#encoder ??= this.device.createCommandEncoder();
    this.#pass ??= this.#encoder.beginComputePass(timestampWrites ? { timestampWrites } : {});
    return this.#pass;
  }

  /** Records a compute pass without dispatches that writes `timestampWrites`. */
  #emptyPass(timestampWrites: GPUComputePassTimestampWrites): void {
    this.#computePass(timestampWrites);
    this.#endPass();
  }

  #endPass(): void {
    this.#pass?.end();
    this.#pass = null;
  }
}

function asBinding(b: Bindable): GPUBufferBinding {
  if (b instanceof GPUBuffer) return { buffer: b };
  if ("shape" in b) return { buffer: b.buffer, offset: 0, size: Math.ceil(b.byteSize / 4) * 4 };
  return { buffer: b.buffer, offset: b.offset, size: b.size };
}
