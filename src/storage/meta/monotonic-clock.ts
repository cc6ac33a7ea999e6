/**
 * Lease deadlines are measured on the monotonic clock (performance.now: CLOCK_MONOTONIC), never the wall
 * clock: an NTP step or an operator setting the date must neither expire a live lease nor keep a dead one
 * alive. It keeps running while the process is stopped (SIGSTOP), so a paused broker still finds its lease
 * gone when it resumes. Only differences between readings mean anything.
 */
export function monotonicNowMs(): number {
  return performance.now();
}
