/** The service every conformance peer runs, and deterministic body helpers. */
import { crc32 as crc32c } from "node:zlib";
import { Prng } from "../../src/raft/prng.ts";
import type { CallReply, TransportHandlers } from "../../src/net/transport.ts";

const blockBytes = 1 << 20;
const block = (() => {
  const p = new Prng(6);
  const b = new Uint8Array(blockBytes);
  for (let i = 0; i < b.length; i += 4) new DataView(b.buffer).setUint32(i, p.u32());
  return b;
})();
export const patternChunkBytes = 256 * 1024;

/** `bytes` of a fixed pseudo-random pattern, pulled on demand (bounded memory). */
export function patternStream(bytes: number, stallAfter = false): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    pull(c) {
      if (sent >= bytes) {
        if (stallAfter) return new Promise(() => {}); // never more bytes, never the end
        c.close();
        return;
      }
      const off = sent % blockBytes;
      const n = Math.min(patternChunkBytes, bytes - sent, blockBytes - off);
      c.enqueue(block.subarray(off, off + n));
      sent += n;
    },
  }, { highWaterMark: 0 });
}

const crcCache = new Map<number, number>();
export function patternCrc(bytes: number): number {
  let crc = crcCache.get(bytes);
  if (crc !== undefined) return crc;
  crc = 0;
  for (let sent = 0; sent < bytes;) {
    const off = sent % blockBytes;
    const n = Math.min(bytes - sent, blockBytes - off);
    crc = crc32c(block.subarray(off, off + n), crc);
    sent += n;
  }
  crcCache.set(bytes, crc);
  return crc;
}

export async function drain(body: ReadableStream<Uint8Array>): Promise<{ bytes: number; crc: number }> {
  let bytes = 0;
  let crc = 0;
  for await (const c of body) {
    bytes += c.length;
    crc = crc32c(c, crc);
  }
  return { bytes, crc };
}

export interface ServiceState { messages: number; messageBytes: number; cancelled: number }

export function testService(state: ServiceState = { messages: 0, messageBytes: 0, cancelled: 0 }): TransportHandlers {
  const aborted = (signal: AbortSignal) =>
    new Promise<never>((_, reject) => {
      if (signal.aborted) reject(signal.reason);
      signal.addEventListener("abort", () => {
        state.cancelled++;
        reject(signal.reason);
      }, { once: true });
    });
  return {
    // `c.signal` is read only where it is used: on "tls" it is made on first access.
    async call(c): Promise<CallReply> {
      const { from, method, header, body } = c;
      switch (method) {
        case "whoami": return { header: { from } };
        case "echo": return { header, body };
        case "sink": return { header: body ? await drain(body) : { bytes: -1, crc: 0 } };
        case "source": return { header: { bytes: Number(header.bytes) }, body: patternStream(Number(header.bytes)) };
        case "stall": return { header: {}, body: patternStream(Number(header.bytes), true) };
        case "hang": return await aborted(c.signal);
        case "sleep": await new Promise((r) => setTimeout(r, Number(header.ms))); return { header: { slept: Number(header.ms) } };
        case "fail": throw new Error("boom");
        case "stats": return { header: { ...state } };
        default: throw new Error(`no method ${method}`);
      }
    },
    message({ payload }) {
      state.messages++;
      state.messageBytes += payload?.length ?? 0;
    },
  };
}
