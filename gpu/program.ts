/**
 * Kernels as declared programs. A kernel states once its name, its uniform parameters (name, WGSL
 * scalar type, value), its storage buffers (name, access, element type, whether it is split across
 * bindings) and its workgroup size; {@link runProgram} generates from that one list the WGSL header
 * (`enable f16;`, the workgroup-size constants, the uniform struct `p`, one binding line per buffer or
 * chunk, the accessors of split buffers), the uniform bytes, the explicit bind group layout, the bind
 * group and the pipeline label (the kernel's name, so that validation errors name it). Kernel sources
 * hold only their helpers, workgroup variables and `fn main`. The generated WGSL is kept per kernel source and
 * declaration (types, not values), so that a launch repeated batch after batch builds no source again.
 *
 * A split buffer holds `items` items along its first axis (see split.ts): the launch runs once per run
 * of items that fits the binding limits, with the parameters `p.n0` and `p.count` set to the run's first
 * item and item count, and the
 * kernel reads and writes it only through `ld_<name>(i)` / `st_<name>(i, v)` (read_write buffers have
 * both), i counting from `n0` (in vec4s where the buffer's declared type is a vec4: an f32 or f16 tensor read
 * four elements at a time, whose items and chunks then hold whole vec4s).
 *
 * A buffer declared `texture` is read through a texture copy of its bytes (of the run, for a split buffer;
 * see texture.ts), bound as a `texture_2d<f32>`, through the same `ld_<name>(i)`; declared `texture: false`,
 * it gets that accessor over the storage buffer, so that one kernel source serves both.
 */
import type { Gpu } from "./device.ts";
import type { BindingKind } from "./pipeline.ts";
import { type BufferRange, Tensor } from "./tensor.ts";
import { chunkedAccess, chunkRanges, itemRuns, maxChunks } from "./split.ts";
import { type Bindable, CACHE_LIMIT, type Staged } from "./submit.ts";
import { storageFormat, texelBytes, textureAccess, textureFormat, textureRows } from "./texture.ts";

/** WGSL scalar types of uniform parameters (all 4 bytes, so the struct layout is their order). */
export type Scalar = "u32" | "i32" | "f32";

/** A uniform parameter: its WGSL type and value. */
export type Param = readonly [Scalar, number];

/** A storage buffer of a program. */
export interface BufferDecl {
  /** The WGSL variable name (for split buffers, the accessor suffix). */
  name: string;
  /** What is bound: a tensor, a whole raw buffer or a byte range. */
  data: Tensor | GPUBuffer | BufferRange;
  /** "read" (the default) or "read_write". */
  access?: "read" | "read_write";
  /**
   * WGSL element type; default the tensor's dtype (f32 for raw buffers); "vec4": vec4s of that type. A split
   * tensor may be declared a vec4 type when each of its items holds a multiple of 4 elements.
   */
  type?: string;
  /** Split along the first axis into runs and chunks (tensors only). */
  split?: boolean;
  /**
   * Read it through a texture ("constant": a tensor whose contents no longer change, copied once; true: copied
   * before every launch; see gpu/texture.ts; read-only tensors of up to TEXTURE_WIDTH times
   * maxTextureDimension2D elements or vec4s, else, or when false, the storage buffer): when set, the kernel
   * reads element i as `ld_<name>(i)` either way.
   */
  texture?: boolean | "constant";
}

/** Workgroup counts of a dispatch, [x, y, z] (y and z default to 1). */
export type Workgroups = readonly [number, number?, number?];

/** A kernel launch, declared. */
export interface Program {
  /** The kernel's name: the pipeline and shader labels. */
  name: string;
  /** Uniform parameters in struct order, read in WGSL as `p.<name>`. */
  params?: Record<string, Param>;
  /** Storage buffers in binding order (after the uniform struct). */
  buffers: BufferDecl[];
  /** Invocations per workgroup: x or [x, y, z]; WGSL sees WG_X, WG_Y, WG_Z and WG (their product). */
  workgroupSize: number | Workgroups;
  /** WGSL after the generated header; `fn main(` gets the `@compute @workgroup_size` attribute. */
  source: string;
  /** Workgroup counts; with split buffers, a function of the item count of each run. */
  workgroups: Workgroups | ((count: number) => Workgroups);
  /** Items along the first axis of every split buffer (required when there are split buffers). */
  items?: number;
  /** Enable f16 arithmetic even when no buffer is stored as f16. */
  f16?: boolean;
  /** The tuning tag of the chosen variant while the tuner measures (gpu/tuner.ts). */
  tag?: string;
  /** Floating-point operations of the whole launch (all items), for per-kernel GFLOP/s in profiles. */
  flops?: number;
}

