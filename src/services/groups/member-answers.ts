/**
 * The requests of classic group members and how they are answered: at once, or parked on the member
 * until the rebalance step the answer waits for completes (Kafka's awaitingJoinCallback /
 * awaitingSyncCallback).
 */
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { GroupMember, JoinOutcome, MemberProtocol, SyncOutcome } from './classic-group.ts';

export interface JoinRequest {
  readonly groupId: string;
  /** '' for a member joining for the first time. */
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly clientId: string;
  readonly clientHost: string;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly protocolType: string;
  readonly protocols: readonly MemberProtocol[];
  /** JoinGroup v4+: a new dynamic member first gets MEMBER_ID_REQUIRED and its id (KIP-394). */
  readonly requireKnownMemberId: boolean;
  /** JoinGroup v9+: a static leader rejoining a stable group is told to skip the assignment (KIP-814). */
  readonly supportSkipAssignment: boolean;
}

export interface SyncRequest {
  readonly groupId: string;
  readonly generationId: number;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly protocolType: string | null;
  readonly protocolName: string | null;
  readonly assignments: readonly { readonly memberId: string; readonly assignment: Buffer }[];
}

export interface MemberIdentity {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
}

/** A JoinGroup/SyncGroup answer that is either ready now or arrives when the rebalance step completes. */
export type Pending<T> = { readonly now: T } | { readonly later: Promise<T> };

const EMPTY = Buffer.alloc(0);

export function joinError(errorCode: number, memberId = ''): JoinOutcome {
  return { errorCode, generationId: -1, protocolType: null, protocolName: null, leaderId: '', memberId, skipAssignment: false, members: [] };
}

export function syncError(errorCode: number): SyncOutcome {
  return { errorCode, protocolType: null, protocolName: null, assignment: EMPTY };
}

export function awaitJoin(member: GroupMember): Promise<JoinOutcome> {
  // A duplicate join (the client retried after a timeout) supersedes the earlier one.
  respondJoin(member, joinError(ErrorCode.REBALANCE_IN_PROGRESS, member.memberId));
  return new Promise((resolve) => {
    member.awaitingJoin = resolve;
  });
}

export function awaitSync(member: GroupMember): Promise<SyncOutcome> {
  respondSync(member, syncError(ErrorCode.REBALANCE_IN_PROGRESS));
  return new Promise((resolve) => {
    member.awaitingSync = resolve;
  });
}

export function respondJoin(member: GroupMember, outcome: JoinOutcome): void {
  const resolve = member.awaitingJoin;
  member.awaitingJoin = null;
  resolve?.(outcome);
}

export function respondSync(member: GroupMember, outcome: SyncOutcome): void {
  const resolve = member.awaitingSync;
  member.awaitingSync = null;
  resolve?.(outcome);
}

/** The old instance of a static member learns it was replaced. */
export function fence(member: GroupMember): void {
  respondJoin(member, joinError(ErrorCode.FENCED_INSTANCE_ID, member.memberId));
  respondSync(member, syncError(ErrorCode.FENCED_INSTANCE_ID));
}
