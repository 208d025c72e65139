/**
 * `sg3 inspect` on the fixture snapshots: the JSON layer table must equal the official layer table the
 * manifest records for the same hyper-parameters (every key, exact), parameter counts must match, and
 * bad input must give exit code 2 with one line naming the file.
 */
import assert from "node:assert/strict";
import { fixture, fixtureTest, manifest } from "./fixtures.ts";
import { runMain } from "./cli.ts";

for (const name of ["tiny-t", "tiny-r", "tiny-t-cond"]) {
  fixtureTest(`sg3 inspect --json ${name}: layer table equals the official one`, "sg3", async () => {
    const ref = manifest("sg3").networks[name];
    const { code, out } = await runMain(["inspect", fixture("sg3", ref.file), "--json"]);
    assert.equal(code, 0);
    const r = JSON.parse(out);
    assert.equal(r.arch, ref.cfg === "r" ? "stylegan3-r" : "stylegan3-t");
    assert.deepEqual(
      [r.z_dim, r.w_dim, r.c_dim, r.img_resolution, r.img_channels, r.num_ws],
      [ref.G_kwargs.z_dim, ref.G_kwargs.w_dim, ref.common_kwargs.c_dim, 32, 3, ref.num_ws],
    );
    assert.equal(r.num_params, ref.num_params_G_ema);
    assert.equal(r.num_params_mapping + r.num_params_synthesis, r.num_params);
    assert.deepEqual(r.parts, {
      G: "Generator",
      D: "Discriminator",
      G_ema: "Generator",
      augment_pipe: "None",
      training_set_kwargs: "dict",
    });
    assert.deepEqual(r.training_set_kwargs, ref.training_set_kwargs);
    assert.equal(r.layers.length, ref.layers.length);
    ref.layers.forEach((layer: Record<string, unknown>, i: number) => {
      for (const [k, v] of Object.entries(layer)) assert.deepEqual(r.layers[i][k], v, `${layer.name}.${k}`);
    });
  });
}

fixtureTest("sg3 inspect: text report and --which G", "sg3", async () => {
  const { code, out } = await runMain(["inspect", fixture("sg3", "tiny-r.pkl"), "--which", "G"]);
  assert.equal(code, 0);
  assert.match(out, /network\s+G: stylegan3-r, 32x32, 3 channels/);
  assert.match(out, /dims\s+z 32, w 32, c 0, num_ws 16/);
  assert.match(
    out,
    /holds\s+G \(Generator\), D \(Discriminator\), G_ema \(Generator\), augment_pipe \(None\)/,
  );
  assert.match(out, /^L5_52_64\s+36->52\s+64->64\s+16->32\s+4->4\.7568\s+4->11\.2432\s+4\s+2\s+6,272$/m);
  assert.match(out, /^L14_32_3\s+32->32\s+64->3\s/m);
});

fixtureTest("sg3 inspect: bad input gives one line and exit code 2", "inception", async () => {
  const cases: [string[], RegExp][] = [
    [["inspect", "/nonexistent/x.pkl"], /\/nonexistent\/x\.pkl: no such file/],
    [["inspect", fixture("inception", "loader", "torch_save_zip_state_dict.pth")], /not a network snapshot/],
    [["inspect", fixture("sg3", "tiny-t.pkl"), "--which", "D"], /--which: expected G_ema, G/],
    [["inspect"], /expected one network file/],
  ];
  for (const [args, re] of cases) {
    const { code, err } = await runMain(args);
    assert.equal(code, 2, args.join(" "));
    assert.equal(err.length, 1, args.join(" "));
    assert.match(err[0], re);
  }
});
