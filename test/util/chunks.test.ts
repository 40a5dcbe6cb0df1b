import { expect, test } from "bun:test";
import { handOn, releaseChunk, releaseIfHandedOn } from "../../src/util/chunks.ts";

test("a chunk is released only when its producer handed it on and it is the whole of its buffer", () => {
  const handed = handOn(new Uint8Array(1024).fill(1));
  const kept = new Uint8Array(1024).fill(2);
  const shared = new Uint8Array(2048);
  const view = handOn(shared.subarray(0, 1024));
  releaseIfHandedOn(handed);
  releaseIfHandedOn(kept);
  releaseIfHandedOn(view);
  expect(handed.byteLength).toBe(0);
  expect(kept.byteLength).toBe(1024);
  expect(kept[0]).toBe(2);
  // (a view of part of a buffer is never released: the rest of the buffer may be someone's)
  expect([view.byteLength, shared.byteLength]).toEqual([1024, 2048]);
  releaseChunk(kept);
  expect(kept.byteLength).toBe(0);
});
