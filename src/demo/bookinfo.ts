/**
 * The demo applications: a small Bookinfo. productpage calls details and reviews; reviews v2
 * and v3 call ratings; details looks the book up at books.example.com, an "external" API
 * outside the mesh. Every call goes through the caller's sidecar, so the Istio config decides
 * where it lands. Every answer names the service and version that produced it.
 *
 * productpage's `/productpage` is a short text page (one line per dependency, so
 * `grep -o 'reviews v[123]'` counts a canary split); `/api/v1/products/<id>` is the same as
 * JSON.
 */
import type { CallResult, Handler, Reply } from './service.js';

/** One application of the demo mesh. */
export interface AppSpec {
  app: string;
  version: string;
  /** Has a sidecar (in the mesh); books.example.com is external and has none. */
  meshed: boolean;
  handler: Handler;
}

const BOOK = Object.freeze({
  id: 0,
  title: 'The Comedy of Errors',
  author: 'William Shakespeare',
  year: 1595,
  type: 'paperback',
  pages: 200,
  publisher: 'PublisherA',
  language: 'English',
});

const REVIEWS = Object.freeze([
  { reviewer: 'Reviewer1', text: 'An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!' },
  { reviewer: 'Reviewer2', text: 'Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare.' },
]);

const RATINGS: Readonly<Record<string, number>> = Object.freeze({ Reviewer1: 5, Reviewer2: 4 });

/** Star colour per reviews version (v1 shows none). */
const STARS: Readonly<Record<string, string | null>> = Object.freeze({ v1: null, v2: 'black', v3: 'red' });

