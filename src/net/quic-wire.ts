/**
 * What the QUIC transport carries over Bun's HTTP/3: header names, and the two body adapters.
 * A body on the wire is: body bytes, the 16-byte length+CRC-32 trailer (framing.ts), then a
 * 32-byte HMAC of the body under the cluster secret (quic-auth.ts). Both adapters run their own
 * idle timer: Bun's HTTP/3 stalls ≈30 s when a peer dies, and may end a cut body as complete.
 */
import { type BodyReader, readWithIdle } from "./body.ts";
import { BodyFramer } from "./framing.ts";
import { BodySealer, SealedBodyVerifier } from "./quic-auth.ts";
import { TransportError } from "./transport.ts";

export const hFrom = "x-s3d-from";
export const hTo = "x-s3d-to";
export const hTime = "x-s3d-time-ms";
export const hNonce = "x-s3d-nonce";
export const hSig = "x-s3d-sig";

/** The body framed and sealed for sending: pulled from `src`, cut off if `src` stalls over `idleMs`. */
export function sealedBody(
  src: ReadableStream<Uint8Array>,
  key: Buffer,
  nonce: string,
  direction: "req" | "res",
  idleMs: number,
  onError?: (e: unknown) => void,
): ReadableStream<Uint8Array> {
  const reader: BodyReader = src.getReader();
  const framer = new BodyFramer();
  const sealer = new BodySealer(key, nonce, direction);
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      try {
        const r = await readWithIdle(reader, idleMs);
        if (r.done || r.value === undefined) {
          const end = new Uint8Array(16 + 32);
          end.set(framer.trailer());
          end.set(sealer.seal(), 16);
          c.enqueue(end);
          c.close();
          return;
        }
        framer.push(r.value);
        sealer.push(r.value);
        c.enqueue(r.value);
      } catch (e) {
        onError?.(e);
        reader.cancel(e).catch(() => {});
        c.error(e);
      }
    },
    cancel(reason) {
      reader.cancel(reason).catch(() => {});
    },
  }, { highWaterMark: 0 });
}

/**
 * The received body, verified: errors "corrupt" if the trailer or MAC do not match (a cut body
 * included), "idle" if no bytes come for `idleMs`, "reset" if the protocol below fails.
 */
export function verifiedBody(
  src: ReadableStream<Uint8Array>,
  key: Buffer,
  nonce: string,
  direction: "req" | "res",
  idleMs: number,
): ReadableStream<Uint8Array> {
  const reader: BodyReader = src.getReader();
  const v = new SealedBodyVerifier(key, nonce, direction);
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      for (;;) {
        let r: { done: boolean; value?: Uint8Array };
        try {
          r = await readWithIdle(reader, idleMs);
        } catch (e) {
          reader.cancel(e).catch(() => {});
          c.error(e instanceof TransportError ? e : new TransportError("reset", (e as Error)?.message ?? String(e)));
          return;
        }
        if (r.done || r.value === undefined) {
          const why = v.end();
          if (why) c.error(new TransportError("corrupt", why));
          else c.close();
          return;
        }
        let out: Uint8Array[];
        try {
          out = v.push(r.value);
        } catch (e) {
          reader.cancel(e).catch(() => {});
          c.error(new TransportError("corrupt", (e as Error).message));
          return;
        }
        for (const b of out) c.enqueue(b);
        if (out.length > 0) return;
      }
    },
    cancel(reason) {
      reader.cancel(reason).catch(() => {});
    },
  }, { highWaterMark: 0 });
}
