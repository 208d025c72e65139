import assert from "node:assert/strict";
import { batchStarts, oneAhead } from "../gpu/ahead.ts";

Deno.test("batchStarts: the first index of each batch, the last one short", () => {
  assert.deepEqual(batchStarts(0, 10, 4), [0, 4, 8]);
  assert.deepEqual(batchStarts(3, 4, 8), [3]);
  assert.deepEqual(batchStarts(5, 5, 2), []);
});

Deno.test("oneAhead: results in order; each step submitted after the previous one's result came back and before it is handed out", async () => {
  const log: string[] = [];
  const submit = (k: number) => {
    log.push(`submit ${k}`);
    return new Promise<number>((resolve) =>
      setTimeout(() => {
        log.push(`read ${k}`);
        resolve(k * 10);
      }, 5 * (3 - k))
    );
  };
  for await (const r of oneAhead([0, 1, 2], submit)) log.push(`got ${r}`);
  // Deno maps a readback only once all submitted work has run: step 1 may not be in flight while step 0 is read.
  assert.deepEqual(log, [
    "submit 0",
    "read 0",
    "submit 1",
    "got 0",
    "read 1",
    "submit 2",
    "got 10",
    "read 2",
    "got 20",
  ]);
});

Deno.test("oneAhead: stopping early waits for the step in flight; a failure ahead is not unhandled", async () => {
  let settled = false;
  const submit = (k: number) =>
    k === 0 ? Promise.resolve(0) : new Promise<number>((_, reject) =>
      setTimeout(() => {
        settled = true;
        reject(new Error(`step ${k} failed`));
      }, 20)
    );
  for await (const r of oneAhead([0, 1], submit)) {
    assert.equal(r, 0);
    break;
  }
  assert.ok(settled, "the step ahead had not settled when the loop ended");
  // Consumed to the end, the failure reaches the caller.
  await assert.rejects(async () => {
    for await (const _ of oneAhead([0, 1], submit)) { /* consume */ }
  }, /step 1 failed/);
});
