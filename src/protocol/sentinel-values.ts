/** Kafka's wire sentinels: values that stand for "none" or "not requested" in several APIs. */

/** The all-zero topic id: "no id" (requests by name; Metadata v12+ and Fetch v13+ use it). */
export const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

/** Kafka's "authorized operations not requested" marker (KIP-430). */
export const AUTHORIZED_OPERATIONS_OMITTED = -2147483648;
