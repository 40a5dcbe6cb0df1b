/**
 * Simulated KV clients. Each issues one operation at a time to the node it believes is leader
 * (reads may go to any node that knows a leader: ReadIndex is forwarded) and records a history of
 * invocations and responses for the linearizability checker. A write whose outcome is unknown
 * (node crashed, client gave up) stays in the history with no response; a read that never
 * completed has no effect and is left out.
 */
import type { Prng } from "../prng.ts";
import type { Entry, NodeId, ReadState } from "../types.ts";
import { encodeKv } from "./kv.ts";
import type { SimNode } from "./node.ts";

export interface HistoryOp {
  id: number;
  client: number;
  kind: "put" | "get";
  key: string;
  /** put: the value written; get: the value read (undefined: key absent). */
  value: string | undefined;
  call: number;
  /** Infinity when the outcome is unknown. */
  ret: number;
}

interface Pending {
  op: HistoryOp;
  node: NodeId;
  epoch: number;
  startMs: number;
  /** put: term the entry was proposed in; get: read index once confirmed (-1 before). */
  term: number;
  readIndex: number;
  index: number;
}

/** A client gives up on an operation after this long (virtual time). */
export const CLIENT_TIMEOUT_MS = 500;

export class KvClients {
  history: HistoryOp[] = [];
  private busy = new Map<number, Pending>();
  private leaderHint = new Map<number, NodeId>();
  private nextOp = 1;
  /** Logical clock for call/return stamps: strictly increasing across the whole run. */
  private stamp = 0;
  issued = 0;
  unknown = 0;

  constructor(
    private readonly prng: Prng,
    readonly clientCount: number,
    private readonly keys: string[],
  ) {}

  /** One client's turn: time out a stuck operation or issue the next one. */
  step(client: number, nodes: Map<NodeId, SimNode>, nowMs: number, allowNew: boolean): void {
    const p = this.busy.get(client);
    if (p) {
      if (nowMs - p.startMs > CLIENT_TIMEOUT_MS) this.abandon(client, p);
      return;
    }
    if (!allowNew) return;
    const upNodes = [...nodes.values()].filter((n) => n.up);
    if (upNodes.length === 0) return;
    const hinted = nodes.get(this.leaderHint.get(client) ?? 0);
    // mostly follow the hint, sometimes wander: reads through followers and stale leaders matter
    const node = hinted?.up && this.prng.chance(0.75) ? hinted : this.prng.pick(upNodes);
    const core = node.core!;
    const key = this.prng.pick(this.keys);
    const id = this.nextOp++;
    if (this.prng.chance(0.5)) {
      if (core.role !== "leader") {
        this.leaderHint.set(client, core.leader !== 0 ? core.leader : this.prng.pick(upNodes).id);
        return;
      }
      const value = `c${client}-${id}`;
      const res = core.propose([encodeKv({ op: "put", key, value })]);
      if (!res.ok) return;
      const op: HistoryOp = { id, client, kind: "put", key, value, call: ++this.stamp, ret: Infinity };
      this.busy.set(client, { op, node: node.id, epoch: node.epoch, startMs: nowMs, term: res.term, readIndex: -1, index: res.index });
    } else {
      if (!core.readIndex(`r${id}`)) {
        this.leaderHint.set(client, core.leader !== 0 ? core.leader : this.prng.pick(upNodes).id);
        return;
      }
      const op: HistoryOp = { id, client, kind: "get", key, value: undefined, call: ++this.stamp, ret: Infinity };
      this.busy.set(client, { op, node: node.id, epoch: node.epoch, startMs: nowMs, term: 0, readIndex: -1, index: 0 });
    }
    this.issued++;
    node.pump();
  }

  onApplied(node: SimNode, e: Entry): void {
    for (const [client, p] of this.busy) {
      if (p.node !== node.id || p.epoch !== node.epoch) continue;
      if (p.op.kind === "put" && p.index === e.index) {
        this.busy.delete(client);
        if (e.term === p.term) this.complete(p);
        // else: another entry won that index, so this write never happened: no history entry
      }
    }
    this.serveReads(node);
  }

  onReadState(node: SimNode, rs: ReadState): void {
    for (const p of this.busy.values()) {
      if (p.op.kind === "get" && p.node === node.id && p.epoch === node.epoch && `r${p.op.id}` === rs.ctx) p.readIndex = rs.index;
    }
    this.serveReads(node);
  }

  private serveReads(node: SimNode): void {
    for (const [client, p] of this.busy) {
      if (p.op.kind !== "get" || p.node !== node.id || p.epoch !== node.epoch) continue;
      if (p.readIndex < 0 || node.kv.appliedIndex < p.readIndex) continue;
      p.op.value = node.kv.map.get(p.op.key);
      this.busy.delete(client);
      this.complete(p);
    }
  }

  /** The node crashed: its clients' writes have unknown outcomes, their reads vanish. */
  onCrash(node: SimNode): void {
    for (const [client, p] of this.busy) if (p.node === node.id) this.abandon(client, p);
  }

  private complete(p: Pending): void {
    p.op.ret = ++this.stamp;
    this.history.push(p.op);
  }

  private abandon(client: number, p: Pending): void {
    this.busy.delete(client);
    if (p.op.kind === "put") {
      this.unknown++;
      this.history.push(p.op);
    }
  }
}
