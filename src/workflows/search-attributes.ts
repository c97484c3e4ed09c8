import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Custom search attributes a create upserts as it moves on, so the UI finds e.g.
 *  `VolumeStatus="error"` or `BackendHost="hostA@lvm"`. Registered on the local dev server
 *  automatically; for a real cluster see docs/temporal-ui.md (temporal operator search-attribute create). */
export const VolumeId = defineSearchAttributeKey('VolumeId', SearchAttributeType.KEYWORD);
export const VolumeStatus = defineSearchAttributeKey('VolumeStatus', SearchAttributeType.KEYWORD);
export const BackendHost = defineSearchAttributeKey('BackendHost', SearchAttributeType.KEYWORD);
export const ScheduleAttempt = defineSearchAttributeKey('ScheduleAttempt', SearchAttributeType.INT);
export const ProjectId = defineSearchAttributeKey('ProjectId', SearchAttributeType.KEYWORD);
export const VolumeType = defineSearchAttributeKey('VolumeType', SearchAttributeType.KEYWORD);

export const SEARCH_ATTRIBUTES = [VolumeId, VolumeStatus, BackendHost, ScheduleAttempt, ProjectId, VolumeType] as const;

/** The CLI's type names, for `--search-attribute Name=Type` and operator commands. */
export function searchAttributeCliType(type: SearchAttributeType): string {
  switch (type) {
    case SearchAttributeType.KEYWORD:
      return 'Keyword';
    case SearchAttributeType.INT:
      return 'Int';
    case SearchAttributeType.TEXT:
      return 'Text';
    case SearchAttributeType.BOOL:
      return 'Bool';
    case SearchAttributeType.DOUBLE:
      return 'Double';
    case SearchAttributeType.DATETIME:
      return 'Datetime';
    case SearchAttributeType.KEYWORD_LIST:
      return 'KeywordList';
  }
}
