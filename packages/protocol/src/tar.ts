/**
 * A minimal ustar archive writer and reader for checkpoint directories: regular files and
 * directories only, names relative to the archive root (the layout the official CLI extracts).
 * Written by hand because a checkpoint download needs nothing more, and streaming it keeps
 * memory flat however large the checkpoint is.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';

const BLOCK = 512;

export interface TarEntry {
  /** Path inside the archive, '/'-separated, no leading slash. */
  name: string;
  type: 'file' | 'directory';
  /** Absolute path on disk (files only). */
  source?: string;
  size: number;
  mtimeMs: number;
}

/** Lists a directory tree as archive entries, parents before children, sorted for stable archives. */
export async function listTree(root: string): Promise<TarEntry[]> {
  const out: TarEntry[] = [];
  async function walk(dir: string, prefix: string): Promise<void> {
    const entries = (await fsp.readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const abs = path.join(dir, e.name);
      const name = prefix ? `${prefix}/${e.name}` : e.name;
      const st = await fsp.stat(abs);
      if (e.isDirectory()) {
        out.push({ name, type: 'directory', size: 0, mtimeMs: st.mtimeMs });
        await walk(abs, name);
      } else if (e.isFile()) {
        out.push({ name, type: 'file', source: abs, size: st.size, mtimeMs: st.mtimeMs });
      }
      // Symlinks and other kinds never appear in checkpoints; they are left out.
    }
  }
  await walk(root, '');
  return out;
}

function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/** The exact byte length of the archive `tarStream(entries)` produces. */
export function tarSize(entries: TarEntry[]): number {
  let n = 2 * BLOCK;
  for (const e of entries) n += BLOCK + (e.type === 'file' ? e.size + padding(e.size) : 0);
  return n;
}

function writeOctal(buf: Buffer, offset: number, width: number, value: number): void {
  buf.write(value.toString(8).padStart(width - 1, '0') + '\0', offset, width, 'ascii');
}

function header(e: TarEntry): Buffer {
  const h = Buffer.alloc(BLOCK);
  let name = e.type === 'directory' ? `${e.name}/` : e.name;
  let prefix = '';
  if (Buffer.byteLength(name) > 100) {
    // ustar splits long names at a '/' into prefix (≤155) and name (≤100).
    const cut = name.lastIndexOf('/', name.length - 2);
    prefix = name.slice(0, cut);
    name = name.slice(cut + 1);
    if (cut < 0 || Buffer.byteLength(name) > 100 || Buffer.byteLength(prefix) > 155) {
      throw new Error(`file name too long for a tar archive: ${e.name}`);
    }
  }
  h.write(name, 0, 100, 'utf8');
  writeOctal(h, 100, 8, e.type === 'directory' ? 0o755 : 0o644);
  writeOctal(h, 108, 8, 0);
  writeOctal(h, 116, 8, 0);
  writeOctal(h, 124, 12, e.type === 'file' ? e.size : 0);
  writeOctal(h, 136, 12, Math.floor(e.mtimeMs / 1000));
  h.fill(0x20, 148, 156);
  h.write(e.type === 'directory' ? '5' : '0', 156, 1, 'ascii');
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += h[i]!;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return h;
}

/** The archive as a stream of chunks; file contents are read as they are sent. */
export async function* tarStream(entries: TarEntry[]): AsyncGenerator<Buffer> {
  for (const e of entries) {
    yield header(e);
    if (e.type !== 'file') continue;
    let sent = 0;
    for await (const chunk of fs.createReadStream(e.source!, { highWaterMark: 1 << 20 })) {
      const b = chunk as Buffer;
      sent += b.length;
      if (sent > e.size) throw new Error(`${e.name} grew while it was being archived`);
      yield b;
    }
    if (sent !== e.size) throw new Error(`${e.name} shrank while it was being archived`);
    const pad = padding(e.size);
    if (pad) yield Buffer.alloc(pad);
  }
  yield Buffer.alloc(2 * BLOCK);
}