/** Bytes of the uniform struct holding `params` in order, padded to 16 bytes. */
export function uniformBytes(params: Record<string, Param>): ArrayBuffer {
  const entries = Object.entries(params);
  const buffer = new ArrayBuffer(Math.max(16, Math.ceil(entries.length / 4) * 16));
  const view = new DataView(buffer);
  entries.forEach(([name, [type, value]], i) => {
    if (type === "f32") return view.setFloat32(i * 4, value, true);
    if (!Number.isInteger(value)) throw new Error(`parameter ${name}: ${value} is not an integer`);
    if (type === "u32") {
      if (value < 0 || value > 0xffffffff) throw new Error(`parameter ${name}: u32 out of range: ${value}`);
      view.setUint32(i * 4, value, true);
    } else view.setInt32(i * 4, value, true);
  });
  return buffer;
}

function elementType(b: BufferDecl): string {
  const dtype = b.data instanceof Tensor ? b.data.dtype : "f32";
  return b.type === "vec4" ? `vec4<${dtype}>` : b.type ?? dtype;
}

/**
 * The buffers of a launch read through textures: each one's format when it is bound as a read-only storage
 * texture, null when sampled.
 */
type TextureReads = Map<string, GPUTextureFormat | null>;

/**
 * The WGSL header and the binding list of one launch; chunked split buffers are given by `chunks`, buffers read
 * through textures by `textures`.
 */
function header(
  prog: Program,
  params: Record<string, Param>,
  chunks: Map<string, number>,
  textures: TextureReads,
): string {
  const [x, y = 1, z = 1] = typeof prog.workgroupSize === "number"
    ? [prog.workgroupSize]
    : prog.workgroupSize;
  const lines: string[] = [];
  if (prog.f16 || prog.buffers.some((b) => elementType(b).includes("f16"))) lines.push("enable f16;");
  lines.push(
    `const WG_X = ${x}u;`,
    `const WG_Y = ${y}u;`,
    `const WG_Z = ${z}u;`,
    `const WG = ${x * y * z}u;`,
  );
  const names = Object.entries(params);
  let binding = 0;
  if (names.length) {
    lines.push(`struct P { ${names.map(([n, [t]]) => `${n}: ${t}`).join(", ")} }`);
    lines.push(`@group(0) @binding(${binding++}) var<uniform> p: P;`);
  }
  for (const b of prog.buffers) {
    const access = b.access ?? "read";
    const type = elementType(b);
    const k = chunks.get(b.name);
    if (textures.has(b.name)) {
      // Split buffers' accessors widen to f32 (see chunkedAccess); whole buffers' return their element type.
      const value = !b.split ? type : type.startsWith("vec4") ? "vec4f" : "f32";
      lines.push(textureAccess(b.name, value, binding++, textures.get(b.name) ?? null));
      continue;
    }
    if (k === undefined) {
      lines.push(`@group(0) @binding(${binding++}) var<storage, ${access}> ${b.name}: array<${type}>;`);
      if (b.texture === false || b.texture && !b.split) {
        lines.push(`fn ld_${b.name}(i: u32) -> ${type} { return ${b.name}[i]; }`);
      }
      continue;
    }
    for (let i = 0; i < k; i++) {
      lines.push(`@group(0) @binding(${binding++}) var<storage, ${access}> ${b.name}${i}: array<${type}>;`);
    }
  }
  return lines.join("\n");
}

/**
 * Inserts the compute attribute before `fn main(` and, when there is a uniform struct, `let p = p;` as main's
 * first statement: a local copy that `main` reads instead of the uniform buffer. llvmpipe loads uniforms
 * with gathers and does not hoist them out of loops, so a kernel reading `p.cin` in its channel loop paid a
 * load per iteration; the copy loads each field main uses once (on 2026-12-02 it took 7% off Inception's
 * time and 15-25% off Winograd's products on llvmpipe). Helper functions outside main still read the buffer.
 */
