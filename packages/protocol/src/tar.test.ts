/**
 * The checkpoint archive format: a directory tree round-trips through tarStream/extractTar
 * (long names included, size announced exactly), and extraction refuses archives that would
 * write outside the target, hold links, or are cut short.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { extractTar, listTree, tarSize, tarStream, type TarEntry } from './tar.js';

async function collect(entries: TarEntry[]): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of tarStream(entries)) parts.push(b);
  return Buffer.concat(parts);
}

function tmp(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

test('a directory tree round-trips, long names included, and the size is announced exactly', async () => {
  const src = tmp('tar-src-');
  const out = tmp('tar-out-');
  try {
    const deep = path.join(src, 'a'.repeat(60), 'b'.repeat(60));
    fs.mkdirSync(deep, { recursive: true });
    fs.writeFileSync(path.join(src, 'adapter_config.json'), '{"r": 4}');
    fs.writeFileSync(path.join(src, 'empty.bin'), '');
    fs.writeFileSync(path.join(deep, 'weights-with-a-long-name.safetensors'), Buffer.alloc(70_000, 7));
    const entries = await listTree(src);
    const archive = await collect(entries);
    assert.equal(archive.length, tarSize(entries));
    assert.equal(archive.length % 512, 0);
    // Split into odd-sized chunks, as a network stream would.
    const chunks = [];
    for (let i = 0; i < archive.length; i += 777) chunks.push(archive.subarray(i, i + 777));
    const files = await extractTar(Readable.from(chunks), out);
    assert.equal(files, 3);
    for (const rel of ['adapter_config.json', 'empty.bin', path.relative(src, path.join(deep, 'weights-with-a-long-name.safetensors'))]) {
      assert.ok(fs.readFileSync(path.join(src, rel)).equals(fs.readFileSync(path.join(out, rel))), rel);
    }
  } finally {
    fs.rmSync(src, { recursive: true, force: true });
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test('extraction refuses paths escaping the target, links, and truncated archives', async () => {
  const src = tmp('tar-bad-');
  const out = tmp('tar-bad-out-');
  try {
    const file = path.join(src, 'f');
    fs.writeFileSync(file, 'payload');
    const entry = (name: string): TarEntry => ({ name, type: 'file', source: file, size: 7, mtimeMs: Date.now() });

    for (const name of ['../evil', 'ok/../../evil', '/etc/evil']) {
      await assert.rejects(extractTar(Readable.from([await collect([entry(name)])]), out), /unsafe path/, name);
    }
    assert.equal(fs.existsSync(path.join(path.dirname(out), 'evil')), false);

    const link = await collect([entry('x')]);
    link[156] = '2'.charCodeAt(0); // symlink type; fix the checksum so only the type is wrong
    link.fill(0x20, 148, 156);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += link[i]!;
    link.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
    await assert.rejects(extractTar(Readable.from([link]), out), /unsupported tar entry type/);

    const full = await collect([entry('y')]);
    await assert.rejects(extractTar(Readable.from([full.subarray(0, 600)]), out), /truncated/);

    const corrupt = Buffer.from(full);
    corrupt[0] = corrupt[0]! ^ 0xff;
    await assert.rejects(extractTar(Readable.from([corrupt]), out), /checksum/);
  } finally {
    fs.rmSync(src, { recursive: true, force: true });
    fs.rmSync(out, { recursive: true, force: true });
  }
});