function readOctal(h: Buffer, offset: number, width: number): number {
  const text = h.toString('ascii', offset, offset + width).replace(/\0.*$/s, '').trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new Error(`corrupt tar header field ${JSON.stringify(text)}`);
  return parseInt(text, 8);
}

function cString(h: Buffer, offset: number, width: number): string {
  const end = h.indexOf(0, offset);
  return h.toString('utf8', offset, end >= 0 && end < offset + width ? end : offset + width);
}

/** Resolves an archive member name inside `dest`, refusing anything that would escape it. */
function safeTarget(dest: string, name: string): string {
  const clean = name.replace(/\/+$/, '');
  if (clean === '' || clean.startsWith('/') || clean.split('/').some((s) => s === '..') || clean.includes('\0')) {
    throw new Error(`unsafe path in archive: ${JSON.stringify(name)}`);
  }
  const target = path.resolve(dest, clean);
  const rel = path.relative(path.resolve(dest), target);
  if (rel.startsWith('..') || path.isAbsolute(rel)) throw new Error(`unsafe path in archive: ${JSON.stringify(name)}`);
  return target;
}

/**
 * Extracts a ustar stream into `dest` (created if missing). Only regular files and
 * directories are accepted; anything else, or a path escaping `dest`, is an error.
 * Returns the number of files written.
 */
export async function extractTar(chunks: AsyncIterable<Uint8Array>, dest: string): Promise<number> {
  await fsp.mkdir(dest, { recursive: true });
  let pending = Buffer.alloc(0);
  let files = 0;
  // State: reading a header, or copying `remaining` bytes of a file then skipping `pad`.
  let out: fs.WriteStream | null = null;
  let remaining = 0;
  let skip = 0;
  let ended = false;

  const finishFile = async () => {
    if (!out) return;
    const s = out;
    out = null;
    await new Promise<void>((resolve, reject) => s.end((err?: Error | null) => (err ? reject(err) : resolve())));
  };

  const write = (b: Buffer) =>
    new Promise<void>((resolve, reject) => out!.write(b, (err) => (err ? reject(err) : resolve())));

  try {
    await extractInto();
  } catch (err) {
    // Leave no open file behind on a bad archive.
    (out as fs.WriteStream | null)?.destroy();
    throw err;
  }
  if (!ended || remaining > 0) throw new Error('truncated tar archive');
  return files;

  async function extractInto(): Promise<void> {
    for await (const chunk of chunks) {
      pending = pending.length ? Buffer.concat([pending, Buffer.from(chunk)]) : Buffer.from(chunk);
      for (;;) {
        if (ended) break;
        if (remaining > 0) {
          if (pending.length === 0) break;
          const take = Math.min(remaining, pending.length);
          await write(pending.subarray(0, take));
          pending = pending.subarray(take);
          remaining -= take;
          if (remaining === 0) await finishFile();
          continue;
        }
        if (skip > 0) {
          const take = Math.min(skip, pending.length);
          pending = pending.subarray(take);
          skip -= take;
          if (skip > 0) break;
          continue;
        }
        if (pending.length < BLOCK) break;
        const h = pending.subarray(0, BLOCK);
        pending = pending.subarray(BLOCK);
        if (h.every((b) => b === 0)) {
          ended = true;
          break;
        }
        const stored = readOctal(h, 148, 8);
        let sum = 0;
        for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
        if (sum !== stored) throw new Error('corrupt tar archive: header checksum mismatch');
        const prefix = cString(h, 345, 155);
        const name = (prefix ? `${prefix}/` : '') + cString(h, 0, 100);
        const size = readOctal(h, 124, 12);
        const type = String.fromCharCode(h[156]!);
        if (type === '5') {
          await fsp.mkdir(safeTarget(dest, name), { recursive: true });
        } else if (type === '0' || type === '\0') {
          const target = safeTarget(dest, name);
          await fsp.mkdir(path.dirname(target), { recursive: true });
          out = fs.createWriteStream(target);
          files++;
          remaining = size;
          skip = padding(size);
          if (size === 0) await finishFile();
        } else {
          throw new Error(`unsupported tar entry type ${JSON.stringify(type)} for ${name} (only files and directories)`);
        }
      }
    }
    await finishFile();
  }
}
