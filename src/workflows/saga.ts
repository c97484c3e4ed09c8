import { CancellationScope } from '@temporalio/workflow';

/** A step and its compensation, defined together as Cinder defines a task's execute and revert. */
export interface Step<T> {
  /** Cinder's task name, e.g. 'QuotaReserveTask'. */
  name: string;
  run: () => Promise<T>;
  /** Undoes run. Registered before run starts: a step may do its work and still report failure. */
  undo?: () => Promise<unknown>;
}

export interface CompensationRecord {
  name: string;
  ok: boolean;
  error?: string;
}

/**
 * Last-in first-out compensations. Each undo is an activity with unbounded retries, so a failing
 * compensation is retried, not dropped; one that ends in an error anyway is recorded, the rest still
 * run, and the records say what happened.
 */
export class Saga {
  private readonly undos: Array<{ name: string; undo: () => Promise<unknown> }> = [];

  async run<T>(step: Step<T>): Promise<T> {
    if (step.undo) this.undos.push({ name: step.name, undo: step.undo });
    return step.run();
  }

  get pending(): number {
    return this.undos.length;
  }

  /** Forgets the registered undos: the flow is past the point where they apply. */
  discard(): void {
    this.undos.length = 0;
  }

  /** Runs every undo newest first in a scope that a workflow cancellation cannot interrupt. */
  async compensate(): Promise<CompensationRecord[]> {
    return CancellationScope.nonCancellable(async () => {
      const records: CompensationRecord[] = [];
      while (this.undos.length > 0) {
        const { name, undo } = this.undos.pop()!;
        try {
          await undo();
          records.push({ name, ok: true });
        } catch (err) {
          records.push({ name, ok: false, error: err instanceof Error ? err.message : String(err) });
        }
      }
      return records;
    });
  }
}
