/// <reference lib="dom" />
/**
 * The viewer page's script (bundled by viewer/bundle.ts). It opens the browser's WebGPU adapter with sg3's
 * GPU layer, fetches the network the server prepared (viewer/wire.ts), builds sg3's Generator and renders
 * with viewer/view.ts, i.e. with sg3's own kernels and model code. Without WebGPU (or when the adapter
 * cannot run the network) it says so in one line and asks the server to render instead (/render, /layers).
 *
 * For tests and scripting the page exposes `window.sg3view` (mode, adapter, settings, drawn (the drawn
 * frame's settings), set(settings), settled(), pixels(), floats(), png(), layers) and sets
 * `<body data-state>` to "ready" (or "error") once the first frame is drawn.
 */
import { Gpu } from "../gpu/device.ts";
import { Generator } from "../models/generator.ts";
import { calibrateMagnitudes } from "../models/calibrate.ts";
import { decodePng, encodePng, type Image8 } from "../formats/png.ts";
import { decodeNetwork } from "./wire.ts";
import {
  DEFAULT_SETTINGS,
  type LayerInfo,
  listLayers,
  renderView,
  settingsFromParams,
  settingsToParams,
  type ViewFrame,
  type ViewSettings,
} from "./view.ts";

/** What the server says about its network (/info). */
interface NetworkInfo {
  label: string;
  arch: string;
  resolution: number;
  cDim: number;
  numWs: number;
  hasInputTransform: boolean;
}

/** Renders views: in this tab's WebGPU or on the server. */
interface Renderer {
  mode: "webgpu" | "server";
  adapter: string;
  render(s: ViewSettings): Promise<ViewFrame>;
  layers(s: ViewSettings): Promise<LayerInfo[]>;
}

const token = new URLSearchParams(location.search).get("token") ?? "";
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

function url(path: string, params = new URLSearchParams()): string {
  params.set("token", token);
  return `${path}?${params}`;
}

async function fetchOk(path: string, params?: URLSearchParams): Promise<Response> {
  const r = await fetch(url(path, params));
  if (!r.ok) throw new Error(`${path}: ${r.status} ${(await r.text()).trim()}`);
  return r;
}

/** The adapter's name; browsers may hide the description, then its vendor and architecture. */
function adapterName(gpu: Gpu): string {
  const a = gpu.summary;
  if (a.description && a.description !== "unknown adapter") return a.description;
  return [a.vendor, a.architecture].filter((v) => v).join(" ") || "unnamed WebGPU adapter";
}

/** The generator in this tab's WebGPU; throws (with the reason) when that is not possible. */
async function webgpuRenderer(info: NetworkInfo): Promise<Renderer> {
  if (!("gpu" in navigator)) throw new Error("this browser has no WebGPU");
  const gpu = await Gpu.open({ tune: "on" });
  try {
    const { net, meta } = decodeNetwork(new Uint8Array(await (await fetchOk("/network.bin")).arrayBuffer()));
    if (meta.random) await calibrateMagnitudes(gpu, net);
    const gen = Generator.create(gpu, net);
    if (gen.activationBytes > gpu.maxBuffer) {
      throw new Error(`its limits are too small for this ${info.resolution}x${info.resolution} network`);
    }
    const renderer: Renderer = {
      mode: "webgpu",
      adapter: adapterName(gpu),
      render: (s) => renderView(gpu, gen, s),
      layers: (s) => listLayers(gpu, gen, s),
    };
    await renderer.render(DEFAULT_SETTINGS); // a first pass proves the adapter runs the kernels
    gpu.throwIfFailed();
    return renderer;
  } catch (e) {
    gpu.destroy();
    throw e;
  }
}

