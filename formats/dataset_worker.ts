/**
 * The worker of {@link DatasetReader} (formats/dataset_pool.ts): opens the dataset itself, then decodes one
 * item per message.
 */
import { UserError } from "../errors.ts";
import { Dataset, type DatasetOptions } from "./dataset.ts";
import type { Image8 } from "./png.ts";

/** A request: open the dataset, or decode item `index` (answered with `id`). */
export type DatasetJob = { open: { path: string; opts: DatasetOptions } } | { id: number; index: number };

/**
 * An answer: the item, or why it could not be read (`user`: a {@link UserError}, one line for the user); or
 * `ready`, posted once the worker listens (messages sent while its modules still load would be lost).
 */
export type DatasetResult =
  | { id: number; image: Image8 }
  | { id: number; error: string; user: boolean }
  | { ready: true };

let data: Dataset | null = null;
// deno-lint-ignore no-explicit-any
const scope = self as any;
scope.onmessage = (e: MessageEvent<DatasetJob>) => {
  const job = e.data;
  if ("open" in job) {
    try {
      data = Dataset.open(job.open.path, job.open.opts);
    } catch { /* reported by the first item asked for */ }
    return;
  }
  try {
    if (!data) throw new Error("the dataset could not be opened in a worker");
    const image = data.item(job.index);
    scope.postMessage({ id: job.id, image } satisfies DatasetResult, [image.data.buffer]);
  } catch (err) {
    const user = err instanceof UserError;
    scope.postMessage({ id: job.id, error: (err as Error).message, user } satisfies DatasetResult);
  }
};
scope.postMessage({ ready: true } satisfies DatasetResult);
