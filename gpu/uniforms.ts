/**
 * Builds the bytes of a WGSL uniform struct whose members are all 4-byte scalars (u32, i32, f32),
 * in declaration order. Kernels keep their parameter structs flat so that this is the whole layout rule
 * (the struct is padded to 16 bytes as uniform buffers require).
 */
export class Uniforms {
  readonly #values: { type: "u32" | "i32" | "f32"; value: number }[] = [];

  /** Appends a u32 member. */
  u32(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
      throw new Error(`u32 out of range: ${value}`);
    }
    this.#values.push({ type: "u32", value });
    return this;
  }

  /** Appends an i32 member. */
  i32(value: number): this {
    if (!Number.isInteger(value)) throw new Error(`i32 not an integer: ${value}`);
    this.#values.push({ type: "i32", value });
    return this;
  }

  /** Appends an f32 member. */
  f32(value: number): this {
    this.#values.push({ type: "f32", value });
    return this;
  }

  /** The struct's bytes, padded to a multiple of 16. */
  bytes(): ArrayBuffer {
    const buffer = new ArrayBuffer(Math.max(16, Math.ceil(this.#values.length / 4) * 16));
    const view = new DataView(buffer);
    this.#values.forEach(({ type, value }, i) => {
      if (type === "u32") view.setUint32(i * 4, value, true);
      else if (type === "i32") view.setInt32(i * 4, value, true);
      else view.setFloat32(i * 4, value, true);
    });
    return buffer;
  }
}