function withEntry(prog: Program, uniform: boolean): string {
  const at = prog.source.indexOf("fn main(");
  if (at < 0) throw new Error(`kernel ${prog.name}: no fn main`);
  const [x, y = 1, z = 1] = typeof prog.workgroupSize === "number"
    ? [prog.workgroupSize]
    : prog.workgroupSize;
  const body = prog.source.indexOf("{", at) + 1;
  const copy = uniform ? "\n  let p = p;" : "";
  return `${prog.source.slice(0, at)}@compute @workgroup_size(${x}, ${y}, ${z})\n${
    prog.source.slice(at, body)
  }${copy}${prog.source.slice(body)}`;
}

/**
 * What a launch's WGSL is made from: the program, its parameters, the chunk count of each chunked split buffer,
 * the buffers read through textures, and the accessors of the chunked buffers.
 */
interface LaunchShape {
  prog: Program;
  params: Record<string, Param>;
  chunks: Map<string, number>;
  textures: TextureReads;
  accessors: string;
}

/** The WGSL of a launch: header, the accessors of chunked buffers (when there are any) and the source. */
function generate({ prog, params, chunks, textures, accessors }: LaunchShape): string {
  const entry = withEntry(prog, Object.keys(params).length > 0);
  return [header(prog, params, chunks, textures), ...accessors ? [accessors] : [], entry].join("\n");
}

/**
 * The generated WGSL of a program without split buffers (for tests and inspection), its textures read as
 * launches on `gpu` read them (sampled, without a `gpu`).
 */
export function programSource(prog: Program, gpu?: Gpu): string {
  const textures: TextureReads = new Map();
  for (const b of prog.buffers.filter((b) => b.texture)) {
    if (gpu) textureRead(gpu, b, textures);
    else textures.set(b.name, null);
  }
  return generate({ prog, params: prog.params ?? {}, chunks: new Map(), textures, accessors: "" });
}

/** Records the launch(es) of a declared program on the GPU's current submission. */
export function runProgram(gpu: Gpu, prog: Program): void {
  const split = prog.buffers.filter((b) => b.split);
  if (!split.length) {
    if (typeof prog.workgroups === "function") throw new Error(`kernel ${prog.name}: workgroups per run`);
    const textures: TextureReads = new Map();
    const bindings = prog.buffers.map((b) => staged(gpu, prog, b, textures) ?? b.data);
    launch(gpu, prog, prog.params ?? {}, new Map(), textures, bindings, prog.workgroups, prog.flops);
    return;
  }
  const n = prog.items;
  const tensors = split.map((b) => b.data);
  if (n === undefined || !tensors.every((t) => t instanceof Tensor)) {
    throw new Error(`kernel ${prog.name}: split buffers need tensors and an item count`);
  }
  const whole = prog.buffers.length - split.length;
  const k = maxChunks(gpu, split.length, whole);
  for (const [first, count] of itemRuns(gpu, n, tensors as Tensor[], k)) {
    const chunks = new Map<string, number>(), textures: TextureReads = new Map(), accessors: string[] = [];
    const bindings = prog.buffers.flatMap((b): (Bindable | Staged)[] => {
      if (!b.split) return [staged(gpu, prog, b, textures) ?? b.data];
      const t = b.data as Tensor, per = t.byteSize / n;
      const run = staged(gpu, prog, b, textures, {
        buffer: t.buffer,
        offset: first * per,
        size: count * per,
      });
      if (run) return [run];
      const { ranges, elems: scalars } = chunkRanges(gpu, t, n, first, count);
      // A vec4 view of a tensor counts its chunks in vec4s (chunks are 256-byte aligned).
      const type = elementType(b), elems = type.startsWith("vec4") ? scalars / 4 : scalars;
      chunks.set(b.name, ranges.length);
      accessors.push(chunkedAccess(b.name, ranges.length, elems, type, false));
      if (b.access === "read_write") accessors.push(chunkedAccess(b.name, ranges.length, elems, type, true));
      return ranges;
    });
    const params = { n0: ["u32", first] as Param, count: ["u32", count] as Param, ...prog.params };
    const workgroups = typeof prog.workgroups === "function" ? prog.workgroups(count) : prog.workgroups;
    const flops = prog.flops === undefined ? undefined : (prog.flops * count) / n;
    launch(gpu, prog, params, chunks, textures, bindings, workgroups, flops, accessors.join("\n"));
  }
}

