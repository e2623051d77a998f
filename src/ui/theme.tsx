/**
 * Colours and state symbols. Every state is a symbol and a word, so the
 * screen reads the same without colour; colours are the 16 basic ones, which
 * every terminal has (no truecolor). With NO_COLOR set, nothing is coloured.
 */
import { createContext, useContext } from 'react';
import type { LifecycleState } from '../domain/lifecycle.js';

export type Tone = 'accent' | 'good' | 'warn' | 'bad' | 'muted' | 'busy';

export interface Theme {
  /** The Ink colour of a tone; undefined when colour is off. */
  color(tone: Tone): string | undefined;
  /** Dimmed text is itself a style NO_COLOR users tolerate; kept on. */
  colorEnabled: boolean;
}

const TONES: Record<Tone, string> = { accent: 'cyan', good: 'green', warn: 'yellow', bad: 'red', muted: 'gray', busy: 'magenta' };

export function createTheme(env: NodeJS.ProcessEnv = process.env): Theme {
  const colorEnabled = env.NO_COLOR === undefined || env.NO_COLOR === '';
  return { colorEnabled, color: (tone) => (colorEnabled ? TONES[tone] : undefined) };
}

const ThemeContext = createContext<Theme>(createTheme({}));
export const ThemeProvider = ThemeContext.Provider;
export function useTheme(): Theme {
  return useContext(ThemeContext);
}

export interface StateLook {
  symbol: string;
  word: string;
  tone: Tone;
}

const STATE_LOOKS: Record<LifecycleState, StateLook> = {
  ready: { symbol: '●', word: 'ready', tone: 'good' },
  none: { symbol: '○', word: 'none', tone: 'muted' },
  created: { symbol: '○', word: 'created', tone: 'muted' },
  starting: { symbol: '◐', word: 'starting', tone: 'warn' },
  running: { symbol: '●', word: 'running', tone: 'good' },
  healthy: { symbol: '●', word: 'healthy', tone: 'good' },
  unhealthy: { symbol: '✗', word: 'unhealthy', tone: 'bad' },
  idle: { symbol: '◌', word: 'idle', tone: 'warn' },
  stopped: { symbol: '■', word: 'stopped', tone: 'muted' },
  removed: { symbol: '□', word: 'removed', tone: 'muted' },
};

export function stateLook(state: LifecycleState): StateLook {
  return STATE_LOOKS[state];
}
