/** Outlier detection: pure per-cluster detector, its interval driver, and the per-host state. */
export { OutlierDetector, DEFAULT_MAX_EJECTION_TIME_MS, type OutlierDetectorOptions } from './detector.js';
export { OutlierDriver, type IntervalTimers, type OutlierDriverOptions } from './driver.js';
export {
  countedStatus,
  EJECTION_REASONS,
  grpcToHttpStatus,
  newOutlierState,
  newOutlierStats,
  type EjectionEvent,
  type EjectionReason,
  type OutlierHost,
  type OutlierResult,
  type OutlierState,
  type OutlierStats,
} from './types.js';
