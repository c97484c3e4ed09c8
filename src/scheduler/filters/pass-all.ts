import type { PreparedFilter } from '../types';

/** The prepared filter of a filter that has nothing to check for this request. */
export const passAll: PreparedFilter = () => true;
