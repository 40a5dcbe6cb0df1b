/**
 * The in-memory twin of the transport: nodes in one process, bodies framed and verified exactly
 * as on the wire, with injectable faults (message/call drop, delay, partition, crash, truncation)
 * driven by a seeded Prng so tests are deterministic.
 */
import type { Prng } from "../raft/prng.ts";
import { abortable, framingTransform, verifyingTransform } from "./body.ts";
import {
  type CallOptions, type CallReply, type CallRequest, callDeadlineMs, checkMessage, checkMethod, type Header,
  inFlightCallsMax, inFlightMessagesMax, type NodeId, type Transport,
  TransportError, type TransportHandlers,
} from "./transport.ts";

export interface MemoryFaults {
  prng: Prng;
  /** Chance that a call or message vanishes (a dropped call ends at its deadline). */
  dropRate?: number;
  /** Random extra delay in [0, delayMaxMs] before a call or message arrives. */
  delayMaxMs?: number;
  /** Cut response bodies after this many bytes without an error (the framing must catch it). */
  truncateBodyAfterBytes?: number;
}

interface LiveCall { from: NodeId; to: NodeId; ac: AbortController }
interface Member { handlers: TransportHandlers; key: string }

export class MemoryNetwork {
  private members = new Map<NodeId, Member>();
  private cuts = new Set<string>();
  private live = new Set<LiveCall>();
  private messagesInFlight = 0;
  faults: MemoryFaults | undefined;
  messagesDropped = 0;

  constructor(options: { faults?: MemoryFaults; clusterKey?: string } = {}) {
    this.faults = options.faults;
    this.clusterKey = options.clusterKey ?? "memory-cluster";
  }
  private readonly clusterKey: string;

  /** A node on this network; `clusterKey` other than the network's is refused (wrong credentials). */
  node(id: NodeId, handlers: TransportHandlers, clusterKey = this.clusterKey): Transport {
    const member = { handlers, key: clusterKey };
    this.members.set(id, member);
    return new MemoryTransport(this, id, clusterKey, () => {
      if (this.members.get(id) === member) this.crash(id);
    });
  }

  partition(a: NodeId, b: NodeId): void {
    this.cuts.add(`${a}|${b}`).add(`${b}|${a}`);
    this.abortWhere((c) => (c.from === a && c.to === b) || (c.from === b && c.to === a), "partitioned");
  }

  heal(): void {
    this.cuts.clear();
  }

  /** The node dies: everything in flight to or from it fails, it serves nothing until re-added. */
  crash(id: NodeId): void {
    this.members.delete(id);
    this.abortWhere((c) => c.from === id || c.to === id, `${id} crashed`);
  }

  private abortWhere(pred: (c: LiveCall) => boolean, why: string): void {
    for (const c of this.live) if (pred(c)) c.ac.abort(new TransportError("reset", why));
  }

  private reachable(from: NodeId, to: NodeId): Member | undefined {
    return this.cuts.has(`${from}|${to}`) ? undefined : this.members.get(to);
  }

  private chance(rate: number | undefined): boolean {
    return !!rate && !!this.faults && this.faults.prng.chance(rate);
  }

  private delay(): Promise<void> {
    const max = this.faults?.delayMaxMs ?? 0;
    return new Promise((r) => (max > 0 ? setTimeout(r, this.faults!.prng.int(max + 1)) : setImmediate(r)));
  }

  /** @internal */
  liveCount(from: NodeId, to: NodeId): number {
    let n = 0;
    for (const c of this.live) if (c.from === from && c.to === to) n++;
    return n;
  }

