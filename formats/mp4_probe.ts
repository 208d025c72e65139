/**
 * A small reader of MP4 (ISO BMFF) structure, enough to check a written video without ffprobe: the first
 * video track's codec (the sample entry type in stsd, e.g. 'avc1'), coded width and height (from that
 * entry), frame count (stsz sample_count), frame timing (stts deltas in the mdhd timescale) and whether
 * every sample lies inside the file (stco/co64 chunk offsets, stsc chunk runs, stsz sizes).
 *
 * Boxes are [u32 size][4-byte type][payload], size 1 meaning a u64 size follows the type and 0 "to the end
 * of the file"; all integers are big-endian.
 */
import { UserError } from "../errors.ts";

/** What {@link probeMp4} finds in a file's first video track. */
export interface Mp4Info {
  /** Sample entry type of the track, e.g. "avc1" for H.264. */
  codec: string;
  /** Coded width in pixels (from the sample entry). */
  width: number;
  /** Coded height in pixels (from the sample entry). */
  height: number;
  /** Number of frames (stsz sample_count). */
  frames: number;
  /** Frames per second: timescale / delta when all frames have the same duration, else the average. */
  fps: number;
  /** True when every frame has the same duration (constant frame rate). */
  constantRate: boolean;
  /** Duration in seconds: the sum of the stts frame durations over the mdhd timescale. */
  durationSec: number;
  /** True when every sample's byte range lies inside the file. */
  samplesInFile: boolean;
}

/** A box: its type and payload byte range [start, end). */
export interface Box {
  type: string;
  start: number;
  end: number;
}

/** The boxes in the byte range [start, end) of `view` (one level). */
export function boxes(view: DataView, start: number, end: number): Box[] {
  const out: Box[] = [];
  let p = start;
  while (p + 8 <= end) {
    let size = view.getUint32(p);
    const type = String.fromCharCode(
      view.getUint8(p + 4),
      view.getUint8(p + 5),
      view.getUint8(p + 6),
      view.getUint8(p + 7),
    );
    let header = 8;
    if (size === 1) {
      if (p + 16 > end) break;
      size = Number(view.getBigUint64(p + 8));
      header = 16;
    } else if (size === 0) {
      size = end - p;
    }
    if (size < header || p + size > end) {
      throw new UserError(`MP4: box '${type}' at ${p} runs past its parent`);
    }
    out.push({ type, start: p + header, end: p + size });
    p += size;
  }
  return out;
}

/** The first child box of `parent` with type `type`. */
export function child(view: DataView, parent: Box, type: string): Box | undefined {
  return boxes(view, parent.start, parent.end).find((b) => b.type === type);
}

function need(box: Box | undefined, what: string): Box {
  if (!box) throw new UserError(`MP4: missing '${what}' box`);
  return box;
}

/** Parses the structure of an MP4 file's first video track. */
export function probeMp4(bytes: Uint8Array): Mp4Info {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const top = boxes(view, 0, bytes.length);
  if (top[0]?.type !== "ftyp") throw new UserError("MP4: the file does not start with an 'ftyp' box");
  const moov = need(top.find((b) => b.type === "moov"), "moov");
  for (const trak of boxes(view, moov.start, moov.end).filter((b) => b.type === "trak")) {
    const mdia = need(child(view, trak, "mdia"), "mdia");
    const hdlr = need(child(view, mdia, "hdlr"), "hdlr");
    if (fourcc(view, hdlr.start + 8) !== "vide") continue;
    return videoTrack(view, mdia, bytes.length);
  }
  throw new UserError("MP4: no video track");
}

function fourcc(view: DataView, p: number): string {
  return String.fromCharCode(
    view.getUint8(p),
    view.getUint8(p + 1),
    view.getUint8(p + 2),
    view.getUint8(p + 3),
  );
}

function videoTrack(view: DataView, mdia: Box, fileSize: number): Mp4Info {
  const mdhd = need(child(view, mdia, "mdhd"), "mdhd");
  const timescale = view.getUint8(mdhd.start) === 1
    ? view.getUint32(mdhd.start + 20)
    : view.getUint32(mdhd.start + 12);
  const minf = need(child(view, mdia, "minf"), "minf");
  const stbl = need(child(view, minf, "stbl"), "stbl");

  const stsd = need(child(view, stbl, "stsd"), "stsd");
  const entry = boxes(view, stsd.start + 8, stsd.end)[0];
  if (!entry) throw new UserError("MP4: empty 'stsd'");
  // VisualSampleEntry: 6 reserved + 2 data_reference_index + 16 pre-defined/reserved, then width, height.
  const width = view.getUint16(entry.start + 24), height = view.getUint16(entry.start + 26);

  const stts = need(child(view, stbl, "stts"), "stts");
  let frames = 0, ticks = 0;
  const deltas = new Set<number>();
  for (let i = 0, n = view.getUint32(stts.start + 4); i < n; i++) {
    const count = view.getUint32(stts.start + 8 + 8 * i), delta = view.getUint32(stts.start + 12 + 8 * i);
    frames += count;
    ticks += count * delta;
    if (count) deltas.add(delta);
  }

  const stsz = need(child(view, stbl, "stsz"), "stsz");
  const fixedSize = view.getUint32(stsz.start + 4), sampleCount = view.getUint32(stsz.start + 8);
  const sizes = Array.from(
    { length: sampleCount },
    (_, i) => fixedSize || view.getUint32(stsz.start + 12 + 4 * i),
  );

  return {
    codec: fourcc(view, entry.start - 4),
    width,
    height,
    frames: sampleCount,
    fps: ticks ? timescale * frames / ticks : 0,
    constantRate: deltas.size === 1,
    durationSec: timescale ? ticks / timescale : 0,
    samplesInFile: frames === sampleCount && samplesInFile(view, stbl, sizes, fileSize),
  };
}

function samplesInFile(view: DataView, stbl: Box, sizes: number[], fileSize: number): boolean {
  const stco = child(view, stbl, "stco"), co64 = child(view, stbl, "co64");
  const offsets: number[] = [];
  if (stco) {
    for (let i = 0, n = view.getUint32(stco.start + 4); i < n; i++) {
      offsets.push(view.getUint32(stco.start + 8 + 4 * i));
    }
  } else if (co64) {
    for (let i = 0, n = view.getUint32(co64.start + 4); i < n; i++) {
      offsets.push(Number(view.getBigUint64(co64.start + 8 + 8 * i)));
    }
  } else {
    return false;
  }
  // stsc: runs of chunks (first_chunk is 1-based) sharing a samples-per-chunk count.
  const stsc = need(child(view, stbl, "stsc"), "stsc");
  const runs: [number, number][] = [];
  for (let i = 0, n = view.getUint32(stsc.start + 4); i < n; i++) {
    runs.push([view.getUint32(stsc.start + 8 + 12 * i), view.getUint32(stsc.start + 12 + 12 * i)]);
  }
  let sample = 0;
  for (let chunk = 0; chunk < offsets.length; chunk++) {
    const run = runs.findLast(([first]) => first <= chunk + 1);
    let p = offsets[chunk];
    for (let s = 0; s < (run?.[1] ?? 0) && sample < sizes.length; s++) {
      p += sizes[sample++];
      if (p > fileSize) return false;
    }
  }
  return sample === sizes.length;
}
