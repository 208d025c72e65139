/**
 * Adapter selection: the first step of every GPU command. Picks the high-performance adapter, or the
 * one named by `--adapter` / `SG3_ADAPTER` (a case-insensitive substring of its description, or
 * "fallback" / "default"), and explains how to get one when WebGPU finds none.
 */
import { UserError } from "../errors.ts";

/** What `sg3 info` reports about an adapter. */
export interface AdapterSummary {
  /** The adapter's description, else its device name, else "unknown adapter". */
  description: string;
  /** `GPUAdapterInfo.vendor` (may be empty). */
  vendor: string;
  /** `GPUAdapterInfo.architecture` (may be empty). */
  architecture: string;
  /** `GPUAdapterInfo.device` (may be empty). */
  device: string;
  /** Whether this is a fallback (software) adapter, as WebGPU reports it. */
  isFallback: boolean;
  /**
   * Whether this is Google's SwiftShader (Chromium's software adapter, architecture "swiftshader"): its
   * shader compiler ran out of memory on sg3's largest unrolled kernels, so kernels leave those out there.
   */
  swiftShader: boolean;
  /** The adapter's feature names, sorted. */
  features: string[];
  /** The limits that bound sg3's kernels (buffer and binding sizes, workgroup limits), by name. */
  limits: Record<string, number>;
}

/** The limits that bound sg3's kernels, in the order `sg3 info` prints them. */
const IMPORTANT_LIMITS = [
  "maxBufferSize",
  "maxStorageBufferBindingSize",
  "maxStorageBuffersPerShaderStage",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY",
  "maxComputeWorkgroupsPerDimension",
  "minStorageBufferOffsetAlignment",
  "minUniformBufferOffsetAlignment",
] as const;

/** The message for a machine on which WebGPU sees no adapter at all. */
const NO_ADAPTER_HELP =
  "no WebGPU adapter found: install a GPU driver with Vulkan, Metal or D3D12 support, " +
  "or on Linux without a GPU the software Vulkan driver (apt-get install mesa-vulkan-drivers)";

/** Summarises an adapter for printing. */
export function summarizeAdapter(adapter: GPUAdapter): AdapterSummary {
  const info = adapter.info;
  const limits: Record<string, number> = {};
  for (const name of IMPORTANT_LIMITS) limits[name] = Number(adapter.limits[name]);
  return {
    description: info.description || info.device || "unknown adapter",
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    isFallback: Boolean((info as { isFallbackAdapter?: boolean }).isFallbackAdapter),
    swiftShader: info.architecture.toLowerCase() === "swiftshader",
    features: [...adapter.features].sort(),
    limits,
  };
}

/**
 * Requests an adapter. `choice` (or env SG3_ADAPTER) selects: "low-power", "high-performance",
 * or a substring of the adapter description that must match.
 */
export async function requestAdapter(choice?: string): Promise<GPUAdapter> {
  if (typeof navigator === "undefined" || !("gpu" in navigator)) throw new UserError(NO_ADAPTER_HELP);
  // Deno reads SG3_ADAPTER; in a browser (the viewer's page) there is no environment.
  const env = (globalThis as { Deno?: typeof Deno }).Deno?.env.get("SG3_ADAPTER");
  const want = choice ?? env ?? "high-performance";
  const preferences: GPUPowerPreference[] = want === "low-power"
    ? ["low-power"]
    : ["high-performance", "low-power"];
  const seen: GPUAdapter[] = [];
  for (const powerPreference of preferences) {
    let adapter: GPUAdapter | null = null;
    try {
      adapter = await navigator.gpu.requestAdapter({ powerPreference });
    } catch {
      adapter = null;
    }
    if (adapter) seen.push(adapter);
  }
  if (seen.length === 0) throw new UserError(NO_ADAPTER_HELP);
  if (want === "high-performance" || want === "low-power") return seen[0];
  const match = seen.find((a) => summarizeAdapter(a).description.toLowerCase().includes(want.toLowerCase()));
  if (!match) {
    const names = [...new Set(seen.map((a) => summarizeAdapter(a).description))].join(", ");
    throw new UserError(`no WebGPU adapter matches "${want}" (available: ${names})`);
  }
  return match;
}
