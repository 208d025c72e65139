/**
 * MP4 video output: H.264, yuv420p, constant frame rate. Frames (8-bit RGB, HWC) stream to an encoder as
 * they are made, so a video is never held in memory as frames:
 * - `ffmpeg` from PATH (or $SG3_FFMPEG): raw rgb24 frames piped to `-c:v libx264 -pix_fmt yuv420p -crf N`,
 *   started in its own process group so that a terminal's Ctrl-C reaches sg3 only, which then closes the
 *   pipe and lets ffmpeg finish the file;
 * - otherwise the WebAssembly encoder of the npm package h264-mp4-encoder (minih264 + minimp4), in process,
 *   with a constant quantizer; only its compressed output is buffered until the end.
 * The video is written under a temporary name and renamed into place by {@link Mp4Writer.finish}; a writer
 * that is discarded, or fails, leaves nothing under the final name.
 */
import { delimiter, join } from "node:path";
import { UserError } from "../errors.ts";
import { settleTemp, tempPathFor } from "./atomic.ts";
import { type Box, boxes, child } from "./mp4_probe.ts";

/** Which encoder to use; "auto" prefers ffmpeg when one is found. */
export type Mp4EncoderChoice = "auto" | "ffmpeg" | "wasm";

/** Video parameters. */
export interface Mp4Options {
  /** Frame width in pixels (even: yuv420p). */
  width: number;
  /** Frame height in pixels (even: yuv420p). */
  height: number;
  /** Frames per second (constant). */
  fps: number;
  /** Quality: x264's constant rate factor (0-51, lower is better; default 18); the WASM encoder uses it as
   *  its constant quantizer (clamped to its range 10-51). Ignored when `bitrate` is given. */
  crf?: number;
  /** Target bitrate in bits per second instead of a constant quality. */
  bitrate?: number;
  /** The encoder; default "auto" (ffmpeg when found, else WebAssembly). */
  encoder?: Mp4EncoderChoice;
}

/** An ffmpeg executable: $SG3_FFMPEG, else `ffmpeg` on PATH; null when there is none. */
export function findFfmpeg(): string | null {
  const override = Deno.env.get("SG3_FFMPEG");
  if (override) return override;
  for (const dir of (Deno.env.get("PATH") ?? "").split(delimiter)) {
    if (!dir) continue;
    for (const name of Deno.build.os === "windows" ? ["ffmpeg.exe"] : ["ffmpeg"]) {
      try {
        const p = join(dir, name);
        const st = Deno.statSync(p);
        if (st.isFile && (Deno.build.os === "windows" || ((st.mode ?? 0o111) & 0o111))) return p;
      } catch { /* not in this folder */ }
    }
  }
  return null;
}

interface FrameEncoder {
  write(rgb: Uint8Array): Promise<void>;
  /** Completes the file at the temporary path. */
  close(): Promise<void>;
  /** Stops without completing the file. */
  kill(): Promise<void>;
}

/** Writes an MP4 video frame by frame; see the module comment. */
export class Mp4Writer {
  #frames = 0;
  #state: "open" | "done" = "open";

  private constructor(
    readonly path: string,
    readonly options: Mp4Options,
    readonly encoder: "ffmpeg" | "wasm",
    readonly tempPath: string,
    readonly frameBytes: number,
    /**
     * The running encoder process or WebAssembly instance.
     * @internal
     */
    readonly enc: FrameEncoder,
  ) {}

  /** Starts a video at `path` (its folder is created). */
  static async open(path: string, options: Mp4Options): Promise<Mp4Writer> {
    const { width, height, fps } = options;
    if (
      !Number.isInteger(width) || !Number.isInteger(height) || width < 2 || height < 2 || width % 2 ||
      height % 2
    ) {
      throw new UserError(`video size ${width}x${height}: yuv420p needs an even width and height`);
    }
    if (!(fps > 0) || !Number.isFinite(fps)) {
      throw new UserError(`expected a positive frame rate, got ${fps}`, "fps");
    }
    const choice = options.encoder ?? "auto";
    const ffmpeg = choice === "wasm" ? null : findFfmpeg();
    if (choice === "ffmpeg" && !ffmpeg) {
      throw new UserError("no ffmpeg on PATH (or $SG3_FFMPEG)", "encoder");
    }
    const tmp = tempPathFor(path);
    const enc = ffmpeg ? ffmpegEncoder(ffmpeg, tmp, options) : await wasmEncoder(tmp, options);
    return new Mp4Writer(path, options, ffmpeg ? "ffmpeg" : "wasm", tmp, width * height * 3, enc);
  }

  /** Frames added so far. */
  get frames(): number {
    return this.#frames;
  }

