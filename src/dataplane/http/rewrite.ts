/** Path rewriting as Envoy applies Istio's `rewrite` (prefix_rewrite / regex_rewrite). Pure. */
import type { RewritePolicy, RouteMatch } from '../../snapshot/types.js';

/**
 * `rewrite.uri` replaces the matched prefix (or the whole path for an exact or regex match,
 * and the implicit prefix `/` when the route had no URI match); `uriRegexRewrite` replaces
 * every match of its pattern. The query string is kept.
 */
export function rewritePath(rw: RewritePolicy, _match: RouteMatch, path: string): string {
  if (rw.uri === null && rw.uriRegex === null) return path;
  const q = path.indexOf('?');
  const p = q < 0 ? path : path.slice(0, q);
  const query = q < 0 ? '' : path.slice(q);
  if (rw.uriRegex) return rw.uriRegex.re.replaceAll(p, rw.uriRegex.rewrite) + query;
  const uri = rw.uri as string;
  const pre = rw.uriPrefix;
  if (pre === null || pre.length > p.length) return uri + query;
  return uri + p.slice(pre.length) + query;
}
