export { Engine, JoinError, type ConnectionPhase, type Ended, type EndReason } from './engine';
export { detectDeviceClass, type DeviceClass } from './publishing';
