export { Engine, JoinError, type ConnectionPhase, type EndReason } from './engine';
export { detectDeviceClass, type DeviceClass } from './publishing';
