import type { ConnectionContext, RequestDispatcher } from '../broker/dispatch.ts';
import { ProduceOrder } from '../protocol/produce-order.ts';

/** Holds requests until the broker is registered; then hands every frame to the real dispatcher. */
export class DispatcherGate implements RequestDispatcher {
  #dispatcher: RequestDispatcher | null = null;
  #waiters: Array<() => void> = [];

  open(dispatcher: RequestDispatcher): void {
    this.#dispatcher = dispatcher;
    for (const wake of this.#waiters) wake();
    this.#waiters = [];
  }

  async handle(frame: Buffer, connection: ConnectionContext): Promise<readonly Buffer[] | null> {
    if (this.#dispatcher === null) {
      // The frame may be a view into a reused buffer; keep our own copy while we wait.
      const copy = Buffer.from(frame);
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
      return (this.#dispatcher as unknown as RequestDispatcher).handle(copy, connection);
    }
    return this.#dispatcher.handle(frame, connection);
  }

  /** Connections may open before the gate does: every one gets its ordering state from the start. */
  newProduceOrder(): ProduceOrder {
    return new ProduceOrder();
  }
}
