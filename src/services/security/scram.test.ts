import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { PlainServerExchange } from './sasl-authenticator.ts';
import { createScramCredential, ScramClientExchange, ScramServerExchange, verifyPassword, type ScramCredential, type ScramMechanism } from './scram.ts';

test('the client side reproduces the RFC 7677 SCRAM-SHA-256 example exactly', () => {
  const client = new ScramClientExchange('SCRAM-SHA-256', 'user', 'pencil', 'rOprNGfwEbeRWgbNEkqO');
  assert.equal(client.first().toString(), 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO');
  const serverFirst = Buffer.from('r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096');
  assert.equal(client.final(serverFirst).toString(), 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=');
  assert.equal(client.verifyServerFinal(Buffer.from('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=')), true);
});

function users(mechanism: ScramMechanism): Map<string, ScramCredential> {
  return new Map([['al,i=ce', createScramCredential(mechanism, 'p@ss', 4096)]]);
}

for (const mechanism of ['SCRAM-SHA-256', 'SCRAM-SHA-512'] as const) {
  test(`${mechanism}: a full exchange succeeds (user names with , and = escaped), the server proves itself`, () => {
    const db = users(mechanism);
    const server = new ScramServerExchange(mechanism, (u, m) => (m === mechanism ? db.get(u) : undefined), randomBytes(32));
    const client = new ScramClientExchange(mechanism, 'al,i=ce', 'p@ss');
    const first = server.step(client.first());
    assert.equal(first.kind, 'challenge');
    const final = server.step(client.final((first as { response: Buffer }).response));
    assert.equal(final.kind, 'success');
    assert.equal((final as { user: string }).user, 'al,i=ce');
    assert.equal(client.verifyServerFinal((final as { response: Buffer }).response), true);
    assert.equal(server.step(Buffer.from('again')).kind, 'failure', 'a finished exchange accepts nothing more');
  });
}

test('SCRAM refuses channel binding, extensions, a bad nonce and a wrong password', () => {
  const db = users('SCRAM-SHA-512');
  const lookup = (u: string) => db.get(u);
  const key = randomBytes(32);
  for (const first of ['p=tls-unique,,n=x,r=abc', 'n,,n=x,r=abc,tokenauth=true', 'n,,r=abc', 'garbage', 'n,,n=a=b,r=abc']) {
    assert.equal(new ScramServerExchange('SCRAM-SHA-512', lookup, key).step(Buffer.from(first)).kind, 'failure', first);
  }
  const run = (password: string, tamper: { nonce?: string } = {}) => {
    const server = new ScramServerExchange('SCRAM-SHA-512', lookup, key);
    const client = new ScramClientExchange('SCRAM-SHA-512', 'al,i=ce', password);
    const first = server.step(client.first()) as { response: Buffer };
    return server.step(client.final(first.response, tamper));
  };
  assert.equal(run('wrong').kind, 'failure');
  assert.equal(run('p@ss', { nonce: 'other' }).kind, 'failure');
});

test('an unknown user gets a challenge indistinguishable in shape and stable per name', () => {
  const key = randomBytes(32);
  const challenge = (name: string) => {
    const server = new ScramServerExchange('SCRAM-SHA-256', () => undefined, key);
    const step = server.step(Buffer.from(`n,,n=${name},r=nonce`)) as { kind: string; response: Buffer };
    assert.equal(step.kind, 'challenge');
    return step.response.toString().replace(/^r=[^,]+,/, '');
  };
  assert.equal(challenge('ghost'), challenge('ghost'));
  assert.notEqual(challenge('ghost'), challenge('phantom'));
});

test('PLAIN: checks the password against the SCRAM credential; refuses malformed messages', () => {
  const credential = createScramCredential('SCRAM-SHA-256', 'pw', 4096);
  assert.equal(verifyPassword('SCRAM-SHA-256', credential, 'pw'), true);
  const lookup = (u: string, m: ScramMechanism) => (u === 'bob' && m === 'SCRAM-SHA-256' ? credential : undefined);
  const plain = (text: string) => new PlainServerExchange(lookup, randomBytes(32)).step(Buffer.from(text)).kind;
  assert.equal(plain('\0bob\0pw'), 'success');
  assert.equal(plain('bob\0bob\0pw'), 'success');
  for (const bad of ['\0bob\0pw2', 'x\0bob\0pw', '\0bob\0p\0w', '\0bob', '\0\0pw', '\0nobody\0pw']) assert.equal(plain(bad), 'failure', JSON.stringify(bad));
});

test("librdkafka's client-final nonce (its own nonce + the whole server nonce) is accepted, as Kafka accepts it", () => {
  const db = users('SCRAM-SHA-512');
  const server = new ScramServerExchange('SCRAM-SHA-512', (u) => db.get(u), randomBytes(32));
  const client = new ScramClientExchange('SCRAM-SHA-512', 'al,i=ce', 'p@ss', 'cnonce');
  const first = server.step(client.first()) as { response: Buffer };
  const serverNonce = /r=([^,]+)/.exec(first.response.toString())?.[1] ?? '';
  assert.equal(server.step(client.final(first.response, { nonce: `cnonce${serverNonce}` })).kind, 'success');
});