  /** Adds one frame: width * height * 3 bytes of RGB in row-major HWC order (not modified or kept). */
  async addFrame(rgb: Uint8Array): Promise<void> {
    if (this.#state !== "open") throw new Error("Mp4Writer: addFrame after finish or discard");
    if (rgb.length !== this.frameBytes) {
      throw new Error(`Mp4Writer: frame of ${rgb.length} bytes, expected ${this.frameBytes}`);
    }
    try {
      await this.enc.write(rgb);
    } catch (e) {
      await this.discard();
      throw e;
    }
    this.#frames++;
  }

  /**
   * Completes the video and renames it into place; returns false (and writes nothing) when no frame was
   * added. Finishing early gives a valid, shorter video.
   */
  async finish(): Promise<boolean> {
    if (this.#state !== "open") throw new Error("Mp4Writer: finish after finish or discard");
    if (this.#frames === 0) {
      await this.discard();
      return false;
    }
    this.#state = "done";
    try {
      await this.enc.close();
      Deno.renameSync(this.tempPath, this.path);
    } catch (e) {
      removeQuietly(this.tempPath);
      if (e instanceof UserError) throw e;
      throw new UserError(`${this.path}: cannot write the video: ${(e as Error).message.split("\n")[0]}`);
    } finally {
      settleTemp(this.tempPath);
    }
    return true;
  }

  /** Stops and removes the temporary file; nothing is written under the final name. */
  async discard(): Promise<void> {
    if (this.#state === "done") return;
    this.#state = "done";
    try {
      await this.enc.kill();
    } finally {
      removeQuietly(this.tempPath);
      settleTemp(this.tempPath);
    }
  }
}

function removeQuietly(path: string): void {
  try {
    Deno.removeSync(path);
  } catch { /* already gone */ }
}

/** Arguments of the ffmpeg pipe: raw rgb24 frames on stdin to H.264 yuv420p in an MP4 container. */
function ffmpegArgs(output: string, o: Mp4Options): string[] {
  const quality = o.bitrate ? ["-b:v", String(Math.round(o.bitrate))] : ["-crf", String(o.crf ?? 18)];
  return [
    ...["-hide_banner", "-loglevel", "error", "-y"],
    ...[
      "-f",
      "rawvideo",
      "-pix_fmt",
      "rgb24",
      "-s",
      `${o.width}x${o.height}`,
      "-r",
      String(o.fps),
      "-i",
      "pipe:0",
    ],
    ...["-an", "-c:v", "libx264", "-pix_fmt", "yuv420p", ...quality, "-r", String(o.fps)],
    ...["-movflags", "+faststart", "-f", "mp4", output],
  ];
}

function ffmpegEncoder(ffmpeg: string, output: string, o: Mp4Options): FrameEncoder {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(ffmpeg, {
      args: ffmpegArgs(output, o),
      stdin: "piped",
      stdout: "null",
      stderr: "piped",
      detached: true,
    }).spawn();
  } catch (e) {
    throw new UserError(`cannot run ${ffmpeg}: ${(e as Error).message.split("\n")[0]}`);
  }
  const writer = child.stdin.getWriter();
  const stderr = new Response(child.stderr).text();
  const failure = async (): Promise<UserError> => {
    const status = await child.status;
    const text = (await stderr).trim().split("\n").filter(Boolean).pop() ?? "";
    return new UserError(`ffmpeg failed (exit code ${status.code})${text ? `: ${text}` : ""}`);
  };
  return {
    async write(rgb) {
      try {
        await writer.write(rgb);
      } catch {
        throw await failure();
      }
    },
    async close() {
      try {
        await writer.close();
      } catch { /* reported by the exit status */ }
      const status = await child.status;
      await stderr;
      if (!status.success) throw await failure();
    },
    async kill() {
      try {
        child.kill("SIGKILL");
      } catch { /* already exited */ }
      await writer.abort().catch(() => {});
      await child.status;
      await stderr.catch(() => "");
    },
  };
}

async function wasmEncoder(output: string, o: Mp4Options): Promise<FrameEncoder> {
  // A CommonJS module: its exports arrive as the default export.
  const { default: hme } = await import("h264-mp4-encoder");
  const enc = await hme.createH264MP4Encoder();
  // The encoder's in-memory file system is shared by all instances: give each its own file.
  const name = `sg3-${crypto.randomUUID()}.mp4`;
  enc.outputFilename = name;
  enc.width = o.width;
  enc.height = o.height;
  enc.frameRate = o.fps;
  // Mid speed (0 best .. 10 fastest): about twice as fast as 0 for files a fraction of a percent larger.
  enc.speed = 5;
  if (o.bitrate) enc.kbps = Math.max(1, Math.round(o.bitrate / 1000));
  else enc.quantizationParameter = Math.min(51, Math.max(10, Math.round(o.crf ?? 18)));
  enc.initialize();
  const yuv = new Uint8Array(o.width * o.height * 3 / 2);
  // The encoder aborts the whole WebAssembly module if it is deleted before finalize().
  const release = () => {
    try {
      enc.FS.unlink(name);
    } catch { /* not written */ }
    enc.delete();
  };
  return {
    write(rgb) {
      enc.addFrameYuv(rgbToI420(rgb, o.width, o.height, yuv));
      return Promise.resolve();
    },
    close() {
      try {
        enc.finalize();
        Deno.writeFileSync(output, retime(enc.FS.readFile(name), o.fps));
      } finally {
        release();
      }
      return Promise.resolve();
    },
    kill() {
      try {
        enc.finalize();
      } finally {
        release();
      }
      return Promise.resolve();
    },
  };
}

/**
 * RGB (HWC, 8 bit) to I420 (planar Y, then U and V at half resolution) with the BT.601 limited-range matrix
 * that ffmpeg uses for rgb24 -> yuv420p, so both encoders give the same colours:
 * Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255, Cb = 128 + (-37.797 R - 74.203 G + 112 B) / 255,
 * Cr = 128 + (112 R - 93.786 G - 18.214 B) / 255, chroma from the mean of each 2x2 block.
 */
export function rgbToI420(rgb: Uint8Array, width: number, height: number, out?: Uint8Array): Uint8Array {
  const yuv = out ?? new Uint8Array(width * height * 3 / 2);
  const cw = width / 2, uBase = width * height, vBase = uBase + cw * (height / 2);
  for (let i = 0; i < width * height; i++) {
    const r = rgb[3 * i], g = rgb[3 * i + 1], b = rgb[3 * i + 2];
    yuv[i] = Math.round(16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255);
  }
  for (let y = 0; y < height; y += 2) {
    for (let x = 0; x < width; x += 2) {
      let r = 0, g = 0, b = 0;
      for (const p of [y * width + x, y * width + x + 1, (y + 1) * width + x, (y + 1) * width + x + 1]) {
        r += rgb[3 * p];
        g += rgb[3 * p + 1];
        b += rgb[3 * p + 2];
      }
      const c = (y / 2) * cw + x / 2;
      yuv[uBase + c] = Math.round(128 + (-37.797 * r - 74.203 * g + 112 * b) / 1020);
      yuv[vBase + c] = Math.round(128 + (112 * r - 93.786 * g - 18.214 * b) / 1020);
    }
  }
  return yuv;
}

/**
 * Gives an MP4 with one video track an exact constant frame rate: minimp4 counts in a 90 kHz timescale, where
 * e.g. 32 fps has no integer frame duration. Sets the movie and media timescales to round(fps * 1000), every
 * frame's duration (stts) to 1000 and the movie, track and media durations to frames * 1000 (in place).
 */
function retime(bytes: Uint8Array, fps: number): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const timescale = Math.round(fps * 1000), delta = 1000;
  const moov = boxes(view, 0, bytes.length).find((b) => b.type === "moov");
  const trak = moov && child(view, moov, "trak");
  const mdia = trak && child(view, trak, "mdia");
  const minf = mdia && child(view, mdia, "minf");
  const stbl = minf && child(view, minf, "stbl");
  const stts = stbl && child(view, stbl, "stts");
  if (!moov || !trak || !mdia || !stts) throw new Error("retime: unexpected MP4 structure");
  let frames = 0;
  for (let i = 0, n = view.getUint32(stts.start + 4); i < n; i++) {
    frames += view.getUint32(stts.start + 8 + 8 * i);
    view.setUint32(stts.start + 12 + 8 * i, delta);
  }
  const duration = frames * delta;
  // mvhd/mdhd: version, flags, creation and modification times (32 or 64 bit), timescale, duration.
  const setHeader = (box: Box | undefined, withTimescale: boolean, extra = 0) => {
    if (!box) throw new Error("retime: missing header box");
    const v1 = view.getUint8(box.start) === 1;
    const p = box.start + 4 + (v1 ? 16 : 8) + extra;
    if (withTimescale) view.setUint32(p, timescale);
    const d = withTimescale ? p + 4 : p;
    if (v1) view.setBigUint64(d, BigInt(duration));
    else view.setUint32(d, duration);
  };
  setHeader(child(view, moov, "mvhd"), true);
  setHeader(child(view, trak, "tkhd"), false, 8); // track_ID and a reserved word precede its duration
  setHeader(child(view, mdia, "mdhd"), true);
  return bytes;
}
