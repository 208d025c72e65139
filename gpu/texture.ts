/**
 * Reading a buffer through a texture. llvmpipe (Mesa's software Vulkan driver) loads from a storage buffer
 * one lane and one component at a time, in a loop with a bounds check per value, but fetches texels with
 * vector gathers: on a 2-core AMD EPYC (2026-12-02) a vec4 per invocation cost 15 ns from a storage buffer
 * and 1.7 ns from a texture, and a Winograd product tile ran 4-5x faster reading its operands from
 * textures (on the machine of earlier sessions, whose FMA peak was twice this one's, texel fetches had cost
 * about as much as storage vec4 loads: there the copies below are the only difference). A program declares
 * such a buffer `texture: true` (gpu/program.ts): before the launch the buffer's bytes are copied into a 2D
 * texture {@link TEXTURE_WIDTH} texels wide, element i at texel (i mod width, i div width), one texel per
 * element (r32float / r16float) or per vec4 (rgba32float / rgba16float), and the kernel reads element i with
 * `ld_<name>(i)` as it would from the buffer.
 *
 * Where WGSL has read-only storage textures (`readonly_and_readwrite_storage_textures`), kernels read every
 * texture of a storage format (all of these but r16float) as a `texture_storage_2d<format, read>`: llvmpipe
 * loads those through its image path, cheaper than its sampler's texel fetch (which also works out a mip
 * level). On 2026-12-03 (2-core AMD EPYC, Mesa 22.3.6), the same texels and sums, alternating processes:
 * Inception at batch 4 331-527 ms per image against 477-628, stylegan3-t-128 at batch 1 363-647 against
 * 477-683, stylegan3-r-128 568-832 against 668-1252.
 */
import type { DType } from "./tensor.ts";

/** Texels per texture row: 4096 (a row of any format is a multiple of 256 bytes, as copies require). */
export const TEXTURE_WIDTH = 4096;

/** The texture format holding elements of `dtype`, four per texel when `vec4`. */
export function textureFormat(dtype: DType, vec4: boolean): GPUTextureFormat {
  const size = dtype === "f32" ? "32" : "16";
  return vec4 ? `rgba${size}float` : `r${size}float`;
}

/** Bytes of one texel of a {@link textureFormat}. */
export function texelBytes(dtype: DType, vec4: boolean): number {
  return (dtype === "f32" ? 4 : 2) * (vec4 ? 4 : 1);
}

/** Texture rows holding `texels` texels. */
export function textureRows(texels: number): number {
  return Math.max(1, Math.ceil(texels / TEXTURE_WIDTH));
}

/** Whether textures of `format` can be bound as read-only storage textures (r16float is no storage format). */
export function storageFormat(format: GPUTextureFormat): boolean {
  return format !== "r16float";
}

/**
 * The WGSL declaration of a texture variable `<name>` read as a sampled texture (`storage` null) or as a
 * read-only storage texture of format `storage`, and its accessor `fn ld_<name>(i: u32) -> <type>`, where texel
 * i holds element i of WGSL type `type` (a scalar or a vec4 of f32 or f16).
 */
export function textureAccess(
  name: string,
  type: string,
  binding: number,
  storage: GPUTextureFormat | null,
): string {
  const shift = Math.log2(TEXTURE_WIDTH);
  const at = `vec2u(i & ${TEXTURE_WIDTH - 1}u, i >> ${shift}u)`;
  const texel = storage ? `textureLoad(${name}, ${at})` : `textureLoad(${name}, ${at}, 0)`;
  const decl = `@group(0) @binding(${binding}) var ${name}: ${
    storage ? `texture_storage_2d<${storage}, read>` : "texture_2d<f32>"
  };`;
  return `${decl}
fn ld_${name}(i: u32) -> ${type} { return ${type}(${type.startsWith("vec4") ? texel : `${texel}.x`}); }`;
}

/**
 * Textures to copy buffers into, one per format, height and slot (a launch's first, second ... texture
 * binding), reused by every launch: WebGPU orders each copy after the launches recorded before it, so a
 * texture refilled for the next launch never changes under the previous one. Heights are rounded up to
 * powers of two, so that a network's layers share a few textures. They live as long as the device (destroying
 * the device frees them).
 */
export class TexturePool {
  readonly #textures = new Map<string, GPUTexture>();

  /** With `storage`, textures of storage formats can also be bound as read-only storage textures. */
  constructor(readonly device: GPUDevice, readonly storage = false) {}

  /** The texture of `format` with at least `rows` rows for binding `slot`. */
  get(format: GPUTextureFormat, rows: number, slot: number): GPUTexture {
    const height = Math.min(2 ** Math.ceil(Math.log2(rows)), this.device.limits.maxTextureDimension2D);
    const key = `${format} ${height} ${slot}`;
    let t = this.#textures.get(key);
    if (!t) {
      t = this.create(format, height);
      this.#textures.set(key, t);
    }
    return t;
  }

  /** A new texture of `format` and `rows` rows outside the pool (the caller destroys it). */
  create(format: GPUTextureFormat, rows: number): GPUTexture {
    return this.device.createTexture({
      label: `${format} x ${rows} rows`,
      size: [TEXTURE_WIDTH, rows],
      format,
      usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST |
        (this.storage && storageFormat(format) ? GPUTextureUsage.STORAGE_BINDING : 0),
    });
  }
}
