export { startServer, type StartServerOptions, type RunningServer } from './server.js';
export { createApp, DATABASE_FILE, RESTART_MESSAGE, type App, type AppOptions } from './app.js';
export { Router, json, bytes, defineRoute, PROTOBUF_CONTENT_TYPE, type Route, type RouteDef, type RequestContext, type Reply, type HttpMethod, type Authenticator } from './router.js';
export { Store } from './store.js';
export type { SessionRow, ModelRow, FutureRow, CheckpointRow, SamplingSessionRow, CheckpointKind, ModelState, FutureState } from './store/rows.js';
export {
  HttpError, BadRequestError, UnauthorizedError, NotFoundError, MethodNotAllowedError, PayloadTooLargeError,
  UnsupportedMediaTypeError, RequestFailure, classifyFailure, httpAnswerOf, asTinkerError, type FailureCategory,
} from './errors.js';
export { DEFAULT_SETTINGS, requireModel, requireSession, requireSamplingSession, requireReadableCheckpoint, type ServerContext, type ServerSettings } from './context.js';
export { DEFAULT_REQUEST_LIMITS, type RequestLimits } from './limits.js';
export { createAuthenticator, devUserOf, DEV_KEY_PREFIX } from './auth.js';
export { formatCheckpointPath, parseCheckpointPath, checkCheckpointName, type CheckpointAddress } from './tinker-paths.js';
export { sweepExpiredCheckpoints } from './checkpoint-sweeper.js';
export type { EnginePort } from './engine-port.js';
export { EngineSupervisor, type EngineHealth, type EngineStatus, type EngineSupervisorOptions, type EngineRecoveryHooks } from './engine-supervisor.js';
export { CheckpointFiles } from './checkpoint-files.js';
export { FutureRegistry, requestHash, requestIdFor, type QueueStatus } from './futures.js';
export { ModelQueues, type QueuedRequest } from './model-queue.js';
export { submitModelRequest, skipRefusedSeq, notLiveMessage } from './submit.js';
export { unloadModel, modelIdOf, createModel } from './domain/models.js';
export { finishSession, samplingSessionIdOf } from './domain/sessions.js';
export { clientConfig } from './routes/service.js';
export { reapIdleSessions } from './session-reaper.js';
export { lockDataDir, DataDirInUseError, LOCK_FILE as DATA_DIR_LOCK_FILE, type DataDirLock } from './data-dir-lock.js';
export { isolateRequestThread, type RequestThreadPlacement } from './request-thread.js';
