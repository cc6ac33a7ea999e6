import type { Counter, Histogram } from 'prom-client';

/**
 * Times and counts the calls of one store port, whatever the adapter: a duration histogram per
 * operation and a request counter per operation and outcome (ok, error). The instrumented metadata and
 * object stores both observe their calls through one of these.
 */
export class RequestObserver {
  readonly #requests: Counter<'operation' | 'outcome'>;
  readonly #durations: Histogram<'operation'>;

  constructor(requests: Counter<'operation' | 'outcome'>, durations: Histogram<'operation'>) {
    this.#requests = requests;
    this.#durations = durations;
  }

  async observe<T>(operation: string, call: Promise<T>): Promise<T> {
    const stop = this.#durations.startTimer({ operation });
    try {
      const value = await call;
      this.#requests.inc({ operation, outcome: 'ok' });
      return value;
    } catch (error) {
      this.#requests.inc({ operation, outcome: 'error' });
      throw error;
    } finally {
      stop();
    }
  }

  /** An iteration observed as one call, from its start to its end (or its failure). */
  async *observeIteration<T>(operation: string, iterable: AsyncIterable<T>): AsyncIterable<T> {
    const stop = this.#durations.startTimer({ operation });
    let outcome = 'ok';
    try {
      yield* iterable;
    } catch (error) {
      outcome = 'error';
      throw error;
    } finally {
      stop();
      this.#requests.inc({ operation, outcome });
    }
  }
}
