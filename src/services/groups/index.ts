export { GroupState, type JoinOutcome, type SyncOutcome, type MemberProtocol } from './classic-group.ts';
export { GroupCoordinator, type GroupSettings, type GroupDescription, type ListedGroup } from './group-coordinator.ts';
export type { ConsumerGroupDescription } from './consumer-group-coordinator.ts';
export type { OffsetCommitRequest } from './group-offsets.ts';
export type { CoordinatorPlacement } from './group-slots.ts';
export type { JoinRequest, SyncRequest, MemberIdentity } from './member-answers.ts';
export type { CommittedOffset } from './offset-store.ts';
export { MAX_GROUP_STATE_BYTES } from './group-store.ts';
