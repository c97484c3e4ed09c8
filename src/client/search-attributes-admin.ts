import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';

/** Registers any of the project's search attributes that the namespace lacks (needs operator
 *  rights: fine on a dev server; a managed cluster may refuse, and README lists the commands). */
export async function ensureSearchAttributes(conn: Connection, namespace: string): Promise<string[]> {
  const existing = await conn.operatorService.listSearchAttributes({ namespace });
  const have = new Set(Object.keys(existing.customAttributes ?? {}));
  const missing = SEARCH_ATTRIBUTES.filter((k) => !have.has(k.name));
  if (missing.length > 0) {
    await conn.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(
        missing.map((k) => [k.name, encodeSearchAttributeIndexedValueType(k.type)!]),
      ),
    });
  }
  return missing.map((k) => k.name);
}
