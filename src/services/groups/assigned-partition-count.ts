/**
 * The number of partitions in a consumer-protocol assignment (ConsumerProtocolAssignment: int16
 * version, then an array of (int16-length topic, int32 array of partitions)), for the group log only.
 * Assignments are opaque to the coordinator: anything that does not parse (another protocol type, a
 * truncated buffer) is null, never an error. Later fields (user data) are not read.
 */
export function assignedPartitionCount(assignment: Buffer): number | null {
  if (assignment.length === 0) return 0;
  if (assignment.length < 6) return null;
  const topics = assignment.readInt32BE(2);
  if (topics < 0 || topics > (assignment.length - 6) / 6) return null;
  let offset = 6;
  let partitions = 0;
  for (let i = 0; i < topics; i++) {
    if (offset + 2 > assignment.length) return null;
    const nameLength = assignment.readInt16BE(offset);
    offset += 2 + Math.max(nameLength, 0);
    if (offset + 4 > assignment.length) return null;
    const count = assignment.readInt32BE(offset);
    offset += 4;
    if (count < 0 || offset + count * 4 > assignment.length) return null;
    offset += count * 4;
    partitions += count;
  }
  return partitions;
}
