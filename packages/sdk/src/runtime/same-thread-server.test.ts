// Which base URLs point at a server listed as running on this thread.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { THREAD_SERVERS_KEY, sameThreadServer } from './same-thread-server.js';

function withServers(origins: string[], fn: () => void): void {
  const g = globalThis as Record<symbol, unknown>;
  const before = g[THREAD_SERVERS_KEY];
  g[THREAD_SERVERS_KEY] = new Set(origins);
  try {
    fn();
  } finally {
    if (before === undefined) delete g[THREAD_SERVERS_KEY];
    else g[THREAD_SERVERS_KEY] = before;
  }
}

test('nothing listed: no URL matches', () => {
  assert.equal(sameThreadServer('http://127.0.0.1:8000'), undefined);
});

test('the same port on a loopback spelling matches; other ports and hosts do not', () => {
  withServers(['http://127.0.0.1:8000'], () => {
    assert.equal(sameThreadServer('http://127.0.0.1:8000'), 'http://127.0.0.1:8000');
    assert.equal(sameThreadServer('http://localhost:8000/'), 'http://127.0.0.1:8000');
    assert.equal(sameThreadServer('http://[::1]:8000'), 'http://127.0.0.1:8000');
    assert.equal(sameThreadServer('http://127.0.0.1:8001'), undefined);
    assert.equal(sameThreadServer('https://127.0.0.1:8000'), undefined);
    assert.equal(sameThreadServer('http://tinker.example.com:8000'), undefined);
    assert.equal(sameThreadServer('not a url'), undefined);
    assert.equal(sameThreadServer(undefined), undefined);
  });
});

test('a server on every address matches this machine only', () => {
  withServers(['http://0.0.0.0:9000'], () => {
    assert.equal(sameThreadServer('http://localhost:9000'), 'http://0.0.0.0:9000');
    assert.equal(sameThreadServer('http://tinker.example.com:9000'), undefined);
  });
});
