import { ErrorCode } from '../../protocol/error-codes.ts';
import type { BrokerServices } from '../broker-services.ts';

/**
 * KIP-320: a request naming a leader epoch newer than ours is UNKNOWN_LEADER_EPOCH (our metadata is
 * behind: retry), an older one FENCED_LEADER_EPOCH (the client's metadata is stale: refresh). -1 skips
 * the check.
 */
export function leaderEpochError(services: BrokerServices, topicId: string, partition: number, currentLeaderEpoch: number): number {
  if (currentLeaderEpoch < 0) return ErrorCode.NONE;
  const epoch = services.leaders.leaderOf(topicId, partition).epoch;
  if (currentLeaderEpoch > epoch) return ErrorCode.UNKNOWN_LEADER_EPOCH;
  if (currentLeaderEpoch < epoch) return ErrorCode.FENCED_LEADER_EPOCH;
  return ErrorCode.NONE;
}
