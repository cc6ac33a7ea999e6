export { GroupState, type JoinOutcome, type SyncOutcome, type MemberProtocol } from './classic-group.ts';
export { GroupCoordinator, type GroupSettings, type CoordinatorPlacement, type OffsetCommitRequest, type GroupDescription, type ListedGroup } from './group-coordinator.ts';
export type { JoinRequest, SyncRequest, MemberIdentity } from './membership.ts';
export type { CommittedOffset } from './offset-store.ts';
export { MAX_GROUP_STATE_BYTES } from './group-store.ts';
