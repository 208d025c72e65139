import assert from "node:assert/strict";
import { layeringProblems } from "./layering.ts";

Deno.test("imports follow the layers, without cycles; the library names no command-line flag", () => {
  assert.deepEqual(layeringProblems(), []);
});