function productId(path: string, prefix: string): number | null {
  if (!path.startsWith(prefix)) return null;
  const rest = path.slice(prefix.length);
  if (rest === '' || rest === '/') return 0;
  const n = Number(rest.replace(/^\//, ''));
  return Number.isInteger(n) && n >= 0 ? n : null;
}

const notFound = (service: string, version: string, path: string): Reply => ({ status: 404, body: { service, version, error: `no such page: ${path}` } });

/** The external book API (books.example.com): not in the mesh, no sidecar. */
export function booksApp(): AppSpec {
  return {
    app: 'books',
    version: 'external',
    meshed: false,
    handler: (_req, ctx) => {
      const id = productId(ctx.path, '/books');
      if (id === null) return notFound('books.example.com', 'external', ctx.path);
      return { status: 200, body: { service: 'books.example.com', id, title: BOOK.title, author: BOOK.author, isbn10: '1234567890', isbn13: '123-1234567890' } };
    },
  };
}

export function detailsApp(): AppSpec {
  return {
    app: 'details',
    version: 'v1',
    meshed: true,
    handler: async (_req, ctx) => {
      const id = productId(ctx.path, '/details');
      if (id === null) return notFound('details', 'v1', ctx.path);
      const ext = await ctx.call('books.example.com', `/books/${id}`);
      const found = ext.status === 200 && isObject(ext.json) ? ext.json : null;
      return {
        status: 200,
        body: {
          service: 'details',
          version: 'v1',
          ...BOOK,
          id,
          isbn10: found ? found.isbn10 : null,
          source: found ? 'books.example.com' : `local copy (books.example.com: ${describe(ext)})`,
        },
      };
    },
  };
}

export function ratingsApp(): AppSpec {
  return {
    app: 'ratings',
    version: 'v1',
    meshed: true,
    handler: (_req, ctx) => {
      const id = productId(ctx.path, '/ratings');
      if (id === null) return notFound('ratings', 'v1', ctx.path);
      return { status: 200, body: { service: 'ratings', version: 'v1', id, ratings: RATINGS } };
    },
  };
}

export function reviewsApp(version: 'v1' | 'v2' | 'v3'): AppSpec {
  const color = STARS[version] ?? null;
  return {
    app: 'reviews',
    version,
    meshed: true,
    handler: async (_req, ctx) => {
      const id = productId(ctx.path, '/reviews');
      if (id === null) return notFound('reviews', version, ctx.path);
      const body: Record<string, unknown> = { service: 'reviews', version, podname: `reviews-${version}`, id };
      if (color === null) {
        body.reviews = REVIEWS;
        return { status: 200, body };
      }
      const r = await ctx.call('ratings:9080', `/ratings/${id}`);
      const ratings = r.status === 200 && isObject(r.json) && isObject(r.json.ratings) ? r.json.ratings : null;
      body.ratings = ratings ? { service: 'ratings', version: typeof (r.json as Record<string, unknown>).version === 'string' ? (r.json as Record<string, unknown>).version : 'unknown' } : { error: describe(r) };
      body.reviews = REVIEWS.map((x) => ({ ...x, rating: ratings ? { stars: Number(ratings[x.reviewer] ?? 0), color } : { error: 'Ratings service is currently unavailable' } }));
      return { status: 200, body };
    },
  };
}

export function productpageApp(): AppSpec {
  return {
    app: 'productpage',
    version: 'v1',
    meshed: true,
    handler: async (req, ctx) => {
      const apiId = productId(ctx.path, '/api/v1/products');
      const page = ctx.path === '/productpage' || ctx.path === '/';
      if (!page && apiId === null) {
        if (ctx.path.startsWith('/static') || ctx.path === '/login' || ctx.path === '/logout') return { status: 200, body: `productpage v1: ${ctx.path}\n` };
        return notFound('productpage', 'v1', ctx.path);
      }
      const id = apiId ?? 0;
      // The two calls go out together, as Bookinfo's productpage makes them.
      const [details, reviews] = await Promise.all([ctx.call('details:9080', `/details/${id}`), ctx.call('reviews:9080', `/reviews/${id}`)]);
      const user = ctx.propagate['end-user'] ?? null;
      const requestId = typeof req.headers['x-request-id'] === 'string' ? req.headers['x-request-id'] : null;
      if (!page) {
        return {
          status: 200,
          body: { service: 'productpage', version: 'v1', user, requestId, details: answer(details), reviews: answer(reviews) },
        };
      }
      return { status: 200, body: renderPage(user, requestId, details, reviews) };
    },
  };
}

/** The whole demo application set, in port order (productpage first, books last). */
export function bookinfoApps(): AppSpec[] {
  return [productpageApp(), detailsApp(), reviewsApp('v1'), reviewsApp('v2'), reviewsApp('v3'), ratingsApp(), booksApp()];
}

/** The text page: one line per dependency, then the reviews. */
export function renderPage(user: string | null, requestId: string | null, details: CallResult, reviews: CallResult): string {
  const lines = [`productpage v1 · user ${user ?? '(anonymous)'} · x-request-id ${requestId ?? '(none)'}`];
  const d = details.status === 200 && isObject(details.json) ? details.json : null;
  if (d) {
    lines.push(`details ${str(d.version)}: ${str(d.title)} by ${str(d.author)}, ${str(d.year)}, ${str(d.pages)} pages, ISBN-10 ${d.isbn10 === null ? 'unknown' : str(d.isbn10)} (from ${str(d.source)})`);
  } else lines.push(`details: unavailable (${describe(details)})`);
  const r = reviews.status === 200 && isObject(reviews.json) ? reviews.json : null;
  if (!r) {
    lines.push(`reviews: unavailable (${describe(reviews)})`);
    return lines.join('\n') + '\n';
  }
  const version = str(r.version);
  const list = Array.isArray(r.reviews) ? (r.reviews as Array<Record<string, unknown>>) : [];
  const ratings = isObject(r.ratings) ? r.ratings : null;
  const color = STARS[version] ?? null;
  if (color === null) lines.push(`reviews ${version}: no stars`);
  else if (ratings && typeof ratings.error === 'string') lines.push(`reviews ${version}: ratings unavailable (${ratings.error})`);
  else lines.push(`reviews ${version}: ${color} stars (from ratings ${ratings ? str(ratings.version) : 'unknown'})`);
  for (const x of list) {
    const rating = isObject(x.rating) ? x.rating : null;
    const stars = rating && typeof rating.stars === 'number' ? '★'.repeat(rating.stars) + '☆'.repeat(Math.max(0, 5 - rating.stars)) : '';
    lines.push(`  ${str(x.reviewer)}${stars ? ` ${stars}` : ''}: ${str(x.text)}`);
  }
  return lines.join('\n') + '\n';
}

/** `504 upstream request timeout after 1.0 s`: a failed call in one line. */
export function describe(r: CallResult): string {
  if (r.status === 0) return `no answer: ${r.body}`;
  const text = isObject(r.json) && typeof r.json.error === 'string' ? r.json.error : r.body.trim().split('\n')[0]?.slice(0, 120) ?? '';
  return `${r.status}${text ? ` ${text}` : ''} after ${(r.ms / 1000).toFixed(1)} s`;
}

function answer(r: CallResult): unknown {
  return r.status === 200 && r.json !== null ? r.json : { error: describe(r) };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : JSON.stringify(v);
}
