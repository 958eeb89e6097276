// Octopus collections page with skip/take; callers see an async iterator instead.

/** The wire shape of a paged collection. Older servers lack NumberOfPages/LastPageNumber. */
export interface ResourceCollection<T> {
  ItemType?: string;
  TotalResults?: number;
  ItemsPerPage?: number;
  NumberOfPages?: number;
  LastPageNumber?: number;
  Items: T[];
  Links?: Record<string, unknown>;
}

export interface OctopusPage<T> {
  items: T[];
  skip: number;
  /** Total matching items as the server reported it for this page, if it did. */
  totalResults: number | undefined;
}

export interface PageOptions {
  /** Items per request (`take`). Default 30, Octopus's own default. */
  pageSize?: number;
  /** Stop after this many items in total. */
  maxItems?: number;
}

/** Iterate items with `for await`, or whole pages with `byPage()`. */
export interface PagedAsyncIterable<T> extends AsyncIterable<T> {
  byPage(): AsyncIterable<OctopusPage<T>>;
}

export type FetchPage<T> = (skip: number, take: number) => Promise<ResourceCollection<T>>;

export const DEFAULT_PAGE_SIZE = 30;

/**
 * Steps `skip` until a short page, an empty page, or `skip >= TotalResults`. A page is short
 * against the `ItemsPerPage` the server says it applied, so a server that caps `take` below
 * what we asked for is still read to the end.
 */
export function pagedList<T>(
  fetchPage: FetchPage<T>,
  options: PageOptions = {},
): PagedAsyncIterable<T> {
  const maxItems = options.maxItems ?? Number.POSITIVE_INFINITY;
  const pageSize = Math.max(1, Math.min(options.pageSize ?? DEFAULT_PAGE_SIZE, maxItems));

  async function* pages(): AsyncGenerator<OctopusPage<T>> {
    let skip = 0;
    let yielded = 0;
    while (yielded < maxItems) {
      const take = Math.min(pageSize, maxItems - yielded);
      const page = await fetchPage(skip, take);
      const all = page.Items;
      const items = all.slice(0, maxItems - yielded);
      if (items.length > 0) yield { items, skip, totalResults: page.TotalResults };
      yielded += items.length;
      skip += all.length;
      const applied =
        typeof page.ItemsPerPage === 'number' && page.ItemsPerPage > 0
          ? Math.min(page.ItemsPerPage, take)
          : take;
      if (all.length === 0 || all.length < applied) return;
      if (typeof page.TotalResults === 'number' && skip >= page.TotalResults) return;
    }
  }

  return {
    byPage: () => pages(),
    async *[Symbol.asyncIterator]() {
      for await (const page of pages()) yield* page.items;
    },
  };
}

/** Reads an async iterable into an array (for small, bounded lists). */
export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** The most ids put in one `?ids=` query, keeping URLs well under common length limits. */
export const IDS_PER_REQUEST = 100;

/**
 * Items by id in few calls: each distinct id once, `batchSize` ids per `?ids=` list, every batch read
 * in one page. Ids that do not exist are simply missing from the result.
 */
/**
 * Request lines stay under 8 KB (a common server and proxy limit): the ids of one batch, encoded and
 * comma-joined, take at most this many characters, leaving room for the path and other parameters.
 */
export const MAX_IDS_QUERY_CHARS = 6_000;

/** Splits ids into batches of at most `batchSize` whose encoded `ids=` value stays within MAX_IDS_QUERY_CHARS. */
export function idBatches(
  ids: readonly string[],
  batchSize = IDS_PER_REQUEST,
  maxChars = MAX_IDS_QUERY_CHARS,
): string[][] {
  const batches: string[][] = [];
  let batch: string[] = [];
  let chars = 0;
  for (const id of ids) {
    const size = encodeURIComponent(id).length + 1;
    if (batch.length > 0 && (batch.length >= batchSize || chars + size > maxChars)) {
      batches.push(batch);
      batch = [];
      chars = 0;
    }
    batch.push(id);
    chars += size;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

export async function getManyByIds<T>(
  ids: readonly string[],
  listBatch: (batch: string[]) => PagedAsyncIterable<T>,
  batchSize = IDS_PER_REQUEST,
): Promise<T[]> {
  const out: T[] = [];
  for (const batch of idBatches([...new Set(ids)], batchSize)) {
    out.push(...(await collect(listBatch(batch))));
  }
  return out;
}
