import { test } from 'node:test';
import assert from 'node:assert/strict';
import { APIFuture } from './future.js';
import { fetchPage, type PageRequest } from './pagination.js';

const all = Array.from({ length: 23 }, (_, i) => `item-${i}`);

function cursorFetcher(requests: PageRequest[]) {
  return (req: PageRequest) => {
    requests.push(req);
    const items = all.slice(req.offset, req.offset + req.limit);
    return APIFuture.resolved({ items, cursor: { offset: req.offset, limit: req.limit, totalCount: all.length } });
  };
}

test('for await walks every item of every page', async () => {
  const requests: PageRequest[] = [];
  const seen: string[] = [];
  for await (const x of fetchPage(cursorFetcher(requests), { offset: 0, limit: 10 })) seen.push(x);
  assert.deepEqual(seen, all);
  assert.deepEqual(requests, [{ offset: 0, limit: 10 }, { offset: 10, limit: 10 }, { offset: 20, limit: 10 }]);
});

test('awaiting gives the first page with its cursor and next page', async () => {
  const page = await fetchPage(cursorFetcher([]), { offset: 5, limit: 10 });
  assert.deepEqual(page.items, all.slice(5, 15));
  assert.equal(page.cursor?.totalCount, 23);
  assert.ok(page.hasNextPage());
  const next = await page.getNextPage();
  assert.deepEqual(next.items, all.slice(15, 23));
  assert.equal(next.hasNextPage(), false);
  assert.throws(() => next.getNextPage(), /No next page/);
});

test('blocking: result() and allItemsSync() walk the pages too', () => {
  const page = fetchPage(cursorFetcher([]), { offset: 0, limit: 7 }).result();
  assert.deepEqual(page.allItemsSync(), all);
});

test('without a cursor a full page means another may follow', async () => {
  const seen: string[] = [];
  const fetcher = (req: PageRequest) => {
    const items = all.slice(req.offset, req.offset + req.limit);
    return APIFuture.resolved({ items, more: items.length >= req.limit });
  };
  for await (const x of fetchPage(fetcher, { offset: 0, limit: 5 })) seen.push(x);
  assert.deepEqual(seen, all);
});
