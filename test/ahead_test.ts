import assert from "node:assert/strict";
import { batchStarts, oneAhead } from "../gpu/ahead.ts";

Deno.test("batchStarts: the first index of each batch, the last one short", () => {
  assert.deepEqual(batchStarts(0, 10, 4), [0, 4, 8]);
  assert.deepEqual(batchStarts(3, 4, 8), [3]);
  assert.deepEqual(batchStarts(5, 5, 2), []);
});

Deno.test("oneAhead: results in order; each step recorded before the previous one's result came back and submitted before it is handed out", async () => {
  const log: string[] = [];
  // A GPU queue: step k's readback resolves 5 ms after step k - 1's.
  let queue = Promise.resolve();
  const submit = (k: number) => {
    log.push(`submit ${k}`);
    const done = queue.then(() =>
      new Promise<number>((resolve) =>
        setTimeout(() => {
          log.push(`read ${k}`);
          resolve(k * 10);
        }, 5)
      )
    );
    queue = done.then(() => {});
    return done;
  };
  for await (const r of oneAhead([0, 1, 2], submit)) log.push(`got ${r}`);
  // Step k + 1 is recorded while step k runs (readBytes submits it once step k's map request is made), and
  // step k + 2 only once step k is handed out.
  assert.deepEqual(log, [
    "submit 0",
    "submit 1",
    "read 0",
    "got 0",
    "submit 2",
    "read 1",
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
