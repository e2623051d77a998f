import { useSyncExternalStore } from 'react';
import type { ControlCenterSnapshot } from '../../services/control-center-state.js';

/** The part of the service the screens read: its snapshot, kept current. */
export interface SnapshotSource {
  subscribe(listener: (snapshot: ControlCenterSnapshot) => void): () => void;
  snapshot(): ControlCenterSnapshot;
}

export function useSnapshot(source: SnapshotSource): ControlCenterSnapshot {
  return useSyncExternalStore(source.subscribe.bind(source), source.snapshot.bind(source));
}
