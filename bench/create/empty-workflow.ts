/** Temporal's own floor: a workflow with no activities, one workflow task from start to result. */
export async function emptyWorkflow(): Promise<void> {
  return;
}
