/** The erasure-coding library's public face: what the cluster backend imports. */
export { defaultKernel, ErasureError, inversionCacheEntriesMax, ReedSolomon, Stripe, stripePoolMax } from "./codec.ts";
export type { Coefficients, Kernel, ShardArena } from "./kernel.ts";
export { tsKernel } from "./kernel-ts.ts";
export { createWasmKernel, detectWasmSupport } from "./kernel-wasm.ts";
export { shardCountMax } from "./matrix.ts";
export { type ChunkSpan, decodeStripe, encodeStripes, shardBytesFor, spansFor, type StripeLayout, stripeCount } from "./striping.ts";
