/**
 * Command submission: dispatches are recorded into one command encoder and one compute pass, and
 * submitted together when results are needed (readback) or the batch grows large. WebGPU makes each
 * dispatch of a compute pass see the writes of the previous ones, so no barriers are needed.
 */
import type { BufferRange, Tensor } from "./tensor.ts";
import type { BindingKind, PipelineCache } from "./pipeline.ts";
import type { OpProfiler } from "./profile.ts";
import { TEXTURE_WIDTH, TexturePool, textureRows } from "./texture.ts";
import { BufferPool } from "./buffer_pool.ts";

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

/**
 * Host milliseconds of recording after which the work recorded so far is submitted once without waiting for
 * the readback (see {@link Submission.dispatch}), while earlier submissions may still be running.
 */
const EARLY_FLUSH_MS = 100;

/**
 * The same when everything submitted has run ({@link Submission.idle}): the GPU would otherwise wait for the
 * whole recording. On llvmpipe (2 cores, 2026-12-03) the host records an Inception pass in 12-34 ms and a
 * stylegan3 one in 10-13; submitting after 3 ms instead of 100 took medians of 15.5, 27.5, 0.8 and 26.2 ms off
 * an Inception pass at batch 1 (four runs of 16-30 paired alternating passes in one process) and 32.6 ms at
 * batch 4 (10 pairs).
 */
const IDLE_FLUSH_MS = 3;

/**
 * Bytes of released tensors' buffers kept for reuse at least (gpu/buffer_pool.ts; more for networks that hold
 * more at once). Batches release and take buffers in the same order, so a pool smaller than a batch's buffers
 * (the oldest dropped first) serves almost none of the next batch's: with 256 MiB, stylegan3-t-128 at batch 4
 * still made 48 buffers (667 MiB) per batch on llvmpipe, with 1 GiB none at batch 4 or 8.
 */
const POOL_BUDGET = 1 << 30;

/**
 * The 32-bit pattern that poisoned buffers are filled with: a float32 NaN, and as two float16 values two NaNs
 * (see {@link Submission.poison}).
 */
export const POISON = 0x7fc07e00;

/** Entries kept in each of sg3's launch caches (uniform buffers, bind groups, sources) before it starts over. */
export const CACHE_LIMIT = 4096;

/** Bytes of every uniform buffer at least (64 parameters). */
const UNIFORM_MIN = 256;

/** Records dispatches and copies; `flush` submits them as one command buffer. */
export class Submission {
  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  #pending = 0;
  /** When the first command of the current recording was recorded (performance.now()). */
  #since = 0;
  /** Whether the current batch of work was already submitted early (see {@link Submission.dispatch}). */
  #early = false;
  /** Buffers and textures to destroy after the next submission (recorded work may still use them). */
  #doomed: (GPUBuffer | GPUTexture)[] = [];
  readonly #pool = new BufferPool(POOL_BUDGET);
  /** Uniform buffers by contents, bind groups by resources, views by texture (see {@link Submission.#bindGroup}). */
  readonly #uniforms = new Map<string, GPUBuffer>();
  readonly #bindGroups = new Map<string, GPUBindGroup>();
  readonly #views = new WeakMap<GPUTexture, GPUTextureView>();
  readonly #ids = new WeakMap<object, number>();
  #nextId = 0;
  /**
   * Buffers that host writes must follow in order with the recorded work ({@link Submission.write}): released
   * since the last submission (recorded work may still read their previous contents), or cleared or written by
   * recorded commands.
   */
  #ordered = new Set<GPUBuffer>();
  #poisonBytes = new Uint8Array(0);
  readonly #textures: TexturePool;
  /** Per buffer, how many recorded dispatches and copies, host writes and new owners have written it (see {@link Submission.#target}). */
  readonly #writes = new WeakMap<GPUBuffer, number>();
  /** Per pool texture, the bytes it holds: source buffer, range and the buffer's write count when copied. */
  readonly #holds = new WeakMap<GPUTexture, { buffer: GPUBuffer; range: string }>();
  /** How many command buffers {@link Submission.flush} has submitted (`deno task bench` shows it per call). */
  submitted = 0;
  /**
   * Host milliseconds spent in `queue.submit` (`deno task bench` leaves them out of recording times): on llvmpipe
   * a submission waits there for the previous one to run.
   */
  submitMs = 0;
  /** How many of the first submissions are known to have run (see {@link Submission.ran}). */
  #ran = 0;
  /** How many buffers {@link Submission.allocate} has created rather than reused (`deno task bench`: per call). */
  created = 0;
  /** When set, each dispatch is timed in a pass of its own (see gpu/profile.ts). */
  profiler: OpProfiler | null = null;
  /**
   * When set, every buffer {@link Submission.allocate} hands out and every released tensor's buffer is filled
   * with {@link POISON} (NaNs, in order with the recorded work), so that a kernel reading memory it did not
   * write, or work recorded with a tensor after its release, shows (`SG3_DEBUG_POISON=1`; the tests).
   */
  poison = false;

