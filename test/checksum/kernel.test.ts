/** The WASM generator over other slicing widths than the shipped one, against the reference. */
import { expect, test } from "bun:test";
import {
  crc32cPolyReflected,
  crc32SlicingTables,
  crc64NvmePolyReflectedHi,
  crc64NvmePolyReflectedLo,
  crc64SlicingTables,
} from "../../src/checksum/crc-tables.ts";
import { crcKernelLayout } from "../../src/checksum/crc-kernel.ts";
import { generateCrcModule } from "../../src/checksum/crc-wasm-gen.ts";
import { int, mulberry32 } from "../sigv4/prng.ts";
import { referenceCrc } from "./reference.ts";

function instantiate(crc32Slices: number, crc64Slices: number) {
  const crc64TablesAddr = crc32Slices * 1024;
  const stateAddr = crc64TablesAddr + crc64Slices * 2048;
  const dataAddr = stateAddr + 8 + 3; // deliberately unaligned
  const layout = { crc32Slices, crc64Slices, crc32TablesAddr: 0, crc64TablesAddr, memoryPages: Math.ceil((dataAddr + 4096) / 65536) };
  const k = new WebAssembly.Instance(new WebAssembly.Module(generateCrcModule(layout)), {}).exports as any;
  const heap = new Uint8Array(k.memory.buffer);
  const heap32 = new Uint32Array(k.memory.buffer);
  heap32.set(crc32SlicingTables(crc32cPolyReflected, crc32Slices), 0);
  heap32.set(crc64SlicingTables(crc64NvmePolyReflectedHi, crc64NvmePolyReflectedLo, crc64Slices), crc64TablesAddr / 4);
  const view = new DataView(k.memory.buffer);
  return {
    crc32c(data: Uint8Array): bigint {
      heap.set(data, dataAddr);
      return BigInt(~k.crc32c(-1, dataAddr, data.length) >>> 0);
    },
    crc64(data: Uint8Array): bigint {
      heap.set(data, dataAddr);
      view.setBigUint64(stateAddr, 0xffffffffffffffffn, true);
      k.crc64(stateAddr, dataAddr, data.length);
      return view.getBigUint64(stateAddr, true) ^ 0xffffffffffffffffn;
    },
  };
}

test("slicing widths that are not powers of two are refused", () => {
  expect(() => generateCrcModule({ ...crcKernelLayout, crc32Slices: 12 })).toThrow(/power of two/);
  expect(() => generateCrcModule({ ...crcKernelLayout, crc64Slices: 24 })).toThrow(/power of two/);
});

test("generated modules are deterministic and valid", () => {
  const a = generateCrcModule(crcKernelLayout);
  expect(Buffer.from(generateCrcModule(crcKernelLayout)).equals(Buffer.from(a))).toBe(true);
  expect(WebAssembly.validate(a)).toBe(true);
});

test.each([[4, 8], [8, 8], [16, 16], [32, 32], [4, 32]])("slicing by %i (CRC-32C) and %i (CRC-64) match the reference", (s32, s64) => {
  const k = instantiate(s32, s64);
  const rng = mulberry32(0xc0ffee + s32);
  for (let round = 0; round < 60; round++) {
    const data = Uint8Array.from({ length: round < 40 ? round : int(rng, 4096) }, () => int(rng, 256));
    expect(k.crc32c(data)).toBe(referenceCrc("CRC32C", data));
    expect(k.crc64(data)).toBe(referenceCrc("CRC64NVME", data));
  }
});
