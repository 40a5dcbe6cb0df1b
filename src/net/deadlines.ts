/**
 * Call deadlines on a coarse wheel: the deadlines due within the same tick share one timer, so
 * arming and disarming one is a Set operation rather than a timer of its own (a timer per call on
 * each end was 8 % of a small call's CPU). A deadline fires within one tick after it is due.
 */
export const deadlineTickMs = 8;

export interface Deadline {
  readonly tick: number;
  /** The deadlines of this one's tick, until it fires or is disarmed. */
  readonly due: Set<Deadline>;
  readonly fire: () => void;
}

interface Tick {
  readonly due: Set<Deadline>;
  readonly timer: ReturnType<typeof setTimeout>;
}

const ticks = new Map<number, Tick>();

/** Calls `fire` once, about `ms` from now, unless disarmed before. */
export function armDeadline(ms: number, fire: () => void): Deadline {
  const tick = Math.ceil((performance.now() + ms) / deadlineTickMs);
  let t = ticks.get(tick);
  if (!t) {
    const due = new Set<Deadline>();
    const timer = setTimeout(() => {
      ticks.delete(tick);
      // One at a time, each out of the set before it fires: a deadline that an earlier one's
      // effects disarm does not fire, and one that throws does not keep the others from firing.
      for (const d of due) {
        due.delete(d);
        try {
          d.fire();
        } catch (error) {
          // An abort hook that throws is a bug, but not one to stop a server for.
          console.error("a deadline's callback failed:", error);
        }
      }
    }, Math.max(0, tick * deadlineTickMs - performance.now()));
    ticks.set(tick, (t = { due, timer }));
  }
  const d: Deadline = { tick, due: t.due, fire };
  t.due.add(d);
  return d;
}

/** Cancels `d` (nothing happens if it fired already); the tick's timer goes with its last deadline. */
export function disarmDeadline(d: Deadline): void {
  if (!d.due.delete(d) || d.due.size > 0) return;
  const t = ticks.get(d.tick);
  if (t?.due !== d.due) return; // the tick is firing: its timer is spent
  clearTimeout(t.timer);
  ticks.delete(d.tick);
}
