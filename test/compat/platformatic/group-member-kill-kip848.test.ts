/**
 * The member-kill scenario of group-member-kill.test.ts with the KIP-848 protocol: three
 * @platformatic/kafka members (`groupProtocol: 'consumer'`) in child processes, one SIGKILLed; the
 * broker's consumer session timeout (set to the scenario's) removes it and the survivors get its
 * partitions — not before the session expired, nothing lost, commits never going back.
 * Known to fail: none known.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { registerMemberKillTest, SESSION_TIMEOUT_MS } from '../../helpers/group-member-kill.ts';

registerMemberKillTest({
  name: 'platformatic (KIP-848): a SIGKILLed member’s partitions go to the survivors after the session timeout, nothing lost, commits never go back',
  label: 'platformatic-kip848',
  memberScript: join(dirname(fileURLToPath(import.meta.url)), 'group-member.ts'),
  victimConsumedWithinMs: 5_000,
  memberArgs: ['consumer'],
  brokerEnv: { KAFSCALE_GROUP_CONSUMER_SESSION_TIMEOUT_MS: String(SESSION_TIMEOUT_MS), KAFSCALE_GROUP_CONSUMER_HEARTBEAT_INTERVAL_MS: '300' },
});
