import assert from "node:assert/strict";
import { join } from "node:path";
import { UserError } from "../errors.ts";
import { Dataset } from "../formats/dataset.ts";
import { DatasetReader } from "../formats/dataset_pool.ts";
import { encodePng } from "../formats/png.ts";

Deno.test("DatasetReader: the workers' items equal Dataset.item's, mirrored copies and errors included", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    [[5, 3], [2, 9], [7, 7]].forEach(([h, w], k) => {
      const data = Uint8Array.from({ length: h * w * 3 }, (_, i) => (i * 13 + k * 50) % 256);
      Deno.writeFileSync(join(dir, `im${k}.png`), encodePng({ width: w, height: h, channels: 3, data }));
    });
    const data = Dataset.open(dir, { mirror: true, maxItems: 5 });
    const reader = new DatasetReader(data, 2);
    try {
      const items = await reader.items(0, data.count);
      assert.equal(items.length, 5);
      items.forEach((im, i) => assert.deepEqual(im, data.item(i), `item ${i}`));
      assert.deepEqual(await reader.items(3, 2), [data.item(3), data.item(4)]);
    } finally {
      reader.close();
      data.close();
    }
    // A file that does not decode: the worker's error is the same one line, still a UserError.
    Deno.writeFileSync(join(dir, "zz_bad.png"), new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]));
    const bad = Dataset.open(dir);
    const badReader = new DatasetReader(bad, 2);
    try {
      let expected = "";
      try {
        bad.item(3);
      } catch (e) {
        expected = (e as Error).message;
      }
      assert.ok(expected.includes("zz_bad.png"), expected);
      await assert.rejects(
        () => badReader.items(2, 2),
        (e) => e instanceof UserError && e.message === expected,
      );
    } finally {
      badReader.close();
      bad.close();
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
