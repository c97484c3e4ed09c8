/** Starts something that owns processes; if its start fails part-way, stops what did start
 *  before the failure goes on, so a failed start leaves no process or port behind. */
export async function startOrStop<T extends { stop(): Promise<unknown> }>(
  thing: T,
  start: () => Promise<T>,
): Promise<T> {
  try {
    return await start();
  } catch (err) {
    await thing.stop().catch(() => undefined);
    throw err;
  }
}
