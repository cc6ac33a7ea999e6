/**
 * Runs async tasks one at a time in arrival order: the per-group lock of the coordinator (Kafka's
 * group lock), so that a rebalance step and the store write it causes are never interleaved with
 * another request for the same group. Tasks must not wait on other tasks of the same queue.
 */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();
  #pending = 0;

  get pending(): number {
    return this.#pending;
  }

  run<T>(task: () => Promise<T> | T): Promise<T> {
    this.#pending++;
    const result = this.#tail.then(task);
    this.#tail = result.then(
      () => this.#pending--,
      () => this.#pending--,
    );
    return result;
  }
}
