/**
 * A video file chosen by its name: `.png`/`.apng` is a looping animated PNG (lossless, for short loops),
 * anything else an H.264 MP4. Both writers share one life cycle: addFrame, then finish (renamed into place)
 * or discard.
 */
import { ApngWriter } from "./apng.ts";
import { type Mp4Options, Mp4Writer } from "./mp4.ts";

/** Either video writer. */
export type VideoWriter = Mp4Writer | ApngWriter;

/** Whether a file name asks for an animated PNG. */
export function isApngPath(path: string): boolean {
  return /\.a?png$/i.test(path);
}

/** Opens `path` as an animated PNG or an MP4 by its name; crf, bitrate and encoder apply to MP4 only. */
export async function openVideo(path: string, o: Mp4Options): Promise<VideoWriter> {
  return isApngPath(path) ? ApngWriter.open(path, o) : await Mp4Writer.open(path, o);
}
