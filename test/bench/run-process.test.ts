import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runProcess } from '../../bench/run-process.ts';

describe('runProcess', () => {
  it('keeps stdout up to its bound and drops the tail past it', async () => {
    const run = await runProcess(process.execPath, ['-e', "process.stdout.write('x'.repeat(1 << 20)); process.stdout.write('\\nlast')"], { timeoutMs: 30_000, maxStdoutBytes: 1024 });
    assert.equal(run.code, 0);
    assert.ok(run.stdout.length < (1 << 20), 'bounded');
    assert.ok(!run.stdout.includes('last'));
  });

  it('hands over every line of an output larger than that bound, the last one without a newline too', async () => {
    // ~21 MB: 2,000,000 sample lines (more than the 16 MiB a caller keeps by default), then a result line.
    const script = "let s = ''; for (let i = 0; i < 2e6; i++) { s += 'L ' + (1e6 + i) + '\\n'; if (s.length > 65536) { process.stdout.write(s); s = ''; } } process.stdout.write(s + '{\"done\":true}');";
    let samples = 0;
    let sum = 0;
    let last = '';
    const run = await runProcess(process.execPath, ['-e', script], {
      timeoutMs: 60_000,
      onStdoutLine: (line) => {
        if (line.startsWith('L ')) {
          samples++;
          sum += Number(line.slice(2)) - 1e6;
        } else last = line;
      },
    });
    assert.equal(run.code, 0);
    assert.equal(run.stdout, '', 'lines handed over are not kept');
    assert.equal(samples, 2e6);
    assert.equal(sum, (2e6 * (2e6 - 1)) / 2, 'no line split or lost at a chunk boundary');
    assert.equal(last, '{"done":true}');
  });
});
