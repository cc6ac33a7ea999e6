import type { AnyApiHandler } from '../../api-handler.ts';
import { consumerGroupDescribeApi } from './consumer-group-describe.ts';
import { consumerGroupHeartbeatApi } from './consumer-group-heartbeat.ts';
import { deleteGroupsApi } from './delete-groups.ts';
import { describeGroupsApi } from './describe-groups.ts';
import { findCoordinatorApi } from './find-coordinator.ts';
import { heartbeatApi } from './heartbeat.ts';
import { joinGroupApi } from './join-group.ts';
import { leaveGroupApi } from './leave-group.ts';
import { listGroupsApi } from './list-groups.ts';
import { offsetCommitApi } from './offset-commit.ts';
import { offsetDeleteApi } from './offset-delete.ts';
import { offsetFetchApi } from './offset-fetch.ts';
import { syncGroupApi } from './sync-group.ts';

/** The consumer-group rows of the API table (classic protocol, committed offsets, admin views). */
export const groupApis: readonly AnyApiHandler[] = [
  offsetCommitApi,
  offsetFetchApi,
  findCoordinatorApi,
  joinGroupApi,
  heartbeatApi,
  leaveGroupApi,
  syncGroupApi,
  describeGroupsApi,
  listGroupsApi,
  deleteGroupsApi,
  offsetDeleteApi,
  consumerGroupHeartbeatApi,
  consumerGroupDescribeApi,
];