/** Rendering on the server, which answers PNGs. */
function serverRenderer(adapter: string): Renderer {
  return {
    mode: "server",
    adapter,
    async render(s) {
      const r = await fetchOk("/render", settingsToParams(s));
      const image = decodePng(new Uint8Array(await r.arrayBuffer()));
      const channels = r.headers.get("x-sg3-layer-channels");
      return {
        image,
        name: r.headers.get("x-sg3-name") ?? "image",
        layerChannels: channels ? Number(channels) : undefined,
      };
    },
    async layers(s) {
      return await (await fetchOk("/layers", settingsToParams(s))).json();
    },
  };
}

function draw(canvas: HTMLCanvasElement, img: Image8): void {
  if (canvas.width !== img.width || canvas.height !== img.height) {
    canvas.width = img.width;
    canvas.height = img.height;
  }
  const rgba = new ImageData(img.width, img.height);
  for (let i = 0, n = img.width * img.height; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      rgba.data[i * 4 + c] = img.data[i * img.channels + (img.channels >= 3 ? c : 0)];
    }
    rgba.data[i * 4 + 3] = 255;
  }
  canvas.getContext("2d")!.putImageData(rgba, 0, 0);
}

async function main(): Promise<void> {
  const info: NetworkInfo = await (await fetchOk("/info")).json();
  $("network").textContent = `${info.label} · ${info.arch} · ${info.resolution}×${info.resolution}`;
  let renderer: Renderer;
  try {
    renderer = await webgpuRenderer(info);
  } catch (e) {
    const why = (e as Error).message.split("\n")[0];
    const notice = $("notice");
    notice.textContent = `WebGPU is not usable here (${why}): the server renders the images instead.`;
    notice.hidden = false;
    renderer = serverRenderer((await (await fetchOk("/adapter")).json()).adapter);
  }

  const s: ViewSettings = settingsFromParams(new URLSearchParams(location.hash.slice(1)));
  const canvas = $<HTMLCanvasElement>("canvas");
  let frame: ViewFrame | null = null;
  /** The settings `frame` was rendered with (with animation: the moved translate and rotate). */
  let frameOf: ViewSettings = { ...s };
  let layers: LayerInfo[] = [];
  let version = 0, drawn = -1, running = false, lastMs = 0;
  const waiting: { version: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  const animStart = performance.now();

  // Controls.
  const seed = $<HTMLInputElement>("seed"), psi = $<HTMLInputElement>("psi");
  const cutoff = $<HTMLInputElement>("cutoff"), cls = $<HTMLInputElement>("class");
  const noise = $<HTMLSelectElement>("noise"), tx = $<HTMLInputElement>("tx"), ty = $<HTMLInputElement>("ty");
  const rot = $<HTMLInputElement>("rot"), animate = $<HTMLInputElement>("animate");
  const layer = $<HTMLSelectElement>("layer"), channel = $<HTMLInputElement>("channel");
  const rgb = $<HTMLInputElement>("rgb"), zoom = $<HTMLSelectElement>("zoom");
  $("class-row").hidden = info.cDim === 0;
  $("class-of").textContent = `of ${info.cDim}`;
  cls.max = String(Math.max(0, info.cDim - 1));
  $("noise-row").hidden = info.arch !== "stylegan2";
  $("transform-box").hidden = !info.hasInputTransform;
  $("cutoff-of").textContent = `of ${info.numWs} ws`;
  cutoff.max = String(info.numWs);

  function showControls(): void {
    seed.value = String(s.seed);
    psi.value = String(s.psi);
    $("psi-out").textContent = s.psi.toFixed(2);
    cutoff.value = s.cutoff === null ? "" : String(s.cutoff);
    cls.value = String(s.classIdx);
    noise.value = s.noiseMode;
    tx.value = String(s.tx);
    ty.value = String(s.ty);
    rot.value = String(s.rotate);
    $("tx-out").textContent = s.tx.toFixed(3);
    $("ty-out").textContent = s.ty.toFixed(3);
    $("rot-out").textContent = `${s.rotate.toFixed(1)}°`;
    animate.checked = s.animate;
    layer.value = s.layer;
    channel.value = String(s.channel);
    rgb.checked = s.channels === 3;
    zoom.value = String(s.zoom);
    const scale = s.zoom ||
      Math.max(1, Math.floor(Math.min(innerWidth - 360, innerHeight - 80) / canvas.height));
    canvas.style.width = `${canvas.width * scale}px`;
    const hash = settingsToParams(s).toString();
    history.replaceState(null, "", `${location.pathname}${location.search}${hash ? "#" + hash : ""}`);
    $<HTMLAnchorElement>("permalink").href = location.href;
  }

  /** The settings of the next frame: with animation, translate and rotate move over time. */
  function frameSettings(): ViewSettings {
    if (!s.animate || !info.hasInputTransform) return { ...s };
    const t = (performance.now() - animStart) / 1000;
    return {
      ...s,
      tx: s.tx + 0.1 * Math.cos(t * 0.5),
      ty: s.ty + 0.1 * Math.sin(t * 0.5),
      rotate: s.rotate + 10 * t,
    };
  }

  async function loop(): Promise<void> {
    if (running) return;
    running = true;
    try {
      while (drawn < version || s.animate) {
        const v = version;
        const t0 = performance.now();
        try {
          const fs = frameSettings();
          frame = await renderer.render(fs);
          frameOf = fs;
          draw(canvas, frame.image);
          lastMs = performance.now() - t0;
          drawn = v;
          if (frame.layerChannels !== undefined) $("channel-of").textContent = `of ${frame.layerChannels}`;
          else $("channel-of").textContent = "";
          showControls();
          $("status").textContent = `${lastMs.toFixed(1)} ms/frame · ${renderer.adapter}` +
            (renderer.mode === "server" ? " (server)" : " (WebGPU in this tab)");
          const due = waiting.filter((w) => w.version <= v);
          waiting.splice(0, waiting.length, ...waiting.filter((w) => w.version > v));
          due.forEach((w) => w.resolve());
        } catch (e) {
          drawn = v;
          const notice = $("notice");
          notice.textContent = `rendering failed: ${(e as Error).message.split("\n")[0]}`;
          notice.hidden = false;
          for (const w of waiting.splice(0)) w.reject(e as Error);
          if (s.animate) s.animate = false;
        }
        if (s.animate) await new Promise((r) => requestAnimationFrame(r));
      }
    } finally {
      running = false;
    }
  }

  function changed(): Promise<void> {
    version++;
    const done = new Promise<void>((resolve, reject) => waiting.push({ version, resolve, reject }));
    loop();
    return done;
  }

  const num = (el: HTMLInputElement, fallback: number) => {
    const v = Number(el.value);
    return el.value.trim() !== "" && Number.isFinite(v) ? v : fallback;
  };
  seed.addEventListener("change", () => {
    s.seed = Math.max(0, Math.min(0xffffffff, Math.round(num(seed, s.seed))));
    changed();
  });
  $("seed-prev").addEventListener("click", () => {
    s.seed = Math.max(0, Math.ceil(s.seed) - 1);
    changed();
  });
  $("seed-next").addEventListener("click", () => {
    s.seed = Math.floor(s.seed) + 1;
    changed();
  });
  psi.addEventListener("input", () => (s.psi = num(psi, 1), changed()));
  cutoff.addEventListener("change", () => {
    s.cutoff = cutoff.value.trim() === "" ? null : Math.max(0, Math.round(num(cutoff, 0)));
    changed();
  });
  cls.addEventListener("change", () => (s.classIdx = Math.max(0, Math.round(num(cls, 0))), changed()));
  noise.addEventListener("change", () => (s.noiseMode = noise.value as ViewSettings["noiseMode"], changed()));
  tx.addEventListener("input", () => (s.tx = num(tx, 0), changed()));
  ty.addEventListener("input", () => (s.ty = num(ty, 0), changed()));
  rot.addEventListener("input", () => (s.rotate = num(rot, 0), changed()));
  animate.addEventListener("change", () => (s.animate = animate.checked, changed()));
  $("transform-reset").addEventListener("click", () => {
    Object.assign(s, { tx: 0, ty: 0, rotate: 0, animate: false });
    changed();
  });
  layer.addEventListener("change", () => (s.layer = layer.value, s.channel = 0, changed()));
  channel.addEventListener("change", () => (s.channel = Math.max(0, Math.round(num(channel, 0))), changed()));
  rgb.addEventListener("change", () => (s.channels = rgb.checked ? 3 : 1, changed()));
  zoom.addEventListener("change", () => (s.zoom = Number(zoom.value), showControls()));
  addEventListener("resize", () => showControls());

  // Dragging the image sideways blends neighbouring seeds (100 px per seed); releasing snaps to the nearest.
  let drag: { x: number; seed: number } | null = null;
  canvas.addEventListener("pointerdown", (e) => {
    drag = { x: e.clientX, seed: s.seed };
    canvas.setPointerCapture(e.pointerId);
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!drag) return;
    s.seed = Math.max(0, Math.round((drag.seed + (e.clientX - drag.x) / 100) * 100) / 100);
    changed();
  });
  const endDrag = () => {
    if (!drag) return;
    drag = null;
    s.seed = Math.round(s.seed);
    changed();
  };
  canvas.addEventListener("pointerup", endDrag);
  canvas.addEventListener("pointercancel", endDrag);

  function savePng(): Uint8Array {
    if (!frame) throw new Error("nothing rendered yet");
    return encodePng(frame.image);
  }
  $("save").addEventListener("click", () => {
    if (!frame) return;
    const a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([savePng() as BlobPart], { type: "image/png" }));
    a.download = `${frame.name}${s.layer ? `-${s.layer}` : ""}.png`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  });

  async function refreshLayers(): Promise<void> {
    layers = await renderer.layers({ ...s, layer: "" });
    for (const l of layers) {
      const o = document.createElement("option");
      o.value = l.name;
      o.textContent = `${l.name} [${l.shape.join("×")}]`;
      layer.append(o);
    }
    layer.value = s.layer;
  }

  showControls();
  await changed();
  await refreshLayers();
  const api = {
    mode: renderer.mode,
    adapter: renderer.adapter,
    get settings(): ViewSettings {
      return { ...s };
    },
    get layers(): LayerInfo[] {
      return layers;
    },
    /** The settings of the drawn frame (with animation: the translate and rotate it was drawn at). */
    get drawn(): ViewSettings {
      return { ...frameOf };
    },
    get ms(): number {
      return lastMs;
    },
    /** Resolves once the latest change (from a control or {@link set}) is drawn. */
    settled(): Promise<void> {
      if (drawn >= version) return Promise.resolve();
      return new Promise<void>((resolve, reject) => waiting.push({ version, resolve, reject }));
    },
    /** Changes settings and resolves once a frame with them is drawn. */
    set(change: Partial<ViewSettings>): Promise<void> {
      Object.assign(s, change);
      return changed();
    },
    /** The drawn frame: width, height and RGB values. */
    pixels(): { width: number; height: number; name: string; data: number[] } {
      const img = frame!.image;
      return { width: img.width, height: img.height, name: frame!.name, data: Array.from(img.data) };
    },
    /** The output image's float values (NCHW) when rendered in this tab, else null. */
    floats(): number[] | null {
      return frame?.float ? Array.from(frame.float) : null;
    },
    /** The bytes "save PNG" writes. */
    png(): number[] {
      return Array.from(savePng());
    },
  };
  (globalThis as { sg3view?: unknown }).sg3view = api;
  document.body.dataset.state = "ready";
}

main().catch((e) => {
  const notice = $("notice");
  notice.textContent = `the viewer failed: ${(e as Error).message.split("\n")[0]}`;
  notice.hidden = false;
  document.body.dataset.state = "error";
});
