import { BerthError } from '../domain/errors.js';

/** A container of that name exists already: a concurrent `ensure` won the race. */
export class ContainerNameTaken extends BerthError {
  override name = 'ContainerNameTaken';
}

/** The engine does not answer: the message says where it was looked for. */
export class EngineUnavailable extends BerthError {
  override name = 'EngineUnavailable';
}
