/**
 * Call deadlines on a coarse wheel: the deadlines due within the same tick share one timer, so
 * arming and disarming one is a Set operation rather than a timer of its own (a timer per call on
 * each end was 8 % of a small call's CPU). A deadline fires within one tick after it is due.
 */
export const deadlineTickMs = 8;

export interface Deadline {
  readonly tick: number;
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
      for (const d of due) d.fire();
    }, Math.max(0, tick * deadlineTickMs - performance.now()));
    ticks.set(tick, (t = { due, timer }));
  }
  const d: Deadline = { tick, fire };
  t.due.add(d);
  return d;
}

/** Cancels `d` (nothing happens if it fired already); the tick's timer goes with its last deadline. */
export function disarmDeadline(d: Deadline): void {
  const t = ticks.get(d.tick);
  if (!t || !t.due.delete(d)) return;
  if (t.due.size === 0) {
    clearTimeout(t.timer);
    ticks.delete(d.tick);
  }
}