/**
 * How buffer `b` (or the bytes `range` of its tensor) is read through a texture, adding it to `textures` (see
 * {@link textureRead}); null when it is not declared a texture or holds more texels than a texture of the
 * adapter.
 */
function staged(
  gpu: Gpu,
  prog: Program,
  b: BufferDecl,
  textures: TextureReads,
  range?: BufferRange,
): Staged | null {
  if (!b.texture) return null;
  if (!(b.data instanceof Tensor) || b.access === "read_write") {
    throw new Error(
      `kernel ${prog.name}: ${b.name} is read through a texture, so it must be a read-only tensor`,
    );
  }
  const t = b.data, vec4 = elementType(b).startsWith("vec4"), texel = texelBytes(t.dtype, vec4);
  const from = range ?? { buffer: t.buffer, offset: 0, size: t.byteSize };
  if (textureRows(from.size / texel) > gpu.maxTextureRows) return null;
  const format = textureRead(gpu, b, textures);
  const constant = b.texture === "constant" && !range ? t : undefined;
  return { from, format, texel, constant };
}

/**
 * Adds buffer `b` to the textures of a launch: as a read-only storage texture where the adapter reads those,
 * its format is a storage format and the stage has a storage-texture binding left, else sampled. Returns its
 * format.
 */
function textureRead(gpu: Gpu, b: BufferDecl, textures: TextureReads): GPUTextureFormat {
  const format = textureFormat((b.data as Tensor).dtype, elementType(b).startsWith("vec4"));
  const storages = [...textures.values()].filter((f) => f !== null).length;
  const storage = gpu.storageTextureReads && storageFormat(format) && storages < gpu.maxStorageTextures;
  textures.set(b.name, storage ? format : null);
  return format;
}

/**
 * Generated WGSL by kernel source, then by everything else it is made from ({@link launchSource}): a network's
 * launches repeat batch after batch, and building their sources again (1.4 MB per Inception batch, about a
 * millisecond) and hashing them in the pipeline cache was host time that a GPU waits for. The kept strings
 * are the same objects launch after launch, so that map lookups reuse their hashes. Past {@link CACHE_LIMIT}
 * sources the cache starts over.
 */
const generated = new Map<string, Map<string, string>>();
let generatedCount = 0;

/** {@link generate}'s WGSL, kept: built once per kernel source and everything else it reads. */
function launchSource(shape: LaunchShape): string {
  const { prog, params, chunks, textures, accessors } = shape;
  const key = JSON.stringify([
    prog.workgroupSize,
    !!prog.f16,
    Object.entries(params).map(([n, [t]]) => [n, t]),
    prog.buffers.map((b) => [b.name, b.access, elementType(b), !!b.split, b.texture, chunks.get(b.name)]),
    [...textures],
    accessors,
  ]);
  let code = generated.get(prog.source)?.get(key);
  if (code === undefined) {
    if (generatedCount >= CACHE_LIMIT) {
      generated.clear();
      generatedCount = 0;
    }
    code = generate(shape);
    let bySource = generated.get(prog.source);
    if (!bySource) generated.set(prog.source, bySource = new Map());
    bySource.set(key, code);
    generatedCount++;
  }
  return code;
}

function launch(
  gpu: Gpu,
  prog: Program,
  params: Record<string, Param>,
  chunks: Map<string, number>,
  textures: TextureReads,
  bindings: (Bindable | Staged)[],
  workgroups: Workgroups,
  flops: number | undefined,
  accessors = "",
): void {
  const uniform = Object.keys(params).length > 0;
  const code = launchSource({ prog, params, chunks, textures, accessors });
  const kinds: BindingKind[] = prog.buffers.flatMap((b) =>
    textures.has(b.name)
      ? [textures.get(b.name) ? `texture:${textures.get(b.name)!}` as const : "texture" as const]
      : Array(chunks.get(b.name) ?? 1).fill(b.access === "read_write" ? "storage" : "read")
  );
  gpu.dispatch({
    label: prog.name,
    tag: prog.tag,
    flops,
    code,
    layout: uniform ? ["uniform", ...kinds] : kinds,
    uniforms: uniform ? uniformBytes(params) : undefined,
    bindings,
    workgroups: [workgroups[0], workgroups[1] ?? 1, workgroups[2] ?? 1],
  });
}
