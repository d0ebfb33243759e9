import { describe, expect, it } from 'vitest';
import { LOG_LEVEL_DEFAULT, logLevelFrom, logger } from './log.js';

describe('log', () => {
  it('takes the level from $TESSERA_LOG_LEVEL, falling back to info', () => {
    expect(LOG_LEVEL_DEFAULT).toBe('info');
    expect(logLevelFrom(undefined)).toBe('info');
    expect(logLevelFrom('')).toBe('info');
    expect(logLevelFrom('DEBUG')).toBe('debug');
    expect(logLevelFrom(' warn ')).toBe('warn');
    expect(logLevelFrom('silent')).toBe('silent');
    expect(logLevelFrom('verbose')).toBe('info');
  });

  it('hands out one child logger per process name, with levels', () => {
    const a = logger('test-proc');
    expect(logger('test-proc')).toBe(a);
    expect(typeof a.debug).toBe('function');
    expect(a.bindings()).toEqual({ proc: 'test-proc' });
  });
});
