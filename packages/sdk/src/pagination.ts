// Offset pagination of the REST lists. A list call returns a PageFuture: await it for the first
// page, or iterate it with `for await` to walk every item of every page.
import { APIFuture } from './future.js';
import type { Cursor } from './types.js';

export interface PageRequest {
  offset: number;
  limit: number;
}

export interface PageData<T> {
  items: T[];
  /** The server's cursor; when absent, `more` tells whether another page may follow. */
  cursor?: Cursor | undefined;
  more?: boolean;
}

/** Fetches one page. */
export type PageFetcher<T> = (req: PageRequest) => APIFuture<PageData<T>>;

export class Page<T> implements AsyncIterable<T> {
  readonly items: T[];
  readonly cursor: Cursor | undefined;
  private readonly more: boolean;
  private readonly fetchPage: PageFetcher<T>;
  private readonly request: PageRequest;

  constructor(data: PageData<T>, request: PageRequest, fetchPage: PageFetcher<T>) {
    this.items = data.items;
    this.cursor = data.cursor;
    this.more = data.more ?? false;
    this.request = request;
    this.fetchPage = fetchPage;
  }

  hasNextPage(): boolean {
    if (this.items.length === 0) return false;
    if (!this.cursor) return this.more;
    return this.cursor.offset + this.items.length < this.cursor.totalCount;
  }

  /** The next page's request, or undefined on the last page. */
  nextPageRequest(): PageRequest | undefined {
    if (!this.hasNextPage()) return undefined;
    const offset = (this.cursor?.offset ?? this.request.offset) + this.items.length;
    return { offset, limit: this.request.limit };
  }

  getNextPage(): APIFuture<Page<T>> {
    const next = this.nextPageRequest();
    if (!next) throw new RangeError('No next page: this is the last page');
    return fetchPage(this.fetchPage, next);
  }

  /** This page's items, then every following page's. */
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    let page: Page<T> = this;
    for (;;) {
      yield* page.items;
      if (!page.hasNextPage()) return;
      page = await page.getNextPage();
    }
  }

  /** Every item of this and the following pages, blocking (like `result()`). */
  allItemsSync(): T[] {
    const out = [...this.items];
    let page: Page<T> = this;
    while (page.hasNextPage()) {
      page = page.getNextPage().result();
      out.push(...page.items);
    }
    return out;
  }
}

/** A future of the first page that `for await` also walks item by item across all pages. */
export type PageFuture<T> = APIFuture<Page<T>> & AsyncIterable<T>;

export function fetchPage<T>(fetcher: PageFetcher<T>, req: PageRequest): PageFuture<T> {
  const future = fetcher(req).map((data) => new Page(data, req, fetcher));
  return Object.assign(future, {
    [Symbol.asyncIterator]: async function* (): AsyncGenerator<T> {
      yield* await future;
    },
  });
}
