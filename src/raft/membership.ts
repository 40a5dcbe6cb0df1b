/** Growing a cluster safely: a new server first learns the log as a non-voter, then votes. */
import { RaftError, type RaftNode } from "./node.ts";
import type { NodeId } from "./types.ts";

/** How far behind the leader's commit index a learner may be when it is promoted. */
export const PROMOTE_LAG_ENTRIES_MAX = 64;
/** How often the leader checks the learner's progress. */
export const PROMOTE_POLL_MS = 20;

/**
 * Add `id` as a learner, wait until its log is within PROMOTE_LAG_ENTRIES_MAX of the commit index
 * (a new voter that is far behind would stall commits while it catches up), then make it a voter.
 * Run on the leader; rejects with RaftError (not-leader, timeout, ...) otherwise.
 */
export async function addVoterWhenCaughtUp(leader: RaftNode, id: NodeId, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const status = leader.status();
  if (status.voters.includes(id)) return;
  if (!status.learners.includes(id)) await leader.addLearner(id, timeoutMs);
  for (;;) {
    const match = leader.matchIndex(id);
    if (match === undefined) throw new RaftError("not-leader", "leadership lost while adding a voter", leader.leader());
    if (match + PROMOTE_LAG_ENTRIES_MAX >= leader.status().commit) break;
    if (Date.now() > deadline) throw new RaftError("timeout", `server ${id} did not catch up in time`);
    await Bun.sleep(PROMOTE_POLL_MS);
  }
  await leader.addVoter(id, Math.max(1, deadline - Date.now()));
}