  /** With `storageTextures`, pool textures of storage formats may be bound as read-only storage textures. */
  constructor(readonly device: GPUDevice, readonly pipelines: PipelineCache, storageTextures = false) {
    this.#textures = new TexturePool(device, storageTextures);
  }

  /** Records one dispatch. */
  dispatch(d: Dispatch): void {
    const pipeline = this.pipelines.get(d.label, d.code, d.layout);
    const entries: GPUBindGroupEntry[] = [];
    if (d.uniforms) entries.push({ binding: 0, resource: { buffer: this.#uniform(d.uniforms) } });
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
      const resource = target ? this.#view(target.texture) : asBinding(b as Bindable);
      // What this launch writes no longer matches earlier texture copies of it.
      if (d.layout[first + i] === "storage") this.#written((resource as GPUBufferBinding).buffer);
      entries.push({ binding: first + i, resource });
    });
    if (copies) this.#emptyPass(copies[1]);
    const bindGroup = this.#bindGroup(d.layout, entries);
    const pass = this.#computePass(this.profiler?.next(d.label, d.tag, d.flops));
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    const [x, y, z] = d.workgroups;
    if (x > 0 && y > 0 && z > 0) pass.dispatchWorkgroups(x, y, z);
    if (this.profiler) this.#endPass();
    if (++this.#pending >= MAX_PENDING) this.flush();
    else if (!this.#early && performance.now() - this.#since > (this.idle ? IDLE_FLUSH_MS : EARLY_FLUSH_MS)) {
      // Let the GPU start on what is recorded: soon when it has nothing else to run, else only when recording is
      // slow (a run's start: pipelines compile, Winograd weights transform); while a step runs, the next one's
      // work waits for that step's readback (gpu/ahead.ts). Once only until the next explicit flush: a
      // submission waits for the previous one on some drivers (llvmpipe), which would hold the host back.
      this.#submit();
      this.#early = true;
    }
  }

  /**
   * Records that the first `count` submissions have run: a readback's map resolves only once the work submitted
   * before it has (gpu/readback.ts calls this).
   */
  ran(count: number): void {
    this.#ran = Math.max(this.#ran, count);
  }

  /** Whether every submission is known to have run (then the GPU waits for the next one). */
  get idle(): boolean {
    return this.#ran === this.submitted;
  }

  /**
   * The uniform buffer holding `bytes`, made once per distinct contents and kept (never written again): a
   * network's launches repeat their parameters batch after batch, so creating a buffer per launch was host
   * time spent again for every batch. Past {@link CACHE_LIMIT} buffers the cache starts over.
   */
  #uniform(bytes: ArrayBuffer): GPUBuffer {
    const key = new Uint32Array(bytes).join(",");
    let buffer = this.#uniforms.get(key);
    if (!buffer) {
      if (this.#uniforms.size >= CACHE_LIMIT) {
        this.#discard(...this.#uniforms.values());
        this.#uniforms.clear();
      }
      // At least UNIFORM_MIN bytes: pipelines that share a bind group layout (same binding kinds) may be
      // checked against another's uniform struct size (seen with wgpu: "bound with size 32 where the
      // shader expects 40"), so every uniform binding is larger than any struct sg3 declares.
      buffer = this.device.createBuffer({
        size: Math.max(UNIFORM_MIN, bytes.byteLength),
        usage: GPUBufferUsage.UNIFORM,
        mappedAtCreation: true,
      });
      new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(bytes));
      buffer.unmap();
      this.#uniforms.set(key, buffer);
    }
    return buffer;
  }

