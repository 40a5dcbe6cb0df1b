/**
 * Several MD5 streams hashed together by the generated multi-lane kernels (md5-wasm-gen.ts).
 * Each stream owns a lane: its state lives in the kernel's memory, and bytes pushed to it wait in
 * a queue (references, not copies) until `run()` hashes every lane's queued bytes, as many lanes
 * per kernel call as have data. Unless the caller asks lanes to wait for one another (`run`'s
 * `holdBytes`), a lane with data does not wait: when it alone has data it is hashed alone. One
 * instance per thread (a Worker builds its own).
 *
 * Each call copies up to `stageBytes` of every active lane into that lane's staging area in the
 * kernel's memory (the copy runs at memcpy speed, several times the hash's) and hashes the
 * smallest whole-block count among them; a lane drained of whole blocks drops out of the next
 * call. Less than a block at the end of a lane's queue is copied aside, so every pushed chunk is
 * released (its `done` called) as soon as all its bytes are hashed or copied.
 *
 * The class is built by `defineMd5Lanes`, a function that refers to nothing outside itself: its
 * source text is what a hash worker runs (a worker in the single executable is started from a
 * Blob of source and can import nothing), with the compiled kernel module posted to it.
 */
import { type Gather, generateMd5Module, md5KTable, md5Layout } from "./md5-wasm-gen.ts";

/** Bytes per lane per kernel call: the eight lanes' staging (128 KiB) stays in L2. */
export const stageBytes = 16 * 1024;
const memoryPages = Math.ceil((md5Layout.dataAddr + md5Layout.lanesMax * stageBytes) / (64 * 1024));

/** Which kernel hashes k active lanes (k ≥ 1): measured on bench/md5.ts. */
export type KernelChoice = "x1" | "x4" | "x8";
export type KernelPolicy = (activeLanes: number) => KernelChoice;

export interface Md5LanesOptions {
  /** Lanes offered: 4 (md5x4 only) or 8 (md5x8 when more than 4 have data). */
  readonly lanes?: 4 | 8;
  /** Default: defaultPolicy (inside defineMd5Lanes). */
  readonly policy?: KernelPolicy;
}

/** Lane-blocks (64 bytes of one stream) hashed by each kernel: how well lanes were filled. */
export interface LaneStats { x1: number; x4: number; x8: number }


interface Pending { chunk: Uint8Array; offset: number; done?: () => void }

/** One stream's bookkeeping. The kernel state of the stream sits in slot `slot`. */
interface Stream {
  slot: number;
  queue: Pending[];
  queuedBytes: number;
  /** Bytes pushed in all (the length MD5 pads with). */
  lengthBytes: number;
  /** Fewer than 64 trailing bytes, taken off the queue. */
  carry: Uint8Array;
  carried: number;
}

interface Md5Exports {
  md5x4(blocks: number): void;
  md5x8(blocks: number): void;
  md5x1(lane: number, blocks: number): void;
  memory: WebAssembly.Memory;
}

const modules = new Map<Gather, WebAssembly.Module>();
/**
 * The compiled kernels, one per way of gathering. "lane" is the default: it measured faster than
 * the shuffle transpose (JSC lowers a two-input i8x16.shuffle to two PSHUFBs and an OR): md5x8
 * ≈ 2,000 against ≈ 1,430 MiB/s.
 */
export function md5LanesModule(gather: Gather = "lane"): WebAssembly.Module {
  let m = modules.get(gather);
  if (!m) modules.set(gather, (m = new WebAssembly.Module(generateMd5Module({ gather, memoryPages }))));
  return m;
}

/** What defineMd5Lanes needs from outside, passed in so that its source stands alone. */
interface Md5LanesConstants {
  readonly layout: typeof md5Layout;
  readonly kTable: readonly number[];
  readonly stageBytes: number;
}

/** A handle on one lane's stream; valid until digest() or close(). */
export type LaneId = number;

