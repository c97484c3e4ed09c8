/**
 * Workflow histories to and from the proto3 JSON form the Temporal CLI writes
 * (`temporal workflow show --output json`), for the recorded histories in this folder.
 *
 * Why not the SDK's historyToJSON / historyFromJSON: in this install @temporalio/common and
 * @temporalio/proto each carry their own copy of protobufjs, and the SDK's helpers hand a type of one
 * copy to the JSON codec of the other ("TypeError: type must be a Type"). Here the codec is loaded
 * from the very protobufjs that @temporalio/proto's types were built with, so the two always match,
 * however npm lays the packages out.
 */
import path from 'node:path';
import * as proto from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root';

type History = proto.temporal.api.history.v1.IHistory;

interface ProtoJson {
  toJson(type: unknown, message: unknown): unknown;
  fromJson(type: unknown, json: unknown, options?: { ignoreUnknownFields?: boolean }): unknown;
}

const protoDir = path.dirname(require.resolve('@temporalio/proto/package.json'));
// eslint-disable-next-line @typescript-eslint/no-require-imports
const protojson = require(require.resolve('protobufjs/ext/protojson', { paths: [protoDir] })) as ProtoJson;
const historyType = (patchProtobufRoot(proto) as unknown as { lookupType(name: string): unknown }).lookupType(
  'temporal.api.history.v1.History',
);

/** A fetched history as a proto3 JSON object (int64 as strings, enums by name, times as RFC 3339). */
export function historyToJsonObject(history: History): unknown {
  return protojson.toJson(historyType, proto.temporal.api.history.v1.History.fromObject(history));
}

/** A history read from proto3 JSON, ready for Worker.runReplayHistory. Fields a newer server adds
 *  are ignored. */
export function historyFromJsonObject(json: unknown): History {
  if (typeof json !== 'object' || json === null || !Array.isArray((json as { events?: unknown }).events)) {
    throw new TypeError('not a history: expected an object with an array of events');
  }
  return protojson.fromJson(historyType, json, { ignoreUnknownFields: true }) as History;
}
