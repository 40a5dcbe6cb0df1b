/** Cluster configurations: which members vote, which only learn, and how one change alters them. */
import { NONE, type ConfChange, type ConfState, type NodeId } from "./types.ts";

export function normalConf(c: ConfState): ConfState {
  return { voters: c.voters.slice(), learners: (c.learners ?? []).slice() };
}

/** The configuration after one change, or undefined if the change makes no sense. */
export function applyConfChange(conf: ConfState, cc: ConfChange): ConfState | undefined {
  const sorted = (ids: NodeId[]) => ids.slice().sort((a, b) => a - b);
  const voters = conf.voters;
  const learners = conf.learners ?? [];
  const isVoter = voters.includes(cc.node);
  const isLearner = learners.includes(cc.node);
  if (cc.node === NONE) return undefined;
  switch (cc.op) {
    case "add":
      if (isVoter) return undefined;
      return { voters: sorted([...voters, cc.node]), learners: learners.filter((l) => l !== cc.node) };
    case "add-learner":
      if (isVoter || isLearner) return undefined;
      return { voters: voters.slice(), learners: sorted([...learners, cc.node]) };
    case "remove": {
      if (!isVoter && !isLearner) return undefined;
      const next = { voters: voters.filter((v) => v !== cc.node), learners: learners.filter((l) => l !== cc.node) };
      return next.voters.length === 0 ? undefined : next;
    }
  }
}
