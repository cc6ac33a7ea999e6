import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProduceOrder, REFUSAL_MEMORY_MS } from './produce-order.ts';

const T = 'topic-id';

test('a request received before a refused one was answered is fenced; one received after is not', () => {
  const order = new ProduceOrder();
  order.received();
  const first = order.ticket();
  order.received();
  const second = order.ticket();
  assert.equal(order.fenced(T, 0, second), false, 'nothing refused yet');
  order.refuse(T, 0, first);
  assert.equal(order.fenced(T, 0, second), true, 'pipelined behind the refusal');
  assert.equal(order.fenced(T, 1, second), false, 'another partition is not affected');
  assert.equal(order.fenced(T, 0, first), false, 'a refusal does not fence its own request');
  order.written(); // the refusal's response goes out
  order.received();
  const third = order.ticket();
  assert.equal(order.fenced(T, 0, third), false, 'sent after the client could read the refusal');
  assert.equal(order.fenced(T, 0, second), true, 'still fenced: it was received before the refusal was written');
});

test('refusals chain: a fenced request fences the ones pipelined behind it', () => {
  const order = new ProduceOrder();
  const tickets = [];
  for (let i = 0; i < 3; i++) {
    order.received();
    tickets.push(order.ticket());
  }
  const [a, b, c] = tickets as [ReturnType<ProduceOrder['ticket']>, ReturnType<ProduceOrder['ticket']>, ReturnType<ProduceOrder['ticket']>];
  order.refuse(T, 0, a);
  order.written(); // a answered
  assert.equal(order.fenced(T, 0, b), true);
  order.refuse(T, 0, b);
  order.written(); // b answered
  assert.equal(order.fenced(T, 0, c), true);
  order.refuse(T, 0, c);
  order.written(); // c answered: nothing pending can be fenced any more
  order.received();
  assert.equal(order.fenced(T, 0, order.ticket()), false);
});

test('a later refusal recorded first does not fence an earlier request', () => {
  const order = new ProduceOrder();
  order.received();
  const first = order.ticket();
  order.received();
  const second = order.ticket();
  order.refuse(T, 0, second);
  assert.equal(order.fenced(T, 0, first), false);
  order.refuse(T, 0, first);
  assert.equal(order.fenced(T, 0, second), true);
});

test('a refusal is remembered for REFUSAL_MEMORY_MS; derived refusals (fence) do not extend it', () => {
  let nowMs = 1_000;
  const order = new ProduceOrder(() => nowMs);
  order.received();
  const first = order.ticket();
  assert.equal(order.refusedRecently(T, 0), false);
  order.refuse(T, 0, first);
  order.written();
  assert.equal(order.refusedRecently(T, 0), true);
  assert.equal(order.refusedRecently(T, 1), false);
  nowMs += REFUSAL_MEMORY_MS - 1;
  order.received();
  order.fence(T, 0, order.ticket());
  order.written();
  nowMs += 1;
  assert.equal(order.refusedRecently(T, 0), false, 'the window ends REFUSAL_MEMORY_MS after the first refusal');
});