  /** The (one) view of a pool or constant texture. */
  #view(texture: GPUTexture): GPUTextureView {
    let view = this.#views.get(texture);
    if (!view) this.#views.set(texture, view = texture.createView());
    return view;
  }

  /**
   * The bind group of `entries` for bindings of kinds `kinds`, made once per distinct resources: the buffer
   * pool hands a network's launches the same buffers batch after batch, and {@link Submission.#uniform} the
   * same uniform buffers, so a batch after the first makes none (`createBindGroup` took about a quarter of
   * the host time of recording an Inception batch). A buffer is never bound again once destroyed, so entries
   * holding one are never hit again; past {@link CACHE_LIMIT} entries the cache starts over.
   */
  #bindGroup(kinds: BindingKind[], entries: GPUBindGroupEntry[]): GPUBindGroup {
    const key = kinds.join(",") + "|" +
      entries.map(({ resource: r }) =>
        "buffer" in r ? `${this.#id(r.buffer)}:${r.offset ?? 0}:${r.size ?? -1}` : `${this.#id(r)}`
      ).join(",");
    let group = this.#bindGroups.get(key);
    if (!group) {
      if (this.#bindGroups.size >= CACHE_LIMIT) this.#bindGroups.clear();
      group = this.device.createBindGroup({ layout: this.pipelines.bindGroupLayout(kinds), entries });
      this.#bindGroups.set(key, group);
    }
    return group;
  }

  /** A number naming a buffer or texture view for cache keys (never reused). */
  #id(o: object): number {
    let id = this.#ids.get(o);
    if (id === undefined) this.#ids.set(o, id = this.#nextId++);
    return id;
  }

  /** Records a buffer-to-buffer copy (ends the current compute pass). */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, size: number): void {
    this.#outsidePass().copyBufferToBuffer(src, srcOffset, dst, dstOffset, size);
    this.#written(dst);
  }

  /** Counts a write of `buffer` (recorded, or from the host) or a change of its owner. */
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
    const encoder = this.#outsidePass();
    const full = Math.floor(texels / TEXTURE_WIDTH), rest = texels - full * TEXTURE_WIDTH;
    const bytesPerRow = TEXTURE_WIDTH * s.texel;
    if (full) {
      encoder.copyBufferToTexture(
        { buffer: s.from.buffer, offset: s.from.offset, bytesPerRow },
        { texture },
        [TEXTURE_WIDTH, full],
      );
    }
    if (rest) {
      encoder.copyBufferToTexture(
        { buffer: s.from.buffer, offset: s.from.offset + full * bytesPerRow, bytesPerRow },
        { texture, origin: [0, full] },
        [rest, 1],
      );
    }
  }

  /**
   * A storage buffer of `size` bytes (a multiple of 4) with `usage`: a released one of that size when the pool
   * has one, else a new one. Its contents are undefined (poisoned when {@link Submission.poison} is set): the
   * caller writes it, with kernels or {@link Submission.write}, or clears it ({@link Submission.clear}).
   */
  allocate(size: number, usage: GPUBufferUsageFlags): GPUBuffer {
    const reused = this.#pool.take(size);
    // A new owner: texture copies of the previous owner's contents must not serve it.
    if (reused) this.#written(reused);
    const buffer = reused ?? this.device.createBuffer({ size, usage });
    if (!reused) this.created++;
    this.#pool.lend(buffer);
    if (this.poison) this.#fillPoison(buffer);
    return buffer;
  }

  /** Counts a handed-out buffer as gone without going back to the pool (its tensor was destroyed). */
  forget(buffer: GPUBuffer): void {
    this.#pool.forget(buffer);
  }

  /**
   * Hands `t`'s buffer to the pool for the next tensor of its size (and destroys what the pool drops and `t`'s
   * texture copy, after the work recorded so far is submitted, since WebGPU refuses to submit work that uses a
   * destroyed buffer). The next owner's work is recorded after `t`'s last use, so no submission is needed.
   */
  release(t: Tensor): void {
    if (this.#encoder) this.#ordered.add(t.buffer);
    if (this.poison) this.#fillPoison(t.buffer); // a later read of t shows as NaNs
    this.#discard(...this.#pool.put(t.buffer));
    if (t.texture) this.#discard(t.texture);
    t.texture = null;
  }

  /**
   * Writes host bytes into `buffer` at `offset` (4-byte multiples) in order with the recorded work: with the
   * queue's `writeBuffer` (which runs before anything not yet submitted) unless recorded work involves the
   * buffer (it was released and reused or cleared since the last submission, or written so); then as a copy
   * from a staging buffer recorded here.
   */
  write(buffer: GPUBuffer, offset: number, data: Uint8Array<ArrayBuffer>): void {
    this.#written(buffer); // texture copies of the buffer's earlier contents no longer match
    if (!this.#ordered.has(buffer)) {
      // writeBuffer copies through a staging area; write in pieces to bound its size.
      const piece = 64 << 20;
      for (let i = 0; i < data.byteLength; i += piece) {
        this.device.queue.writeBuffer(buffer, offset + i, data, i, Math.min(piece, data.byteLength - i));
      }
      return;
    }
    const staging = this.device.createBuffer({
      size: data.byteLength,
      usage: GPUBufferUsage.COPY_SRC,
      mappedAtCreation: true,
    });
    new Uint8Array(staging.getMappedRange()).set(data);
    staging.unmap();
    this.copy(staging, 0, buffer, offset, data.byteLength);
    this.#doomed.push(staging);
  }

  /** Records filling `buffer` with zeros. */
  clear(buffer: GPUBuffer): void {
    this.#outsidePass().clearBuffer(buffer);
    this.#written(buffer);
    this.#ordered.add(buffer);
  }

  /** Fills `buffer` with {@link POISON}, in order with the recorded work (see {@link Submission.write}). */
  #fillPoison(buffer: GPUBuffer): void {
    if (this.#poisonBytes.byteLength < buffer.size) {
      this.#poisonBytes = new Uint8Array(new Uint32Array(buffer.size / 4).fill(POISON).buffer);
    }
    this.write(buffer, 0, this.#poisonBytes.subarray(0, buffer.size));
  }

  /** Destroys buffers or textures once the work recorded so far is submitted (at once when none is). */
  #discard(...resources: (GPUBuffer | GPUTexture)[]): void {
    if (this.#encoder) this.#doomed.push(...resources);
    else resources.forEach((r) => r.destroy());
  }

  /**
   * Submits everything recorded so far, then destroys what was discarded meanwhile (the launches' uniform
   * buffers among them): at once, since WebGPU keeps a destroyed buffer alive for work already submitted.
   * (Deno's `queue.onSubmittedWorkDone()` blocks the calling thread until the GPU is idle, 2026-12 with Deno
   * 2.9, so waiting for it here stopped the host from recording the next work while the GPU ran.) The next
   * recording may again be submitted once early.
   */
  flush(): void {
    this.#submit();
    this.#early = false;
  }

  #submit(): void {
    this.#endPass();
    if (!this.#encoder) return;
    const afterSubmit = this.profiler?.resolve(this.#encoder);
    const start = performance.now();
    this.device.queue.submit([this.#encoder.finish()]);
    this.submitMs += performance.now() - start;
    this.submitted++;
    afterSubmit?.();
    this.#encoder = null;
    this.#pending = 0;
    this.#ordered.clear();
    const doomed = this.#doomed;
    this.#doomed = [];
    doomed.forEach((r) => r.destroy());
  }

  /** The command encoder, with no compute pass open (for copies and clears). */
  #outsidePass(): GPUCommandEncoder {
    this.#endPass();
    return this.#encoder ??= this.#newEncoder();
  }

  #newEncoder(): GPUCommandEncoder {
    this.#since = performance.now();
    return this.device.createCommandEncoder();
  }

  #computePass(timestampWrites?: GPUComputePassTimestampWrites): GPUComputePassEncoder {
    this.#encoder ??= this.#newEncoder();
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
