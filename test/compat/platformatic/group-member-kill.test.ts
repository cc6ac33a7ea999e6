/**
 * A @platformatic/kafka 2.x group member dies without a word (SIGKILL: no LeaveGroup, no final commit).
 * Three platformatic Consumers run in child processes (group-member.ts) on a 6-partition topic while a
 * producer keeps writing; one is killed. The scenario and its assertions are in
 * test/helpers/group-member-kill.ts: hand-over within the session timeout plus a rebalance (and not
 * before the session expired), every acknowledged message consumed at least once, committed offsets
 * never going backwards and reaching the log end.
 * Known to fail: none known.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { registerMemberKillTest } from '../../helpers/group-member-kill.ts';

registerMemberKillTest({
  name: 'platformatic: a SIGKILLed member’s partitions go to the survivors within the session timeout, nothing lost, commits never go back',
  label: 'platformatic',
  memberScript: join(dirname(fileURLToPath(import.meta.url)), 'group-member.ts'),
  // Its first fetch comes a little later than kafkajs'.
  victimConsumedWithinMs: 5_000,
});
