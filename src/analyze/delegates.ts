/**
 * HTTP delegation (istio-semantics §3.9): a rule's `delegate` must name an existing
 * VirtualService exported to the root's namespace, or the rule is skipped.
 * - IST0101 `delegate`: no such VirtualService;
 * - ISTHMUS-A008: it exists but is not exported to the root VirtualService's namespace;
 * - ISTHMUS-A009: it has `hosts`, so it is a root VirtualService, not a delegate.
 */
import { isExportedTo } from '../compile/scope.js';
import { fullName, type AnalyzeContext, type Report } from './context.js';
import { MSG, q, text } from './messages.js';

/** Analyzer entry. */
export function analyzeDelegates(ctx: AnalyzeContext, out: Report): void {
  const byName = new Map(ctx.config.virtualServices.map((vs) => [fullName(vs), vs]));
  for (const vs of ctx.config.virtualServices) {
    (vs.spec.http ?? []).forEach((rule, i) => {
      const d = rule.delegate;
      if (!d) return;
      const ref = `${d.namespace || vs.meta.namespace}/${d.name ?? ''}`;
      const target = byName.get(ref);
      const path = ['spec', 'http', i, 'delegate'];
      if (!target) {
        out.add(vs, path, MSG.ReferencedResourceNotFound, text.referencedNotFound('delegate', ref));
      } else if ((target.spec.hosts ?? []).length > 0) {
        out.add(
          vs,
          path,
          MSG.DelegateIsNotADelegate,
          `VirtualService ${ref} has hosts, so it is a root VirtualService and cannot be a delegate; rule ${i} is skipped`,
        );
      } else if (!isExportedTo(target.spec.exportTo, target.meta.namespace, vs.meta.namespace)) {
        out.add(
          vs,
          path,
          MSG.DelegateNotExported,
          `delegate VirtualService ${ref} is not exported to namespace ${q(vs.meta.namespace)}, so rule ${i} is skipped`,
        );
      }
    });
  }
}
