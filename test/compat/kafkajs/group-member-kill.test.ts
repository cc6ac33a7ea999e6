/**
 * A kafkajs consumer-group member dies without a word (SIGKILL: no LeaveGroup, no final commit). Three
 * kafkajs members run in child processes (group-member.ts, beside this file) on a 6-partition topic
 * while a producer keeps writing; one is killed. The scenario and its assertions are in
 * test/helpers/group-member-kill.ts: hand-over within the session timeout plus a rebalance (and not
 * before the session expired), every acknowledged message consumed at least once, committed offsets
 * never going backwards and reaching the log end.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { registerMemberKillTest } from '../../helpers/group-member-kill.ts';

registerMemberKillTest({
  name: 'a SIGKILLed member: survivors take its partitions within the session timeout, nothing is lost, commits never go back',
  label: 'kafkajs',
  memberScript: join(dirname(fileURLToPath(import.meta.url)), 'group-member.ts'),
  victimConsumedWithinMs: 0,
});
