/**
 * Linearizability checker for a KV register history, in the style of Wing & Gong with Lowe's
 * memoisation (as in porcupine): depth-first search for a total order consistent with real time
 * and with register semantics, caching (set of linearized ops, state) pairs already explored.
 * Keys are independent registers, so the history is checked one key at a time (P-compositionality).
 */
import type { HistoryOp } from "./clients.ts";

/** Search steps allowed per key before giving up as inconclusive. */
export const LINEARIZABILITY_STEPS_MAX = 2_000_000;

export interface LinResult {
  ok: boolean;
  inconclusive?: boolean;
  reason?: string;
}

interface Node {
  op: number;
  isCall: boolean;
  time: number;
  match?: Node; // call -> its return
  prev?: Node;
  next?: Node;
}

export function checkKvLinearizable(history: HistoryOp[]): LinResult {
  const byKey = new Map<string, HistoryOp[]>();
  for (const op of history) {
    const list = byKey.get(op.key) ?? [];
    list.push(op);
    byKey.set(op.key, list);
  }
  let inconclusive = false;
  for (const [key, ops] of byKey) {
    const r = checkRegister(ops);
    if (r === "no") return { ok: false, reason: `key ${JSON.stringify(key)}: no linearization of ${ops.length} operations` };
    if (r === "budget") inconclusive = true;
  }
  return { ok: true, inconclusive };
}

type Verdict = "yes" | "no" | "budget";

function checkRegister(ops: HistoryOp[]): Verdict {
  const events: Node[] = [];
  ops.forEach((op, i) => {
    const call: Node = { op: i, isCall: true, time: op.call };
    const ret: Node = { op: i, isCall: false, time: op.ret };
    call.match = ret;
    events.push(call, ret);
  });
  // Unknown outcomes return "at infinity": after everything else, calls before returns.
  events.sort((a, b) => (a.time === b.time ? Number(b.isCall) - Number(a.isCall) : a.time - b.time));
  const head: Node = { op: -1, isCall: false, time: -Infinity };
  let prev = head;
  for (const e of events) {
    prev.next = e;
    e.prev = prev;
    prev = e;
  }

  const linearized = new Uint8Array(ops.length);
  const seen = new Set<string>();
  const stack: { node: Node; state: string | undefined }[] = [];
  let state: string | undefined = undefined;
  let cur = head.next;
  let steps = 0;
  while (head.next) {
    if (++steps > LINEARIZABILITY_STEPS_MAX) return "budget";
    if (!cur) return "no"; // cannot happen: the list always ends with a return
    if (cur.isCall) {
      const op = ops[cur.op];
      const legal = op.kind === "put" || op.value === state;
      const next: string | undefined = op.kind === "put" ? op.value : state;
      if (legal) {
        linearized[cur.op] = 1;
        const key = `${linearized.join("")}|${next ?? "\u0000"}`;
        if (!seen.has(key)) {
          seen.add(key);
          stack.push({ node: cur, state });
          state = next;
          lift(cur);
          cur = head.next;
          continue;
        }
        linearized[cur.op] = 0;
      }
      cur = cur.next;
    } else {
      // a return whose call is not linearized yet: backtrack
      const top = stack.pop();
      if (!top) return "no";
      state = top.state;
      linearized[top.node.op] = 0;
      unlift(top.node);
      cur = top.node.next;
    }
  }
  return "yes";
}

function lift(call: Node): void {
  call.prev!.next = call.next;
  if (call.next) call.next.prev = call.prev;
  const ret = call.match!;
  ret.prev!.next = ret.next;
  if (ret.next) ret.next.prev = ret.prev;
}

function unlift(call: Node): void {
  const ret = call.match!;
  ret.prev!.next = ret;
  if (ret.next) ret.next.prev = ret;
  call.prev!.next = call;
  if (call.next) call.next.prev = call;
}