  /** @internal */
  async call(from: NodeId, key: string, to: NodeId, method: string, req: CallRequest, opts: CallOptions): Promise<CallReply> {
    checkMethod(method);
    if (this.liveCount(from, to) >= inFlightCallsMax) throw new TransportError("overloaded", `${inFlightCallsMax} calls in flight to ${to}`);
    const deadlineMs = opts.deadlineMs ?? callDeadlineMs;
    const ac = new AbortController();
    const live: LiveCall = { from, to, ac };
    this.live.add(live);
    const timer = setTimeout(() => ac.abort(new TransportError("deadline", `call ${method} to ${to} over ${deadlineMs} ms`)), deadlineMs);
    const onCallerAbort = () => ac.abort(new TransportError("cancelled", `call ${method} cancelled`));
    opts.signal?.addEventListener("abort", onCallerAbort, { once: true });
    if (opts.signal?.aborted) onCallerAbort();
    const done = () => {
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onCallerAbort);
      this.live.delete(live);
    };
    const aborted = new Promise<never>((_, reject) => {
      if (ac.signal.aborted) reject(ac.signal.reason);
      ac.signal.addEventListener("abort", () => reject(ac.signal.reason), { once: true });
    });
    aborted.catch(() => {});
    try {
      const header = JSON.parse(JSON.stringify(req.header ?? {})) as Header;
      await Promise.race([this.delay(), aborted]);
      const target = this.reachable(from, to);
      if (!target) throw new TransportError("unreachable", `${to} is not reachable from ${from}`);
      if (key !== this.clusterKey) throw new TransportError("refused", `${to} refused ${from}: wrong cluster credentials`);
      if (this.chance(this.faults?.dropRate)) await aborted; // lost: only the deadline ends it
      const body = req.body && abortable(req.body.pipeThrough(framingTransform()), ac.signal).pipeThrough(verifyingTransform());
      const reply = await Promise.race([
        Promise.resolve().then(() => target.handlers.call({ from, method, header, body, signal: ac.signal })),
        aborted,
      ]).catch((e: unknown) => {
        if (e instanceof TransportError && ac.signal.aborted) throw e;
        throw new TransportError("remote", e instanceof Error ? e.message : String(e));
      });
      const replyHeader = JSON.parse(JSON.stringify(reply.header ?? {})) as Header;
      if (!reply.body) {
        done();
        return { header: replyHeader };
      }
      let framed = reply.body.pipeThrough(framingTransform());
      const cutAt = this.faults?.truncateBodyAfterBytes;
      if (cutAt !== undefined) framed = framed.pipeThrough(truncating(cutAt));
      const verified = abortable(framed, ac.signal).pipeThrough(verifyingTransform());
      return {
        header: replyHeader,
        body: abortable(verified, ac.signal, {
          onCancel: () => ac.abort(new TransportError("cancelled", "reply body cancelled")),
          onEnd: done,
        }),
      };
    } catch (e) {
      done();
      throw e;
    }
  }

  /** @internal */
  send(from: NodeId, key: string, to: NodeId, method: string, header: Header, payload?: Uint8Array): void {
    checkMessage(method, payload);
    const full = this.messagesInFlight >= inFlightMessagesMax;
    if (full || !this.reachable(from, to) || this.chance(this.faults?.dropRate)) {
      this.messagesDropped++;
      return;
    }
    const copy = { header: JSON.parse(JSON.stringify(header)) as Header, payload: payload?.slice() };
    this.messagesInFlight++;
    void this.delay().then(() => {
      this.messagesInFlight--;
      const target = this.reachable(from, to);
      if (!target || key !== this.clusterKey || !target.handlers.message) {
        this.messagesDropped++;
        return;
      }
      target.handlers.message({ from, method, ...copy });
    });
  }
}

/** Passes `limitBytes` bytes then ends the stream cleanly: a transport that loses the tail. */
function truncating(limitBytes: number): TransformStream<Uint8Array, Uint8Array> {
  let left = limitBytes;
  return new TransformStream({
    transform(chunk, c) {
      if (left <= 0) return;
      c.enqueue(chunk.subarray(0, left));
      left -= chunk.length;
      if (left <= 0) c.terminate();
    },
  });
}

class MemoryTransport implements Transport {
  private closed = false;
  constructor(
    private readonly net: MemoryNetwork,
    readonly self: NodeId,
    private readonly key: string,
    private readonly leave: () => void,
  ) {}

  async call(to: NodeId, method: string, request: CallRequest = {}, options: CallOptions = {}): Promise<CallReply> {
    if (this.closed) throw new TransportError("closed", `${this.self} is closed`);
    return this.net.call(this.self, this.key, to, method, request, options);
  }

  send(to: NodeId, method: string, header: Header = {}, payload?: Uint8Array): void {
    if (!this.closed) this.net.send(this.self, this.key, to, method, header, payload);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.leave();
  }
}