export function defineMd5Lanes({ layout, kTable, stageBytes }: Md5LanesConstants) {
  const blockBytes = 64;
  const initialState = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
  const stageAddr = (slot: number) => layout.dataAddr + slot * stageBytes;
  /**
   * Measured (bench/md5.ts, MiB/s of all lanes together, one core): md5x1 ≈ 660, md5x4 ≈ 1,160,
   * md5x8 ≈ 2,000 (native MD5 ≈ 765). An idle lane costs as much as a busy one, so k active lanes
   * get k/4 or k/8 of a SIMD kernel's figure: two lanes go faster one after the other in md5x1
   * (660 against 580 in md5x4), three or four in md5x4, five to eight in md5x8.
   */
  const defaultPolicy = (k: number): KernelChoice => (k <= 2 ? "x1" : k <= 4 ? "x4" : "x8");
  function assert(condition: unknown, message: string): asserts condition {
    if (!condition) throw new Error(`assertion failed: ${message}`);
  }

  return class Md5Lanes {
    readonly lanes: number;
    private readonly kernel: Md5Exports;
    private readonly heap: Uint8Array;
    private readonly heap32: Uint32Array;
    private readonly policy: KernelPolicy;
    /** slots[s]: the stream whose state is in slot s. */
    private readonly slots: (Stream | undefined)[];
    private readonly streams = new Map<LaneId, Stream>();
    private nextId = 1;
    readonly stats: LaneStats = { x1: 0, x4: 0, x8: 0 };

    /** `module`: md5LanesModule()'s, whose memory layout is `layout`. */
    constructor(module: WebAssembly.Module, options: Md5LanesOptions = {}) {
      this.lanes = options.lanes ?? 8;
      this.policy = options.policy ?? defaultPolicy;
      this.kernel = new WebAssembly.Instance(module, {}).exports as unknown as Md5Exports;
      // The module never grows its memory, so these views stay valid.
      this.heap = new Uint8Array(this.kernel.memory.buffer);
      this.heap32 = new Uint32Array(this.kernel.memory.buffer);
      this.heap32.set(kTable, layout.kAddr / 4);
      this.slots = new Array(this.lanes).fill(undefined);
    }

    /** Lanes not held by a stream. */
    get free(): number {
      return this.lanes - this.streams.size;
    }

    /** Starts a stream in a free lane. */
    open(): LaneId {
      const slot = this.slots.indexOf(undefined);
      assert(slot >= 0, "md5-lanes: no free lane");
      const stream: Stream = { slot, queue: [], queuedBytes: 0, lengthBytes: 0, carry: new Uint8Array(blockBytes), carried: 0 };
      this.slots[slot] = stream;
      initialState.forEach((v, w) => this.setWord(slot, w, v));
      const id = this.nextId++;
      this.streams.set(id, stream);
      return id;
    }

    /** Queues `chunk` (not copied: it must stay unchanged until `done` is called by run()). */
    push(id: LaneId, chunk: Uint8Array, done?: () => void): void {
      const s = this.stream(id);
      s.lengthBytes += chunk.length;
      if (chunk.length === 0) return done?.();
      s.queue.push({ chunk, offset: 0, done });
      s.queuedBytes += chunk.length;
    }

    /** Bytes pushed to the stream and not yet hashed. */
    pending(id: LaneId): number {
      const s = this.stream(id);
      return s.queuedBytes + s.carried;
    }

    /**
     * Hashes whole blocks queued on the lanes, all of them or (with `budgetBytes`) until about
     * that many bytes are hashed, so a caller can stop to take in more data between slices. Once
     * everything is hashed each lane holds under one block.
     *
     * With `holdBytes`, lanes wait to be filled together: nothing is hashed while an open lane has
     * less than a block queued, unless some lane has `holdBytes` or more (that far ahead, it is not
     * held back further) or an `urgent` lane (one whose stream has ended) still has a block.
     */
    run(budgetBytes = Infinity, holdBytes = 0, urgent: readonly LaneId[] = []): void {
      let hashed = 0;
      while (hashed < budgetBytes) {
        const active = this.hashableLanes(holdBytes, urgent);
        if (active.length === 0) break;
        const choice = this.policy(active.length);
        if (choice === "x1") {
          for (const s of active) hashed += this.hashAlone(s, budgetBytes / active.length);
          continue;
        }
        const width = choice === "x4" && active.length <= 4 ? 4 : 8;
        assert(width <= this.lanes, "md5-lanes: the policy chose a kernel wider than the lanes offered");
        this.gatherInto(active, width);
        let blocks = Infinity;
        for (const s of active) blocks = Math.min(blocks, Math.floor((s.carried + s.queuedBytes) / blockBytes));
        blocks = Math.min(blocks, stageBytes / blockBytes);
        for (let slot = 0; slot < width; slot++) {
          const s = this.slots[slot];
          const on = s !== undefined && active.includes(s);
          this.heap32[layout.maskAddr / 4 + slot] = on ? 0xffffffff : 0;
          this.heap32[layout.pointersAddr / 4 + slot] = stageAddr(slot);
          if (on) this.stage(s, blocks * blockBytes);
        }
        if (width === 4) this.kernel.md5x4(blocks);
        else this.kernel.md5x8(blocks);
        this.stats[width === 4 ? "x4" : "x8"] += blocks * active.length;
        hashed += blocks * blockBytes * active.length;
        for (const s of active) this.keepCarry(s);
      }
      for (const s of this.streams.values()) this.keepCarry(s);
    }

    /** Whether `run` with the same `holdBytes` and `urgent` would hash anything now. */
    hashable(holdBytes = 0, urgent: readonly LaneId[] = []): boolean {
      return this.hashableLanes(holdBytes, urgent).length > 0;
    }

    /** The lanes `run` hashes next: those with a block or more, or none while they are held. */
    private hashableLanes(holdBytes: number, urgent: readonly LaneId[]): Stream[] {
      const active = this.slots.filter((s): s is Stream => s !== undefined && s.carried + s.queuedBytes >= blockBytes);
      if (holdBytes === 0 || active.length === this.streams.size) return active;
      if (urgent.some((id) => this.pending(id) >= blockBytes)) return active;
      return active.some((s) => s.carried + s.queuedBytes >= holdBytes) ? active : [];
    }

    /** Hashes what is left and the padding; the lane is free again. */
    digest(id: LaneId): Uint8Array {
      const s = this.stream(id);
      this.hashAlone(s);
      assert(s.queuedBytes === 0 && s.carried < blockBytes, "md5-lanes: queue not drained");
      // padding: 0x80, zeros to 56 mod 64, then the length in bits, little-endian 64-bit
      const tailBlocks = s.carried < 56 ? 1 : 2;
      const at = stageAddr(s.slot);
      this.heap.set(s.carry.subarray(0, s.carried), at);
      this.heap.fill(0, at + s.carried, at + tailBlocks * blockBytes);
      this.heap[at + s.carried] = 0x80;
      const bits = s.lengthBytes * 8;
      const lengthAt = (at + tailBlocks * blockBytes - 8) / 4;
      this.heap32[lengthAt] = bits >>> 0;
      this.heap32[lengthAt + 1] = Math.floor(bits / 2 ** 32) >>> 0;
      this.heap32[layout.pointersAddr / 4 + s.slot] = at;
      this.kernel.md5x1(s.slot, tailBlocks);
      const out = new Uint8Array(16);
      const view = new DataView(out.buffer);
      for (let w = 0; w < 4; w++) view.setUint32(4 * w, this.word(s.slot, w), true);
      this.close(id);
      return out;
    }

    /** Drops a stream (its queued chunks are released). */
    close(id: LaneId): void {
      const s = this.streams.get(id);
      if (!s) return;
      for (const p of s.queue) p.done?.();
      this.streams.delete(id);
      this.slots[s.slot] = undefined;
    }

    private stream(id: LaneId): Stream {
      const s = this.streams.get(id);
      assert(s !== undefined, "md5-lanes: unknown or finished stream");
      return s;
    }

    /** Hashes one stream's whole blocks (about `budgetBytes` of them) with the scalar kernel; returns bytes hashed. */
    private hashAlone(s: Stream, budgetBytes = Infinity): number {
      let hashed = 0;
      while (hashed < budgetBytes) {
        const blocks = Math.min(Math.floor((s.carried + s.queuedBytes) / blockBytes), stageBytes / blockBytes);
        if (blocks === 0) break;
        this.heap32[layout.pointersAddr / 4 + s.slot] = stageAddr(s.slot);
        this.stage(s, blocks * blockBytes);
        this.kernel.md5x1(s.slot, blocks);
        this.stats.x1 += blocks;
        hashed += blocks * blockBytes;
      }
      this.keepCarry(s);
      return hashed;
    }

    /** Moves the active streams' states into slots below `width` (swapping with idle ones). */
    private gatherInto(active: Stream[], width: number): void {
      for (const s of active) {
        if (s.slot < width) continue;
        let target = 0;
        while (active.includes(this.slots[target] as Stream)) target++;
        this.swapSlots(s.slot, target);
      }
    }

    private swapSlots(a: number, b: number): void {
      for (let w = 0; w < 4; w++) {
        const x = this.word(a, w);
        this.setWord(a, w, this.word(b, w));
        this.setWord(b, w, x);
      }
      const [sa, sb] = [this.slots[a], this.slots[b]];
      this.slots[a] = sb;
      this.slots[b] = sa;
      if (sa) sa.slot = b;
      if (sb) sb.slot = a;
    }

    /** Copies the stream's next `bytes` (carry first, then queue) to its staging area. */
    private stage(s: Stream, bytes: number): void {
      let at = stageAddr(s.slot);
      if (s.carried > 0) {
        this.heap.set(s.carry.subarray(0, s.carried), at);
        at += s.carried;
        bytes -= s.carried;
        s.carried = 0;
      }
      while (bytes > 0) {
        const p = s.queue[0];
        const n = Math.min(bytes, p.chunk.length - p.offset);
        this.heap.set(p.chunk.subarray(p.offset, p.offset + n), at);
        at += n;
        bytes -= n;
        p.offset += n;
        s.queuedBytes -= n;
        if (p.offset === p.chunk.length) {
          s.queue.shift();
          p.done?.();
        }
      }
    }

    /** Under one block left: copy it aside so its chunks are released. */
    private keepCarry(s: Stream): void {
      if (s.carried + s.queuedBytes >= blockBytes || s.queuedBytes === 0) return;
      for (const p of s.queue) {
        s.carry.set(p.chunk.subarray(p.offset), s.carried);
        s.carried += p.chunk.length - p.offset;
        p.done?.();
      }
      s.queue.length = 0;
      s.queuedBytes = 0;
    }

    private word(slot: number, w: number): number {
      return this.heap32[(layout.stateAddr + 64 * (slot >> 2) + 16 * w + 4 * (slot & 3)) / 4];
    }

    private setWord(slot: number, w: number, v: number): void {
      this.heap32[(layout.stateAddr + 64 * (slot >> 2) + 16 * w + 4 * (slot & 3)) / 4] = v;
    }
  };
}

/** The driver class, for this thread. */
export const Md5Lanes = defineMd5Lanes({ layout: md5Layout, kTable: [...md5KTable()], stageBytes });
export type Md5Lanes = InstanceType<typeof Md5Lanes>;

/** A driver on this thread over the default kernels. */
export function createMd5Lanes(options: Md5LanesOptions = {}): Md5Lanes {
  return new Md5Lanes(md5LanesModule(), options);
}

/**
 * Source text that defines `Md5Lanes` (the same class) in a worker; the worker builds instances
 * with `new Md5Lanes(module, options)`, `module` posted to it from md5LanesModule().
 */
export function md5LanesWorkerSource(): string {
  const constants: Md5LanesConstants = { layout: md5Layout, kTable: [...md5KTable()], stageBytes };
  return `const Md5Lanes = (${defineMd5Lanes.toString()})(${JSON.stringify(constants)});`;
}
