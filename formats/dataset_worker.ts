/**
 * The worker of {@link DatasetReader} (formats/dataset_pool.ts): opens the dataset itself, then decodes one
 * item per job.
 */
import { Dataset, type DatasetOptions } from "./dataset.ts";
import type { Image8 } from "./png.ts";
import { serve } from "./worker_pool.ts";

/** A job: open the dataset, or decode item `index`. */
export type DatasetJob = { open: { path: string; opts: DatasetOptions } } | { index: number };

let data: Dataset | null = null;
serve((job: DatasetJob): { value: Image8 | null; transfer?: Transferable[] } => {
  if ("open" in job) {
    try {
      data = Dataset.open(job.open.path, job.open.opts);
    } catch { /* reported by the first item asked for */ }
    return { value: null };
  }
  if (!data) throw new Error("the dataset could not be opened in a worker");
  const image = data.item(job.index);
  return { value: image, transfer: [image.data.buffer as ArrayBuffer] };
});
