/** The worker of {@link PngWriter} (formats/png_pool.ts): encodes one image per message as PNG bytes. */
import { encodePng, type Image8 } from "./png.ts";

/** A request: an image to encode, with the id its answer carries. */
export interface PngJob {
  id: number;
  image: Image8;
}

/** An answer: the PNG bytes, or why they could not be made. */
export type PngResult = { id: number; bytes: Uint8Array } | { id: number; error: string };

// deno-lint-ignore no-explicit-any
const scope = self as any;
scope.onmessage = (e: MessageEvent<PngJob>) => {
  const { id, image } = e.data;
  try {
    const bytes = encodePng(image);
    scope.postMessage({ id, bytes } satisfies PngResult, [bytes.buffer]);
  } catch (err) {
    scope.postMessage({ id, error: (err as Error).message } satisfies PngResult);
  }
};
