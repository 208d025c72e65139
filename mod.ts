/**
 * sg3: StyleGAN3 (Karras et al., "Alias-Free Generative Adversarial Networks", NeurIPS 2021) on WebGPU.
 *
 * The public library API: open a GPU, move tensors, launch kernels, read and write the file formats.
 * The command-line tool (`cli/main.ts`) is a thin layer over these exports.
 *
 * @module
 */
export { GateFailure, UserError, type UserErrorOption } from "./errors.ts";
export { type AdapterSummary, requestAdapter, summarizeAdapter } from "./gpu/adapter.ts";
export { Gpu, type GpuOptions, type HostArray } from "./gpu/device.ts";
export { type TuneMode } from "./gpu/tuner.ts";
export { type BufferRange, type DType, dtypeBytes, numel, Tensor } from "./gpu/tensor.ts";
export { readBytes, readTensor } from "./gpu/readback.ts";
export {
  type BufferDecl,
  type Param,
  type Program,
  programSource,
  runProgram,
  type Scalar,
  uniformBytes,
  type Workgroups,
} from "./gpu/program.ts";
export { type Bindable, type Dispatch, type Staged } from "./gpu/submit.ts";
export { type BindingKind } from "./gpu/pipeline.ts";
export { axpby } from "./kernels/elementwise.ts";
export { matmul, type MatmulOptions, type MatmulVariant } from "./kernels/matmul.ts";
export { type FcOptions, fullyConnected, normalize2ndMoment } from "./kernels/fc.ts";
export { broadcastTruncate } from "./kernels/truncation.ts";
export {
  type ModConvOptions,
  type ModConvWeight,
  modulatedConv2d,
  modulationCoefficients,
  prepareModConvWeight,
} from "./kernels/modconv.ts";
export {
  filteredLrelu,
  type FilteredLreluOptions,
  filteredLreluSize,
  type FilteredLreluVariant,
  type FirFilter,
  prepareFilter,
} from "./kernels/filtered_lrelu.ts";
export {
  fourierFeatures,
  fourierGrid,
  type FourierInput,
  prepareFourierInput,
  synthesisInput,
} from "./kernels/fourier.ts";
export {
  Generator,
  type GeneratorOptions,
  type MappingOptions,
  type NoiseMode,
  type SynthesisOptions,
} from "./models/generator.ts";
export { type GeneratedImage, generateImages, type GenerateRequest } from "./models/generate.ts";
export { invert3x3, makeTransform } from "./models/transform.ts";
export { formatNpy, formatNpz, type NdArray, parseNpy, parseNpz, readNpy, readNpz } from "./formats/npy.ts";
export { writeFileAtomic } from "./formats/atomic.ts";
export {
  type LatentDims,
  type Latents,
  RandomState,
  readLatents,
  zFromSeed,
  zFromSeeds,
} from "./models/latents.ts";
export {
  besselI0,
  besselJ1,
  designLowpassFilter,
  firwin,
  kaiserAtten,
  kaiserBeta,
  kaiserWindow,
  type LayerFilterAttrs,
  layerFilters,
  radialLowpass,
} from "./models/filters.ts";
export {
  type Architecture,
  type ModuleInfo,
  type NamedTensor,
  type NetworkDescription,
} from "./formats/network.ts";
export {
  describeNetwork,
  loadNetwork,
  type LoadNetworkOptions,
  parseSnapshot,
  readSnapshot,
  type Snapshot,
  snapshotGenerator,
} from "./formats/snapshot.ts";
export {
  collectTensors,
  readTorchBytes,
  readTorchFile,
  readTorchScriptConstants,
  type TorchDType,
  TorchStorage,
  TorchTensor,
  type TypedTensor,
} from "./formats/torch.ts";
export {
  type GlobalHandler,
  PyDict,
  PyObject,
  unpickle,
  type Unpickled,
  type UnpickleOptions,
} from "./formats/pickle.ts";
export {
  cacheDir,
  type DownloadOptions,
  OFFICIAL_NETWORKS,
  resolveNetworkPath,
  type TransferReporter,
} from "./formats/download.ts";
export {
  type GeneratorKwargs,
  generatorKwargs,
  type Sg3Config,
  type SynthesisInputAttrs,
  type SynthesisKwargs,
  type SynthesisLayerAttrs,
  type SynthesisLayout,
  synthesisLayout,
  type TrainOptions,
} from "./models/config.ts";
export { randomNetwork, type RandomNetworkOptions } from "./models/random_init.ts";
export { type StyleGAN2Options } from "./models/random_init_sg2.ts";
export {
  choiceWithoutReplacement,
  circularZ,
  frameCount,
  frameTime,
  type InterpKind,
  KeyframeLoop,
  type KeyframeSeeds,
  keyframeSeeds,
  shuffle,
  slerp,
  UniformCubicSpline,
} from "./models/interpolation.ts";
export {
  DEFAULT_SPEED,
  type Motion,
  motionAt,
  type MotionKind,
  motionTransform,
  resampleImage,
} from "./models/motion.ts";
export { findFfmpeg, type Mp4EncoderChoice, type Mp4Options, Mp4Writer, rgbToI420 } from "./formats/mp4.ts";
export { type Mp4Info, probeMp4 } from "./formats/mp4_probe.ts";
export { ApngWriter, crc32 } from "./formats/apng.ts";
export { isApngPath, openVideo, type VideoWriter } from "./formats/video_file.ts";
export {
  countParameters,
  describeParts,
  inspectReport,
  type LayerRow,
  layerTable,
} from "./models/inspect.ts";
export {
  fixedSource,
  keyframeVideo,
  type LatentSource,
  loopSource,
  mapToHost,
  renderFrames,
  tableSource,
  type VideoFrame,
  type VideoMapping,
  type VideoSpec,
} from "./models/video.ts";
export {
  convCandidates,
  convGemm,
  type ConvGemmOptions,
  convOutSize,
  type ConvVariant,
  type ConvWeight,
  packConvWeight,
} from "./kernels/conv_gemm.ts";
export { WinogradWeights } from "./kernels/winograd.ts";
export { globalAvgPool, pool2d, type PoolParams } from "./kernels/pool.ts";
export {
  imagesToNCHW,
  quantizeImages,
  type ResamplePost,
  type ResampleTable,
  resampleTable,
  resize,
  type ResizeMethod,
} from "./kernels/resize.ts";
export {
  Inception,
  type InceptionOutputs,
  preprocess,
  preprocessTensor,
  type Preset,
  PRESETS,
} from "./models/inception.ts";
export {
  type ArrayLike32,
  fixtureStateDict,
  type FoldedConv,
  fromNvidia,
  fromPytorchFid,
  type InceptionWeights,
  loadInceptionWeights,
  NVIDIA_DETECTOR_URL,
} from "./models/inception_weights.ts";
export { encodePng, type Image8, writePng } from "./formats/png.ts";
export { Dataset, type DatasetOptions } from "./formats/dataset.ts";
export {
  type CovarianceConvention,
  FeatureStats,
  type FeatureSums,
  type Stats,
} from "./metrics/feature_stats.ts";
export { GramPool } from "./metrics/gram_pool.ts";
export { helperThreads } from "./formats/threads.ts";
export { PngWriter } from "./formats/png_pool.ts";
export { frechetDistance, PRESET_COVARIANCE, readStats, writeStats } from "./metrics/fid.ts";
export {
  inceptionScore,
  kernelInceptionDistance,
  kernelInceptionDistanceGpu,
  type KidOptions,
} from "./metrics/kid.ts";
export {
  datasetFeatures,
  type FeatureOptions,
  type FeatureResult,
  generatorFeatures,
  type GeneratorSampling,
} from "./metrics/inception_features.ts";
export { type IndexRange } from "./metrics/shard.ts";
export { type InputSpec, type LayerSpec, parseStyleGAN3, type SynthesisSpec } from "./models/spec_sg3.ts";
export {
  parseStyleGAN2,
  type Sg2BlockSpec,
  type Sg2LayerSpec,
  type Sg2SynthesisSpec,
} from "./models/spec_sg2.ts";
export {
  type BatchSums,
  computeEquivariance,
  DRAW_GROUP,
  EQ_METRICS,
  type EqGenerator,
  type EqMetric,
  type EqMetricResult,
  eqResults,
  type EqRunOptions,
  type EqRunResult,
  type EqSample,
  type EqSums,
  evaluateBatch,
  parseTransforms,
  psnr,
  type RandomSampleOptions,
  RandomSamples,
  sampledMetrics,
  sampleTransform,
} from "./metrics/equivariance.ts";
export {
  type FractionalAxis,
  fractionalAxis,
  fractionalTranslate,
  fractionalTranslationMask,
  sinc,
} from "./kernels/eq_fractional.ts";
export {
  integerShift,
  integerTranslate,
  integerTranslationMask,
  roundHalfEven,
} from "./kernels/eq_translate.ts";
export { type Rect, rectMasks } from "./kernels/eq_mask.ts";
export { samePadding, upfirdn2d, type UpfirdnOptions } from "./kernels/eq_upfirdn.ts";
export { bandlimitFilter, type BandlimitOptions, type Filter2d } from "./kernels/eq_bandlimit.ts";
export {
  affineTheta,
  fractionalRotation,
  type Masked,
  pseudoRotation,
  pseudoRotationFilter,
  rotationFilter,
  rotationMatrix,
} from "./kernels/eq_rotate.ts";
export { maskedSquaredError } from "./kernels/eq_error.ts";
