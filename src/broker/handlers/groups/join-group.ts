import { ApiKey } from '../../../protocol/api-keys.ts';
import { ErrorCode } from '../../../protocol/error-codes.ts';
import { defineApi } from '../../api-handler.ts';
import { allowed, Op, Resource } from '../authorize.ts';
import type { RequestContext } from '../../broker-services.ts';

/**
 * JoinGroup 0–9. Before v1 there is no rebalance timeout: it equals the session timeout (as in Kafka).
 * From v4 a new member first gets MEMBER_ID_REQUIRED with its id; from v9 a static leader rejoining a
 * stable group is told to skip the assignment. Member metadata is opaque bytes to the broker.
 */
export const joinGroupApi = defineApi({
  apiKey: ApiKey.JoinGroup,
  name: 'JoinGroup',
  minVersion: 0,
  maxVersion: 9,
  async handle(request, context) {
    if (!allowed(context, Op.READ, Resource.GROUP, request.groupId)) {
      return { throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, generationId: -1, protocolType: null, protocolName: context.apiVersion >= 7 ? null : '', leader: '', skipAssignment: false, memberId: request.memberId, members: [] };
    }
    const outcome = await context.services.groups.join({
      groupId: request.groupId,
      memberId: request.memberId,
      groupInstanceId: context.apiVersion >= 5 ? request.groupInstanceId : null,
      clientId: context.clientId ?? '',
      clientHost: clientHostOf(context),
      sessionTimeoutMs: request.sessionTimeoutMs,
      rebalanceTimeoutMs: context.apiVersion >= 1 ? request.rebalanceTimeoutMs : request.sessionTimeoutMs,
      protocolType: request.protocolType,
      protocols: request.protocols,
      requireKnownMemberId: context.apiVersion >= 4,
      supportSkipAssignment: context.apiVersion >= 9,
    });
    return {
      throttleTimeMs: 0,
      errorCode: outcome.errorCode,
      generationId: outcome.generationId,
      protocolType: outcome.protocolType,
      // Before v7 the protocol name is not nullable.
      protocolName: context.apiVersion >= 7 ? outcome.protocolName : (outcome.protocolName ?? ''),
      leader: outcome.leaderId,
      skipAssignment: outcome.skipAssignment,
      memberId: outcome.memberId,
      members: outcome.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: m.metadata })),
    };
  },
  errorResponse(request, errorCode) {
    return { throttleTimeMs: 0, errorCode, generationId: -1, protocolType: null, protocolName: null, leader: '', skipAssignment: false, memberId: request.memberId, members: [] };
  },
});

/** Kafka reports a member's host as the client's address with a leading slash (InetAddress.toString()). */
export function clientHostOf(context: RequestContext): string {
  return `/${context.remoteAddress ?? 'unknown'}`;
}
