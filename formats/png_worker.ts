/** The worker of {@link PngWriter} (formats/png_pool.ts): encodes one image per job as PNG bytes. */
import { encodePng, type Image8 } from "./png.ts";
import { serve } from "./worker_pool.ts";

serve((image: Image8) => {
  const bytes = encodePng(image);
  return { value: bytes, transfer: [bytes.buffer as ArrayBuffer] };
});
