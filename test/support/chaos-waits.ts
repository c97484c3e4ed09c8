/**
 * Where a create spent its time, from its workflow history alone: each stretch between two events
 * is charged to what was pending then (a workflow task queued for a scheduler worker or running its
 * local activities, an activity queued for its backend's worker or running there, a timer). A
 * killed worker shows up as a long queue wait or a timed-out task; a slow backend as a long run.
 */
import { localActivityOf, type HistoryEvent, type RunHistory } from '../../src/client/history';

export interface CreateWaits {
  /** From the first run's start to the last event. */
  totalMs: number;
  /** What each stretch was charged to → ms, largest first. */
  waits: Array<{ on: string; ms: number }>;
  /** Workflow tasks that timed out or failed (a scheduler worker died holding one). */
  workflowTaskTimeouts: number;
  /** Activity attempts that timed out (a volume worker died, or no worker took it). */
  activityTimeouts: number;
}

function ms(t: HistoryEvent['eventTime']): number {
  return t ? Number(String(t.seconds ?? 0)) * 1000 + Math.floor((t.nanos ?? 0) / 1e6) : NaN;
}

/** The local activities a workflow task recorded: their markers are among the commands after its
 *  completion, up to the next task. */
function markersAfter(events: HistoryEvent[], i: number): string[] {
  const names: string[] = [];
  for (let j = i + 1; j < events.length && !events[j].workflowTaskScheduledEventAttributes; j++) {
    const la = localActivityOf(events[j]);
    if (la) names.push(la.activity);
  }
  return names;
}

/** A scheduled workflow task: queued, or left on a dead worker's sticky queue until it timed out
 *  (a killed scheduler worker's cached workflows; Temporal then schedules it on the normal queue). */
function queuedTaskLabel(events: HistoryEvent[], scheduled: number): string {
  for (let j = scheduled + 1; j < events.length; j++) {
    if (events[j].workflowTaskStartedEventAttributes) return 'workflow task queued';
    if (events[j].workflowTaskTimedOutEventAttributes) return 'workflow task on a lost worker (sticky) timed out';
  }
  return 'workflow task queued';
}

/** A started workflow task: the local activities it ran, or that it was lost (its worker died or
 *  the server restarted: it timed out) or failed. */
function workflowTaskLabel(events: HistoryEvent[], started: number): string {
  for (let j = started + 1; j < events.length; j++) {
    const e = events[j];
    if (e.workflowTaskTimedOutEventAttributes) return 'workflow task timed out (worker or server lost)';
    if (e.workflowTaskFailedEventAttributes) return 'workflow task failed';
    if (e.workflowTaskCompletedEventAttributes) {
      const las = [...new Set(markersAfter(events, j))];
      return las.length ? `local: ${las.join(', ')}` : 'workflow task';
    }
  }
  return 'workflow task';
}

/** What was pending during each stretch of one run, charged to `add`: the latest thing still
 *  pending (a create runs its steps one after another; where a compensation overlaps the next
 *  attempt, the later one is charged until it ends, then the earlier one again). */
function chargeRun(events: HistoryEvent[], add: (on: string, ms: number) => void): { wft: number; act: number } {
  const pending: Array<{ key: string; on: string }> = [];
  const names = new Map<string, string>();
  const counts = { wft: 0, act: 0 };
  const set = (key: string, on: string) => {
    const i = pending.findIndex((p) => p.key === key);
    if (i >= 0) pending.splice(i, 1);
    pending.push({ key, on });
  };
  const end = (key: string) => {
    const i = pending.findIndex((p) => p.key === key);
    if (i >= 0) pending.splice(i, 1);
  };
  let last = NaN;
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    const at = ms(e.eventTime);
    if (Number.isFinite(last) && Number.isFinite(at))
      add(pending.length > 0 ? pending[pending.length - 1].on : 'nothing pending', Math.max(0, at - last));
    last = at;
    const act =
      e.activityTaskCompletedEventAttributes ??
      e.activityTaskFailedEventAttributes ??
      e.activityTaskTimedOutEventAttributes ??
      e.activityTaskCanceledEventAttributes;
    if (e.workflowTaskScheduledEventAttributes) set('wft', queuedTaskLabel(events, i));
    else if (e.workflowTaskStartedEventAttributes) set('wft', workflowTaskLabel(events, i));
    else if (e.workflowTaskCompletedEventAttributes) end('wft');
    else if (e.workflowTaskTimedOutEventAttributes || e.workflowTaskFailedEventAttributes) {
      counts.wft++;
      // Its retries are transient (in the history only once one completes): the stretch until then.
      set('wft', 'workflow task retried after a timeout or failure');
    } else if (e.activityTaskScheduledEventAttributes) {
      const name = e.activityTaskScheduledEventAttributes.activityType?.name ?? '?';
      names.set(String(e.eventId), name);
      set(String(e.eventId), `${name} queued or retrying`);
    } else if (e.activityTaskStartedEventAttributes) {
      const id = String(e.activityTaskStartedEventAttributes.scheduledEventId);
      set(id, `${names.get(id) ?? '?'} running`);
    } else if (act) {
      if (e.activityTaskTimedOutEventAttributes) counts.act++;
      end(String(act.scheduledEventId));
    } else if (e.timerStartedEventAttributes) set(`timer ${e.timerStartedEventAttributes.timerId}`, 'timer');
    else if (e.timerFiredEventAttributes ?? e.timerCanceledEventAttributes) {
      const t = e.timerFiredEventAttributes ?? e.timerCanceledEventAttributes;
      end(`timer ${t!.timerId}`);
    }
  }
  return counts;
}

/** The waits of one create over all its runs. */
export function createWaits(runs: RunHistory[]): CreateWaits {
  const by = new Map<string, number>();
  const add = (on: string, d: number) => by.set(on, (by.get(on) ?? 0) + d);
  let wft = 0;
  let act = 0;
  for (const r of runs) {
    const c = chargeRun(r.events, add);
    wft += c.wft;
    act += c.act;
  }
  const first = runs[0]?.events[0];
  const lastRun = runs[runs.length - 1]?.events ?? [];
  const last = lastRun[lastRun.length - 1];
  const totalMs = first && last ? ms(last.eventTime) - ms(first.eventTime) : 0;
  const waits = [...by]
    .filter(([, d]) => d > 0)
    .map(([on, d]) => ({ on, ms: d }))
    .sort((a, b) => b.ms - a.ms);
  return { totalMs, waits, workflowTaskTimeouts: wft, activityTimeouts: act };
}
